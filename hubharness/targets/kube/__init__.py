"""The kubernetes target (any kubeconfig context) and kind (KindTarget, in kind.py)."""

from .target import KubeTarget

__all__ = ["KubeTarget"]
