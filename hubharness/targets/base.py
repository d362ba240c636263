"""The contract every target keeps: a `Target` runs one namespace's lifecycle (deploy,
status, backup, restore, remove) and hands the conformance suites a `Deployment`, the
facts they may ask of it, whatever the target.

Suites and commands never branch on the target: pods or processes are the target's
business. Every operation returns one of the typed results below, the same for all
targets, so `commands.py` prints them without knowing who made them.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..backup import BackupResult, RestoreResult
from ..checks import KUBE, LOCAL, REMOTE, SURFACES, Check, Fault
from ..daytwo import Home
from ..errors import HarnessError
from ..load.figures import Usage
from ..load.hub import Hub
from ..secretstore import Secret
from ..sparkcluster import ClusterView

__all__ = [
    "BackupResult",
    "Component",
    "DeployResult",
    "Deployment",
    "Fact",
    "Footprint",
    "RemoveResult",
    "RestoreResult",
    "Status",
    "Target",
]


@dataclass
class Component:
    """hub, proxy, user-scheduler: is it there, Ready, and how often did it restart."""

    name: str
    running: bool
    ready: bool
    restarts: int
    detail: str


@dataclass
class Fact:
    """One observed property with the evidence, so a failed check can say why."""

    holds: bool
    detail: str

    def __bool__(self) -> bool:
        return self.holds


class Deployment(abc.ABC):
    spawn_timeout: float = 90  # seconds from a spawn request to a ready server
    # seconds for verify's scratch work (deploy, BAK's backup, purge, deploy and restore, RMV's spawn)
    scratch_timeout: float = 600
    context: str
    namespace: str
    chart_version: str

    @property
    @abc.abstractmethod
    def public_url(self) -> str:
        """Where users reach the hub (proxy-public), from this machine."""

    values: dict
    values_files: list[Path]
    # where the values came from when no file of this machine holds them (kubernetes: helm's record)
    values_record: str | None = None
    # whether deploy validated the values against the chart's schema ({"validated", "schema"}:
    # where the schema came from, or why there was none); None where not recorded
    values_schema: dict | None = None
    # verify's users are <prefix>alice, <prefix>bob …; a load's <load_prefix>1 …
    user_prefix = "verify-"
    load_prefix = "load-"
    # what the harness may do on the hub, where it is not everything (hubharness.checks:
    # PASSWORD, ADMIN, ADMIN_PASSWORD, for a hub reached by its URL); None: everything
    offers: frozenset[str] | None = None

    @property
    def admin_users(self) -> list[str]:
        """The hub's admins, as the values name them (Authenticator.admin_users)."""
        return list(self.values.get("hub", {}).get("config", {}).get("Authenticator", {}).get("admin_users") or [])

    def user_token(self, username: str) -> Secret:
        """A token for one of verify's users made by the harness's admin token, where users
        cannot log in with a password the harness holds."""
        raise HarnessError(f"verify's users log in with the password on context {self.context}")

    def check_access(self) -> list[str]:
        """The credentials verify holds, tried before any check: a HarnessError where none
        can tell anything, else what verify says first (one line each). Nothing to try
        where the harness deployed the hub and reads its Secrets."""
        return []

    def sweep(self) -> list[str]:
        """Delete what verify made on the hub, where it must leave nothing (a hub it did not
        deploy); what could not be deleted. Nothing to do by default."""
        return []

    @property
    def rendered_values(self) -> dict:
        """The values with the chart's defaults under them, where the target knows them."""
        return self.values

    @property
    @abc.abstractmethod
    def expected_hub_version(self) -> str: ...

    def scratch_values_files(self) -> list[Path]:
        """Values for verify's scratch namespace beside this one (BAK, RMV)."""
        return self.values_files

    def image_not_mirrored(self) -> str | None:
        """Why the servers do not run the notebook image the values name (a target that
        only mirrors images); None where the image itself runs."""
        return None

    def as_deployed(self, value: str) -> str:
        """A value the values give (a path in the image, say) as the user's server sees it."""
        return value

    @abc.abstractmethod
    def auth_password(self) -> Secret:
        """The shared login password, read from the Secret the values point at."""

    admin_ref: tuple[str, str] | None  # (Secret, key) of the admin password, where the values route one

    @abc.abstractmethod
    def admin_password(self) -> Secret:
        """The admin password (SharedPasswordAuthenticator), read from its Secret; an error
        where the values route none to the hub."""

    @abc.abstractmethod
    def service_token(self) -> Secret:
        """The harness's own hub API token (hub.services.hubharness)."""

    @abc.abstractmethod
    def secrets(self) -> list[Secret]:
        """Every secret value of this deployment, for leak checks and report redaction."""

    # NS
    def namespace_exists(self) -> Fact:
        """Where namespaces are objects (kubernetes). Locally the namespace is the state
        folder, which verify needs to start at all: the catalogue runs this check on
        kubernetes only."""
        raise NotImplementedError(f"{type(self).__name__} has no namespace object")

    @abc.abstractmethod
    def state_is_isolated(self) -> Fact:
        """Nothing of ours lives or listens outside this namespace, nothing of others inside."""

    # SEC
    @abc.abstractmethod
    def secret_has_key(self) -> Fact: ...

    @abc.abstractmethod
    def secret_is_private(self) -> Fact: ...

    @abc.abstractmethod
    def hub_reads_password_from_secret(self) -> Fact: ...

    @abc.abstractmethod
    def hub_reads_admin_password_from_secret(self) -> Fact:
        """As the user password: the running hub's admin password is its Secret's now."""

    @abc.abstractmethod
    def leak_surfaces(self) -> Iterator[tuple[str, str]]:
        """(where, text) for every place a secret must not appear: values, config, logs, argv."""

    # RDY / PRX
    @abc.abstractmethod
    def components(self) -> list[Component]: ...

    def image_puller_ready(self) -> Fact | None:
        """The continuous image puller ready with the notebook image on every node; None
        where the values turn it off (kubernetes only)."""
        raise HarnessError(f"there is no image puller on context {self.context}")

    @abc.abstractmethod
    def proxy_routes(self) -> dict: ...

    @abc.abstractmethod
    def hub_instance(self) -> str:
        """Which hub runs now (its process, its pod), read afresh: a restart changes it."""

    @property
    @abc.abstractmethod
    def hub_target(self) -> str:
        """Where the proxy must send /hub/ (the hub's internal URL)."""

    def ingress_in_place(self) -> Fact | None:
        """The ingress from manifests/ routes its host to proxy-public; None where the
        target has no ingress (local)."""
        return None

    # LOAD
    usage_source = "not available"

    def component_usage(self) -> dict[str, Usage] | str:
        """The hub's and proxy's CPU and memory now, for a load's figures; or why they
        cannot be read here (`usage_source` says where they come from)."""
        return f"not available on context {self.context}"

    def server_usage(self) -> dict[str, Usage] | str:
        """Each running user server's memory and CPU now (its kernels and their Spark
        driver included), keyed `server:<user>`; or why they cannot be read here."""
        return f"not available on context {self.context}"

    # OPS
    @abc.abstractmethod
    def homes(self) -> list[Home]:
        """Each user's home the target can measure now: bytes used and the capacity it has."""

    def load_hub(self) -> Hub:
        """What a load needs of this deployment (hubharness.load)."""
        return Hub(
            self.public_url,
            self.auth_password(),
            self.service_token(),
            self.spawn_timeout,
            self.component_usage,
            self.usage_source,
        )

    # ADM
    @abc.abstractmethod
    def user_server_running(self, username: str) -> Fact:
        """Is the user's server process/pod there, independent of what the hub says."""

    @abc.abstractmethod
    def run_in_server(self, username: str, command: str):
        """Run a shell command where the user's server runs, with its environment
        (testinfra: a CommandResult with rc, stdout, stderr)."""

    # BAK
    @abc.abstractmethod
    def hub_database_integrity(self) -> Fact:
        """PRAGMA integrity_check of the database the hub runs on, read where it lies."""

    # RES
    @abc.abstractmethod
    def stop_component(self, name: str) -> None:
        """Stop the hub or the proxy as deleting its pod does (SIGTERM, SIGKILL after a
        grace period) and leave it to the platform to bring it back."""

    @abc.abstractmethod
    def kill_user_server(self, username: str) -> None:
        """End a user's server behind the hub's back (its process killed, its pod deleted)."""

    # SPK with a Spark cluster
    def spark_cluster(self) -> ClusterView | None:
        """The Spark cluster deployed beside the hub, as the harness reaches it; None
        where the deployment has none (notebooks then run Spark in local mode)."""
        return None

    def spark_components(self) -> list[Component]:
        """The Spark cluster's master and workers (processes or pods): running, Ready,
        restarts counted as the hub's are."""
        return []

    def spark_executor_processes(self, app_id: str) -> list[str]:
        """This Spark application's executors still running, each said in a few words
        (processes here, pods on a cluster), whatever Spark says of them."""
        raise NotImplementedError(f"{type(self).__name__} runs no Spark cluster")

    # SPK with native Spark on Kubernetes (hubharness.sparknative)
    def spark_driver_access(self) -> Fact:
        """Whether the API server lets the account user pods run as manage pods in the
        namespace, as a notebook's driver does to its executors."""
        raise NotImplementedError(f"{type(self).__name__} runs no Spark on Kubernetes")

    def executors_reach_the_driver(self) -> Fact:
        """Whether the namespace's NetworkPolicies let an executor pod connect to a user's
        pod on the driver's fixed ports."""
        raise NotImplementedError(f"{type(self).__name__} runs no Spark on Kubernetes")

    def server_pod(self, username: str) -> dict:
        """The user's server pod now: {name, uid, ip}."""
        raise NotImplementedError(f"{type(self).__name__} runs no pods")

    def spark_executor_pods(self, app_id: str) -> list[dict]:
        """This Spark application's executor pods now, whatever Spark says of them: {name,
        phase, ip, owners: [{kind, name, uid}], deleting}."""
        raise NotImplementedError(f"{type(self).__name__} runs no Spark on Kubernetes")

    # diagnostics
    @abc.abstractmethod
    def write_diagnostics(self, dest: Path) -> None: ...

    def close(self) -> None:
        """Release what reaching the deployment took (a port-forward, say)."""


@dataclass
class DeployResult:
    """What deploy did, for people: where the hub answers and where its password is."""

    context: str
    namespace: str
    what: str  # "namespace dev", "release jupyterhub in namespace dev"
    url: str | None  # None where the address is found later (a cluster's port-forward)
    secret_origin: str  # how the password came: generated | environment | stored
    secret_place: str  # where it is kept (a file, a Secret), never the password itself
    action: str = "started"  # started | restarted | unhealthy | unchanged | spark | revived | upgrade | downgrade
    revived: list[str] = field(default_factory=list)  # what had died and was started again
    ready_note: str = ""  # what deploy waited for
    details: list[str] = field(default_factory=list)  # the target's own lines (its state folder)
    not_applicable: list[str] = field(default_factory=list)
    not_enforced: list[str] = field(default_factory=list)
    schema_note: str = ""
    seconds: float = 0.0
    moved: str = ""  # an upgrade or downgrade: from which chart to which, and its database backup

    def lines(self) -> list[str]:
        verb = {
            "started": "deployed",
            "restarted": "redeployed (hub restarted: config changed)",
            "unhealthy": "redeployed (hub restarted: it did not answer its health check)",
            "unchanged": "already deployed, nothing changed",
            "spark": "Spark cluster (re)started for its settings, the hub unchanged",
            "revived": f"started again ({' and '.join(self.revived)} had stopped; restart counted)",
            "upgrade": f"upgraded ({self.moved})",
            "downgrade": f"downgraded, forced ({self.moved})",
        }[self.action]
        first = f"{verb}: {self.what} (context {self.context})"
        first += f" at {self.url}" if self.url else ""
        first += f" in {self.seconds:.1f}s" + (f"; {self.ready_note}" if self.ready_note else "")
        out = [
            first,
            f"  password: {self.secret_origin}, in {self.secret_place}",
            *(f"  {line}" for line in self.details),
        ]
        if self.not_enforced:
            out.append(f"  applied but not enforced locally: {', '.join(self.not_enforced)}")
        if self.not_applicable:
            out.append(f"  not applicable locally: {', '.join(self.not_applicable)}")
        return out


@dataclass
class Status:
    """What runs in a namespace now, and who uses it."""

    context: str
    namespace: str
    chart: str | None
    hub_url: str | None
    secret: str  # where the password is kept, never the password
    components: list[Component]
    users: list[dict] = field(default_factory=list)  # the hub's users, as hubapi.users_of gives them
    users_error: str | None = None  # why the hub could not be asked
    details: dict[str, Any] = field(default_factory=dict)  # the target's own (state folder, helm revision)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "context": self.context,
            "namespace": self.namespace,
            "chart": self.chart,
            "hub_url": self.hub_url,
            "secret": self.secret,
            "components": [vars(c) for c in self.components],
            "users": self.users,
            **self.details,
        }
        if self.users_error:
            out["users_error"] = self.users_error
        return out


@dataclass
class RemoveResult:
    message: str
    removed: bool = True  # False: nothing was deployed there


@dataclass(frozen=True)
class Footprint:
    """What a running deployment is and holds, taken before remove, so that what remove
    must keep (`user_data_kept`) and must leave nothing of (`leftovers`) are judged by
    what was deployed, not by what the values files say now. Opaque to suites: they
    pass it back."""

    ports: tuple[int, ...] = ()  # what it listened on, on this machine
    secret: tuple[str, str] | None = None  # the Secret (name, key) its password was kept in


Undo = Callable[[], None]
# what a fault's way of each kind of target is done to (Fault.ways)
DONE_TO = {
    LOCAL: "local processes or files",
    KUBE: "a cluster, through its API server",
    REMOTE: "the TLS front of a hub reached by its URL (context remote)",
}


class Target(abc.ABC):
    """Lifecycle of one namespace, as the commands drive it and as BAK and RMV drive it on a
    scratch namespace. A target class takes (namespace, **options); `options` are the
    target's own (kind's keep_cluster), declared in OPTIONS so that the registry can refuse
    an option a target does not have.

    It also says which checks of the catalogue apply to it and which faults selftest can do
    to it, and does them (a fault's way of its KIND; the primitives the harness's mutants
    break its own operations with): nothing outside the target's package knows that."""

    OPTIONS: ClassVar[frozenset[str]] = frozenset()
    KIND: ClassVar[str]  # checks.LOCAL, KUBE or REMOTE: the key of its ways in Fault.ways
    # what it has of what a check may read or need beyond a hub (checks.SURFACES); the
    # checks of the rest do not apply, for the reason LACKS gives, if it gives one
    HAS: ClassVar[frozenset[str]] = frozenset()
    LACKS: ClassVar[Mapping[str, str]] = {}
    # whether the harness's own operations (backup, restore, remove, restart_hub) run here,
    # with the primitives below, so that selftest can plant its mutants in them
    PLANTS_MUTANTS: ClassVar[bool] = False
    # what selftest does so that its namespaces run side by side: files of values/ laid
    # over each namespace's values, arguments added to its deploy, options of the target
    # that purges it (selftest_env: its deploy's environment)
    SELFTEST_VALUES: ClassVar[tuple[str, ...]] = ()
    SELFTEST_DEPLOY_ARGS: ClassVar[tuple[str, ...]] = ()
    SELFTEST_REMOVE_OPTIONS: ClassVar[Mapping[str, object]] = {}
    context: str
    namespace: str

    # ---- the catalogue on this target (classmethods: no namespace needed) -------------
    @classmethod
    def why_not_applicable(cls, check: Check) -> str:
        """Why a check does not apply on this target; "" when it does."""
        for what in (check.reads, check.needs):
            if what and what not in cls.HAS:
                return cls.LACKS.get(what) or f"it needs {SURFACES[what]}, which context {cls.KIND} does not have"
        return ""

    @classmethod
    def credentials_for(cls, check: Check) -> frozenset[str]:
        """What a check needs of the credentials verify is given (a hub reached by its URL)."""
        return frozenset()

    @staticmethod
    def why_missing(credentials: list[str]) -> str:
        """What gives these credentials (credentials_for's names), in words."""
        return " and ".join(credentials)

    @classmethod
    def fault_for(cls, check: Check) -> str:
        """The name of the fault selftest does here to break the check: its own, unless
        the target does another (one its own can not be done or seen on it)."""
        return check.fault

    @classmethod
    def why_cannot_do(cls, fault: Fault) -> str:
        """Why selftest cannot do the fault to a deployment of this target; "" when it can:
        by its own way, by its values (which every target's chart reads), or as a mutant of
        the target's own operations."""
        if fault.mutant:
            return "" if cls.PLANTS_MUTANTS else "it is planted in the harness's own operations, which do not run here"
        if cls.KIND in fault.ways:
            return ""
        if REMOTE in fault.ways:
            return f"it is done to {DONE_TO[REMOTE]}"
        if fault.ways:  # a fault is its ways or its values, never both (no values then to fall back on)
            done_to = " or ".join(DONE_TO.get(kind, f"a {kind} target") for kind in fault.ways)
            return f"it is done to {done_to}; there is no {cls.KIND} way to do it yet"
        return fault.not_by_values_on.get(cls.KIND, "")

    @classmethod
    def selftest_env(cls, namespace: str) -> dict[str, str]:
        """What selftest sets in the environment of a namespace's deploy, so that it claims
        nothing another namespace has."""
        return {}

    # ---- what selftest does to a deployment ------------------------------------------
    @classmethod
    def place_fault_files(cls, fault: Fault, work: Path) -> tuple[str, list[str]]:
        """Where the deployment's servers find the fault's files (`{dir}` in its overlay),
        and the `--values` arguments that put them there: here, written into `work`."""
        for name, text in fault.files.items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_text(text)
        return str(work), []

    def do_fault(self, fault: Fault) -> Undo | None:
        """Do the fault's way of this kind of target to the running deployment; return what
        undoes it before the purge, if anything must (a finalizer that would hold it)."""
        if self.KIND in fault.ways:
            raise HarnessError(f"context {self.context} cannot do fault {fault.name}")
        return None

    def damage_hub_database(self, script: str) -> None:
        """Run `python -c script <database>` where the hub's database lies (a mutant of restore)."""
        raise HarnessError(f"context {self.context} has no hub database the harness can reach")

    def delete_homes(self) -> None:
        """Delete every user's home (a mutant of remove)."""
        raise HarnessError(f"context {self.context} has no homes the harness can reach")

    def runs_nothing(self) -> bool:
        """Whether the namespace is there with nothing running in it (a mutant of remove)."""
        raise HarnessError(f"context {self.context} cannot say what runs in it")

    @classmethod
    @abc.abstractmethod
    def create(cls, context: str, namespace: str, **options: Any) -> Target:
        """How the registry makes one for `context` (already checked: options in OPTIONS)."""

    @abc.abstractmethod
    def deploy(
        self,
        values_files: list[Path],
        port: int = 0,
        chart_version: str | None = None,
        beside: bool = False,
        force: bool = False,
    ) -> DeployResult:
        """chart_version None: the default chart; over a deployment of another chart, an
        upgrade (force: a downgrade too). beside: a throwaway deployment next to another
        one (verify's scratch): leave out what must be unique in a cluster (the ingress
        host)."""

    @abc.abstractmethod
    def exists(self) -> bool:
        """Whether the namespace is there (local: its state folder; kubernetes: the namespace)."""

    def prepare(self) -> None:
        """What deploy needs before it changes anything (its tools, a cluster the target
        makes), for work that deploys many namespaces (selftest); nothing by default."""

    @abc.abstractmethod
    def status(self) -> Status: ...

    @abc.abstractmethod
    def remove(self, purge: bool = False) -> RemoveResult:
        """Stop everything; keep user data unless purge."""

    @abc.abstractmethod
    def backup(self, to: Path | None = None) -> BackupResult: ...

    @abc.abstractmethod
    def restore(self, archive: Path, force: bool = False) -> RestoreResult: ...

    @abc.abstractmethod
    def deployment(self) -> Deployment: ...

    # rotate-password (hubharness.rotation): the two primitives, and where a value is read
    def write_password(self, env_name: str, value: str) -> None:
        """Put a login password (AUTH_ENV or ADMIN_ENV) into the Secret key the values route
        it from; the running hub keeps the value it started with."""
        raise HarnessError(f"rotate-password is not available on context {self.context}")

    def restart_hub(self) -> None:
        """Restart the hub as deleting its pod does (it reads its Secrets again), keep
        users' servers, and return once it answers /hub/health again."""
        raise HarnessError(f"rotate-password is not available on context {self.context}")

    def password_place(self, secret: str, key: str) -> str:
        """Where an operator reads a Secret's key (a command or a file, never the value)."""
        raise HarnessError(f"rotate-password is not available on context {self.context}")

    @abc.abstractmethod
    def footprint(self) -> Footprint:
        """Taken while it runs, for `leftovers` after remove."""

    @abc.abstractmethod
    def user_data_kept(self, username: str, footprint: Footprint) -> Fact:
        """What remove must keep of this user (their files and their record) and of the
        deployment (the Secret its password was kept in)."""

    @abc.abstractmethod
    def leftovers(self, footprint: Footprint) -> list[str]:
        """What is still there after remove --purge: its processes, pods, listeners, state
        (the data remove keeps: "state dir …", "state: …")."""
