"""The check catalogue is the one list of checks, and every check has a fault."""

import json
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest

from fixtures.resilience import STEPS
from hubharness import chart, checks, faults, mutants, selftest, targets
from hubharness.errors import HarnessError
from hubharness.paths import PROJECT_ROOT
from hubharness.targets.base import Target
from hubharness.targets.kube import KubeTarget
from hubharness.targets.kube import faults as kube_faults
from hubharness.targets.local import LocalTarget
from hubharness.targets.local import faults as local_faults
from hubharness.targets.remote import RemoteTarget
from hubharness.targets.remote import checks as remote_checks
from hubharness.tlsfront import BROKEN as TLS_FRONT_FAULTS

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


TARGETS = (LocalTarget, KubeTarget, RemoteTarget)


def test_every_check_has_a_fault_that_applies_where_the_check_does():
    """On local, selftest applies them; kubernetes faults are shown in tests/test_kube_verify.py."""
    for check in checks.CATALOGUE:
        fault = faults.BY_NAME.get(check.fault)
        assert fault is not None, f"{check.id}: no fault named {check.fault}"
        if not LocalTarget.why_not_applicable(check):
            assert LocalTarget.why_cannot_do(fault) == "", f"{check.id} runs on local but its fault {fault.name} not"
            assert fault.by_values or fault.ways.get("local") or fault.mutant, f"{fault.name} does nothing"


def test_every_fault_breaks_some_check():
    used = {target.fault_for(check) for target in TARGETS for check in checks.CATALOGUE}
    assert sorted(set(faults.BY_NAME) - used) == []


def test_every_fault_can_be_done_somewhere_and_every_way_is_the_targets():
    """A fault's way of a kind of target is a function of that target's own faults module
    (a remote hub's is how selftest breaks its TLS front)."""
    ways = {"local": local_faults.BY_NAME, "kube": kube_faults.BY_NAME, "remote": TLS_FRONT_FAULTS}
    for fault in faults.FAULTS:
        assert any(not target.why_cannot_do(fault) for target in TARGETS), f"{fault.name} can be done nowhere"
        for kind, name in fault.ways.items():
            assert name in ways[kind], f"{fault.name}: {kind} has no way named {name}"
    for target in TARGETS:
        for check in checks.CATALOGUE:
            if target.why_not_applicable(check):
                continue
            assert target.fault_for(check) in faults.BY_NAME, (target.KIND, check.id)


def test_a_target_that_does_another_fault_can_do_it():
    for check_id, name in kube_faults.INSTEAD.items():
        assert KubeTarget.fault_for(checks.BY_ID[check_id]) == name
        assert KubeTarget.why_cannot_do(faults.BY_NAME[name]) == "", name
    for check_id, name in remote_checks.INSTEAD.items():
        assert RemoteTarget.fault_for(checks.BY_ID[check_id]) == name
        assert RemoteTarget.why_cannot_do(faults.BY_NAME[name]) == "", name


def test_a_target_says_why_it_cannot_do_a_fault():
    kill = faults.BY_NAME["hub-crashed-and-restarted"]
    assert KubeTarget.why_cannot_do(kill) == (
        "it is done to local processes or files; there is no kube way to do it yet"
    )
    assert LocalTarget.why_cannot_do(faults.BY_NAME["ingress-points-elsewhere"]).startswith("it is done to a cluster")
    assert "TLS front" in LocalTarget.why_cannot_do(faults.BY_NAME["tls-expired"])
    assert "harness's own operations" in RemoteTarget.why_cannot_do(faults.BY_NAME["remove-deletes-homes"])
    assert KubeTarget.why_cannot_do(faults.BY_NAME["credentials-file-in-homes"]).startswith("its pre-spawn hook")


@pytest.mark.parametrize("target", [LocalTarget, KubeTarget], ids=["local", "kube"])
def test_every_mutant_can_be_planted_and_undone(target):
    for fault in faults.FAULTS:
        if fault.mutant:
            patch = pytest.MonkeyPatch()
            mutants.plant(fault.mutant, patch, target)
            patch.undo()
    with pytest.raises(pytest.UsageError):
        mutants.plant("no-such-mutant", pytest.MonkeyPatch(), target)


def test_check_selection_reads_the_catalogue():
    local = checks.select(None, LocalTarget)
    assert "NS.namespace_exists" not in {c.id for c in local}, "the local namespace is its state folder"
    tls = {c.id for c in checks.CATALOGUE if c.group == "TLS"}
    assert {c.id for c in checks.select(None, KubeTarget)} == set(checks.BY_ID) - tls
    remote = {c.id for c in checks.select(None, RemoteTarget)}
    assert remote == set(remote_checks.FROM_OUTSIDE) and tls <= remote
    assert {r["id"] for r in checks.not_applicable(RemoteTarget, set())} | remote == set(checks.BY_ID)
    assert {r["id"] for r in checks.not_applicable(LocalTarget)} == set(checks.BY_ID) - {c.id for c in local}
    assert [c.id for c in checks.select("rdy", LocalTarget)][:1] == ["RDY.component_is_ready[hub]"]
    assert [c.id for c in checks.select("SEC.secret_is_private", LocalTarget)] == ["SEC.secret_is_private"]
    with pytest.raises(HarnessError, match="unknown check"):
        checks.select("NOPE", LocalTarget)
    with pytest.raises(HarnessError, match="none of these checks applies to context local"):
        checks.select("NS.namespace_exists", LocalTarget, "local")


class StaticTarget(Target):
    """A fourth target, written from scratch for the test below (never made: the catalogue
    and selftest's plan ask only its class): a hub whose processes and files the harness
    may not touch, with nothing beyond the hub and no operations of the harness's."""

    KIND = "static"


def test_a_new_target_is_one_class_and_one_line_in_the_registry(monkeypatch):
    """Which checks apply to it, which fault breaks each, which faults selftest can do to it
    and why not the others: all follow from its class, nothing else of the project names it."""
    monkeypatch.setitem(targets.REGISTRY, "static", f"{__name__}:StaticTarget")
    plan = selftest.Selftest("static", "st", [], chart.DEFAULT_CHART_VERSION, 2, say=lambda _: None).plan()
    proven = {c.id for c in plan.chosen}
    why = {u["id"]: u["why"] for u in plan.unproven}
    # what it does not say it has takes its checks out, with the reason
    assert not {"NS.namespace_exists", "TLS.certificate_chain_verifies"} & (proven | set(why))
    cluster_checks = {c.id for c in checks.CATALOGUE if c.needs == checks.SPARK_CLUSTER}
    assert all("a Spark standalone cluster" in why[c] for c in cluster_checks) and not cluster_checks & proven
    assert {r["id"] for r in checks.not_applicable(StaticTarget)} >= cluster_checks
    # a local way is not its own, nor are the mutants of operations it does not run: said, not counted
    assert why["NS.state_is_isolated"] == "it is done to local processes or files; there is no static way to do it yet"
    assert "harness's own operations" in why["RMV.remove_keeps_user_data"]
    # the chart reads values everywhere
    assert "SEC.user_servers_do_not_inherit_hub_secrets" in proven


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
