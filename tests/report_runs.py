"""Two verify runs as summary.json and diagnostics/ record them: one failed (a failure, a
timeout, a skip, diagnostics) and one passed, for the report page's tests. Small on
purpose: the pages are drawn from these, not from a deployment."""

from __future__ import annotations

import json
from pathlib import Path

from hubharness import checks
from hubharness.targets.local import LocalTarget

DEPLOYMENT = {
    "context": "local",
    "namespace": "nightly",
    "public_url": "http://127.0.0.1:41234",
    "chart": "4.4.0",
    "jupyterhub": "5.5.0",
    "jupyterhub_expected": "5.5.0",
    "notebook_image": "quay.io/jupyter/pyspark-notebook:spark-3.5.3",
    "pyspark": "3.5.3",
    "spark_master": None,
    "values_files": [
        {"path": "values/base.yaml", "sha256": "a3f1" * 16},
        {"path": "values/local.yaml", "sha256": "09be" * 16},
    ],
    "harness": "0.1.0",
}
FAILURE = "AssertionError: the hub answered 503 on /hub/health through the proxy"
TIMEOUT = "WaitTimeout: timed out after 90s waiting for verify-alice's server to be ready"
SKIP = "skipped on request (--skip RMV)"
HUB_LOG = "\n".join(f"[I 2026-11-27 04:0{n % 10}:00 JupyterHub app:1] line {n}" for n in range(260))
HUB_LOG += "\n[E 2026-11-27 04:09:59 JupyterHub app:2] <Proxy> answered 503 & gave up\n"


def _check(check_id: str, outcome: str, start: float, duration: float, message: str = "") -> dict:
    group, name = check_id.split(".", 1)
    return {
        "id": check_id,
        "check": group,
        "name": name,
        "nodeid": f"suites/test_{group.lower()}.py::test_{name}",
        "outcome": outcome,
        "duration": duration,
        "message": message,
        "start": start,
        "stop": start + duration,
    }


def summary(failed: bool, started: str = "2026-11-27T04:00:00Z", duration: float = 182.4) -> dict:
    """Every check verify runs on local with the default DummyAuthenticator and no Spark
    cluster; the failed run breaks two and skips RMV."""
    records, clock = [], 0.5
    for check in checks.for_deployment(checks.for_authenticator(checks.for_target(LocalTarget), "dummy"), set()):
        outcome, message = "passed", ""
        if failed and check.id == "RDY.hub_health_answers_through_the_proxy":
            outcome, message = "failed", FAILURE
        elif failed and check.id == "SPK.server_spawns_through_the_hub":
            outcome, message = "timeout", TIMEOUT
        elif failed and check.group == "RMV":
            outcome, message = "skipped", SKIP
        records.append(_check(check.id, outcome, clock, 2.5))
        records[-1]["message"] = message
        clock += 2.5 + 0.1
    counts = {k: sum(r["outcome"] == k for r in records) for k in ("passed", "failed", "skipped", "timeout")}
    return {
        "context": "local",
        "namespace": "nightly",
        "public_url": DEPLOYMENT["public_url"],
        "chart": "4.4.0",
        "started": started,
        "duration": duration,
        "outcome": "failed" if failed else "passed",
        "counts": counts,
        "deployment": DEPLOYMENT,
        "authenticator": "jupyterhub.auth.DummyAuthenticator",
        "background": [
            {"name": "spawn: verify-alice", "start": 0.2, "stop": 14.0},
            {"name": "spawn: verify-bob", "start": 0.2, "stop": 15.5},
            {"name": "kernel cell: spark job", "start": 15.0, "stop": 48.0},
            {"name": "scratch: deploy, backup, restore", "start": 0.3, "stop": 120.0},
        ],
        "mutant": None,
        "scrubbed": {
            "secrets": 2,
            "found_in": ["diagnostics/SPK.server_spawns_through_the_hub/hub.log"] if failed else [],
        },
        "checks": records,
    }


def write_run(root: Path, name: str, data: dict) -> Path:
    """A run folder as verify leaves it (summary.json, diagnostics/ for failed checks)."""
    run = root / name
    run.mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps(data, indent=2))
    for record in data["checks"]:
        if record["outcome"] in ("failed", "timeout"):
            folder = run / "diagnostics" / record["id"]
            folder.mkdir(parents=True)
            (folder / "hub.log").write_text(HUB_LOG)
            (folder / "components.txt").write_text("hub: running, not ready (503)\nproxy: running, ready\n")
    return run


def write_runs(root: Path) -> tuple[Path, Path]:
    """An older passed run and the newest, failed: (passed, failed) folders."""
    passed = write_run(root, "20261126T040000Z-local", summary(False, "2026-11-26T04:00:00Z", 171.0))
    failed = write_run(root, "20261127T040000Z-local", summary(True))
    return passed, failed
