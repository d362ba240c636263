"""What every part of the kubernetes target shares: the kubeconfig, the command-line tools
(helm, kind), objects validated before they are created, and the chart's names.

It imports nothing else from this package, so every other module may import it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

from ...errors import HarnessError
from ...paths import PROJECT_ROOT

RELEASE = "jupyterhub"
REPO_NAME = "jupyterhub"
KIND_CLUSTER = "hubharness"
KIND_CONFIG = PROJECT_ROOT / "manifests" / "kind-cluster.yaml"
INGRESS = PROJECT_ROOT / "manifests" / "ingress.yaml"
HUB_DB = "/srv/jupyterhub/jupyterhub.sqlite"  # the chart's hub-db-dir volume
HUB_SECRET = "hub"  # the chart's own Secret: generated tokens, cookie secret, values
HELPER_COMPONENT = "hubharness-helper"  # backup's and restore's short-lived pods
NOTEBOOK_CONTAINER = "notebook"  # KubeSpawner's name for the user container
USERNAME_ANNOTATION = "hub.jupyter.org/username"
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


def kubeconfig() -> str:
    """KUBECONFIG as it is now (the client library reads it once, at import)."""
    return os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")


def run(cmd: list[str], what: str) -> str:
    """A tool's stdout; its last line of complaint as a HarnessError when it fails."""
    done = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise HarnessError(f"{what} failed: {last}")
    return done.stdout


def require(tool: str, how: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise HarnessError(f"{tool} not found: {how}")
    return path


def validated(body: dict) -> dict:
    """An object about to be created, checked (strictly) against the Kubernetes schema."""
    import kubernetes_validate  # on first use

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


def user_claims(core, namespace: str) -> list[tuple[str, Any]]:
    """(user, claim) of every volume KubeSpawner made for a user (its username annotation)."""
    found = []
    for claim in core.list_namespaced_persistent_volume_claim(namespace).items:
        if user := (claim.metadata.annotations or {}).get(USERNAME_ANNOTATION):
            found.append((user, claim))
    return found
