"""A Spark standalone cluster as part of a deployment: its settings and what notebooks ask of it.

The cluster's own settings live under `custom.sparkCluster` in the chart values (the chart
keeps `custom` free for its users, so the schema and helm take them as they are). What a
notebook asks of Spark is the notebook's: `singleuser.extraEnv.PYSPARK_SUBMIT_ARGS`, read by
pyspark when `SparkSession.builder.getOrCreate()` starts its driver, names the master (the
Service `spark-master:7077`) and the executors' size. Deploy refuses, in one line, settings
that could never run a job: no workers, an executor larger than any worker, a master that
does not answer.
"""

from __future__ import annotations

import re
import shlex
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from . import values as chart_values
from .errors import HarnessError

SERVICE = "spark-master"  # the master's Service, as notebooks name it
PORT = 7077  # the master's RPC port behind its Service
SERVICE_ADDRESS = f"{SERVICE}:{PORT}"
SUBMIT_ARGS = "PYSPARK_SUBMIT_ARGS"
SPARK_EXECUTOR_MEMORY_DEFAULT = "1g"  # Spark's own default for spark.executor.memory
# The master's and the workers' own JVMs (SPARK_DAEMON_JAVA_OPTS; never an application's):
# they coordinate and run no task, so the serial GC (what the JVM picks by itself in a pod
# of one CPU) and the first JIT tier only, which halves what a daemon's start costs in CPU
DAEMON_JAVA_OPTS = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1"

_UNITS = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}


def mebibytes(text: str, what: str) -> int:
    """Spark's memory strings (512m, 2g, 1024 = MiB) in MiB; one clear line otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*([kmgt]?)b?\s*", str(text).lower())
    if not match:
        raise HarnessError(f"{what} {text!r} is not a memory size: write it as Spark does, e.g. 512m or 2g")
    return int(int(match.group(1)) * _UNITS[match.group(2) or "m"])


@dataclass(frozen=True)
class Settings:
    """custom.sparkCluster, with its defaults."""

    workers: int = 2
    worker_cores: int = 2
    worker_memory: str = "1g"

    @property
    def worker_memory_mb(self) -> int:
        return mebibytes(self.worker_memory, "custom.sparkCluster.workerMemory")


@dataclass(frozen=True)
class Request:
    """What a notebook's driver asks of the cluster, from its PYSPARK_SUBMIT_ARGS."""

    master: str | None
    executor_memory: str
    executor_cores: int | None
    cores_max: int | None


def settings(values: dict) -> Settings | None:
    """The cluster the values turn on (custom.sparkCluster.enabled), else None."""
    section = chart_values.get(values, "custom.sparkCluster")
    if not isinstance(section, dict) or not section.get("enabled"):
        return None
    known = {"enabled", "workers", "workerCores", "workerMemory"}
    unknown = sorted(set(section) - known)
    if unknown:
        raise HarnessError(
            f"unknown values key custom.sparkCluster.{unknown[0]}: use {', '.join(sorted(known))} "
            "(see values/spark-cluster.yaml)"
        )
    found = Settings(
        workers=_count(section.get("workers", Settings.workers), "workers"),
        worker_cores=_count(section.get("workerCores", Settings.worker_cores), "workerCores"),
        worker_memory=str(section.get("workerMemory", Settings.worker_memory)),
    )
    found.worker_memory_mb  # noqa: B018 — refuses a size Spark would not read, before anything starts
    return found


def _count(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise HarnessError(f"custom.sparkCluster.{key} is {value!r}: give a whole number of at least 1")
    return value


def request(values: dict) -> Request:
    """The master and executor size a notebook's PYSPARK_SUBMIT_ARGS ask for."""
    conf = submit_conf(values)
    master = conf.get("spark.master")
    memory = conf.get("spark.executor.memory", SPARK_EXECUTOR_MEMORY_DEFAULT)
    cores = cores_max = None
    if "spark.executor.cores" in conf:
        cores = _int_setting(conf["spark.executor.cores"], "spark.executor.cores")
    if "spark.cores.max" in conf:
        cores_max = _int_setting(conf["spark.cores.max"], "spark.cores.max")
    return Request(master, memory, cores, cores_max)


def submit_conf(values: dict) -> dict[str, str]:
    """The Spark settings a notebook's PYSPARK_SUBMIT_ARGS give (singleuser.extraEnv), as
    spark-submit reads them: `--conf key=value`, and its own flags, which win."""
    env = chart_values.env_entries(chart_values.get(values, "singleuser.extraEnv", {}))
    raw = env.get(SUBMIT_ARGS)
    if isinstance(raw, dict):
        raw = raw.get("value")
    try:
        given = shlex.split(str(raw)) if raw else []
    except ValueError as e:
        raise HarnessError(f"singleuser.extraEnv.{SUBMIT_ARGS} cannot be read as spark-submit would: {e}") from None
    args = [part for arg in given for part in (arg.split("=", 1) if arg.startswith("--") and "=" in arg else [arg])]
    conf: dict[str, str] = {}
    flags: dict[str, str] = {}  # spark-submit's own flags win over --conf, as spark-submit has it
    for flag, value in zip(args, [*args[1:], ""]):
        if flag in _FLAGS:
            flags[_FLAGS[flag]] = value
        elif flag == "--conf" and "=" in value:
            key, _, setting = value.partition("=")
            conf[key.strip()] = setting.strip()
    conf.update(flags)
    return conf


_FLAGS = {
    "--master": "spark.master",
    "--deploy-mode": "spark.submit.deployMode",
    "--executor-memory": "spark.executor.memory",
    "--executor-cores": "spark.executor.cores",
    "--total-executor-cores": "spark.cores.max",
    "--num-executors": "spark.executor.instances",
}


def _int_setting(text: str, key: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise HarnessError(f"{SUBMIT_ARGS} sets {key}={text}: give a whole number of at least 1")
    return int(text)


def refuse_unusable(values: dict, reachable_here: bool = True) -> Settings | None:
    """The cluster's settings, after refusing in one line what could never run a job.
    `reachable_here`: a master outside the deployment is one this machine reaches (local);
    on a cluster it is the pods that must reach it, which this machine cannot tell."""
    cluster, asked = settings(values), request(values)
    if cluster is None:
        if asked.master and SERVICE_ADDRESS in asked.master:
            raise HarnessError(
                f"singleuser.extraEnv.{SUBMIT_ARGS} names the master {asked.master}, but no Spark cluster is "
                "deployed: turn it on with custom.sparkCluster.enabled (--values values/spark-cluster.yaml)"
            )
        if reachable_here and asked.master and asked.master.startswith("spark://"):
            _require_answer(asked.master)
        return None
    if not asked.master or SERVICE_ADDRESS not in asked.master:
        raise HarnessError(
            f"custom.sparkCluster is enabled but notebooks are not sent to it: set "
            f"singleuser.extraEnv.{SUBMIT_ARGS} to '--master spark://{SERVICE_ADDRESS} … pyspark-shell' "
            "(see values/spark-cluster.yaml)"
        )
    executor_mb = mebibytes(asked.executor_memory, "spark.executor.memory")
    if executor_mb > cluster.worker_memory_mb:
        raise HarnessError(
            f"executors ask for {asked.executor_memory} (spark.executor.memory in {SUBMIT_ARGS}) but every worker "
            f"offers {cluster.worker_memory} (custom.sparkCluster.workerMemory): no executor could start; "
            "give the workers more memory or the executors less"
        )
    if asked.executor_cores and asked.executor_cores > cluster.worker_cores:
        raise HarnessError(
            f"executors ask for {asked.executor_cores} cores (spark.executor.cores) but every worker offers "
            f"{cluster.worker_cores} (custom.sparkCluster.workerCores): no executor could start"
        )
    return cluster


def _require_answer(master: str) -> None:
    """A master outside the deployment must answer before notebooks are sent to it."""
    for address in master.removeprefix("spark://").split(","):
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=5):
                return
        except (OSError, ValueError):
            continue
    raise HarnessError(
        f"the Spark master {master} (singleuser.extraEnv.{SUBMIT_ARGS}) does not answer: start it, "
        "fix the address, or deploy the cluster with values/spark-cluster.yaml"
    )


@dataclass(frozen=True)
class ClusterView:
    """A deployed cluster as the harness reaches it: its settings and the master's web UI,
    whose /json/ (and each worker's) is Spark's own account of workers, apps and executors.
    `read` GETs a web UI's /json/ at an address as Spark gives it: straight where this
    machine reaches it, through the API server's proxy on kubernetes."""

    master_url: str  # as notebooks name it
    master_ui: str  # as Spark's addresses name it
    settings: Settings
    read: Callable[[str, str], dict] = field(default=lambda url, what: read_json(url, what), compare=False, repr=False)

    def master_status(self) -> dict:
        return self.read(f"{self.master_ui}/json/", "the Spark master's status")

    def workers(self) -> list[dict]:
        return list(self.master_status().get("workers", []))

    def executors_by_worker(self, app_id: str) -> dict[str, list[int]]:
        """Worker id → ids of this application's executors running there now."""
        found: dict[str, list[int]] = {}
        for worker in self.workers():
            if worker.get("state") != "ALIVE":
                continue
            status = self.read(f"{worker['webuiaddress']}/json/", f"worker {worker['id']}'s status")
            ids = [e["id"] for e in status.get("executors", []) if e.get("appid") == app_id]
            if ids:
                found[worker["id"]] = ids
        return found

    def app(self, app_id: str) -> dict | None:
        """The application as the master lists it (state RUNNING, WAITING, FINISHED …)."""
        status = self.master_status()
        for app in [*status.get("activeapps", []), *status.get("completedapps", [])]:
            if app.get("id") == app_id:
                return app
        return None


def read_json(url: str, what: str) -> dict:
    """A Spark web UI's /json/: its own account of itself, or one line saying why not."""
    try:
        response = requests.get(url, timeout=10)
    except requests.RequestException as e:
        raise HarnessError(f"{what} cannot be read: {url} does not answer ({type(e).__name__})") from None
    if response.status_code != 200:
        raise HarnessError(f"{what} cannot be read: {url} answered {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise HarnessError(f"{what} cannot be read: {url} did not answer JSON") from None
