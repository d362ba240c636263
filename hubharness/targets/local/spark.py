"""The local Spark standalone cluster: a master and N workers from the notebook image's own
Spark (pyspark's jars, `spark-class …deploy.master.Master` / `…deploy.worker.Worker`),
each a component under the local kubelet (hubharness/targets/local/supervisor.py) as the
hub is: restarted and counted, on the same ports, shown by status, stopped by remove.

The master's RPC port stands for the Service `spark-master:7077`: the hub's config maps that
address in the servers' environment to this one, as a Service name resolves in a pod.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from ... import authenticators, procs
from ...errors import HarnessError
from ...sparkcluster import DAEMON_JAVA_OPTS, Settings, read_json
from ...waiting import wait_until
from ..base import Component
from . import classdata
from .state import StateFolder

MASTER = "spark-master"
READY_TIMEOUT = 180  # three JVMs starting on a small, busy machine
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"

Supervise = Callable[[str, list[str], dict[str, str]], dict]


def worker(n: int) -> str:
    return f"spark-worker-{n}"


def spark_home(pyspark_path: Path | None) -> Path:
    """The notebook image's Spark: the mirrored pyspark, else the harness's own."""
    if pyspark_path is not None:
        return pyspark_path / "pyspark"
    spec = importlib.util.find_spec("pyspark")
    if spec is None or spec.origin is None:
        raise HarnessError("pyspark is not installed in the harness's virtualenv: run ./bootstrap.sh")
    return Path(spec.origin).parent


def component_names(state: dict) -> list[str]:
    """The cluster's components deploy recorded, master first."""
    spark = state.get("spark") or {}
    return [MASTER, *(worker(n) for n in range(1, int(spark.get("workers", 0)) + 1))] if spark else []


class LocalSparkCluster:
    """Starts, waits for and stops one namespace's cluster; its record is state.json's "spark"."""

    def __init__(self, folder: StateFolder):
        self.folder = folder

    def _fingerprint(self, settings: Settings, home: Path) -> str:
        return hashlib.sha256(json.dumps([asdict(settings), str(home)], sort_keys=True).encode()).hexdigest()

    def missing(self, settings: Settings, home: Path) -> list[str] | None:
        """The components of the cluster recorded with these settings whose supervisor is
        gone ([] when all run); None when no cluster with these settings is recorded."""
        state = self.folder.read_state()
        spark = state.get("spark")
        if not spark or "commands" not in spark or spark.get("fingerprint") != self._fingerprint(settings, home):
            return None
        return [name for name in component_names(state) if self.folder.supervisor(name) is None]

    def revive(self, names: list[str], home: Path, supervise: Supervise) -> dict:
        """Start these components again as recorded (same command, same ports), as the
        kubelet starts a pod's lost container; the records to keep in state.json."""
        commands = self.folder.read_state()["spark"]["commands"]
        env = self._environment(home)
        return {name: supervise(name, commands[name], env) for name in names}

    def start(self, settings: Settings, home: Path, supervise: Supervise, stop: Callable[[list[str]], None]) -> dict:
        """Start master and workers (the running ones stopped first); the records to keep
        in state.json. Ports are kept from the last start while nothing else holds them."""
        state = self.folder.read_state()
        stop(component_names(state))
        before = state.get("spark") or {}

        def port(key: str) -> int:
            kept = before.get(key)
            return kept if kept and not procs.port_in_use(kept) else procs.free_port()

        kept_ui = list(before.get("worker_ui_ports") or [])
        worker_ui_ports = [
            kept_ui[n] if n < len(kept_ui) and not procs.port_in_use(kept_ui[n]) else procs.free_port()
            for n in range(settings.workers)
        ]
        master_port, master_ui_port = port("master_port"), port("master_ui_port")
        spark_class = str(home / "bin" / "spark-class")
        commands = {
            MASTER: [
                spark_class,
                MASTER_CLASS,
                "--host",
                "127.0.0.1",
                "--port",
                str(master_port),
                "--webui-port",
                str(master_ui_port),
            ]
        }
        for n in range(1, settings.workers + 1):
            work = self.folder.state_dir / "spark" / worker(n)
            work.mkdir(parents=True, exist_ok=True)
            os.chmod(work, 0o700)
            commands[worker(n)] = [
                spark_class,
                WORKER_CLASS,
                "--host",
                "127.0.0.1",
                "--cores",
                str(settings.worker_cores),
                "--memory",
                f"{settings.worker_memory_mb}m",  # a bare number would be bytes to the worker
                "--webui-port",
                str(worker_ui_ports[n - 1]),
                "--work-dir",
                str(work),
                f"spark://127.0.0.1:{master_port}",
            ]
        record = {
            "workers": settings.workers,
            "fingerprint": self._fingerprint(settings, home),
            "master_port": master_port,
            "master_ui_port": master_ui_port,
            "worker_ui_ports": worker_ui_ports,
            "settings": asdict(settings),
            "commands": commands,
        }
        env = self._environment(home)
        return {"spark": record, **{name: supervise(name, command, env) for name, command in commands.items()}}

    @staticmethod
    def _environment(home: Path) -> dict[str, str]:
        """The image's environment for its Spark daemons: its python first on PATH, every
        address on loopback; no hub secret."""
        env = {k: v for k, v in os.environ.items() if k not in authenticators.GENERATED}
        env.update(
            SPARK_HOME=str(home),
            SPARK_LOCAL_IP="127.0.0.1",
            SPARK_PUBLIC_DNS="127.0.0.1",
            # a port taken before the JVM binds it makes it exit (said by wait_ready), not move on
            # quietly to the next one, where nothing that was told the address would look
            SPARK_DAEMON_JAVA_OPTS=f"{DAEMON_JAVA_OPTS} -Dspark.port.maxRetries=0",
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        )
        # the daemons, and the executors they start in their environment, map the image's
        # Spark classes from its archive (made by deploy for the servers' Spark, the same)
        classes = classdata.archive_path(home)
        if classes is not None and classes.is_file():
            given = env.get("JDK_JAVA_OPTIONS")
            env["JDK_JAVA_OPTIONS"] = " ".join(p for p in (classdata.java_options(classes), given) if p)
        return env

    def master_ui(self) -> str:
        return f"http://127.0.0.1:{self.folder.read_state()['spark']['master_ui_port']}"

    def master_status(self) -> dict | None:
        """The master's own view (its web UI's /json/), or None when it does not answer."""
        try:
            return read_json(f"{self.master_ui()}/json/", "the Spark master's status")
        except HarnessError:
            return None

    def ready(self) -> dict:
        """The master's status when it is ALIVE with every recorded worker registered, else {}."""
        wanted = int(self.folder.read_state()["spark"]["workers"])
        status = self.master_status() or {}
        alive = [w for w in status.get("workers", []) if w.get("state") == "ALIVE"]
        return status if status.get("status") == "ALIVE" and len(alive) >= wanted else {}

    def wait_ready(self, started_at: float) -> dict:
        """Until the master is ALIVE with every worker registered; fails fast on a component
        that exited since `started_at`."""
        state = self.folder.read_state()
        wanted = int(state["spark"]["workers"])

        def dead() -> None:
            for name in component_names(state):
                exited = (self.folder.pod(name).get("last_exit") or {}).get("at", 0) >= started_at
                if exited or self.folder.supervisor(name) is None:
                    last = procs.last_meaningful_line(self.folder.log(name))
                    raise HarnessError(f"{name} exited during start: {last} (full log: {self.folder.log(name)})")

        return wait_until(
            f"the Spark master at {self.master_ui()} with {wanted} worker(s) registered",
            self.ready,
            READY_TIMEOUT,
            fail_fast=dead,
        )


def components(folder: StateFolder) -> list[Component]:
    """The Spark cluster's master and workers, Ready as the master sees them."""
    state = folder.read_state()
    names = component_names(state)
    if not names:
        return []
    status = LocalSparkCluster(folder).master_status() or {}
    alive = {
        w.get("webuiaddress", "").rsplit(":", 1)[-1] for w in status.get("workers", []) if w.get("state") == "ALIVE"
    }
    ports = state["spark"]["worker_ui_ports"]
    out = []
    for n, name in enumerate(names):
        proc = folder.running(name)
        ready = status.get("status") == "ALIVE" if n == 0 else str(ports[n - 1]) in alive
        restarts = folder.restarts(name)
        seen = "ALIVE" if ready else "not registered" if n else f"master {status.get('status', 'not answering')}"
        detail = f"pid {proc.pid}, {seen}, {restarts} restart(s)" if proc else folder.waiting(name)
        out.append(Component(name, proc is not None, proc is not None and ready, restarts, detail))
    return out
