"""Every check proven able to fail: `invoke selftest` breaks a deployment once per fault of
the check catalogue and sees verify fail that check by name, and pass it when healthy.
Alone in its file: the longest test, started first on a worker of its own (conftest.py).
"""

import json

from hubharness import checks

SELFTEST_TIMEOUT = 2400  # about 22 minutes on 2 cores beside the other tests; this bounds a hung run


def test_selftest_kills_every_check_verify_runs_on_local(harness):
    ran = harness.invoke("selftest", "--jobs", "2", timeout=SELFTEST_TIMEOUT)
    n = len(checks.for_context("local"))
    assert f"killed {n}/{n}, healthy {n}/{n} passed" in ran.out, ran.out[-4000:] + ran.err[-2000:]
    assert ran.code == 0
    report = (harness.reports / "latest").resolve()
    data = json.loads((report / "selftest.json").read_text())
    assert data["killed"] == data["total"] == n
    assert {row["id"] for row in data["checks"]} == {c.id for c in checks.for_context("local")}
    assert "killed" in (report / "selftest.html").read_text()
    left = sorted(p.name for p in harness.home.iterdir()) if harness.home.exists() else []
    assert left == [], f"selftest left state behind: {left}"
