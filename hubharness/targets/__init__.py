"""Targets: where a deployment runs, found by context name.

`local` runs processes on this machine, `kind` a kind cluster it creates, `remote` a hub
deployed by others, reached by its URL; any other name a context of the kubeconfig (the
chart through helm). Each target is a package behind
the contract in base.py; the registry names its class, imported only when that context
is used (as testinfra loads its backends), so `local` never imports the kubernetes
client. A third target is one package and one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from ..errors import HarnessError
from .base import Target

# context name -> "module:class"; KUBE_CONTEXT serves every context of the kubeconfig.
REGISTRY = {
    "local": "hubharness.targets.local:LocalTarget",
    "kind": "hubharness.targets.kube.kind:KindTarget",
    "remote": "hubharness.targets.remote:RemoteTarget",
}
KUBE_CONTEXT = "hubharness.targets.kube:KubeTarget"


def _load(spec: str) -> type[Target]:
    module, name = spec.split(":")
    return getattr(importlib.import_module(module), name)


def kube_contexts() -> list[str]:
    """The contexts of the kubeconfig; none when there is no readable one."""
    from .kube import KubeTarget  # the kubernetes client loads only when a context is not ours

    return KubeTarget.contexts()


def target_class(context: str) -> type[Target]:
    """The class of the target for a context: what it is (its KIND), which checks apply to
    it and which faults it can do, before any namespace is chosen."""
    if context in REGISTRY:
        return _load(REGISTRY[context])
    if context in kube_contexts():
        return _load(KUBE_CONTEXT)
    known = ", ".join([*REGISTRY, *kube_contexts()])
    raise HarnessError(f"unknown context {context!r}: use one of {known}")


def target_for(context: str, namespace: str, options: Mapping[str, object] | None = None) -> Target:
    """The target for a context. `options` are a target's own (kind's keep_cluster): one
    set for a target that has no such option is refused, not ignored."""
    given = {k: v for k, v in (options or {}).items() if v}
    cls = target_class(context)
    unknown = sorted(set(given) - cls.OPTIONS)
    if unknown:
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in unknown)
        raise HarnessError(f"{flags} does not apply to context {context}: leave it out")
    return cls.create(context, namespace, **given)
