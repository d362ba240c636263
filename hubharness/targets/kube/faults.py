"""Faults done to a kubernetes deployment through its API server, the way they happen on a
cluster: what `invoke selftest --context <kube context>` does to a namespace it deployed
(the kube ways of hubharness.faults, Fault.ways["kube"], beside the faults that are chart
values and apply there as they are), and the primitives the harness's own mutants
(hubharness.mutants) break backup, restore and remove with on a cluster.

Each is done to a namespace of selftest's own, which it purges afterwards. One that would
keep the namespace from ever going (a finalizer) returns how to undo it; selftest undoes
it before the purge. Passwords are read from the Secret inside this process and go only
where the fault puts them, never to a command line.
"""

from __future__ import annotations

import base64
import io
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from kubernetes.client.exceptions import ApiException

from ... import chart
from ...checks import Fault
from ...errors import HarnessError
from ...waiting import wait_until
from ..base import Undo
from . import spark_objects, spark_rbac
from .api import HUB_DB, RELEASE, user_claims, validated
from .deployment import IMAGE_PULLER
from .helm_release import decode, encode
from .pods import exec_in

if TYPE_CHECKING:
    from .target import KubeTarget

ClusterFault = Callable[["KubeTarget"], Undo | None]

# Where a check's own fault is done to local files or processes, the fault done on a
# cluster instead (by the check's id; hubharness.faults names them).
INSTEAD = {
    "NS.state_is_isolated": "foreign-pod-in-namespace",
    "SEC.secret_is_private": "user-pod-mounts-the-secret",
    "SEC.secrets_appear_nowhere_else": "password-in-an-event",
    "RDY.component_is_ready[hub]": "hub-container-restarted",
    "RDY.component_is_ready[proxy]": "proxy-container-restarted",
    "RDY.hub_runs_the_charts_jupyterhub": "release-records-another-chart",
}

FINALIZER = "hubharness.io/selftest-hold"
LABELS = {"app.kubernetes.io/managed-by": "hubharness-selftest"}
RESTART_TIMEOUT = 120  # the kubelet notices the container ended and starts it again


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _pod(name: str, image: str, labels: dict, env: list[dict] | None = None) -> dict:
    """A pod that only waits, in the hub's image (pulled already): a thing in the namespace."""
    container = {"name": "main", "image": image, "command": ["sleep", "3600"], "env": env or []}
    return validated(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {**LABELS, **labels}},
            "spec": {"containers": [container], "restartPolicy": "Never", "terminationGracePeriodSeconds": 1},
        }
    )


def _running_pod(deployment, component: str):
    """The component's pod that runs now (not one being replaced)."""
    pod = deployment.serving_pod(component)
    if pod is None:
        raise HarnessError(f"no running {component} pod in namespace {deployment.namespace}")
    return pod


def _hub_image(deployment) -> str:
    return _running_pod(deployment, "hub").spec.containers[0].image


# ---- the namespace -------------------------------------------------------------------
def namespace_terminating(target: KubeTarget) -> Undo:
    """The namespace is deleted while helm's release record carries a finalizer: it stays
    Terminating (everything else in it goes), as one whose last object waits on a controller."""
    deployment = target.deployment()
    core, release = deployment.core, deployment.release
    core.patch_namespaced_secret(release.record, target.namespace, {"metadata": {"finalizers": [FINALIZER]}})
    core.delete_namespace(target.namespace)

    def undo() -> None:
        try:
            core.patch_namespaced_secret(release.record, target.namespace, {"metadata": {"finalizers": None}})
        except ApiException as e:
            if e.status != 404:
                raise

    return undo


def foreign_pod(target: KubeTarget) -> None:
    """A pod of another release shares the namespace."""
    deployment = target.deployment()
    body = _pod("selftest-squatter", _hub_image(deployment), {"app": "squatter", "release": "selftest-squatter"})
    deployment.core.create_namespaced_pod(target.namespace, body)


# ---- the Secret ----------------------------------------------------------------------
def drop_secret_key(target: KubeTarget) -> None:
    """The Secret the hub's password comes from loses that key (it keeps another)."""
    deployment = target.deployment()
    name, _ = deployment.auth_ref
    secret = deployment.core.read_namespaced_secret(name, target.namespace)
    secret.data = {"SOMETHING_ELSE": _b64("x")}
    deployment.core.replace_namespaced_secret(name, target.namespace, secret)


def user_pod_reads_the_secret(target: KubeTarget) -> None:
    """A pod labelled as a user's server takes the password from the Secret."""
    deployment = target.deployment()
    name, key = deployment.auth_ref
    env = [{"name": key, "valueFrom": {"secretKeyRef": {"name": name, "key": key}}}]
    labels = {"app": "jupyterhub", "component": "singleuser-server", "release": RELEASE}
    body = _pod("jupyter-selftest-eve", _hub_image(deployment), labels, env)
    deployment.core.create_namespaced_pod(target.namespace, body)


def _rotate(which: str) -> ClusterFault:
    def rotate(target: KubeTarget) -> None:
        """The Secret gets a new password; the hub pod is not restarted and keeps the old one."""
        deployment = target.deployment()
        ref = deployment.auth_ref if which == "auth" else deployment.admin_ref
        if ref is None:
            raise HarnessError(f"namespace {target.namespace} routes no {which} password from a Secret")
        name, key = ref
        deployment.core.patch_namespaced_secret(
            name, target.namespace, {"data": {key: _b64(secrets.token_urlsafe(36))}}
        )

    return rotate


rotate_auth_password = _rotate("auth")
rotate_admin_password = _rotate("admin")


def password_in_an_event(target: KubeTarget) -> None:
    """An Event about the hub pod carries the password (a controller that echoes what it read)."""
    deployment = target.deployment()
    hub = _running_pod(deployment, "hub")
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "selftest-leak", "labels": LABELS},
        "involvedObject": {"kind": "Pod", "name": hub.metadata.name, "namespace": target.namespace},
        "reason": "SelftestFault",
        "type": "Warning",
        "message": f"login attempt with password={deployment.auth_password()}",
    }
    deployment.core.create_namespaced_event(target.namespace, validated(event))


# ---- the pods ------------------------------------------------------------------------
def _restart(component: str, container: str) -> ClusterFault:
    def restart(target: KubeTarget) -> None:
        """The container's first process is ended (SIGTERM): the kubelet starts it again, and
        counts the restart."""
        deployment = target.deployment()
        pod = _running_pod(deployment, component)
        core = deployment.core

        def restarts() -> int:
            now = core.read_namespaced_pod(pod.metadata.name, target.namespace)
            return sum(s.restart_count for s in now.status.container_statuses or [] if s.name == container)

        before = restarts()
        try:
            exec_in(core, target.namespace, pod.metadata.name, container, ["sh", "-c", "kill 1"], io.BytesIO())
        except HarnessError as e:
            if "refused" in str(e):
                raise
            # the stream ends with the container: how it ended is read from the pod below

        def restarted() -> bool:
            return restarts() > before

        wait_until(f"the {component} pod's {container} container to restart", restarted, RESTART_TIMEOUT)

    return restart


restart_hub = _restart("hub", "hub")
restart_proxy = _restart("proxy", "chp")


# ---- what else the chart made --------------------------------------------------------
def record_another_chart(target: KubeTarget) -> None:
    """helm's release record names a chart whose JupyterHub is not the one the hub runs."""
    deployment = target.deployment()
    core, release = deployment.core, deployment.release
    secret = core.read_namespaced_secret(release.record, target.namespace)
    body = decode(secret.data["release"])
    running = chart.hub_version(release.chart_version)
    body["chart"]["metadata"]["version"] = next(v for v, hub in chart.HUB_VERSION_OF_CHART.items() if hub != running)
    core.patch_namespaced_secret(release.record, target.namespace, {"data": {"release": encode(body)}})


def ingress_points_elsewhere(target: KubeTarget) -> None:
    """The Ingress sends its host to the hub's Service instead of proxy-public."""
    api = target.networking()
    ingresses = api.list_namespaced_ingress(target.namespace).items
    if not ingresses:
        raise HarnessError(f"no Ingress in namespace {target.namespace}")
    ingress = ingresses[0]
    for rule in ingress.spec.rules or []:
        for path in rule.http.paths:
            path.backend.service.name = "hub"
    api.replace_namespaced_ingress(ingress.metadata.name, target.namespace, ingress)


def delete_spark_driver_role(target: KubeTarget) -> None:
    """The Role deploy made for native Spark's driver is deleted (its binding stays, naming
    nothing): the service account may no longer make executor pods."""
    try:
        target.rbac().delete_namespaced_role(spark_rbac.ROLE, target.namespace)
    except ApiException as e:
        raise HarnessError(f"deleting Role {spark_rbac.ROLE} in {target.namespace} failed: {e.status} {e.reason}")


UNPULLABLE = "registry.invalid/hubharness/no-such-image:0"  # .invalid never resolves (RFC 2606)
PULLER_INIT = "image-pull-singleuser"  # its init container that pulls the notebook image


def image_puller_pull_backoff(target: KubeTarget) -> None:
    """The continuous image puller is told to pull an image no registry has: its pods are
    made again and stay in ImagePullBackOff, as with a typo in singleuser.image."""
    apps = target.apps()
    patch = {"spec": {"template": {"spec": {"initContainers": [{"name": PULLER_INIT, "image": UNPULLABLE}]}}}}
    try:
        apps.patch_namespaced_daemon_set(IMAGE_PULLER, target.namespace, patch)
    except ApiException as e:
        raise HarnessError(
            f"no DaemonSet {IMAGE_PULLER} in {target.namespace} ({e.status}): is prePuller.continuous enabled?"
        ) from None


# ---- the Spark standalone cluster ------------------------------------------------------
def spark_worker_down(target: KubeTarget) -> None:
    """The workers' Deployment is scaled one down: a worker pod goes for good, as a node lost
    with no room to place it again; waited for until its pod is gone."""
    deployment = target.deployment()
    apps = target.apps()
    try:
        workers = apps.read_namespaced_deployment(spark_objects.WORKER, target.namespace)
    except ApiException as e:
        raise HarnessError(
            f"no Deployment {spark_objects.WORKER} in {target.namespace} ({e.status}): is the Spark cluster deployed?"
        ) from None
    wanted = max(0, (workers.spec.replicas or 0) - 1)
    apps.patch_namespaced_deployment_scale(spark_objects.WORKER, target.namespace, {"spec": {"replicas": wanted}})
    selector = spark_objects.label_selector(spark_objects.WORKER, deployment.release.name)
    wait_until(
        f"the {spark_objects.WORKER} pods in {target.namespace} to be {wanted}",
        lambda: len(deployment.core.list_namespaced_pod(target.namespace, label_selector=selector).items) == wanted,
        RESTART_TIMEOUT,
    )


BY_NAME: dict[str, ClusterFault] = {
    "namespace_terminating": namespace_terminating,
    "foreign_pod": foreign_pod,
    "drop_secret_key": drop_secret_key,
    "user_pod_reads_the_secret": user_pod_reads_the_secret,
    "rotate_auth_password": rotate_auth_password,
    "rotate_admin_password": rotate_admin_password,
    "password_in_an_event": password_in_an_event,
    "restart_hub": restart_hub,
    "restart_proxy": restart_proxy,
    "record_another_chart": record_another_chart,
    "ingress_points_elsewhere": ingress_points_elsewhere,
    "delete_spark_driver_role": delete_spark_driver_role,
    "spark_worker_down": spark_worker_down,
    "image_puller_pull_backoff": image_puller_pull_backoff,
}


IN_POD_DIR = "/tmp/hubharness-fault"  # where a user pod gets a fault's files


def _files_in_pod(files: Mapping[str, str], folder: str) -> str:
    """An overlay whose postStart hook writes the fault's files into the user's pod, under
    folder (the notebook image's python3 writes them; their text travels base64)."""
    encoded = {f"{folder}/{name}": base64.b64encode(text.encode()).decode() for name, text in files.items()}
    script = (
        "import base64, os\n"
        f"for path, data in {encoded!r}.items():\n"
        "    os.makedirs(os.path.dirname(path), exist_ok=True)\n"
        "    open(path, 'wb').write(base64.b64decode(data))\n"
    )
    hook = {"postStart": {"exec": {"command": ["python3", "-c", script]}}}
    return yaml.safe_dump({"singleuser": {"lifecycleHooks": hook}}, sort_keys=False)


def files_in_pods(fault: Fault, work: Path) -> tuple[str, list[str]]:
    """A pod does not see this machine's disk: the fault's files travel in values whose
    postStart hook writes them in each user pod, in a folder of the fault's own (a pod's
    /tmp is its own, but servers that stand in for pods on one machine, the project's
    emulated cluster, share one)."""
    folder = f"{IN_POD_DIR}/{fault.name}"
    if not fault.files:
        return folder, []
    (work / "files-in-pod.yaml").write_text(_files_in_pod(fault.files, folder))
    return folder, ["--values", str(work / "files-in-pod.yaml")]


# ---- the harness's own operations broken on a cluster (hubharness.mutants plants them) ------
def damage_hub_database(target: KubeTarget, script: str) -> None:
    """`python3 -c script HUB_DB` in the running hub's container, where the database lies."""
    deployment = target.deployment()
    pod = deployment.serving_pod("hub")
    if pod is None:
        raise HarnessError(f"no running hub pod in {target.namespace} to damage the database in")
    command = ["python3", "-c", script, HUB_DB]
    rc, err = exec_in(deployment.core, target.namespace, pod.metadata.name, "hub", command, io.BytesIO())
    if rc != 0:
        raise HarnessError(f"damaging {HUB_DB} failed: {err.decode(errors='replace')[-300:]}")


def delete_user_volumes(target: KubeTarget) -> None:
    core = target.core()
    for _, claim in user_claims(core, target.namespace):
        core.delete_namespaced_persistent_volume_claim(claim.metadata.name, target.namespace)


def nothing_running_on(target: KubeTarget) -> bool:
    return RELEASE not in target._releases()
