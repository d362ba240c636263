"""The check catalogue is the one list of checks, and every check has a fault."""

import json
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest

from fixtures.resilience import STEPS
from hubharness import chart, checks, cluster_faults, faults, mutants, selftest
from hubharness.errors import HarnessError
from hubharness.paths import PROJECT_ROOT

COLLECT = """
import json, sys, pytest
from hubharness.report import check_id
class Ids:
    def pytest_collection_finish(self, session):
        self.ids = [check_id(item) for item in session.items]
ids = Ids()
code = pytest.main(["suites", "--collect-only", "-q", "-p", "no:cacheprovider", f"--rootdir={sys.argv[1]}"],
                   plugins=[ids])
print("IDS " + json.dumps(ids.ids))
"""


@pytest.fixture(scope="module")
def suite_ids() -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", COLLECT, str(PROJECT_ROOT)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    line = next((line for line in done.stdout.splitlines() if line.startswith("IDS ")), None)
    assert line, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(line[4:])


def test_every_suite_check_is_in_the_catalogue_and_back(suite_ids):
    assert sorted(set(suite_ids) - set(checks.BY_ID)) == [], "suite checks missing from hubharness/checks.py"
    assert sorted(set(checks.BY_ID) - set(suite_ids)) == [], "catalogue entries with no suite check"
    assert len(suite_ids) == len(set(suite_ids)) == len(checks.CATALOGUE)


def test_every_check_has_a_fault_that_applies_where_the_check_does():
    """On local, selftest applies them; kubernetes faults are shown in tests/test_kube_verify.py."""
    for check in checks.CATALOGUE:
        fault = faults.BY_NAME.get(check.fault)
        assert fault is not None, f"{check.id}: no fault named {check.fault}"
        if "local" in check.targets:
            assert "local" in fault.targets, f"{check.id} runs on local but its fault {fault.name} does not"
            assert fault.overlay or fault.env or fault.action or fault.mutant, f"{fault.name} does nothing"


def test_every_fault_breaks_some_check():
    used = {check.fault for check in checks.CATALOGUE} | {
        *checks.FAULT_ON_KUBE.values(),
        *checks.FAULT_ON_REMOTE.values(),
    }
    assert sorted(set(faults.BY_NAME) - used) == []


def test_every_fault_says_where_it_can_be_done_and_a_cluster_way_is_there():
    for fault in faults.FAULTS:
        assert fault.targets, f"{fault.name} can be done nowhere"
        assert not fault.cluster or fault.cluster in cluster_faults.BY_NAME, fault.name
    for check in checks.for_context("kind"):
        fault = faults.BY_NAME[checks.fault_of(check, "kind")]
        assert bool(fault.not_on("kube")) != ("kube" in fault.targets), check.id
    kube_faults = {checks.fault_of(c, "kind") for c in checks.for_context("kind")}
    assert set(checks.FAULT_ON_KUBE.values()) <= kube_faults
    assert all("kube" in faults.BY_NAME[f].targets for f in checks.FAULT_ON_KUBE.values())


def test_every_mutant_can_be_planted_and_undone():
    for fault in faults.FAULTS:
        if fault.mutant:
            patch = pytest.MonkeyPatch()
            mutants.plant(fault.mutant, patch)
            patch.undo()
    with pytest.raises(pytest.UsageError):
        mutants.plant("no-such-mutant", pytest.MonkeyPatch())


def test_check_selection_reads_the_catalogue():
    local = checks.select(None, "local")
    assert "NS.namespace_exists" not in {c.id for c in local}, "the local namespace is its state folder"
    tls = {c.id for c in checks.CATALOGUE if c.group == "TLS"}
    assert {c.id for c in checks.select(None, "kind")} == set(checks.BY_ID) - tls
    remote = {c.id for c in checks.select(None, "remote")}
    assert remote == set(checks.FROM_OUTSIDE) and tls <= remote
    assert {r["id"] for r in checks.not_applicable("remote", set())} | remote == set(checks.BY_ID)
    assert [c.id for c in checks.select("rdy", "local")][:1] == ["RDY.component_is_ready[hub]"]
    assert [c.id for c in checks.select("SEC.secret_is_private", "local")] == ["SEC.secret_is_private"]
    with pytest.raises(HarnessError, match="unknown check"):
        checks.select("NOPE", "local")
    with pytest.raises(HarnessError, match="none of these checks applies"):
        checks.select("NS.namespace_exists", "local")


def test_every_res_check_has_the_steps_it_reads():
    """RES does only the steps of the checks selected: a check no step names would never
    see its step done."""
    named = {check for checks_of_step in STEPS.values() for check in checks_of_step}
    assert named == {c.id.split(".", 1)[1] for c in checks.CATALOGUE if c.group == "RES"}


def test_every_selftest_run_gets_a_valid_namespace_of_its_own():
    """Fault names and the authenticator's suffix can run past what a namespace allows:
    cut, the name stays a valid one (no trailing '-') and unique."""
    runner = selftest.Selftest("local", "selftest", [], chart.DEFAULT_CHART_VERSION, 2, say=lambda _: None)
    names = [f"{f.name}{suffix}" for f in faults.FAULTS for suffix in ("", "-shared-password")] + ["healthy"]
    namespaces = [runner.namespace_of(SimpleNamespace(name=n)) for n in names]
    bad = [ns for ns in namespaces if len(ns) > 50 or not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", ns)]
    assert bad == []
    assert len(set(namespaces)) == len(namespaces)
