"""Facts about a chart deployment in a kubernetes namespace, for the conformance suites.

Everything is read through the kubernetes API (pods by the chart's labels, the Secret,
the helm release record, network policies, logs); the hub's own view comes through
its REST API over proxy-public. Inside a user's pod, commands run through
pytest-testinfra's kubectl:// backend.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import io
import json
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import requests
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.utils import parse_quantity

from ... import authenticators, chart, sparkcluster, sparknative
from ... import values as chart_values
from ...daytwo import Home
from ...errors import HarnessError
from ...hubapi import HubAPI
from ...load.figures import Usage
from ...paths import VALUES_DIR, state_home
from ...secretstore import Secret
from ...sparkcluster import ClusterView
from ...waiting import wait_until
from ..base import Component, Deployment, Fact
from . import access, netpol, spark_rbac
from .api import HUB_DB, HUB_SECRET, INGRESS, NOTEBOOK_CONTAINER, USERNAME_ANNOTATION
from .helm_release import Release
from .pods import exec_in, inpod, last_line
from .spark import KubeSparkCluster

HUB_TARGET = "http://hub:8081"  # the chart's hub_connect_url (service hub, port 8081)
NETWORK_POLICIES = ("hub", "proxy", "singleuser")
# the ports KubeSpawner's notebook container declares, by name (the chart's policy names it)
NOTEBOOK_PORTS = {"notebook-port": 8888}
# what KubeSpawner labels every user pod with (its common labels, the chart's release and app)
USER_POD_LABELS = {"component": "singleuser-server", "app": "jupyterhub", "heritage": "jupyterhub"}
# what Spark's driver does in client mode: its executors' pods (its own read for their owner,
# all of them deleted by label at stop) and the config map of their Spark conf
DRIVER_ACCESS = (
    ("pods", ("create", "get", "list", "watch", "delete", "deletecollection")),
    ("configmaps", ("create", "deletecollection")),
)
STOP_TIMEOUT = 120  # a deleted pod's grace period (30 s by default) and then some
LOG_LINES = 2000


def _decoded(data: dict | None) -> dict[str, str]:
    return {k: base64.b64decode(v).decode(errors="replace") for k, v in (data or {}).items()}


def _secret_refs_of(pod) -> set[str]:
    """Names of the Secrets a pod takes env values, env sources or volumes from."""
    names = set()
    for container in [*(pod.spec.containers or []), *(pod.spec.init_containers or [])]:
        for env in container.env or []:
            if env.value_from and env.value_from.secret_key_ref:
                names.add(env.value_from.secret_key_ref.name)
        for source in container.env_from or []:
            if source.secret_ref:
                names.add(source.secret_ref.name)
    for volume in pod.spec.volumes or []:
        if volume.secret:
            names.add(volume.secret.secret_name)
    return names


class KubeDeployment(Deployment):
    spawn_timeout = 300  # a pod: schedule, volume, image (pre-pulled by the chart), start
    scratch_timeout = 1800  # two helm installs, a namespace deletion, three spawns, helper pods

    def __init__(self, target, release: Release):
        self.target = target
        self.core = target.core()
        self.context, self.namespace = target.context, target.namespace
        self.release = release
        self.chart_version = release.chart_version
        self.values = release.config  # as installed: what a scratch deployment installs again
        # Not this machine's values files for the context: what was deployed may have had others
        self.values_files = []
        digest = hashlib.sha256(json.dumps(release.config, sort_keys=True).encode()).hexdigest()
        self.values_record = (
            f"helm release {release.name} revision {release.revision} in {self.namespace} "
            f"(its recorded values, sha256 {digest})"
        )
        # helm itself refuses values its chart's values.schema.json refuses, at every install
        self.values_schema = {
            "validated": True,
            "schema": f"chart {self.chart_version}'s values.schema.json, by helm at install",
        }
        self.auth_ref = chart_values.auth_secret_ref(self.rendered_values)
        self.admin_ref = authenticators.admin_secret_ref(self.rendered_values)
        self._forward: access.PortForward | None = None

    @property
    def rendered_values(self) -> dict:
        """With the chart's defaults (helm's record of its values.yaml): what the pods run with."""
        return self.release.values

    @property
    def expected_hub_version(self) -> str:
        return chart.hub_version(self.chart_version)

    def scratch_values_files(self) -> list[Path]:
        """The values installed here (helm's record of them), then values/scratch.yaml:
        the NodePort is this deployment's, the scratch's proxy-public is a ClusterIP; and
        no Spark cluster."""
        installed = state_home() / ".scratch" / f"{self.context}-{self.namespace}-values.yaml"
        installed.parent.mkdir(parents=True, exist_ok=True)
        installed.touch(0o600)
        installed.write_text(yaml.safe_dump(self.values, sort_keys=False))
        # the scratch's checks never run Spark: no cluster of its own (as on local)
        without = [VALUES_DIR / "scratch-without-spark.yaml"] if sparkcluster.settings(self.values) else []
        return [installed, VALUES_DIR / "scratch.yaml", *without]

    @functools.cached_property
    def public_url(self) -> str:
        if os.environ.get(access.PUBLIC_URL_ENV):
            return os.environ[access.PUBLIC_URL_ENV].rstrip("/")
        port = access.node_port(self.rendered_values)
        address = self.target.node_address(port) if port else None
        if address:
            return address
        self._forward = access.PortForward(self.namespace, self.target.kube_context, self.target.kubeconfig)
        return self._forward.url()

    def close(self) -> None:
        if self._forward is not None:
            self._forward.close()

    @property
    def hub_target(self) -> str:
        return HUB_TARGET

    def hub_instance(self) -> str:
        return " ".join(f"{p.metadata.name}/{p.metadata.uid}" for p in self.component_pods("hub")) or "none"

    # ---- LOAD: the metrics API (metrics-server), where the cluster has one ----
    usage_source = "metrics API (metrics.k8s.io)"

    def component_usage(self) -> dict[str, Usage] | str:
        pods = self._pod_metrics(f"release={self.release.name},component in (hub,proxy)")
        if isinstance(pods, str):
            return pods
        out = {
            (pod["metadata"].get("labels") or {}).get("component", pod["metadata"]["name"]): _usage(pod) for pod in pods
        }
        return out or "not available: the metrics API lists no hub or proxy pod"

    def server_usage(self) -> dict[str, Usage] | str:
        pods = self._pod_metrics(f"release={self.release.name},component=singleuser-server")
        if isinstance(pods, str):
            return pods
        users = {
            p.metadata.name: (p.metadata.annotations or {}).get(USERNAME_ANNOTATION, p.metadata.name)
            for p in self._pods(f"release={self.release.name},component=singleuser-server")
        }
        return {f"server:{users.get(pod['metadata']['name'], pod['metadata']['name'])}": _usage(pod) for pod in pods}

    def _pod_metrics(self, selector: str) -> list[dict] | str:
        metrics = client.CustomObjectsApi(self.core.api_client)
        try:
            listed = metrics.list_namespaced_custom_object(
                "metrics.k8s.io", "v1beta1", self.namespace, "pods", label_selector=selector
            )
        except ApiException as e:
            return f"not available: the metrics API answered {e.status} (no metrics-server in this cluster?)"
        return cast(dict, listed)["items"]

    # ---- OPS: users' homes, measured in their pods ------------------------------------------
    def homes(self) -> list[Home]:
        """The home of each user whose server runs: `du` inside the pod at the home's mount
        (one file system: a share mounted under it is not the user's), against the capacity
        of the claim mounted there (none: nothing bounds it)."""
        template = str(chart_values.get(self.rendered_values, "singleuser.storage.homeMountPath") or "/home/jovyan")
        out = []
        for pod in self._pods(f"release={self.release.name},component=singleuser-server"):
            user = (pod.metadata.annotations or {}).get(USERNAME_ANNOTATION)
            if not user or pod.metadata.deletion_timestamp is not None or pod.status.phase != "Running":
                continue
            mount, claim = _home_mount(pod, template)
            ran = self.run_in_server(user, f"du -skx {shlex.quote(mount)}")
            found = ran.stdout.split()[:1]
            # du exits 1 when some folder could not be read (lost+found) and still totals the rest
            if ran.rc not in (0, 1) or not found or not found[0].isdigit():
                raise HarnessError(
                    f"du -skx {mount} in pod {pod.metadata.name} exited {ran.rc}: {last_line(ran.stderr)}"
                )
            capacity = self._claim_capacity(claim) if claim else None
            where = f"pod {pod.metadata.name}:{mount}" + (f", claim {claim}" if claim else ", no claim")
            where += ", some folders unreadable" if ran.rc else ""
            out.append(Home(user, int(found[0]) * 1024, capacity, where))
        return out

    def _claim_capacity(self, name: str) -> int | None:
        try:
            claim = self.core.read_namespaced_persistent_volume_claim(name, self.namespace)
        except ApiException as e:
            raise HarnessError(f"reading claim {name} in {self.namespace} failed: {e.status} {e.reason}") from None
        given = (claim.status.capacity if claim.status else None) or {}
        requested = (claim.spec.resources.requests if claim.spec.resources else None) or {}
        quantity = given.get("storage") or requested.get("storage")
        return int(parse_quantity(quantity)) if quantity else None

    # ---- reading the namespace ----------------------------------------------------------
    def _pods(self, selector: str = "") -> list:
        return self.core.list_namespaced_pod(self.namespace, label_selector=selector or None).items

    def component_pods(self, component: str) -> list:
        return self._pods(f"release={self.release.name},component={component}")

    def serving_pod(self, component: str):
        """The component's pod to exec into: Running and not being deleted (a rollout, or a
        restore, leaves the old pod terminating beside a new one); None if there is none."""
        for pod in self.component_pods(component):
            if pod.status and pod.status.phase == "Running" and pod.metadata.deletion_timestamp is None:
                return pod
        return None

    def _secret_data(self, name: str) -> dict[str, str]:
        try:
            return _decoded(self.core.read_namespaced_secret(name, self.namespace).data)
        except ApiException as e:
            if e.status == 404:
                return {}
            raise HarnessError(f"reading secret {name} in {self.namespace} failed: {e.status} {e.reason}") from None

    def auth_password(self) -> Secret:
        name, key = self.auth_ref
        value = self._secret_data(name).get(key)
        if not value:
            raise HarnessError(f"secret {name} in namespace {self.namespace} has no key {key}")
        return Secret(value)

    def admin_password(self) -> Secret:
        if self.admin_ref is None:
            raise HarnessError(f"the installed values route no {authenticators.ADMIN_ENV} to the hub from a Secret")
        name, key = self.admin_ref
        value = self._secret_data(name).get(key)
        if not value:
            raise HarnessError(f"secret {name} in namespace {self.namespace} has no key {key}")
        return Secret(value)

    def service_token(self) -> Secret:
        token = self._secret_data(HUB_SECRET).get("hub.services.hubharness.apiToken")
        if not token:
            raise HarnessError(
                f"the chart's Secret {HUB_SECRET} in {self.namespace} has no token for the "
                "hubharness service: deploy with values/base.yaml (hub.services.hubharness)"
            )
        return Secret(token)

    def secrets(self) -> list[Secret]:
        found = [Secret(v) for k, v in self._secret_data(HUB_SECRET).items() if k.startswith("hub.") and v]
        for name, key in authenticators.password_refs(self.values).values():
            if value := self._secret_data(name).get(key):
                found.append(Secret(value))
        return found

    # ---- NS -------------------------------------------------------------------------------
    def namespace_exists(self) -> Fact:
        try:
            phase = self.core.read_namespace(self.namespace).status.phase
        except ApiException as e:
            return Fact(False, f"namespace {self.namespace}: {e.status} {e.reason}")
        return Fact(phase == "Active", f"namespace {self.namespace} is {phase}")

    def state_is_isolated(self) -> Fact:
        foreign = [
            p.metadata.name for p in self._pods() if (p.metadata.labels or {}).get("release") != self.release.name
        ]
        if foreign:
            return Fact(False, f"pods of something else share namespace {self.namespace}: {', '.join(foreign)}")
        policies = {
            p.metadata.name for p in self.target.networking().list_namespaced_network_policy(self.namespace).items
        }
        missing = [n for n in NETWORK_POLICIES if n not in policies]
        if missing:
            return Fact(
                False,
                f"no NetworkPolicy for {', '.join(missing)} in {self.namespace} "
                "(the chart's <component>.networkPolicy.enabled): its pods accept any traffic",
            )
        return Fact(
            True,
            f"only release {self.release.name} runs in {self.namespace}; "
            f"NetworkPolicies {', '.join(NETWORK_POLICIES)} in place",
        )

    # ---- SEC ------------------------------------------------------------------------------
    def secret_has_key(self) -> Fact:
        """Every login password's key (the user one; the admin one where the values route it)."""
        refs = authenticators.password_refs(self.values).values()
        missing = [f"{name}/{key}" for name, key in refs if not self._secret_data(name).get(key)]
        where = ", ".join(f"secret {name} in {self.namespace}, key {key}" for name, key in refs)
        return Fact(not missing, f"missing {', '.join(missing)}: {where}" if missing else where)

    def secret_is_private(self) -> Fact:
        name, _ = self.auth_ref
        readers = [
            p.metadata.name
            for p in self._pods()
            if name in _secret_refs_of(p) and (p.metadata.labels or {}).get("component") != "hub"
        ]
        return Fact(
            not readers, f"pods other than the hub that mount or read secret {name}: {', '.join(readers) or 'none'}"
        )

    def hub_reads_password_from_secret(self) -> Fact:
        return self._hub_env_is_secret(chart_values.AUTH_ENV, self.auth_ref)

    def hub_reads_admin_password_from_secret(self) -> Fact:
        if self.admin_ref is None:
            return Fact(False, f"the installed values route no {authenticators.ADMIN_ENV} to the hub from a Secret")
        return self._hub_env_is_secret(authenticators.ADMIN_ENV, self.admin_ref)

    def _hub_env_is_secret(self, env_name: str, secret_ref: tuple[str, str]) -> Fact:
        """The hub container's variable is a secretKeyRef to the Secret the values name, and
        the hub process's value is that Secret's now (sha256 digests, computed in the pod)."""
        hubs = self.component_pods("hub")
        if not hubs:
            return Fact(False, f"no hub pod in {self.namespace}")
        hub = self.serving_pod("hub") or hubs[0]
        container = next((c for c in hub.spec.containers if c.name == "hub"), hub.spec.containers[0])
        env = next((e for e in container.env or [] if e.name == env_name), None)
        if env is None:
            return Fact(False, f"the hub container has no {env_name} in its environment")
        ref = env.value_from.secret_key_ref if env.value_from else None
        if ref is None:
            return Fact(False, f"the hub's {env_name} is a literal value in the pod spec, not a secretKeyRef")
        if (ref.name, ref.key) != secret_ref:
            return Fact(
                False,
                f"the hub's {env_name} comes from secret {ref.name}/{ref.key}, "
                f"not {'/'.join(secret_ref)} as the values say",
            )
        # What the hub process has, as a digest computed inside its container, against the
        # Secret's value now: a Secret changed under a running hub differs.
        pod = hub.metadata.name
        out = io.BytesIO()
        try:
            rc, err = exec_in(self.core, self.namespace, pod, container.name, inpod("env-digest", env_name), out)
        except HarnessError as e:
            return Fact(False, f"could not read the hub's {env_name}: {e}")
        if rc != 0:
            return Fact(False, f"could not read the hub's {env_name} in pod {pod}: {last_line(err)}")
        found = out.getvalue().decode().strip()
        value = self._secret_data(secret_ref[0]).get(secret_ref[1])
        if not value:
            return Fact(False, f"secret {'/'.join(secret_ref)} in {self.namespace} has no value to compare with")
        wanted = hashlib.sha256(value.encode()).hexdigest()
        return Fact(
            hmac.compare_digest(found, wanted),
            f"the hub process in pod {pod} has {env_name} "
            + ("equal to" if found == wanted else "unset, not" if found == "unset" else "different from")
            + f" secret {ref.name}/{ref.key} (compared as sha256 digests)",
        )

    def leak_surfaces(self) -> Iterator[tuple[str, str]]:
        """Every surface is read or the scan fails naming it: a log the context may not read
        could hold the password unseen."""
        api = self.core.api_client
        for config_map in self.core.list_namespaced_config_map(self.namespace).items:
            for key, text in (config_map.data or {}).items():
                yield f"configmap {config_map.metadata.name} key {key}", text
            for key, data in (config_map.binary_data or {}).items():
                yield (
                    f"configmap {config_map.metadata.name} binaryData {key}",
                    base64.b64decode(data).decode("utf-8", "replace"),
                )
        yield "the helm release's values", json.dumps(self.release.config)
        for pod in self._pods():
            yield f"pod {pod.metadata.name} metadata", json.dumps(api.sanitize_for_serialization(pod.metadata))
            yield f"pod {pod.metadata.name} spec", json.dumps(api.sanitize_for_serialization(pod.spec))
            for container in pod.spec.containers or []:
                yield f"pod {pod.metadata.name} log ({container.name})", self._log(pod, container.name, strict=True)
        for event in self.core.list_namespaced_event(self.namespace).items:
            yield f"event {event.metadata.name}", event.message or ""

    def _log(self, pod, container: str, previous: bool = False, strict: bool = False) -> str:
        """strict: a log that exists but cannot be read (403, 404 of a pod still there) is
        an error, not an empty text; 400 is a container with no log yet."""
        try:
            return self.core.read_namespaced_pod_log(
                pod.metadata.name, self.namespace, container=container, tail_lines=LOG_LINES, previous=previous
            )
        except ApiException as e:
            if strict and e.status != 400:
                raise HarnessError(
                    f"cannot read the log of pod {pod.metadata.name} ({container}): "
                    f"{e.status} {e.reason}; a secret there would go unseen "
                    "(can the context get pods/log? kubectl auth can-i get pods/log)"
                ) from None
            return f"(no log: {e.status} {e.reason})"

    # ---- RDY / PRX ------------------------------------------------------------------------
    def components(self) -> list[Component]:
        names = ["hub", "proxy"]
        if chart_values.get(self.rendered_values, "scheduling.userScheduler.enabled"):
            names.append("user-scheduler")
        return [self._component(name) for name in names]

    def _component(self, name: str) -> Component:
        pods = self.component_pods(name)
        if not pods:
            return Component(name, False, False, 0, f"no pod with component={name} in {self.namespace}")
        running = ready = True
        restarts, details = 0, []
        for pod in pods:
            conditions = {c.type: c.status for c in pod.status.conditions or []}
            statuses = pod.status.container_statuses or []
            restarts += sum(s.restart_count or 0 for s in statuses)
            waiting = [s.state.waiting.reason for s in statuses if s.state and s.state.waiting]
            running &= pod.status.phase == "Running"
            ready &= conditions.get("Ready") == "True"
            details.append(
                f"pod {pod.metadata.name} {pod.status.phase}, Ready={conditions.get('Ready')}"
                + (f", waiting: {', '.join(waiting)}" if waiting else "")
            )
        return Component(name, running, ready, restarts, "; ".join(details))

    def image_puller_ready(self) -> Fact | None:
        """prePuller.continuous: the chart's DaemonSet has a Ready, up-to-date pod on every
        node it wants one on (the nodes user pods may land on, by the chart's own selector,
        affinity and tolerations), each of those nodes lists the notebook image, and a pull
        back-off is named with its image. None where the values turn it off."""
        values = self.rendered_values
        if not chart_values.get(values, "prePuller.continuous.enabled"):
            return None
        image = chart_values.get(values, "singleuser.image", {}) or {}
        notebook = f"{image.get('name')}:{image.get('tag')}"
        try:
            daemon_set = client.AppsV1Api(self.core.api_client).read_namespaced_daemon_set(IMAGE_PULLER, self.namespace)
        except ApiException as e:
            return Fact(False, f"cannot read DaemonSet {IMAGE_PULLER}: {e.status} {e.reason}")
        status = daemon_set.status or client.V1DaemonSetStatus(
            current_number_scheduled=0, desired_number_scheduled=0, number_misscheduled=0, number_ready=0
        )
        wanted, ready = status.desired_number_scheduled or 0, status.number_ready or 0
        updated = status.updated_number_scheduled or 0
        problems = []
        if not wanted:
            problems.append(f"DaemonSet {IMAGE_PULLER} wants no pod: no node user pods may land on")
        if ready < wanted or updated < wanted:
            problems.append(f"DaemonSet {IMAGE_PULLER}: {ready} of {wanted} pod(s) Ready, {updated} up to date")
        pods = [
            p
            for p in self._pods(f"release={self.release.name},component=continuous-image-puller")
            if p.metadata.deletion_timestamp is None
        ]
        nodes: dict[str, list[str]] = {}
        for pod in pods:
            statuses = (pod.status.init_container_statuses or []) + (pod.status.container_statuses or [])
            for s in statuses:
                waiting = s.state.waiting if s.state else None
                if waiting and waiting.reason in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName"):
                    problems.append(f"pod {pod.metadata.name} is in {waiting.reason} pulling {s.image}")
            if pod.spec.node_name:
                nodes[pod.spec.node_name] = []
        for name in nodes:
            try:
                node = self.core.read_node(name)
            except ApiException as e:
                problems.append(f"cannot read node {name}: {e.status} {e.reason} (kubectl auth can-i get nodes)")
                continue
            listed = [n for i in node.status.images or [] for n in i.names or []]
            if not any(_same_image(notebook, n) for n in listed) and len(node.status.images or []) < NODE_IMAGES_LISTED:
                problems.append(f"node {name} does not have {notebook}")
        return Fact(not problems, "; ".join(problems) or f"{notebook} pulled on {', '.join(sorted(nodes))}")

    def proxy_routes(self) -> dict:
        """The proxy's table as the hub reads it from the proxy's API (GET /hub/api/proxy,
        scope `proxy`): proxy-api is not reachable from outside the cluster."""
        return HubAPI(self.public_url, self.service_token()).proxy_routes()

    def ingress_in_place(self) -> Fact:
        """The Ingress in the namespace sends its host to proxy-public, and a request for that
        host through the ingress controller gets the hub's login page."""
        name = yaml.safe_load(INGRESS.read_text())["metadata"]["name"]
        try:
            live = self.target.networking().read_namespaced_ingress(name, self.namespace)
        except ApiException as e:
            return Fact(False, f"ingress {name} in {self.namespace}: {e.status} {e.reason}")
        routed = [
            rule.host
            for rule in live.spec.rules or []
            for path in (rule.http.paths if rule.http else [])
            if path.backend.service and path.backend.service.name == "proxy-public"
        ]
        if not routed:
            return Fact(False, f"ingress {name} sends no host to proxy-public")
        host = routed[0] or "localhost"
        address = self._ingress_address(live)
        if address is None:
            return Fact(
                False,
                f"no ingress controller has admitted ingress {name} (its status has no address): "
                f"install one, or set {access.INGRESS_URL_ENV}, or --skip this check",
            )
        try:
            response = requests.get(f"{address}/hub/login", headers={"Host": host}, timeout=10, allow_redirects=False)
        except requests.RequestException as e:
            return Fact(False, f"nothing answers for host {host} at {address}: {type(e).__name__}")
        served = response.status_code == 200 and 'name="password"' in response.text
        return Fact(
            served,
            f"GET /hub/login for host {host} through the ingress controller at {address} "
            f"answered {response.status_code}{'' if served else ', not the hub login page'}",
        )

    def _ingress_address(self, live) -> str | None:
        if os.environ.get(access.INGRESS_URL_ENV):
            return os.environ[access.INGRESS_URL_ENV].rstrip("/")
        for point in (live.status.load_balancer.ingress or []) if live.status and live.status.load_balancer else []:
            if point.ip or point.hostname:
                return f"http://{point.ip or point.hostname}"
        return self.target.node_address(80)  # the controller's port on the nodes, where it is mapped here

    # ---- ADM ------------------------------------------------------------------------------
    def _server_pods(self, username: str) -> list:
        return [
            p
            for p in self._pods(f"release={self.release.name},component=singleuser-server")
            if (p.metadata.annotations or {}).get(USERNAME_ANNOTATION) == username
            and p.metadata.deletion_timestamp is None
            and p.status.phase in ("Pending", "Running")
        ]

    def user_server_running(self, username: str) -> Fact:
        pods = self._server_pods(username)
        return Fact(
            bool(pods),
            f"{len(pods)} singleuser-server pod(s) of {username} "
            f"({', '.join(p.metadata.name for p in pods) or 'none'})",
        )

    # RES
    def stop_component(self, name: str) -> None:
        """Delete the component's pods and wait until they are gone (until then the old pod
        may still answer); the chart's Deployment makes new ones."""
        pods = self.component_pods(name)
        if not pods:
            raise HarnessError(f"no pod with component={name} in {self.namespace}: nothing to stop")
        deleted = {pod.metadata.name for pod in pods}
        for pod in pods:
            self.core.delete_namespaced_pod(pod.metadata.name, self.namespace)
        wait_until(
            f"the deleted {name} pod(s) {', '.join(sorted(deleted))} to go",
            lambda: not deleted & {p.metadata.name for p in self.component_pods(name)},
            STOP_TIMEOUT,
        )

    def kill_user_server(self, username: str) -> None:
        """Delete the user's pod without asking the hub (KubeSpawner must notice)."""
        pods = self._server_pods(username)
        if not pods:
            raise HarnessError(f"{username} has no singleuser-server pod in {self.namespace}")
        for pod in pods:
            self.core.delete_namespaced_pod(pod.metadata.name, self.namespace, grace_period_seconds=0)

    def run_in_server(self, username: str, command: str):
        """Run a shell command in the user's notebook container (testinfra kubectl://)."""
        import testinfra  # here: a pytest plugin imported before pytest starts cannot be rewritten

        pods = self._server_pods(username)
        if not pods:
            raise HarnessError(f"{username} has no running server pod in {self.namespace}")
        host = testinfra.get_host(
            f"kubectl://{pods[0].metadata.name}?namespace={self.namespace}&container={NOTEBOOK_CONTAINER}"
            f"&context={self.target.kube_context}&kubeconfig={self.target.kubeconfig}"
        )
        return host.run(command)

    # ---- SPK: native Spark on Kubernetes ---------------------------------------------------
    def spark_driver_access(self) -> Fact:
        """A SubjectAccessReview per verb for the account user pods run as, with the groups the
        API server gives a service account's token: the authorizer's own answer (RBAC and any
        webhook), without a credential of the account in the harness's hands. A user pod that
        runs as another account fails it too."""
        account = chart_values.get(self.rendered_values, "singleuser.serviceAccountName")
        if not account:
            return Fact(
                False, "singleuser.serviceAccountName names no account: user pods run as the namespace's default"
            )
        others = [
            f"{p.metadata.name} runs as {p.spec.service_account_name or 'default'}"
            for p in self._pods(f"release={self.release.name},component=singleuser-server")
            if (p.spec.service_account_name or "default") != account and p.metadata.deletion_timestamp is None
        ]
        if others:
            return Fact(False, f"user pods do not run as {account}: {'; '.join(others)}")
        user, groups = spark_rbac.subject(account, self.namespace)
        api = client.AuthorizationV1Api(self.core.api_client)
        said: dict[str, list[str]] = {}  # "allowed (why)" → its verbs
        refused: dict[str, list[str]] = {}  # resource → the verbs refused on it
        for resource, verbs in DRIVER_ACCESS:
            for verb in verbs:
                body: Any = {
                    "apiVersion": "authorization.k8s.io/v1",
                    "kind": "SubjectAccessReview",
                    "spec": {
                        "user": user,
                        "groups": groups,
                        "resourceAttributes": {"namespace": self.namespace, "verb": verb, "resource": resource},
                    },
                }
                try:
                    review = cast(client.V1SubjectAccessReview, api.create_subject_access_review(body))
                except ApiException as e:
                    return Fact(
                        False,
                        f"the API server did not review {user}'s access: {e.status} {e.reason} (may the context "
                        "create subjectaccessreviews? kubectl auth can-i create subjectaccessreviews)",
                    )
                status = review.status or client.V1SubjectAccessReviewStatus(allowed=False)
                why = status.reason or status.evaluation_error or "no rule allows it"
                said.setdefault(f"{'allowed' if status.allowed else 'denied'} ({why})", []).append(f"{verb} {resource}")
                if not status.allowed:
                    refused.setdefault(resource, []).append(verb)
        asked = refused or {r: list(v) for r, v in DRIVER_ACCESS}
        verdict = ("may not " if refused else "may ") + "; ".join(f"{', '.join(v)} {r}" for r, v in asked.items())
        answers = "; ".join(f"{', '.join(verbs)} {answer}" for answer, verbs in said.items())
        return Fact(not refused, f"{user} {verdict} in {self.namespace}, says the API server: {answers}")

    def executors_reach_the_driver(self) -> Fact:
        """The NetworkPolicies of the namespace as the cluster has them, evaluated for a
        connection from an executor pod (the labels Spark gives it, in the namespace it is
        sent to) to a user's pod (a running one's labels, else those KubeSpawner gives) on
        each fixed port of the driver the deployed values give notebooks."""
        driver = sparknative.driver(self.rendered_values)
        if not driver.ports:
            return Fact(
                False,
                f"notebooks' {', '.join(sparknative.DRIVER_PORTS)} are not fixed (PYSPARK_SUBMIT_ARGS): Spark picks "
                "random ports no NetworkPolicy can name",
            )
        running = self._pods(f"release={self.release.name},component=singleuser-server")
        if running:
            name, labels = f"user pod {running[0].metadata.name}", dict(running[0].metadata.labels or {})
        else:
            extra = chart_values.get(self.rendered_values, "singleuser.extraLabels") or {}
            name, labels = "a user pod", {**USER_POD_LABELS, "release": self.release.name, **extra}
        where = driver.namespace or self.namespace
        serialize = self.core.api_client.sanitize_for_serialization
        policies = [serialize(p) for p in self.target.networking().list_namespaced_network_policy(self.namespace).items]
        if where != self.namespace:
            policies += [serialize(p) for p in self.target.networking().list_namespaced_network_policy(where).items]
        namespaces = {}
        for ns in {self.namespace, where}:
            try:
                namespaces[ns] = dict(self.core.read_namespace(ns).metadata.labels or {})
            except ApiException as e:
                return Fact(False, f"namespace {ns} cannot be read: {e.status} {e.reason}")
            namespaces[ns].setdefault("kubernetes.io/metadata.name", ns)
        executor = netpol.Pod(where, driver.executor_labels)
        user_pod = netpol.Pod(self.namespace, labels, dict(NOTEBOOK_PORTS))
        executor_says = "an executor pod (" + ",".join(f"{k}={v}" for k, v in driver.executor_labels.items()) + ")"
        said, blocked = [], []
        for key, port in driver.ports.items():
            egress, ingress = netpol.connection(policies, executor, user_pod, port, namespaces)
            said.append(f"port {port} ({key}): {egress.said('egress', executor_says)}; {ingress.said('ingress', name)}")
            if not (egress.allowed and ingress.allowed):
                blocked.append(f"{port} ({key})")
        head = (
            f"executor pods cannot reach the driver in {name} on {', '.join(blocked)}"
            if blocked
            else f"executor pods may reach the driver in {name} on every driver port"
        )
        return Fact(not blocked, f"{head}: {' | '.join(said)}")

    def server_pod(self, username: str) -> dict:
        pods = self._server_pods(username)
        if not pods:
            raise HarnessError(f"{username} has no server pod in {self.namespace}")
        pod = pods[0]
        return {"name": pod.metadata.name, "uid": pod.metadata.uid, "ip": pod.status.pod_ip if pod.status else None}

    def spark_executor_pods(self, app_id: str) -> list[dict]:
        """By the labels Spark puts on every executor pod it makes (spark-app-selector: the
        application's id)."""
        selector = ",".join(
            f"{k}={v}" for k, v in {**sparknative.EXECUTOR_LABELS, "spark-app-selector": app_id}.items()
        )
        return [
            {
                "name": pod.metadata.name,
                "phase": pod.status.phase if pod.status else None,
                "ip": pod.status.pod_ip if pod.status else None,
                "owners": [{"kind": o.kind, "name": o.name, "uid": o.uid} for o in pod.metadata.owner_references or []],
                "deleting": pod.metadata.deletion_timestamp is not None,
            }
            for pod in self._pods(selector)
        ]

    # ---- SPK with a Spark cluster ------------------------------------------------------------
    @functools.cached_property
    def _spark(self) -> KubeSparkCluster:
        return KubeSparkCluster(self.core, self.target.apps(), self.namespace, self.release.name)

    def spark_cluster(self) -> ClusterView | None:
        """The cluster the installed values turn on, once deploy has made its Service."""
        settings = sparkcluster.settings(self.values)
        if settings is None or not self._spark.present():
            return None
        return self._spark.view(settings)

    def spark_components(self) -> list[Component]:
        settings = sparkcluster.settings(self.values)
        return self._spark.components(settings) if settings is not None else []

    def spark_executor_processes(self, app_id: str) -> list[str]:
        """Executors are processes in the worker pods: those of the application, found by
        exec in the pods of the workers the master lists ALIVE."""
        view = self.spark_cluster()
        if view is None:
            raise HarnessError(f"no Spark cluster in namespace {self.namespace}")
        return self._spark.executor_processes(app_id, view.workers())

    # ---- diagnostics ----------------------------------------------------------------------
    def hub_database_integrity(self) -> Fact:
        hub = self.serving_pod("hub")
        if hub is None:
            return Fact(False, f"no running hub pod in {self.namespace}")
        pod = hub.metadata.name
        out = io.BytesIO()
        try:
            rc, err = exec_in(self.core, self.namespace, pod, "hub", inpod("integrity", HUB_DB), out)
        except HarnessError as e:
            return Fact(False, f"PRAGMA integrity_check of {HUB_DB}: not checked ({e})")
        result = out.getvalue().decode().strip() if rc == 0 else f"not checked ({last_line(err)})"
        return Fact(result == "ok", f"PRAGMA integrity_check of {HUB_DB} in pod {pod}: {result}")

    def write_diagnostics(self, dest: Path) -> None:
        """Per pod: describe (the object and its events) and logs, --previous ones too."""
        dest.mkdir(parents=True, exist_ok=True)
        api = self.core.api_client
        events = self.core.list_namespaced_event(self.namespace).items
        for pod in self._pods(f"release={self.release.name}"):
            name = pod.metadata.name
            body = api.sanitize_for_serialization(pod)
            body.get("metadata", {}).pop("managedFields", None)
            mine = [
                f"{e.last_timestamp or e.event_time or ''} {e.type} {e.reason}: {e.message}"
                for e in events
                if e.involved_object and e.involved_object.name == name
            ]
            (dest / f"{name}.describe.yaml").write_text(
                yaml.safe_dump(body, sort_keys=False) + "\nevents:\n" + "\n".join(f"  {m}" for m in mine) + "\n"
            )
            for status in pod.status.container_statuses or []:
                (dest / f"{name}.{status.name}.log").write_text(self._log(pod, status.name))
                if status.restart_count:
                    (dest / f"{name}.{status.name}.previous.log").write_text(self._log(pod, status.name, previous=True))
        (dest / "components.txt").write_text(
            "\n".join(
                f"{c.name}: running={c.running} ready={c.ready} restarts={c.restarts} {c.detail}"
                for c in self.components()
            )
            + "\n"
        )


def _usage(pod_metrics: dict) -> Usage:
    containers = pod_metrics.get("containers") or []
    return Usage(
        int(sum(parse_quantity(c["usage"]["memory"]) for c in containers)),
        cpu_cores=float(sum(parse_quantity(c["usage"]["cpu"]) for c in containers)),
    )


def _home_mount(pod, template: str) -> tuple[str, str | None]:
    """Where the notebook container mounts the home (homeMountPath, whose {username} and the
    like KubeSpawner fills in per user) and the claim mounted there, if any."""
    pattern = re.compile(re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template.rstrip("/"))) + "/?")
    container = next((c for c in pod.spec.containers if c.name == NOTEBOOK_CONTAINER), None)
    mounts = (container.volume_mounts if container else None) or []
    mount = next((m for m in mounts if pattern.fullmatch(m.mount_path)), None)
    if mount is None:
        return template, None
    claims = {v.name: v.persistent_volume_claim.claim_name for v in pod.spec.volumes or [] if v.persistent_volume_claim}
    return mount.mount_path, claims.get(mount.name)


IMAGE_PULLER = "continuous-image-puller"  # the chart's DaemonSet
NODE_IMAGES_LISTED = 50  # a kubelet lists at most this many images (nodeStatusMaxImages): past it, absence says nothing


def _same_image(wanted: str, listed: str) -> bool:
    """quay.io/x/y:t is listed as such; an image of Docker Hub as docker.io/[library/]y:t."""
    return listed == wanted or listed in (f"docker.io/{wanted}", f"docker.io/library/{wanted}")
