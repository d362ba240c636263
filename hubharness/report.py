"""pytest plugin for `invoke verify`: summary.json (one record per check) and diagnostics/.

Outcomes are passed | failed | skipped | timeout; a bounded wait that ran out is a
timeout, not a generic failure.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest
import requests

from . import authenticators, sparkcluster
from . import checks as catalogue
from . import values as chart_values
from .errors import HarnessError, WaitTimeout
from .paths import PROJECT_ROOT
from .session import DEPLOYMENT_KEY, MUTANT_ENV
from .targets import target_class

TIMEOUT_TYPES: tuple[type[BaseException], ...] = (WaitTimeout, TimeoutError, requests.Timeout)


def timeout_types() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "waited too long"; the browser's only where a check used
    the browser (selenium is imported by the AUTH fixture, not by every verify)."""
    browser = sys.modules.get("selenium.common.exceptions")
    return TIMEOUT_TYPES + ((browser.TimeoutException,) if browser else ())


RECORDS_KEY = pytest.StashKey[dict]()
STARTED_KEY = pytest.StashKey[float]()
BACKGROUND_KEY = pytest.StashKey[list]()
NOTE_KEY = pytest.StashKey[str]()
LEFT_KEY = pytest.StashKey[list]()  # what verify made on a hub it did not deploy and could not delete
VERSION_TIMEOUT = 5  # seconds for the hub's /hub/api when the run ends


def record_background(config, name: str, start: float, stop: float) -> None:
    """Work the fixtures ran beside the checks (a spawn, a kernel cell, a scratch
    deployment), from `start` to `stop` (time.time()), for the report's timeline."""
    began = config.stash.get(STARTED_KEY, None)
    if began is None:  # verify's plugin not loaded: nobody draws a timeline
        return
    spans = config.stash.setdefault(BACKGROUND_KEY, [])
    spans.append({"name": name, "start": round(start - began, 3), "stop": round(stop - began, 3)})


def note(item, text: str) -> None:
    """What a passing check observed, as its message in summary.json and the report."""
    item.stash[NOTE_KEY] = text


def pytest_addoption(parser):
    group = parser.getgroup("hubharness")
    group.addoption("--report-dir", help="write summary.json and diagnostics/ here")
    group.addoption("--checks", help="run only these checks: checklist ids (NS,SEC) or check ids, comma-separated")
    group.addoption("--skip", help="skip these checks on purpose (recorded as skipped, with this reason)")
    group.addoption(
        "--deployment-has",
        help="what the deployment has (spark-cluster), comma-separated: checks that need more are left out",
    )
    group.addoption(
        "--authenticator",
        help="the authenticator class the hub reported running: checks for another one are left out",
    )


def check_group(item) -> str:
    marker = item.get_closest_marker("check")
    return marker.args[0] if marker else "UNMARKED"


def check_id(item) -> str:
    """As the catalogue and summary.json name it: SEC.no_fallback_password_logs_in[admin]."""
    return f"{check_group(item)}.{item.name.removeprefix('test_')}"


def _keep_current_test_variable() -> None:
    """pytest takes PYTEST_CURRENT_TEST out of os.environ after each check. verify's
    scenarios run in threads beside the checks, and every requests call (its proxy
    lookup) and environment copy there iterates os.environ: a name taken out between
    listing and reading it raises KeyError in that thread, and a scenario fails for no
    fault of the hub. Between checks it now keeps the last one's name."""
    from _pytest import runner

    update = runner._update_current_test_var

    def set_only(item, when):
        if when:
            update(item, when)

    runner._update_current_test_var = set_only


def pytest_configure(config):
    _keep_current_test_variable()
    config.stash[RECORDS_KEY] = {}
    config.stash[BACKGROUND_KEY] = []
    config.addinivalue_line("markers", "check(id): conformance checklist id")
    config.stash[STARTED_KEY] = time.time()


def pytest_collection_modifyitems(config, items):
    """Order as verify runs the groups (catalogue.RUN_ORDER), refuse checks the catalogue
    does not know, keep those that apply to this context and were asked for, and mark the
    ones the user skips."""
    unknown = sorted(check_id(item) for item in items if check_id(item) not in catalogue.BY_ID)
    if unknown:
        raise pytest.UsageError(f"checks missing from the catalogue (hubharness/checks.py): {', '.join(unknown)}")
    context = config.getoption("context", None) or "local"
    target = target_class(context)
    running = config.getoption("authenticator", None)
    chosen = catalogue.select(config.getoption("checks"), target, context)
    has = config.getoption("deployment_has", None)
    held = None if has is None else {h for h in has.split(",") if h}
    chosen = catalogue.for_deployment(chosen, held)
    chosen = catalogue.for_credentials(chosen, target, held)
    wanted = {c.id for c in catalogue.for_authenticator(chosen, authenticators.kind_of(running) if running else None)}
    skip = config.getoption("skip")
    skipped = {c.id for c in catalogue.select(skip, target, context)} if skip else set()
    order = {cid: n for n, cid in enumerate(catalogue.RUN_ORDER)}
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
    # when the check ran, in seconds from the run's start: setup to teardown (the timeline)
    began = item.config.stash[STARTED_KEY]
    record["start"] = round(min(record.get("start", call.start - began), call.start - began), 3)
    record["stop"] = round(max(record.get("stop", 0.0), call.stop - began), 3)
    if report.when == "call" and report.passed:
        record["message"] = item.stash.get(NOTE_KEY, "")[:1000]
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


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session, exitstatus):
    """summary.json after every other hook, the fixtures' teardown included (what a remote
    run left behind is known then), and whatever they raised."""
    try:
        return (yield)
    finally:
        write_summary(session, exitstatus)


def write_summary(session, exitstatus) -> None:
    report_dir = session.config.getoption("report_dir")
    if not report_dir:
        return
    records = list(session.config.stash[RECORDS_KEY].values())
    deployment = session.config.stash.get(DEPLOYMENT_KEY, None)
    counts = {k: sum(r["outcome"] == k for r in records) for k in ("passed", "failed", "skipped", "timeout")}
    outcome = "passed" if exitstatus == 0 and not (counts["failed"] or counts["timeout"]) else "failed"
    summary = {
        "context": session.config.getoption("context", None),
        "namespace": session.config.getoption("namespace", None),
        # only if the run resolved it: resolving may open a port-forward, too late now
        "public_url": resolved_url(deployment) if deployment is not None else None,
        "chart": getattr(deployment, "chart_version", None),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(session.config.stash[STARTED_KEY])),
        "duration": round(time.time() - session.config.stash[STARTED_KEY], 3),
        "outcome": outcome,
        # stopped by Ctrl-C or a signal: the checks not recorded never ran
        "interrupted": exitstatus == pytest.ExitCode.INTERRUPTED,
        "counts": counts,
        # what the run observed of the deployment or the deployment declares; no secret
        "deployment": deployment_facts(deployment) if deployment is not None else None,
        # the authenticator class the hub reported before the run, which chose the checks
        "authenticator": session.config.getoption("authenticator", None),
        # when the harness's background work (spawns, kernel cells, scratch deployments) ran
        "background": session.config.stash.get(BACKGROUND_KEY, []),
        # a harness fault planted by `invoke selftest`: this run proves a check can fail
        "mutant": os.environ.get(MUTANT_ENV) or None,
        # OPS's day-2 figures (homes against capacity, memory against limits), where it ran
        "ops": _read_json(Path(report_dir, "ops.json")),
        # the catalogue's checks that do not apply to this target or these credentials, with why
        "not_applicable": catalogue.not_applicable(
            target_class(session.config.getoption("context", None) or "local"), _offers(deployment)
        ),
        # what verify made on a hub it did not deploy and could not delete
        "left_on_hub": session.config.stash.get(LEFT_KEY, []),
        "checks": records,
    }
    Path(report_dir, "summary.json").write_text(json.dumps(summary, indent=2) + "\n")


def _offers(deployment) -> set[str] | None:
    offers = getattr(deployment, "offers", None)
    return None if offers is None else set(offers)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def resolved_url(deployment) -> str | None:
    """proxy-public's URL if the run resolved it, or if it costs nothing to ask (a plain
    property); a cached one not asked for may open a port-forward, too late now."""
    attribute = inspect.getattr_static(type(deployment), "public_url", None)
    if isinstance(attribute, functools.cached_property):
        return vars(deployment).get("public_url")
    try:
        return deployment.public_url
    except Exception:  # noqa: BLE001 — a deployment that cannot say has no URL in the report
        return None


def _hub_version(url: str | None) -> str | None:
    """The JupyterHub version the hub itself reports (its unauthenticated /hub/api)."""
    if not url:
        return None
    try:
        response = requests.get(f"{url}/hub/api", timeout=VERSION_TIMEOUT)
        return str(response.json()["version"]) if response.ok else None
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return None


def _values_file(path: Path) -> dict:
    shown = path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        digest = None
    return {"path": str(shown), "sha256": digest}


def _ask(deployment, name: str):
    try:
        return getattr(deployment, name, None)
    except Exception:  # noqa: BLE001 — a fact the deployment cannot give is left out, not a crash
        return None


def _spark_master(values: dict) -> str | None:
    """The master the deployment sends notebooks to (PYSPARK_SUBMIT_ARGS), with the workers
    of the cluster it runs; None: local mode."""
    try:
        master, cluster = sparkcluster.request(values).master, sparkcluster.settings(values)
    except HarnessError:
        return None
    if master and cluster:
        return f"{master} ({cluster.workers} worker(s) of {cluster.worker_cores} core(s), {cluster.worker_memory})"
    return master


def deployment_facts(deployment) -> dict:
    """Which hub was verified, as the run observed it or the deployment declares it.
    Never a secret: versions, names, paths and digests only."""
    values = _ask(deployment, "rendered_values") or {}  # the chart's defaults under the values given
    image = chart_values.get(values, "singleuser.image", {}) or {}
    url = resolved_url(deployment)
    try:
        harness = metadata.version("hubharness")
    except metadata.PackageNotFoundError:
        harness = None
    return {
        "context": _ask(deployment, "context"),
        "namespace": _ask(deployment, "namespace"),
        "public_url": url,
        "chart": _ask(deployment, "chart_version"),
        "jupyterhub": _hub_version(url),
        "jupyterhub_expected": _ask(deployment, "expected_hub_version"),
        "notebook_image": f"{image.get('name', '')}:{image.get('tag', '')}" if image.get("name") else None,
        "pyspark": chart_values.expected_pyspark_version(values),
        "spark_master": _spark_master(values),
        "values_files": [_values_file(Path(f)) for f in getattr(deployment, "values_files", [])],
        "values_record": _ask(deployment, "values_record"),
        "values_schema": _ask(deployment, "values_schema"),
        "harness": harness,
    }
