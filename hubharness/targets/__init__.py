"""Targets: where a deployment runs. `local` here; kube contexts are not implemented yet."""

from __future__ import annotations

from ..errors import HarnessError
from .local import LocalTarget


def _kube_contexts() -> list[str]:
    try:
        from kubernetes import config

        contexts, _ = config.list_kube_config_contexts()
        return [c["name"] for c in contexts]
    except Exception:  # no kubeconfig, or an unreadable one: there are no contexts
        return []


def target_for(context: str, namespace: str) -> LocalTarget:
    if context == "local":
        return LocalTarget(namespace)
    contexts = _kube_contexts()
    if context == "kind" or context in contexts:
        raise HarnessError(
            f"context {context!r}: the kubernetes/kind target is not implemented yet; use --context local"
        )
    known = ", ".join(["local", "kind", *contexts])
    raise HarnessError(f"unknown context {context!r}: use one of {known}")
