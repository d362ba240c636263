"""The kubernetes and kind targets: the official chart through helm, the Secret and the
ingress through the kubernetes client, readiness by the chart's pod labels; verify and
status read the namespace through the API (kube_deployment.py).

The kind cluster is pytest-kind's KindCluster (the same object the project's real-cluster
test uses), with its kubeconfig kept under the harness's home, not in ~/.kube/config.
Nothing in this module runs against a real cluster on the development machine (it has
none): the project's tests drive it over HTTP against an emulated API server, and the
users' nightly workflow runs it on kind for real. Backup and restore are in kube_backup.py
and kube_restore.py.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets as pysecrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from .. import chart
from .. import values as chart_values
from ..deployment import Fact, Target
from ..errors import HarnessError
from ..hubapi import HubAPI, users_of
from ..paths import PROJECT_ROOT, state_home
from ..waiting import wait_until
from .kube_deployment import user_claims

RELEASE = "jupyterhub"
REPO_NAME = "jupyterhub"
KIND_CLUSTER = "hubharness"
KIND_CONFIG = PROJECT_ROOT / "manifests" / "kind-cluster.yaml"
INGRESS = PROJECT_ROOT / "manifests" / "ingress.yaml"
AUTH_ENV = chart_values.AUTH_ENV
READY_TIMEOUT = 300
POD_GONE_TIMEOUT = 120
NAMESPACE_GONE_TIMEOUT = 300  # volumes are deleted with it
# The Kubernetes API version objects are checked against before they are created
# (kubernetes-validate's schemas; Namespace, Secret and Ingress v1 are stable since 1.19).
KUBE_SCHEMA_VERSION = "1.33"
# Waiting reasons after which a pod will not become Ready by itself.
STUCK = {
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "InvalidImageName",
    "CreateContainerError",
}


@dataclass
class KubeDeployResult:
    context: str
    namespace: str
    secret: str
    secret_origin: str
    schema_note: str

    def lines(self) -> list[str]:
        return [
            f"deployed: release {RELEASE} in namespace {self.namespace} (context {self.context}); hub and proxy are Ready",
            f"  password: {self.secret_origin}, in Secret {self.secret} (never printed)",
        ]


def kubeconfig() -> str:
    """KUBECONFIG as it is now (the client library reads it once, at import)."""
    return os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")


def _run(cmd: list[str], what: str) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise HarnessError(f"{what} failed: {last}")
    return done.stdout


def validated(body: dict) -> dict:
    """An object about to be created, checked (strictly) against the Kubernetes schema."""
    import kubernetes_validate

    try:
        kubernetes_validate.validate(body, KUBE_SCHEMA_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        # A Secret's message could quote its data: name the object only.
        why = "" if body.get("kind") == "Secret" else f": {str(e).splitlines()[0]}"
        raise HarnessError(
            f"{body.get('kind')} {body.get('metadata', {}).get('name')} is not a valid "
            f"Kubernetes {KUBE_SCHEMA_VERSION} object{why}"
        ) from None
    return body


def fail_if_stuck(pod, what: str) -> None:
    """Raise at once for a pod that will not become Ready by itself, saying why."""
    for status in (pod.status.container_statuses or []) if pod.status else []:
        waiting = status.state.waiting if status.state else None
        if waiting is not None and waiting.reason in STUCK:
            raise HarnessError(
                f"{what} is in {waiting.reason}: {(waiting.message or '').strip()[:200]} "
                f"(kubectl -n {pod.metadata.namespace} describe pod {pod.metadata.name})"
            )


def _require(tool: str, how: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise HarnessError(f"{tool} not found: {how}")
    return path


class KubeTarget(Target):
    kind_config = KIND_CONFIG

    def __init__(self, context: str, namespace: str, kind: bool = False):
        self.context = context
        self.namespace = namespace
        self.kind = kind
        self.kube_context = f"kind-{KIND_CLUSTER}" if kind else context
        # kind's kubeconfig stays ours (not ~/.kube/config); ".kind" is no namespace name
        self.kubeconfig = str(state_home() / ".kind" / "kubeconfig") if kind else kubeconfig()

    # ---- clients and tools ------------------------------------------------------------
    def _api_client(self):
        from kubernetes import config

        if self.kind and not Path(self.kubeconfig).is_file():
            raise HarnessError(
                f"kind cluster {KIND_CLUSTER} is not set up here: run `invoke deploy --context kind` first"
            )
        return config.new_client_from_config(config_file=self.kubeconfig, context=self.kube_context)

    def core(self):
        from kubernetes import client

        return client.CoreV1Api(self._api_client())

    def apps(self):
        from kubernetes import client

        return client.AppsV1Api(self._api_client())

    def rbac(self):
        from kubernetes import client

        return client.RbacAuthorizationV1Api(self._api_client())

    def networking(self):
        from kubernetes import client

        return client.NetworkingV1Api(self._api_client())

    def _helm(self, *args: str, what: str) -> str:
        return _run([self.helm, *args, "--kube-context", self.kube_context, "--kubeconfig", self.kubeconfig], what)

    def _releases(self, all_namespaces: bool = False) -> list[str]:
        where = ["--all-namespaces"] if all_namespaces else ["--namespace", self.namespace]
        return self._helm("list", *where, "--short", what="helm list").split()

    def _require_tools(self) -> None:
        self.helm = _require("helm", "install Helm 3 (https://helm.sh/docs/intro/install/) and deploy again")
        if self.kind:
            _require("kind", "install kind (go install sigs.k8s.io/kind@latest) and deploy again")
            _require("docker", "kind needs Docker: install a Docker engine")
            _run(["docker", "info"], "docker info (kind needs a running Docker engine)")

    def kind_cluster(self):
        """pytest-kind's handle on the cluster (its working folder kept under our home)."""
        from pytest_kind import KindCluster

        home = Path(self.kubeconfig).parent
        home.mkdir(parents=True, exist_ok=True)
        with contextlib.chdir(home):  # KindCluster makes ./.pytest-kind/<name>
            return KindCluster(
                KIND_CLUSTER,
                kubeconfig=Path(self.kubeconfig),
                kind_path=Path(shutil.which("kind") or "kind"),
                kubectl_path=Path(shutil.which("kubectl") or "kubectl"),
            )

    def _ensure_kind_cluster(self) -> None:
        """Create the cluster from manifests/kind-cluster.yaml, or reuse it (then export its
        kubeconfig first: it may have been made elsewhere)."""
        if KIND_CLUSTER in _run(["kind", "get", "clusters"], "kind get clusters").split():
            _run(
                ["kind", "export", "kubeconfig", "--name", KIND_CLUSTER, "--kubeconfig", self.kubeconfig],
                "kind export kubeconfig",
            )
        try:
            self.kind_cluster().create(KIND_CONFIG)
        except (subprocess.CalledProcessError, OSError) as e:
            raise HarnessError(
                f"kind create cluster {KIND_CLUSTER} failed ({e}): run `kind create cluster "
                f"--config {KIND_CONFIG}` to see why"
            ) from None

    # ---- deploy -----------------------------------------------------------------------
    def _ensure_namespace(self, core) -> None:
        phase = self._namespace_phase(core)
        if phase is None:
            core.create_namespace(
                validated(
                    {
                        "apiVersion": "v1",
                        "kind": "Namespace",
                        "metadata": {"name": self.namespace, "labels": {"app.kubernetes.io/managed-by": "hubharness"}},
                    }
                )
            )
        elif phase == "Terminating":
            raise HarnessError(f"namespace {self.namespace} is terminating: wait until it is gone, or use another")

    def _ensure_node_port_is_free(self, core, values: dict) -> None:
        """A NodePort is cluster-wide: a second namespace with the same values would make
        helm fail half-way ("provided port is already allocated"). Say so before."""
        from kubernetes.client.exceptions import ApiException

        from .kube_access import node_port

        port = node_port(values)
        if port is None:
            return
        try:
            services = core.list_service_for_all_namespaces().items
        except ApiException as e:
            if e.status == 403:  # may not list cluster-wide: helm will tell
                return
            raise HarnessError(f"listing services failed: {e.status} {e.reason}") from None
        for service in services:
            if service.metadata.namespace == self.namespace:
                continue  # our own proxy-public, from an earlier deploy
            if any(p.node_port == port for p in (service.spec.ports or [])):
                raise HarnessError(
                    f"NodePort {port} is taken by service {service.metadata.name} in namespace "
                    f"{service.metadata.namespace}: deploy with --values setting proxy.service.nodePorts.http "
                    "to a free port (or proxy.service.type: ClusterIP)"
                )

    def _ensure_secret(self, core, name: str, key: str) -> str:
        """The Secret the hub reads its password from; created with a generated (or the
        environment's) password when missing, refused when it lacks the key."""
        from kubernetes.client.exceptions import ApiException

        try:
            secret = core.read_namespaced_secret(name, self.namespace)
        except ApiException as e:
            if e.status != 404:
                raise HarnessError(f"reading secret {name} failed: {e.status} {e.reason}") from None
            value = os.environ.get(AUTH_ENV) or pysecrets.token_urlsafe(24)
            core.create_namespaced_secret(
                self.namespace,
                validated(
                    {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "type": "Opaque",
                        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "hubharness"}},
                        "data": {key: base64.b64encode(value.encode()).decode()},
                    }
                ),
            )
            return "generated" if not os.environ.get(AUTH_ENV) else "environment"
        if not (secret.data or {}).get(key):
            raise HarnessError(
                f"secret {name} in namespace {self.namespace} has no key {key}: add it "
                f"(kubectl -n {self.namespace} edit secret {name}) and deploy again"
            )
        return "stored"

    def _apply_ingress(self, body: dict) -> None:
        from kubernetes.client.exceptions import ApiException

        api = self.networking()
        try:
            api.create_namespaced_ingress(self.namespace, body)
        except ApiException as e:
            if e.status != 409:
                raise HarnessError(f"creating ingress failed: {e.status} {e.reason}") from None
            api.replace_namespaced_ingress(body["metadata"]["name"], self.namespace, body)

    def wait_ready(self, core, component: str) -> None:
        """Until the component's pods are Running and Ready; at once for a stuck one."""

        def ready() -> bool:
            pods = core.list_namespaced_pod(self.namespace, label_selector=f"component={component}").items
            for pod in pods:
                fail_if_stuck(pod, f"pod {pod.metadata.name} ({component})")
                conditions = {c.type: c.status for c in (pod.status.conditions or [])} if pod.status else {}
                if pod.status is None or pod.status.phase != "Running" or conditions.get("Ready") != "True":
                    return False
            return bool(pods)

        wait_until(f"the {component} pod in {self.namespace} to be Running and Ready", ready, READY_TIMEOUT)

    def deploy(
        self,
        values_files: list[Path],
        port: int = 0,
        chart_version: str = chart.DEFAULT_CHART_VERSION,
        beside: bool = False,
    ):
        values, note = chart_values.load_validated(values_files, chart_version)
        ingress = validated(yaml.safe_load(INGRESS.read_text()))  # bad manifests stop us before any change
        self._require_tools()
        if self.kind:
            self._ensure_kind_cluster()
        core = self.core()
        self._ensure_node_port_is_free(core, values)
        self._ensure_namespace(core)
        name, key = chart_values.auth_secret_ref(values)
        origin = self._ensure_secret(core, name, key)
        self._helm("repo", "add", REPO_NAME, chart.CHART_REPO, "--force-update", what="helm repo add")
        self._helm("repo", "update", REPO_NAME, what="helm repo update")
        files = [arg for f in values_files for arg in ("-f", str(f))]
        self._helm(
            "upgrade",
            "--install",
            RELEASE,
            f"{REPO_NAME}/{chart.CHART_NAME}",
            "--version",
            chart_version,
            "--namespace",
            self.namespace,
            *files,
            "--timeout",
            "300s",
            what=f"helm upgrade --install (chart {chart_version})",
        )
        if not beside:  # one host, one ingress: the scratch beside a deployment has none
            self._apply_ingress(ingress)
        # Two stages, as the seed: hub and proxy Running and Ready.
        for component in ("hub", "proxy"):
            self.wait_ready(core, component)
        return KubeDeployResult(self.context, self.namespace, f"{name}/{key}", origin, note)

    def remove(self, purge: bool = False, keep_cluster: bool = False) -> str:
        """helm uninstall (waits for the pods to go); user volumes and the Secret stay unless
        --purge, which deletes the namespace (and waits until it is gone, so that a deploy
        can follow), and on kind the cluster once no release is left in it, unless
        --keep-cluster."""
        if self.kind and not Path(self.kubeconfig).is_file():
            return f"kind cluster {KIND_CLUSTER} is not set up here: nothing to remove"
        self._require_tools()
        releases = self._releases()
        core = self.core()
        if RELEASE not in releases and not (purge and self._namespace_phase(core)):
            return f"nothing deployed in namespace {self.namespace} (context {self.context}): nothing to remove"
        if RELEASE in releases:
            self._helm("uninstall", RELEASE, "--namespace", self.namespace, "--wait", what="helm uninstall")
            self.stop_user_pods(core)
        if not purge:
            return (
                f"removed release {RELEASE} from {self.namespace}; kept the Secret and user volumes "
                "(--purge deletes them)"
            )
        from kubernetes.client.exceptions import ApiException

        try:
            core.delete_namespace(self.namespace)
        except ApiException as e:
            if e.status != 404:
                raise HarnessError(f"deleting namespace {self.namespace} failed: {e.status} {e.reason}") from None
        wait_until(
            f"namespace {self.namespace} to be deleted",
            lambda: self._namespace_phase(core) is None,
            NAMESPACE_GONE_TIMEOUT,
        )
        said = f"removed release {RELEASE} and namespace {self.namespace} with its volumes and secrets"
        # Volumes whose reclaim policy is Retain outlive their claims, holding user data.
        retained = [pv.metadata.name for pv in self._volumes_of_namespace(core)]
        for name in retained:
            try:
                core.delete_persistent_volume(name)
            except ApiException as e:
                if e.status != 404:
                    raise HarnessError(f"deleting persistent volume {name} failed: {e.status} {e.reason}") from None
        if retained:
            said += (
                f"; deleted the retained persistent volume(s) {', '.join(retained)} (with reclaim policy "
                "Retain the storage behind them stays: delete it where your storage lives)"
            )
        if self.kind and not keep_cluster:
            others = self._releases(all_namespaces=True)
            if others:  # another deployment (verify's scratch, a second namespace) still runs there
                return said + f"; kept kind cluster {KIND_CLUSTER}: other releases run in it"
            self.kind_cluster().delete()
            Path(self.kubeconfig).unlink(missing_ok=True)
            said += f"; deleted kind cluster {KIND_CLUSTER} (--keep-cluster keeps it)"
        return said

    def _namespace_phase(self, core) -> str | None:
        """Active, Terminating, or None when there is no such namespace."""
        from kubernetes.client.exceptions import ApiException

        try:
            return core.read_namespace(self.namespace).status.phase
        except ApiException as e:
            if e.status == 404:
                return None
            raise HarnessError(f"reading namespace {self.namespace} failed: {e.status} {e.reason}") from None

    def stop_user_pods(self, core, until_gone: tuple[str, ...] | None = None) -> None:
        """User servers are KubeSpawner's pods, not helm's: delete them, and wait until no
        pod of the release is left (only of the `until_gone` components, if given).
        Their volumes (claim-<user>) stay."""
        selector = f"release={RELEASE}"
        core.delete_collection_namespaced_pod(self.namespace, label_selector=f"{selector},component=singleuser-server")
        what = ", ".join(until_gone) if until_gone else f"release {RELEASE}"
        wait_until(
            f"the pods of {what} in {self.namespace} to go",
            lambda: (
                not [
                    p
                    for p in core.list_namespaced_pod(self.namespace, label_selector=selector).items
                    if until_gone is None or (p.metadata.labels or {}).get("component") in until_gone
                ]
            ),
            POD_GONE_TIMEOUT,
        )

    # ---- verify and status ----------------------------------------------------------------
    def deployment(self):
        from . import helm_release
        from .kube_deployment import KubeDeployment

        release = helm_release.deployed(self.core(), self.namespace, RELEASE)
        if release is None:
            raise HarnessError(
                f"nothing deployed in namespace {self.namespace} (context {self.context}): "
                f"run `invoke deploy --context {self.context}` first"
            )
        return KubeDeployment(self, release)

    def status(self) -> dict:
        deployment = self.deployment()
        name, key = deployment.auth_ref
        info = {
            "context": self.context,
            "namespace": self.namespace,
            "chart": deployment.chart_version,
            "revision": deployment.release.revision,
            "hub_url": None,
            "users": [],
            "components": [vars(c) for c in deployment.components()],
            "secret": f"{name}/{key} in namespace {self.namespace}",
        }
        try:
            info["hub_url"] = deployment.public_url
            info["users"] = users_of(HubAPI(deployment.public_url, deployment.service_token()))
        except (HarnessError, requests.RequestException) as e:
            info["users_error"] = str(e)
        finally:
            deployment.close()
        return info

    # ---- backup and restore ---------------------------------------------------------------
    def backup(self, to=None):
        from .kube_backup import run_backup

        return run_backup(self, to)

    def restore(self, archive, force=False):
        from .kube_restore import run_restore

        return run_restore(self, archive, force)

    # ---- what remove leaves behind (RMV) ----------------------------------------------------
    def ports(self) -> list[int]:
        return []  # nothing listens on this machine for a cluster deployment

    def user_data_kept(self, username: str) -> Fact:
        """The user's volume and the Secret (its files are on the volume: reading them back
        needs a pod, which restore's helpers have)."""
        core = self.core()
        if self._namespace_phase(core) is None:
            return Fact(False, f"namespace {self.namespace} is gone, and its volumes and Secret with it")
        claims = [claim.metadata.name for user, claim in user_claims(core, self.namespace) if user == username]
        name, key = chart_values.auth_secret_ref(chart_values.load(chart_values.values_files(self.context)))
        from kubernetes.client.exceptions import ApiException

        try:
            secret_kept = bool((core.read_namespaced_secret(name, self.namespace).data or {}).get(key))
        except ApiException as e:
            if e.status != 404:
                raise HarnessError(f"reading secret {name} failed: {e.status} {e.reason}") from None
            secret_kept = False
        return Fact(
            bool(claims) and secret_kept,
            f"{username}'s volumes: {', '.join(claims) or 'none'}; secret {name} "
            f"{'kept' if secret_kept else 'gone'} in {self.namespace}",
        )

    def leftovers(self, ports: list[int]) -> list[str]:
        """The namespace's pods and release, and what outlives a namespace: persistent volumes
        its claims were bound to (reclaim policy Retain) and cluster roles and bindings helm
        made for its release."""
        self._require_tools()
        core = self.core()
        left = [
            f"persistent volume {pv.metadata.name} ({pv.spec.persistent_volume_reclaim_policy}, "
            f"{pv.status.phase if pv.status else '?'}) of claim {pv.spec.claim_ref.name}"
            for pv in self._volumes_of_namespace(core)
        ]
        rbac = self.rbac()
        for kind, listed in (
            ("cluster role", rbac.list_cluster_role().items),
            ("cluster role binding", rbac.list_cluster_role_binding().items),
        ):
            left += [
                f"{kind} {o.metadata.name}"
                for o in listed
                if (o.metadata.annotations or {}).get("meta.helm.sh/release-namespace") == self.namespace
            ]
        if self._namespace_phase(core) is None:
            return left
        left += [
            f"pod {p.metadata.name}"
            for p in core.list_namespaced_pod(self.namespace, label_selector=f"release={RELEASE}").items
        ]
        if RELEASE in self._releases():
            left.append(f"helm release {RELEASE}")
        return left

    def _volumes_of_namespace(self, core) -> list:
        return [
            pv
            for pv in core.list_persistent_volume().items
            if pv.spec.claim_ref is not None and pv.spec.claim_ref.namespace == self.namespace
        ]
