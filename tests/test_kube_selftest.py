"""`invoke selftest --context emulated`: each check's fault done to an emulated cluster the
way selftest does it to a real one (the product's own hubharness.targets.kube.faults through the
API server; chart values through helm), every namespace deployed by `invoke deploy` and
purged by `invoke remove`, as on a cluster.

Stand-ins answer for helm and kubectl. helm's `upgrade --install` leaves the chart's objects
in the emulated namespace (its NetworkPolicies rendered by a stand-in of its templates,
test_kube_verify.chart_network_policies) and starts a real hub for it: the local target's,
on 127.0.0.1, on the values helm was given, with the passwords of the Secret deploy wrote. Its Secrets are
the cluster's, its hub pod's environment comes from them as a kubelet's would, its user
servers are the namespace's user pods (the emulator's kubelet hook), and `kubectl
port-forward svc/proxy-public` reaches its proxy. With a Spark cluster in the values, that
local deploy starts real Spark master and workers (pyspark's jars, under its supervisor,
spark-master:7077 mapped in its servers' environment): they answer for the spark-master
and spark-worker pods the kube target's deploy creates (Ready while their process runs;
the API server's proxy reaches their web UIs; a worker pod deleted for good stops a
worker). They are not started by the pods: the local deploy behind helm starts them, and
the pods' container commands never run. Native Spark's part of the values is left out of
that hub's (`without_native_spark`): its servers are processes, which cannot make executor
pods. What the kube target does is its own: deploy, verify, remove, and the faults; the
hub and the Spark behind the namespace are real.

EMULATED_SELFTEST_CHECKS (check ids, comma-separated) runs the selftest for those of
CHECKS only: a focused run while working on some checks (e.g. native Spark's two).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from hubharness import checks, faults, sparknative, values
from hubharness.faults import BY_NAME
from hubharness.paths import VALUES_DIR
from hubharness.targets import target_for
from hubharness.targets.kube import KubeTarget
from hubharness.targets.kube import faults as cluster_faults
from hubharness.targets.kube.api import USERNAME_ANNOTATION
from hubharness.targets.local import LocalTarget

from . import kube_proofs
from . import test_kube_verify as emulated
from .helpers import KUBECTL, PROJECT_ROOT, Harness, run_invoke
from .test_kube_hub_faults import HUB_CHECKS, mirror_servers

ingress_controller = emulated.ingress_controller
SELFTEST_TIMEOUT = 3000  # about 30 minutes on 2 cores beside the other tests; this bounds a hung run
RELEASE_RECORD = {"owner": "helm", "name": "jupyterhub"}
# seconds the neighbour's first pod read holds the emulated API server: longer than the
# kubectl stand-in's 10 s wait for its pod, as CI's load made it (the kubelet hook runs
# under the emulator's one lock on every pod read)
SLOW_READ = 12
DISTURBANCE_TIMEOUT = 300  # the neighbour's proxy deleted, its namespace purged and deployed again
# where a failed selftest's reports are copied: its temporary folder is not kept (git-ignored;
# the one place of the checkout tests write to)
KEPT_REPORTS = PROJECT_ROOT / "reports" / "kept-by-tests"
# every check the emulated cluster proves through selftest: those the API server alone proves,
# and those a hub answers, whose fault can be done on a cluster
CHECKS = [
    c
    for c in (*kube_proofs.KUBE_FAULTS, *kube_proofs.KUBE_HUB_CHECKS)
    if not KubeTarget.why_cannot_do(BY_NAME[KubeTarget.fault_for(checks.BY_ID[c])])
]


SELECTED = [c for c in CHECKS if c in os.environ.get("EMULATED_SELFTEST_CHECKS", c).split(",")]
SPARK_COMPONENTS = ("spark-master", "spark-worker")


def _arg(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1] if flag in args else ""


def without_native_spark(config: dict) -> dict:
    """The values for the local hub that stands in for a namespace: native Spark's part taken
    out (custom.sparkNative, the user pods' account and pod template, the driver's
    environment), since its servers are processes here that cannot make executor pods (the
    local target refuses native mode). The cluster keeps every object deploy and the chart
    made for it, which the native checks the emulated cluster proves read."""
    if sparknative.settings(config) is None:
        return config
    local = values.merge(config, {"custom": {"sparkNative": None}})
    singleuser = local.get("singleuser") or {}
    for key in ("serviceAccountName", "extraFiles"):
        singleuser.pop(key, None)
    native_env = values.load_file(VALUES_DIR / checks.NEEDS_VALUES[checks.SPARK_NATIVE])["singleuser"]["extraEnv"]
    env = values.env_entries(singleuser.get("extraEnv"))
    singleuser["extraEnv"] = {k: v for k, v in env.items() if k not in native_env}
    return local


def _is_release_record(secret: dict) -> bool:
    labels = secret["metadata"].get("labels") or {}
    return all(labels.get(k) == v for k, v in RELEASE_RECORD.items())


class Hubs:
    """The local deployments that answer for the emulated namespaces helm installed, one each,
    in a home of their own."""

    def __init__(self, cluster, base: Path):
        self.cluster, self.base = cluster, base
        base.mkdir(parents=True)
        self.harness = Harness(base / "home", base / "reports")
        self.targets: dict[str, LocalTarget] = {}
        self.installed: dict[str, tuple[list[str], dict[str, str]]] = {}  # ns → deploy's arguments, environment
        self.installed_config: dict[str, dict] = {}  # ns → the values helm was given
        self.held_down: set[str] = set()  # namespaces whose hub Deployment is scaled to 0
        self.ready: set[str] = set()  # uids of hub pods the readiness probe has passed
        self.env_lock = threading.Lock()  # LocalTarget reads its home from the environment

    # ---- helm -------------------------------------------------------------------------
    def helm(self, args: list[str], config: dict) -> str:
        ns = _arg(args, "--namespace")
        if args[0] == "upgrade":
            self.install(ns, config, _arg(args, "--version"))
            return ""
        if args[0] == "list":
            with self.cluster.lock:
                found = {
                    where
                    for (where, kind), store in self.cluster.objects.items()
                    if kind == "secrets" and ("--all-namespaces" in args or where == ns)
                    for secret in store.values()
                    if _is_release_record(secret) and "deletionTimestamp" not in secret["metadata"]
                }
            return "jupyterhub\n" * len(found)
        if args[0] == "uninstall":
            self.uninstall(ns)
            return 'release "jupyterhub" uninstalled\n'
        return ""  # repo add, repo update

    def install(self, ns: str, config: dict, chart_version: str) -> None:
        passwords = self.passwords(ns)  # deploy's Secret, written before helm runs
        values = self.base / f"{ns}.yaml"
        values.write_text(yaml.safe_dump(without_native_spark(config), sort_keys=False))
        self.installed[ns] = (["--values", str(values), "--chart-version", chart_version], passwords)
        self.installed_config[ns] = config
        ran = self.harness.deploy(ns, *self.installed[ns][0], env=passwords)
        if ran.code != 0:
            raise RuntimeError((ran.err.strip().splitlines() or ["no output"])[-1])
        target = self.local_target(ns)
        extra = (config.get("hub") or {}).get("extraEnv") or {}
        env = [{"name": k, **v} if isinstance(v, dict) else {"name": k, "value": str(v)} for k, v in extra.items()]
        with self.cluster.lock:
            emulated.chart_objects(self.cluster, ns, config, chart_version, hub_env=env)
            for component in ("hub", "proxy"):  # their Deployments make a deleted pod again
                pod = next(
                    p
                    for p in self.cluster.objects[(ns, "pods")].values()
                    if p["metadata"]["labels"]["component"] == component
                )
                if component == "hub":  # the chart's hub-db-dir claim: the folder of the hub's database
                    pod["spec"]["volumes"] = [{"name": "pvc", "persistentVolumeClaim": {"claimName": "hub-db-dir"}}]
                    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "pvc", "mountPath": "/srv/jupyterhub"}]
                    self.cluster.volumes[(ns, "hub-db-dir")] = target.state_dir  # holds jupyterhub.sqlite
                labels = pod["metadata"]["labels"]
                self.cluster.add(
                    ns,
                    "deployments",
                    component,
                    spec={
                        "replicas": 1,
                        "selector": {"matchLabels": labels},
                        "template": {"metadata": {"labels": labels}, "spec": pod["spec"]},
                    },
                )
            hub_secret = self.cluster.get(ns, "secrets", "hub")
            hub_secret["data"] = {k: emulated.b64(v) for k, v in target.store.read("hub").items()}
            self.targets[ns] = target

    def local_target(self, ns: str) -> LocalTarget:
        with self.env_lock, pytest.MonkeyPatch.context() as m:
            m.setenv("HUBHARNESS_HOME", str(self.harness.home))
            return LocalTarget(ns)

    def passwords(self, ns: str) -> dict[str, str]:
        """The login passwords in the namespace's Secret now, as a kubelet reads them for a
        new container's environment."""
        with self.cluster.lock:
            data = (self.cluster.get(ns, "secrets", "urbalurba-secrets") or {}).get("data") or {}
        return {k: base64.b64decode(v).decode() for k, v in data.items()}

    def uninstall(self, ns: str) -> None:
        target = self.targets.pop(ns, None) or self.local_target(ns)
        self.held_down.discard(ns)
        self.cluster.volumes.pop((ns, "hub-db-dir"), None)
        target.remove(purge=True)  # the local deployment behind it, purged as `invoke remove --purge` does
        with self.cluster.lock:
            secrets = self.cluster.objects.get((ns, "secrets"), {})
            for name in [n for n, s in secrets.items() if _is_release_record(s) or n == "hub"]:
                secrets.pop(name)
            for kind in ("networkpolicies", "configmaps", "deployments"):
                self.cluster.objects.pop((ns, kind), None)
            for name, pod in list(self.cluster.objects.get((ns, "pods"), {}).items()):
                if (pod["metadata"].get("labels") or {}).get("release") == "jupyterhub":
                    self.cluster.delete_pod(ns, name)

    # ---- kubectl port-forward and exec, and the kubelet ---------------------------------
    def kubectl(self, args: list[str], _values: dict) -> str | dict:
        ns = _arg(args, "--namespace") or _arg(args, "-n")
        if ns not in self.targets or not {"port-forward", "exec"} & set(args):
            raise RuntimeError(f"no stand-in for kubectl {' '.join(args)} in namespace {ns}")
        if "exec" in args:  # testinfra's kubectl://: … exec POD -- /bin/sh -c COMMAND
            return self.exec_in_server(ns, _arg(args, "exec"), _arg(args, "-c"), args[-1])
        return self.forward(ns)

    def forward(self, ns: str) -> dict:
        """svc/proxy-public: a proxy pod that runs (else kubectl's error), and the local proxy."""
        with self.cluster.lock:
            pods = self.cluster.objects.get((ns, "pods"), {}).values()
            running = [
                p["metadata"]["name"]
                for p in pods
                if p["metadata"]["labels"].get("component") == "proxy"
                and p["status"].get("phase") == "Running"
                and "deletionTimestamp" not in p["metadata"]
            ]
        if not running:
            raise RuntimeError("unable to forward port because pod is not running")
        port = int(self.targets[ns].deployment().public_url.rsplit(":", 1)[1])
        return {"forward_to": port, "pod_url": f"{self.cluster.url}/api/v1/namespaces/{ns}/pods/{running[0]}"}

    def exec_in_server(self, ns: str, pod: str, container: str, command: str) -> dict:
        """A command in a user pod runs where the local hub runs that user's server, in its
        environment; refused as the API server refuses a pod or container that is not there."""
        with self.cluster.lock:
            found = self.cluster.get(ns, "pods", pod)
        if found is None:
            raise RuntimeError(f'pods "{pod}" not found')
        containers = {c["name"]: c for c in found["spec"]["containers"]}
        if container not in containers:
            raise RuntimeError(f"container {container} is not valid for pod {pod}")
        user = found["metadata"]["annotations"][USERNAME_ANNOTATION]
        claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in found["spec"].get("volumes") or []}
        for mount in containers[container].get("volumeMounts") or []:  # the container's view of its volumes
            folder = self.cluster.volumes.get((ns, claims.get(mount["name"], "")))
            if folder is not None:
                command = command.replace(mount["mountPath"], str(folder))
        ran = self.targets[ns].deployment().run_in_server(user, command)
        return {"stdout": ran.stdout, "stderr": ran.stderr, "exit_code": ran.rc}

    def kubelet(self, ns: str) -> None:
        """The hub's running servers are the namespace's user pods, its users' homes their
        volumes; its hub pod is Ready when the hub answers (called with the lock held)."""
        target = self.targets.get(ns)
        if target is None:
            return
        mirror_servers(self.cluster, ns, target)
        config = self.installed_config.get(ns, {})
        account = values.get(config, "singleuser.serviceAccountName")
        mount = values.get(config, "singleuser.storage.homeMountPath") or "/home/jovyan"
        for pod in self.cluster.objects.get((ns, "pods"), {}).values():
            if pod["metadata"]["labels"].get("component") != "singleuser-server":
                continue
            if account:  # KubeSpawner's service_account
                pod["spec"].setdefault("serviceAccountName", account)
            user = (pod["metadata"].get("annotations") or {}).get(USERNAME_ANNOTATION)
            if user is None:  # a pod only labelled as one (a cluster fault's), not KubeSpawner's
                continue
            pod["spec"].setdefault(
                "volumes", [{"name": "home", "persistentVolumeClaim": {"claimName": f"claim-{user}"}}]
            )
            pod["spec"]["containers"][0].setdefault("volumeMounts", [{"name": "home", "mountPath": mount}])
        homes = target.state_dir / "home"
        capacity = values.get(config, "singleuser.storage.capacity") or "10Gi"  # the chart's default
        claims = self.cluster.objects.setdefault((ns, "persistentvolumeclaims"), {})
        for home in [h for h in (homes.iterdir() if homes.is_dir() else []) if f"claim-{h.name}" not in claims]:
            claim = self.cluster.add(
                ns,
                "persistentvolumeclaims",
                f"claim-{home.name}",
                spec={"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": capacity}}},
                status={"phase": "Bound", "capacity": {"storage": capacity}},
            )
            claim["metadata"] |= {
                "labels": {"app": "jupyterhub", "component": "singleuser-storage", "release": "jupyterhub"},
                "annotations": {USERNAME_ANNOTATION: home.name},
            }
            self.cluster.volumes[(ns, claim["metadata"]["name"])] = home
        self._probe_hub(ns, target)
        self._probe_spark(ns, target)

    @staticmethod
    def _spark_names(ns: str, pods: dict) -> dict[str, str]:
        """pod → the local component that answers for it: the master, and the worker pods
        (oldest first) for spark-worker-1, -2, … (called with the lock held)."""
        found, workers = {}, []
        for name, pod in pods.items():
            component = pod["metadata"]["labels"].get("component")
            if component == "spark-master":
                found[name] = "spark-master"
            elif component == "spark-worker" and "deletionTimestamp" not in pod["metadata"]:
                workers.append((pod["metadata"].get("creationTimestamp", ""), name))
        for n, (_, name) in enumerate(sorted(workers), start=1):
            found[name] = f"spark-worker-{n}"
        return found

    def _probe_spark(self, ns: str, target: LocalTarget) -> None:
        """A Spark pod is Ready while the local process that answers for it runs."""
        pods = self.cluster.objects.get((ns, "pods"), {})
        for name, component in self._spark_names(ns, pods).items():
            ready = target.running(component) is not None
            for condition in pods[name]["status"].get("conditions") or []:
                if condition["type"] == "Ready":
                    condition["status"] = "True" if ready else "False"

    def serve_port(self, ns: str, pod: dict, port: int) -> int:
        """The master pod's ports are the local master's (7077, its web UI); the workers'
        web UIs are where their master says they are, on ports of their own."""
        target = self.targets.get(ns)
        if target is None or pod["metadata"]["labels"].get("component") != "spark-master":
            return port
        spark = target.read_state().get("spark") or {}
        return {8080: spark.get("master_ui_port"), 7077: spark.get("master_port")}.get(port) or port

    def _probe_hub(self, ns: str, target: LocalTarget) -> None:
        """The hub pod's readiness probe; a hub held down starts again when its Deployment
        wants a pod again (restore scales it back)."""
        deployment = self.cluster.get(ns, "deployments", "hub")
        if ns in self.held_down and deployment and deployment["spec"]["replicas"]:
            self.held_down.discard(ns)
            args, env = self.installed[ns]
            threading.Thread(target=self.harness.deploy, args=(ns, *args), kwargs={"env": env}, daemon=True).start()
        for pod in self.cluster.objects.get((ns, "pods"), {}).values():
            uid = pod["metadata"]["uid"]
            if pod["metadata"]["labels"].get("component") != "hub" or uid in self.ready:
                continue
            ready = ns not in self.held_down and target._healthy(target.deployment().public_url)
            for condition in pod["status"].get("conditions") or []:
                if condition["type"] == "Ready":
                    condition["status"] = "True" if ready else "False"
            if ready:
                self.ready.add(uid)

    def pod_metrics(self, ns: str, pods: dict) -> list[dict]:
        """metrics-server's PodMetrics of the hub, proxy and user pods: the resident memory of
        the local processes that answer for them (CPU is not emulated: 0)."""
        target = self.targets.get(ns)
        if target is None:
            return []
        deployment = target.deployment()
        usage = {}
        for part in (deployment.component_usage(), deployment.server_usage()):
            usage |= part if isinstance(part, dict) else {}
        out = []
        for name, pod in pods.items():
            labels = pod["metadata"].get("labels") or {}
            user = (pod["metadata"].get("annotations") or {}).get(USERNAME_ANNOTATION)
            used = usage.get(
                f"server:{user}" if labels.get("component") == "singleuser-server" else labels.get("component")
            )
            if used is None or "deletionTimestamp" in pod["metadata"]:
                continue
            container = pod["spec"]["containers"][0]["name"]
            out.append(
                {
                    "metadata": {"name": name, "namespace": ns, "labels": labels},
                    "containers": [{"name": container, "usage": {"cpu": "0", "memory": str(used.memory_bytes)}}],
                }
            )
        return out

    def claim_folder(self, ns: str, claim: dict) -> Path | None:
        """A user's volume restore makes again is that user's home of the local hub."""
        user = (claim["metadata"].get("annotations") or {}).get(USERNAME_ANNOTATION)
        target = self.targets.get(ns)
        return target.state_dir / "home" / user if target and user else None

    def stop_containers(self, ns: str, pod: dict) -> None:
        """A deleted pod's containers stop: the local hub's or proxy's process as a pod
        deletion stops it (its supervisor starts it again, as the new pod the Deployment
        makes; with the Deployment at 0 the hub stays down), a user's server killed
        (KubeSpawner must notice)."""
        target = self.targets.get(ns)
        component = pod["metadata"]["labels"].get("component")
        if target is None:
            return
        with self.cluster.lock:
            deployment = self.cluster.get(ns, "deployments", "hub")
        if component == "hub" and deployment and not deployment["spec"]["replicas"]:
            self.held_down.add(ns)
            target._stop_supervisors(["hub"])
        elif component == "hub" and self.passwords(ns) != self.installed[ns][1]:
            # the new pod's environment is read from the Secret again: the local hub is
            # started again on the passwords the Secret holds now
            args, _ = self.installed[ns]
            self.installed[ns] = (args, self.passwords(ns))
            ran = self.harness.deploy(ns, *args, env=self.installed[ns][1])
            if ran.code != 0:
                raise RuntimeError((ran.err.strip().splitlines() or ["no output"])[-1])
        elif component in ("hub", "proxy"):
            target.deployment().stop_component(component)
        elif component == "singleuser-server":
            target.deployment().kill_user_server(pod["metadata"]["annotations"][USERNAME_ANNOTATION])
        elif component in SPARK_COMPONENTS:
            self._stop_spark(ns, target, component)

    def _stop_spark(self, ns: str, target: LocalTarget, component: str) -> None:
        """Spark pods deleted for good (their Deployment wants fewer, or is gone): the local
        components beyond what it wants stop, supervisors too, as a lost node's; a pod the
        Deployment makes again is answered for by the same process."""
        with self.cluster.lock:
            deployment = self.cluster.get(ns, "deployments", component)
        wanted = deployment["spec"]["replicas"] if deployment else 0
        if component == "spark-master":
            names = [] if wanted else ["spark-master"]
        else:
            recorded = int((target.read_state().get("spark") or {}).get("workers", 0))
            names = [f"spark-worker-{n}" for n in range(wanted + 1, recorded + 1)]
        target._stop_supervisors([n for n in names if target.supervisor(n) is not None])


@pytest.fixture
def hub_cluster(cluster, ingress_controller, monkeypatch, tmp_path):
    hubs = Hubs(cluster, tmp_path / "hubs")
    cluster.helm, cluster.kubectl, cluster.kubelet = hubs.helm, hubs.kubectl, hubs.kubelet
    cluster.stop_containers, cluster.claim_folder = hubs.stop_containers, hubs.claim_folder
    cluster.serve_port, cluster.pod_metrics = hubs.serve_port, hubs.pod_metrics
    cluster.image_failures[cluster_faults.UNPULLABLE] = "pull"  # no registry has it
    ingress_controller.cluster = cluster  # each namespace's Ingress has a host of its own
    kubectl = cluster.bin_dir / "kubectl"
    kubectl.write_text(KUBECTL.format(python=sys.executable))
    kubectl.chmod(0o755)
    monkeypatch.setenv("HELM_EMULATOR", f"{cluster.url}/_emulator/helm")
    monkeypatch.setenv("KUBECTL_EMULATOR", f"{cluster.url}/_emulator/kubectl")
    monkeypatch.delenv("HUBHARNESS_PUBLIC_URL", raising=False)
    monkeypatch.delenv("JUPYTERHUB_AUTH_PASSWORD")  # each namespace's deploy makes its own
    yield cluster
    hubs.harness.purge_all()


def _selftest_report(cluster) -> dict:
    found = sorted((cluster.tmp_path / "reports").glob("*selftest*/selftest.json"))
    assert found, "selftest wrote no selftest.json"
    return json.loads(found[-1].read_text())


@contextlib.contextmanager
def _reports_kept_on_failure(reports: Path, name: str) -> Iterator[None]:
    """On failure, `reports` copied to KEPT_REPORTS/<UTC>-<name>, named in the failure."""
    try:
        yield
    except (AssertionError, subprocess.TimeoutExpired) as e:
        if reports.is_dir():
            kept = KEPT_REPORTS / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{name}"
            shutil.copytree(reports, kept, symlinks=True, dirs_exist_ok=True)
            e.add_note(f"the selftest's reports are kept in {kept}")
        raise


def test_selftest_on_the_emulated_cluster_kills_every_check_it_can_break_there(in_pod_dir, hub_cluster):
    _selftest_kills(hub_cluster, SELECTED, "emulated-selftest")
    broken = {row["id"]: row["message"] for row in _selftest_report(hub_cluster)["checks"]}
    # native Spark's two say what the cluster refused, by name
    if "SPK.native_executors_may_reach_the_driver" in broken:
        assert "NetworkPolicy singleuser selects" in broken["SPK.native_executors_may_reach_the_driver"], broken
    if "SPK.native_driver_may_manage_executor_pods" in broken:
        assert "may not create" in broken["SPK.native_driver_may_manage_executor_pods"], broken


def _selftest_kills(hub_cluster, ids: list[str], name: str) -> None:
    with _reports_kept_on_failure(hub_cluster.tmp_path / "reports", name):
        done = run_invoke(
            "selftest", "--context", "emulated", "--check", ",".join(ids), "--jobs", "2", timeout=SELFTEST_TIMEOUT
        )
        n = len(ids)
        said = done.stdout[-6000:] + done.stderr[-2000:]
        assert f"selftest: killed {n}/{n}, healthy {n}/{n} passed" in done.stdout, said
        assert done.returncode == 0
        data = _selftest_report(hub_cluster)
        faults_done = {row["id"]: row["fault"] for row in data["checks"]}
        assert faults_done == {i: KubeTarget.fault_for(checks.BY_ID[i]) for i in ids}
        # each done as on a cluster: through the API server or helm values, none to local files or processes
        assert all(checks.KUBE in BY_NAME[f].ways or checks.LOCAL not in BY_NAME[f].ways for f in faults_done.values())
        assert data["unproven"] == []
        assert set(hub_cluster.namespaces) == set(), "selftest left namespaces behind"


def test_a_failed_selftests_reports_are_kept_and_named(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "KEPT_REPORTS", tmp_path / "kept")
    run = tmp_path / "reports" / "20261206T000000Z-selftest"
    run.mkdir(parents=True)
    (run / "selftest.json").write_text("{}")
    with pytest.raises(AssertionError) as failed, _reports_kept_on_failure(tmp_path / "reports", "emulated-selftest"):
        raise AssertionError("selftest: killed 62/63, healthy 62/63 passed")
    (kept,) = (tmp_path / "kept").iterdir()
    assert kept.name.endswith("-emulated-selftest")
    assert (kept / run.name / "selftest.json").read_text() == "{}"
    assert failed.value.__notes__ == [f"the selftest's reports are kept in {kept}"]


def _poll_until(url: str, stop: threading.Event, failures: list[str]) -> None:
    """GET url every 0.2 s until stopped (or DISTURBANCE_TIMEOUT), each failure recorded."""
    started = time.monotonic()
    while not stop.is_set() and time.monotonic() - started < DISTURBANCE_TIMEOUT:
        try:
            requests.get(url, timeout=10).raise_for_status()
        except requests.RequestException as e:
            failures.append(f"{time.monotonic() - started:.1f}s {e}")
        stop.wait(0.2)


def test_a_neighbours_disturbance_leaves_the_forward_under_test_answering(hub_cluster):
    """What RES, UPG and BAK do beside the deployment verify reaches through kubectl
    port-forward: the neighbour's proxy pod deleted, its namespace purged and deployed again,
    while the API server is slow to answer. The deployment under test answers on its
    forwarded port all along, through the kubectl it started with."""
    for ns in ("fwd-main", "fwd-nbr"):
        done = run_invoke("deploy", "--context", "emulated", "--namespace", ns, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    main, neighbour = target_for("emulated", "fwd-main").deployment(), target_for("emulated", "fwd-nbr").deployment()
    stop, failures = threading.Event(), []
    kubelet, slowed = hub_cluster.kubelet, threading.Event()

    def slow_first_read(ns: str) -> None:
        if ns == "fwd-nbr" and not slowed.is_set():
            slowed.set()
            time.sleep(SLOW_READ)
        kubelet(ns)

    try:
        poller = threading.Thread(target=_poll_until, args=(f"{main.public_url}/hub/api/", stop, failures))
        assert main._forward is not None
        kubectl = main._forward.proc
        _ = neighbour.public_url  # a forward of its own, as verify holds to a scratch namespace
        poller.start()
        hub_cluster.kubelet = slow_first_read
        neighbour.stop_component("proxy")
        neighbour.close()
        for command in (["remove", "--purge"], ["deploy"]):
            done = run_invoke(command[0], "--context", "emulated", "--namespace", "fwd-nbr", *command[1:], timeout=300)
            assert done.returncode == 0, done.stderr[-2000:]
        stop.set()
        poller.join(30)
        restarts, same = main._forward.restarts, main._forward.proc is kubectl
    finally:
        stop.set()
        hub_cluster.kubelet = kubelet
        main.close()
        neighbour.close()
    assert slowed.is_set(), "the neighbour's pods were never read"
    assert failures == [], f"the deployment under test's forward failed {len(failures)} time(s): {failures[:5]}"
    assert same and restarts == 0, f"its kubectl was started again {restarts} time(s)"


def test_every_check_that_applies_on_kubernetes_is_proven_there_one_way():
    by_selftest, by_hub_faults = set(CHECKS), set(HUB_CHECKS)
    assert not by_selftest & by_hub_faults
    assert by_selftest | by_hub_faults == set(kube_proofs.KUBE_FAULTS) | set(kube_proofs.KUBE_HUB_CHECKS)
    assert not set(kube_proofs.KUBE_FAULTS) & set(kube_proofs.KUBE_HUB_CHECKS)
    for check in checks.for_target(KubeTarget):
        assert kube_proofs.kube_proof(check), check.id  # a group or check not listed raises KeyError


def test_a_check_whose_fault_cannot_be_done_on_a_cluster_is_listed_with_why(cluster):
    done = run_invoke(
        "selftest",
        "--context",
        "emulated",
        "--check",
        "RDY.hub_health_answers_through_the_proxy",
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("hubharness: none of the selected checks has a fault"), (
        done.stderr
    )
    assert "there is no kube way to do it yet" in done.stderr
    assert cluster.helm_calls() == [], "nothing was deployed"


@pytest.fixture
def in_pod_dir():
    """The folder the faults' postStart hooks write in the "pods" (/tmp of this machine, one
    for every emulated pod): removed after a test that writes there, by that test only. Not by
    hub_cluster: test_rotation uses it too, on the other xdist worker, and its teardown would
    take a running emulated selftest's fault files from under its servers."""
    yield Path(cluster_faults.IN_POD_DIR)
    shutil.rmtree(cluster_faults.IN_POD_DIR, ignore_errors=True)


def test_a_faults_files_travel_in_its_values_and_the_poststart_hook_writes_them_in_the_pod(tmp_path, in_pod_dir):
    """On a cluster a fault's files cannot be on this machine's disk: its values carry them,
    and the user pod's postStart hook writes them, in a folder of the fault's own. (A real hub
    and server see them do their harm in the emulated selftest above: wrong-pyspark.)"""
    args, _ = faults.materialise(BY_NAME["wrong-pyspark"], tmp_path, KubeTarget)
    assert not (tmp_path / "site").exists(), "nothing is written on this machine's disk"
    merged = values.load([Path(a) for a in args if a != "--values"])
    (hook,) = merged["singleuser"]["lifecycleHooks"]["postStart"]["exec"]["command"][2:]
    subprocess.run([sys.executable, "-c", hook], check=True, timeout=30)
    folder = in_pod_dir / "wrong-pyspark"
    assert (folder / "site" / "pyspark" / "__init__.py").read_text() == "__version__ = '3.4.0'\n"
    assert merged["singleuser"]["extraEnv"]["PYTHONPATH"] == f"{folder}/site"
