"""The checks that need a hub to answer whose fault cannot be done on a cluster (it is done to
local processes or files: a hung hub, a hijacked proxy route, a credentials file written from
the hub's disk), on kubernetes: a real JupyterHub serves the emulated cluster.

It is the local target's hub, proxy and servers on 127.0.0.1. The cluster's Secrets hold
its password and tokens, its server processes are the cluster's user pods (the emulator's
kubelet hook), and HUBHARNESS_PUBLIC_URL sends verify to its proxy, as a NodePort would.
`invoke verify --context emulated` passes these checks on the healthy pair and fails each,
by name, on its fault, done to the hub as selftest does it on local. The other hub checks
are proven by `invoke selftest --context emulated` itself (test_kube_selftest.py).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import psutil
import pytest

from hubharness import authenticators, checks, faults, values
from hubharness.paths import VALUES_DIR
from hubharness.procs import processes_under
from hubharness.targets.kube import KubeTarget
from hubharness.targets.kube.api import NOTEBOOK_CONTAINER, USERNAME_ANNOTATION
from hubharness.targets.local import LocalTarget

from . import kube_proofs
from .helpers import Harness
from .test_kube_faults import verify
from .test_kube_verify import b64, install_chart

NAMESPACE = "kubehub"  # the local deployment serving as the cluster's hub
VERIFY_TIMEOUT = 600
KILLED = ("failed", "timeout")  # as selftest counts a check its fault kills


def _authenticator_of(check_ids: list[str]) -> str:
    """The authenticator the hub runs to prove these checks ("": the default, DummyAuthenticator)."""
    (kind,) = {checks.BY_ID[c].authenticator for c in check_ids}
    return kind


def _hub_checks() -> dict[str, list[str]]:
    """fault → the hub checks the catalogue breaks with it, where selftest cannot do it on a cluster."""
    by_fault: dict[str, list[str]] = {}
    for check_id in kube_proofs.KUBE_HUB_CHECKS:
        fault = faults.BY_NAME[KubeTarget.fault_for(checks.BY_ID[check_id])]
        if KubeTarget.why_cannot_do(fault):
            by_fault.setdefault(fault.name, []).append(check_id)
    return by_fault


HUB_FAULTS = _hub_checks()
HUB_CHECKS = [c for broken in HUB_FAULTS.values() for c in broken]
AUTHENTICATORS = sorted({checks.BY_ID[c].authenticator for c in HUB_CHECKS})


class LocalHub:
    """A local deployment in its own home, on the values of an authenticator: deployed,
    broken, purged; read through its LocalTarget, as verify --context local reads it."""

    def __init__(self, base: Path, authenticator: str = ""):
        self.harness = Harness(base / "home", base / "reports")
        self.state = self.harness.state_dir(NAMESPACE)
        self.authenticator = authenticator
        self.values = [str(VALUES_DIR / authenticators.VALUES_FILE[authenticator])] if authenticator else []
        self.target: LocalTarget | None = None
        self.url = ""

    def deploy(self, *args: str, env: dict | None = None) -> None:
        ran = self.harness.deploy(NAMESPACE, *(a for v in self.values for a in ("--values", v)), *args, env=env)
        assert ran.code == 0, ran.err
        with pytest.MonkeyPatch.context() as m:  # its state folder is fixed when it is made
            m.setenv("HUBHARNESS_HOME", str(self.harness.home))
            self.target = LocalTarget(NAMESPACE)
        self.url = self.target.deployment().public_url

    def secret(self, name: str) -> dict[str, str]:
        assert self.target is not None
        return self.target.store.read(name)

    def apply(self, fault: faults.Fault, work: Path) -> None:
        """As selftest does: the fault's values and environment at deploy, then its local way."""
        args, env = faults.materialise(fault, work)
        self.deploy(*args, env=env)
        assert self.target is not None
        self.target.do_fault(fault)
        assert not fault.redeploy and not fault.mutant, f"{fault.name}: not a fault done to a running hub"

    def purge(self) -> None:
        for proc in processes_under(self.state):  # a hung hub (SIGSTOP) goes on, to be removed at once
            with contextlib.suppress(psutil.Error):
                proc.resume()
        self.harness.purge_all()


def serve(cluster, hub: LocalHub) -> str:
    """The chart installed in the emulated namespace jh with the hub's values, Secrets and
    the hub pod's environment from them; its servers as user pods. The public URL verify is
    to use."""
    install_chart(cluster, config=values.load(values.values_files("kind", hub.values)))
    for name in ("urbalurba-secrets", "hub"):
        cluster.get("jh", "secrets", name)["data"] = {k: b64(v) for k, v in hub.secret(name).items()}
    pod = cluster.get("jh", "pods", "hub-5d9c")
    pod["spec"]["containers"][0]["env"] = [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": "urbalurba-secrets", "key": key}}}
        for key in hub.secret("urbalurba-secrets")
    ]
    cluster.start_containers("jh", pod)  # the hub started with the Secret as it is now

    def kubelet(ns: str) -> None:
        if ns == "jh" and hub.target is not None:
            mirror_servers(cluster, ns, hub.target)

    cluster.kubelet = kubelet
    return hub.url


def mirror_servers(cluster, ns: str, target: LocalTarget) -> None:
    """The local hub's running servers are the namespace's user pods, with KubeSpawner's
    username annotation (an emulator kubelet hook: called with its lock held, on every pod
    read, so one pass over the machine's processes, not one per home)."""
    homes = (target.state_dir / "home").resolve()
    running = set()
    for proc in processes_under(homes) if homes.is_dir() and any(homes.iterdir()) else []:
        with contextlib.suppress(psutil.Error, ValueError):
            where = Path(proc.cwd()).relative_to(homes)
            if where.parts and "jupyterhub-singleuser" in " ".join(proc.cmdline()):
                running.add(where.parts[0])  # as the deployment's user_server_running finds it
    pods = cluster.objects.setdefault((ns, "pods"), {})
    users = {
        pod["metadata"]["annotations"][USERNAME_ANNOTATION]: name
        for name, pod in pods.items()
        if pod["metadata"]["labels"].get("component") == "singleuser-server"
        and USERNAME_ANNOTATION in (pod["metadata"].get("annotations") or {})
    }
    for user, name in users.items():
        if user not in running:
            del pods[name]
    for user in running - set(users):
        cluster.add_pod(
            ns,
            f"jupyter-{user}",
            "singleuser-server",
            container=NOTEBOOK_CONTAINER,
            annotations={USERNAME_ANNOTATION: user},
        )


@pytest.fixture(scope="module")
def healthy_hub(tmp_path_factory):
    """authenticator → its healthy hub, deployed at first use."""
    made: dict[str, LocalHub] = {}

    def hub_for(authenticator: str) -> LocalHub:
        if authenticator not in made:
            made[authenticator] = LocalHub(
                tmp_path_factory.mktemp(f"healthy-{authenticator or 'dummy'}"), authenticator
            )
            made[authenticator].deploy()
        return made[authenticator]

    yield hub_for
    for hub in made.values():
        hub.purge()


@pytest.mark.parametrize("authenticator", AUTHENTICATORS)
def test_a_healthy_hub_serving_the_cluster_passes_the_hub_checks(cluster, healthy_hub, authenticator):
    chosen = [c for c in HUB_CHECKS if checks.BY_ID[c].authenticator == authenticator]
    outcomes, output = verify(cluster, chosen, serve(cluster, healthy_hub(authenticator)), VERIFY_TIMEOUT)
    assert outcomes == dict.fromkeys(chosen, "passed"), output[-3000:]


@pytest.mark.parametrize("fault", list(HUB_FAULTS))
def test_verify_fails_the_hub_checks_the_hubs_fault_breaks(cluster, fault, tmp_path):
    broken = HUB_FAULTS[fault]
    hub = LocalHub(tmp_path / "broken-hub", _authenticator_of(broken))
    try:
        work = tmp_path / "fault"
        work.mkdir()
        hub.apply(faults.BY_NAME[fault], work)
        outcomes, output = verify(cluster, broken, serve(cluster, hub), VERIFY_TIMEOUT)
    finally:
        hub.purge()
    assert {c for c, outcome in outcomes.items() if outcome in KILLED} == set(broken), output[-3000:]
    assert f"failed checks: {', '.join(broken)}" in output
