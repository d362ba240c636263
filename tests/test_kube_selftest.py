"""`invoke selftest --context emulated`: each check's fault done to an emulated cluster the
way selftest does it to a real one (the product's own hubharness.cluster_faults, through the
API server; chart values through helm), every namespace deployed by `invoke deploy` through
a stand-in helm that leaves the chart's objects in the emulator and purged by `invoke remove`.

No hub runs here, so the checks are those the API server alone can prove (checks.KUBE_FAULTS);
the others are proven with a real hub behind the emulator (test_kube_hub_faults.py), on local
(test_selftest.py) and on kind by the nightly workflow.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hubharness import checks, faults
from hubharness.faults import BY_NAME

from . import test_kube_verify as emulated
from .helpers import outcomes, run_invoke
from .test_kube_verify import _closed_port

ingress_controller = emulated.ingress_controller
SELFTEST_TIMEOUT = 600
RELEASE_SELECTOR = {"owner": "helm", "name": "jupyterhub"}


def _arg(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1] if flag in args else ""


def _is_release_record(secret: dict) -> bool:
    labels = secret["metadata"].get("labels") or {}
    return all(labels.get(k) == v for k, v in RELEASE_SELECTOR.items())


def helm_on(cluster):
    """What helm's `upgrade --install`, `list` and `uninstall` of the chart do to a namespace,
    as far as the harness reads it: the hub pod's environment is the values' hub.extraEnv,
    rendered as the chart renders it."""

    def helm(args: list[str], config: dict) -> str:
        ns = _arg(args, "--namespace")
        if args[0] == "upgrade":
            extra = (config.get("hub") or {}).get("extraEnv") or {}
            env = [{"name": k, **v} if isinstance(v, dict) else {"name": k, "value": str(v)} for k, v in extra.items()]
            emulated.chart_objects(cluster, ns, config, _arg(args, "--version"), hub_env=env)
            return ""
        if args[0] == "list":
            every = "--all-namespaces" in args
            found = {
                where
                for (where, kind), store in cluster.objects.items()
                if kind == "secrets" and (every or where == ns)
                for secret in store.values()
                if _is_release_record(secret) and "deletionTimestamp" not in secret["metadata"]
            }
            return "jupyterhub\n" * len(found)
        if args[0] == "uninstall":
            secrets = cluster.objects.get((ns, "secrets"), {})
            for name in [n for n, s in secrets.items() if _is_release_record(s) or n == "hub"]:
                secrets.pop(name)
            for kind in ("networkpolicies", "configmaps"):
                cluster.objects.pop((ns, kind), None)
            for name, pod in list(cluster.objects.get((ns, "pods"), {}).items()):
                if (pod["metadata"].get("labels") or {}).get("release") == "jupyterhub":
                    cluster.delete_pod(ns, name)
            return 'release "jupyterhub" uninstalled\n'
        return ""  # repo add, repo update

    return helm


@pytest.fixture
def helm_cluster(cluster, ingress_controller, monkeypatch):
    cluster.helm = helm_on(cluster)
    monkeypatch.setenv("HELM_EMULATOR", f"{cluster.url}/_emulator/helm")
    # no hub answers: the checks must not need one, and reach nothing if they try
    monkeypatch.setenv("HUBHARNESS_PUBLIC_URL", f"http://127.0.0.1:{_closed_port()}")
    return cluster


def _selftest_report(cluster) -> dict:
    found = sorted((cluster.tmp_path / "reports").glob("*selftest*/selftest.json"))
    assert found, "selftest wrote no selftest.json"
    return json.loads(found[-1].read_text())


def test_selftest_on_the_emulated_cluster_kills_every_check_the_api_server_proves(helm_cluster):
    ids = list(checks.KUBE_FAULTS)
    done = run_invoke("selftest", "--context", "emulated", "--check", ",".join(ids), timeout=SELFTEST_TIMEOUT)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    assert f"selftest: killed {len(ids)}/{len(ids)}, healthy {len(ids)}/{len(ids)} passed" in done.stdout
    data = _selftest_report(helm_cluster)
    faults = {row["id"]: row["fault"] for row in data["checks"]}
    assert faults == {i: checks.fault_of(checks.BY_ID[i], "emulated") for i in ids}
    # each done as on a cluster: through the API server or helm values, none to local files
    assert all(BY_NAME[f].cluster or BY_NAME[f].overlay or BY_NAME[f].env for f in faults.values())
    assert data["unproven"] == []
    assert set(helm_cluster.namespaces) == set(), "selftest left namespaces behind"


def test_a_check_whose_fault_cannot_be_done_on_a_cluster_is_listed_with_why(helm_cluster):
    done = run_invoke(
        "selftest",
        "--context",
        "emulated",
        "--check",
        "RDY.hub_health_answers_through_the_proxy",
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("hubharness: none of the selected checks has a fault"), (
        done.stderr
    )
    assert "there is no cluster way to do it yet" in done.stderr
    assert helm_cluster.helm_calls() == [], "nothing was deployed"


@pytest.fixture
def in_pod_dir():
    yield Path(faults.IN_POD_DIR)
    shutil.rmtree(faults.IN_POD_DIR, ignore_errors=True)


def test_a_faults_files_reach_the_user_server_through_the_charts_poststart_hook(harness, tmp_path, in_pod_dir):
    """On a cluster a fault's files cannot be on this machine's disk: its values carry them,
    and the user pod's postStart hook writes them. The local target runs that hook as the
    kubelet does, so a real hub and server show the fault doing its harm there."""
    args, env = faults.materialise(BY_NAME["wrong-pyspark"], tmp_path, checks.KUBE)
    assert not (tmp_path / "site").exists(), "nothing is written on this machine's disk"
    ran = harness.deploy("files-in-pod", *args, env=env)
    assert ran.code == 0, ran.err
    ran, summary = harness.verify("files-in-pod", check="SPK.pyspark_is_the_expected_version")
    assert outcomes(summary) == {"SPK.pyspark_is_the_expected_version": "failed"}, ran.out[-3000:]
    assert (in_pod_dir / "site" / "pyspark" / "__init__.py").read_text() == "__version__ = '3.4.0'\n"
