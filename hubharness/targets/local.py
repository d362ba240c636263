"""The `local` target: a real hub, proxy and JupyterLab servers as local processes.

State lives in one directory per namespace (the local analogue of a Kubernetes
namespace): state.json, values.json, runtime.json, secrets/ (0600), logs/,
home/<user>/ and jupyterhub.sqlite.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import importlib.metadata
import json
import os
import re
import secrets as pysecrets
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

from .. import backup, chart, procs
from .. import values as chart_values
from ..deployment import Component, Deployment, Fact, Target
from ..errors import HarnessError
from ..hubapi import HubAPI, users_of
from ..paths import cache_dir, state_home
from ..secretstore import Secret, SecretStore
from ..waiting import wait_until

HUB_CONFIG = Path(__file__).with_name("local_hub_config.py")
CHP_VERSION = "5.3.0"
DEFAULT_PORT = 8000
START_TIMEOUT = 60
AUTH_ENV = chart_values.AUTH_ENV
HUB_SECRET = "hub"  # the chart's managed Secret, same name and keys
PORT_ATTEMPTS = 3  # a port picked free can be taken before the hub or proxy binds it
NAMESPACE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

# Values the local target applies. Everything else the user set is listed as
# not applicable, never silently dropped.
APPLIED = (
    "hub.config",
    "hub.extraConfig",
    "hub.extraEnv",
    "hub.services",
    "hub.loadRoles",
    "hub.db.type",
    "singleuser.extraEnv",
    "singleuser.cmd",
    "singleuser.defaultUrl",
    "singleuser.startTimeout",
    "singleuser.image.tag",
    "debug.enabled",
)
# Applied as the spawner traits the chart sets, but a local process is not confined by them.
NOT_ENFORCED = ("singleuser.cpu", "singleuser.memory")


def _leaves(tree: dict, prefix: str = "") -> Iterator[str]:
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from _leaves(value, path + ".")
        else:
            yield path


def not_applicable(values: dict) -> list[str]:
    """Value paths (two levels deep) that have no meaning for local processes."""
    found = []
    for leaf in _leaves(values):
        if any(leaf == a or leaf.startswith(a + ".") for a in APPLIED + NOT_ENFORCED):
            continue
        short = ".".join(leaf.split(".")[:3])
        if short not in found:
            found.append(short)
    return found


class PortTaken(HarnessError):
    """The hub or proxy found its port taken between our pick and its bind."""


@dataclass
class DeployResult:
    url: str
    state_dir: Path
    secret_file: Path
    secret_origin: str
    action: str  # started | restarted | unchanged | revived
    revived: list[str] = field(default_factory=list)  # what had died and was started again
    not_applicable: list[str] = field(default_factory=list)
    not_enforced: list[str] = field(default_factory=list)
    schema_note: str = ""
    seconds: float = 0.0

    def lines(self) -> list[str]:
        verb = {
            "started": "deployed",
            "restarted": "redeployed (hub restarted: config changed)",
            "unchanged": "already deployed, nothing changed",
            "revived": f"started again ({' and '.join(self.revived)} had stopped; restart counted)",
        }[self.action]
        out = [
            f"{verb}: namespace {self.state_dir.name} (context local) at {self.url} in {self.seconds:.1f}s",
            f"  password: {self.secret_origin}, in {self.secret_file} (key JUPYTERHUB_AUTH_PASSWORD)",
            f"  state: {self.state_dir}",
        ]
        if self.not_enforced:
            out.append(f"  applied but not enforced locally: {', '.join(self.not_enforced)}")
        if self.not_applicable:
            out.append(f"  not applicable locally: {', '.join(self.not_applicable)}")
        return out


class LocalTarget(Target):
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
        self._proxy_log_offset = 0

    # ---- paths and recorded state -----------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    def log(self, name: str) -> Path:
        return self.state_dir / "logs" / f"{name}.log"

    def read_state(self) -> dict:
        if not self.state_file.is_file():
            return {}
        return json.loads(self.state_file.read_text())

    def _write_json(self, path: Path, data: dict) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)

    def record(self, name: str) -> procs.ProcessRecord | None:
        return procs.ProcessRecord.from_json(self.read_state().get(name))

    def running(self, name: str) -> psutil.Process | None:
        rec = self.record(name)
        return rec.process() if rec else None

    # ---- prerequisites ------------------------------------------------------------
    @staticmethod
    def _require_java() -> None:
        java_home = os.environ.get("JAVA_HOME")
        if java_home and (Path(java_home) / "bin" / "java").is_file():
            return
        if shutil.which("java") is None:
            raise HarnessError(
                "Java not found: PySpark needs a Java 17 runtime; install it "
                "(apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
            )

    @staticmethod
    def _require_hub_of_chart(chart_version: str) -> None:
        """Both targets must run the same hub: the one the chart ships."""
        wanted = chart.hub_version(chart_version)
        installed = importlib.metadata.version("jupyterhub")
        if installed != wanted:
            raise HarnessError(
                f"chart {chart_version} ships JupyterHub {wanted} but the local target has {installed}: "
                f"use --chart-version {chart.DEFAULT_CHART_VERSION}, or pip install jupyterhub=={wanted}"
            )

    @staticmethod
    def chp_command() -> list[str]:
        """configurable-http-proxy from PATH, else from the project cache (installed on demand)."""
        if shutil.which("node") is None:
            raise HarnessError(
                "Node.js not found: configurable-http-proxy needs it; install Node.js 20 "
                "(apt-get install nodejs npm) and deploy again"
            )
        on_path = shutil.which("configurable-http-proxy")
        if on_path:
            return [on_path]
        prefix = cache_dir() / "npm"
        cached = prefix / "node_modules" / ".bin" / "configurable-http-proxy"
        if not cached.exists():
            npm = shutil.which("npm")
            if npm is None:
                raise HarnessError("npm not found: install npm (apt-get install npm) to fetch configurable-http-proxy")
            print(f"installing configurable-http-proxy {CHP_VERSION} into {prefix} …", file=sys.stderr)
            prefix.mkdir(parents=True, exist_ok=True)
            done = subprocess.run(
                [
                    npm,
                    "install",
                    "--prefix",
                    str(prefix),
                    "--no-audit",
                    "--no-fund",
                    f"configurable-http-proxy@{CHP_VERSION}",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0 or not cached.exists():
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                raise HarnessError(f"npm could not install configurable-http-proxy: {last}")
        return [str(cached)]

    # ---- deploy -------------------------------------------------------------------
    def _prepare_secrets(self, values: dict) -> tuple[dict[str, str], Path, str]:
        """Resolve hub.extraEnv secretKeyRefs like the kubelet; create what the chart would."""
        env: dict[str, str] = {}
        auth_file, origin = self.store.path("urbalurba-secrets"), "stored"
        for name, (secret, key) in chart_values.secret_refs(chart_values.get(values, "hub.extraEnv", {})).items():
            if name == AUTH_ENV:
                value, origin = self.store.ensure(secret, key, given=os.environ.get(AUTH_ENV) or None)
                auth_file = self.store.path(secret)
            else:
                value = self.store.get(secret, key)
            env[name] = str(value)
        for name, value in chart_values.env_entries(chart_values.get(values, "hub.extraEnv", {})).items():
            if not isinstance(value, dict):
                env[name] = str(value)
            elif "value" in value:
                env[name] = str(value["value"])
        # The chart's managed Secret: cookie secret, proxy token, service tokens.
        self.store.ensure(HUB_SECRET, "hub.config.JupyterHub.cookie_secret", generate=lambda: pysecrets.token_hex(32))
        self.store.ensure(HUB_SECRET, "hub.config.ConfigurableHTTPProxy.auth_token")
        for key in chart_values.get(values, "hub.services", {}) or {}:
            self.store.ensure(HUB_SECRET, f"hub.services.{key}.apiToken")
        return env, auth_file, origin

    def _fingerprint(self, values: dict, env: dict[str, str], ports: dict) -> str:
        """Changes when anything the hub reads changes; keyed, so it reveals no secret."""
        key = self.store.read(HUB_SECRET)["hub.config.JupyterHub.cookie_secret"].encode()
        config_code = HUB_CONFIG.read_text()  # a harness upgrade that changes it restarts the hub
        payload = json.dumps([values, sorted(env.items()), ports, config_code], sort_keys=True)
        return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()

    def deploy(
        self,
        values_files: list[Path],
        port: int = DEFAULT_PORT,
        chart_version: str = chart.DEFAULT_CHART_VERSION,
        beside: bool = False,
    ) -> DeployResult:
        started_at = time.monotonic()
        self._require_hub_of_chart(chart_version)
        values, schema_note = chart_values.load_validated(values_files, chart_version)
        self._require_java()
        state = self.read_state()
        proxy, hub = self.running("proxy"), self.running("hub")
        # Recorded as started, gone without `remove`: it died, and starting it again is a
        # restart, counted as the kubelet counts a container's (remove resets the count).
        died = [name for name, proc in (("hub", hub), ("proxy", proxy)) if state.get(name) and proc is None]
        restarts = dict(state.get("restarts", {}))
        for name in died:
            restarts[name] = restarts.get(name, 0) + 1
        state["restarts"] = restarts
        if proxy and port not in (0, state.get("public_port")):
            raise HarnessError(
                f"namespace {self.namespace} is already deployed on port {state['public_port']}: "
                "`invoke remove` first to move it to another port"
            )
        if not proxy and port:
            procs.require_free(port, "proxy-public")
        chp = self.chp_command()

        fresh = not self.state_dir.exists()
        for sub in ("", "logs", "home", "secrets"):
            (self.state_dir / sub).mkdir(parents=True, exist_ok=True)
            os.chmod(self.state_dir / sub, 0o700)
        try:
            hub_env, auth_file, origin = self._prepare_secrets(values)
        except HarnessError:
            if fresh:
                shutil.rmtree(self.state_dir, ignore_errors=True)
            raise

        # What died keeps its address, as a pod behind its Service does: user servers and the
        # proxy still call the hub there after it came back.
        kept = {
            name: state[name]
            for name in ("public_port", "hub_port", "proxy_api_port")
            if self._port_still_ours(state.get(name))
        }
        ports = {
            "public_port": state.get("public_port")
            if proxy
            else (port or kept.get("public_port") or procs.free_port()),
            "hub_port": state.get("hub_port") if hub else (kept.get("hub_port") or procs.free_port()),
            "proxy_api_port": state.get("proxy_api_port")
            if proxy
            else (kept.get("proxy_api_port") or procs.free_port()),
        }
        fingerprint = self._fingerprint(values, hub_env, ports)
        url = f"http://127.0.0.1:{ports['public_port']}"
        result = DeployResult(
            url=url,
            state_dir=self.state_dir,
            secret_file=auth_file,
            secret_origin=origin,
            action="unchanged",
            not_applicable=not_applicable(values),
            not_enforced=[p for p in NOT_ENFORCED if chart_values.get(values, p) is not None],
            schema_note=schema_note,
        )
        if hub and proxy and state.get("fingerprint") == fingerprint and self._healthy(url):
            result.seconds = time.monotonic() - started_at
            return result

        result.action = "restarted" if hub else "started"
        result.revived = died
        if died:
            result.action = "revived"
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                self._launch(chp, values, values_files, chart_version, hub_env, ports, fingerprint, state, hub, proxy)
                break
            except PortTaken:
                # Another process took a port we had picked free: pick again (ours only).
                if attempt == PORT_ATTEMPTS:
                    raise
                for name in ("hub", "proxy"):
                    mine = self.running(name)
                    if mine is not None and (name == "hub" or not proxy):
                        procs.stop(mine)
                hub = None
                ports["hub_port"] = procs.free_port()
                if not proxy:
                    ports["proxy_api_port"] = procs.free_port()
                    if not port:
                        ports["public_port"] = procs.free_port()
                fingerprint = self._fingerprint(values, hub_env, ports)
                result.url = f"http://127.0.0.1:{ports['public_port']}"
        result.seconds = time.monotonic() - started_at
        return result

    @staticmethod
    def _port_still_ours(port: int | None) -> bool:
        """A port this namespace had that nothing holds now (a taken one: PortTaken picks anew)."""
        return bool(port) and not procs.port_in_use(port)

    def _launch(self, chp, values, values_files, chart_version, hub_env, ports, fingerprint, state, hub, proxy) -> None:
        """Write what the hub reads, start the proxy (unless running) and the hub, wait."""
        self._write_json(self.state_dir / "values.json", values)
        self._write_json(self.state_dir / "runtime.json", ports)
        state.update(
            ports,
            namespace=self.namespace,
            context=self.context,
            chart=chart_version,
            values_files=[str(f) for f in values_files],
            fingerprint=fingerprint,
        )
        proxy_token = self.store.get(HUB_SECRET, "hub.config.ConfigurableHTTPProxy.auth_token")
        log = self.log("proxy")
        self._proxy_log_offset = log.stat().st_size if log.is_file() else 0
        base_env = {k: v for k, v in os.environ.items() if k != AUTH_ENV}
        base_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{base_env.get('PATH', '')}"
        if not proxy:
            cmd = chp + [
                "--ip",
                "127.0.0.1",
                "--port",
                str(ports["public_port"]),
                "--api-ip",
                "127.0.0.1",
                "--api-port",
                str(ports["proxy_api_port"]),
                "--default-target",
                f"http://127.0.0.1:{ports['hub_port']}",
                "--error-target",
                f"http://127.0.0.1:{ports['hub_port']}/hub/error",
            ]
            rec = procs.start(
                cmd, {**base_env, "CONFIGPROXY_AUTH_TOKEN": proxy_token}, self.state_dir, self.log("proxy")
            )
            state["proxy"] = rec.to_json()
        if hub:
            procs.stop(hub)
        env = {
            **base_env,
            **hub_env,
            "CONFIGPROXY_AUTH_TOKEN": proxy_token,
            "HUBHARNESS_STATE_DIR": str(self.state_dir),
        }
        cmd = [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(HUB_CONFIG)]
        rec = procs.start(cmd, env, self.state_dir, self.log("hub"))
        state["hub"] = rec.to_json()
        state["deployed_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self._write_json(self.state_file, state)
        self._wait_healthy(f"http://127.0.0.1:{ports['public_port']}")

    def _healthy(self, url: str) -> bool:
        try:
            return requests.get(f"{url}/hub/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def _fail_if_dead(self) -> None:
        for name in ("proxy", "hub"):
            if self.running(name) is None:
                last = procs.last_meaningful_line(self.log(name))
                error = PortTaken if ("Address already in use" in last or "EADDRINUSE" in last) else HarnessError
                raise error(f"{name} exited during start: {last} (full log: {self.log(name)})")
        # configurable-http-proxy logs a failed listen and keeps running without its port
        proxy_log = self.log("proxy")
        if proxy_log.is_file() and proxy_log.stat().st_size > self._proxy_log_offset:
            with open(proxy_log, "rb") as f:
                f.seek(self._proxy_log_offset)
                if b"EADDRINUSE" in f.read():
                    raise PortTaken(f"proxy could not listen: a port is in use (full log: {proxy_log})")

    def _wait_healthy(self, url: str) -> None:
        wait_until(
            f"the hub at {url}/hub/health through the proxy",
            lambda: self._healthy(url),
            START_TIMEOUT,
            fail_fast=self._fail_if_dead,
        )

    # ---- remove -------------------------------------------------------------------
    def remove(self, purge: bool = False, keep_cluster: bool = False) -> str:
        if not self.state_dir.exists():
            return f"nothing deployed in namespace {self.namespace} (context local): nothing to remove"
        stopped_servers = []
        hub = self.running("hub")
        if hub is not None:
            stopped_servers = self._stop_user_servers()
        for name in ("hub", "proxy"):
            proc = self.running(name)
            if proc is not None:
                procs.stop(proc)
        # user servers the hub no longer knew about, and anything they started
        procs.stop_all(self.owned_processes())
        if purge:
            shutil.rmtree(self.state_dir)
            return f"removed namespace {self.namespace} and all its data ({self.state_dir})"
        state = self.read_state()
        if state:
            state.pop("hub", None)
            state.pop("proxy", None)
            state.pop("fingerprint", None)
            state.pop("restarts", None)
            self._write_json(self.state_file, state)
        servers = f"stopped {len(stopped_servers)} user server(s); " if stopped_servers else ""
        return (
            f"{servers}stopped hub and proxy of namespace {self.namespace}; kept homes, database "
            f"and secret in {self.state_dir} (`invoke remove --purge` deletes them)"
        )

    def _stop_user_servers(self) -> list[str]:
        try:
            api = self.admin_api()
            users = api.users(state="active")
        except (HarnessError, requests.RequestException):
            return []  # hub unhealthy: its servers are swept by process afterwards
        names = [u["name"] for u in users if u.get("servers")]
        for name in names:
            for server in users_servers(users, name):
                api.stop_server(name, server)
        for name in names:
            try:
                api.wait_server_stopped(name, timeout=30)
            except HarnessError:
                pass
        return names

    # ---- status -------------------------------------------------------------------
    def admin_api(self) -> HubAPI:
        state = self.read_state()
        if not state.get("public_port"):
            raise HarnessError(f"nothing deployed in namespace {self.namespace} (context local)")
        return HubAPI(
            f"http://127.0.0.1:{state['public_port']}", self.store.get(HUB_SECRET, "hub.services.hubharness.apiToken")
        )

    def _auth_secret_name(self) -> str:
        values_json = self.state_dir / "values.json"
        values = json.loads(values_json.read_text()) if values_json.is_file() else {}
        return chart_values.auth_secret_ref(values)[0]

    def status(self) -> dict:
        state = self.read_state()
        if not state:
            raise HarnessError(
                f"nothing deployed in namespace {self.namespace} (context local): run `invoke deploy` first"
            )
        url = f"http://127.0.0.1:{state['public_port']}"
        secret_file = self.store.path(self._auth_secret_name())
        info = {
            "context": self.context,
            "namespace": self.namespace,
            "state_dir": str(self.state_dir),
            "hub_url": url,
            "chart": state.get("chart"),
            "deployed_at": state.get("deployed_at"),
            "secret_file": str(secret_file),
            "users": [],
            "secret": f"{secret_file} (state: {self.state_dir})",
        }
        for name in ("hub", "proxy"):
            proc = self.running(name)
            info[name] = {"pid": proc.pid if proc else None, "running": proc is not None}
        info["hub"]["healthy"] = bool(info["hub"]["running"]) and self._healthy(url)
        info["components"] = [
            {
                "name": name,
                "running": info[name]["running"],
                "ready": info[name].get("healthy", info[name]["running"]),
                "restarts": state.get("restarts", {}).get(name, 0),
                "detail": (
                    f"pid {info[name]['pid']}, {state.get('restarts', {}).get(name, 0)} restart(s)"
                    if info[name]["pid"]
                    else "not running"
                ),
            }
            for name in ("hub", "proxy")
        ]
        if info["hub"]["healthy"]:
            try:
                info["users"] = users_of(self.admin_api())
            except (HarnessError, requests.RequestException) as e:
                info["users_error"] = str(e)
        return info

    # ---- backup / restore, and what remove leaves behind ------------------------------
    def backup(self, to: Path | None = None):
        from .local_backup import run_backup

        return run_backup(self, to)

    def restore(self, archive: Path, force: bool = False):
        from .local_backup import run_restore

        return run_restore(self, archive, force=force)

    def owned_processes(self) -> list[psutil.Process]:
        state = self.read_state()
        markers = {"HUBHARNESS_STATE_DIR": str(self.state_dir)}
        if state.get("hub_port"):
            markers["JUPYTERHUB_API_URL"] = f"127.0.0.1:{state['hub_port']}/"
        return procs.processes_under(self.state_dir, markers)

    def ports(self) -> list[int]:
        state = self.read_state()
        return [state[k] for k in ("public_port", "hub_port", "proxy_api_port") if state.get(k)]

    def user_data_kept(self, username: str) -> Fact:
        """The user's files in their home, and the user in the hub database (read-only)."""
        db, home = self.state_dir / "jupyterhub.sqlite", self.state_dir / "home" / username
        files = sorted(p.relative_to(home).as_posix() for p in home.rglob("*") if p.is_file()) if home.is_dir() else []
        known = False
        if db.is_file():
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
            try:
                known = conn.execute("SELECT 1 FROM users WHERE name = ?", (username,)).fetchone() is not None
            finally:
                conn.close()
        return Fact(
            bool(files) and known,
            f"{username}'s home holds {len(files)} file(s) ({', '.join(files[:5]) or 'none'}); "
            f"{username} is {'in' if known else 'not in'} the hub database "
            f"({'kept' if db.is_file() else 'gone'}: {db})",
        )

    def leftovers(self, ports: list[int]) -> list[str]:
        """What is still here of this namespace: its state dir, processes, listeners."""
        left = []
        if self.state_dir.exists():
            left.append(f"state dir {self.state_dir}")
        left += [f"process {p.pid} ({p.name()})" for p in self.owned_processes()]
        left += [f"a listener on 127.0.0.1:{port}" for port in ports if procs.port_in_use(port)]
        return left

    def deployment(self) -> LocalDeployment:
        state = self.read_state()
        if not state or not state.get("hub"):
            raise HarnessError(
                f"nothing deployed in namespace {self.namespace} (context local): run `invoke deploy` first"
            )
        return LocalDeployment(self, state)


def users_servers(users: list[dict], name: str) -> list[str]:
    for user in users:
        if user["name"] == name:
            return list((user.get("servers") or {}).keys())
    return []


class LocalDeployment(Deployment):
    """Facts about a running local deployment, for the conformance suites."""

    def __init__(self, target: LocalTarget, state: dict):
        self.target = target
        self.state = state
        self.context = target.context
        self.namespace = target.namespace
        self.chart_version = state.get("chart", chart.DEFAULT_CHART_VERSION)
        self.public_url = f"http://127.0.0.1:{state['public_port']}"
        self.values = json.loads((target.state_dir / "values.json").read_text())
        self.values_files = [Path(f) for f in state.get("values_files", [])]
        self.auth_ref = chart_values.auth_secret_ref(self.values)

    @property
    def expected_hub_version(self) -> str:
        return chart.hub_version(self.chart_version)

    @functools.cached_property
    def host(self):
        """testinfra's view of this machine: `host.file(p).mode == 0o600` reads as the check."""
        import testinfra

        return testinfra.get_host("local://")

    @property
    def hub_target(self) -> str:
        return f"http://127.0.0.1:{self.state['hub_port']}"

    def hub_instance(self) -> str:
        return json.dumps(self.target.read_state().get("hub"), sort_keys=True)

    def auth_password(self) -> Secret:
        return self.target.store.get(*self.auth_ref)

    def service_token(self) -> Secret:
        return self.target.store.get(HUB_SECRET, "hub.services.hubharness.apiToken")

    def secrets(self) -> list[Secret]:
        return self.target.store.all_values()

    # NS
    def _owned_processes(self) -> list[psutil.Process]:
        return [p for p in (self.target.running("hub"), self.target.running("proxy")) if p]

    def state_is_isolated(self) -> Fact:
        d = self.target.state_dir
        mode = self.host.file(str(d)).mode
        if mode & 0o077:
            return Fact(False, f"state dir {d} is readable by others (mode {mode:o}, want 700)")
        for proc in self._owned_processes():
            cwd = Path(proc.cwd())
            if cwd != d and d not in cwd.parents:
                return Fact(False, f"process {proc.pid} ({proc.name()}) runs in {cwd}, outside {d}")
        ours = {self.state[k] for k in ("public_port", "hub_port", "proxy_api_port")}
        for other in sorted(p for p in d.parent.iterdir() if p.is_dir() and p != d):
            state_file = other / "state.json"
            if state_file.is_file():
                theirs = json.loads(state_file.read_text())
                clash = ours & {theirs.get(k) for k in ("public_port", "hub_port", "proxy_api_port")}
                if clash and theirs.get("hub"):
                    return Fact(False, f"namespace {other.name} uses the same port(s) {sorted(clash)}")
        return Fact(True, f"{d} is private (700); hub and proxy run inside it; no port shared")

    # SEC
    def secret_has_key(self) -> Fact:
        name, key = self.auth_ref
        data = self.target.store.read(name)
        return Fact(bool(data.get(key)), f"secret {name} ({self.target.store.path(name)}) key {key}")

    def secret_is_private(self) -> Fact:
        """Every Secret of the namespace (the password's and the chart's managed one) 0600,
        in a folder only its owner enters."""
        folder = self.target.store.path(self.auth_ref[0]).parent
        dir_mode = self.host.file(str(folder)).mode
        modes = {p.name: self.host.file(str(p)).mode for p in sorted(folder.glob("*.json"))}
        open_ = [f"{name} ({mode:o})" for name, mode in modes.items() if mode != 0o600]
        return Fact(
            bool(modes) and not open_ and not dir_mode & 0o077,
            f"secrets in {folder} (mode {dir_mode:o}, want 700): "
            + (
                f"readable by others: {', '.join(open_)} (want 600)"
                if open_
                else f"{', '.join(modes) or 'none'} at 600"
            ),
        )

    def hub_reads_password_from_secret(self) -> Fact:
        hub = self.target.running("hub")
        if hub is None:
            return Fact(False, "hub process is not running")
        env_value = hub.environ().get(AUTH_ENV)
        if env_value is None:
            return Fact(False, f"hub process has no {AUTH_ENV} in its environment")
        same = hmac.compare_digest(env_value, str(self.auth_password()))
        return Fact(same, f"hub's {AUTH_ENV} {'matches' if same else 'differs from'} secret {'/'.join(self.auth_ref)}")

    def leak_surfaces(self) -> Iterator[tuple[str, str]]:
        d = self.target.state_dir
        for path in sorted(d.rglob("*")):
            if (
                path.is_file()
                and "secrets" not in path.relative_to(d).parts[:1]
                and path.suffix not in (".sqlite",)
                and path.stat().st_size < 50_000_000
            ):
                if "home" in path.relative_to(d).parts[:1]:
                    continue  # users' own files
                yield str(path), path.read_text(errors="replace")
        for path in self.state.get("values_files", []):
            if Path(path).is_file():
                yield path, Path(path).read_text(errors="replace")
        for proc in psutil.process_iter(["pid", "cmdline"]):
            cmdline = " ".join(proc.info.get("cmdline") or [])
            if cmdline:
                yield f"command line of pid {proc.info['pid']}", cmdline

    # RDY / PRX
    def components(self) -> list[Component]:
        out = []
        for name, health in (("hub", f"{self.hub_target}/hub/health"), ("proxy", f"{self.public_url}/_chp_healthz")):
            proc = self.target.running(name)
            ready, detail = False, "process not running"
            if proc is not None:
                try:
                    code = requests.get(health, timeout=5).status_code
                    ready, detail = code == 200, f"pid {proc.pid}, {health} → {code}"
                except requests.RequestException as e:
                    detail = f"pid {proc.pid}, {health} unreachable: {type(e).__name__}"
            restarts = self.target.read_state().get("restarts", {}).get(name, 0)
            out.append(Component(name, proc is not None, ready, restarts, detail))
        return out

    def proxy_routes(self) -> dict:
        token = self.target.store.get(HUB_SECRET, "hub.config.ConfigurableHTTPProxy.auth_token")
        response = requests.get(
            f"http://127.0.0.1:{self.state['proxy_api_port']}/api/routes",
            headers={"Authorization": f"token {token}"},
            timeout=5,
        )
        response.raise_for_status()
        return response.json()

    # ADM
    def _server_processes(self, username: str) -> tuple[Path, list[psutil.Process]]:
        home = (self.target.state_dir / "home" / username).resolve()
        return home, [p for p in procs.processes_under(home) if "jupyterhub-singleuser" in " ".join(p.cmdline())]

    def user_server_running(self, username: str) -> Fact:
        home, found = self._server_processes(username)
        return Fact(bool(found), f"{len(found)} jupyterhub-singleuser process(es) in {home}")

    def run_in_server(self, username: str, command: str):
        """The command in the server's folder with the server's environment, minus anything
        that could be a credential (values would be on a command line)."""
        home, found = self._server_processes(username)
        if not found:
            raise HarnessError(f"{username} has no running server process in {home}")
        extra_env = chart_values.get(self.values, "singleuser.extraEnv", {})
        keep = (
            {"PATH", "HOME", "LANG", "PYTHONPATH", "JAVA_HOME", "SPARK_HOME"} | set(chart_values.env_entries(extra_env))
        ) - set(chart_values.secret_refs(extra_env))
        environ = found[0].environ()
        env = " ".join(shlex.quote(f"{k}={environ[k]}") for k in sorted(keep & set(environ)))
        return self.host.run(f"cd {shlex.quote(found[0].cwd())} && env -i {env} sh -c {shlex.quote(command)}")

    def hub_database_integrity(self) -> Fact:
        db = self.target.state_dir / "jupyterhub.sqlite"
        if not db.is_file():
            return Fact(False, f"no hub database at {db}")
        try:
            result = backup.integrity(db)
        except sqlite3.Error as e:
            result = f"unreadable ({e})"
        return Fact(result == "ok", f"PRAGMA integrity_check of {db}: {result}")

    def write_diagnostics(self, dest: Path) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        for log in sorted((self.target.state_dir / "logs").glob("*.log")):
            (dest / f"{log.stem}.log.tail").write_text(procs.log_tail(log, 200))
        (dest / "components.txt").write_text(
            "\n".join(f"{c.name}: running={c.running} ready={c.ready} {c.detail}" for c in self.components())
        )
