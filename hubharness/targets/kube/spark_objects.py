"""The Spark standalone cluster's objects in a namespace, as plain dicts (no API calls here):
the master's Deployment and its Service `spark-master` (7077, and the web UI), and the
workers' Deployment of `workers` replicas, each offering the cores and memory of
custom.sparkCluster. spark.py applies them; these functions only say what they are.

The image is the notebook's (singleuser.image): it ships the Spark its notebooks' pyspark
belongs to (`$SPARK_HOME/bin/spark-class`), so drivers, master, workers and executors run
one Spark and one Python. Labels are the chart's (app, component, release) with the
harness's managed-by, which remove deletes by.
"""

from __future__ import annotations

import hashlib
import json
import shlex

from ... import values as chart_values
from ...errors import HarnessError
from ...sparkcluster import DAEMON_JAVA_OPTS, PORT, SERVICE, Settings

MASTER, WORKER = "spark-master", "spark-worker"
COMPONENTS = (MASTER, WORKER)
UI_PORT = 8080  # the master's web UI (its /json/ is its own account of workers and apps)
WORKER_UI_PORT = 8081
MANAGED_BY = {"app.kubernetes.io/managed-by": "hubharness"}
CONFIG = "hubharness.io/spark-config"  # the pod spec's digest, on the pods of that spec
WORK_DIR = "/tmp/spark-work"  # the executors' folders: an emptyDir of the worker pod
DAEMON_MEMORY_MB = 256  # the master's and a worker's own JVM heap (SPARK_DAEMON_MEMORY)
# Beyond what a worker offers its executors: its own JVM, each executor JVM's off-heap,
# and the Python workers executors start.
WORKER_OVERHEAD_MB = 1024
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


def image_of(values: dict) -> dict:
    """The notebook image the values give (singleuser.image), with its pull policy and the
    pull secrets the chart would give a user pod; one line when the values name none (the
    chart's default image ships no Spark)."""
    name = chart_values.get(values, "singleuser.image.name")
    tag = chart_values.get(values, "singleuser.image.tag")
    if not name or not tag:
        raise HarnessError(
            "custom.sparkCluster runs on the notebook image, and the values name none: set "
            "singleuser.image.name and .tag (values/base.yaml: quay.io/jupyter/pyspark-notebook)"
        )
    secrets = [
        *(chart_values.get(values, "singleuser.image.pullSecrets") or []),
        *(chart_values.get(values, "imagePullSecrets") or []),
    ]
    names = [s["name"] if isinstance(s, dict) else str(s) for s in secrets]
    return {
        "image": f"{name}:{tag}",
        "pullPolicy": chart_values.get(values, "singleuser.image.pullPolicy") or "",
        "pullSecrets": list(dict.fromkeys(names)),
    }


def labels(component: str, release: str) -> dict[str, str]:
    """The chart's labels for a component of the release, and the harness's managed-by."""
    return {"app": "jupyterhub", "component": component, "release": release, **MANAGED_BY}


def selector(component: str, release: str) -> dict[str, str]:
    return {"app": "jupyterhub", "component": component, "release": release}


def label_selector(component: str, release: str) -> str:
    return ",".join(f"{k}={v}" for k, v in selector(component, release).items())


def _spark_class(main: str, *args: str) -> list[str]:
    """The image's spark-class in the foreground (its log on stdout, for `kubectl logs`), as
    the container's first process; $SPARK_HOME is the image's (k8s expands only its own env)."""
    line = shlex.join([main, *args])
    script = f'exec "${{SPARK_HOME:?the image sets no SPARK_HOME: it ships no Spark}}/bin/spark-class" {line}'
    return ["/bin/sh", "-c", script.replace("'$POD_IP'", '"$POD_IP"')]


def _env() -> list[dict]:
    return [
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "SPARK_LOCAL_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "SPARK_DAEMON_MEMORY", "value": f"{DAEMON_MEMORY_MB}m"},
        {"name": "SPARK_DAEMON_JAVA_OPTS", "value": DAEMON_JAVA_OPTS},
    ]


def _pod_spec(container: dict, image: dict, extra_volumes: list[dict] | None = None) -> dict:
    """The pod around one Spark container, run as the chart runs notebooks (uid 1000, gid 100)
    with the chart's container hardening. No Service links: the Service spark-master would
    put SPARK_MASTER_PORT=tcp://… in the environment, which Spark reads as its port."""
    spec: dict = {
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,
        "securityContext": {"runAsUser": 1000, "runAsGroup": 100, "fsGroup": 100, "runAsNonRoot": True},
        "terminationGracePeriodSeconds": 10,
        "containers": [
            {
                **container,
                "image": image["image"],
                **({"imagePullPolicy": image["pullPolicy"]} if image.get("pullPolicy") else {}),
                "env": _env(),
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
            }
        ],
    }
    if image.get("pullSecrets"):
        spec["imagePullSecrets"] = [{"name": name} for name in image["pullSecrets"]]
    if extra_volumes:
        spec["volumes"] = extra_volumes
    return spec


def _deployment(name: str, release: str, replicas: int, spec: dict) -> dict:
    """Recreate: a master or worker changed is replaced, never run beside its old self; the
    pods carry their spec's digest (CONFIG), which deploy waits for."""
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels(name, release)},
        "spec": {
            "replicas": replicas,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector(name, release)},
            "template": {
                "metadata": {"labels": labels(name, release), "annotations": {CONFIG: digest}},
                "spec": spec,
            },
        },
    }


def master_service(release: str) -> dict:
    """`spark-master`: 7077 for drivers and workers, the web UI for the harness (through the
    API server's service proxy)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": SERVICE, "labels": labels(MASTER, release)},
        "spec": {
            "type": "ClusterIP",
            "selector": selector(MASTER, release),
            "ports": [
                {"name": "spark", "port": PORT, "targetPort": "spark", "protocol": "TCP"},
                {"name": "webui", "port": UI_PORT, "targetPort": "webui", "protocol": "TCP"},
            ],
        },
    }


def master_deployment(release: str, image: dict) -> dict:
    """One master, bound to its pod's IP (never two for one Service: Recreate)."""
    container = {
        "name": MASTER,
        "command": _spark_class(MASTER_CLASS, "--host", "$POD_IP", "--port", str(PORT), "--webui-port", str(UI_PORT)),
        "ports": [
            {"name": "spark", "containerPort": PORT, "protocol": "TCP"},
            {"name": "webui", "containerPort": UI_PORT, "protocol": "TCP"},
        ],
        "readinessProbe": {"httpGet": {"path": "/json/", "port": "webui"}, "periodSeconds": 5},
        "resources": {
            "requests": {"cpu": "100m", "memory": f"{DAEMON_MEMORY_MB * 2}Mi"},
            "limits": {"cpu": "1", "memory": f"{DAEMON_MEMORY_MB * 4}Mi"},
        },
    }
    return _deployment(MASTER, release, 1, _pod_spec(container, image))


def worker_deployment(release: str, image: dict, settings: Settings) -> dict:
    """`workers` workers, each offering `workerCores` cores and `workerMemory` to executors.
    Requests stay small (a kind node must place them beside the hub and users' pods); limits
    hold what the worker offers, and its JVMs' overhead."""
    memory = settings.worker_memory_mb
    container = {
        "name": WORKER,
        "command": _spark_class(
            WORKER_CLASS,
            "--host",
            "$POD_IP",
            "--cores",
            str(settings.worker_cores),
            "--memory",
            f"{memory}m",
            "--webui-port",
            str(WORKER_UI_PORT),
            "--work-dir",
            WORK_DIR,
            f"spark://{SERVICE}:{PORT}",
        ),
        "ports": [{"name": "webui", "containerPort": WORKER_UI_PORT, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/json/", "port": "webui"}, "periodSeconds": 5},
        "resources": {
            "requests": {"cpu": "250m", "memory": "512Mi"},
            "limits": {"cpu": str(settings.worker_cores), "memory": f"{memory + WORKER_OVERHEAD_MB}Mi"},
        },
        "volumeMounts": [{"name": "work", "mountPath": WORK_DIR}],
    }
    spec = _pod_spec(container, image, [{"name": "work", "emptyDir": {}}])
    return _deployment(WORKER, release, settings.workers, spec)


def cluster_objects(release: str, image: dict, settings: Settings) -> list[dict]:
    """Every object of the cluster, in the order to apply them (the Service first: workers
    resolve spark-master as they start)."""
    return [master_service(release), master_deployment(release, image), worker_deployment(release, image, settings)]
