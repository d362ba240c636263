"""The Spark standalone cluster in a namespace, through the API server: its objects
(spark_objects.py) created or replaced, waited for by the chart's labels, deleted; and
Spark's own account of it read through the API server's proxy.

The master's web UI is read at `services/spark-master:8080/proxy/json/`, a worker's at
`pods/<pod>:<port>/proxy/json/` (the pod whose IP the master lists for it): the kubeconfig's
own credentials and the API server's route, no kubectl port-forward to keep alive, and on
any cluster where the context may get services/proxy and pods/proxy. Executors are
processes in the worker pods (standalone mode makes no pods for them): they are listed by
exec in those pods.
"""

from __future__ import annotations

import io
import json
from urllib.parse import urlparse

import urllib3
from kubernetes.client.exceptions import ApiException

from ...errors import HarnessError
from ...sparkcluster import PORT, SERVICE, ClusterView, Settings
from ...waiting import wait_until
from ..base import Component
from .api import fail_if_stuck, validated
from .pods import exec_in, last_line
from .spark_objects import COMPONENTS, CONFIG, MASTER, UI_PORT, WORKER, cluster_objects, image_of, label_selector

READY_TIMEOUT = 300  # pull the notebook image on a node that has none yet, start three JVMs
GONE_TIMEOUT = 120
READ_TIMEOUT = 10
EXECUTOR_CLASS = "org.apache.spark.executor.CoarseGrainedExecutorBackend"
# In a worker pod: the pids of this application's executors launched by these workers.
_EXECUTORS = (
    "import os, sys\n"
    "app, workers = sys.argv[1], set(sys.argv[2:])\n"
    "for pid in (p for p in os.listdir('/proc') if p.isdigit()):\n"
    "    try:\n"
    "        args = open(f'/proc/{pid}/cmdline', 'rb').read().decode(errors='replace').split('\\0')\n"
    "    except OSError:\n"
    "        continue\n"
    f"    if '{EXECUTOR_CLASS}' in args and app in args and workers & set(args):\n"
    "        print(pid)\n"
)


def _is_live(pod) -> bool:
    return pod.metadata.deletion_timestamp is None


def _ready(pod) -> bool:
    conditions = {c.type: c.status for c in (pod.status.conditions or [])} if pod.status else {}
    return bool(pod.status) and pod.status.phase == "Running" and conditions.get("Ready") == "True"


class KubeSparkCluster:
    """One namespace's Spark cluster, as the API server has it."""

    def __init__(self, core, apps, namespace: str, release: str):
        self.core, self.apps, self.namespace, self.release = core, apps, namespace, release

    # ---- objects --------------------------------------------------------------------
    def apply(self, values: dict, settings: Settings) -> None:
        """Create each object, or replace the one there (the Service keeps its cluster IP)."""
        for body in [validated(o) for o in cluster_objects(self.release, image_of(values), settings)]:
            name = body["metadata"]["name"]
            try:
                if body["kind"] == "Service":
                    self.core.create_namespaced_service(self.namespace, body)
                else:
                    self.apps.create_namespaced_deployment(self.namespace, body)
                continue
            except ApiException as e:
                if e.status != 409:
                    raise HarnessError(f"creating {body['kind']} {name} failed: {e.status} {e.reason}") from None
            try:
                if body["kind"] == "Service":
                    there = self.core.read_namespaced_service(name, self.namespace)
                    body["metadata"]["resourceVersion"] = there.metadata.resource_version
                    body["spec"]["clusterIP"] = there.spec.cluster_ip
                    self.core.replace_namespaced_service(name, self.namespace, body)
                else:
                    self.apps.replace_namespaced_deployment(name, self.namespace, body)
            except ApiException as e:
                raise HarnessError(f"replacing {body['kind']} {name} failed: {e.status} {e.reason}") from None

    def present(self) -> bool:
        """Whether any of the cluster's objects or pods is in the namespace."""
        try:
            self.core.read_namespaced_service(SERVICE, self.namespace)
            return True
        except ApiException as e:
            if e.status != 404:
                raise HarnessError(f"reading service {SERVICE} failed: {e.status} {e.reason}") from None
        return any(self.pods(c) for c in COMPONENTS) or any(self._deployment(c) for c in COMPONENTS)

    def _deployment(self, name: str):
        try:
            return self.apps.read_namespaced_deployment(name, self.namespace)
        except ApiException as e:
            if e.status == 404:
                return None
            raise HarnessError(f"reading deployment {name} failed: {e.status} {e.reason}") from None

    def delete(self) -> bool:
        """Delete the Deployments, their pods and the Service, and wait until the pods are
        gone; whether there was anything to delete."""
        if not self.present():
            return False
        for name in COMPONENTS:
            try:
                self.apps.delete_namespaced_deployment(name, self.namespace)
            except ApiException as e:
                if e.status != 404:
                    raise HarnessError(f"deleting deployment {name} failed: {e.status} {e.reason}") from None
            # the ReplicaSets' pods go with them (garbage collection); asked here too, not waited on
            self.core.delete_collection_namespaced_pod(
                self.namespace, label_selector=label_selector(name, self.release)
            )
        try:
            self.core.delete_namespaced_service(SERVICE, self.namespace)
        except ApiException as e:
            if e.status != 404:
                raise HarnessError(f"deleting service {SERVICE} failed: {e.status} {e.reason}") from None
        wait_until(
            f"the Spark cluster's pods in {self.namespace} to go",
            lambda: not any(self.pods(c, live_only=False) for c in COMPONENTS),
            GONE_TIMEOUT,
        )
        return True

    # ---- pods and readiness -----------------------------------------------------------
    def pods(self, component: str, live_only: bool = True) -> list:
        listed = self.core.list_namespaced_pod(
            self.namespace, label_selector=label_selector(component, self.release)
        ).items
        return sorted((p for p in listed if not live_only or _is_live(p)), key=lambda p: p.metadata.name)

    def wait_ready(self, settings: Settings) -> dict:
        """Until the master pod and `workers` worker pods are Ready, then until the master
        says it is ALIVE with `workers` workers ALIVE; at once for a stuck pod."""

        wanted = {}
        for component in COMPONENTS:
            deployment = self._deployment(component)
            if deployment is None:
                raise HarnessError(f"Deployment {component} is not in {self.namespace}: deploy applies it first")
            wanted[component] = (deployment.spec.template.metadata.annotations or {}).get(CONFIG)

        def pods_ready() -> bool:
            """Ready pods of the spec just applied (those of an earlier one are going)."""
            counts = []
            for component in COMPONENTS:
                pods = [
                    p for p in self.pods(component) if (p.metadata.annotations or {}).get(CONFIG) == wanted[component]
                ]
                for pod in pods:
                    fail_if_stuck(pod, f"pod {pod.metadata.name} ({component})")
                counts.append(sum(_ready(p) for p in pods))
            return counts[0] >= 1 and counts[1] >= settings.workers

        wait_until(
            f"the Spark master and {settings.workers} worker pod(s) in {self.namespace} to be Running and Ready",
            pods_ready,
            READY_TIMEOUT,
        )
        view = self.view(settings)

        def registered() -> dict:
            try:
                status = view.master_status()
            except HarnessError:
                return {}
            alive = [w for w in status.get("workers", []) if w.get("state") == "ALIVE"]
            return status if status.get("status") == "ALIVE" and len(alive) >= settings.workers else {}

        return wait_until(
            f"the Spark master ({SERVICE}) to list {settings.workers} worker(s) ALIVE", registered, READY_TIMEOUT
        )

    def components(self, settings: Settings) -> list[Component]:
        """The master and the workers as the chart's components are shown: running, Ready,
        restarts; the workers against the number the values give."""
        out = []
        for component, wanted in ((MASTER, 1), (WORKER, settings.workers)):
            pods = self.pods(component)
            running = sum(bool(p.status) and p.status.phase == "Running" for p in pods)
            ready = sum(_ready(p) for p in pods)
            restarts = sum(s.restart_count or 0 for p in pods for s in (p.status.container_statuses or []))
            deployment = self._deployment(component)
            replicas = deployment.spec.replicas if deployment is not None else 0
            detail = (
                f"{ready} of {wanted} pod(s) Ready ({', '.join(p.metadata.name for p in pods) or 'none'}); "
                f"Deployment {component} {'wants ' + str(replicas) if deployment is not None else 'is gone'}"
            )
            out.append(Component(component, running >= wanted, ready >= wanted, restarts, detail))
        return out

    # ---- Spark's own account, through the API server ------------------------------------
    def view(self, settings: Settings) -> ClusterView:
        return ClusterView(f"spark://{SERVICE}:{PORT}", f"http://{SERVICE}:{UI_PORT}", settings, read=self.read_json)

    def _pod_at(self, address: str) -> str | None:
        """The Spark pod (worker first) whose IP Spark gives for a web UI."""
        for component in (WORKER, MASTER):
            for pod in self.pods(component):
                if pod.status and pod.status.pod_ip == address:
                    return pod.metadata.name
        return None

    def read_json(self, url: str, what: str) -> dict:
        """A Spark web UI's /json/ at an address Spark gives (the Service's name, or a pod's
        IP), read through the API server's proxy for that Service or pod."""
        parsed = urlparse(url)
        if parsed.hostname == SERVICE:
            path = f"services/{SERVICE}:{parsed.port}"
        elif pod := self._pod_at(parsed.hostname or ""):
            path = f"pods/{pod}:{parsed.port}"
        else:
            raise HarnessError(
                f"{what} cannot be read: no Spark pod in {self.namespace} has the address {parsed.hostname}"
            )
        where = f"/api/v1/namespaces/{self.namespace}/{path}/proxy{parsed.path or '/'}"
        api = self.core.api_client
        # the whole path as it is: the client's path parameters would escape its slashes
        request = api.param_serialize(
            "GET", where, header_params={"Accept": "application/json"}, auth_settings=["BearerToken"]
        )
        try:
            response = api.call_api(*request, _request_timeout=READ_TIMEOUT)
            body = response.read()
        except ApiException as e:
            raise HarnessError(f"{what} cannot be read: {where} answered {e.status} {e.reason}") from None
        except urllib3.exceptions.HTTPError as e:
            raise HarnessError(f"{what} cannot be read: {where} does not answer ({type(e).__name__})") from None
        if response.status != 200:
            raise HarnessError(f"{what} cannot be read: {where} answered {response.status} {response.reason}")
        try:
            return json.loads(body)
        except ValueError:
            raise HarnessError(f"{what} cannot be read: {where} did not answer JSON") from None

    def executor_processes(self, app_id: str, workers: list[dict]) -> list[str]:
        """The application's executor processes in the worker pods (one exec per pod IP the
        master lists ALIVE workers at), each said in a few words."""
        by_address: dict[str, list[str]] = {}
        for worker in workers:
            if worker.get("state") == "ALIVE":
                by_address.setdefault(worker["host"], []).append(f"spark://Worker@{worker['host']}:{worker['port']}")
        found = []
        for address, urls in by_address.items():
            pod = self._pod_at(address)
            if pod is None:
                continue
            out = io.BytesIO()
            command = ["python3", "-c", _EXECUTORS, app_id, *urls]
            rc, err = exec_in(self.core, self.namespace, pod, WORKER, command, out)
            if rc != 0:
                raise HarnessError(f"listing the executors in pod {pod} failed: {last_line(err)}")
            found += [f"executor process {pid} of {app_id} in pod {pod}" for pid in out.getvalue().decode().split()]
        return found
