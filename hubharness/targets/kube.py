"""The kubernetes and kind targets: the official chart through helm, the Secret and the
ingress through the kubernetes client, readiness by the chart's pod labels.

What runs here is the deploy and remove path; `verify`, backup and restore on these
targets are not implemented yet and say so. Nothing in this module is exercised
against a real cluster on the development machine (it has none): the project's tests
drive it over HTTP against an emulated API server, and the users' nightly runs it
for real.
"""

from __future__ import annotations

import base64
import os
import secrets as pysecrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import chart
from .. import values as chart_values
from ..deployment import Target
from ..errors import HarnessError
from ..paths import PROJECT_ROOT
from ..waiting import wait_until

RELEASE = "jupyterhub"
REPO_NAME = "jupyterhub"
KIND_CLUSTER = "hubharness"
KIND_CONFIG = PROJECT_ROOT / "manifests" / "kind-cluster.yaml"
INGRESS = PROJECT_ROOT / "manifests" / "ingress.yaml"
AUTH_ENV = chart_values.AUTH_ENV
READY_TIMEOUT = 300
# Waiting reasons after which a pod will not become Ready by itself.
STUCK = {"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
         "InvalidImageName", "CreateContainerError"}


@dataclass
class KubeDeployResult:
    context: str
    namespace: str
    secret: str
    secret_origin: str
    schema_note: str

    def lines(self) -> list[str]:
        return [f"deployed: release {RELEASE} in namespace {self.namespace} (context {self.context}); "
                "hub and proxy are Ready",
                f"  password: {self.secret_origin}, in Secret {self.secret} (never printed)"]


def kubeconfig() -> str:
    """KUBECONFIG as it is now (the client library reads it once, at import)."""
    return os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")


def _run(cmd: list[str], what: str) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise HarnessError(f"{what} failed: {last}")
    return done.stdout


def _require(tool: str, how: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise HarnessError(f"{tool} not found: {how}")
    return path


class KubeTarget(Target):
    def __init__(self, context: str, namespace: str, kind: bool = False):
        self.context = context
        self.namespace = namespace
        self.kind = kind
        self.kube_context = f"kind-{KIND_CLUSTER}" if kind else context

    # ---- clients and tools ------------------------------------------------------------
    def _api_client(self):
        from kubernetes import config

        return config.new_client_from_config(config_file=kubeconfig(), context=self.kube_context)

    def core(self):
        from kubernetes import client

        return client.CoreV1Api(self._api_client())

    def networking(self):
        from kubernetes import client

        return client.NetworkingV1Api(self._api_client())

    def _helm(self, *args: str, what: str) -> str:
        return _run([self.helm, *args, "--kube-context", self.kube_context], what)

    def _require_tools(self) -> None:
        self.helm = _require("helm", "install Helm 3 (https://helm.sh/docs/intro/install/) and deploy again")
        if self.kind:
            _require("kind", "install kind (go install sigs.k8s.io/kind@latest) and deploy again")
            _require("docker", "kind needs Docker: install a Docker engine")
            _run(["docker", "info"], "docker info (kind needs a running Docker engine)")

    def _ensure_kind_cluster(self) -> None:
        clusters = _run(["kind", "get", "clusters"], "kind get clusters").split()
        if KIND_CLUSTER not in clusters:
            _run(["kind", "create", "cluster", "--config", str(KIND_CONFIG), "--wait", "120s"],
                 "kind create cluster")

    # ---- deploy -----------------------------------------------------------------------
    def _ensure_namespace(self, core) -> None:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        try:
            ns = core.read_namespace(self.namespace)
        except ApiException as e:
            if e.status != 404:
                raise HarnessError(f"reading namespace {self.namespace} failed: {e.status} {e.reason}") from None
            core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=self.namespace)))
            return
        if ns.status and ns.status.phase == "Terminating":
            raise HarnessError(f"namespace {self.namespace} is terminating: wait until it is gone, or use another")

    def _ensure_secret(self, core, name: str, key: str) -> str:
        """The Secret the hub reads its password from; created with a generated (or the
        environment's) password when missing, refused when it lacks the key."""
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        try:
            secret = core.read_namespaced_secret(name, self.namespace)
        except ApiException as e:
            if e.status != 404:
                raise HarnessError(f"reading secret {name} failed: {e.status} {e.reason}") from None
            value = os.environ.get(AUTH_ENV) or pysecrets.token_urlsafe(24)
            core.create_namespaced_secret(self.namespace, client.V1Secret(
                metadata=client.V1ObjectMeta(name=name, labels={"app.kubernetes.io/managed-by": "hubharness"}),
                type="Opaque", data={key: base64.b64encode(value.encode()).decode()}))
            return "generated" if not os.environ.get(AUTH_ENV) else "environment"
        if not (secret.data or {}).get(key):
            raise HarnessError(
                f"secret {name} in namespace {self.namespace} has no key {key}: add it "
                f"(kubectl -n {self.namespace} edit secret {name}) and deploy again"
            )
        return "stored"

    def _apply_ingress(self) -> None:
        from kubernetes.client.exceptions import ApiException

        body = yaml.safe_load(INGRESS.read_text())
        api = self.networking()
        try:
            api.create_namespaced_ingress(self.namespace, body)
        except ApiException as e:
            if e.status != 409:
                raise HarnessError(f"creating ingress failed: {e.status} {e.reason}") from None
            api.replace_namespaced_ingress(body["metadata"]["name"], self.namespace, body)

    def _pods_ready(self, core, components: list[str]) -> bool:
        for component in components:
            pods = core.list_namespaced_pod(self.namespace, label_selector=f"component={component}").items
            if not pods:
                return False
            for pod in pods:
                for status in (pod.status.container_statuses or []) if pod.status else []:
                    waiting = status.state.waiting if status.state else None
                    if waiting is not None and waiting.reason in STUCK:
                        raise HarnessError(
                            f"pod {pod.metadata.name} ({component}) is in {waiting.reason}: "
                            f"{(waiting.message or '').strip()[:200]} (kubectl -n {self.namespace} "
                            f"describe pod {pod.metadata.name})"
                        )
                conditions = {c.type: c.status for c in (pod.status.conditions or [])} if pod.status else {}
                if pod.status is None or pod.status.phase != "Running" or conditions.get("Ready") != "True":
                    return False
        return True

    def deploy(self, values_files: list[Path], port: int = 0,
               chart_version: str = chart.DEFAULT_CHART_VERSION):
        values, note = chart_values.load_validated(values_files, chart_version)
        self._require_tools()
        if self.kind:
            self._ensure_kind_cluster()
        core = self.core()
        self._ensure_namespace(core)
        name, key = chart_values.auth_secret_ref(values)
        origin = self._ensure_secret(core, name, key)
        self._helm("repo", "add", REPO_NAME, chart.CHART_REPO, "--force-update", what="helm repo add")
        self._helm("repo", "update", REPO_NAME, what="helm repo update")
        files = [arg for f in values_files for arg in ("-f", str(f))]
        self._helm("upgrade", "--install", RELEASE, f"{REPO_NAME}/{chart.CHART_NAME}", "--version",
                   chart_version, "--namespace", self.namespace, *files, "--timeout", "300s",
                   what=f"helm upgrade --install (chart {chart_version})")
        self._apply_ingress()
        # Two stages, as the seed: hub and proxy Running and Ready.
        for component in ("hub", "proxy"):
            wait_until(f"the {component} pod in {self.namespace} to be Running and Ready",
                       lambda c=component: self._pods_ready(core, [c]), READY_TIMEOUT)
        return KubeDeployResult(self.context, self.namespace, f"{name}/{key}", origin, note)

    def remove(self, purge: bool = False) -> str:
        self._require_tools()
        releases = self._helm("list", "--namespace", self.namespace, "--short", what="helm list").split()
        if RELEASE not in releases and not purge:
            return f"nothing deployed in namespace {self.namespace} (context {self.context}): nothing to remove"
        if RELEASE in releases:
            self._helm("uninstall", RELEASE, "--namespace", self.namespace, "--wait", what="helm uninstall")
        core = self.core()
        if purge:
            core.delete_namespace(self.namespace)
            return f"removed release {RELEASE} and namespace {self.namespace} with its volumes and secrets"
        return f"removed release {RELEASE} from {self.namespace}; kept the Secret and user volumes (--purge deletes them)"

    def _not_yet(self, what: str):
        raise HarnessError(f"{what} on context {self.context!r} is not implemented yet: use --context local")

    def backup(self, to=None):
        self._not_yet("backup")

    def restore(self, archive, force=False):
        self._not_yet("restore")

    def deployment(self):
        self._not_yet("verify")

    def status(self):
        self._not_yet("status")

    def ports(self):
        return []

    def user_data_kept(self):
        self._not_yet("remove checks")

    def leftovers(self, ports):
        self._not_yet("remove checks")
