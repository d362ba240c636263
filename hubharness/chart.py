"""The zero-to-jupyterhub chart this harness deploys, and where its values schema is.

The schema is not vendored: it is found where a user has it (a path in
HUBHARNESS_VALUES_SCHEMA, or the chart helm keeps in its cache), else fetched once from
the chart's published package into the project cache, so validation follows the chart
actually deployed.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import yaml

from . import chart_package
from .errors import HarnessError

CHART_NAME = "jupyterhub"
CHART_REPO = "https://hub.jupyter.org/helm-chart/"
DEFAULT_CHART_VERSION = "4.4.0"

# The JupyterHub each chart version ships (images/hub/requirements.txt at the chart's
# tag): every 4.x release is supported. The local target runs the default chart's from
# the harness's virtualenv and the others' from virtualenvs installed on demand.
HUB_VERSION_OF_CHART = {
    "4.0.0": "5.2.1",
    "4.1.0": "5.2.1",
    "4.2.0": "5.3.0",
    "4.3.0": "5.4.0",
    "4.3.1": "5.4.1",
    "4.3.2": "5.4.3",
    "4.3.3": "5.4.4",
    "4.3.4": "5.4.5",
    "4.3.5": "5.4.6",
    "4.4.0": "5.5.0",
}


# The chart's defaults for cull.* (its values.yaml): the chart runs jupyterhub-idle-culler
# unless told not to, and the local target runs it the same way.
CULL_DEFAULTS = {
    "enabled": True,
    "users": False,
    "adminUsers": True,
    "removeNamedServers": False,
    "timeout": 3600,
    "every": 600,
    "concurrency": 10,
    "maxAge": 0,
}


def hub_version(chart_version: str) -> str:
    try:
        return HUB_VERSION_OF_CHART[chart_version]
    except KeyError:
        known = ", ".join(sorted(HUB_VERSION_OF_CHART))
        raise HarnessError(f"unknown chart version {chart_version!r}: use one of {known}") from None


def _helm_cache_dirs() -> list[Path]:
    home = Path.home()
    dirs = []
    if os.environ.get("HELM_CACHE_HOME"):
        dirs.append(Path(os.environ["HELM_CACHE_HOME"]) / "repository")
    dirs.append(home / ".cache" / "helm" / "repository")
    dirs.append(home / "Library" / "Caches" / "helm" / "repository")
    return dirs


def _schema_from_chart_archive(archive: Path) -> dict | None:
    with tarfile.open(archive) as tar:
        try:
            member = tar.extractfile(f"{CHART_NAME}/values.schema.json")
        except KeyError:
            return None
        return json.load(io.TextIOWrapper(member, encoding="utf-8")) if member else None


def _schema_from_path(path: Path, chart_version: str) -> dict | None:
    if path.is_dir():
        for name in (
            f"values.schema-{chart_version}.yaml",
            f"values.schema-{chart_version}.json",
            "values.schema.json",
            "values.schema.yaml",
        ):
            if (path / name).is_file():
                return _schema_from_path(path / name, chart_version)
        return None
    if not path.is_file():
        return None
    # JSON is YAML, so one loader reads both the chart's .json and z2jh's .yaml; libyaml's,
    # a tenth of the CPU: every deploy and lint reads the 130 kB schema.
    return yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def find_values_schema(chart_version: str) -> tuple[dict | None, str]:
    """Return (schema, where it came from) or (None, why none was found)."""
    configured = os.environ.get("HUBHARNESS_VALUES_SCHEMA")
    if configured:
        schema = _schema_from_path(Path(configured), chart_version)
        if schema is None:
            raise HarnessError(
                f"HUBHARNESS_VALUES_SCHEMA={configured} holds no values schema for chart "
                f"{chart_version}: point it at values.schema-{chart_version}.yaml or its folder"
            )
        return schema, configured
    for cache in _helm_cache_dirs():
        archive = cache / f"{CHART_NAME}-{chart_version}.tgz"
        if archive.is_file():
            schema = _schema_from_chart_archive(archive)
            if schema is not None:
                return schema, str(archive)
    try:
        return chart_package.schema(CHART_NAME, chart_version, CHART_REPO)
    except chart_package.FetchFailed as e:
        why = str(e)
    return None, (
        f"no values schema for chart {chart_version} (HUBHARNESS_VALUES_SCHEMA is not set, helm's cache has no "
        f"{CHART_NAME}-{chart_version}.tgz, and {why}): set HUBHARNESS_VALUES_SCHEMA to a folder holding the "
        f"chart's values.schema.json (with helm, `helm pull jupyterhub/jupyterhub --version {chart_version} "
        "--untar` puts it in ./jupyterhub/)"
    )
