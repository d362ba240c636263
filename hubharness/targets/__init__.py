"""Targets: where a deployment runs. `local` (processes on this machine), `kind` and any
kube context (the chart through helm)."""

from __future__ import annotations

from ..deployment import Target
from ..errors import HarnessError
from .local import LocalTarget


def kube_contexts() -> list[str]:
    try:
        from kubernetes import config

        from .kube import kubeconfig

        contexts, _ = config.list_kube_config_contexts(config_file=kubeconfig())
        return [c["name"] for c in contexts]
    except Exception:  # noqa: BLE001 — no kubeconfig, or an unreadable one: there are no contexts
        return []


def target_for(context: str, namespace: str) -> Target:
    if context == "local":
        return LocalTarget(namespace)
    from .kube import KubeTarget

    if context == "kind":
        return KubeTarget("kind", namespace, kind=True)
    contexts = kube_contexts()
    if context in contexts:
        return KubeTarget(context, namespace)
    known = ", ".join(["local", "kind", *contexts])
    raise HarnessError(f"unknown context {context!r}: use one of {known}")
