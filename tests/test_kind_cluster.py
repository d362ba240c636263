"""The whole job on a real kind cluster, as the nightly runs it. Where kind, helm or a
Docker engine is missing (as on the development machine) it is skipped, saying which:
it never passes without a cluster."""

import json
import shutil
import subprocess

import pytest


def why_no_kind() -> str | None:
    for tool in ("kind", "helm", "docker"):
        if shutil.which(tool) is None:
            return f"{tool} not found: this test needs kind, helm and a running Docker engine"
    if subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False).returncode != 0:
        return "docker info failed: no Docker engine is running, so kind cannot start a cluster"
    return None


REASON = why_no_kind()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")


def test_deploy_then_verify_on_kind_is_the_whole_job(harness):
    try:
        ran = harness.invoke("deploy", "--context", "kind", "--namespace", "kindtest", timeout=1200)
        assert ran.code == 0, ran.err
        ran = harness.invoke("verify", "--context", "kind", "--namespace", "kindtest", timeout=1200)
        summary = json.loads((harness.reports / "latest" / "summary.json").read_text())
        bad = [c["id"] for c in summary["checks"] if c["outcome"] in ("failed", "timeout")]
        assert ran.code == 0 and not bad, f"failed on kind: {bad}"
        assert summary["counts"]["passed"] > 40
    finally:
        harness.invoke("remove", "--context", "kind", "--namespace", "kindtest", "--purge", timeout=600)


def test_the_spark_cluster_on_kind_runs_notebooks_jobs_on_two_workers(harness):
    """values/spark-cluster.yaml on kind: master and workers as pods on the notebook image,
    and every SPK check (the five of the cluster among them) passes on it."""
    try:
        ran = harness.invoke(
            "deploy",
            "--context",
            "kind",
            "--namespace",
            "kindspark",
            "--values",
            "values/spark-cluster.yaml",
            timeout=1800,
        )
        assert ran.code == 0, ran.err
        ran = harness.invoke("verify", "--context", "kind", "--namespace", "kindspark", "--check", "SPK", timeout=1800)
        summary = json.loads((harness.reports / "latest" / "summary.json").read_text())
        outcomes = {c["id"]: c["outcome"] for c in summary["checks"]}
        assert ran.code == 0, f"failed on kind: {[i for i, o in outcomes.items() if o != 'passed']}"
        assert outcomes["SPK.spark_job_runs_on_executors_of_two_workers"] == "passed"
    finally:
        harness.invoke("remove", "--context", "kind", "--namespace", "kindspark", "--purge", timeout=600)
