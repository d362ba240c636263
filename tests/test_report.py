"""The report plugin: one record per check, a wait that ran out is a `timeout`, a check
that could not run fails unless skipped on request, and a check the catalogue does not
know is refused."""

import json

pytest_plugins = ["pytester"]

CHECKS = """
import pytest
from hubharness.errors import WaitTimeout

pytestmark = pytest.mark.check("SEC")

def test_secret_holds_the_password():
    assert True

def test_secret_is_private():
    raise WaitTimeout("timed out after 1s waiting for the hub")

def test_hub_reads_password_from_secret():
    assert 1 == 2, "one is not two"

def test_password_is_not_a_published_one():
    pytest.skip("no browser here")
"""


def run(pytester, tmp_path, *args):
    result = pytester.runpytest_subprocess(
        "-p", "hubharness.report", f"--report-dir={tmp_path}", "-p", "no:cacheprovider", *args
    )
    summary = json.loads((tmp_path / "summary.json").read_text()) if (tmp_path / "summary.json").exists() else {}
    return result, summary


def test_outcomes_are_passed_failed_skipped_timeout(pytester, tmp_path):
    pytester.makepyfile(test_checks=CHECKS)
    result, summary = run(pytester, tmp_path)
    assert result.ret == 1
    outcomes = {c["id"]: c["outcome"] for c in summary["checks"]}
    assert outcomes == {
        "SEC.secret_holds_the_password": "passed",
        "SEC.secret_is_private": "timeout",
        "SEC.hub_reads_password_from_secret": "failed",
        "SEC.password_is_not_a_published_one": "failed",
    }
    messages = {c["id"]: c["message"] for c in summary["checks"]}
    assert "waiting for the hub" in messages["SEC.secret_is_private"]
    assert "one is not two" in messages["SEC.hub_reads_password_from_secret"]
    assert (
        messages["SEC.password_is_not_a_published_one"]
        == "could not run: no browser here (--skip SEC.password_is_not_a_published_one to skip it)"
    )
    assert summary["counts"] == {"passed": 1, "failed": 2, "skipped": 0, "timeout": 1}


def test_a_check_skipped_on_request_is_skipped_saying_so(pytester, tmp_path):
    pytester.makepyfile(test_checks=CHECKS)
    _, summary = run(pytester, tmp_path, "--skip=SEC.password_is_not_a_published_one,SEC.secret_is_private")
    outcomes = {c["id"]: (c["outcome"], c["message"]) for c in summary["checks"]}
    assert outcomes["SEC.secret_is_private"][0] == "skipped"
    assert "skipped on request" in outcomes["SEC.password_is_not_a_published_one"][1]


def test_a_check_missing_from_the_catalogue_is_refused(pytester, tmp_path):
    pytester.makepyfile(test_checks=CHECKS + "\ndef test_something_new():\n    pass\n")
    result, _ = run(pytester, tmp_path)
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*checks missing from the catalogue*SEC.something_new*"])


TIMED = """
import time
import pytest
from hubharness.report import record_background

pytestmark = pytest.mark.check("SEC")

@pytest.fixture
def spawned(request):
    began = time.time()
    time.sleep(0.2)
    record_background(request.config, "spawn: verify-alice", began, time.time())

def test_secret_holds_the_password(spawned):
    time.sleep(0.2)

def test_secret_is_private():
    time.sleep(0.1)
"""


def test_each_check_records_when_it_ran_and_the_run_its_outcome(pytester, tmp_path):
    """The report's timeline and header are drawn from these."""
    pytester.makepyfile(test_checks=TIMED)
    result, summary = run(pytester, tmp_path)
    assert result.ret == 0 and summary["outcome"] == "passed"
    first, second = summary["checks"]
    assert 0 <= first["start"] < first["stop"] <= second["start"] < second["stop"] <= summary["duration"]
    assert first["stop"] - first["start"] >= 0.4  # its fixture's setup is part of it
    (span,) = summary["background"]
    assert span["name"] == "spawn: verify-alice" and first["start"] <= span["start"] < span["stop"] <= first["stop"]
    assert summary["deployment"] is None  # no deployment under test: nothing is made up


def test_a_failed_check_makes_the_run_failed(pytester, tmp_path):
    pytester.makepyfile(test_checks=CHECKS)
    _, summary = run(pytester, tmp_path)
    assert summary["outcome"] == "failed"


NOTED = """
import pytest
from hubharness.report import note

pytestmark = pytest.mark.check("SEC")

def test_secret_holds_the_password(request):
    note(request.node, "the Secret holds 1 key")

def test_secret_is_private(request):
    note(request.node, "noted before it failed")
    assert False, "it is not private"
"""


def test_a_passing_check_says_what_it_observed_a_failing_one_why_it_failed(pytester, tmp_path):
    pytester.makepyfile(test_checks=NOTED)
    _, summary = run(pytester, tmp_path)
    messages = {c["id"]: c["message"] for c in summary["checks"]}
    assert messages["SEC.secret_holds_the_password"] == "the Secret holds 1 key"
    assert "it is not private" in messages["SEC.secret_is_private"]
    assert "noted before" not in messages["SEC.secret_is_private"]


def test_between_checks_the_environment_keeps_its_names_for_the_scenarios_threads(pytester, tmp_path):
    """pytest would take PYTEST_CURRENT_TEST out of os.environ after each check, under the
    feet of verify's scenario threads that iterate os.environ (KeyError there)."""
    pytester.makeconftest(
        f"""
import os

def pytest_runtest_logfinish(nodeid, location):
    with open({str(tmp_path / "seen.txt")!r}, "a") as f:
        f.write(repr(os.environ.get("PYTEST_CURRENT_TEST")) + "\\n")
"""
    )
    pytester.makepyfile(test_checks=NOTED)
    run(pytester, tmp_path)
    seen = (tmp_path / "seen.txt").read_text().splitlines()
    assert len(seen) == 2 and "None" not in seen, seen
