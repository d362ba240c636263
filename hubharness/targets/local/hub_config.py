# jupyterhub_config.py for the local target.
#
# It applies the chart values the way zero-to-jupyterhub's own jupyterhub_config.py
# does (hub.config sections, hub.services + hub.loadRoles, singleuser.* spawner
# traits, hub.extraConfig snippets executed in key order), with a local process
# spawner in place of KubeSpawner. Written by us; run by JupyterHub with
# HUBHARNESS_STATE_DIR pointing at the deployment's state dir.
#
# It imports nothing of the harness, as the chart's config reads only what is mounted:
# the hub may run from a virtualenv of another JupyterHub (an upgrade between charts),
# so what it needs of the harness comes in runtime.json (target.hub_runtime).
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

state = Path(os.environ["HUBHARNESS_STATE_DIR"])
values = json.loads((state / "values.json").read_text())
runtime = json.loads((state / "runtime.json").read_text())
# The chart mounts its managed Secret "hub" into the hub; locally it is this file.
hub_secret = json.loads((state / "secrets" / "hub.json").read_text())


def get_config(dotted, default=None):
    node = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def set_if_not_none(section, trait, key):
    value = get_config(key)
    if value is not None:
        setattr(section, trait, value)


# --- what the chart fixes for every deployment, with local processes ------------
from jupyterhub.spawner import SimpleLocalProcessSpawner

# The notebook image's bin folder (/opt/conda/bin) is, here, the harness's virtualenv:
# user servers run from it, whichever JupyterHub the hub itself runs.
image_bin = runtime["image_bin"]


def local_path(value):
    image = runtime["image_bin_in_image"]
    return image_bin + value[len(image) :] if value == image or value.startswith(image + "/") else value


BIND_ATTEMPTS = 3
BIND_WAIT = 20  # seconds a spawn waits for its server to bind, before the hub's own wait


def _listens(pid, port):
    """The process holds a listening TCP socket on the port (its fds against /proc/net/tcp*)."""
    try:
        inodes = {
            os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1]
            for fd in os.listdir(f"/proc/{pid}/fd")
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:[")
        }
    except OSError:
        return False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port and fields[9] in inodes:
                return True
    return False


def _stat(path):
    """The fields of a /proc/<pid>/stat after the command's name (state, ppid, …), or None."""
    try:
        return path.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _processes_under(pid):
    """The processes below pid (its kernels, their JVMs), each as (pid, start time) from /proc."""
    children = {}
    for path in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat(path)
        if fields:
            children.setdefault(int(fields[1]), []).append((int(path.parent.name), fields[19]))
    found, todo = [], list(children.get(pid, []))
    while todo:
        found.append(todo.pop())
        todo.extend(children.get(found[-1][0], []))
    return found


def _still(process):
    """The process runs (not a zombie) and is the one seen: same pid, same start time."""
    pid, started = process
    fields = _stat(Path(f"/proc/{pid}/stat"))
    return fields is not None and fields[0] != "Z" and fields[19] == started


async def _end(processes, timeout=10):
    """SIGKILL what still runs of them, and wait (bounded) until none does."""
    for pid, _ in filter(_still, processes):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    deadline = time.monotonic() + timeout
    while any(map(_still, processes)) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


class LoggingLocalProcessSpawner(SimpleLocalProcessSpawner):
    """One log per user server (logs/user-<name>.log), as a pod has its own log; and
    singleuser.lifecycleHooks run as the kubelet runs them: postStart after the server
    process starts and before the spawn is reported done (a hook that fails fails the
    spawn), preStop before the server is stopped; their output goes to the same log."""

    @property
    def log_path(self):
        return state / "logs" / f"user-{self.user.name}.log"

    async def start(self):
        for attempt in range(1, BIND_ATTEMPTS + 1):
            log = open(self.log_path, "ab")  # noqa: ASYNC230, SIM115 — the server process inherits it
            os.chmod(log.name, 0o600)
            offset = log.tell()
            self.popen_kwargs = {**self.popen_kwargs, "stdout": log, "stderr": subprocess.STDOUT}
            try:
                address = await super().start()
            finally:
                log.close()  # the child keeps its own copy of the descriptor
            if not await self._port_was_taken(offset):
                break
            # Another process took the port between JupyterHub's pick and the server's bind
            # (a busy machine): pick again, as a pod never meets another's port.
            self.log.warning(
                "port %s was taken before %s's server bound it (try %d)", self.port, self.user.name, attempt
            )
            self.port = 0
            if attempt == BIND_ATTEMPTS:
                raise RuntimeError(f"{BIND_ATTEMPTS} ports in a row were taken before the server bound them")
        failed = await self._run_hook("postStart")
        if failed:
            await super().stop(now=True)
            raise RuntimeError(
                f"singleuser.lifecycleHooks.postStart {failed}: the server was stopped, as a pod's "
                f"container is (its output: logs/user-{self.user.name}.log)"
            )
        return address

    async def _port_was_taken(self, offset):
        """Until the server listens on its port or exits: True when it exited because
        something else held the port. A server binds as it starts: past BIND_WAIT the hub's
        own wait for it (http_timeout, outside start_timeout) goes on as it always did."""
        deadline = time.monotonic() + min(BIND_WAIT, self.http_timeout)
        loop = asyncio.get_running_loop()
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                said = self.log_path.read_bytes()[offset:].decode("utf-8", "replace")
                return "already in use" in said or "no available port" in said
            if await loop.run_in_executor(None, _listens, self.proc.pid, self.port):  # /proc, off the loop
                return False
            await asyncio.sleep(0.25)
        return False  # the hub's own wait for the server says what happened

    async def stop(self, now=False):
        """preStop, then the server; then whatever it left running (kernels, Spark's JVMs),
        as every process of a pod ends when its container's main process does."""
        await self._run_hook("preStop")  # its failure is logged, and the server stops anyway
        pod = _processes_under(self.pid) if self.pid else []
        try:
            return await super().stop(now=now)
        finally:
            await _end(pod)

    async def _run_hook(self, which):
        """Run the hook in the server's folder and environment; how it failed, or None."""
        command = get_config(f"singleuser.lifecycleHooks.{which}.exec.command")
        if not command:
            return None
        env = self.user_env(self.get_env())
        with open(self.log_path, "ab") as log:  # noqa: ASYNC230 — opened once per hook, for the child
            log.write(f"[hubharness] running singleuser.lifecycleHooks.{which}\n".encode())
            log.flush()
            proc = await asyncio.create_subprocess_exec(
                *[str(part) for part in command], cwd=self.home_dir, env=env, stdout=log, stderr=subprocess.STDOUT
            )
            try:
                code = await asyncio.wait_for(proc.wait(), timeout=self.start_timeout)
                failed = f"exited {code}" if code else None
            except TimeoutError:
                proc.kill()
                await proc.wait()
                failed = f"ran longer than singleuser.startTimeout ({self.start_timeout}s) and was killed"
            log.write(f"[hubharness] singleuser.lifecycleHooks.{which}: {failed or 'done'}\n".encode())
        return failed


c.JupyterHub.spawner_class = LoggingLocalProcessSpawner
c.SimpleLocalProcessSpawner.home_dir_template = str(state / "home" / "{username}")
c.ConfigurableHTTPProxy.should_start = False  # the proxy is its own process, like its own pod
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{runtime['proxy_api_port']}"
c.JupyterHub.bind_url = f"http://127.0.0.1:{runtime['public_port']}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{runtime['hub_port']}"
c.JupyterHub.cleanup_servers = False  # user servers outlive a hub restart, as pods do
c.JupyterHub.last_activity_interval = 60
c.JupyterHub.cookie_secret = bytes.fromhex(hub_secret["hub.config.JupyterHub.cookie_secret"])
c.JupyterHub.pid_file = str(state / "hub.pid")

db_type = get_config("hub.db.type", "sqlite-pvc")
if db_type == "sqlite-memory":
    c.JupyterHub.db_url = "sqlite://"
else:
    c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"

# Single-user servers come from the harness's virtualenv.
c.Spawner.env_keep = ["PATH", "LANG", "LC_ALL", "JAVA_HOME", "VIRTUAL_ENV", "JUPYTERHUB_SINGLEUSER_APP"]
c.Spawner.cmd = [str(Path(image_bin) / "jupyterhub-singleuser")]
if os.geteuid() == 0:
    c.Spawner.args = ["--ServerApp.allow_root=True"]
c.Spawner.http_timeout = 60

# --- singleuser.* as the chart maps them ----------------------------------------
for trait, key in (
    ("start_timeout", "singleuser.startTimeout"),
    ("mem_limit", "singleuser.memory.limit"),
    ("mem_guarantee", "singleuser.memory.guarantee"),
    ("cpu_limit", "singleuser.cpu.limit"),
    ("cpu_guarantee", "singleuser.cpu.guarantee"),
    ("default_url", "singleuser.defaultUrl"),
):
    set_if_not_none(c.Spawner, trait, key)

# Paths of the notebook image that values name resolve to their equivalents here: its
# python is the harness's virtualenv, its home (singleuser.storage.homeMountPath) each
# user's home, so PYSPARK_PYTHON=/opt/conda/bin/python works unchanged.
home_mount = str(get_config("singleuser.storage.homeMountPath") or "/home/jovyan").rstrip("/")


def in_this_machine(value):
    value = local_path(str(value))
    for service, address in runtime.get("services", {}).items():  # a Service's name, as a pod resolves it
        value = value.replace(f"//{service}", f"//{address}")
    if value != home_mount and not value.startswith(home_mount + "/"):
        return value
    return lambda spawner: spawner.home_dir + value[len(home_mount) :]  # the chart's mount, per user


environment = {}
extra_env = get_config("singleuser.extraEnv", {}) or {}
if isinstance(extra_env, list):
    extra_env = {e["name"]: e for e in extra_env}
for name, value in extra_env.items():
    if isinstance(value, dict):
        if "value" in value:
            environment[name] = in_this_machine(value["value"])
        # valueFrom has no local meaning for user servers; the harness reported it.
    else:
        environment[name] = in_this_machine(value)
# The notebook image's Spark (images.py), after a PYTHONPATH the values set themselves.
if runtime.get("pyspark_path"):
    given = environment.get("PYTHONPATH")
    if callable(given):
        environment["PYTHONPATH"] = lambda spawner, given=given: os.pathsep.join(
            [given(spawner), runtime["pyspark_path"]]
        )
    else:
        environment["PYTHONPATH"] = os.pathsep.join(p for p in (given, runtime["pyspark_path"]) if p)
# The image's Spark maps its class-data archive (classdata.py); JVM options the values set
# come after, and win where they disagree.
if runtime.get("java_options"):
    given = environment.get("JDK_JAVA_OPTIONS")
    if callable(given):
        environment["JDK_JAVA_OPTIONS"] = lambda spawner, given=given: f"{runtime['java_options']} {given(spawner)}"
    else:
        environment["JDK_JAVA_OPTIONS"] = " ".join(p for p in (runtime["java_options"], given) if p)
if runtime.get("services"):
    # A pod's own address is where its Spark driver listens for executors; here, loopback.
    environment.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
c.Spawner.environment = environment

if "cmd" in (get_config("singleuser") or {}):
    cmd = get_config("singleuser.cmd")
    c.Spawner.cmd = [cmd] if isinstance(cmd, str) else cmd

# --- hub.services and hub.loadRoles -----------------------------------------------
c.JupyterHub.services = []
c.JupyterHub.load_roles = []
for key, service in (get_config("hub.services", {}) or {}).items():
    service = dict(service)
    service.setdefault("name", key)
    service.pop("apiToken", None)
    service["api_token"] = hub_secret.get(f"hub.services.{key}.apiToken")
    c.JupyterHub.services.append(service)
for key, role in (get_config("hub.loadRoles", {}) or {}).items():
    role = dict(role)
    role.setdefault("name", key)
    c.JupyterHub.load_roles.append(role)

# --- cull.*: jupyterhub-idle-culler as a hub service, as the chart runs it -----------
# The chart's defaults, then the values' own; a key set to null is unset, as helm does.
cull = dict(runtime["cull_defaults"])
for key, value in (get_config("cull", {}) or {}).items():
    if value is None:
        cull.pop(key, None)
    else:
        cull[key] = value
if cull.get("enabled"):
    cull_cmd = [sys.executable, "-m", "jupyterhub_idle_culler", f"--url=http://127.0.0.1:{runtime['hub_port']}/hub/api"]
    for flag, key in (
        ("timeout", "timeout"),
        ("cull-every", "every"),
        ("concurrency", "concurrency"),
        ("max-age", "maxAge"),
    ):
        if cull.get(key):
            cull_cmd.append(f"--{flag}={cull[key]}")
    if cull.get("users"):
        cull_cmd.append("--cull-users")
    if cull.get("adminUsers") is False:
        cull_cmd.append("--cull-admin-users=false")
    if cull.get("removeNamedServers"):
        cull_cmd.append("--remove-named-servers")
    c.JupyterHub.services.append({"name": "jupyterhub-idle-culler", "command": cull_cmd, "cwd": str(state)})
    scopes = ["list:users", "read:users:activity", "read:servers", "delete:servers"]
    if cull.get("users"):
        scopes.append("admin:users")  # deleting users
    c.JupyterHub.load_roles.append(
        {"name": "jupyterhub-idle-culler", "scopes": scopes, "services": ["jupyterhub-idle-culler"]}
    )

# --- hub.* keys the chart turns into one JupyterHub trait each (parity.HUB_TRAITS) -----
for key, trait in runtime["hub_traits"].items():
    set_if_not_none(c.JupyterHub, trait, key)

if get_config("debug.enabled", False):
    c.JupyterHub.log_level = "DEBUG"
    c.Spawner.debug = True

# --- hub.config, as the chart loads it (seeded secrets excluded) -------------------
for section, cfg in (get_config("hub.config", {}) or {}).items():
    cfg = dict(cfg)
    if section == "JupyterHub":
        for secret_key in ("proxy_auth_token", "cookie_secret", "services"):
            cfg.pop(secret_key, None)
    elif section == "ConfigurableHTTPProxy":
        cfg.pop("auth_token", None)
    if not section[:1].isupper():
        sys.exit(f"FATAL: invalid hub.config section name: {section} (must be a class name)")
    c[section].update(cfg)

# --- hub.extraConfig, executed in key order as the chart does ----------------------
for key, snippet in sorted((get_config("hub.extraConfig", {}) or {}).items()):
    print(f"Loading extra config: {key}", file=sys.stderr)
    exec(compile(snippet, f"hub.extraConfig.{key}", "exec"))  # noqa: S102 — as the chart runs it
