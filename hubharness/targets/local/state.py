"""A local namespace's state folder, the local analogue of a Kubernetes namespace: what
deploy recorded (state.json: supervisors, ports, chart), what the supervisors observe
(pods/<component>.json: the running process, restarts, last exit), the Secrets
(secrets/, 0600), logs/, home/<user>/ and jupyterhub.sqlite. The target writes it; the
deployment the suites check reads it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import psutil

from ... import procs
from ... import values as chart_values
from ...errors import HarnessError
from ...paths import state_home
from ...secretstore import SecretStore

AUTH_ENV = chart_values.AUTH_ENV
HUB_SECRET = "hub"  # the chart's managed Secret, same name and keys
PORTS = ("public_port", "hub_port", "proxy_api_port")
DATABASE = "jupyterhub.sqlite"  # the hub's, in the state folder (hub.db.type sqlite-pvc)
NAMESPACE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class StateFolder:
    context = "local"

    def __init__(self, namespace: str = "default"):
        if not NAMESPACE_RE.match(namespace):
            raise HarnessError(
                f"namespace {namespace!r} is not a valid name: use lower-case letters, digits "
                "and '-', at most 63 characters (like a Kubernetes namespace)"
            )
        self.namespace = namespace
        self.state_dir = state_home() / namespace
        self.store = SecretStore(self.state_dir / "secrets")

    @property
    def database(self) -> Path:
        return self.state_dir / DATABASE

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    def log(self, name: str) -> Path:
        return self.state_dir / "logs" / f"{name}.log"

    def read_state(self) -> dict:
        if not self.state_file.is_file():
            return {}
        return json.loads(self.state_file.read_text())

    def write_json(self, path: Path, data: dict) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)

    def deployed_values(self) -> dict | None:
        """The values deploy applied last (values.json), None before the first deploy."""
        path = self.state_dir / "values.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def pod(self, name: str) -> dict:
        """What the supervisor of `name` (hub, proxy) last observed, as a pod's status:
        container (pid), restarts, state (running | waiting | terminated), reason, last_exit."""
        path = self.state_dir / "pods" / f"{name}.json"
        try:
            return json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}  # not started, or being replaced (written by rename: never half)

    def supervisor(self, name: str) -> psutil.Process | None:
        """The supervisor deploy started for `name`, if it still runs."""
        rec = procs.ProcessRecord.from_json(self.read_state().get(name))
        return rec.process() if rec else None

    def running(self, name: str) -> psutil.Process | None:
        """The process of `name` (hub, proxy) its supervisor runs, if it runs now."""
        rec = procs.ProcessRecord.from_json(self.pod(name).get("container"))
        return rec.process() if rec else None

    def waiting(self, name: str) -> str:
        """Why `name` is not running, in the kubelet's words."""
        pod = self.pod(name)
        if not pod or self.supervisor(name) is None:
            return "not running (no supervisor: `invoke deploy` starts it)"
        last = pod.get("last_exit") or {}
        exited = f", last exit code {last['code']}" if last else ""
        return f"not running: {pod.get('reason') or pod.get('state')}{exited}, {pod.get('restarts', 0)} restart(s)"

    def restarts(self, name: str) -> int:
        """Restarts of `name` since it was deployed (remove resets them), as restartCount."""
        return int(self.pod(name).get("restarts", 0))

    def processes_of_namespace(self) -> list[psutil.Process]:
        """Every process started for this namespace: hub, proxy, user servers and what they
        started (found by their folder and environment, not by what state.json recorded)."""
        state = self.read_state()
        markers = {"HUBHARNESS_STATE_DIR": str(self.state_dir)}
        if state.get("hub_port"):
            markers["JUPYTERHUB_API_URL"] = f"127.0.0.1:{state['hub_port']}/"
        return procs.processes_under(self.state_dir, markers)

    def ports(self) -> list[int]:
        state = self.read_state()
        return [state[k] for k in PORTS if state.get(k)]

    def user_homes_with_files(self) -> list[str]:
        home = self.state_dir / "home"
        return sorted(p.name for p in home.iterdir() if p.is_dir() and any(p.iterdir())) if home.is_dir() else []
