"""The kubernetes target (any kubeconfig context) and kind (KindTarget, in kind.py)."""

from ...values import import_jsonschema

# before the kubernetes client, which imports kubernetes_validate and so jsonschema: without
# the format checker whose grammar takes 3 s to build, in every process that reaches a cluster
import_jsonschema()

from .target import KubeTarget

__all__ = ["KubeTarget"]
