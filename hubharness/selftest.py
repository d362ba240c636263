"""`invoke selftest`: every check shown able to fail, and passing when nothing is broken.

For each fault of the selected checks (hubharness.checks names them, hubharness.faults
defines them) a namespace of its own is deployed, broken, verified and purged; faults
planted in verify's own process only (the mutants of the harness's operations, which act
on verify's scratch namespaces) share a deployment, up to five verified one after
another. One more namespace stays healthy and must pass every selected check. A check is
killed when the healthy run passed it and its fault's run failed it, naming it in
verify's output.
Deploy and verify run as the user runs them (`invoke …` in a subprocess), up to `jobs`
namespaces at once; the purges that clean up are the target's remove, in this process.

Which checks apply, which fault breaks each and whether it can be done is the target's
to say (hubharness.targets: Target.fault_for, why_cannot_do), and the target does it
(Target.do_fault: processes and files on local, the API server on a cluster); a check
whose fault cannot be done there is listed with why, not counted (`unproven`).

On context remote each namespace is a local deployment served behind a TLS front
(hubharness.tlsfront, with a CA of the run's own) and verified by its https URL, with its
credentials in verify's environment as an operator gives them; the TLS checks' faults are
done to the front. That stage composes two targets, which never import each other, so it
lives here.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import authenticators, chart, sparkcluster, sparknative
from . import checks as catalogue
from . import values as chart_values
from .errors import HarnessError
from .faults import BY_NAME, Fault, materialise
from .paths import PROJECT_ROOT, VALUES_DIR
from .report_dir import new_report_dir
from .session import MUTANT_ENV
from .targets import target_class, target_for
from .targets.local import LocalTarget
from .targets.remote.credentials import ENVIRONMENT as REMOTE_CREDENTIALS
from .targets.remote.credentials import FILE_ENV
from .targets.remote.target import CA_BUNDLE_ENV, PREFIX_ENV
from .tlsfront import BROKEN, LOCAL_HOSTS, TestCA, TlsFront

REMOTE_ENVIRONMENT = (*REMOTE_CREDENTIALS, FILE_ENV, CA_BUNDLE_ENV, PREFIX_ENV)

HEALTHY = "healthy"
SHARED = "mutants"  # the namespaces the runs of verify-only faults share (Selftest._shared)
SHARED_AT_MOST = 5  # runs to a shared namespace: two or more lanes pack better beside the others
COMMAND_TIMEOUT = 900  # one deploy or verify; a BAK run deploys three times and spawns three servers


def verify_only(fault: Fault | None) -> bool:
    """A fault planted in verify's own process and nothing else (a mutant of the harness's
    operations on verify's scratch namespaces): the deployment under test stays as it was."""
    return bool(
        fault and fault.mutant and not (fault.overlay or fault.env or fault.files or fault.ways or fault.redeploy)
    )


@dataclass
class Run:
    """One verify: on a namespace of its own, deployed (healthy or with one fault) and
    purged, or on one it shares with other verify-only faults (Selftest._shared)."""

    name: str  # "healthy" or the fault's name (each with the authenticator it needs, if any)
    checks: list[catalogue.Check]
    fault: Fault | None = None
    values: tuple[str, ...] = ()  # --values files of its deployment
    outcomes: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    verify_output: str = ""
    verify_exit: int | None = None
    error: str = ""
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds spent deploying, verifying, …
    report: str = ""

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        """Add the block's seconds to `phase`, so that the report says where a run's time went."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.phases[phase] = round(self.phases.get(phase, 0.0) + time.monotonic() - started, 1)


@dataclass
class Plan:
    """What a selftest will do (Selftest.plan): nothing deployed yet."""

    chosen: list[catalogue.Check]  # the checks it proves
    unproven: list[dict]  # those whose fault cannot be done here, or that this target refuses, with why
    fault_of: dict[str, str]  # check id -> the fault done to break it here
    healthy_runs: dict[tuple[str, ...], Run]  # by the values they deploy
    fault_runs: dict[tuple[str, tuple[str, ...]], Run]  # by (fault, values)


@dataclass
class Result:
    report_dir: Path
    rows: list[dict]
    runs: list[Run]
    seconds: float
    unproven: list[dict] = field(default_factory=list)  # checks whose fault cannot be done here, with why

    @property
    def killed(self) -> int:
        return sum(row["killed"] for row in self.rows)

    @property
    def ok(self) -> bool:
        return bool(self.rows) and self.killed == len(self.rows)


class Selftest:
    def __init__(self, context: str, prefix: str, values: list[str], chart_version: str, jobs: int | None, say=print):
        self.context, self.prefix, self.chart_version = context, prefix, chart_version
        self.target = target_class(context)
        # where the namespaces are deployed: a remote hub is a local one behind a TLS front
        self.behind_front = self.target.KIND == catalogue.REMOTE
        self.deploy_context = "local" if self.behind_front else context
        self.deploy_target = target_class(self.deploy_context)
        self.values = [str(Path(v).resolve()) for v in values]
        # what the target lays over each namespace's values so that they run side by side
        self.side_by_side = tuple(str((VALUES_DIR / f).resolve()) for f in self.deploy_target.SELFTEST_VALUES)
        merged = chart_values.load(chart_values.values_files(self.deploy_context, [Path(v) for v in self.values]))
        # the authenticator the user's values already run (their healthy run proves its checks)
        self._authenticator = authenticators.configured(merged)
        # what the user's values already give the deployment (their healthy run proves its checks)
        self._has = {catalogue.SPARK_CLUSTER} if sparkcluster.settings(merged) else set()
        if sparknative.settings(merged):
            self._has.add(catalogue.SPARK_NATIVE)
        self.jobs = 2 if jobs is None else max(1, jobs)
        self.say = say
        self.lock = threading.Lock()

    # ---- one namespace -------------------------------------------------------------
    def _invoke(self, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "invoke", *args],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def _purge(self, namespace: str, scratch_only: bool = False) -> str:
        """The namespace and its scratch namespaces purged, in this process: cleanup, not a
        command under test (verify's RMV checks prove `remove --purge`). Verify purges its
        scratch namespaces itself, unless its run's fault is a purge that keeps
        (purge-keeps-state) or it was cut short: they are purged here too. Why a purge
        failed, or ""."""
        scratch = [f"{namespace[:50]}-{suffix}" for suffix in ("scratch", "res", "upg")]
        failed = ""
        for ns in scratch if scratch_only else [namespace, *scratch]:
            # kind's: the cluster it made stays for the next namespace
            target = target_for(self.deploy_context, ns, self.deploy_target.SELFTEST_REMOVE_OPTIONS)
            try:
                if target.exists():
                    target.remove(purge=True)
            except Exception as e:  # noqa: BLE001 — said in the run's row; the other namespaces still go
                failed = failed or f"purging {ns} failed: {type(e).__name__}: {e}"
        return failed

    def _deploy_command(self, namespace: str, values_args: list[str]) -> list[str]:
        """`invoke deploy` of one namespace, as the user runs it, with the target's own
        selftest arguments."""
        return [
            *("deploy", "--context", self.deploy_context, "--namespace", namespace),
            *self.deploy_target.SELFTEST_DEPLOY_ARGS,
            *("--chart-version", self.chart_version, *values_args),
        ]

    def _break(self, fault: Fault, namespace: str):
        """Do the fault to the running deployment; what undoes it before the purge, if anything."""
        return target_for(self.deploy_context, namespace).do_fault(fault)

    def _prepare(self, run: Run, work: Path) -> tuple[list[str], dict[str, str]]:
        """The run's values, the fault's overlay and files in its own folder, and its environment."""
        fault = run.fault
        # an operator's own remote credentials and user prefix are for their hub, not ours
        dropped = {*authenticators.GENERATED, MUTANT_ENV, *REMOTE_ENVIRONMENT}
        env = {k: v for k, v in os.environ.items() if k not in dropped}
        args = [arg for path in run.values for arg in ("--values", path)]
        if fault is None:
            return args, env
        fault_args, fault_env = materialise(fault, work, self.deploy_target)
        env.update(fault_env)
        if fault.mutant:
            env[MUTANT_ENV] = fault.mutant
        return args + fault_args, env

    def _run(self, run: Run, work_root: Path, report_dir: Path) -> Run:
        started = time.monotonic()
        namespace = self.namespace_of(run)
        work = work_root / run.name
        work.mkdir(parents=True)
        values_args, env = self._prepare(run, work)
        env["HUBHARNESS_REPORTS"] = str(report_dir / "runs" / run.name)
        deploy_env = {k: v for k, v in env.items() if k != MUTANT_ENV} | self.deploy_target.selftest_env(namespace)
        deploy = self._deploy_command(namespace, values_args)
        undo = None
        try:
            with run.timed("purge"):
                run.error = self._purge(namespace)  # a leftover of an interrupted selftest
            if run.error:
                return run
            with run.timed("deploy"):
                done = self._invoke(deploy, deploy_env)
            if done.returncode != 0:
                run.error = f"deploy failed: {done.stderr.strip()[-400:]}"
                return run
            if run.fault is not None:
                with run.timed("fault"):
                    undo = self._break(run.fault, namespace)
                if run.fault.redeploy:
                    with run.timed("deploy"):
                        done = self._invoke(deploy, deploy_env)
                    if done.returncode != 0:
                        run.error = f"deploy after the fault failed: {done.stderr.strip()[-400:]}"
                        return run
            verify = ["verify", "--context", self.context, "--namespace", namespace]
            if self.behind_front:
                front, by_url = self._behind_front(run.fault, namespace, work)
                undo = front.stop  # a local deployment's fault has nothing to undo (_break)
                verify += ["--url", front.url, "--http-url", front.http_url]
                env = {**env, **by_url}
            self._verify(run, verify, env, report_dir)
            return run
        except subprocess.TimeoutExpired as e:
            run.error = f"timed out after {e.timeout:.0f}s: {' '.join(e.cmd[3:6])}"
            return run
        except Exception as e:  # noqa: BLE001 — a fault that could not be applied is reported, not raised
            run.error = f"{type(e).__name__}: {e}"
            return run
        finally:
            if undo is not None:
                try:
                    with run.timed("fault"):
                        undo()
                except Exception as e:  # noqa: BLE001 — said in the run's row; the purge still goes
                    run.error = run.error or f"undoing the fault failed: {type(e).__name__}: {e}"
            with run.timed("purge"):
                purged = self._purge(namespace)
            run.error = run.error or purged
            run.seconds = time.monotonic() - started
            self._progress(run)

    def _lane(self, lane: list[Run], work_root: Path, report_dir: Path) -> list[Run]:
        if len(lane) == 1 and not verify_only(lane[0].fault):
            return [self._run(lane[0], work_root, report_dir)]
        return self._shared(lane, work_root, report_dir)

    def _verify(self, run: Run, verify: list[str], env: dict[str, str], report_dir: Path) -> None:
        """verify of the run's checks; its outcomes and messages read from its summary.json."""
        with run.timed("verify"):
            done = self._invoke([*verify, "--check", ",".join(c.id for c in run.checks)], env)
        run.verify_exit, run.verify_output = done.returncode, done.stdout + done.stderr
        summary_file = report_dir / "runs" / run.name / "latest" / "summary.json"
        if not summary_file.is_file():
            run.error = f"verify wrote no summary: {done.stderr.strip()[-400:]}"
            return
        run.report = str(summary_file.parent.resolve().relative_to(report_dir))
        for record in json.loads(summary_file.read_text())["checks"]:
            run.outcomes[record["id"]] = record["outcome"]
            run.messages[record["id"]] = record["message"]

    def _shared(self, runs: list[Run], work_root: Path, report_dir: Path) -> list[Run]:
        """Runs whose faults are planted in verify's own process only (mutants: BAK, RES and
        RMV break the harness's operations on verify's scratch namespaces, never the
        deployment under test), verified one after another on one deployment of their
        values; the scratch namespace is purged between them, as each verify would leave
        it."""
        lane = f"{SHARED}-{runs[0].name}"  # the lane's first run names it: unique, and says where it ran
        namespace = self.namespace_of(Run(self._run_name(lane, runs[0].values), []))
        values_args, deploy_env = self._prepare(Run(SHARED, [], values=runs[0].values), work_root)
        deploy_env |= self.deploy_target.selftest_env(namespace)
        deploy = self._deploy_command(namespace, values_args)
        verify = ["verify", "--context", self.context, "--namespace", namespace]
        started = time.monotonic()
        try:
            with runs[0].timed("purge"):
                failed = self._purge(namespace)  # a leftover of an interrupted selftest
            if not failed:
                with runs[0].timed("deploy"):
                    deployed = self._invoke(deploy, deploy_env)
                failed = "" if deployed.returncode == 0 else f"deploy failed: {deployed.stderr.strip()[-400:]}"
        except subprocess.TimeoutExpired as e:
            failed = f"timed out after {e.timeout:.0f}s: deploy"
        try:
            for run in runs:
                run.error = failed
                if not failed:
                    try:
                        (work_root / run.name).mkdir(parents=True)
                        _, env = self._prepare(run, work_root / run.name)
                        env["HUBHARNESS_REPORTS"] = str(report_dir / "runs" / run.name)
                        self._verify(run, verify, env, report_dir)
                    except subprocess.TimeoutExpired as e:
                        run.error = f"timed out after {e.timeout:.0f}s: verify"
                    except Exception as e:  # noqa: BLE001 — reported in the run's row, as _run does
                        run.error = f"{type(e).__name__}: {e}"
                    with run.timed("purge"):
                        run.error = run.error or self._purge(namespace, scratch_only=True)
                run.seconds, started = time.monotonic() - started, time.monotonic()
                self._progress(run)
        finally:
            purged = self._purge(namespace)
            runs[-1].error = runs[-1].error or purged
        return runs

    @staticmethod
    def _behind_front(fault: Fault | None, namespace: str, work: Path) -> tuple[TlsFront, dict[str, str]]:
        """The local deployment served by a TLS front (broken as the fault says, if it is a
        front's), and what an operator gives verify for it: the CA to trust, the password,
        an admin's name and password (the admin's session asks the hub for a token)."""
        local = LocalTarget(namespace).deployment()
        shared = authenticators.configured(local.values) == authenticators.SHARED
        # the faults name verify's users as a local verify names them (everyone-admin)
        env = {"HUBHARNESS_PASSWORD": str(local.auth_password()), PREFIX_ENV: "verify-"}
        if local.admin_users:
            env["HUBHARNESS_ADMIN_USER"] = local.admin_users[0]
            env["HUBHARNESS_ADMIN_PASSWORD"] = str(local.admin_password() if shared else local.auth_password())
        broken = fault.ways.get(catalogue.REMOTE, "") if fault else ""
        if fault and broken and broken not in BROKEN:
            raise HarnessError(f"fault {fault.name}: a TLS front is broken in one of {', '.join(BROKEN)}, not {broken}")
        ca = TestCA(work / "tls")
        cert = ca.issue(
            "front",
            hosts=("wrong.example",) if broken == "wrong-host" else LOCAL_HOSTS,
            expired=broken == "expired",
            untrusted=broken == "untrusted",
        )
        env["HUBHARNESS_CA_BUNDLE"] = str(ca.ca_pem)
        front = TlsFront(local.public_url, cert, work / "tls", redirect=broken != "no-redirect").start()
        return front, env

    def _values_for(self, check: catalogue.Check) -> tuple[str, ...]:
        """The user's values, then what the target lays over every namespace so that they run
        side by side (Target.SELFTEST_VALUES), the values that make the hub run the check's
        authenticator when the user's do not already (values/shared-password.yaml), and those
        that give the deployment what the check needs (values/spark-cluster.yaml)."""
        values = (*self.values, *self.side_by_side)
        if check.authenticator and self._authenticator != check.authenticator:
            values += (str((VALUES_DIR / authenticators.VALUES_FILE[check.authenticator]).resolve()),)
        if check.needs and check.needs not in self._has:
            values += (str((VALUES_DIR / catalogue.NEEDS_VALUES[check.needs]).resolve()),)
        return values

    @staticmethod
    def _run_name(name: str, values: tuple[str, ...]) -> str:
        """A run on another authenticator's values, or on values that give the deployment
        what a check needs, says so in its name (and namespace)."""
        extra = {
            str((VALUES_DIR / f).resolve()): kind
            for kind, f in (*authenticators.VALUES_FILE.items(), *catalogue.NEEDS_VALUES.items())
        }
        kinds = [extra[v] for v in values if v in extra]
        return "-".join([name, *kinds])

    def namespace_of(self, run: Run) -> str:
        """`<prefix>-<run>`, at most 50 characters (its scratch namespaces add up to 8 more,
        under Kubernetes' 63): a longer one is cut and made unique again by a digest."""
        name = f"{self.prefix}-{run.name}"
        if len(name) <= 50:
            return name
        return f"{name[:41].rstrip('-')}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"

    def _progress(self, run: Run) -> None:
        if run.fault is None:
            state = f"{sum(o == 'passed' for o in run.outcomes.values())}/{len(run.checks)} passed"
        else:
            failed = sum(run.outcomes.get(c.id) in ("failed", "timeout") for c in run.checks)
            state = f"{failed}/{len(run.checks)} failed"
        with self.lock:
            self.say(f"  {run.name:<38} {state:<14} {run.seconds:6.1f}s{'  ' + run.error if run.error else ''}")

    def _elsewhere(self, selection: str | None) -> list[dict]:
        """The selection's checks that a deployment could have but this target refuses
        (native Spark's on local), each with why, so that selftest names them rather than
        leaving them out."""
        wanted = {s.strip() for s in (selection or "").split(",") if s.strip()}
        return [
            {"id": check.id, "fault": check.fault, "why": self.target.why_not_applicable(check)}
            for check in catalogue.CATALOGUE
            if check.needs
            and check.needs not in self.target.HAS
            and (not wanted or check.group in wanted or check.id in wanted)
        ]

    # ---- all of it ---------------------------------------------------------------
    def plan(self, selection: str | None = None) -> Plan:
        """What the run will do, from the catalogue and what the target says of each check
        and fault (nothing is deployed): the checks it proves, those it cannot, the runs."""
        selected = catalogue.select(selection, self.target, self.context)
        fault_of = {check.id: self.target.fault_for(check) for check in selected}
        unknown = sorted({name for name in fault_of.values() if name not in BY_NAME})
        if unknown:
            raise HarnessError(f"no fault named {', '.join(unknown)} (hubharness/faults.py)")
        why_not = {check.id: self.target.why_cannot_do(BY_NAME[fault_of[check.id]]) for check in selected}
        unproven = [
            {"id": check.id, "fault": fault_of[check.id], "why": why_not[check.id]}
            for check in selected
            if why_not[check.id]
        ]
        unproven += self._elsewhere(selection)
        chosen = [check for check in selected if not why_not[check.id]]
        if not chosen:
            raise HarnessError(
                f"none of the selected checks has a fault that can be done on context {self.context}: "
                + "; ".join(f"{u['id']}: {u['why']}" for u in unproven[:3])
            )
        # A check for one authenticator is proven on a deployment running it: its healthy
        # baseline and its fault's run get that authenticator's values over the user's.
        by_values: dict[tuple[str, ...], list[catalogue.Check]] = {}
        for check in chosen:
            by_values.setdefault(self._values_for(check), []).append(check)
        healthy_runs = {
            values: Run(self._run_name(HEALTHY, values), found, values=values) for values, found in by_values.items()
        }
        fault_runs: dict[tuple[str, tuple[str, ...]], Run] = {}
        for check in chosen:
            key = (fault_of[check.id], self._values_for(check))
            if key not in fault_runs:
                fault_runs[key] = Run(self._run_name(key[0], key[1]), [], BY_NAME[key[0]], values=key[1])
            fault_runs[key].checks.append(check)
        return Plan(chosen, unproven, fault_of, healthy_runs, fault_runs)

    @staticmethod
    def lanes(plan: Plan) -> list[list[Run]]:
        """The runs in the order the pool takes them, each lane on one namespace: the runs of
        verify-only faults share a deployment of their values (SHARED_AT_MOST to one); every
        other run has its own. Longest first (the healthy runs, the shared ones, then the
        scratch suites' and Spark's), so that the pool packs well."""
        shared: dict[tuple[str, ...], list[Run]] = {}
        for run in plan.fault_runs.values():
            if verify_only(run.fault):
                shared.setdefault(run.values, []).append(run)
        alone = [[run] for run in plan.fault_runs.values() if not verify_only(run.fault)]
        weight = {"BAK": 3, "RMV": 2, "SPK": 2, "LOAD": 2, "RES": 2, "UPG": 2}
        return [
            *([run] for run in plan.healthy_runs.values()),
            *(runs[n : n + SHARED_AT_MOST] for runs in shared.values() for n in range(0, len(runs), SHARED_AT_MOST)),
            *sorted(alone, key=lambda lane: -max(weight.get(c.group, 1) for c in lane[0].checks)),
        ]

    def run(self, selection: str | None = None) -> Result:
        started = time.monotonic()
        plan = self.plan(selection)
        chosen, unproven, fault_of = plan.chosen, plan.unproven, plan.fault_of
        healthy_runs, fault_runs = plan.healthy_runs, plan.fault_runs
        lanes = self.lanes(plan)
        target_for(self.deploy_context, self.prefix).prepare()  # a missing tool stops it before any deploy
        report_dir = new_report_dir("selftest")
        self.say(
            f"selftest: {len(chosen)} check(s), {len(fault_runs)} fault run(s) and {len(healthy_runs)} healthy, "
            f"{self.jobs} at a time; namespaces {self.prefix}-* (context {self.context})"
            + (f"; {len(unproven)} check(s) have no fault that can be done here" if unproven else "")
        )
        with (
            tempfile.TemporaryDirectory(prefix="hubharness-selftest-") as work_root,
            ThreadPoolExecutor(max_workers=self.jobs) as pool,
        ):
            done = [
                run
                for lane in pool.map(lambda lane: self._lane(lane, Path(work_root), report_dir), lanes)
                for run in lane
            ]
        rows = []
        for check in chosen:
            values = self._values_for(check)
            healthy, broken = healthy_runs[values], fault_runs[(fault_of[check.id], values)]
            healthy_outcome = healthy.outcomes.get(check.id, "not run")
            broken_outcome = broken.outcomes.get(check.id, "not run")
            named = check.id in broken.verify_output
            rows.append(
                {
                    "id": check.id,
                    "guards": check.guards,
                    "fault": fault_of[check.id],
                    "fault_does": broken.fault.breaks if broken.fault else "",
                    "healthy_run": healthy.name,
                    "healthy": healthy_outcome,
                    "broken": broken_outcome,
                    "named": named,
                    "killed": healthy_outcome == "passed"
                    and broken_outcome in ("failed", "timeout")
                    and named
                    and broken.verify_exit not in (0, None),
                    # "setup": it failed before its own assertions, in a fixture it needs
                    "failed_in": ("setup" if broken.messages.get(check.id, "").startswith("setup:") else "check")
                    if broken_outcome in ("failed", "timeout")
                    else "",
                    "seconds": round(broken.seconds, 1),
                    "message": broken.error
                    or broken.messages.get(check.id, "")
                    or healthy.error
                    or healthy.messages.get(check.id, ""),
                }
            )
        result = Result(report_dir, rows, done, time.monotonic() - started, unproven)
        self._write(result)
        return result

    def _write(self, result: Result) -> None:
        data = {
            "context": self.context,
            "chart": self.chart_version,
            "values": self.values,
            "jobs": self.jobs,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - result.seconds)),
            "duration": round(result.seconds, 1),
            "killed": result.killed,
            "total": len(result.rows),
            "checks": result.rows,
            "unproven": result.unproven,
            "runs": [
                {
                    "name": r.name,
                    "fault": r.fault.breaks if r.fault else None,
                    "mutant": r.fault.mutant if r.fault else "",
                    "checks": [c.id for c in r.checks],
                    "values": list(r.values),
                    "verify_exit": r.verify_exit,
                    "error": r.error,
                    "seconds": round(r.seconds, 1),
                    "phases": r.phases,
                    "report": r.report,
                }
                for r in result.runs
            ],
        }
        (result.report_dir / "selftest.json").write_text(json.dumps(data, indent=2) + "\n")
        (result.report_dir / "selftest.html").write_text(render_html(data))


def render_html(data: dict) -> str:
    """One self-contained page: the kill ratio, then every check with its fault."""
    e = html.escape
    rows = "\n".join(
        f"<tr class={'killed' if r['killed'] else 'survived'}><td>{e(r['id'])}</td><td>{e(r['guards'])}</td>"
        f"<td>{e(r['fault'])}<br><small>{e(r['fault_does'])}</small></td><td>{e(r['healthy'])}</td>"
        f"<td>{e(r['broken'])} {e(r['failed_in'])}</td><td>{r['seconds']:.1f}</td>"
        f"<td>{'killed' if r['killed'] else 'SURVIVED'}</td><td><small>{e(r['message'][:300])}</small></td></tr>"
        for r in sorted(data["checks"], key=lambda r: r["killed"])
    )
    unproven = "".join(
        f"<li>{e(u['id'])}: {e(u['fault'])} cannot be done here ({e(u['why'])})</li>" for u in data.get("unproven", [])
    )
    if unproven:
        unproven = f"<h2>Not proven on this context</h2><ul>{unproven}</ul>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hubharness selftest: killed {data["killed"]}/{data["total"]}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .3em .5em; text-align: left; vertical-align: top; }}
tr.survived {{ background: #fde8e8; }}
</style></head><body>
<h1>selftest: killed {data["killed"]}/{data["total"]}</h1>
<p>context {e(data["context"])}, chart {e(data["chart"])}, {data["jobs"]} at a time, {data["duration"]:.0f}s,
started {e(data["started"])}. A check is killed when a healthy deployment passes it and its fault makes verify
fail it by name.</p>
<table><tr><th>check</th><th>guards</th><th>fault</th><th>healthy</th><th>broken</th><th>s</th><th></th>
<th>message</th></tr>
{rows}
</table>{unproven}</body></html>
"""


def run(
    context: str,
    prefix: str,
    values: list[str],
    chart_version: str = chart.DEFAULT_CHART_VERSION,
    checks: str | None = None,
    jobs: int | None = None,
    say=print,
) -> Result:
    return Selftest(context, prefix, values, chart_version, jobs, say).run(checks)
