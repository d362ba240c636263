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


def test_selftest_leaves_no_state_behind(selftest, module_harness):
    assert selftest[0].code is not None  # it ran to its end
    home = module_harness.home
    left = sorted(p.name for p in home.iterdir()) if home.exists() else []
    assert left == [], f"selftest left state behind: {left}"
