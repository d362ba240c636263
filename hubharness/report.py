"""pytest plugin for `invoke verify`: summary.json (one record per check) and diagnostics/.

Outcomes are passed | failed | skipped | timeout; a bounded wait that ran out is a
timeout, not a generic failure.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
import requests

from . import checks as catalogue
from .errors import WaitTimeout
from .verify import DEPLOYMENT_KEY, MUTANT_ENV

TIMEOUT_TYPES: tuple[type[BaseException], ...] = (WaitTimeout, TimeoutError, requests.Timeout)


def timeout_types() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "waited too long"; the browser's only where a check used
    the browser (selenium is imported by the AUTH fixture, not by every verify)."""
    browser = sys.modules.get("selenium.common.exceptions")
    return TIMEOUT_TYPES + ((browser.TimeoutException,) if browser else ())


RECORDS_KEY = pytest.StashKey[dict]()
STARTED_KEY = pytest.StashKey[float]()


def pytest_addoption(parser):
    group = parser.getgroup("hubharness")
    group.addoption("--report-dir", help="write summary.json and diagnostics/ here")
    group.addoption("--checks", help="run only these checks: checklist ids (NS,SEC) or check ids, comma-separated")
    group.addoption("--skip", help="skip these checks on purpose (recorded as skipped, with this reason)")


def check_group(item) -> str:
    marker = item.get_closest_marker("check")
    return marker.args[0] if marker else "UNMARKED"


def check_id(item) -> str:
    """As the catalogue and summary.json name it: SEC.no_fallback_password_logs_in[admin]."""
    return f"{check_group(item)}.{item.name.removeprefix('test_')}"


def pytest_configure(config):
    config.stash[RECORDS_KEY] = {}
    config.addinivalue_line("markers", "check(id): conformance checklist id")
    config.stash[STARTED_KEY] = time.time()


def pytest_collection_modifyitems(config, items):
    """Order by the checklist, refuse checks the catalogue does not know, keep those that
    apply to this context and were asked for, and mark the ones the user skips."""
    unknown = sorted(check_id(item) for item in items if check_id(item) not in catalogue.BY_ID)
    if unknown:
        raise pytest.UsageError(f"checks missing from the catalogue (hubharness/checks.py): {', '.join(unknown)}")
    context = config.getoption("context", None) or "local"
    wanted = {c.id for c in catalogue.select(config.getoption("checks"), context)}
    skipped = {c.id for c in catalogue.select(config.getoption("skip"), context)} if config.getoption("skip") else set()
    order = {cid: n for n, cid in enumerate(catalogue.CHECK_ORDER)}
    items.sort(key=lambda item: order.get(check_group(item), len(order)))  # stable within a check
    deselected = [item for item in items if check_id(item) not in wanted]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if check_id(item) in wanted]
    for item in items:
        if check_id(item) in skipped:
            item.add_marker(pytest.mark.skip(reason=f"skipped on request (--skip {config.getoption('skip')})"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    could_not_run = report.skipped and not item.get_closest_marker("skip")
    if could_not_run:
        # A check that could not run has not shown the deployment works: it fails,
        # unless the user asked to skip it.
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"could not run: {reason.removeprefix('Skipped: ')} (--skip {check_id(item)} to skip it)"
    records = item.config.stash[RECORDS_KEY]
    name = item.name.removeprefix("test_")
    record = records.setdefault(
        item.nodeid,
        {
            "id": check_id(item),
            "check": check_group(item),
            "name": name,
            "nodeid": item.nodeid,
            "outcome": "passed",
            "duration": 0.0,
            "message": "",
        },
    )
    record["duration"] = round(record["duration"] + report.duration, 3)
    if report.skipped and record["outcome"] == "passed":
        record["outcome"] = "skipped"
        record["message"] = str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr)
    elif report.failed and record["outcome"] in ("passed", "skipped"):
        timed_out = not could_not_run and call.excinfo is not None and call.excinfo.errisinstance(timeout_types())
        record["outcome"] = "timeout" if timed_out else "failed"
        message = call.excinfo.exconly() if call.excinfo and not could_not_run else str(report.longrepr)
        record["message"] = (f"{report.when}: " if report.when != "call" else "") + message[:1000]
        _diagnose(item, record)
    return report


def _diagnose(item, record) -> None:
    report_dir = item.config.getoption("report_dir")
    deployment = item.config.stash.get(DEPLOYMENT_KEY, None)
    if not report_dir or deployment is None:
        return
    dest = Path(report_dir) / "diagnostics" / record["id"]
    try:
        deployment.write_diagnostics(dest)
    except Exception as e:  # noqa: BLE001 — diagnostics must never hide the failure they describe
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "diagnostics-error.txt").write_text(f"{type(e).__name__}: {e}\n")


def pytest_sessionfinish(session, exitstatus):
    report_dir = session.config.getoption("report_dir")
    if not report_dir:
        return
    records = list(session.config.stash[RECORDS_KEY].values())
    deployment = session.config.stash.get(DEPLOYMENT_KEY, None)
    counts = {k: sum(r["outcome"] == k for r in records) for k in ("passed", "failed", "skipped", "timeout")}
    summary = {
        "context": session.config.getoption("context", None),
        "namespace": session.config.getoption("namespace", None),
        # only if the run resolved it: resolving may open a port-forward, too late now
        "public_url": vars(deployment).get("public_url") if deployment is not None else None,
        "chart": getattr(deployment, "chart_version", None),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(session.config.stash[STARTED_KEY])),
        "duration": round(time.time() - session.config.stash[STARTED_KEY], 3),
        "counts": counts,
        # a harness fault planted by `invoke selftest`: this run proves a check can fail
        "mutant": os.environ.get(MUTANT_ENV) or None,
        "checks": records,
    }
    Path(report_dir, "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
