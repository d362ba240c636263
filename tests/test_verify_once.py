"""verify builds the deployment under test once, hands that object to the suites, and
closes it once, when the run is over (tests/test_remote.py counts the admin tokens a
remote hub sees per run)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .helpers import PROJECT_ROOT

NAMESPACE = "once"
CHECKS = "PRX.login_page_is_served,RDY.hub_health_answers_through_the_proxy"
# verify in a process of its own, with the local target's deployment() and the local
# deployment's close() counted: which object each call built or closed, and whether the
# run's summary.json was written when it was closed
COUNTED_VERIFY = """
import json, sys
from hubharness import verify
from hubharness.paths import reports_root
from hubharness.targets.local import LocalTarget
from hubharness.targets.local.deployment import LocalDeployment

events = []
build, close = LocalTarget.deployment, LocalDeployment.close

def counted_build(self):
    made = build(self)
    events.append({"event": "built", "object": id(made), "namespace": self.namespace})
    return made

def counted_close(self):
    summary = reports_root() / "latest" / "summary.json"
    events.append({"event": "closed", "object": id(self), "summary_written": summary.is_file()})
    close(self)

LocalTarget.deployment, LocalDeployment.close = counted_build, counted_close
result = verify.run("local", sys.argv[1], checks=sys.argv[2])
print("EVENTS " + json.dumps({"code": result.exit_code, "events": events}))
"""


@pytest.fixture(scope="module")
def deployed(module_harness):
    ran = module_harness.deploy(NAMESPACE)
    assert ran.code == 0, ran.err
    return module_harness


def test_verify_builds_the_deployment_once_and_closes_it_once_at_the_end(deployed):
    done = subprocess.run(
        [sys.executable, "-c", COUNTED_VERIFY, NAMESPACE, CHECKS],
        cwd=PROJECT_ROOT,
        env=deployed.env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    said = [line for line in done.stdout.splitlines() if line.startswith("EVENTS ")]
    assert done.returncode == 0 and said, done.stdout[-3000:] + done.stderr[-3000:]
    ran = json.loads(said[-1].removeprefix("EVENTS "))
    assert ran["code"] == 0, done.stdout[-3000:]
    summary = json.loads((deployed.reports / "latest" / "summary.json").read_text())
    assert {c["id"]: c["outcome"] for c in summary["checks"]} == dict.fromkeys(CHECKS.split(","), "passed")
    built = [e for e in ran["events"] if e["event"] == "built"]
    closed = [e for e in ran["events"] if e["event"] == "closed"]
    assert [e["namespace"] for e in built] == [NAMESPACE], ran["events"]
    assert [e["object"] for e in closed] == [built[0]["object"]], ran["events"]
    assert closed[0]["summary_written"], "closed before the checks were over"
