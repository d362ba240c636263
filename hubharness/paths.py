"""Where things live: the project checkout, per-namespace state, reports."""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VALUES_DIR = PROJECT_ROOT / "values"
SUITES_DIR = PROJECT_ROOT / "suites"


def state_home() -> Path:
    """Parent of every deployment's state dir (the local analogue of a cluster)."""
    return Path(os.environ.get("HUBHARNESS_HOME", PROJECT_ROOT / ".hubharness")).resolve()


def reports_root() -> Path:
    return Path(os.environ.get("HUBHARNESS_REPORTS", PROJECT_ROOT / "reports")).resolve()


def cache_dir() -> Path:
    """Project cache for tools installed on demand (configurable-http-proxy)."""
    return Path(os.environ.get("HUBHARNESS_CACHE", PROJECT_ROOT / ".cache")).resolve()
