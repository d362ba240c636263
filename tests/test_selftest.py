"""Every check proven able to fail: `invoke selftest` breaks a deployment once per fault of
the check catalogue and sees verify fail that check by name, and pass it when healthy.

One selftest, read by three tests: a file of three or more tests gets a worker of its own
when xdist hands it out first (README's command: --no-loadscope-reorder keeps conftest's
order, which puts this file first), so the longest run overlaps all the others.
"""

import json

import pytest

from hubharness import checks
from hubharness.targets.local import LocalTarget

SELFTEST_TIMEOUT = 2400  # about 25 minutes on 2 cores beside the other tests; this bounds a hung run
LOCAL = {c.id for c in checks.for_target(LocalTarget)}
# what verify runs on local with the default values' DummyAuthenticator (the shared-password
# checks are left out there: the hub says it runs another) and no Spark cluster
DEFAULT = {
    c.id for c in checks.for_deployment(checks.for_authenticator(checks.for_target(LocalTarget), "dummy"), set())
}


@pytest.fixture(scope="module")
def selftest(module_harness):
    ran = module_harness.invoke("selftest", "--jobs", "2", timeout=SELFTEST_TIMEOUT)
    report = (module_harness.reports / "latest").resolve()
    data = json.loads((report / "selftest.json").read_text()) if (report / "selftest.json").is_file() else {}
    return ran, data, report


def test_selftest_kills_every_check_verify_runs_on_local(selftest):
    ran, data, _ = selftest
    n = len(LOCAL)
    assert f"killed {n}/{n}, healthy {n}/{n} passed" in ran.out, ran.out[-4000:] + ran.err[-2000:]
    assert ran.code == 0
    assert data["killed"] == data["total"] == n


def test_each_check_has_its_row_with_a_healthy_pass_and_a_kill(selftest):
    _, data, report = selftest
    rows = {row["id"]: row for row in data.get("checks", [])}
    assert set(rows) == LOCAL
    assert {row["healthy"] for row in rows.values()} == {"passed"}
    assert "killed" in (report / "selftest.html").read_text()


def test_the_healthy_run_is_a_whole_verify_with_its_whole_report(selftest):
    """The healthy namespace on the default values: every check verify runs there, passed,
    and the report a user gets from `invoke deploy verify`, files and figures."""
    _, data, report = selftest
    healthy = next(r for r in data["runs"] if r["name"] == "healthy")
    run = report / healthy["report"]
    summary = json.loads((run / "summary.json").read_text())
    assert {c["id"] for c in summary["checks"]} == DEFAULT
    assert {c["outcome"] for c in summary["checks"]} == {"passed"}
    for name in ("junit.xml", "report.html", "pytest.html", "summary.json", "load.json", "load.html", "res.json"):
        assert (run / name).is_file(), name
    homes = {h["user"]: h for h in summary["ops"]["homes"]}
    assert homes["verify-alice"]["capacity_bytes"] == 10 * 2**30 and homes["verify-alice"]["used_bytes"] > 0, homes
    assert {"hub", "proxy", "server:verify-alice"} <= set(summary["ops"]["resources"]["components"]), summary["ops"]
    page = (run / "report.html").read_text()
    assert "verify PASSED" in page and "namespace <b>selftest-healthy</b>" in page
    assert summary["deployment"]["jupyterhub"] in page
    assert (run / ".." / "index.html").is_file()
    assert not (run / "diagnostics").exists(), "diagnostics are for failed checks only"
    assert healthy["verify_exit"] == 0


def test_each_run_says_where_its_time_went(selftest):
    """Deploy, fault, verify and purge timed per run: a slow selftest shows which phase and
    which run to look at. A shared lane deploys once, for its first run."""
    _, data, _ = selftest
    for run in data["runs"]:
        phases = run["phases"]
        assert "verify" in phases and set(phases) <= {"purge", "deploy", "fault", "verify"}, run
        assert sum(phases.values()) <= run["seconds"] + 0.1 * len(phases), run
    undeployed = [r["name"] for r in data["runs"] if "deploy" not in r["phases"]]
    assert all(r["mutant"] for r in data["runs"] if r["name"] in undeployed), undeployed


def test_selftest_leaves_no_state_behind(selftest, module_harness):
    assert selftest[0].code is not None  # it ran to its end
    home = module_harness.home
    left = sorted(p.name for p in home.iterdir()) if home.exists() else []
    assert left == [], f"selftest left state behind: {left}"
