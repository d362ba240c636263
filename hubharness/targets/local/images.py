"""The notebook image, mirrored: a local server runs the Spark of the image the values name.

On a cluster, `singleuser.image` decides which pyspark a notebook imports; locally the
servers come from the harness's virtualenv, whose pyspark is pinned. For the Jupyter
Spark images (`quay.io/jupyter/pyspark-notebook:spark-X.Y.Z`, the deprecated
`jupyter/…` and the `all-spark-notebook` twins) the tag's pyspark is installed once from
PyPI into the project cache and put first on the servers' PYTHONPATH; an image it cannot
mirror is said so in deploy's output.
"""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ... import values as chart_values
from ...errors import HarnessError
from ...paths import cache_dir

IMAGE_BIN = "/opt/conda/bin"  # the Jupyter images' python and tools
MIRRORED = re.compile(r"^(?:(?:quay\.io|docker\.io)/)?jupyter/(?:pyspark|all-spark)-notebook$")
INSTALL_TIMEOUT = 900  # pyspark is a 300 MB source archive, built once


@dataclass(frozen=True)
class Mirror:
    image: str
    pyspark: str  # the pyspark the servers import
    path: Path | None  # put first on the servers' PYTHONPATH; None: the harness's own pyspark
    note: str  # one line for deploy's output


def local_path(value: str) -> str:
    """A path of the image's python (/opt/conda/bin/…) as this machine has it: the
    harness's virtualenv, which the servers run from."""
    if value == IMAGE_BIN or value.startswith(IMAGE_BIN + "/"):
        return str(Path(sys.executable).parent) + value[len(IMAGE_BIN) :]
    return value


def installed_pyspark() -> str:
    return importlib.metadata.version("pyspark")


def mirror(values: dict) -> Mirror:
    name = str(chart_values.get(values, "singleuser.image.name") or "")
    image = f"{name}:{chart_values.get(values, 'singleuser.image.tag')}"
    own = installed_pyspark()
    wanted = chart_values.expected_pyspark_version(values)
    if not MIRRORED.match(name):
        return Mirror(image, own, None, f"notebook image {image} is not mirrored here: servers run pyspark {own}")
    if wanted is None:
        return Mirror(image, own, None, f"notebook image {image}: its tag names no Spark; servers run pyspark {own}")
    if wanted == own:
        return Mirror(image, own, None, f"notebook image {image}: pyspark {own}, the harness's own")
    path = cache_dir() / "images" / f"pyspark-{wanted}"
    if not (path / "pyspark" / "__init__.py").is_file():
        _install(image, wanted, path)
    return Mirror(image, wanted, path, f"notebook image {image}: pyspark {wanted}, from {path}")


def not_mirrored(values: dict) -> str | None:
    """Why the servers cannot run the Spark the image's tag names, or None."""
    name = str(chart_values.get(values, "singleuser.image.name") or "")
    wanted, own = chart_values.expected_pyspark_version(values), installed_pyspark()
    if wanted is None or wanted == own or MIRRORED.match(name):
        return None
    return (
        f"the local target cannot mirror image {name} (only the Jupyter Spark images): "
        f"its servers run pyspark {own}, not the tag's {wanted}"
    )


def _install(image: str, version: str, path: Path) -> None:
    """pip install into a folder beside `path`, renamed into place once complete."""
    print(f"mirroring notebook image {image}: installing pyspark {version} into {path} …", file=sys.stderr)
    partial = path.with_name(f"{path.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target", str(partial)]
    try:
        done = subprocess.run(
            [*cmd, f"pyspark=={version}"], capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        shutil.rmtree(partial, ignore_errors=True)
        raise HarnessError(
            f"cannot mirror notebook image {image}: installing pyspark {version} took over {INSTALL_TIMEOUT}s"
        ) from None
    if done.returncode != 0 or not (partial / "pyspark" / "__init__.py").is_file():
        shutil.rmtree(partial, ignore_errors=True)
        errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")] or ["no output"]
        raise HarnessError(
            f"cannot mirror notebook image {image}: pip could not install pyspark=={version} ({errors[-1][:200]}): "
            f"reach PyPI, or use an image whose tag is spark-{installed_pyspark()}"
        )
    shutil.rmtree(path, ignore_errors=True)
    partial.rename(path)
