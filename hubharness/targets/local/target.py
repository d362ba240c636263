"""The `local` target: a real hub, proxy and JupyterLab servers as local processes.

State lives in one directory per namespace (the local analogue of a Kubernetes
namespace): state.json, values.json, runtime.json, secrets/ (0600), logs/,
home/<user>/ and jupyterhub.sqlite.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets as pysecrets
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import psutil
import requests

from ... import authenticators, backup, chart, daytwo, procs, sparkcluster, sparknative, upgrades
from ... import values as chart_values
from ...checks import CLUSTER_OBJECTS, LOCAL, SPARK_CLUSTER, SPARK_NATIVE, Fault
from ...errors import HarnessError
from ...hubapi import HubAPI, hub_healthy, users_of
from ...paths import cache_dir
from ...waiting import wait_until
from ..base import (
    BackupResult,
    Component,
    DeployResult,
    Fact,
    Footprint,
    RemoveResult,
    RestoreResult,
    Status,
    Target,
    Undo,
)
from . import backup as local_backup
from . import classdata, faults, hub_venv, images, parity, spark, supervisor
from .deployment import LocalDeployment
from .state import AUTH_ENV, HUB_SECRET, StateFolder

HUB_CONFIG = Path(__file__).with_name("hub_config.py")
CHP_VERSION = "5.3.0"
DEFAULT_PORT = 8000
START_TIMEOUT = 60
PORT_ATTEMPTS = 3  # a port picked free can be taken before the hub or proxy binds it


class PortTaken(HarnessError):
    """The hub or proxy found its port taken between our pick and its bind."""


@dataclass
class LaunchPlan:
    """One start of the hub (and the proxy, unless it runs), as deploy decided it."""

    chp: list[str]  # configurable-http-proxy's command
    values: dict
    values_files: list[Path]
    chart_version: str
    hub_env: dict[str, str]  # the hub's extra environment: holds secrets, never logged
    ports: dict[str, Any]  # public_port, hub_port, proxy_api_port
    pyspark_path: Path | None  # the notebook image's pyspark, first on the servers' PYTHONPATH
    fingerprint: str  # of everything the hub reads (deploy compares it to skip a restart)
    state: dict  # state.json as it will be written
    hub: psutil.Process | None  # the hub's running supervisor: replaced
    proxy: psutil.Process | None  # the proxy's running supervisor: kept
    restarts: dict[str, int]  # counted so far (one more for what had died): carried over
    hub_bin: Path  # where the chart's JupyterHub is
    move: str = ""  # "upgrade" or "downgrade" from the chart state.json named, else ""
    chart_before: str = ""  # that chart
    moved: str = ""  # what the move did to the database, once done
    classes: Path | None = None  # the class-data archive of the servers' Spark (classdata.py)


def hub_runtime(ports: dict, pyspark_path: Path | None, classes: Path | None = None) -> dict:
    """What hub_config.py reads besides the values: where things are, and what it needs
    of the harness (it imports none of it, so that any JupyterHub's virtualenv runs it)."""
    return {
        **ports,
        # the Spark master's Service as the servers' environment names it, and where it is here
        "services": {sparkcluster.SERVICE_ADDRESS: f"127.0.0.1:{ports['spark_master_port']}"}
        if ports.get("spark_master_port")
        else {},
        "pyspark_path": str(pyspark_path) if pyspark_path else None,
        "java_options": classdata.java_options(classes) if classes else "",
        "image_bin": str(Path(sys.executable).parent),
        "image_bin_in_image": images.IMAGE_BIN,
        "cull_defaults": chart.CULL_DEFAULTS,
        "hub_traits": parity.HUB_TRAITS,
    }


class LocalTarget(StateFolder, Target):
    """Deploys, removes, backs up and restores one namespace's hub and proxy as processes."""

    KIND = LOCAL
    HAS = frozenset({SPARK_CLUSTER})
    PLANTS_MUTANTS = True
    SELFTEST_DEPLOY_ARGS = ("--port", "0")  # a free port each, not the default 8000
    LACKS: ClassVar[Mapping[str, str]] = {
        CLUSTER_OBJECTS: "it reads a Kubernetes cluster's objects (a Namespace, a DaemonSet, an Ingress), which "
        "a deployment of processes on this machine has none of",
        SPARK_NATIVE: "it applies to kubernetes only: native mode runs Spark's executors as pods, and the local "
        "target refuses it (pip's pyspark ships no Kubernetes resource manager); verify and `invoke selftest "
        "--context kind` run it on kind in the nightly, with the real image",
    }

    def __init__(self, namespace: str = "default"):
        super().__init__(namespace)
        self._log_offsets: dict[str, int] = {}  # each component's log size at launch
        self._launched_at = 0.0
        self._password_notes: list[str] = []  # deploy's lines on passwords other than the user one
        self._spark_revived: list[str] = []  # the Spark cluster's components deploy started again
        self._spark_started_anew = False  # the whole cluster, for new settings
        self._stored_passwords_only = False  # restart_hub: the store's passwords, not the environment's

    @classmethod
    def create(cls, context: str, namespace: str, **options: Any) -> LocalTarget:
        return cls(namespace)

    def exists(self) -> bool:
        return self.state_dir.exists()

    # ---- what selftest does to it (hubharness.targets.local.faults) -------------------
    def do_fault(self, fault: Fault) -> Undo | None:
        if LOCAL in fault.ways:
            faults.BY_NAME[fault.ways[LOCAL]](self)
        return None

    def damage_hub_database(self, script: str) -> None:
        faults.damage_hub_database(self, script)

    def delete_homes(self) -> None:
        faults.delete_homes(self)

    def runs_nothing(self) -> bool:
        return faults.runs_nothing(self)

    # ---- prerequisites ------------------------------------------------------------
    @staticmethod
    def _require_java() -> None:
        java_home = os.environ.get("JAVA_HOME")
        if java_home and (Path(java_home) / "bin" / "java").is_file():
            return
        if shutil.which("java") is None:
            raise HarnessError(
                "Java not found: PySpark needs a Java 17 runtime; install it "
                "(apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
            )

    @staticmethod
    def chp_command() -> list[str]:
        """configurable-http-proxy from PATH, else from the project cache (installed on demand)."""
        if shutil.which("node") is None:
            raise HarnessError(
                "Node.js not found: configurable-http-proxy needs it; install Node.js 20 "
                "(apt-get install nodejs npm) and deploy again"
            )
        on_path = shutil.which("configurable-http-proxy")
        if on_path:
            return [on_path]
        prefix = cache_dir() / "npm"
        cached = prefix / "node_modules" / ".bin" / "configurable-http-proxy"
        if not cached.exists():
            npm = shutil.which("npm")
            if npm is None:
                raise HarnessError("npm not found: install npm (apt-get install npm) to fetch configurable-http-proxy")
            print(f"installing configurable-http-proxy {CHP_VERSION} into {prefix} …", file=sys.stderr)
            prefix.mkdir(parents=True, exist_ok=True)
            done = subprocess.run(
                [
                    npm,
                    "install",
                    "--prefix",
                    str(prefix),
                    "--no-audit",
                    "--no-fund",
                    f"configurable-http-proxy@{CHP_VERSION}",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0 or not cached.exists():
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                raise HarnessError(f"npm could not install configurable-http-proxy: {last}")
        return [str(cached)]

    # ---- deploy -------------------------------------------------------------------
    def _prepare_secrets(self, values: dict) -> tuple[dict[str, str], Path, str]:
        """Resolve hub.extraEnv secretKeyRefs like the kubelet; create what the chart would."""
        env: dict[str, str] = {}
        auth_file, origin = self.store.path("urbalurba-secrets"), "stored"
        for name, (secret, key) in chart_values.secret_refs(chart_values.get(values, "hub.extraEnv", {})).items():
            if name in authenticators.GENERATED:  # the login passwords: the environment's, kept, or made
                given = None if self._stored_passwords_only else os.environ.get(name) or None
                value, made = self.store.ensure(secret, key, given=given, generate=authenticators.GENERATED[name])
                if name == AUTH_ENV:
                    auth_file, origin = self.store.path(secret), made
                else:
                    self._password_notes.append(f"{name}: {made}, in {self.store.path(secret)} (key {key})")
            else:
                value = self.store.get(secret, key)
            env[name] = str(value)
        for name, value in chart_values.env_entries(chart_values.get(values, "hub.extraEnv", {})).items():
            if not isinstance(value, dict):
                env[name] = str(value)
            elif "value" in value:
                env[name] = str(value["value"])
        # The chart's managed Secret: cookie secret, proxy token, service tokens.
        # As the chart: hub.cookieSecret and proxy.secretToken when the values give them,
        # else the ones kept from an earlier deploy, else new random ones.
        self.store.ensure(
            HUB_SECRET,
            "hub.config.JupyterHub.cookie_secret",
            given=chart_values.get(values, "hub.cookieSecret") or None,
            generate=lambda: pysecrets.token_hex(32),
        )
        self.store.ensure(
            HUB_SECRET,
            "hub.config.ConfigurableHTTPProxy.auth_token",
            given=chart_values.get(values, "proxy.secretToken") or None,
        )
        for key, service in (chart_values.get(values, "hub.services", {}) or {}).items():
            # as the chart: the token the values give (apiToken, or api_token), else the one
            # kept from an earlier deploy, else a new random one
            given = (service or {}).get("apiToken") or (service or {}).get("api_token")
            self.store.ensure(
                HUB_SECRET, f"hub.services.{key}.apiToken", given=given, generate=lambda: pysecrets.token_hex(32)
            )
        return env, auth_file, origin

    def _refuse_unusable_passwords(self, values: dict) -> None:
        """Before anything is written: the passwords this deploy would give the hub (the
        environment's, else the stored ones; made ones always pass) must pass its
        authenticator's own rules, or a running hub would be replaced by one that cannot start."""
        candidates = {}
        for name, (secret, key) in authenticators.password_refs(values).items():
            if os.environ.get(name):
                candidates[name] = (os.environ[name], "the environment")
            elif stored := self.store.read(secret).get(key):
                candidates[name] = (stored, f"{self.store.path(secret)}")
        authenticators.refuse_passwords(values, candidates)

    def _fingerprint(self, values: dict, env: dict[str, str], ports: dict, hub_bin: Path) -> str:
        """Changes when anything the hub reads or runs on changes; keyed, so it reveals no secret."""
        key = self.store.read(HUB_SECRET)["hub.config.JupyterHub.cookie_secret"].encode()
        config_code = HUB_CONFIG.read_text()  # a harness upgrade that changes it restarts the hub
        payload = json.dumps([values, sorted(env.items()), ports, config_code, str(hub_bin)], sort_keys=True)
        return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()

    def deploy(
        self,
        values_files: list[Path],
        port: int = DEFAULT_PORT,
        chart_version: str | None = None,
        beside: bool = False,
        force: bool = False,
    ) -> DeployResult:
        started_at = time.monotonic()
        chart_version = chart_version or chart.DEFAULT_CHART_VERSION
        chart.hub_version(chart_version)  # an unknown chart is named before its schema is looked for
        values, schema_check = chart_values.load_validated(values_files, chart_version)
        if sparknative.settings(values) is not None:
            raise HarnessError(
                "custom.sparkNative runs Spark's executors as Kubernetes pods, and the local target has no "
                "Kubernetes (pip's pyspark ships no Kubernetes resource manager): deploy it with --context kind, "
                "or leave values/spark-native.yaml out (values/spark-cluster.yaml runs a Spark cluster here)"
            )
        cluster = sparkcluster.refuse_unusable(values)
        daytwo.refuse_unusable(values)
        authenticators.require_hub_for(values, chart_version)
        self._refuse_unusable_passwords(values)
        self._password_notes = []
        self._require_java()
        image = images.mirror(values)  # before anything changes: an image it cannot mirror stops here
        classes = classdata.ensure(spark.spark_home(image.path), image.path, say=lambda line: print(line, flush=True))
        state = self.read_state()
        # The database and homes stay while the chart changes under them (even after a
        # `remove` that kept them), so the move is from the chart that made them.
        move = upgrades.move(self.namespace, state.get("chart"), chart_version, force)
        hub_bin = hub_venv.hub_bin(chart_version, say=lambda line: print(line, flush=True))
        proxy, hub = self.supervisor("proxy"), self.supervisor("hub")
        # Recorded as started, gone without `remove`: its supervisor died with it (the machine
        # restarted, or someone killed it). Starting it again is a restart, counted as the
        # kubelet counts a container's (remove resets the count).
        died = [name for name, sup in (("hub", hub), ("proxy", proxy)) if state.get(name) and sup is None]
        if proxy and port not in (0, state.get("public_port")):
            raise HarnessError(
                f"namespace {self.namespace} is already deployed on port {state['public_port']}: "
                "`invoke remove` first to move it to another port"
            )
        if not proxy and port:
            procs.require_free(port, "proxy-public")
        chp = self.chp_command()

        fresh = not self.state_dir.exists()
        for sub in ("", "logs", "home", "secrets"):
            (self.state_dir / sub).mkdir(parents=True, exist_ok=True)
            os.chmod(self.state_dir / sub, 0o700)
        try:
            hub_env, auth_file, origin = self._prepare_secrets(values)
        except HarnessError:
            if fresh:
                shutil.rmtree(self.state_dir, ignore_errors=True)
            raise

        spark_started = self._ensure_spark(state, cluster, image.path)
        # What died keeps its address, as a pod behind its Service does: user servers and the
        # proxy still call the hub there after it came back.
        kept = {
            name: state[name]
            for name in ("public_port", "hub_port", "proxy_api_port")
            if self._port_still_ours(state.get(name))
        }
        ports = {
            "public_port": state.get("public_port")
            if proxy
            else (port or kept.get("public_port") or procs.free_port()),
            "hub_port": state.get("hub_port") if hub else (kept.get("hub_port") or procs.free_port()),
            "proxy_api_port": state.get("proxy_api_port")
            if proxy
            else (kept.get("proxy_api_port") or procs.free_port()),
            "spark_master_port": (state.get("spark") or {}).get("master_port"),
        }
        fingerprint = self._fingerprint(values, hub_env, ports, hub_bin)
        url = f"http://127.0.0.1:{ports['public_port']}"
        result = DeployResult(
            self.context,
            self.namespace,
            what=f"namespace {self.namespace}",
            url=url,
            secret_origin=origin,
            secret_place=f"{auth_file} (key {AUTH_ENV})",
            action="unchanged",
            details=[*self._password_notes, f"state: {self.state_dir}", image.note],
            not_applicable=parity.not_applicable(values),
            not_enforced=parity.not_enforced(values),
            schema_note=schema_check.warning(),
        )
        if cluster is not None:
            result.details.append(
                f"Spark cluster: master {sparkcluster.SERVICE_ADDRESS} at 127.0.0.1:{ports['spark_master_port']}, "
                f"{cluster.workers} worker(s) of {cluster.worker_cores} core(s) and {cluster.worker_memory}"
            )
        if self._spark_revived:
            result.action, result.revived = "revived", list(self._spark_revived)
        elif self._spark_started_anew:
            result.action = "spark"
        if hub and proxy and state.get("fingerprint") == fingerprint and self._healthy(url):
            if state.get("values_schema") != schema_check.record():  # the schema was had since
                state["values_schema"] = schema_check.record()
                self.write_json(self.state_file, state)
            self._wait_spark(spark_started)
            result.seconds = time.monotonic() - started_at
            return result
        state["values_schema"] = schema_check.record()

        result.action = (
            "started" if not hub else "restarted" if state.get("fingerprint") != fingerprint else "unhealthy"
        )
        result.revived = died + self._spark_revived
        if result.revived:
            result.action = "revived"
        if move:
            result.action = move
        plan = LaunchPlan(
            chp,
            values,
            values_files,
            chart_version,
            hub_env,
            ports,
            image.path,
            fingerprint,
            state,
            hub,
            proxy,
            {name: self.restarts(name) + (name in died) for name in ("hub", "proxy")},
            hub_bin,
            move,
            state.get("chart") or "",
            classes=classes,
        )
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                self._launch(plan)
                break
            except PortTaken:
                if attempt == PORT_ATTEMPTS:
                    self._give_up(["hub"] if proxy else ["hub", "proxy"], spark_started)
                    raise
                # Another process took a port we had picked free: pick again (ours only).
                self._stop_supervisors(["hub"] if proxy else ["hub", "proxy"])
                plan.hub = None
                ports["hub_port"] = procs.free_port()
                if not proxy:
                    ports["proxy_api_port"] = procs.free_port()
                    if not port:
                        ports["public_port"] = procs.free_port()
                plan.fingerprint = self._fingerprint(values, hub_env, ports, hub_bin)
                result.url = f"http://127.0.0.1:{ports['public_port']}"
            except HarnessError:
                self._give_up(["hub"] if proxy else ["hub", "proxy"], spark_started)
                raise
        self._wait_spark(spark_started)
        if move:
            result.moved = (
                f"chart {plan.chart_before} → {chart_version}, JupyterHub {chart.hub_version(plan.chart_before)} → "
                f"{chart.hub_version(chart_version)}"
            )
        if plan.moved:
            result.details.append(f"database: {plan.moved}")
        result.seconds = time.monotonic() - started_at
        return result

    def _ensure_spark(self, state: dict, cluster: sparkcluster.Settings | None, pyspark_path: Path | None) -> float:
        """Start the Spark cluster the values turn on (unless it runs as they say), or stop
        the one they no longer do; records it in `state` and state.json. When it started
        (0.0: nothing was started), for _wait_spark."""
        cluster_of = spark.LocalSparkCluster(self)
        self._spark_revived, self._spark_started_anew = [], False
        if cluster is None:
            self._stop_spark(state)
            return 0.0
        home = spark.spark_home(pyspark_path)
        missing = cluster_of.missing(cluster, home)
        if missing == []:
            # all supervised: deploy waits only for a cluster that is not Ready now (a worker in
            # a crash loop is then said, with its log's last line, as at its first start)
            return 0.0 if cluster_of.ready() else time.time() - 1
        started = time.time()
        # Recorded as started, gone without `remove` (its supervisor died, or was stopped):
        # started again is a restart, as for the hub and proxy.
        restarts = {name: self.restarts(name) + (name in (missing or [])) for name in spark.component_names(state)}

        def supervise(name: str, cmd: list[str], env: dict[str, str]) -> dict:
            return self._supervise(name, cmd, env, restarts.get(name, 0))

        if missing:
            self._spark_revived = missing
            state.update(cluster_of.revive(missing, home, supervise))
        else:
            self._spark_started_anew = True
            state.update(cluster_of.start(cluster, home, supervise, self._stop_supervisors))
        self.write_json(self.state_file, state)
        return started

    def _wait_spark(self, started: float) -> None:
        """Until the cluster this deploy started has every worker registered; one that
        cannot start is stopped (nothing keeps restarting behind the error)."""
        if not started:
            return
        try:
            spark.LocalSparkCluster(self).wait_ready(started)
        except HarnessError:
            self._stop_spark(self.read_state())
            raise

    def _stop_spark(self, state: dict) -> None:
        """Stop the cluster's components and forget it (`state` and state.json)."""
        names = spark.component_names(state)
        if not names:
            return
        self._stop_supervisors(names)
        for name in [*names, "spark"]:
            state.pop(name, None)
            (self.state_dir / "pods" / f"{name}.json").unlink(missing_ok=True)
        self.write_json(self.state_file, state)

    @staticmethod
    def _port_still_ours(port: int | None) -> bool:
        """A port this namespace had that nothing holds now (a taken one: PortTaken picks anew)."""
        return port is not None and port > 0 and not procs.port_in_use(port)

    def _launch(self, plan: LaunchPlan) -> None:
        """Write what the hub reads, start the proxy (unless running) and the hub, wait."""
        state, ports, values = plan.state, plan.ports, plan.values
        self.write_json(self.state_dir / "values.json", values)
        self.write_json(self.state_dir / "runtime.json", hub_runtime(ports, plan.pyspark_path, plan.classes))
        state.update(
            ports,
            namespace=self.namespace,
            context=self.context,
            chart=plan.chart_version,
            values_files=[str(f) for f in plan.values_files],
            fingerprint=plan.fingerprint,
        )
        proxy_token = self.store.get(HUB_SECRET, "hub.config.ConfigurableHTTPProxy.auth_token")
        self._log_offsets = {name: self._log_size(name) for name in ("hub", "proxy")}
        self._launched_at = time.time()
        hidden = {AUTH_ENV, *authenticators.NEW_ENV.values()}  # the hub reads passwords from its Secret only
        base_env = {k: v for k, v in os.environ.items() if k not in hidden}
        base_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{base_env.get('PATH', '')}"
        if not plan.proxy:
            cmd = plan.chp + [
                "--ip",
                "127.0.0.1",
                "--port",
                str(ports["public_port"]),
                "--api-ip",
                "127.0.0.1",
                "--api-port",
                str(ports["proxy_api_port"]),
                "--default-target",
                f"http://127.0.0.1:{ports['hub_port']}",
                "--error-target",
                f"http://127.0.0.1:{ports['hub_port']}/hub/error",
            ]
            state["proxy"] = self._supervise(
                "proxy", cmd, {**base_env, "CONFIGPROXY_AUTH_TOKEN": proxy_token}, plan.restarts["proxy"]
            )
        if plan.hub:
            procs.stop(plan.hub, timeout=supervisor.GRACE + 5)
        if not plan.moved:
            plan.moved = self._carry_database(plan)
        env = {
            **base_env,
            **plan.hub_env,
            "CONFIGPROXY_AUTH_TOKEN": proxy_token,
            "HUBHARNESS_STATE_DIR": str(self.state_dir),
        }
        cmd = [str(plan.hub_bin / "jupyterhub"), "-f", str(HUB_CONFIG)]
        state["hub"] = self._supervise("hub", cmd, env, plan.restarts["hub"])
        state["deployed_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.write_json(self.state_file, state)
        self._wait_healthy(f"http://127.0.0.1:{ports['public_port']}")

    def _carry_database(self, plan: LaunchPlan) -> str:
        """With the old hub stopped, where the chart moves or the database is on another
        schema than the new hub's (an older JupyterHub's, restored from a backup, say):
        back it up, then upgrade its schema as the chart's hub.db.upgrade does (`jupyterhub
        upgrade-db`). Says what it did ('' where there was nothing to do)."""
        db = self.database
        if not db.is_file():
            if not plan.move:
                return ""
            return f"no database file to carry (hub.db.type {chart_values.get(plan.values, 'hub.db.type')})"
        have, head = backup.schema_revision(db), hub_venv.schema_head(plan.hub_bin)
        if not plan.move and have in (None, head):
            return ""
        backups = self.state_dir / "backups"
        backups.mkdir(mode=0o700, exist_ok=True)
        label = f"jupyterhub-{plan.chart_before}" if plan.move else f"jupyterhub-schema-{have}"
        copy = backups / f"{label}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.sqlite"
        checked = backup.snapshot_db(db, copy)
        os.chmod(copy, 0o600)
        if checked != "ok":
            raise HarnessError(f"the hub database fails integrity_check ({checked}): {db}; nothing was changed")
        moved = f"backed up to {copy}"
        if have == head:
            return f"{moved}; schema {head} unchanged"
        done = subprocess.run(
            [str(plan.hub_bin / "jupyterhub"), "upgrade-db", f"--JupyterHub.db_url=sqlite:///{db}"],
            cwd=backups,
            # it runs `alembic` by name: its own virtualenv's
            env={**os.environ, "PATH": f"{plan.hub_bin}{os.pathsep}{os.environ.get('PATH', '')}"},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise HarnessError(f"jupyterhub upgrade-db failed ({last}); the database before it is {copy}")
        return f"{moved}; schema {have} → {head} (jupyterhub upgrade-db)"

    def _supervise(self, name: str, cmd: list[str], env: dict[str, str], restarts: int) -> dict:
        """Start `name` under a supervisor of its own (the local kubelet: restartPolicy
        Always), carrying over the restarts counted so far."""
        (self.state_dir / "pods").mkdir(mode=0o700, exist_ok=True)
        (self.state_dir / "pods" / f"{name}.json").unlink(missing_ok=True)  # the last supervisor's
        command = [
            sys.executable,
            "-I",  # the standard library only: nothing of the harness to import, no path to trust
            supervisor.__file__,
            "--name",
            name,
            "--status",
            str(self.state_dir / "pods" / f"{name}.json"),
            "--log",
            str(self.log(name)),
            "--restarts",
            str(restarts),
            "--backoff",
            os.environ.get("HUBHARNESS_RESTART_BACKOFF", str(supervisor.BACKOFF_START)),
            "--",
            *cmd,
        ]
        return procs.start(command, env, self.state_dir, self.log(f"supervisor-{name}")).to_json()

    def _give_up(self, names: list[str], spark_started: float = 0.0) -> None:
        """A start that failed leaves nothing restarting in a loop behind it (the error
        said why), and no record that would count the next start as a restart; nor a Spark
        cluster this deploy started."""
        if spark_started:
            self._stop_spark(self.read_state())
        self._stop_supervisors(names)
        state = self.read_state()
        for name in names:
            state.pop(name, None)
            (self.state_dir / "pods" / f"{name}.json").unlink(missing_ok=True)
        if state:
            self.write_json(self.state_file, state)

    def _stop_supervisors(self, names: list[str]) -> None:
        """Stop these components and their supervisors (which stop them first, gracefully)."""
        for name in names:
            sup, proc = self.supervisor(name), self.running(name)
            if sup is not None:
                procs.stop(sup, timeout=supervisor.GRACE + 5)
            if proc is not None:
                procs.stop(proc)  # its supervisor was gone, or could not stop it

    def _healthy(self, url: str) -> bool:
        return hub_healthy(url, timeout=2)

    def _log_size(self, name: str) -> int:
        log = self.log(name)
        return log.stat().st_size if log.is_file() else 0

    def _logged_since_launch(self, name: str) -> bytes:
        """What a component wrote to its log since this launch (its restarts' lines too)."""
        log = self.log(name)
        if self._log_size(name) <= self._log_offsets.get(name, 0):
            return b""
        with open(log, "rb") as f:
            f.seek(self._log_offsets.get(name, 0))
            return f.read()

    def _fail_if_dead(self) -> None:
        for name in ("proxy", "hub"):
            exited = (self.pod(name).get("last_exit") or {}).get("at", 0) >= self._launched_at
            if exited or self.supervisor(name) is None:
                # its supervisor may have restarted it already: look at all it logged since launch
                logged = self._logged_since_launch(name)
                if b"Address already in use" in logged or b"EADDRINUSE" in logged:
                    raise PortTaken(f"{name} exited during start: a port is in use (full log: {self.log(name)})")
                last = procs.last_meaningful_line(self.log(name))
                raise HarnessError(f"{name} exited during start: {last} (full log: {self.log(name)})")
        # configurable-http-proxy logs a failed listen and keeps running without its port
        if b"EADDRINUSE" in self._logged_since_launch("proxy"):
            raise PortTaken(f"proxy could not listen: a port is in use (full log: {self.log('proxy')})")

    def _wait_healthy(self, url: str) -> None:
        wait_until(
            f"the hub at {url}/hub/health through the proxy",
            lambda: self._healthy(url),
            START_TIMEOUT,
            fail_fast=self._fail_if_dead,
        )

    # ---- remove -------------------------------------------------------------------
    def remove(self, purge: bool = False) -> RemoveResult:
        if not self.state_dir.exists():
            return RemoveResult(
                f"nothing deployed in namespace {self.namespace} (context local): nothing to remove", removed=False
            )
        stopped_servers = []
        hub = self.running("hub")
        if hub is not None:
            stopped_servers = self._stop_user_servers()
        # the supervisors first, or they would start again what remove stops
        self._stop_supervisors(["hub", "proxy", *spark.component_names(self.read_state())])
        # user servers the hub no longer knew about, and anything they started
        procs.stop_all(self.processes_of_namespace())
        if purge:
            shutil.rmtree(self.state_dir)
            return RemoveResult(f"removed namespace {self.namespace} and all its data ({self.state_dir})")
        state = self.read_state()
        if state:
            for key in ("hub", "proxy", "fingerprint", "spark", *spark.component_names(state)):
                state.pop(key, None)
            self.write_json(self.state_file, state)
        shutil.rmtree(self.state_dir / "pods", ignore_errors=True)  # restart counts start again
        servers = f"stopped {len(stopped_servers)} user server(s); " if stopped_servers else ""
        return RemoveResult(
            f"{servers}stopped hub and proxy of namespace {self.namespace}; kept homes, database "
            f"and secret in {self.state_dir} (`invoke remove --purge` deletes them)"
        )

    def _stop_user_servers(self) -> list[str]:
        try:
            api = self.admin_api()
            users = api.users(state="active")
        except (HarnessError, requests.RequestException):
            return []  # hub unhealthy: its servers are swept by process afterwards
        names = [u["name"] for u in users if u.get("servers")]

        def stop(name: str) -> None:
            """One user's servers; the hub holds each DELETE until the stop is done (seconds
            for a Jupyter server), so the users' stops go side by side."""
            mine = api.clone()
            for server in users_servers(users, name):
                mine.stop_server(name, server)
            try:
                mine.wait_server_stopped(name, timeout=30)
            except HarnessError:
                pass

        if names:
            with ThreadPoolExecutor(max_workers=min(8, len(names))) as pool:
                list(pool.map(stop, names))
        return names

    # ---- status -------------------------------------------------------------------
    def admin_api(self) -> HubAPI:
        state = self.read_state()
        if not state.get("public_port"):
            raise HarnessError(f"nothing deployed in namespace {self.namespace} (context local)")
        return HubAPI(
            f"http://127.0.0.1:{state['public_port']}", self.store.get(HUB_SECRET, "hub.services.hubharness.apiToken")
        )

    def _auth_secret_name(self) -> str:
        return chart_values.auth_secret_ref(self.deployed_values() or {})[0]

    def status(self) -> Status:
        state = self.read_state()
        if not state:
            raise HarnessError(
                f"nothing deployed in namespace {self.namespace} (context local): run `invoke deploy` first"
            )
        url = f"http://127.0.0.1:{state['public_port']}"
        secret_file = self.store.path(self._auth_secret_name())
        processes: dict[str, dict] = {}
        components = []
        for name in ("hub", "proxy"):
            proc = self.running(name)
            ready = proc is not None and (name != "hub" or self._healthy(url))
            processes[name] = {"pid": proc.pid if proc else None, "running": proc is not None}
            if name == "hub":
                processes[name]["healthy"] = ready
            restarts = self.restarts(name)
            detail = f"pid {proc.pid}, {restarts} restart(s)" if proc else self.waiting(name)
            components.append(Component(name, proc is not None, ready, restarts, detail))
        components += spark.components(self)
        status = Status(
            self.context,
            self.namespace,
            chart=state.get("chart"),
            hub_url=url,
            secret=f"{secret_file} (state: {self.state_dir})",
            components=components,
            details={
                "state_dir": str(self.state_dir),
                "deployed_at": state.get("deployed_at"),
                "secret_file": str(secret_file),
                **processes,
            },
        )
        if processes["hub"]["healthy"]:
            try:
                status.users = users_of(self.admin_api())
            except (HarnessError, requests.RequestException) as e:
                status.users_error = str(e)
        return status

    # ---- backup / restore, and what remove leaves behind ------------------------------
    def backup(self, to: Path | None = None) -> BackupResult:
        return local_backup.run_backup(self, to)

    def restore(self, archive: Path, force: bool = False) -> RestoreResult:
        """Stop the hub, swap the archive's database and homes in (the old ones moved
        aside), deploy again as it was, and check the database it now runs on."""
        started = time.monotonic()
        state = self.read_state()
        if not state:
            raise HarnessError(
                f"nothing deployed in namespace {self.namespace} (context local): "
                "run `invoke deploy` first, then restore into it"
            )
        checked, stamp = local_backup.stage(self, archive)
        try:
            occupied = self.user_homes_with_files()
            if self.running("hub") is not None and occupied and not force:
                raise HarnessError(
                    f"namespace {self.namespace} is running with user data ({', '.join(occupied[:5])}): "
                    "restore would replace it; pass --force (the current data is moved aside, not deleted)"
                )
            self.remove(purge=False)
        except BaseException:
            shutil.rmtree(checked.staging, ignore_errors=True)
            raise
        aside = local_backup.swap_in(self, checked, stamp)
        self.deploy(
            [Path(f) for f in state.get("values_files", [])] or chart_values.values_files(self.context),
            port=state.get("public_port") or 0,
            chart_version=state.get("chart") or chart.DEFAULT_CHART_VERSION,
        )
        result = backup.integrity(self.database)
        if result != "ok":
            raise HarnessError(f"restored database fails integrity_check: {result}; the previous data is in {aside}")
        files = checked.manifest["files"]
        return RestoreResult(
            checked.manifest.get("users", []),
            len(files),
            sum(f["size"] for f in files.values()),
            str(aside) if aside else None,
            result,
            time.monotonic() - started,
        )

    def user_data_kept(self, username: str, footprint: Footprint) -> Fact:
        """The user's files in their home, the user in the hub database (read-only), and
        the password's Secret."""
        db, home = self.database, self.state_dir / "home" / username
        files = sorted(p.relative_to(home).as_posix() for p in home.rglob("*") if p.is_file()) if home.is_dir() else []
        known = False
        if db.is_file():
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
            try:
                known = conn.execute("SELECT 1 FROM users WHERE name = ?", (username,)).fetchone() is not None
            finally:
                conn.close()
        name, key = footprint.secret or ("(not known: no footprint of a deployment)", "")
        secret_kept = footprint.secret is not None and bool(self.store.read(name).get(key))
        return Fact(
            bool(files) and known and secret_kept,
            f"{username}'s home holds {len(files)} file(s) ({', '.join(files[:5]) or 'none'}); "
            f"{username} is {'in' if known else 'not in'} the hub database "
            f"({'kept' if db.is_file() else 'gone'}: {db}); secret {name} {'kept' if secret_kept else 'gone'}",
        )

    def footprint(self) -> Footprint:
        values = self.deployed_values()
        return Footprint(tuple(self.ports()), chart_values.auth_secret_ref(values) if values is not None else None)

    def leftovers(self, footprint: Footprint) -> list[str]:
        """What is still here of this namespace: its state dir, processes, listeners."""
        left = []
        if self.state_dir.exists():
            left.append(f"state dir {self.state_dir}")
        left += [f"process {p.pid} ({p.name()})" for p in self.processes_of_namespace()]
        left += [f"a listener on 127.0.0.1:{port}" for port in footprint.ports if procs.port_in_use(port)]
        return left

    def write_password(self, env_name: str, value: str) -> None:
        secret, key = authenticators.password_refs(self.deployed_values() or {})[env_name]
        self.store.put(secret, key, value)

    def restart_hub(self) -> None:
        """deploy again with what was deployed: the hub's environment, read from the store
        anew, changed, so the hub alone starts again (the proxy and servers run on)."""
        state = self.read_state()
        self._stored_passwords_only = True
        try:
            self.deploy(
                [Path(f) for f in state["values_files"]], port=state["public_port"], chart_version=state.get("chart")
            )
        finally:
            self._stored_passwords_only = False

    def password_place(self, secret: str, key: str) -> str:
        return f"{self.store.path(secret)} (key {key})"

    def deployment(self) -> LocalDeployment:
        state = self.read_state()
        if not state or not state.get("hub"):
            raise HarnessError(
                f"nothing deployed in namespace {self.namespace} (context local): run `invoke deploy` first"
            )
        return LocalDeployment(self, state)


def users_servers(users: list[dict], name: str) -> list[str]:
    for user in users:
        if user["name"] == name:
            return list((user.get("servers") or {}).keys())
    return []
