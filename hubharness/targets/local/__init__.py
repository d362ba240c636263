"""The local target: a real hub, proxy and JupyterLab servers as processes on this machine,
one state folder per namespace (state.py), configured as the chart configures its hub
(hub_config.py)."""

from .deployment import LocalDeployment
from .state import HUB_SECRET
from .target import LocalTarget

__all__ = ["HUB_SECRET", "LocalDeployment", "LocalTarget"]
