"""Invoke tasks: parse arguments, call hubharness.commands, exit with its code.

Numeric options reach commands.run as typed (`numbers=`), which checks them
(hubharness.options) before the command starts.
"""

import os
import sys

from invoke import Exit, task

# invoke turns off writing bytecode for what is imported after it (unless --write-pyc):
# the harness and pytest's rewritten suites would be compiled again by every command.
# Python's own setting (PYTHONDONTWRITEBYTECODE) still decides.
sys.dont_write_bytecode = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))

from hubharness import chart, commands
from hubharness.checks import CHECK_ORDER

CONTEXT = "local, kind, remote (with --url), or a kube context"
URL = "context remote: the hub's address, e.g. https://hub.example.org (credentials from the environment)"
NAMESPACE = "deployment namespace (default: default)"


def _exit(code: int) -> None:
    if code:
        raise Exit(code=code)


@task(
    iterable=["values"],
    help={
        "context": CONTEXT,
        "namespace": NAMESPACE,
        "values": "extra values file, overlaid like helm -f (repeatable)",
        "port": "proxy-public port on 127.0.0.1 for the local target (default 8000; 0: any free port)",
        "chart_version": "zero-to-jupyterhub chart version, 4.0.0 … 4.4.0; another than the running one upgrades it",
        "force": "allow a move to an older chart (JupyterHub cannot run on a database a newer one upgraded)",
    },
)
def deploy(
    c,
    context="local",
    namespace="default",
    values=None,
    port=None,
    chart_version=chart.DEFAULT_CHART_VERSION,
    force=False,
):
    """Deploy JupyterHub + PySpark notebooks; returns when /hub/health answers."""
    _exit(commands.run(commands.deploy, context, namespace, values or [], chart_version, force, numbers={"port": port}))


@task(
    iterable=["values"],
    help={
        "context": "the target whose overlay is read (values/<context>.yaml)",
        "values": "extra values file, overlaid like helm -f (repeatable)",
        "strict": "exit non-zero when anything is found (as the nightly runs it)",
    },
)
def lint(c, context="local", values=None, strict=False):
    """Name the known pitfalls in the values: each with why it hurts and the fix."""
    _exit(commands.run(commands.lint, context, values or [], strict))


CHECKS = "checklist ids ({}) or check ids as in summary.json, comma-separated".format(",".join(CHECK_ORDER))


@task(
    help={
        "context": CONTEXT,
        "namespace": NAMESPACE,
        "k": "only checks matching this pytest -k expression",
        "check": f"only these: {CHECKS}",
        "skip": f"skip these on purpose (recorded in the report): {CHECKS}",
        "smoke": "only: can a user log in, reach their server and run Spark, and is the secret safe",
        "url": URL,
        "http_url": "context remote: where plain http reaches the hub, for the redirect check (default http://<host>)",
    }
)
def verify(
    c, context="local", namespace="default", k=None, check=None, skip=None, smoke=False, url=None, http_url=None
):
    """Run the conformance suites; writes reports/<UTC>-<context>/ and reports/latest."""
    _exit(commands.run(commands.verify, context, namespace, k, check, skip, smoke, url, http_url))


@task(
    help={
        "dir": "the reports folder: reports/ (or $HUBHARNESS_REPORTS) by default, or an unzipped CI artifact",
        "open": "open the latest run's report in a browser",
    }
)
def report(c, dir=None, open=False):
    """Draw report.html of every run and reports/index.html again from the runs' summary.json."""
    _exit(commands.run(commands.report, dir, open))


@task(
    auto_shortflags=False,  # -h would be --hold, not help
    help={
        "context": CONTEXT,
        "namespace": NAMESPACE,
        "users": "simulated users (default: values custom.hubharness.load.users, else 5)",
        "ramp": "seconds over which the users start (default: 3 per user)",
        "hold": "seconds each user holds its kernel open before stopping (default 2)",
        "spark": "the cell each user runs is a small SparkSession job",
        "max_failures": "fail if more users than this fail (default 0)",
        "max_p95_spawn": "fail if the 95th percentile spawn takes longer, in seconds (default 60)",
        "url": URL,
    },
)
def load(
    c,
    context="local",
    namespace="default",
    users=None,
    ramp=None,
    hold=None,
    spark=False,
    max_failures=None,
    max_p95_spawn=None,
    url=None,
):
    """N simulated users: login, spawn, kernel, a known answer, hold, stop; load.json and a page of plots."""
    numbers = {"users": users, "ramp": ramp, "hold": hold, "max_failures": max_failures, "max_p95_spawn": max_p95_spawn}
    _exit(commands.run(commands.load, context, namespace, spark, numbers=numbers, url=url))


@task(
    iterable=["values"],
    help={
        "context": CONTEXT,
        "check": f"only these: {CHECKS}",
        "prefix": "namespaces are <prefix>-healthy and <prefix>-<fault>, purged afterwards",
        "values": "extra values file under every deployment (repeatable)",
        "chart_version": "zero-to-jupyterhub chart version",
        "jobs": "namespaces deployed and verified at once (default 2)",
    },
)
def selftest(
    c, context="local", check=None, prefix="selftest", values=None, chart_version=chart.DEFAULT_CHART_VERSION, jobs=None
):
    """Break a deployment once per check's fault; verify must fail that check and pass it when healthy."""
    _exit(commands.run(commands.selftest, context, prefix, values or [], chart_version, check, numbers={"jobs": jobs}))


@task(
    help={
        "context": CONTEXT,
        "namespace": NAMESPACE,
        "every": "from one journey's start to the next, e.g. 30s, 5m, 1h (default 5m)",
        "journey": "light (login, spawn, a kernel cell, stop) or spark (and a small Spark job)",
        "metrics_port": "where Prometheus scrapes /metrics (default 9464; 0: any free port)",
        "metrics_addr": "the address /metrics listens on (default 127.0.0.1; 0.0.0.0 in a pod)",
        "for_": "stop after this long, e.g. 10m (default: until SIGINT/SIGTERM)",
        "url": URL,
    }
)
def watch(
    c,
    context="local",
    namespace="default",
    every=None,
    journey="light",
    metrics_port=None,
    metrics_addr="127.0.0.1",
    for_=None,
    url=None,
):
    """A synthetic user's journey on a schedule, as Prometheus metrics and reports/watch/."""
    numbers = {"every": every, "for_": for_, "metrics_port": metrics_port}
    _exit(commands.run(commands.watch, context, namespace, journey, metrics_addr, numbers=numbers, url=url))


@task(
    help={
        "context": CONTEXT,
        "namespace": NAMESPACE,
        "purge": "also delete homes, database and secrets (on kind: the cluster too, once no release is left in it)",
        "keep_cluster": "with --purge on kind: keep the kind cluster",
    }
)
def remove(c, context="local", namespace="default", purge=False, keep_cluster=False):
    """Stop user servers, hub and proxy; keep user data unless --purge."""
    _exit(commands.run(commands.remove, context, namespace, purge, keep_cluster))


@task(
    name="rotate-password",
    help={
        "context": CONTEXT,
        "namespace": NAMESPACE,
        "admin": "the admin password (where the values route one from a Secret), not the user one",
    },
)
def rotate_password(c, context="local", namespace="default", admin=False):
    """A new login password (HUBHARNESS_NEW_PASSWORD, or generated) in its Secret, the hub
    restarted to read it, users' servers kept; the old refused and the new accepted."""
    _exit(commands.run(commands.rotate_password, context, namespace, admin))


@task(help={"context": CONTEXT, "namespace": NAMESPACE, "json": "machine-readable output", "url": URL})
def status(c, context="local", namespace="default", json=False, url=None):
    """Hub, proxy, users and running servers at a glance."""
    _exit(commands.run(commands.status, context, namespace, json, url))


@task(
    help={
        "context": CONTEXT,
        "namespace": NAMESPACE,
        "to": "archive file or folder (default: ./hubharness-backup-<context>-<namespace>-<UTC>.tar.gz)",
    }
)
def backup(c, context="local", namespace="default", to=None):
    """Back up hub database (online), homes and config into one checked archive."""
    _exit(commands.run(commands.backup, context, namespace, to))


@task(
    name="restore",
    help={
        "context": CONTEXT,
        "namespace": NAMESPACE,
        "from_": "the archive to restore",
        "force": "replace a running deployment's user data (it is moved aside)",
    },
)
def restore_from_archive(c, from_, context="local", namespace="default", force=False):
    """Check an archive, then restore database and homes and restart the hub."""
    _exit(commands.run(commands.restore, context, namespace, from_, force))
