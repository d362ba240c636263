"""The seed's native mode: notebooks run Spark's driver in client mode against the Kubernetes
API (`k8s://https://kubernetes.default.svc`), executors are pods of the notebook image.

The harness's part lives under `custom.sparkNative` in the chart values (the chart keeps
`custom` free): the service account user pods run as, which deploy gives a Role to create,
list and delete pods, services and config maps in the namespace. What a notebook asks of
Spark is the notebook's: `singleuser.extraEnv.PYSPARK_SUBMIT_ARGS` names the master, the
image, the driver's address and its fixed ports (a NetworkPolicy can only open fixed ports).
Deploy refuses, in one line, settings that could never give a notebook executors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import sparkcluster
from . import values as chart_values
from .errors import HarnessError

MASTER_PREFIX = "k8s://"
# Spark's own labels on the executor pods it makes (Kubernetes' Constants: SPARK_ROLE_LABEL)
EXECUTOR_LABELS = {"spark-role": "executor"}
EXECUTOR_LABEL_CONF = "spark.kubernetes.executor.label."
# the driver's ports executors connect to, which must be fixed for a NetworkPolicy to name them
DRIVER_PORTS = ("spark.driver.port", "spark.blockManager.port")


@dataclass(frozen=True)
class Settings:
    """custom.sparkNative, with its defaults."""

    service_account: str = "spark-driver"


@dataclass(frozen=True)
class Driver:
    """What a notebook's driver asks for, from PYSPARK_SUBMIT_ARGS."""

    master: str
    ports: dict[str, int]  # spark.driver.port, spark.blockManager.port → the port
    executor_labels: dict[str, str]  # every executor pod's labels: Spark's and spark.kubernetes.executor.label.*
    namespace: str | None  # spark.kubernetes.namespace; None or a $(VAR): the driver pod's own
    conf: dict[str, str]


def settings(values: dict) -> Settings | None:
    """The native mode the values turn on (custom.sparkNative.enabled), else None."""
    section = chart_values.get(values, "custom.sparkNative")
    if not isinstance(section, dict) or not section.get("enabled"):
        return None
    known = {"enabled", "serviceAccount"}
    unknown = sorted(set(section) - known)
    if unknown:
        raise HarnessError(
            f"unknown values key custom.sparkNative.{unknown[0]}: use {', '.join(sorted(known))} "
            "(see values/spark-native.yaml)"
        )
    account = section.get("serviceAccount", Settings.service_account)
    if not isinstance(account, str) or not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", account):
        raise HarnessError(
            f"custom.sparkNative.serviceAccount is {account!r}: give a Kubernetes name (lower case, digits, '-')"
        )
    return Settings(account)


def driver(values: dict) -> Driver:
    """The driver a notebook starts, as its PYSPARK_SUBMIT_ARGS describe it."""
    conf = sparkcluster.submit_conf(values)
    ports = {}
    for key in DRIVER_PORTS:
        text = conf.get(key, "")
        if text.isdigit() and 0 < int(text) < 65536:
            ports[key] = int(text)
    labels = {
        key.removeprefix(EXECUTOR_LABEL_CONF): value
        for key, value in conf.items()
        if key.startswith(EXECUTOR_LABEL_CONF)
    }
    namespace = conf.get("spark.kubernetes.namespace")
    if namespace and "$(" in namespace:
        namespace = None
    return Driver(conf.get("spark.master", ""), ports, {**labels, **EXECUTOR_LABELS}, namespace, conf)


def refuse_unusable(values: dict) -> Settings | None:
    """The native mode's settings, after refusing in one line what could never give a
    notebook executors; None when the values do not turn it on."""
    native = settings(values)
    if native is None:
        return None
    if sparkcluster.settings(values) is not None:
        raise HarnessError(
            "custom.sparkNative and custom.sparkCluster are both enabled: notebooks are sent to one master; "
            "leave one of values/spark-native.yaml and values/spark-cluster.yaml out"
        )
    where = f"singleuser.extraEnv.{sparkcluster.SUBMIT_ARGS}"
    asked = driver(values)
    if not asked.master.startswith(MASTER_PREFIX):
        raise HarnessError(
            f"custom.sparkNative is enabled but {where} sends notebooks to {asked.master or 'no master (local mode)'}: "
            f"set --master {MASTER_PREFIX}https://kubernetes.default.svc (see values/spark-native.yaml)"
        )
    if asked.conf.get("spark.submit.deployMode", "client") != "client":
        raise HarnessError(f"{where} sets --deploy-mode cluster: a notebook's driver is its kernel, give client")
    if not asked.conf.get("spark.kubernetes.container.image"):
        raise HarnessError(
            f"{where} names no spark.kubernetes.container.image: executors run the notebook image, name it there"
        )
    image = chart_values.get(values, "singleuser.image") or {}
    notebook_image = f"{image.get('name')}:{image.get('tag')}" if isinstance(image, dict) else ""
    if asked.conf["spark.kubernetes.container.image"] != notebook_image:
        raise HarnessError(
            f"{where} runs executors from {asked.conf['spark.kubernetes.container.image']} but notebooks from "
            f"{notebook_image} (singleuser.image): executors must run the notebook's Python and pyspark"
        )
    loose = [key for key in DRIVER_PORTS if key not in asked.ports]
    if loose:
        raise HarnessError(
            f"{where} leaves {' and '.join(loose)} to chance: fix them (e.g. --conf {loose[0]}=29413) so that the "
            "singleuser NetworkPolicy can let executors reach them"
        )
    account = chart_values.get(values, "singleuser.serviceAccountName")
    if account != native.service_account:
        raise HarnessError(
            f"singleuser.serviceAccountName is {account!r} but custom.sparkNative.serviceAccount is "
            f"{native.service_account!r}: user pods must run as the account deploy lets create executors"
        )
    return native
