"""The remote target: verify a hub this harness did not deploy, by its URL (target.py),
with credentials from the environment or a private file (credentials.py)."""

from .target import RemoteDeployment, RemoteTarget

__all__ = ["RemoteDeployment", "RemoteTarget"]
