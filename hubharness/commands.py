"""What each `invoke` task does, as functions that print for people and return exit codes.

verify (and pytest under it), load (aiohttp), watch and selftest are imported by the task
that runs them: every `invoke deploy`, `remove` or `status` would pay for them otherwise
(0.35 s of CPU, hundreds of times in a selftest).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import webbrowser
from collections.abc import Iterator
from pathlib import Path

from . import checks as catalogue
from . import daytwo, options, report_page, rotation
from . import lint as lint_values
from . import values as chart_values
from .errors import HarnessError
from .paths import reports_root
from .report_dir import new_report_dir, redact
from .targets import target_for


def say(line: str = "") -> None:
    try:
        print(line, flush=True)
    except BrokenPipeError:
        # the reader went (`| head -1`): the command still finishes; what it would say goes nowhere
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


DEFAULT_PORT = 8000


def deploy(
    context: str,
    namespace: str,
    values_files: list[str],
    chart_version: str,
    force: bool = False,
    port: int | None = None,
) -> int:
    target = target_for(context, namespace)
    files = chart_values.values_files(context, values_files)
    for finding in lint_values.check(chart_values.load(files)):
        print(f"warning: {finding.line()} (invoke lint)", file=sys.stderr)
    port = DEFAULT_PORT if port is None else port
    result = target.deploy(files, port=port, chart_version=chart_version, force=force)
    if result.schema_note:
        print(f"warning: {result.schema_note}", file=sys.stderr)
    for line in result.lines():
        say(line)
    return 0


def lint(context: str, values_files: list[str], strict: bool) -> int:
    files = chart_values.values_files(context, values_files)
    findings = lint_values.check(chart_values.load(files))
    for finding in findings:
        say(finding.line())
    say(f"lint: {len(findings)} finding(s) in {', '.join(str(f) for f in files)}")
    return 1 if strict and findings else 0


@contextlib.contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """SIGTERM (a CI job cancelled, a container stopped) ends the run as Ctrl-C does, by
    SIGINT's own handler (verify's suites tear down, a load's asyncio runner cancels the
    journeys), or by KeyboardInterrupt where SIGINT is ignored (started in the background
    of a script): either way what the run made on the hub goes."""

    def as_ctrl_c(_signum, frame) -> None:
        handler = signal.getsignal(signal.SIGINT)
        (handler if callable(handler) else signal.default_int_handler)(signal.SIGINT, frame)

    previous = signal.signal(signal.SIGTERM, as_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def verify(
    context: str,
    namespace: str,
    keyword: str | None,
    checks: str | None,
    skip: str | None = None,
    smoke: bool = False,
    url: str | None = None,
    http_url: str | None = None,
) -> int:
    if smoke and (checks or keyword):
        raise HarnessError("--smoke is a selection of its own: give it alone, or --check/-k without it")
    chosen = ",".join(catalogue.SMOKE) if smoke else checks
    options = {"url": url or "", "http_url": http_url or ""}
    from .verify import run as run_verify

    with sigterm_as_ctrl_c():
        result = run_verify(context, namespace, keyword, chosen, skip=skip, options=options)
    summary = json.loads((result.report_dir / "summary.json").read_text())
    counts = summary["counts"]
    failed = [c["id"] for c in summary["checks"] if c["outcome"] in ("failed", "timeout")]
    interrupted = "INTERRUPTED, " if summary.get("interrupted") else ""
    say(
        f"verify: {interrupted}{counts['passed']} passed, {counts['failed']} failed, {counts['timeout']} timed out, "
        f"{counts['skipped']} skipped in {summary['duration']:.1f}s; report: {result.report_dir}"
    )
    if summary.get("not_applicable"):
        say(f"  {len(summary['not_applicable'])} check(s) of the catalogue do not apply here (why: the report)")
    if failed:
        say(f"  failed checks: {', '.join(failed)}")
    skipped = [c["id"] for c in summary["checks"] if c["outcome"] == "skipped"]
    if skipped:
        say(f"  skipped on request: {', '.join(skipped)}")
    if summary.get("left_on_hub"):
        say(f"  NOT deleted from the hub: {'; '.join(summary['left_on_hub'])}")
    unvalidated = report_page.not_validated(report_page.deployment_of(summary))
    if unvalidated is not None:
        say(f"  values NOT validated against the chart's schema at deploy: {unvalidated}")
    return result.exit_code


def report(folder: str | None, open_page: bool) -> int:
    """Draw every run's report.html and the index again from the runs' summary.json (a
    CI artifact unzipped anywhere, or reports/), and say where they are."""
    root = Path(folder).resolve() if folder else reports_root()
    runs = report_page.runs_in(root)
    if not runs:
        raise HarnessError(f"no verify run in {root} (a run folder holds summary.json): run invoke verify first")
    for name, _ in runs:
        report_page.write_report(root / name)
    index = report_page.write_index(root)
    latest = root / runs[0][0] / "report.html"
    say(f"report: {len(runs)} run(s) in {root}")
    say(f"  latest: {latest}")
    say(f"  index:  {index}")
    if open_page:
        webbrowser.open(latest.as_uri())  # does nothing where there is no browser
    return 0


def load(
    context: str,
    namespace: str,
    spark: bool,
    users: int | None = None,
    ramp: float | None = None,
    hold: float | None = None,
    max_failures: int | None = None,
    max_p95_spawn: float | None = None,
    url: str | None = None,
) -> int:
    """Run a load; exit 1 naming each threshold it crossed."""
    from .load import figures, journey, page
    from .load.hub import options as load_options

    deployment = target_for(context, namespace, {"url": url or ""}).deployment()
    try:
        chosen = load_options(
            deployment.values,
            deployment.load_prefix,
            users=users,
            ramp=ramp,
            hold=hold,
            spark=spark or None,
            max_failures=max_failures,
            max_p95_spawn=max_p95_spawn,
        )
        say(
            f"load: {chosen.users} user(s) over {chosen.ramp:g}s, holding {chosen.hold:g}s"
            f"{', with a Spark job' if chosen.spark else ''}, against namespace {namespace} (context {context})"
        )
        with sigterm_as_ctrl_c():
            report = journey.run(deployment.load_hub(), chosen)
        secrets = [str(s) for s in deployment.secrets()]
    finally:
        deployment.close()
    report = {"context": context, "namespace": namespace, **report}
    report_dir = new_report_dir(f"{context}-load")
    page.write(report_dir, report)
    redact(report_dir, secrets)
    for line in load_lines(report):
        say(line)
    say(f"  report: {report_dir / 'load.html'}")
    return 1 if figures.crossed(report) else 0


def load_lines(report: dict) -> list[str]:
    from .load import figures

    users, generator = report["users"], report["generator"]
    lines = [
        f"load: {report['completed']}/{len(users)} users completed in {report['duration']:.1f}s"
        + (f"; failures: {', '.join(f'{c} {n}' for c, n in report['failures'].items())}" if report["failed"] else ""),
        f"  {'phase':<14}{'count':>6}{'ok':>6}{'p50 s':>9}{'p95 s':>9}{'max s':>9}  failures by cause",
    ]
    for phase, title in figures.PHASES.items():
        f = report["phases"][phase]
        cell = [f"{v:9.2f}" if v is not None else f"{'-':>9}" for v in (f["p50"], f["p95"], f["max"])]
        causes = ", ".join(f"{c}: {n}" for c, n in f["failures"].items())
        lines.append(f"  {title:<14}{f['count']:>6}{f['ok']:>6}{''.join(cell)}  {causes}")
    spark = report.get("spark")
    if spark:
        lines.append(f"  Spark of {spark['users']} user(s), on {', '.join(spark['masters']) or 'no master seen'}:")
        for key, title in figures.SPARK_TIMES.items():
            f = spark["times"][key]
            cell = [f"{v:9.2f}" if v is not None else f"{'-':>9}" for v in (f["p50"], f["p95"], f["max"])]
            lines.append(f"    {title:<24}{''.join(cell)}")
    resources = report["resources"]
    for name, s in resources["summary"].items():
        lines.append(
            f"  {name}: CPU {s['cpu_cores_mean']} cores mean, {s['cpu_cores_max']} max; memory {s['memory_mb_max']} MB max"
        )
    if not resources["summary"]:
        lines.append(f"  hub and proxy resources: {resources['source']}")
    lines.append(
        f"  load generator: {generator['cpu_seconds']:.2f} CPU s ({generator['cpu_seconds_per_user']:.4f} per user), "
        f"max RSS {generator['max_rss_mb']} MB"
    )
    if report["cleanup"]:
        lines.append(f"  users not deleted: {'; '.join(report['cleanup'])}")
    for t in report["thresholds"]:
        lines.append(f"  threshold {t['name']} {'CROSSED' if t['crossed'] else 'held'}: {t['says']}")
    return lines


WATCH_EVERY = 300.0  # seconds: a light journey costs ~3 CPU s, mostly the server's start: 1% of one core
WATCH_METRICS_PORT = 9464  # /metrics, unless --metrics-port says otherwise (the default)


def watch(
    context: str,
    namespace: str,
    journey: str,
    metrics_addr: str,
    every: float | None = None,
    for_: float | None = None,
    metrics_port: int | None = None,
    url: str | None = None,
) -> int:
    """Journeys on a schedule until --for runs out or a signal; exit 1 if one failed."""
    from .watch import schedule
    from .watch.history import PAGE, History
    from .watch.journey import JOURNEYS, USER

    if journey not in JOURNEYS:
        raise HarnessError(f"--journey {journey!r} is not a journey: give {' or '.join(JOURNEYS)}")
    deployment = target_for(context, namespace, {"url": url or ""}).deployment()
    try:
        hub = deployment.load_hub()
        history = History(reports_root() / "watch", [*deployment.secrets(), hub.password, hub.admin_token])
        port = WATCH_METRICS_PORT if metrics_port is None else metrics_port
        settings = schedule.Settings(journey, every or WATCH_EVERY, for_, metrics_addr, port)
        summary = schedule.run(deployment.load_hub, settings, history, context, namespace, say)
    finally:
        deployment.close()
    say(
        f"watch: {summary.journeys} journey(s) as {USER}, {summary.failed} failed; stopped by {summary.stopped_by}; "
        f"page: {history.folder / PAGE}"
    )
    return 1 if summary.failed else 0


def selftest(
    context: str, prefix: str, values_files: list[str], chart_version: str, checks: str | None, jobs: int | None = None
) -> int:
    from .selftest import run as run_selftest

    result = run_selftest(context, prefix, values_files, chart_version, checks, jobs, say=say)
    say()
    say(f"{'check':<62} {'fault':<34} {'healthy':<8} {'broken':<8} {'in':<6} {'s':>6}")
    for row in sorted(result.rows, key=lambda r: r["killed"]):
        mark = "" if row["killed"] else "  SURVIVED"
        say(
            f"{row['id']:<62} {row['fault']:<34} {row['healthy']:<8} {row['broken']:<8} {row['failed_in']:<6} "
            f"{row['seconds']:6.1f}{mark}"
        )
    for row in result.unproven:
        say(f"{row['id']:<62} {row['fault']:<34} not proven here: {row['why']}")
    healthy = sum(r["healthy"] == "passed" for r in result.rows)
    unproven = f", {len(result.unproven)} not proven on context {context}" if result.unproven else ""
    say(
        f"selftest: killed {result.killed}/{len(result.rows)}, healthy {healthy}/{len(result.rows)} passed{unproven}, "
        f"in {result.seconds:.0f}s; report: {result.report_dir}"
    )
    return 0 if result.ok else 1


def remove(context: str, namespace: str, purge: bool, keep_cluster: bool = False) -> int:
    say(target_for(context, namespace, {"keep_cluster": keep_cluster}).remove(purge=purge).message)
    return 0


def rotate_password(context: str, namespace: str, admin: bool) -> int:
    result = rotation.rotate(target_for(context, namespace), admin=admin)
    for line in result.lines():
        say(line)
    return 1 if result.lost else 0


def status(context: str, namespace: str, as_json: bool, url: str | None = None) -> int:
    target = target_for(context, namespace, {"url": url or ""})
    info = target.status()
    day2 = _day2(target) if any(c.name == "hub" and c.running for c in info.components) else {}
    if as_json:
        say(json.dumps({**info.to_json(), "figures": day2}, indent=2))
        return 0
    say(
        f"namespace {info.namespace} (context {info.context}), chart {info.chart}: "
        f"{info.hub_url or 'proxy-public not reachable'}"
    )
    for c in info.components:
        state = ("ready" if c.ready else "not ready") if c.running else "stopped"
        say(f"  {c.name + ':':<15} {state} ({c.detail})")
    say(f"  password: {info.secret}")
    if info.users_error:
        say(f"  users: unavailable ({info.users_error})")
    for user in info.users:
        servers = ", ".join(f"{n} {'ready' if s['ready'] else 'starting'}" for n, s in user["servers"].items())
        say(f"  user {user['name']}{' (admin)' if user['admin'] else ''}: {servers or 'no server running'}")
    running = sum(1 for u in info.users if u["servers"])
    say(f"  {len(info.users)} user(s), {running} with a running server")
    for line in daytwo.lines(day2):
        say(line)
    return 0


def _day2(target) -> dict:
    """Homes and memory now; a deployment that cannot be read says why, status goes on.
    Nothing for a hub reached by its URL: homes and memory are not seen from outside."""
    try:
        deployment = target.deployment()
    except HarnessError as e:
        return {"error": str(e)}
    if deployment.offers is not None:
        deployment.close()
        return {}
    try:
        return daytwo.figures(deployment)
    except Exception as e:  # noqa: BLE001 — figures are status's extra: what broke is said, status goes on
        return {"error": f"{type(e).__name__}: {e}"}
    finally:
        deployment.close()


def backup(context: str, namespace: str, to: str | None) -> int:
    result = target_for(context, namespace).backup(Path(to) if to else None)
    say(
        f"backed up namespace {namespace} (context {context}): {len(result.users)} user(s), "
        f"{result.files} file(s), {result.bytes / 1e6:.1f} MB in {result.seconds:.1f}s"
    )
    say(f"  archive: {result.archive} ({result.archive.stat().st_size / 1e6:.1f} MB)")
    kept = ", ".join(result.secrets) or "none named in the values"
    say(f"  secrets are not in the archive: keep the Secret(s) yourself ({kept})")
    return 0


def restore(context: str, namespace: str, source: str, force: bool) -> int:
    result = target_for(context, namespace).restore(Path(source), force=force)
    say(
        f"restored namespace {namespace} (context {context}) from {source} in {result.seconds:.1f}s: "
        f"{len(result.users)} user(s), {result.files} file(s), {result.bytes / 1e6:.1f} MB; "
        f"database integrity_check: {result.integrity}"
    )
    if result.moved_aside:
        say(f"  the data it replaced is in {result.moved_aside}")
    return 0


def kube_api_error(error: Exception) -> str | None:
    """A refusal of the kubernetes API (RBAC, quota, validation) as one line; None for
    anything else. The client is only looked at if something imported it."""
    exceptions = sys.modules.get("kubernetes.client.exceptions")
    if exceptions is None or not isinstance(error, exceptions.ApiException):
        return None
    try:
        message = json.loads(error.body or "{}").get("message")
    except ValueError:
        message = None
    return (
        f"the kubernetes API refused a request: {error.status} {error.reason}"
        f"{': ' + message[:300] if message else ''} (is the context allowed to? kubectl auth can-i --list)"
    )


def run(action, *args, numbers: dict[str, object] | None = None, **given: object) -> int:
    """Run a command; a HarnessError, or the kubernetes API's refusal, becomes one line on
    stderr and exit code 2. `numbers` are the numeric options as typed (None: not
    given), checked before the command starts and passed to it by name, with `given`."""
    try:
        return action(*args, **options.numbers(**(numbers or {})), **given)
    except HarnessError as e:
        print(f"hubharness: {e}", file=sys.stderr)
        return 2
    except Exception as e:
        refusal = kube_api_error(e)
        if refusal is None:
            raise
        print(f"hubharness: {refusal}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hubharness: interrupted", file=sys.stderr)
        return 130
