"""What the catalogue's faults do not cover (the selftest itself is tests/test_selftest.py):
a hub that refuses to start, what RMV's leftover scan sees, checks that cannot run, a
leaked password redacted from the report.
"""

import json
import os
import textwrap
from pathlib import Path

import psutil
import pytest
import yaml

from hubharness import selftest as selftest_module
from hubharness import values
from hubharness.errors import HarnessError
from hubharness.selftest import SHARED_AT_MOST, Selftest, verify_only
from hubharness.targets.kube import access as kube_access
from hubharness.targets.kube.api import INGRESS
from hubharness.targets.kube.kind import KindTarget
from hubharness.waiting import wait_until

from .helpers import failed, outcomes


def deploy(harness, ns, tmp_path, overlay: str | None = None):
    args = []
    if overlay:
        path = tmp_path / f"{ns}.yaml"
        path.write_text(textwrap.dedent(overlay))
        args = ["--values", str(path)]
    ran = harness.deploy(ns, *args)
    assert ran.code == 0, ran.err
    return harness.state_dir(ns)


def test_selftest_on_a_cluster_checks_its_tools_first_in_one_line(harness):
    ran = harness.invoke("selftest", "--context", "kind", env={"PATH": "/usr/bin:/bin"})
    assert ran.code == 2 and len(ran.err_lines) == 1, ran.err
    assert "not found" in ran.err and "install" in ran.err, ran.err
    assert not list(harness.reports.glob("*selftest*")), "nothing ran"


def test_faults_planted_in_verify_alone_share_a_deployment_and_no_other_does():
    """The mutants of the harness's operations act on verify's scratch namespaces, so
    several verify one after another on one deployment; a fault done to the deployment
    (values, processes, files, the API server) always gets a namespace of its own."""
    for context in ("local", "kind"):
        selftest = Selftest(context, "s", [], "4.4.0", None)
        plan = selftest.plan()
        lanes = selftest.lanes(plan)
        runs = [run for lane in lanes for run in lane]
        assert sorted(r.name for r in runs) == sorted(
            r.name for r in [*plan.healthy_runs.values(), *plan.fault_runs.values()]
        )
        shared = [lane for lane in lanes if len(lane) > 1]
        assert shared and all(len(lane) <= SHARED_AT_MOST for lane in shared), context
        for lane in shared:
            assert all(verify_only(r.fault) and r.fault.mutant and r.values == lane[0].values for r in lane)
        by_values = [r for lane in lanes if len(lane) == 1 for r in lane if r.fault and not verify_only(r.fault)]
        assert all(r.fault.by_values or r.fault.ways or r.fault.files for r in by_values), context
        assert {r.fault.name for lane in shared for r in lane} == {
            r.fault.name for r in plan.fault_runs.values() if r.fault.mutant and verify_only(r.fault)
        }


def test_selftest_namespaces_on_a_cluster_claim_nothing_another_one_has(monkeypatch):
    """On kind (and any cluster) two namespaces run at once: no NodePort, no user-scheduler
    (its ClusterRole is the release's), and an ingress host of each namespace's own."""
    monkeypatch.delenv(kube_access.INGRESS_HOST_ENV, raising=False)
    selftest = Selftest("kind", "s", [], "4.4.0", None)
    assert selftest.jobs == 2
    plan = selftest.plan()
    for run in [*plan.healthy_runs.values(), *plan.fault_runs.values()]:
        merged = values.load(values.values_files("kind", [Path(v) for v in run.values]))
        assert values.get(merged, "proxy.service.type") == "ClusterIP", run.name
        assert kube_access.node_port(merged) is None and not values.get(merged, "scheduling.userScheduler.enabled")
    hosts = {KindTarget.selftest_env(ns)[kube_access.INGRESS_HOST_ENV] for ns in ("s-healthy", "s-proxy-killed")}
    assert hosts == {"s-healthy.jupyterhub.localhost", "s-proxy-killed.jupyterhub.localhost"}
    manifest = yaml.safe_load(INGRESS.read_text())
    monkeypatch.setenv(kube_access.INGRESS_HOST_ENV, "s-healthy.jupyterhub.localhost")
    assert kube_access.with_ingress_host(manifest)["spec"]["rules"][0]["host"] == "s-healthy.jupyterhub.localhost"
    monkeypatch.setenv(kube_access.INGRESS_HOST_ENV, "Not A Host")
    with pytest.raises(HarnessError, match="HUBHARNESS_INGRESS_HOST='Not A Host' is not a host name"):
        kube_access.with_ingress_host(manifest)


def test_selftest_purges_with_the_targets_own_options_and_says_what_failed(monkeypatch):
    """Its purges are the target's remove, in its own process: kind's keeps the cluster it
    made for the next namespace. One that fails is said, and the others still go."""
    made, removed = [], []

    class Leftover:
        def __init__(self, context, namespace, options):
            self.namespace = namespace
            made.append((context, namespace, dict(options)))

        def exists(self):
            return True

        def remove(self, purge):
            if self.namespace.endswith("-res"):
                raise HarnessError("the API server said 500")
            removed.append((self.namespace, purge))

    monkeypatch.setattr(selftest_module, "target_for", Leftover)
    said = Selftest("kind", "s", [], "4.4.0", None)._purge("s-healthy")
    assert said == "purging s-healthy-res failed: HarnessError: the API server said 500"
    assert removed == [("s-healthy", True), ("s-healthy-scratch", True), ("s-healthy-upg", True)]
    assert [(context, options) for context, _, options in made] == [("kind", {"keep_cluster": True})] * 4


def test_a_check_that_cannot_run_fails_unless_skipped_on_request(harness, tmp_path):
    deploy(harness, "no-browser", tmp_path)
    browser_checks = "AUTH.browser_logs_in_to_jupyterlab,AUTH.browser_with_wrong_password_stays_out"
    nowhere = {"HUBHARNESS_CHROMIUM": str(tmp_path / "no-chromium")}
    ran = harness.invoke("verify", "--namespace", "no-browser", "--check", browser_checks, env=nowhere)
    summary = json.loads((harness.reports / "latest" / "summary.json").read_text())
    assert ran.code != 0 and failed(summary) == set(browser_checks.split(","))
    assert all("could not run: no Chromium" in c["message"] for c in summary["checks"])
    ran = harness.invoke(
        "verify", "--namespace", "no-browser", "--check", browser_checks, "--skip", browser_checks, env=nowhere
    )
    summary = json.loads((harness.reports / "latest" / "summary.json").read_text())
    assert ran.code == 0 and set(outcomes(summary).values()) == {"skipped"}
    assert "skipped on request: AUTH.browser" in ran.out


def test_sec_leaked_password_is_redacted_from_the_report(harness, tmp_path):
    state = deploy(harness, "sec-leak", tmp_path)
    password = json.loads((state / "secrets" / "urbalurba-secrets.json").read_text())["JUPYTERHUB_AUTH_PASSWORD"]
    with open(state / "logs" / "hub.log", "a") as log:
        log.write(f"debug: password is {password}\n")
    ran, summary = harness.verify("sec-leak", check="SEC.secrets_appear_nowhere_else")
    assert ran.code != 0 and failed(summary) == {"SEC.secrets_appear_nowhere_else"}
    assert (harness.reports / "latest" / "diagnostics").is_dir()
    # the page shows the hub log's tail inline, scrubbed; the index has no password either
    tail = harness.reports / "latest" / "diagnostics" / "SEC.secrets_appear_nowhere_else" / "hub.log.tail"
    assert "debug: password is ***" in tail.read_text()
    page = (harness.reports / "latest" / "report.html").read_text()
    assert "debug: password is ***" in page
    assert "diagnostics/SEC.secrets_appear_nowhere_else/hub.log.tail" in summary_after(harness)["scrubbed"]["found_in"]
    assert "replaced by ***: " in page.partition('id="failures"')[0]  # said on top, for an auditor
    for path in [*(harness.reports / "latest").rglob("*"), harness.reports / "index.html"]:
        leaked = path.is_file() and password.encode() in path.read_bytes()
        assert not leaked, f"password in {path}"  # not in the assert's expression: pytest would print it


def summary_after(harness) -> dict:
    """summary.json as verify left it (the plugin wrote it; verify added what it scrubbed)."""
    return json.loads((harness.reports / "latest" / "summary.json").read_text())


def test_sec_hub_without_the_secret_does_not_start(harness, tmp_path):
    overlay = tmp_path / "nosecret.yaml"
    overlay.write_text("hub:\n  extraEnv: null\n")
    ran = harness.deploy("sec-none", "--values", str(overlay))
    assert ran.code != 0
    assert len(ran.err_lines) == 1 and "hub exited during start" in ran.err
    assert "JUPYTERHUB_AUTH_PASSWORD is empty or unset" in ran.err


def test_rmv_leftovers_are_seen(harness, tmp_path, monkeypatch):
    """What RMV asserts is empty is not empty when something of ours is left."""
    import socket
    import subprocess

    from hubharness.targets.local import LocalTarget

    state = deploy(harness, "rmv-left", tmp_path)
    monkeypatch.setenv("HUBHARNESS_HOME", str(harness.home))
    target = LocalTarget("rmv-left")
    footprint = target.footprint()
    assert harness.invoke("remove", "--namespace", "rmv-left").code == 0
    assert target.leftovers(footprint) == [f"state dir {state}"]
    env = {**os.environ, "JUPYTERHUB_API_URL": f"http://127.0.0.1:{target.read_state()['hub_port']}/hub/api"}
    stray = subprocess.Popen(["sleep", "120"], cwd="/", env=env)  # a user's job that outlived its server
    # Until it has exec'd, the child still shows our own command line and environment.
    wait_until("the stray job to start", lambda: psutil.Process(stray.pid).cmdline()[:1] == ["sleep"], 10)
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", footprint.ports[0]))
        squatter.listen()
        try:
            left = target.leftovers(footprint)
            assert f"process {stray.pid} (sleep)" in left
            assert f"a listener on 127.0.0.1:{footprint.ports[0]}" in left
            assert harness.invoke("remove", "--namespace", "rmv-left").code == 0
            assert stray.wait(10) is not None, "remove did not stop the stray job"
        finally:
            stray.kill()
