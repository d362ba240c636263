"""The report plugin: one record per check, and a wait that ran out is a `timeout`."""

import json

pytest_plugins = ["pytester"]

CHECKS = '''
import pytest
from hubharness.errors import WaitTimeout

pytestmark = pytest.mark.check("RDY")

def test_passes():
    assert True

def test_waits_out_the_clock():
    raise WaitTimeout("timed out after 1s waiting for the hub")

def test_fails():
    assert 1 == 2, "one is not two"

def test_skips():
    pytest.skip("no browser here")
'''


def test_outcomes_are_passed_failed_skipped_timeout(pytester, tmp_path):
    pytester.makepyfile(test_checks=CHECKS)
    result = pytester.runpytest_subprocess("-p", "hubharness.report", f"--report-dir={tmp_path}",
                                           "-p", "no:cacheprovider")
    assert result.ret == 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    outcomes = {c["id"]: c["outcome"] for c in summary["checks"]}
    assert outcomes == {"RDY.passes": "passed", "RDY.waits_out_the_clock": "timeout",
                        "RDY.fails": "failed", "RDY.skips": "skipped"}
    messages = {c["id"]: c["message"] for c in summary["checks"]}
    assert "waiting for the hub" in messages["RDY.waits_out_the_clock"]
    assert "one is not two" in messages["RDY.fails"]
    assert "no browser here" in messages["RDY.skips"]
    assert summary["counts"] == {"passed": 1, "failed": 1, "skipped": 1, "timeout": 1}
