"""What `invoke selftest` does to a running local deployment, by name: the local ways of
the faults in hubharness.faults (Fault.ways["local"]), and the primitives the harness's
own mutants (hubharness.mutants) break backup, restore and remove with. A kubernetes
namespace has its own (hubharness.targets.kube.faults)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from ... import chart, procs
from ...procs import free_port
from .state import HUB_SECRET

if TYPE_CHECKING:
    from .target import LocalTarget

LocalFault = Callable[["LocalTarget"], None]


def chmod_state(target: LocalTarget) -> None:
    os.chmod(target.state_dir, 0o755)


def _auth_secret(target: LocalTarget) -> tuple[Path, str]:
    """The file of the Secret the hub's password comes from, and its key, as deployed."""
    name, key = target.deployment().auth_ref
    return target.store.path(name), key


def drop_secret_key(target: LocalTarget) -> None:
    path, _ = _auth_secret(target)
    path.write_text(json.dumps({"SOMETHING_ELSE": "x"}))


def chmod_hub_secret(target: LocalTarget) -> None:
    os.chmod(target.store.path(HUB_SECRET), 0o644)


def rotate_auth_password(target: LocalTarget) -> None:
    """The Secret changes and the hub is not redeployed: it still has the old password."""
    name, key = target.deployment().auth_ref
    target.store.put(name, key, secrets.token_urlsafe(18))


def rotate_admin_password(target: LocalTarget) -> None:
    """The admin password changes in its Secret and the hub is not redeployed."""
    ref = target.deployment().admin_ref
    if ref is None:
        raise RuntimeError(f"namespace {target.namespace} routes no admin password from a Secret")
    target.store.put(*ref, secrets.token_urlsafe(36))


def password_to_hub_log(target: LocalTarget) -> None:
    path, key = _auth_secret(target)
    with open(target.log("hub"), "a") as log:
        log.write(f"[D fault] login attempt with password={json.loads(path.read_text())[key]}\n")


def _signal(name: str, signum: int) -> LocalFault:
    def send(target: LocalTarget) -> None:
        proc = target.running(name)
        if proc is None:
            raise RuntimeError(f"no {name} process to signal in namespace {target.namespace}")
        proc.send_signal(signum)
        if signum == signal.SIGKILL:
            proc.wait(10)

    return send


def spark_worker_down(target: LocalTarget) -> None:
    """A Spark worker goes for good, as a node that is lost: its supervisor stops it and
    nothing starts it again."""
    name = f"spark-worker-{target.read_state().get('spark', {}).get('workers', 0)}"
    sup = target.supervisor(name)
    if sup is None:
        raise RuntimeError(f"no {name} in namespace {target.namespace}: is the Spark cluster deployed?")
    procs.stop(sup, timeout=20)


def record_another_chart(target: LocalTarget) -> None:
    """The deployment is recorded with a chart whose JupyterHub is not the one running (the
    environment was changed under it)."""
    state = target.read_state()
    running = chart.hub_version(state["chart"])
    state["chart"] = next(v for v, hub in chart.HUB_VERSION_OF_CHART.items() if hub != running)
    target.write_json(target.state_file, state)


def hijack_hub_route(target: LocalTarget) -> None:
    """Something else claims / in the proxy: proxy-public no longer reaches the hub."""
    state = target.read_state()
    token = target.store.get(HUB_SECRET, "hub.config.ConfigurableHTTPProxy.auth_token")
    response = requests.post(
        f"http://127.0.0.1:{state['proxy_api_port']}/api/routes/",
        json={"target": f"http://127.0.0.1:{free_port()}"},
        headers={"Authorization": f"token {token}"},
        timeout=5,
    )
    response.raise_for_status()


BY_NAME: dict[str, LocalFault] = {
    "chmod_state": chmod_state,
    "drop_secret_key": drop_secret_key,
    "chmod_hub_secret": chmod_hub_secret,
    "rotate_auth_password": rotate_auth_password,
    "rotate_admin_password": rotate_admin_password,
    "password_to_hub_log": password_to_hub_log,
    "kill_hub": _signal("hub", signal.SIGKILL),
    "kill_proxy": _signal("proxy", signal.SIGKILL),
    "freeze_hub": _signal("hub", signal.SIGSTOP),
    "spark_worker_down": spark_worker_down,
    "record_another_chart": record_another_chart,
    "hijack_hub_route": hijack_hub_route,
}


# ---- the harness's own operations broken here (hubharness.mutants plants them) ---------
def damage_hub_database(target: LocalTarget, script: str) -> None:
    """`python -c script <the hub's database>`, where the database lies."""
    subprocess.run([sys.executable, "-c", script, str(target.state_dir / "jupyterhub.sqlite")], check=True)


def delete_homes(target: LocalTarget) -> None:
    shutil.rmtree(target.state_dir / "home", ignore_errors=True)


def runs_nothing(target: LocalTarget) -> bool:
    return target.state_dir.exists() and target.running("hub") is None
