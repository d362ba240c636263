"""The kubernetes target: the official chart through helm, the Secret and the ingress
through the kubernetes client, readiness by the chart's pod labels; verify and status
read the namespace through the API (deployment.py); backup.py and restore.py move the
data; spark.py runs the Spark standalone cluster the values turn on; kind.py adds the
cluster kind makes.

Nothing here runs against a real cluster on the development machine (it has none): the
project's tests drive it over HTTP against an emulated API server, and the users'
nightly workflow runs it on kind for real.
"""

from __future__ import annotations

import base64
import functools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from ... import authenticators, chart, daytwo, sparkcluster, sparknative, upgrades
from ... import values as chart_values
from ...checks import CLUSTER_OBJECTS, KUBE, SPARK_CLUSTER, SPARK_NATIVE, Check, Fault
from ...errors import HarnessError
from ...hubapi import HubAPI, users_of
from ...secretstore import Secret
from ...waiting import wait_until
from ..base import BackupResult, DeployResult, Fact, Footprint, RemoveResult, RestoreResult, Status, Target, Undo
from . import access, faults, helm_release, spark_objects, spark_rbac
from .api import INGRESS, RELEASE, REPO_NAME, fail_if_stuck, kubeconfig, require, run, user_claims, validated
from .backup import run_backup
from .deployment import KubeDeployment
from .restore import run_restore
from .spark import KubeSparkCluster

AUTH_ENV = chart_values.AUTH_ENV
READY_TIMEOUT = 300
POD_GONE_TIMEOUT = 120
NAMESPACE_GONE_TIMEOUT = 300  # volumes are deleted with it
# what deploy makes carries it: the namespace (when it was not there), the Secret, the Ingress
MANAGED_BY = {"app.kubernetes.io/managed-by": "hubharness"}


def _selector(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in labels.items())


def _made_by_deploy(namespace) -> bool:
    """Made by deploy (its label), already being deleted (an earlier purge), or gone
    (None): nothing of anyone else's to keep in it."""
    if namespace is None:
        return True
    labels = namespace.metadata.labels or {}
    return namespace.status.phase == "Terminating" or all(labels.get(k) == v for k, v in MANAGED_BY.items())


@dataclass
class PasswordPlan:
    """What deploy will write of the login passwords, decided before any change."""

    refs: dict[str, tuple[str, str]]  # env name -> (Secret, key)
    secret_exists: dict[str, bool]  # Secret name -> whether it is there now
    # env name -> (value, origin: stored | environment | generated); never in a repr
    chosen: dict[str, tuple[str, str]] = field(repr=False)


class KubeTarget(Target):
    """Any context of the kubeconfig: the cluster is there already, helm is all it needs."""

    KIND = KUBE
    HAS = frozenset({CLUSTER_OBJECTS, SPARK_CLUSTER, SPARK_NATIVE})
    PLANTS_MUTANTS = True
    # selftest's namespaces run side by side: proxy-public a ClusterIP (no NodePort to
    # share), no user-scheduler (its ClusterRole is named after the release)
    SELFTEST_VALUES = ("scratch.yaml",)

    def __init__(self, context: str, namespace: str):
        self.context = context
        self.namespace = namespace
        self.kube_context = context
        self.kubeconfig = kubeconfig()

    @classmethod
    def create(cls, context: str, namespace: str, **options: Any) -> KubeTarget:
        return cls(context, namespace)

    @staticmethod
    def contexts() -> list[str]:
        """The kubeconfig's contexts; none when there is no readable kubeconfig."""
        try:
            contexts, _ = config.list_kube_config_contexts(config_file=kubeconfig())
            return [c["name"] for c in contexts]
        except Exception:  # noqa: BLE001 — no kubeconfig, or an unreadable one: there are no contexts
            return []

    # ---- what a target with a cluster of its own (kind) adds ----------------------------
    def cluster_missing(self) -> str | None:
        """Why there is no cluster to talk to yet, where the target makes its own."""
        return None

    def require_tools(self) -> None:
        """Every tool deploy and remove run, checked before anything changes."""
        _ = self.helm

    def ensure_cluster(self) -> None:
        """Make the cluster, where the target makes its own."""

    def prepare(self) -> None:
        self.require_tools()
        self.ensure_cluster()

    def exists(self) -> bool:
        return self.cluster_missing() is None and self._namespace_phase(self.core()) is not None

    # ---- what selftest does to it (hubharness.targets.kube.faults) ---------------------
    @classmethod
    def fault_for(cls, check: Check) -> str:
        return faults.INSTEAD.get(check.id, check.fault)

    @classmethod
    def selftest_env(cls, namespace: str) -> dict[str, str]:
        """An ingress host of the namespace's own: one host is one Ingress in a cluster."""
        host = yaml.safe_load(INGRESS.read_text())["spec"]["rules"][0]["host"]
        return {access.INGRESS_HOST_ENV: f"{namespace}.{host}"}

    @classmethod
    def place_fault_files(cls, fault: Fault, work: Path) -> tuple[str, list[str]]:
        return faults.files_in_pods(fault, work)

    def do_fault(self, fault: Fault) -> Undo | None:
        return faults.BY_NAME[fault.ways[KUBE]](self) if KUBE in fault.ways else None

    def damage_hub_database(self, script: str) -> None:
        faults.damage_hub_database(self, script)

    def delete_homes(self) -> None:
        faults.delete_user_volumes(self)

    def runs_nothing(self) -> bool:
        return faults.nothing_running_on(self)

    def node_address(self, port: int) -> str | None:
        """An address on this machine that reaches `port` on the cluster's nodes, where the
        cluster maps one (kind's extraPortMappings); None: reach it another way."""
        return None

    def purge_cluster(self) -> str:
        """After a purge: what else goes (kind deletes its cluster once it is empty)."""
        return ""

    # ---- clients and tools ------------------------------------------------------------
    def _api_client(self):
        missing = self.cluster_missing()
        if missing:
            raise HarnessError(f"{missing}: run `invoke deploy --context {self.context}` first")
        return config.new_client_from_config(config_file=self.kubeconfig, context=self.kube_context)

    def core(self):
        return client.CoreV1Api(self._api_client())

    def apps(self):
        return client.AppsV1Api(self._api_client())

    def rbac(self):
        return client.RbacAuthorizationV1Api(self._api_client())

    def networking(self):
        return client.NetworkingV1Api(self._api_client())

    @functools.cached_property
    def helm(self) -> str:
        return require("helm", "install Helm 3 (https://helm.sh/docs/intro/install/) and deploy again")

    def helm_run(self, *args: str, what: str) -> str:
        return run([self.helm, *args, "--kube-context", self.kube_context, "--kubeconfig", self.kubeconfig], what)

    def _releases(self, all_namespaces: bool = False) -> list[str]:
        where = ["--all-namespaces"] if all_namespaces else ["--namespace", self.namespace]
        return self.helm_run("list", *where, "--short", what="helm list").split()

    # ---- deploy -----------------------------------------------------------------------
    def _ensure_namespace(self, core) -> None:
        phase = self._namespace_phase(core)
        if phase is None:
            try:
                core.create_namespace(
                    validated(
                        {
                            "apiVersion": "v1",
                            "kind": "Namespace",
                            "metadata": {
                                "name": self.namespace,
                                "labels": MANAGED_BY,
                            },
                        }
                    )
                )
            except ApiException as e:
                if e.status != 409:  # 409: made meanwhile (another deploy), or being deleted: look again
                    raise
                phase = self._namespace_phase(core)
        if phase == "Terminating":
            raise HarnessError(f"namespace {self.namespace} is terminating: wait until it is gone, or use another")

    def _ensure_node_port_is_free(self, core, values: dict) -> None:
        """A NodePort is cluster-wide: a second namespace with the same values would make
        helm fail half-way ("provided port is already allocated"). Say so before."""
        port = access.node_port(values)
        if port is None:
            return
        try:
            services = core.list_service_for_all_namespaces().items
        except ApiException as e:
            if e.status == 403:  # may not list cluster-wide: helm will tell
                return
            raise HarnessError(f"listing services failed: {e.status} {e.reason}") from None
        for service in services:
            if service.metadata.namespace == self.namespace:
                continue  # our own proxy-public, from an earlier deploy
            if any(p.node_port == port for p in (service.spec.ports or [])):
                raise HarnessError(
                    f"NodePort {port} is taken by service {service.metadata.name} in namespace "
                    f"{service.metadata.namespace}: deploy with --values setting proxy.service.nodePorts.http "
                    "to a free port (or proxy.service.type: ClusterIP)"
                )

    def _read_secret(self, core, name: str) -> dict[str, str] | None:
        """A Secret's data, decoded; None when there is no such Secret."""
        try:
            secret = core.read_namespaced_secret(name, self.namespace)
        except ApiException as e:
            if e.status != 404:
                raise HarnessError(f"reading secret {name} failed: {e.status} {e.reason}") from None
            return None
        return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}

    def _choose_passwords(self, core, values: dict) -> PasswordPlan:
        """The Secret keys the hub's login passwords come from (the user one; the admin one
        where the values route it), checked before anything is written: an existing Secret
        lacking the user password is refused (it is the operator's), and so is a password
        the authenticator would refuse. A missing key gets the environment's password or a
        generated one; a stored one is kept."""
        refs = authenticators.password_refs(values)
        stored = {name: self._read_secret(core, name) for name, _ in refs.values()}
        name, key = refs[AUTH_ENV]
        auth_secret = stored[name]
        if auth_secret is not None and not auth_secret.get(key):
            raise HarnessError(
                f"secret {name} in namespace {self.namespace} has no key {key}: add it "
                f"(kubectl -n {self.namespace} edit secret {name}) and deploy again"
            )
        chosen: dict[str, tuple[str, str]] = {}  # env name -> (value, origin)
        for env_name, (name, key) in refs.items():
            if value := (stored[name] or {}).get(key):
                chosen[env_name] = (Secret(value), "stored")
            elif os.environ.get(env_name):
                chosen[env_name] = (Secret(os.environ[env_name]), "environment")
            else:
                chosen[env_name] = (Secret(authenticators.GENERATED[env_name]()), "generated")
        authenticators.refuse_passwords(
            values,
            {
                env_name: (value, f"Secret {'/'.join(refs[env_name])}" if origin == "stored" else f"the {origin}")
                for env_name, (value, origin) in chosen.items()
                if origin != "generated"
            },
        )
        return PasswordPlan(refs, {name: data is not None for name, data in stored.items()}, chosen)

    def _write_passwords(self, core, plan: PasswordPlan) -> None:
        """Create a missing Secret; add only the keys an existing one lacks."""
        for name, exists in plan.secret_exists.items():
            new = {
                key: base64.b64encode(plan.chosen[env_name][0].encode()).decode()
                for env_name, (secret, key) in plan.refs.items()
                if secret == name and plan.chosen[env_name][1] != "stored"
            }
            if not exists:
                core.create_namespaced_secret(
                    self.namespace,
                    validated(
                        {
                            "apiVersion": "v1",
                            "kind": "Secret",
                            "type": "Opaque",
                            "metadata": {"name": name, "labels": MANAGED_BY},
                            "data": new,
                        }
                    ),
                )
            elif new:  # what is there stays as it is
                core.patch_namespaced_secret(name, self.namespace, {"data": new})

    def _apply_ingress(self, body: dict) -> None:
        api = self.networking()
        try:
            api.create_namespaced_ingress(self.namespace, body)
        except ApiException as e:
            if e.status != 409:
                raise HarnessError(f"creating ingress failed: {e.status} {e.reason}") from None
            api.replace_namespaced_ingress(body["metadata"]["name"], self.namespace, body)

    # ---- native Spark: what the driver in a user's pod needs (hubharness.sparknative) -------
    def _apply_spark_native(self, native: sparknative.Settings) -> None:
        """The service account user pods run as, its Role and RoleBinding: made, or replaced
        as the values now give them."""
        core, rbac = self.core(), self.rbac()
        calls = {
            "ServiceAccount": (core.create_namespaced_service_account, core.replace_namespaced_service_account),
            "Role": (rbac.create_namespaced_role, rbac.replace_namespaced_role),
            "RoleBinding": (rbac.create_namespaced_role_binding, rbac.replace_namespaced_role_binding),
        }
        for body in spark_rbac.objects(native.service_account, self.namespace):
            create, replace = calls[body["kind"]]
            name = body["metadata"]["name"]
            try:
                create(self.namespace, validated(body))
            except ApiException as e:
                if e.status != 409:
                    raise HarnessError(f"creating {body['kind']} {name} failed: {e.status} {e.reason}") from None
                replace(name, self.namespace, body)

    def _delete_spark_native(self) -> None:
        """What _apply_spark_native made (by its labels), whatever the values say now."""
        core, rbac = self.core(), self.rbac()
        selector = _selector(spark_rbac.MANAGED_BY)
        for listed, delete in (
            (rbac.list_namespaced_role_binding, rbac.delete_namespaced_role_binding),
            (rbac.list_namespaced_role, rbac.delete_namespaced_role),
            (core.list_namespaced_service_account, core.delete_namespaced_service_account),
        ):
            for found in listed(self.namespace, label_selector=selector).items:
                try:
                    delete(found.metadata.name, self.namespace)
                except ApiException as e:
                    if e.status != 404:
                        raise HarnessError(f"deleting {found.metadata.name} failed: {e.status} {e.reason}") from None

    def wait_ready(self, core, component: str) -> None:
        """Until the component's pods are Running and Ready; at once for a stuck one."""

        def ready() -> bool:
            pods = core.list_namespaced_pod(
                self.namespace, label_selector=f"release={RELEASE},component={component}"
            ).items
            for pod in pods:
                fail_if_stuck(pod, f"pod {pod.metadata.name} ({component})")
                conditions = {c.type: c.status for c in (pod.status.conditions or [])} if pod.status else {}
                if pod.status is None or pod.status.phase != "Running" or conditions.get("Ready") != "True":
                    return False
            return bool(pods)

        wait_until(f"the {component} pod in {self.namespace} to be Running and Ready", ready, READY_TIMEOUT)

    def deploy(
        self,
        values_files: list[Path],
        port: int = 0,
        chart_version: str | None = None,
        beside: bool = False,
        force: bool = False,
    ) -> DeployResult:
        started = time.monotonic()
        chart_version = chart_version or chart.DEFAULT_CHART_VERSION
        values, schema_check = chart_values.load_validated(values_files, chart_version)
        native = sparknative.refuse_unusable(values)
        daytwo.refuse_unusable(values)
        spark = sparkcluster.refuse_unusable(values, reachable_here=False)
        if spark is not None:
            spark_objects.image_of(values)  # refused before any change, as the settings are
        authenticators.require_hub_for(values, chart_version)
        ingress = validated(access.with_ingress_host(yaml.safe_load(INGRESS.read_text())))  # before any change
        self.require_tools()
        self.ensure_cluster()
        core = self.core()
        running = helm_release.deployed(core, self.namespace, RELEASE)
        # The chart's hub upgrades the database's schema itself when hub.db.upgrade is set
        # (its hub refuses to start on an older one otherwise); a downgrade is refused here.
        move = upgrades.move(self.namespace, running.chart_version if running else None, chart_version, force)
        self._ensure_node_port_is_free(core, values)
        passwords = self._choose_passwords(core, values)
        self._ensure_namespace(core)
        name, key = chart_values.auth_secret_ref(values)
        origins = {env_name: origin for env_name, (_, origin) in passwords.chosen.items()}
        try:
            self._write_passwords(core, passwords)
        except ApiException as e:
            # deletion began after _ensure_namespace looked: the namespace lifecycle admission's 403
            if e.status == 403 and "being terminated" in (e.body or ""):
                raise HarnessError(
                    f"namespace {self.namespace} began terminating during deploy: wait until it is gone, or use another"
                ) from None
            raise
        if native is not None:  # before helm: KubeSpawner's first pod already runs as the account
            self._apply_spark_native(native)
        self.helm_run("repo", "add", REPO_NAME, chart.CHART_REPO, "--force-update", what="helm repo add")
        self.helm_run("repo", "update", REPO_NAME, what="helm repo update")
        files = [arg for f in values_files for arg in ("-f", str(f))]
        self.helm_run(
            "upgrade",
            "--install",
            RELEASE,
            f"{REPO_NAME}/{chart.CHART_NAME}",
            "--version",
            chart_version,
            "--namespace",
            self.namespace,
            *files,
            "--timeout",
            "300s",
            what=f"helm upgrade --install (chart {chart_version})",
        )
        if not beside:  # one host, one ingress: the scratch beside a deployment has none
            self._apply_ingress(ingress)
        # Two stages, as the seed: hub and proxy Running and Ready.
        for component in ("hub", "proxy"):
            self.wait_ready(core, component)
        spark_note = self._deploy_spark(core, values, spark)
        return DeployResult(
            self.context,
            self.namespace,
            what=f"release {RELEASE} in namespace {self.namespace}",
            url=None,
            secret_origin=origins[AUTH_ENV],
            secret_place=f"Secret {name}/{key} (never printed)",
            details=[
                f"{env_name}: {origin}, in Secret {'/'.join(ref)} (never printed)"
                for env_name, ref in authenticators.password_refs(values).items()
                if env_name != AUTH_ENV
                for origin in [origins[env_name]]
            ],
            ready_note="hub and proxy are Ready" + (f"; {spark_note}" if spark_note else ""),
            schema_note=schema_check.warning(),
            action=move or "started",
            moved=f"chart {running.chart_version} → {chart_version} (helm upgrade)" if move and running else "",
            seconds=time.monotonic() - started,
        )

    def _spark_cluster(self, core) -> KubeSparkCluster:
        return KubeSparkCluster(core, self.apps(), self.namespace, RELEASE)

    def _deploy_spark(self, core, values: dict, settings: sparkcluster.Settings | None) -> str:
        """The Spark cluster the values turn on, applied and waited for until its master lists
        every worker ALIVE; one the values no longer turn on, deleted. What deploy says of it."""
        cluster = self._spark_cluster(core)
        if settings is None:
            return "Spark cluster removed (the values no longer turn it on)" if cluster.delete() else ""
        cluster.apply(values, settings)
        status = cluster.wait_ready(settings)
        alive = sum(w.get("state") == "ALIVE" for w in status.get("workers", []))
        return f"Spark master {sparkcluster.SERVICE_ADDRESS} ALIVE with {alive} worker(s)"

    def remove(self, purge: bool = False) -> RemoveResult:
        """helm uninstall (waits for the pods to go); user volumes and the Secret stay unless
        --purge, which deletes the namespace deploy made (and waits until it is gone, so that
        a deploy can follow), and what purge_cluster adds. A namespace that was there before
        (default, which no one may delete, or one of yours) stays: purge deletes what the
        deployment put in it."""
        missing = self.cluster_missing()
        if missing:
            return RemoveResult(f"{missing}: nothing to remove", removed=False)
        self.require_tools()
        releases = self._releases()
        core = self.core()
        if RELEASE not in releases and not (purge and self._namespace_phase(core)):
            return RemoveResult(
                f"nothing deployed in namespace {self.namespace} (context {self.context}): nothing to remove",
                removed=False,
            )
        if RELEASE in releases:
            self._spark_cluster(core).delete()  # not helm's: its pods would outlive the release
            self.helm_run("uninstall", RELEASE, "--namespace", self.namespace, "--wait", what="helm uninstall")
            self.stop_user_pods(core)
        self._delete_spark_native()
        if not purge:
            return RemoveResult(
                f"removed release {RELEASE} from {self.namespace}; kept the Secret and user volumes "
                "(--purge deletes them)"
            )
        if not self._namespace_is_ours(core):
            if RELEASE not in releases and not self._secrets_of_deploy(core):
                return RemoveResult(
                    f"nothing deployed in namespace {self.namespace} (context {self.context}): nothing to remove",
                    removed=False,
                )
            return RemoveResult(self._purge_in_place(core) + self.purge_cluster())
        try:
            core.delete_namespace(self.namespace)
        except ApiException as e:
            # 404: gone already; 409: being deleted already (an earlier purge): wait for it either way
            if e.status not in (404, 409):
                raise HarnessError(f"deleting namespace {self.namespace} failed: {e.status} {e.reason}") from None
        wait_until(
            f"namespace {self.namespace} to be deleted",
            lambda: self._namespace_phase(core) is None,
            NAMESPACE_GONE_TIMEOUT,
        )
        said = f"removed release {RELEASE} and namespace {self.namespace} with its volumes and secrets"
        return RemoveResult(said + self._delete_retained(core, self._volumes_of_namespace(core)) + self.purge_cluster())

    def _namespace_is_ours(self, core) -> bool:
        return _made_by_deploy(self._namespace(core))

    def _purge_in_place(self, core) -> str:
        """In a namespace deploy did not make: the users' volumes, and the Secrets and the
        Ingress deploy made; the namespace and whatever else is in it stay."""
        claims = [claim.metadata.name for claim in self._user_claims_of_release(core)]
        volumes = [pv for pv in self._volumes_of_namespace(core) if pv.spec.claim_ref.name in claims]
        secrets = self._secrets_of_deploy(core)
        networking = self.networking()
        ingresses = networking.list_namespaced_ingress(self.namespace, label_selector=_selector(MANAGED_BY)).items
        try:
            for name in claims:
                core.delete_namespaced_persistent_volume_claim(name, self.namespace)
            for name in secrets:
                core.delete_namespaced_secret(name, self.namespace)
            for ingress in ingresses:
                networking.delete_namespaced_ingress(ingress.metadata.name, self.namespace)
        except ApiException as e:
            if e.status != 404:
                raise HarnessError(f"purging {self.namespace} failed: {e.status} {e.reason}") from None
        wait_until(
            f"the users' volumes in {self.namespace} to be deleted",
            lambda: not self._user_claims_of_release(core),
            NAMESPACE_GONE_TIMEOUT,
        )
        said = (
            f"removed release {RELEASE}, and from namespace {self.namespace} its users' volumes ({len(claims)}), "
            f"the Secret(s) deploy made ({', '.join(secrets) or 'none'}) and its Ingress; kept namespace "
            f"{self.namespace} and all else in it: deploy did not make it"
        )
        return said + self._delete_retained(core, volumes)

    def _secrets_of_deploy(self, core) -> list[str]:
        listed = core.list_namespaced_secret(self.namespace, label_selector=_selector(MANAGED_BY)).items
        return [secret.metadata.name for secret in listed]

    def _user_claims_of_release(self, core) -> list:
        """KubeSpawner's volumes for this release's users (its release label, where it set one)."""
        return [
            claim
            for _, claim in user_claims(core, self.namespace)
            if (claim.metadata.labels or {}).get("release", RELEASE) == RELEASE
        ]

    def _delete_retained(self, core, volumes: list) -> str:
        """Volumes whose reclaim policy is Retain outlive their claims, holding user data."""
        retained = [pv.metadata.name for pv in volumes]
        for name in retained:
            try:
                core.delete_persistent_volume(name)
            except ApiException as e:
                if e.status != 404:
                    raise HarnessError(f"deleting persistent volume {name} failed: {e.status} {e.reason}") from None
        if not retained:
            return ""
        return (
            f"; deleted the retained persistent volume(s) {', '.join(retained)} (with reclaim policy "
            "Retain the storage behind them stays: delete it where your storage lives)"
        )

    def _namespace(self, core):
        """The namespace as the API has it; None when there is no such namespace."""
        try:
            return core.read_namespace(self.namespace)
        except ApiException as e:
            if e.status == 404:
                return None
            raise HarnessError(f"reading namespace {self.namespace} failed: {e.status} {e.reason}") from None

    def _namespace_phase(self, core) -> str | None:
        """Active, Terminating, or None when there is no such namespace."""
        namespace = self._namespace(core)
        return namespace.status.phase if namespace is not None else None

    def stop_user_pods(self, core, until_gone: tuple[str, ...] | None = None) -> None:
        """User servers are KubeSpawner's pods, not helm's: delete them, and wait until no
        pod of the release is left (only of the `until_gone` components, if given).
        Their volumes (claim-<user>) stay."""
        selector = f"release={RELEASE}"
        core.delete_collection_namespaced_pod(self.namespace, label_selector=f"{selector},component=singleuser-server")
        what = ", ".join(until_gone) if until_gone else f"release {RELEASE}"
        wait_until(
            f"the pods of {what} in {self.namespace} to go",
            lambda: (
                not [
                    p
                    for p in core.list_namespaced_pod(self.namespace, label_selector=selector).items
                    if until_gone is None or (p.metadata.labels or {}).get("component") in until_gone
                ]
            ),
            POD_GONE_TIMEOUT,
        )

    # ---- rotate-password ----------------------------------------------------------------
    def write_password(self, env_name: str, value: str) -> None:
        release = helm_release.deployed(self.core(), self.namespace, RELEASE)
        secret, key = authenticators.password_refs(release.values if release else {})[env_name]
        encoded = base64.b64encode(value.encode()).decode()
        self.core().patch_namespaced_secret(secret, self.namespace, {"data": {key: encoded}})

    def restart_hub(self) -> None:
        """The hub's pod deleted (its Deployment makes a new one, whose environment the
        kubelet reads from the Secrets again), then Ready."""
        self.deployment().stop_component("hub")
        self.wait_ready(self.core(), "hub")

    def password_place(self, secret: str, key: str) -> str:
        where = f"--kubeconfig {self.kubeconfig} --context {self.kube_context} -n {self.namespace}"
        return f"kubectl {where} get secret {secret} -o jsonpath='{{.data.{key}}}' | base64 -d"

    # ---- verify and status ----------------------------------------------------------------
    def deployment(self) -> KubeDeployment:
        release = helm_release.deployed(self.core(), self.namespace, RELEASE)
        if release is None:
            raise HarnessError(
                f"nothing deployed in namespace {self.namespace} (context {self.context}): "
                f"run `invoke deploy --context {self.context}` first"
            )
        return KubeDeployment(self, release)

    def status(self) -> Status:
        deployment = self.deployment()
        name, key = deployment.auth_ref
        status = Status(
            self.context,
            self.namespace,
            chart=deployment.chart_version,
            hub_url=None,
            secret=f"{name}/{key} in namespace {self.namespace}",
            components=deployment.components() + deployment.spark_components(),
            details={"revision": deployment.release.revision},
        )
        try:
            status.hub_url = deployment.public_url
            status.users = users_of(HubAPI(deployment.public_url, deployment.service_token()))
        except (HarnessError, requests.RequestException) as e:
            status.users_error = str(e)
        finally:
            deployment.close()
        return status

    # ---- backup and restore ---------------------------------------------------------------
    def backup(self, to: Path | None = None) -> BackupResult:
        return run_backup(self, to)

    def restore(self, archive: Path, force: bool = False) -> RestoreResult:
        return run_restore(self, archive, force)

    # ---- what remove leaves behind (RMV) ----------------------------------------------------
    def footprint(self) -> Footprint:
        """The Secret the deployed release reads (helm's record of its values); nothing
        listens on this machine for a cluster deployment."""
        release = helm_release.deployed(self.core(), self.namespace, RELEASE)
        return Footprint(secret=chart_values.auth_secret_ref(release.values) if release else None)

    def user_data_kept(self, username: str, footprint: Footprint) -> Fact:
        """The user's volume and the Secret (its files are on the volume: reading them back
        needs a pod, which restore's helpers have)."""
        core = self.core()
        if self._namespace_phase(core) is None:
            return Fact(False, f"namespace {self.namespace} is gone, and its volumes and Secret with it")
        claims = [claim.metadata.name for user, claim in user_claims(core, self.namespace) if user == username]
        if footprint.secret is None:
            return Fact(False, f"no release was deployed in {self.namespace} when the footprint was taken")
        name, key = footprint.secret
        try:
            secret_kept = bool((core.read_namespaced_secret(name, self.namespace).data or {}).get(key))
        except ApiException as e:
            if e.status != 404:
                raise HarnessError(f"reading secret {name} failed: {e.status} {e.reason}") from None
            secret_kept = False
        return Fact(
            bool(claims) and secret_kept,
            f"{username}'s volumes: {', '.join(claims) or 'none'}; secret {name} "
            f"{'kept' if secret_kept else 'gone'} in {self.namespace}",
        )

    def leftovers(self, footprint: Footprint) -> list[str]:
        """The namespace's pods and release, and what outlives a namespace: persistent volumes
        its claims were bound to (reclaim policy Retain) and cluster roles and bindings helm
        made for its release."""
        self.require_tools()
        core = self.core()
        left = [
            f"persistent volume {pv.metadata.name} ({pv.spec.persistent_volume_reclaim_policy}, "
            f"{pv.status.phase if pv.status else '?'}) of claim {pv.spec.claim_ref.name}"
            for pv in self._volumes_of_namespace(core)
        ]
        rbac = self.rbac()
        for kind, listed in (
            ("cluster role", rbac.list_cluster_role().items),
            ("cluster role binding", rbac.list_cluster_role_binding().items),
        ):
            left += [
                f"{kind} {o.metadata.name}"
                for o in listed
                if (o.metadata.annotations or {}).get("meta.helm.sh/release-namespace") == self.namespace
            ]
        namespace = self._namespace(core)
        if namespace is None:
            return left
        left += [
            f"pod {p.metadata.name}"
            for p in core.list_namespaced_pod(self.namespace, label_selector=f"release={RELEASE}").items
        ]
        native = _selector(spark_rbac.MANAGED_BY)
        for kind, listed in (
            ("service account", core.list_namespaced_service_account),
            ("role", rbac.list_namespaced_role),
            ("role binding", rbac.list_namespaced_role_binding),
        ):
            left += [
                f"{kind} {o.metadata.name} (native Spark)" for o in listed(self.namespace, label_selector=native).items
            ]
        if RELEASE in self._releases():
            left.append(f"helm release {RELEASE}")
        # the data remove keeps, which purge deletes: the namespace deploy made, else what it put there
        if _made_by_deploy(namespace):
            left.append(f"state: namespace {self.namespace} ({namespace.status.phase})")
        else:
            left += [f"state: volume claim {claim.metadata.name}" for claim in self._user_claims_of_release(core)]
            left += [f"state: secret {name}" for name in self._secrets_of_deploy(core)]
        return left

    def _volumes_of_namespace(self, core) -> list:
        return [
            pv
            for pv in core.list_persistent_volume().items
            if pv.spec.claim_ref is not None and pv.spec.claim_ref.namespace == self.namespace
        ]
