"""The JupyterHub a chart ships, as a virtualenv the local hub runs from.

The harness's own virtualenv carries the default chart's JupyterHub; another chart's
(the previous one, to upgrade from) is installed on demand from PyPI into a virtualenv
of its own in the project cache, once, as a cluster pulls the hub image of that chart.
User servers keep running from the harness's virtualenv: the notebook image does not
change with the chart.
"""

from __future__ import annotations

import fcntl
import functools
import importlib.metadata
import json
import subprocess
import sys
import venv
from pathlib import Path

from ... import chart
from ...errors import HarnessError
from ...paths import cache_dir

CULLER = "jupyterhub-idle-culler==1.4.0"  # as pyproject pins it: the chart's hub image runs it
INSTALL_TIMEOUT = 600


def hub_bin(chart_version: str, say=None) -> Path:
    """The bin folder whose `jupyterhub` is the chart's JupyterHub (installed if need be)."""
    wanted = chart.hub_version(chart_version)
    if importlib.metadata.version("jupyterhub") == wanted:
        return Path(sys.executable).parent
    home = cache_dir() / "hubs" / f"jupyterhub-{wanted}"
    done = home / "installed.json"
    if done.is_file():
        return home / "bin"
    home.parent.mkdir(parents=True, exist_ok=True)
    with open(home.parent / f".jupyterhub-{wanted}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two deploys at once install it once
        if not done.is_file():
            if say:
                say(f"installing JupyterHub {wanted} (chart {chart_version}) into {home} (once) …")
            _install(home, wanted)
            done.write_text(json.dumps({"jupyterhub": wanted, "culler": CULLER}))
    return home / "bin"


def _install(home: Path, version: str) -> None:
    venv.EnvBuilder(clear=True, with_pip=True).create(home)
    try:
        done = subprocess.run(
            [str(home / "bin" / "python"), "-m", "pip", "install", "-q", f"jupyterhub=={version}", CULLER],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise HarnessError(
            f"pip did not install JupyterHub {version} within {INSTALL_TIMEOUT}s: check that PyPI is reachable"
        ) from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise HarnessError(f"pip could not install JupyterHub {version} into {home}: {last}")


@functools.cache
def schema_head(bin_dir: Path) -> str:
    """The database schema (alembic revision) this JupyterHub runs on."""
    if bin_dir == Path(sys.executable).parent:  # the harness's own: no process to start
        import jupyterhub
        from alembic.script import ScriptDirectory

        return str(ScriptDirectory(str(Path(jupyterhub.__file__).with_name("alembic"))).get_current_head())
    code = (
        "import os, jupyterhub\n"
        "from alembic.script import ScriptDirectory\n"
        "print(ScriptDirectory(os.path.join(os.path.dirname(jupyterhub.__file__), 'alembic')).get_current_head())"
    )
    done = subprocess.run(
        [str(bin_dir / "python"), "-I", "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0 or not done.stdout.strip():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise HarnessError(f"cannot read the database schema of the JupyterHub in {bin_dir}: {last}")
    return done.stdout.strip()
