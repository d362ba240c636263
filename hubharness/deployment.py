"""What the conformance suites may ask of a deployment, whatever the target.

Suites never branch on the target: pods or processes are the target's business.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .secretstore import Secret


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
    public_url: str
    values: dict
    values_files: list[Path]

    @property
    @abc.abstractmethod
    def expected_hub_version(self) -> str: ...

    def scratch_values_files(self) -> list[Path]:
        """Values for verify's scratch namespace beside this one (BAK, RMV)."""
        return self.values_files

    @abc.abstractmethod
    def auth_password(self) -> Secret:
        """The shared login password, read from the Secret the values point at."""

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
    def leak_surfaces(self) -> Iterator[tuple[str, str]]:
        """(where, text) for every place a secret must not appear: values, config, logs, argv."""

    # RDY / PRX
    @abc.abstractmethod
    def components(self) -> list[Component]: ...

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

    # diagnostics
    @abc.abstractmethod
    def write_diagnostics(self, dest: Path) -> None: ...

    def close(self) -> None:
        """Release what reaching the deployment took (a port-forward, say)."""


class Target(abc.ABC):
    """Lifecycle of one namespace, as BAK and RMV drive it on a scratch namespace."""

    context: str
    namespace: str

    @abc.abstractmethod
    def deploy(self, values_files: list[Path], port: int, chart_version: str, beside: bool = False):
        """beside: a throwaway deployment next to another one (verify's scratch): leave out
        what must be unique in a cluster (the ingress host)."""

    @abc.abstractmethod
    def remove(self, purge: bool = False, keep_cluster: bool = False) -> str:
        """Stop everything; keep user data unless purge. keep_cluster: on kind, purge leaves
        the cluster (targets without a cluster of their own ignore it)."""

    @abc.abstractmethod
    def backup(self, to: Path | None = None): ...

    @abc.abstractmethod
    def restore(self, archive: Path, force: bool = False): ...

    @abc.abstractmethod
    def deployment(self) -> Deployment: ...

    @abc.abstractmethod
    def ports(self) -> list[int]: ...

    @abc.abstractmethod
    def user_data_kept(self, username: str) -> Fact:
        """What remove must keep of this user: their files and their record."""

    @abc.abstractmethod
    def leftovers(self, ports: list[int]) -> list[str]: ...
