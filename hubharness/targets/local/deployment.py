"""Facts about a running local deployment, for the conformance suites: read from the
namespace's state folder, its processes and their environment, and the hub's API."""

from __future__ import annotations

import functools
import hmac
import json
import shlex
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psutil
import requests

from ... import authenticators, backup, chart, daytwo, procs, sparkcluster
from ... import values as chart_values
from ...daytwo import Home
from ...errors import HarnessError
from ...load.figures import Usage
from ...paths import VALUES_DIR
from ...secretstore import Secret
from ...sparkcluster import ClusterView
from ..base import Component, Deployment, Fact
from . import images, spark
from .state import AUTH_ENV, HUB_SECRET, PORTS, StateFolder


class LocalDeployment(Deployment):
    """Facts about a running local deployment, for the conformance suites."""

    def __init__(self, folder: StateFolder, state: dict):
        self.folder = folder
        self.state = state
        self.context = folder.context
        self.namespace = folder.namespace
        self.chart_version = state.get("chart", chart.DEFAULT_CHART_VERSION)
        self.values = json.loads((folder.state_dir / "values.json").read_text())
        self.values_files = [Path(f) for f in state.get("values_files", [])]
        self.values_schema = state.get("values_schema")
        self.auth_ref = chart_values.auth_secret_ref(self.values)
        self.admin_ref = authenticators.admin_secret_ref(self.values)

    def scratch_values_files(self) -> list[Path]:
        """The deployment's values, without its Spark cluster: the scratch namespaces' checks
        never run Spark, and three more clusters would only slow the run."""
        if sparkcluster.settings(self.values) is None:
            return self.values_files
        return [*self.values_files, VALUES_DIR / "scratch-without-spark.yaml"]

    def as_deployed(self, value: str) -> str:
        return images.local_path(value)

    def image_not_mirrored(self) -> str | None:
        return images.not_mirrored(self.values)

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.state['public_port']}"

    @property
    def expected_hub_version(self) -> str:
        return chart.hub_version(self.chart_version)

    @functools.cached_property
    def host(self):
        """testinfra's view of this machine: `host.file(p).mode == 0o600` reads as the check."""
        # Imported here: testinfra is a pytest plugin, and verify loads this module before
        # pytest starts; imported then, pytest warns that it cannot rewrite its asserts.
        import testinfra

        return testinfra.get_host("local://")

    @property
    def hub_target(self) -> str:
        return f"http://127.0.0.1:{self.state['hub_port']}"

    def hub_instance(self) -> str:
        return json.dumps(self.folder.read_state().get("hub"), sort_keys=True)

    def auth_password(self) -> Secret:
        return self.folder.store.get(*self.auth_ref)

    def admin_password(self) -> Secret:
        if self.admin_ref is None:
            raise HarnessError(f"the deployed values route no {authenticators.ADMIN_ENV} to the hub from a Secret")
        return self.folder.store.get(*self.admin_ref)

    def service_token(self) -> Secret:
        return self.folder.store.get(HUB_SECRET, "hub.services.hubharness.apiToken")

    def secrets(self) -> list[Secret]:
        return self.folder.store.all_values()

    # NS
    def _hub_and_proxy(self) -> list[psutil.Process]:
        return [p for p in (self.folder.running("hub"), self.folder.running("proxy")) if p]

    def state_is_isolated(self) -> Fact:
        d = self.folder.state_dir
        mode = self.host.file(str(d)).mode
        if mode & 0o077:
            return Fact(False, f"state dir {d} is readable by others (mode {mode:o}, want 700)")
        for proc in self._hub_and_proxy():
            cwd = Path(proc.cwd())
            if cwd != d and d not in cwd.parents:
                return Fact(False, f"process {proc.pid} ({proc.name()}) runs in {cwd}, outside {d}")
        ours = {self.state[k] for k in PORTS}
        for other in sorted(p for p in d.parent.iterdir() if p.is_dir() and p != d):
            state_file = other / "state.json"
            if state_file.is_file():
                theirs = json.loads(state_file.read_text())
                clash = ours & {theirs.get(k) for k in PORTS}
                if clash and theirs.get("hub"):
                    return Fact(False, f"namespace {other.name} uses the same port(s) {sorted(clash)}")
        return Fact(True, f"{d} is private (700); hub and proxy run inside it; no port shared")

    # SEC
    def secret_has_key(self) -> Fact:
        """Every login password's key (the user one; the admin one where the values route it)."""
        refs = authenticators.password_refs(self.values).values()
        missing = [f"{name}/{key}" for name, key in refs if not self.folder.store.read(name).get(key)]
        where = ", ".join(f"{name} ({self.folder.store.path(name)}) key {key}" for name, key in refs)
        return Fact(not missing, f"{', '.join(missing)} of {where}" if missing else where)

    def secret_is_private(self) -> Fact:
        """Every Secret of the namespace (the password's and the chart's managed one) 0600,
        in a folder only its owner enters."""
        folder = self.folder.store.path(self.auth_ref[0]).parent
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
        return self._hub_env_is_secret(AUTH_ENV, self.auth_ref)

    def hub_reads_admin_password_from_secret(self) -> Fact:
        if self.admin_ref is None:
            return Fact(False, f"the deployed values route no {authenticators.ADMIN_ENV} to the hub from a Secret")
        return self._hub_env_is_secret(authenticators.ADMIN_ENV, self.admin_ref)

    def _hub_env_is_secret(self, env_name: str, ref: tuple[str, str]) -> Fact:
        """The running hub process's variable against the Secret's value now."""
        hub = self.folder.running("hub")
        if hub is None:
            return Fact(False, "hub process is not running")
        env_value = hub.environ().get(env_name)
        if env_value is None:
            return Fact(False, f"hub process has no {env_name} in its environment")
        same = hmac.compare_digest(env_value, str(self.folder.store.get(*ref)))
        return Fact(same, f"hub's {env_name} {'matches' if same else 'differs from'} secret {'/'.join(ref)}")

    def leak_surfaces(self) -> Iterator[tuple[str, str]]:
        d = self.folder.state_dir
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
            proc = self.folder.running(name)
            ready, detail = False, self.folder.waiting(name)
            if proc is not None:
                try:
                    code = requests.get(health, timeout=5).status_code
                    ready, detail = code == 200, f"pid {proc.pid}, {health} → {code}"
                except requests.RequestException as e:
                    detail = f"pid {proc.pid}, {health} unreachable: {type(e).__name__}"
            restarts = self.folder.restarts(name)
            if proc is not None:
                detail += f", {restarts} restart(s)"
            out.append(Component(name, proc is not None, ready, restarts, detail))
        return out

    def proxy_routes(self) -> dict:
        token = self.folder.store.get(HUB_SECRET, "hub.config.ConfigurableHTTPProxy.auth_token")
        response = requests.get(
            f"http://127.0.0.1:{self.state['proxy_api_port']}/api/routes",
            headers={"Authorization": f"token {token}"},
            timeout=5,
        )
        response.raise_for_status()
        return response.json()

    # LOAD
    usage_source = "processes"

    def component_usage(self) -> dict[str, Usage] | str:
        """The hub's and proxy's own processes (not the user servers the hub started)."""
        out = {}
        for name in ("hub", "proxy"):
            proc = self.folder.running(name)
            if proc is None:
                return f"not available: no {name} process"
            try:
                with proc.oneshot():
                    cpu = proc.cpu_times()
                    out[name] = Usage(proc.memory_info().rss, cpu_seconds=cpu.user + cpu.system)
            except psutil.Error as e:
                return f"not available: {name} process {proc.pid}: {type(e).__name__}"
        return out

    def server_usage(self) -> dict[str, Usage] | str:
        """Each user server's process with everything it started (kernels, a Spark driver)."""
        homes = (self.folder.state_dir / "home").resolve()
        out: dict[str, Usage] = {}
        for proc in procs.processes_under(homes) if homes.is_dir() else []:
            try:
                if "jupyterhub-singleuser" not in " ".join(proc.cmdline()):
                    continue
                user = Path(proc.cwd()).resolve().relative_to(homes).parts[0]
                tree = [proc, *proc.children(recursive=True)]
            except (psutil.Error, ValueError, IndexError):
                continue  # stopped while we looked, or not a user's
            memory, cpu = 0, 0.0
            for p in tree:
                try:
                    with p.oneshot():
                        memory += p.memory_info().rss
                        cpu += sum(p.cpu_times()[:2])
                except psutil.Error:
                    pass
            out[f"server:{user}"] = Usage(memory, cpu_seconds=cpu)
        return out

    # OPS
    def homes(self) -> list[Home]:
        """Every user's home folder, each held to singleuser.storage.capacity."""
        capacity = daytwo.home_capacity(self.values)
        folder = self.folder.state_dir / "home"
        return [
            Home(home.name, daytwo.folder_bytes(home), capacity, str(home))
            for home in sorted(folder.iterdir() if folder.is_dir() else [])
            if home.is_dir()
        ]

    # ADM
    def _server_processes(self, username: str) -> tuple[Path, list[psutil.Process]]:
        home = (self.folder.state_dir / "home" / username).resolve()
        return home, [p for p in procs.processes_under(home) if "jupyterhub-singleuser" in _command_line(p)]

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
        for proc in found:  # a server that is stopping may still be listed beside the one that runs
            try:
                environ, cwd = proc.environ(), proc.cwd()
            except psutil.NoSuchProcess:
                continue
            env = " ".join(shlex.quote(f"{k}={environ[k]}") for k in sorted(keep & set(environ)))
            return self.host.run(f"cd {shlex.quote(cwd)} && env -i {env} sh -c {shlex.quote(command)}")
        raise HarnessError(f"{username}'s server processes in {home} ended while they were read")

    # RES
    def stop_component(self, name: str) -> None:
        proc = self.folder.running(name)
        if proc is None:
            raise HarnessError(f"{name} is {self.folder.waiting(name)}: nothing to stop")
        procs.stop(proc)  # its supervisor starts it again, as the kubelet a pod's container

    def kill_user_server(self, username: str) -> None:
        """Every process of the user's server killed at once (the server, its kernels and
        their JVMs), as deleting its pod with no grace period does."""
        home, found = self._server_processes(username)
        if not found:
            raise HarnessError(f"{username} has no running server process in {home}")
        procs.kill_all(procs.processes_under(home))

    def hub_database_integrity(self) -> Fact:
        db = self.folder.database
        if not db.is_file():
            return Fact(False, f"no hub database at {db}")
        try:
            result = backup.integrity(db)
        except sqlite3.Error as e:
            result = f"unreadable ({e})"
        return Fact(result == "ok", f"PRAGMA integrity_check of {db}: {result}")

    # SPK with a Spark cluster
    def spark_cluster(self) -> ClusterView | None:
        settings = sparkcluster.settings(self.values)
        spark_state = self.folder.read_state().get("spark")
        if settings is None or not spark_state:
            return None
        return ClusterView(
            f"spark://{sparkcluster.SERVICE_ADDRESS}", f"http://127.0.0.1:{spark_state['master_ui_port']}", settings
        )

    def spark_components(self) -> list[Component]:
        return spark.components(self.folder)

    def spark_executor_processes(self, app_id: str) -> list[str]:
        """This namespace's executors (under its workers' folders: an app id is unique to
        one master only) of the application."""
        found = []
        for proc in procs.processes_under(self.folder.state_dir / "spark"):
            try:
                cmdline = proc.cmdline()
            except psutil.Error:
                continue
            if "org.apache.spark.executor.CoarseGrainedExecutorBackend" in cmdline and app_id in cmdline:
                found.append(f"executor process {proc.pid} of {app_id}")
        return found

    def write_diagnostics(self, dest: Path) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        for log in sorted((self.folder.state_dir / "logs").glob("*.log")):
            (dest / f"{log.stem}.log.tail").write_text(procs.log_tail(log, 200))
        (dest / "components.txt").write_text(
            "\n".join(f"{c.name}: running={c.running} ready={c.ready} {c.detail}" for c in self.components())
        )


def _command_line(proc: psutil.Process) -> str:
    """What `proc` runs; nothing for one that ended since it was listed."""
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""
