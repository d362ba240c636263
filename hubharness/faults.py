"""Faults: ways to break a deployment, one for every check in the catalogue.

A fault (hubharness.checks.Fault) is what `invoke selftest` does to a fresh namespace
before it runs verify, and expects verify to fail the checks that name it. It is one or
more of:
- `overlay`: chart values laid over the deployment's (as `--values`), the way a user's
  own values would break it; `{dir}` is the fault's own folder, holding `files`;
- `env`: the environment of deploy (and of verify, whose scratch namespace deploys too);
- `ways`: a target's own way to do it, by kind of target, done to the running deployment
  by the target (Target.do_fault: hubharness.targets.local.faults kills, chmods or
  rewrites; hubharness.targets.kube.faults goes through the API server; a remote hub's
  way is how its TLS front is broken); `redeploy` then runs `invoke deploy` again, as a
  user would bring a hub back;
- `mutant`: a fault in the harness's own operations (backup, restore, remove), planted
  in verify's process by hubharness.mutants, in the operations of the target verify
  runs on: BAK and RMV check those operations.
Which faults a target can do is the target's to say (Target.why_cannot_do); this module
holds what is the same everywhere: the faults, their overlays, and their files.
"""

from __future__ import annotations

import json
import secrets
import shlex
from pathlib import Path

import yaml

from .checks import KUBE, LOCAL, NEEDS_VALUES, PUBLISHED, REMOTE, SPARK_CLUSTER, SPARK_NATIVE, Fault
from .paths import VALUES_DIR
from .targets.base import Target
from .values import load_file

__all__ = ["BY_NAME", "FAULTS", "Fault", "materialise"]


def extra_config(snippet: str) -> str:
    """An overlay adding one hub.extraConfig snippet, run after the base values' ones."""
    body = "\n".join(f"      {line}" for line in snippet.strip().splitlines())
    return f"hub:\n  extraConfig:\n    99-fault: |\n{body}\n"


def user_role_with(scope: str) -> str:
    """An overlay redefining JupyterHub's default `user` role: its own `self`, and `scope`."""
    return f'hub:\n  loadRoles:\n    user:\n      scopes: [self, "{scope}"]\n'


def user_env(**variables: str) -> str:
    """An overlay setting environment variables of user servers (singleuser.extraEnv)."""
    return "singleuser:\n  extraEnv:\n" + "".join(f'    {name}: "{value}"\n' for name, value in variables.items())


def submit_args(needs: str, drop: tuple[str, ...] = (), **conf: str) -> str:
    """An overlay of the PYSPARK_SUBMIT_ARGS of the values that give a deployment what a
    check needs (values/spark-cluster.yaml, values/spark-native.yaml): the `--conf`s of the
    keys dropped taken out, those of the keys given set (dots as __:
    spark__executor__instances), and nothing else changed."""
    given = {key.replace("__", "."): value for key, value in conf.items()}
    values = load_file(VALUES_DIR / NEEDS_VALUES[needs])
    args = shlex.split(values["singleuser"]["extraEnv"]["PYSPARK_SUBMIT_ARGS"])
    keys = {
        n: value.partition("=")[0] for n, (flag, value) in enumerate(zip(args, [*args[1:], ""])) if flag == "--conf"
    }
    missing = set(drop) - set(keys.values())
    if missing:
        raise ValueError(f"{NEEDS_VALUES[needs]}'s PYSPARK_SUBMIT_ARGS set no {', '.join(sorted(missing))}")
    gone = {n for n, key in keys.items() if key in {*drop, *given}}
    kept = [arg for n, arg in enumerate(args) if n not in gone and n - 1 not in gone]
    extra = [part for key, value in given.items() for part in ("--conf", f"{key}={value}")]
    return user_env(PYSPARK_SUBMIT_ARGS=shlex.join([*kept[:-1], *extra, kept[-1]]))


# hub.extraConfig snippets more than one fault uses
LEAKY_SPAWNER = """
_Spawner = c.JupyterHub.spawner_class
if isinstance(_Spawner, str):  # the chart's jupyterhub_config.py names KubeSpawner by its import string
    from traitlets.utils.importstring import import_item
    _Spawner = import_item(_Spawner)
class _LeakySpawner(_Spawner):
    async def stop(self, now=False):
        self.log.warning("fault: %s's server process left running", self.user.name)
        self.clear_state()
c.JupyterHub.spawner_class = _LeakySpawner
"""
STICKY_PROXY = """
from jupyterhub.proxy import ConfigurableHTTPProxy
class _StickyProxy(ConfigurableHTTPProxy):
    async def delete_user(self, user, server_name=""):
        self.log.warning("fault: route of %s kept", user.name)
c.JupyterHub.proxy_class = _StickyProxy
"""


# ---- the faults -----------------------------------------------------------------------
FAULTS: tuple[Fault, ...] = (
    Fault("tls-untrusted-chain", "the front serves a certificate from a CA nobody trusts", ways={REMOTE: "untrusted"}),
    Fault("tls-wrong-host", "the front serves a certificate for wrong.example", ways={REMOTE: "wrong-host"}),
    Fault("tls-expired", "the front serves a certificate that expired yesterday", ways={REMOTE: "expired"}),
    Fault("tls-http-served-in-clear", "plain http serves the hub in clear, no redirect", ways={REMOTE: "no-redirect"}),
    Fault(
        "namespace-terminating",
        "the namespace is being deleted (Terminating), held by a finalizer on helm's release record",
        ways={KUBE: "namespace_terminating"},
    ),
    Fault(
        "foreign-pod-in-namespace",
        "a pod of another release runs in the namespace",
        ways={KUBE: "foreign_pod"},
    ),
    Fault(
        "ingress-points-elsewhere",
        "the ingress sends its host to another service (the hub's)",
        ways={KUBE: "ingress_points_elsewhere"},
    ),
    Fault(
        "state-world-readable",
        "the namespace's state folder is opened to everyone (chmod 755)",
        ways={LOCAL: "chmod_state"},
    ),
    Fault(
        "secret-without-key",
        "the Secret loses its JUPYTERHUB_AUTH_PASSWORD key",
        ways={LOCAL: "drop_secret_key", KUBE: "drop_secret_key"},
    ),
    Fault(
        "user-pod-mounts-the-secret",
        "a pod labelled as a user's server reads the password from the Secret",
        ways={KUBE: "user_pod_reads_the_secret"},
    ),
    Fault(
        "secret-world-readable",
        "the chart's managed Secret (cookie secret, proxy and service tokens) is readable by everyone (chmod 644)",
        ways={LOCAL: "chmod_hub_secret"},
    ),
    Fault(
        "secret-rotated-behind-hub",
        "the Secret gets a new password and the hub is not redeployed",
        ways={LOCAL: "rotate_auth_password", KUBE: "rotate_auth_password"},
    ),
    Fault(
        "admin-password-rotated-behind-hub",
        "the Secret gets a new admin password and the hub is not redeployed",
        ways={LOCAL: "rotate_admin_password", KUBE: "rotate_admin_password"},
    ),
    Fault(
        "published-password",
        "the Secret holds the password the seed's docs publish",
        env={"JUPYTERHUB_AUTH_PASSWORD": "SecretPassword2"},
    ),
    Fault(
        "backdoor-passwords",
        "the authenticator (dummy or shared-password) also accepts the published passwords",
        overlay=extra_config(f"""
from jupyterhub.auth import DummyAuthenticator
from jupyterhub.authenticators.shared import SharedPasswordAuthenticator
def _with_backdoor(authenticate):
    async def backdoor(self, handler, data):
        if data.get("password") in {PUBLISHED!r}:
            return data["username"]
        return await authenticate(self, handler, data)
    return backdoor
for _cls in (DummyAuthenticator, SharedPasswordAuthenticator):
    _cls.authenticate = _with_backdoor(_cls.authenticate)
"""),
    ),
    Fault("password-in-hub-log", "the hub's log gets a line with the password", ways={LOCAL: "password_to_hub_log"}),
    Fault(
        "password-in-an-event",
        "an Event about the hub pod carries the password",
        ways={KUBE: "password_in_an_event"},
    ),
    Fault(
        "user-servers-inherit-secret",
        "user servers keep the hub's JUPYTERHUB_AUTH_PASSWORD (Spawner.env_keep)",
        overlay=extra_config('c.Spawner.env_keep = [*c.Spawner.env_keep, "JUPYTERHUB_AUTH_PASSWORD"]'),
    ),
    Fault(
        "credentials-file-in-homes",
        "a pre-spawn hook writes the hub's password into each user's home",
        not_by_values_on={
            KUBE: "its pre-spawn hook writes into the home from the hub's own disk; on kubernetes a home is "
            "a volume of the user's pod"
        },
        overlay=extra_config("""
import os
def _write_credentials(spawner):
    os.makedirs(spawner.home_dir, exist_ok=True)
    with open(os.path.join(spawner.home_dir, ".hub-credentials"), "w") as f:
        f.write("password=" + os.environ["JUPYTERHUB_AUTH_PASSWORD"] + "\\n")
c.Spawner.pre_spawn_hook = _write_credentials
"""),
    ),
    Fault(
        "hub-crashed-and-restarted",
        "the hub is killed and `invoke deploy` brings it back (a restart)",
        ways={LOCAL: "kill_hub"},
        redeploy=True,
    ),
    Fault(
        "proxy-killed",
        "the proxy process is killed (its supervisor starts it again: a restart)",
        ways={LOCAL: "kill_proxy"},
    ),
    Fault(
        "hub-container-restarted",
        "the hub container's first process is ended (SIGTERM): the kubelet starts it again, a restart",
        ways={KUBE: "restart_hub"},
    ),
    Fault(
        "proxy-container-restarted",
        "the proxy container's first process is ended (SIGTERM): the kubelet starts it again, a restart",
        ways={KUBE: "restart_proxy"},
    ),
    Fault(
        "hub-hangs",
        "the hub stops answering, its process alive (SIGSTOP: what a liveness probe is for)",
        ways={LOCAL: "freeze_hub"},
    ),
    Fault(
        "hub-not-the-charts",
        "the deployment is recorded with a chart whose JupyterHub is not the one running",
        ways={LOCAL: "record_another_chart"},
    ),
    Fault(
        "release-records-another-chart",
        "helm's release record names a chart whose JupyterHub is not the one the hub runs",
        ways={KUBE: "record_another_chart"},
    ),
    Fault(
        "hub-route-hijacked",
        "the proxy's / route points at a port where nothing listens",
        ways={LOCAL: "hijack_hub_route"},
    ),
    Fault(
        "proxy-forgets-user-routes",
        "the hub never adds a user's route to the proxy",
        overlay=extra_config("""
from jupyterhub.proxy import ConfigurableHTTPProxy
class _ForgetfulProxy(ConfigurableHTTPProxy):
    async def add_user(self, user, server_name="", client=None):
        self.log.warning("fault: no route added for %s", user.name)
c.JupyterHub.proxy_class = _ForgetfulProxy
"""),
    ),
    Fault(
        "proxy-keeps-stopped-routes",
        "the hub never deletes a stopped server's route",
        overlay=extra_config(STICKY_PROXY),
    ),
    Fault(
        "any-password-logs-in",
        "the authenticator (dummy or shared-password) takes any password, as a DummyAuthenticator without one",
        overlay=extra_config("""
from jupyterhub.auth import DummyAuthenticator
from jupyterhub.authenticators.shared import SharedPasswordAuthenticator
async def _any_password(self, handler, data):
    return data["username"]
DummyAuthenticator.authenticate = SharedPasswordAuthenticator.authenticate = _any_password
"""),
    ),
    Fault(
        "user-password-logs-admins-in",
        "SharedPasswordAuthenticator also lets admin users in with the user password, as admins",
        overlay=extra_config("""
from secrets import compare_digest
from jupyterhub.authenticators.shared import SharedPasswordAuthenticator
_authenticate = SharedPasswordAuthenticator.authenticate
async def _lax(self, handler, data):
    if data["username"] in self.admin_users and compare_digest(data["password"], self.user_password or ""):
        return {"name": data["username"], "admin": True}
    return await _authenticate(self, handler, data)
SharedPasswordAuthenticator.authenticate = _lax
"""),
    ),
    Fault(
        "admin-password-opens-a-group",
        "the admin password is also a group password (SharedPasswordAuthenticator.password_groups): "
        "it logs non-admins in",
        overlay=extra_config("""
import os
c.Authenticator.manage_groups = True
c.SharedPasswordAuthenticator.password_groups = {os.environ["JUPYTERHUB_ADMIN_PASSWORD"]: ["by-admin-password"]}
"""),
    ),
    Fault(
        "xsrf-not-enforced",
        "the hub does not check XSRF tokens",
        overlay=extra_config('c.JupyterHub.tornado_settings = {"xsrf_cookies": False}'),
    ),
    Fault(
        "no-admin-user",
        "the hub makes nobody admin (admin_users cleared in hub.extraConfig)",
        overlay=extra_config("c.Authenticator.admin_users = set()"),
    ),
    Fault(
        "everyone-admin",
        "verify's own users are made admins",
        overlay="""
hub:
  config:
    Authenticator:
      admin_users: [admin, verify-alice, verify-bob]
""",
    ),
    Fault(
        "servers-open-to-all-users",
        "every user may access every server (the user role gets access:servers)",
        overlay="""
hub:
  loadRoles:
    user:
      scopes: [self, "access:servers"]
""",
    ),
    # the `user` role widened by one line of values, as a user's own values would widen it
    *(
        Fault(name, f"{does} (the user role: [self, {scope}])", overlay=user_role_with(scope))
        for name, scope, does in (
            ("users-may-read-every-user", "read:users", "every user may read every user's model"),
            ("users-may-administer-users", "admin:users", "every user may list, create, change and delete users"),
            ("users-may-administer-servers", "admin:servers", "every user may start and stop every user's server"),
            ("users-may-manage-every-token", "tokens", "every user may read, make and revoke every user's tokens"),
            ("users-may-shut-the-hub-down", "shutdown", "every user may shut the hub down"),
        )
    ),
    Fault(
        "jupyterlab-cannot-render",
        "JupyterLab's application assets are missing (JUPYTERLAB_DIR is empty)",
        overlay=user_env(JUPYTERLAB_DIR="{dir}/no-lab"),
        files={"no-lab/README": "JupyterLab's assets are not here: a selftest fault\n"},
    ),
    Fault(
        "spawn-fails",
        "the single-user command does not exist",
        overlay="""
singleuser:
  cmd: /nonexistent/jupyterhub-singleuser
""",
    ),
    Fault(
        "kernel-broken",
        "the notebook's python3 kernel exits at once (a broken kernelspec first on JUPYTER_PATH)",
        overlay=user_env(JUPYTER_PATH="{dir}/jupyter"),
        files={
            "jupyter/kernels/python3/kernel.json": json.dumps(
                {"argv": ["false", "{connection_file}"], "display_name": "Python 3 (broken)", "language": "python"}
            )
        },
    ),
    Fault(
        "wrong-pyspark",
        "the notebook imports pyspark 3.4.0 ahead of the image's",
        overlay=user_env(PYTHONPATH="{dir}/site"),
        files={"site/pyspark/__init__.py": "__version__ = '3.4.0'\n"},
    ),
    Fault(
        "image-python-paths",
        "PYSPARK_PYTHON and PYSPARK_DRIVER_PYTHON name a python the image does not have",
        overlay=user_env(
            PYSPARK_PYTHON="/opt/conda/envs/missing/bin/python",
            PYSPARK_DRIVER_PYTHON="/opt/conda/envs/missing/bin/python",
        ),
    ),
    Fault(
        "numpy-broken",
        "numpy cannot be imported in the notebook",
        overlay=user_env(PYTHONPATH="{dir}/site"),
        files={"site/numpy/__init__.py": "raise ImportError('fault: numpy is broken')\n"},
    ),
    Fault(
        "spark-splits-output",
        "Spark writes at most one record per file (spark.sql.files.maxRecordsPerFile)",
        overlay=user_env(SPARK_CONF_DIR="{dir}/spark-conf"),
        files={"spark-conf/spark-defaults.conf": "spark.sql.files.maxRecordsPerFile 1\n"},
    ),
    Fault(
        "spark-worker-down",
        "a Spark worker goes for good, as a lost node (local: the last worker and its supervisor stopped; "
        "kubernetes: the workers' Deployment scaled one down)",
        ways={LOCAL: "spark_worker_down", KUBE: "spark_worker_down"},
    ),
    Fault(
        "spark-apps-take-every-core",
        "notebooks ask for no spark.cores.max: the first application takes every core of the cluster",
        overlay=submit_args(SPARK_CLUSTER, drop=("spark.cores.max",)),
    ),
    Fault(
        "spark-stop-does-nothing",
        "a library in the image turns SparkSession.stop() into nothing: applications and executors stay",
        overlay=user_env(PYTHONPATH="{dir}/site"),
        files={
            "site/sitecustomize.py": """
import importlib.abc, importlib.util, sys
class _KeepSessions(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "pyspark.sql.session":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module
        def exec_module(module):
            run(module)
            module.SparkSession.stop = lambda self: None
        spec.loader.exec_module = exec_module
        return spec
sys.meta_path.insert(0, _KeepSessions())
"""
        },
    ),
    # native Spark on Kubernetes (values/spark-native.yaml)
    Fault(
        "spark-driver-role-missing",
        "the Role that lets the user pods' service account manage executor pods is deleted",
        ways={KUBE: "delete_spark_driver_role"},
    ),
    Fault(
        "driver-ports-closed",
        "the values' singleuser.networkPolicy.ingress opening for executors is gone: the chart's policy alone",
        overlay="singleuser:\n  networkPolicy:\n    ingress: []\n",
    ),
    Fault(
        "one-executor-pod",
        "notebooks ask for one executor pod (spark.executor.instances=1)",
        overlay=submit_args(SPARK_NATIVE, spark__executor__instances="1"),
    ),
    Fault(
        "executors-without-owner",
        "notebooks do not name their pod to Spark (no spark.kubernetes.driver.pod.name): executors get no owner",
        overlay=submit_args(SPARK_NATIVE, drop=("spark.kubernetes.driver.pod.name",)),
    ),
    Fault(
        "executor-pods-kept",
        "Spark keeps executor pods when they end (spark.kubernetes.executor.deleteOnTermination=false)",
        overlay=submit_args(SPARK_NATIVE, spark__kubernetes__executor__deleteOnTermination="false"),
    ),
    Fault(
        "users-hidden-from-harness",
        "the harness's role may list only the admin user",
        overlay="""
hub:
  loadRoles:
    hubharness:
      scopes: ["list:users!user=admin", "read:users!user=admin", "admin:servers", read:hub, proxy]
""",
    ),
    Fault(
        "user-list-hides-users",
        "the hub's user list (GET /hub/api/users) leaves out every user whose name starts with verify-, for any admin",
        overlay=extra_config("""
import json
from jupyterhub.apihandlers.users import UserListAPIHandler
_write = UserListAPIHandler.write
def _hiding(self, chunk):
    if isinstance(chunk, str):
        data = json.loads(chunk)
        items = data["items"] if isinstance(data, dict) else data
        kept = [u for u in items if not u["name"].startswith("verify-")]
        if isinstance(data, dict):
            data["items"] = kept
        else:
            data = kept
        chunk = json.dumps(data)
    return _write(self, chunk)
UserListAPIHandler.write = _hiding
"""),
    ),
    Fault(
        "stopped-server-still-answers",
        "the spawner reports a server stopped and leaves it running, and the hub keeps its route: "
        "the server still answers at its URL",
        overlay=extra_config(LEAKY_SPAWNER + STICKY_PROXY),
    ),
    Fault(
        "spawner-leaves-servers-running",
        "the spawner reports a server stopped and leaves its process running",
        overlay=extra_config(LEAKY_SPAWNER),
    ),
    Fault(
        "hub-stops-servers-when-it-stops",
        "the hub stops every user's server when it stops (JupyterHub.cleanup_servers: true)",
        overlay="hub:\n  config:\n    JupyterHub:\n      cleanup_servers: true\n",
    ),
    Fault(
        "cookie-secret-changes-on-restart",
        "the hub makes a new cookie secret each time it starts, instead of the Secret's",
        overlay=extra_config("import os\nc.JupyterHub.cookie_secret = os.urandom(32)"),
    ),
    Fault(
        "hub-never-checks-routes",
        "the hub never checks the proxy's routes (JupyterHub.last_activity_interval: 0)",
        overlay="hub:\n  config:\n    JupyterHub:\n      last_activity_interval: 0\n",
    ),
    Fault(
        "hub-never-polls-servers",
        "the hub never polls users' servers (Spawner.poll_interval: 0)",
        overlay="hub:\n  config:\n    Spawner:\n      poll_interval: 0\n",
    ),
    Fault(
        "database-in-memory",
        "the hub keeps its database in memory (hub.db.type sqlite-memory)",
        overlay="""
hub:
  db:
    type: sqlite-memory
""",
    ),
    Fault(
        "password-written-in-values",
        "the password is written literally into the values (hub.extraConfig)",
        env={"JUPYTERHUB_AUTH_PASSWORD": "{password}"},
        overlay=extra_config('c.DummyAuthenticator.password = "{password}"'),
    ),
    Fault(
        "backup-lies-about-checksums",
        "backup writes checksums that are not its files'",
        mutant="backup-lies-about-checksums",
    ),
    Fault(
        "restore-corrupts-database", "restore leaves a damaged hub database behind", mutant="restore-corrupts-database"
    ),
    Fault(
        "backup-tears-files",
        "backup archives only the first half of larger files",
        mutant="backup-tears-files",
    ),
    Fault(
        "restore-skips-archive-check",
        "restore extracts an archive without checking it",
        mutant="restore-skips-archive-check",
    ),
    Fault("remove-deletes-homes", "remove without --purge deletes the homes", mutant="remove-deletes-homes"),
    Fault(
        "rotation-restarts-nothing",
        "rotate-password writes the new password and restarts nothing: the hub keeps the old one",
        mutant="rotation-restarts-nothing",
    ),
    Fault(
        "rotation-stops-servers",
        "rotate-password stops every user's server when it restarts the hub",
        mutant="rotation-stops-servers",
    ),
    Fault("remove-twice-fails", "remove fails when nothing is running", mutant="remove-twice-fails"),
    Fault("purge-keeps-state", "remove --purge keeps the state folder", mutant="purge-keeps-state"),
    Fault(
        "remove-quiet-when-nothing-deployed",
        "remove of nothing claims it removed something",
        mutant="remove-quiet-when-nothing-deployed",
    ),
    Fault(
        "spawner-fails-every-third-spawn",
        "the spawner fails every third spawn (a flaky node, say)",
        overlay=extra_config("""
import itertools
_Spawner = c.JupyterHub.spawner_class
if isinstance(_Spawner, str):  # the chart's jupyterhub_config.py names KubeSpawner by its import string
    from traitlets.utils.importstring import import_item
    _Spawner = import_item(_Spawner)
_spawns = itertools.count(1)
class _FlakySpawner(_Spawner):
    async def start(self):
        if next(_spawns) % 3 == 0:
            raise RuntimeError("fault: every third spawn fails")
        return await super().start()
c.JupyterHub.spawner_class = _FlakySpawner
"""),
    ),
    Fault(
        "spawns-slower-than-the-bound",
        "every spawn waits 61 s before the server starts (a slow image pull or node scale-up)",
        overlay=extra_config("""
import asyncio
_Spawner = c.JupyterHub.spawner_class
if isinstance(_Spawner, str):  # the chart's jupyterhub_config.py names KubeSpawner by its import string
    from traitlets.utils.importstring import import_item
    _Spawner = import_item(_Spawner)
class _SlowSpawner(_Spawner):
    async def start(self):
        self.log.warning("fault: %s's spawn waits 61 s", self.user.name)
        await asyncio.sleep(61)
        return await super().start()
c.JupyterHub.spawner_class = _SlowSpawner
c.Spawner.start_timeout = 240
"""),
    ),
    Fault(
        "image-puller-pull-backoff",
        "the continuous image puller is told to pull an image no registry has (a typo in the image): "
        "its pod stays in ImagePullBackOff",
        ways={KUBE: "image_puller_pull_backoff"},
    ),
    Fault(
        "homes-filled-past-capacity",
        "each home is filled with 2 MiB at start (singleuser.lifecycleHooks.postStart) against a "
        "capacity of 1 MiB: a home past its claim's capacity",
        overlay=yaml.safe_dump(
            {
                "singleuser": {
                    "storage": {"capacity": "1Mi"},
                    "lifecycleHooks": {
                        "postStart": {
                            "exec": {"command": ["sh", "-c", 'head -c 2097152 /dev/zero > "$HOME/hubharness-filler"']}
                        }
                    },
                }
            },
            sort_keys=False,
        ),
    ),
    Fault(
        "server-memory-limit-below-use",
        "users' servers are given a memory limit of 16 MiB (16M, as the spawner reads it), below what a server uses "
        "(a local process is not confined by it; a pod would be OOM-killed)",
        overlay="singleuser:\n  memory:\n    limit: 16M\n",
    ),
)

BY_NAME = {fault.name: fault for fault in FAULTS}


def materialise(fault: Fault, work: Path, target: type[Target] = Target) -> tuple[list[str], dict[str, str]]:
    """The fault's files and overlay written into its own folder `work`: the `--values`
    arguments and the environment it adds to deploy (a password it writes somewhere is
    a fresh one). Its files go where the target's servers find them
    (Target.place_fault_files: on kubernetes, into each user pod as it starts), where
    `{dir}` then points."""
    password = secrets.token_urlsafe(18)
    folder, args = target.place_fault_files(fault, work)

    def fill(text: str) -> str:
        return text.replace("{dir}", folder).replace("{password}", password)

    if fault.overlay:
        (work / "values.yaml").write_text(fill(fault.overlay))
        args += ["--values", str(work / "values.yaml")]
    return args, {k: fill(v) for k, v in fault.env.items()}
