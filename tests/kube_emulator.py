"""A test tool, not a cluster: a tiny Kubernetes API server on 127.0.0.1 that keeps
namespaces, secrets, pods, config maps, events, network policies, ingresses, service
accounts, roles and their bindings in memory
and answers with real-shaped objects, so the real kubernetes client can drive the
kubernetes target over HTTP.

It implements only the calls the target makes (and pod logs). Pods, logs and helm's
release records are put in by the test: nothing here runs a container. `exec` runs the
command as a local process, with the pod's volume mounts pointing at folders the test
gave (`volumes`), or made for a claim the client created, so that bytes really travel
the websocket stream, both ways. Scaling a Deployment deletes its pods, or makes one,
Running and Ready at once, and a deleted pod of a Deployment that wants replicas is made
again at once (its ReplicaSet): the pieces of a controller the hub's restore and RES need.
RBAC's authorizer answers SubjectAccessReviews from the Roles and bindings it holds (see
`review_access`). A test may be told when a deleted pod's containers stop (`stop_containers`: their
processes run elsewhere); the pod then goes when they have stopped.

Where the product depends on it, it answers as a real API server does: status codes
(404 for an update of a missing object, 409 for a namespace that exists or is already
being deleted, 403 for deleting default, kube-system or kube-public), logs (empty, not an error, for a container that wrote nothing), exec
(the container named, the pod on a node and running; the v5 or v4 channel protocol),
and deletion, which takes time: a deleted pod keeps its deletionTimestamp for
`pod_deletion_delay`, a namespace stays Terminating while it has pods and refuses new
content with 403; a pod's finalizers hold it (with its deletionTimestamp, and its
namespace Terminating) until they are removed. Label selectors are read as the server
reads them (equality, set-based and existence terms; anything else 400). Where it still
differs: what is created or replaced is checked against the API schema
(kubernetes-validate), but none of a server's semantic validation (names, immutable
fields, quotas) runs; claims have no finalizers (no kubernetes.io/pvc-protection: a
claim in use goes at once); field selectors are ignored. A created pod
goes Pending → ContainerCreating → Running and Ready (`pod_start_delay`), or into
ImagePullBackOff or CrashLoopBackOff (`image_failures`), with the statuses and events a
kubelet gives, but pods put in by a test (add_pod) are as the test says. A created pod
that mounts a ReadWriteOnce claim another pod on another node still has (set
`scheduled_node`: there is no real scheduler, it is told where pods land) stays
ContainerCreating with a Multi-Attach event until that pod is gone. A namespace being
deleted loses at once every object but pods and those held by finalizers (any kind: they
keep a deletionTimestamp until their finalizers are removed, and the namespace stays
Terminating). `kill 1` in a container (exec) ends its first process: the kubelet starts
the container again and counts the restart; nothing is killed here.
A Deployment a client creates gets its `replicas` pods at once (its ReplicaSet), made
again from its template when a replace changes it, deleted with it (garbage collection).
Such pods have the IP 127.0.0.1: what serves them, where a test runs anything, is on this
machine. The API server's proxy (`services/<name>:<port>/proxy/…`, `pods/<name>:<port>/proxy/…`)
forwards a GET to a Ready pod's port on 127.0.0.1 (`serve_port`: where a test serves a
container port, whose processes run here on ports of their own), as a real server does
through the Service's endpoints or to the pod's IP; 503 when no Ready pod serves it.
helm and kubectl are not emulated: a test may answer the calls of stand-ins on PATH
(`/_emulator/helm`, `/_emulator/kubectl`; see `helm` and `kubectl` below).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import re
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import requests

from hubharness import values as chart_values

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455
KUBE_SCHEMA_VERSION = "1.33"  # the Kubernetes whose API schema created objects are checked against
IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")  # a real server refuses to delete them
V5, V4 = "v5.channel.k8s.io", "v4.channel.k8s.io"  # exec's channel protocols (v5: stdin can be closed)
# an exec that ends a container's first process (never run here: PID 1 is this machine's init)
ENDS_FIRST_PROCESS = re.compile(r"(sh -c )?kill( -(TERM|15|INT|2))? 1")
COLLECTIONS = {
    "secrets": ("v1", "Secret"),
    "pods": ("v1", "Pod"),
    "configmaps": ("v1", "ConfigMap"),
    "persistentvolumeclaims": ("v1", "PersistentVolumeClaim"),
    "services": ("v1", "Service"),
    "events": ("v1", "Event"),
    "ingresses": ("networking.k8s.io/v1", "Ingress"),
    "networkpolicies": ("networking.k8s.io/v1", "NetworkPolicy"),
    "deployments": ("apps/v1", "Deployment"),
    "daemonsets": ("apps/v1", "DaemonSet"),
    "serviceaccounts": ("v1", "ServiceAccount"),
    "roles": ("rbac.authorization.k8s.io/v1", "Role"),
    "rolebindings": ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    # cluster-scoped: kept under the namespace "" (add(CLUSTER, ...))
    "persistentvolumes": ("v1", "PersistentVolume"),
    "nodes": ("v1", "Node"),
    "clusterroles": ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    "clusterrolebindings": ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
}
CLUSTER = ""
NODE = "emulated-node"  # the one node pods are scheduled to (spec.nodeName)
# waiting reasons of a container that has not run yet: it has no log (400 "waiting to start")
NEVER_STARTED = {
    "ContainerCreating",
    "PodInitializing",
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
}
# e.g. GET /api/v1/services (every namespace), /api/v1/persistentvolumes (cluster-scoped)
ALL_NAMESPACES = re.compile(r"^/(?:api/v1|apis/rbac\.authorization\.k8s\.io/v1)/(?P<kind>\w+)$")
CLUSTER_OBJECT = re.compile(
    r"^/(?:api/v1|apis/rbac\.authorization\.k8s\.io/v1)/(?P<kind>persistentvolumes|nodes|"
    r"clusterroles|clusterrolebindings)/(?P<name>[^/]+)$"
)
PROXY = re.compile(
    r"^/api/v1/namespaces/(?P<ns>[^/]+)/(?P<kind>services|pods)/(?P<name>[^/:]+)(?::(?P<port>[^/]+))?"
    r"/proxy(?P<path>/.*)?$"
)
LOOPBACK = "127.0.0.1"  # the IP of pods a Deployment makes here
ROUTE = re.compile(
    r"^/(?:api/v1|apis/networking\.k8s\.io/v1|apis/apps/v1|apis/rbac\.authorization\.k8s\.io/v1)/namespaces"
    r"(?:/(?P<ns>[^/]+)(?:/(?P<kind>\w+)(?:/(?P<name>[^/]+)(?P<sub>/log|/exec|/scale)?)?)?)?$"
)


ACCESS_REVIEW = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
POD_METRICS = re.compile(r"^/apis/metrics\.k8s\.io/v1beta1/namespaces/(?P<ns>[^/]+)/pods$")


def daemon_set_status(wanted: int, ready: int) -> dict:
    """A DaemonSet's status as its controller reports it, its pods all up to date."""
    return {
        "desiredNumberScheduled": wanted,
        "currentNumberScheduled": wanted,
        "updatedNumberScheduled": wanted,
        "numberReady": ready,
        "numberAvailable": ready,
        "numberMisscheduled": 0,
    }


def merged(obj: dict, patch: dict) -> dict:
    """RFC 7386: a JSON merge patch applied to obj (None deletes a key)."""
    out = dict(obj)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def invalid(body: dict) -> dict | None:
    """The Status a real API server answers for an object its schema refuses, or None. Checked
    with kubernetes-validate's schema of KUBE_SCHEMA_VERSION, not strictly: a server keeps an
    object with unknown fields (dropped, with a warning, unless the client asks for
    fieldValidation=Strict; the product's own validated() is strict before it sends)."""
    import kubernetes_validate  # here: its import takes seconds, and only creates need it

    try:
        kubernetes_validate.validate(body, KUBE_SCHEMA_VERSION, strict=False)
    except kubernetes_validate.ValidationError as e:
        kind, name = body.get("kind"), (body.get("metadata") or {}).get("name")
        where = ".".join(str(p) for p in e.absolute_path) or "(root)"
        if e.validator == "type":  # the server cannot even decode it into its Go type
            return status(400, "BadRequest", f'{kind} in version "v1" cannot be handled: {where}: {e.message}')
        return status(422, "Invalid", f'{kind} "{name}" is invalid: {where}: {e.message}')
    return None


def status(code: int, reason: str, message: str) -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "reason": reason,
        "message": message,
        "code": code,
    }


SELECTOR_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
SELECTOR_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
SELECTOR_TERM = re.compile(
    rf"^\s*(?:(?P<absent>!)\s*(?P<akey>{SELECTOR_KEY})"
    rf"|(?P<key>{SELECTOR_KEY})\s*(?:(?P<op>==|!=|=)\s*(?P<value>{SELECTOR_VALUE})"
    rf"|\s+(?P<setop>in|notin)\s*\((?P<values>[^()]*)\))?)\s*$"
)


def label_selector(text: str):
    """A labelSelector as the API server reads it: equality (=, ==, !=), set-based
    (`k in (a,b)`, `k notin (a,b)`), existence (`k`, `!k`), terms ANDed. Anything else is a
    ValueError (the server's 400), never "match everything"."""
    terms = []
    for term in re.split(r",(?![^()]*\))", text) if text.strip() else []:
        m = SELECTOR_TERM.match(term)
        if m is None:
            raise ValueError(f"{term.strip()!r} is not a label selector term")
        if m["absent"]:
            terms.append(lambda labels, k=m["akey"]: k not in labels)
        elif m["op"]:
            k, v, negated = m["key"], m["value"], m["op"] == "!="
            # as the server: k!=v also matches objects without the label k
            terms.append(lambda labels, k=k, v=v, negated=negated: (labels.get(k) == v) != negated)
        elif m["setop"]:
            values = {x.strip() for x in m["values"].split(",")}
            if not all(re.fullmatch(SELECTOR_VALUE, x) for x in values) or values == {""}:
                raise ValueError(f"{term.strip()!r}: a set needs one or more values")
            k, negated = m["key"], m["setop"] == "notin"
            # notin, as the server: also matches objects without the label k
            terms.append(lambda labels, k=k, values=values, negated=negated: (labels.get(k) in values) != negated)
        else:
            terms.append(lambda labels, k=m["key"]: k in labels)
    return lambda labels: all(term(labels) for term in terms)


class KubeEmulator:
    def __init__(self):
        self.namespaces: dict[str, dict] = {}
        self.objects: dict[tuple[str, str], dict[str, dict]] = {}
        self.requests: list[tuple[str, str]] = []
        self.bodies: list[tuple[str, str, dict]] = []  # what clients sent, as sent
        self.logs: dict[tuple[str, str, str, bool], str] = {}  # (ns, pod, container, previous) → text
        self.namespace_deletion_delay = 0.3  # seconds a deleted namespace stays Terminating (longer while it has pods)
        # seconds a deleted pod stays, with its deletionTimestamp, while the kubelet stops it and
        # unmounts its volumes; at once with gracePeriodSeconds=0, or a pod on no node or ended
        self.pod_deletion_delay = 0.2
        self.deletions: list[tuple[str, str, int | None]] = []  # (ns, pod, gracePeriodSeconds asked)
        self.lock = threading.RLock()  # requests and the timers that finish deletions
        self._emptied: set[str] = set()  # Terminating namespaces whose delay is over: gone with their last pod
        self.volumes: dict[tuple[str, str], Path] = {}  # (ns, claim) → the folder exec sees mounted
        self.volume_root: Path | None = None  # where folders for claims that clients create go
        self.claim_folder = None  # a test's hook: (ns, claim) → the folder of a claim a client creates
        self.pod_start_delay = 0.0  # seconds a created pod stays Pending (a kubelet pulling, starting)
        self.started_env: dict[tuple[str, str], dict[str, str]] = {}  # (pod uid, container) → environment
        self.on_pod_created = None  # a test's hook: change what a created pod looks like
        # the node the scheduler puts created pods on: another than NODE (where add_pod's pods
        # are) makes a ReadWriteOnce claim they hold a Multi-Attach for a created pod
        self.scheduled_node = NODE
        self._attach_waiting: dict[tuple[str, str], str] = {}  # (ns, pod) → uid, waiting on a Multi-Attach
        self.image_failures: dict[str, str] = {}  # image → "pull" (it cannot be pulled) or "crash" (it exits 1)
        self.on_conflict = None  # a test's hook: (ns, kind, name) after a create was refused 409
        # a test's hooks: (a tool's arguments, for helm the merged values of its -f files) → what
        # it prints; stand-ins on PATH send their calls here (POST /_emulator/helm, …/kubectl)
        self.helm = None
        self.kubectl = None
        # a test's hook: (ns) before pods are read, to bring them in line with what runs (a
        # kubelet whose containers are processes elsewhere, tests/test_kube_hub_faults.py)
        self.kubelet = None
        # a test's hook: (ns, pod) when a deleted pod's containers stop (processes elsewhere,
        # tests/test_kube_selftest.py); a pod deleted with a grace goes when it returns
        self.stop_containers = None
        # a test's hook: (ns, pods) → PodMetrics of what runs them (a metrics-server); None: the
        # cluster has no metrics API (404, as without metrics-server)
        self.pod_metrics = None
        self._stopped: set[str] = set()  # uids of deleted pods the kubelet has stopped, held by finalizers
        # the node, with the images its kubelet reports present (a DaemonSet's pod pulled them)
        self.add(
            CLUSTER, "nodes", NODE, spec={}, status={"images": [], "conditions": [{"type": "Ready", "status": "True"}]}
        )
        self.exec_protocols: tuple[str, ...] = (V5, V4)  # what exec accepts, in order; (V4,): a server without v5
        self.exec_protocols_used: list[str] = []  # one per exec, as negotiated
        self.forbidden: set[tuple[str, str]] = set()  # (method, path ending) answered 403, as RBAC would
        # a test's hook: (ns, pod, container port) → the port on 127.0.0.1 that serves it (the
        # API server's proxy goes there); None: the container port itself
        self.serve_port = None
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # ---- what tests put in ---------------------------------------------------------------
    def add_namespace(self, name: str, phase: str = "Active", labels: dict | None = None) -> None:
        self.namespaces[name] = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": labels or {}},
            "status": {"phase": phase},
        }

    def add_pod(
        self,
        ns: str,
        name: str,
        component: str,
        ready: bool = True,
        waiting: str | None = None,
        restarts: int | None = None,
        env: list[dict] | None = None,
        release: str = "jupyterhub",
        annotations: dict | None = None,
        container: str | None = None,
    ) -> dict:
        state = (
            {"waiting": {"reason": waiting, "message": "back-off restarting failed container"}}
            if waiting
            else {"running": {"startedAt": "2026-11-25T00:00:00Z"}}
        )
        container = container or component
        labels = {"app": "jupyterhub", "component": component}
        if release:
            labels["release"] = release
        pod = self.objects.setdefault((ns, "pods"), {})[name] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": labels,
                "annotations": annotations or {},
                "uid": str(uuid.uuid4()),
            },
            "spec": {
                "nodeName": NODE,
                "containers": [{"name": container, "image": "example/image:1", "env": env or []}],
            },
            "status": {
                "phase": "Running" if not waiting else "Pending",
                "conditions": [{"type": "Ready", "status": "True" if ready and not waiting else "False"}],
                "containerStatuses": [
                    {
                        "name": container,
                        "ready": ready and not waiting,
                        "restartCount": restarts if restarts is not None else (3 if waiting else 0),
                        "image": "example/image:1",
                        "imageID": "",
                        "state": state,
                    }
                ],
            },
        }
        self.start_containers(ns, pod)
        return pod

    def add(self, ns: str, kind: str, name: str, **fields) -> dict:
        """Any other object (config map, event, network policy) with the given fields."""
        api_version, kind_name = COLLECTIONS[kind]
        body = {"apiVersion": api_version, "kind": kind_name, "metadata": {"name": name, "namespace": ns}, **fields}
        self.objects.setdefault((ns, kind), {})[name] = body
        return body

    def add_service(self, ns: str, name: str, node_port: int | None = None) -> dict:
        port = {"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}
        if node_port:
            port["nodePort"] = node_port
        return self.add(ns, "services", name, spec={"type": "NodePort" if node_port else "ClusterIP", "ports": [port]})

    def add_release(self, ns: str, release_record: str, revision: int = 1, name: str = "jupyterhub") -> None:
        """helm's release record, as `helm upgrade --install` leaves it in the namespace."""
        self.add(
            ns,
            "secrets",
            f"sh.helm.release.v1.{name}.v{revision}",
            type="helm.sh/release.v1",
            data={"release": release_record},
        )
        self.objects[(ns, "secrets")][f"sh.helm.release.v1.{name}.v{revision}"]["metadata"]["labels"] = {
            "owner": "helm",
            "name": name,
            "status": "deployed",
            "version": str(revision),
        }

    def _pods_of(self, ns: str, deployment: dict) -> list[str]:
        """The Deployment's pods that are not going, oldest first."""
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        pods = self.objects.setdefault((ns, "pods"), {})
        return [
            n
            for n, p in pods.items()
            if all(p["metadata"]["labels"].get(k) == v for k, v in labels.items())
            and "deletionTimestamp" not in p["metadata"]  # a ReplicaSet replaces a pod that is going
        ]

    def scale(self, ns: str, name: str, replicas: int) -> None:
        """A Deployment's pods: as many as it wants, the newest deleted first, new ones made
        from its template (Running, Ready, on 127.0.0.1)."""
        deployment = self.get(ns, "deployments", name)
        deployment["spec"]["replicas"] = replicas
        template = deployment["spec"]["template"]
        mine = self._pods_of(ns, deployment)
        for pod in reversed(mine[replicas:]):
            self.delete_pod(ns, pod)
        pods = self.objects.setdefault((ns, "pods"), {})
        for _ in range(replicas - len(mine)):
            pod = f"{name}-{uuid.uuid4().hex[:5]}"
            pods[pod] = {
                "apiVersion": "v1",
                "kind": "Pod",
                "spec": {**json.loads(json.dumps(template["spec"])), "nodeName": NODE},
                "metadata": {
                    "name": pod,
                    "namespace": ns,
                    "labels": dict(template["metadata"]["labels"]),
                    "annotations": dict(template["metadata"].get("annotations") or {}),
                    "uid": str(uuid.uuid4()),
                    "creationTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                },
                "status": {
                    "phase": "Running",
                    "podIP": LOOPBACK,
                    "conditions": [{"type": "Ready", "status": "True"}],
                },
            }
            self.start_containers(ns, pods[pod])

    def rolled_out(self, ns: str, name: str, before: dict | None) -> None:
        """A Deployment created or replaced: its pods made again when its template changed,
        then as many as it wants."""
        deployment = self.get(ns, "deployments", name)
        if before is not None and before["spec"].get("template") != deployment["spec"].get("template"):
            for pod in self._pods_of(ns, before):
                self.delete_pod(ns, pod)
        self.scale(ns, name, deployment["spec"].get("replicas", 1))

    def rolled_out_daemon_set(self, ns: str, name: str, before: dict) -> None:
        """A DaemonSet whose template changed: its pod on the node made again from the new
        template, as a kubelet starts it (an init container's image that cannot be pulled
        keeps it Pending in ImagePullBackOff)."""
        daemon_set = self.get(ns, "daemonsets", name)
        if before["spec"].get("template") == daemon_set["spec"].get("template"):
            return
        for pod in self._pods_of(ns, before):
            self.delete_pod(ns, pod)
        template = daemon_set["spec"]["template"]
        pod = f"{name}-{uuid.uuid4().hex[:5]}"
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "spec": json.loads(json.dumps(template["spec"])),
            "metadata": {
                "name": pod,
                "namespace": ns,
                "labels": dict(template["metadata"]["labels"]),
                "uid": str(uuid.uuid4()),
                "creationTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        }
        self.objects.setdefault((ns, "pods"), {})[pod] = body
        self.schedule(ns, body)
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in body["status"].get("conditions") or [])
        daemon_set["status"] = daemon_set_status(1, int(ready))

    def deleted_deployment(self, ns: str, deployment: dict) -> None:
        """Its ReplicaSet's pods go with it (garbage collection)."""
        for pod in self._pods_of(ns, deployment):
            self.delete_pod(ns, pod)

    def proxied(self, ns: str, kind: str, name: str, port: str) -> tuple[int, str]:
        """Where the API server's proxy sends a request for a Service's or a pod's port: (the
        port on 127.0.0.1, "") or (an HTTP status, why not)."""
        with self.lock:
            if kind == "services":
                service = self.get(ns, "services", name)
                if service is None:
                    return 404, f'services "{name}" not found'
                ports = service["spec"].get("ports") or []
                entry = next((p for p in ports if str(p.get("name")) == port or str(p["port"]) == port), None)
                if entry is None:
                    return 503, f'no endpoints available for service "{name}:{port}"'
                target, wanted = entry.get("targetPort", entry["port"]), service["spec"].get("selector") or {}
                pods = [
                    p
                    for p in self.objects.get((ns, "pods"), {}).values()
                    if wanted and all((p["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())
                ]
            else:
                found = self.get(ns, "pods", name)
                if found is None:
                    return 404, f'pods "{name}" not found'
                pods, target = [found], port
            for pod in pods:
                conditions = {c["type"]: c["status"] for c in (pod.get("status") or {}).get("conditions") or []}
                if (
                    "deletionTimestamp" in pod["metadata"]
                    or (pod.get("status") or {}).get("podIP") != LOOPBACK
                    or (kind == "services" and conditions.get("Ready") != "True")
                ):
                    continue
                number = next(
                    (
                        p["containerPort"]
                        for c in pod["spec"]["containers"]
                        for p in c.get("ports") or []
                        if p.get("name") == target
                    ),
                    None,
                )
                if number is None and str(target).isdigit():
                    number = int(target)
                if number is not None:
                    return (self.serve_port(ns, pod, number) if self.serve_port else number), ""
            return 503, f'no endpoints available for {kind[:-1]} "{name}:{port}"'

    def local_path(self, ns: str, pod: dict, arg: str) -> str:
        """An exec argument with a volume's mount path replaced by the volume's folder."""
        claims = {
            v["name"]: v["persistentVolumeClaim"]["claimName"]
            for v in pod["spec"].get("volumes", [])
            if "persistentVolumeClaim" in v
        }
        for container in pod["spec"]["containers"]:
            for mount in container.get("volumeMounts", []):
                folder = self.volumes.get((ns, claims.get(mount["name"])))
                if folder and (arg == mount["mountPath"] or arg.startswith(mount["mountPath"] + "/")):
                    return str(folder) + arg[len(mount["mountPath"]) :]
        return arg

    def start_containers(self, ns: str, pod: dict) -> None:
        """What the kubelet fixes when it starts a pod's containers: their environment, with
        secretKeyRefs read from the Secrets as they are now (a Secret changed later does not
        reach a running container; a missing one is left out, where a kubelet would not
        start the container), on top of PATH and HOME."""
        for spec in pod["spec"]["containers"]:
            env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}
            for entry in spec.get("env") or []:
                ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
                if ref is None:
                    env[entry["name"]] = str(entry.get("value", ""))
                elif (data := (self.get(ns, "secrets", ref["name"]) or {}).get("data") or {}).get(ref["key"]):
                    env[entry["name"]] = base64.b64decode(data[ref["key"]]).decode()
            self.started_env[(pod["metadata"]["uid"], spec["name"])] = env

    def restart_container(self, ns: str, name: str, container: str) -> None:
        """The container's first process ended (143, SIGTERM): the kubelet starts the container
        again, with its environment read anew, and counts the restart."""
        with self.lock:
            pod = self.get(ns, "pods", name)
            if pod is None:
                return
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            for status in pod.get("status", {}).get("containerStatuses") or []:
                if status["name"] == container:
                    status["restartCount"] = status.get("restartCount", 0) + 1
                    status["lastState"] = {"terminated": {"exitCode": 143, "reason": "Error", "finishedAt": now}}
                    status["state"] = {"running": {"startedAt": now}}
            self.start_containers(ns, pod)

    def container_env(self, ns: str, pod: dict, container: str) -> dict[str, str]:
        container = container or pod["spec"]["containers"][0]["name"]
        if (pod["metadata"]["uid"], container) not in self.started_env:
            self.start_containers(ns, pod)
        return self.started_env[(pod["metadata"]["uid"], container)]

    # ---- a created pod's life, as the scheduler and the kubelet give it ---------------------
    def schedule(self, ns: str, pod: dict) -> None:
        """A pod the client created: Pending on no node, then (half `pod_start_delay` on)
        scheduled with its containers ContainerCreating, then Running and Ready; each step
        with the events a cluster records. An image in `image_failures` does not get there:
        "pull" stays Pending in ErrImagePull then ImagePullBackOff, "crash" runs and restarts
        into CrashLoopBackOff. With no delay it is all done before the create answers.
        (A kubelet's timings, back-off and event counts are not emulated.)"""
        pod["status"] = {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False"}],
        }
        if not self.pod_start_delay:
            self._scheduled(ns, pod)
            self._started(ns, pod)
        else:  # one thread takes the steps in order (two timers can fire out of order under load)
            threading.Thread(
                target=self._steps, args=(ns, pod["metadata"]["name"], pod["metadata"]["uid"]), daemon=True
            ).start()
        if self.on_pod_created:
            self.on_pod_created(pod)
        self.start_containers(ns, pod)

    def _steps(self, ns: str, name: str, uid: str) -> None:
        for step in (self._scheduled, self._started):
            time.sleep(self.pod_start_delay / 2)
            self._step(ns, name, uid, step)

    def _step(self, ns: str, name: str, uid: str, step) -> None:
        with self.lock:
            pod = self.get(ns, "pods", name)
            if pod is not None and pod["metadata"]["uid"] == uid and "deletionTimestamp" not in pod["metadata"]:
                step(ns, pod)

    def event(self, ns: str, pod: dict, reason: str, message: str, kind: str = "Normal") -> None:
        name = f"{pod['metadata']['name']}.{uuid.uuid4().hex[:12]}"
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.add(
            ns,
            "events",
            name,
            involvedObject={
                "kind": "Pod",
                "namespace": ns,
                "name": pod["metadata"]["name"],
                "uid": pod["metadata"]["uid"],
            },
            reason=reason,
            message=message,
            type=kind,
            count=1,
            firstTimestamp=now,
            lastTimestamp=now,
            source={"component": "kubelet" if reason != "Scheduled" else "default-scheduler"},
        )

    @staticmethod
    def _container_status(spec: dict, state: dict, ready: bool = False, restarts: int = 0, last: dict | None = None):
        return {
            "name": spec["name"],
            "image": spec.get("image", ""),
            "imageID": "",
            "ready": ready,
            "started": "running" in state,
            "restartCount": restarts,
            "state": state,
            "lastState": last or {},
        }

    def _scheduled(self, ns: str, pod: dict) -> None:
        node = pod["spec"]["nodeName"] = self.scheduled_node
        self.event(ns, pod, "Scheduled", f"Successfully assigned {ns}/{pod['metadata']['name']} to {node}")
        pod["status"] = {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"}],
            "containerStatuses": [
                self._container_status(c, {"waiting": {"reason": "ContainerCreating"}})
                for c in pod["spec"]["containers"]
            ],
        }

    def _rwo_holders(self, ns: str, pod: dict) -> dict[str, list[str]]:
        """claim → the other pods, on another node, that still have it (until they are gone),
        for each ReadWriteOnce claim the pod mounts: the attach/detach controller's Multi-Attach."""
        held = {}
        for volume in pod["spec"].get("volumes") or []:
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            modes = ((self.get(ns, "persistentvolumeclaims", claim) or {}).get("spec") or {}).get("accessModes") or []
            if claim is None or "ReadWriteOnce" not in modes or "ReadWriteMany" in modes:
                continue
            others = [
                p["metadata"]["name"]
                for p in self.objects.get((ns, "pods"), {}).values()
                if p is not pod
                and p["spec"].get("nodeName") not in (None, pod["spec"].get("nodeName"))
                and claim
                in {(v.get("persistentVolumeClaim") or {}).get("claimName") for v in p["spec"].get("volumes") or []}
            ]
            if others:
                held[claim] = others
        return held

    def _started(self, ns: str, pod: dict) -> None:
        """Its containers started, or not: a Multi-Attach keeps it ContainerCreating (with a
        FailedAttachVolume event) until the pods holding the volume are gone."""
        name = pod["metadata"]["name"]
        if held := self._rwo_holders(ns, pod):
            if (ns, name) not in self._attach_waiting:
                for claim, others in held.items():
                    volume = ((self.get(ns, "persistentvolumeclaims", claim) or {}).get("spec") or {}).get("volumeName")
                    self.event(
                        ns,
                        pod,
                        "FailedAttachVolume",
                        f'Multi-Attach error for volume "{volume or claim}" Volume is already used by pod(s) '
                        f"{', '.join(others)}",
                        "Warning",
                    )
            self._attach_waiting[(ns, name)] = pod["metadata"]["uid"]
            return
        if self._attach_waiting.pop((ns, name), None):
            self.event(ns, pod, "SuccessfulAttachVolume", "AttachVolume.Attach succeeded")
        for spec in pod["spec"].get("initContainers") or []:  # each must pull and run before the containers
            image = spec.get("image", "")
            if self.image_failures.get(image) == "pull":
                self.event(ns, pod, "BackOff", f'Back-off pulling image "{image}"')
                state = {"waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}}
                pod["status"].update(
                    phase="Pending",
                    conditions=[{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"}],
                    initContainerStatuses=[self._container_status(spec, state)],
                    containerStatuses=[
                        self._container_status(c, {"waiting": {"reason": "PodInitializing"}})
                        for c in pod["spec"]["containers"]
                    ],
                )
                return
        statuses, phase = [], "Running"
        for spec in pod["spec"]["containers"]:
            image, failure = spec.get("image", ""), self.image_failures.get(spec.get("image", ""))
            if failure == "pull":
                why = f'failed to pull and unpack image "{image}": not found'
                self.event(ns, pod, "Failed", f'Failed to pull image "{image}": {why}', "Warning")
                self.event(ns, pod, "Failed", "Error: ErrImagePull", "Warning")
                self.event(ns, pod, "BackOff", f'Back-off pulling image "{image}"')
                self.event(ns, pod, "Failed", "Error: ImagePullBackOff", "Warning")
                state = {"waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}}
                statuses.append(self._container_status(spec, state))
                phase = "Pending"
            elif failure == "crash":
                for reason, message in (
                    ("Pulled", f'Container image "{image}" already present on machine'),
                    ("Created", f"Created container {spec['name']}"),
                    ("Started", f"Started container {spec['name']}"),
                ):
                    self.event(ns, pod, reason, message)
                name = pod["metadata"]["name"]
                self.event(
                    ns,
                    pod,
                    "BackOff",
                    f"Back-off restarting failed container {spec['name']} in pod {name}_{ns}({pod['metadata']['uid']})",
                    "Warning",
                )
                message = f"back-off 10s restarting failed container={spec['name']} pod={name}_{ns}"
                last = {"terminated": {"exitCode": 1, "reason": "Error"}}
                state = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
                statuses.append(self._container_status(spec, state, restarts=1, last=last))
            else:
                for reason, message in (
                    ("Pulled", f'Container image "{image}" already present on machine'),
                    ("Created", f"Created container {spec['name']}"),
                    ("Started", f"Started container {spec['name']}"),
                ):
                    self.event(ns, pod, reason, message)
                started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                statuses.append(self._container_status(spec, {"running": {"startedAt": started}}, ready=True))
        ready = phase == "Running" and all(c["ready"] for c in statuses)
        pod["status"] = {
            "phase": phase,
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "True" if ready else "False"},
            ],
            "containerStatuses": statuses,
        }

    def delete_pod(self, ns: str, name: str, grace: int | None = None) -> dict | None:
        """A pod's deletion as the API server and the kubelet do it: with gracePeriodSeconds=0,
        or for a pod on no node or one that has ended, it goes at once; else it gets its
        deletionTimestamp and goes `pod_deletion_delay` later (the kubelet has stopped it and
        unmounted its volumes). A second deletion keeps the first one's clock. The pod as
        the API answers: as it is now."""
        with self.lock:
            pod = self.get(ns, "pods", name)
            if pod is None:
                return None
            self.deletions.append((ns, name, grace))
            phase = (pod.get("status") or {}).get("phase")
            at_once = grace == 0 or not pod["spec"].get("nodeName") or phase in ("Succeeded", "Failed")
            gone = functools.partial(self._pod_gone, ns, name, pod["metadata"]["uid"])
            if at_once and not pod["metadata"].get("finalizers"):
                gone()
                self._stop_containers(ns, pod)
                self._replace(ns, pod)
                return pod
            if "deletionTimestamp" not in pod["metadata"]:
                pod["metadata"]["deletionTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                pod["metadata"]["deletionGracePeriodSeconds"] = 30 if grace is None else grace
                if self.stop_containers is not None and not at_once:
                    self._stop_containers(ns, pod, then=gone)
                else:
                    timer = threading.Timer(0 if at_once else self.pod_deletion_delay, gone)
                    timer.daemon = True
                    timer.start()
                self._replace(ns, pod)
            return pod

    def _stop_containers(self, ns: str, pod: dict, then=None) -> None:
        """The test's stop_containers hook for a deleted pod, on a thread of its own (stopping
        takes a while), then what follows (the pod goes)."""
        hook, snapshot = self.stop_containers, json.loads(json.dumps(pod))

        def stop() -> None:
            try:
                if hook is not None:
                    hook(ns, snapshot)
            finally:
                if then is not None:
                    then()

        threading.Thread(target=stop, daemon=True).start()

    def _replace(self, ns: str, pod: dict) -> None:
        """A Deployment's ReplicaSet makes a deleted pod again at once, while it wants replicas."""
        labels = pod["metadata"].get("labels") or {}
        for name, deployment in list(self.objects.get((ns, "deployments"), {}).items()):
            wanted = (deployment["spec"].get("selector") or {}).get("matchLabels") or {}
            if deployment["spec"].get("replicas") and wanted and all(labels.get(k) == v for k, v in wanted.items()):
                self.scale(ns, name, deployment["spec"]["replicas"])

    def _pod_gone(self, ns: str, name: str, uid: str) -> None:
        """The kubelet has stopped the pod: it goes, unless finalizers hold it (then it goes
        when the last is removed, as the API server does)."""
        with self.lock:
            pods = self.objects.get((ns, "pods"), {})
            if name in pods and pods[name]["metadata"]["uid"] == uid:  # not a new pod of that name
                if pods[name]["metadata"].get("finalizers"):
                    self._stopped.add(uid)
                    return
                del pods[name]
            for (waiting_ns, waiting), waiting_uid in list(self._attach_waiting.items()):
                if waiting_ns == ns:  # the controller tries the attach again
                    self._step(ns, waiting, waiting_uid, self._started)
            self._drop_if_empty(ns)

    def held_by_finalizers(self, ns: str, name: str) -> bool:
        """The pod's deletion has finished (the kubelet stopped it): only finalizers keep it."""
        with self.lock:
            pod = self.get(ns, "pods", name)
            return pod is not None and pod["metadata"]["uid"] in self._stopped

    def remove_finalizers(self, ns: str, name: str) -> None:
        """What the controller that set a pod's finalizers does when its work is done."""
        with self.lock:
            pod = self.get(ns, "pods", name)
            if pod is None:
                return
            pod["metadata"]["finalizers"] = []
            self._released(ns, pod)

    def _released(self, ns: str, pod: dict) -> None:
        """A pod whose finalizers are gone: removed now if its deletion had finished."""
        if not pod["metadata"].get("finalizers") and pod["metadata"]["uid"] in self._stopped:
            self._stopped.discard(pod["metadata"]["uid"])
            self._pod_gone(ns, pod["metadata"]["name"], pod["metadata"]["uid"])

    def delete_namespace(self, ns: str) -> None:
        """Terminating at once; its pods deleted (gracefully), every other object gone at once
        unless finalizers hold it; gone, with everything in it, when `namespace_deletion_delay`
        is over, its last pod has gone and no finalizer holds anything."""
        with self.lock:
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self.namespaces[ns]["status"]["phase"] = "Terminating"
            self.namespaces[ns]["metadata"]["deletionTimestamp"] = now
            for (where, kind), store in self.objects.items():
                if where != ns or kind == "pods":
                    continue
                for name, obj in list(store.items()):
                    if obj["metadata"].get("finalizers"):
                        obj["metadata"].setdefault("deletionTimestamp", now)
                    else:
                        del store[name]
            for name in list(self.objects.get((ns, "pods"), {})):
                self.delete_pod(ns, name)
        timer = threading.Timer(self.namespace_deletion_delay, self._emptied_after_delay, (ns,))
        timer.daemon = True
        timer.start()

    def _emptied_after_delay(self, ns: str) -> None:
        with self.lock:
            self._emptied.add(ns)
            self._drop_if_empty(ns)

    def _released_object(self, ns: str, kind: str, name: str) -> None:
        """An object other than a pod whose finalizers are gone: removed now if it was deleted."""
        obj = self.get(ns, kind, name)
        if obj and "deletionTimestamp" in obj["metadata"] and not obj["metadata"].get("finalizers"):
            del self.objects[(ns, kind)][name]
            self._drop_if_empty(ns)

    def _drop_if_empty(self, ns: str) -> None:
        held = any(
            o["metadata"].get("finalizers")
            for (where, _), store in self.objects.items()
            if where == ns
            for o in store.values()
        )
        if ns in self._emptied and not self.objects.get((ns, "pods")) and not held:
            self._emptied.discard(ns)
            self.drop_namespace(ns)

    def terminating(self, ns: str) -> bool:
        return (self.namespaces.get(ns) or {}).get("status", {}).get("phase") == "Terminating"

    def drop_namespace(self, ns: str) -> None:
        with self.lock:
            self.namespaces.pop(ns, None)
            for key in [k for k in self.objects if k[0] == ns]:
                del self.objects[key]

    def get(self, ns: str, kind: str, name: str) -> dict | None:
        return self.objects.get((ns, kind), {}).get(name)

    def review_access(self, spec: dict) -> dict:
        """A SubjectAccessReview's status as RBAC's authorizer gives it: allowed when a
        RoleBinding of the namespace (or a ClusterRoleBinding) binds the user, one of its
        groups or its service account to a Role of the binding's namespace (or a ClusterRole)
        with a rule for the verb on the resource in its API group (`*` for any). Resource
        names, non-resource URLs and aggregated ClusterRoles are not read."""
        user, groups = spec.get("user", ""), set(spec.get("groups") or [])
        asked = spec.get("resourceAttributes") or {}
        ns, verb, resource = asked.get("namespace", ""), asked.get("verb"), asked.get("resource")
        group = asked.get("group", "")

        def binds(binding: dict, where: str) -> str | None:
            for who in binding.get("subjects") or []:
                kind, name = who.get("kind"), who.get("name")
                if kind == "ServiceAccount" and user == f"system:serviceaccount:{who.get('namespace', where)}:{name}":
                    return f'ServiceAccount "{name}/{who.get("namespace", where)}"'
                if (kind == "User" and name == user) or (kind == "Group" and name in groups):
                    return f'{kind} "{name}"'
            return None

        def grants(role: dict | None) -> bool:
            return any(
                {group, "*"} & set(rule.get("apiGroups") or [])
                and {resource, "*"} & set(rule.get("resources") or [])
                and {verb, "*"} & set(rule.get("verbs") or [])
                for rule in (role or {}).get("rules") or []
            )

        bindings = [(ns, b, "RoleBinding") for b in self.objects.get((ns, "rolebindings"), {}).values()] if ns else []
        bindings += [
            (CLUSTER, b, "ClusterRoleBinding") for b in self.objects.get((CLUSTER, "clusterrolebindings"), {}).values()
        ]
        for where, binding, kind in bindings:
            subject = binds(binding, where)
            ref = binding.get("roleRef") or {}
            role = self.get(where, "roles", ref.get("name")) if ref.get("kind") == "Role" else None
            role = role or (
                self.get(CLUSTER, "clusterroles", ref.get("name")) if ref.get("kind") == "ClusterRole" else None
            )
            if subject and grants(role):
                name = binding["metadata"]["name"] + (f"/{where}" if where else "")
                return {
                    "allowed": True,
                    "reason": f'RBAC: allowed by {kind} "{name}" of {ref["kind"]} "{ref["name"]}" to {subject}',
                }
        return {"allowed": False, "reason": ""}

    # ---- HTTP ---------------------------------------------------------------------------
    def _handler(self):
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                emulator.bodies.append((self.command, self.path, json.loads(json.dumps(body))))
                return body

            def _route(self, method: str) -> None:
                path = urlparse(self.path).path
                if path.startswith("/_emulator/"):  # a stand-in tool's call: its hook locks what it touches
                    return self._tool(path.removeprefix("/_emulator/"))
                if method == "GET" and (proxy := PROXY.match(path)):  # forwarded without holding the lock
                    return self._proxy(proxy)
                if path.endswith("/exec"):  # a stream: it takes the lock to look only
                    return self._dispatch(method)
                with emulator.lock:
                    return self._dispatch(method)

            def _tool(self, tool: str) -> None:
                """A stand-in tool's call (POST /_emulator/helm, /_emulator/kubectl: its arguments;
                helm's -f files are read and merged here) to the test's hook of that name:
                what the tool prints (or a dict of stdout, stderr and exit_code), or its error."""
                hook = getattr(emulator, tool, None) if tool in ("helm", "kubectl") else None
                if hook is None:
                    return self._send(404, status(404, "NotFound", f"no stand-in for {tool}"))
                args = self._body()["args"]
                try:
                    files = [Path(args[n + 1]) for n, arg in enumerate(args[:-1]) if arg == "-f"]
                    done = hook(args, chart_values.load(files) if tool == "helm" else {})
                    return self._send(200, done if isinstance(done, dict) else {"stdout": done})
                except Exception as e:  # noqa: BLE001 — the tool's error, as it prints it
                    return self._send(500, {"message": f"Error: {e}"})

            def _dispatch(self, method: str) -> None:
                url = urlparse(self.path)
                emulator.requests.append((method, url.path))
                if any(method == m and url.path.endswith(end) for m, end in emulator.forbidden):
                    return self._send(
                        403,
                        status(403, "Forbidden", f'{url.path} is forbidden: User "tester" cannot {method.lower()} it'),
                    )
                if not self._check_selector(url.query):
                    return None
                if (
                    method == "GET"
                    and (every := ALL_NAMESPACES.match(url.path))
                    and every["kind"] in COLLECTIONS
                    and every["kind"] != "namespaces"
                ):
                    api_version, kind_name = COLLECTIONS[every["kind"]]
                    items = [
                        o
                        for (_, k), store in emulator.objects.items()
                        if k == every["kind"]
                        for o in store.values()
                        if self._selected(o, url.query)
                    ]
                    return self._send(
                        200, {"apiVersion": api_version, "kind": f"{kind_name}List", "metadata": {}, "items": items}
                    )
                if (metrics := POD_METRICS.match(url.path)) and method == "GET" and emulator.pod_metrics:
                    with emulator.lock:
                        pods = dict(emulator.objects.get((metrics["ns"], "pods"), {}))
                    items = [m for m in emulator.pod_metrics(metrics["ns"], pods) if self._selected(m, url.query)]
                    return self._send(
                        200, {"apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetricsList", "items": items}
                    )
                if url.path == ACCESS_REVIEW and method == "POST":
                    review = self._body()
                    review["status"] = emulator.review_access(review.get("spec") or {})
                    return self._send(201, review)
                if cluster_object := CLUSTER_OBJECT.match(url.path):
                    kind, name = cluster_object["kind"], cluster_object["name"]
                    found = emulator.get(CLUSTER, kind, name)
                    if found is None:
                        return self._send(404, status(404, "NotFound", f'{kind} "{name}" not found'))
                    if method == "DELETE":
                        del emulator.objects[(CLUSTER, kind)][name]
                    return self._send(200, found)
                match = ROUTE.match(url.path)
                if not match:
                    return self._send(404, status(404, "NotFound", f"no route {url.path}"))
                ns, kind, name = match["ns"], match["kind"], match["name"]
                if match["sub"] == "/log":
                    return self._log(ns, name, parse_qs(url.query))
                if match["sub"] == "/exec":
                    return self._exec(ns, name, parse_qs(url.query))
                if match["sub"] == "/scale" and method == "PATCH":
                    if emulator.get(ns, kind, name) is None:
                        return self._send(404, status(404, "NotFound", f'{kind} "{name}" not found'))
                    body = self._body()
                    if self.headers.get("Content-Type") == "application/json-patch+json" and not isinstance(body, list):
                        return self._send(
                            400,
                            status(
                                400, "BadRequest", "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
                            ),
                        )
                    replicas = body["spec"]["replicas"]
                    emulator.scale(ns, name, replicas)
                    return self._send(
                        200,
                        {
                            "apiVersion": "autoscaling/v1",
                            "kind": "Scale",
                            "metadata": {"name": name, "namespace": ns},
                            "spec": {"replicas": replicas},
                            "status": {"replicas": replicas},
                        },
                    )
                if kind is None:
                    return self._namespace(method, ns)
                if kind not in COLLECTIONS:
                    return self._send(404, status(404, "NotFound", f"no resource {kind}"))
                if ns not in emulator.namespaces and method == "POST":
                    return self._send(404, status(404, "NotFound", f'namespaces "{ns}" not found'))
                # (a real server lists, and deletes collections, in a namespace that is not there:
                # nothing; an object in it is not found)
                if kind == "pods" and method == "GET" and emulator.kubelet:
                    emulator.kubelet(ns)
                store = emulator.objects.setdefault((ns, kind), {})
                api_version, kind_name = COLLECTIONS[kind]
                if method == "GET" and name is None:
                    items = [o for o in store.values() if self._selected(o, url.query)]
                    return self._send(
                        200, {"apiVersion": api_version, "kind": f"{kind_name}List", "metadata": {}, "items": items}
                    )
                if method == "GET":
                    if name not in store:
                        return self._send(404, status(404, "NotFound", f'{kind} "{name}" not found'))
                    return self._send(200, store[name])
                if method == "POST":
                    body = self._body()
                    body.setdefault("apiVersion", api_version)
                    body.setdefault("kind", kind_name)
                    new = body["metadata"]["name"]
                    if emulator.terminating(ns):
                        why = f"unable to create new content in namespace {ns} because it is being terminated"
                        return self._send(403, status(403, "Forbidden", f'{kind} "{new}" is forbidden: {why}'))
                    if refused := invalid(body):
                        return self._send(refused["code"], refused)
                    if new in store:
                        self._send(409, status(409, "AlreadyExists", f'{kind} "{new}" already exists'))
                        if emulator.on_conflict:
                            emulator.on_conflict(ns, kind, new)
                        return None
                    body["metadata"]["namespace"] = ns
                    body["metadata"]["uid"] = str(uuid.uuid4())
                    if kind == "pods":
                        emulator.schedule(ns, body)
                    if kind == "persistentvolumeclaims":  # provisioned at once, where the test says
                        folder = emulator.claim_folder(ns, body) if emulator.claim_folder else None
                        if folder is None and emulator.volume_root:
                            folder = emulator.volume_root / ns / new
                        if folder is not None:
                            folder.mkdir(parents=True, exist_ok=True)
                            emulator.volumes[(ns, new)] = folder
                    store[new] = body
                    if kind == "deployments":  # its ReplicaSet makes its pods
                        emulator.rolled_out(ns, new, None)
                    return self._send(201, body)
                if method == "DELETE" and name:  # answers with the object, as the API does
                    if name not in store:
                        return self._send(404, status(404, "NotFound", f'{kind} "{name}" not found'))
                    if kind == "pods":
                        return self._send(200, emulator.delete_pod(ns, name, self._grace(url.query)))
                    gone = store.pop(name)
                    if kind in ("deployments", "daemonsets"):
                        emulator.deleted_deployment(ns, gone)
                    return self._send(200, gone)
                if method == "DELETE":  # a collection, by label selector
                    chosen = [n for n, o in list(store.items()) if self._selected(o, url.query)]
                    if kind == "pods":
                        gone = [emulator.delete_pod(ns, n, self._grace(url.query)) for n in chosen]
                    else:
                        gone = [store.pop(n) for n in chosen]
                    return self._send(
                        200, {"apiVersion": api_version, "kind": f"{kind_name}List", "metadata": {}, "items": gone}
                    )
                if method in ("PUT", "PATCH") and name not in store:
                    # as a real server: an update does not create (only a few kinds, such as
                    # Service, allow create-on-update; the product PUTs none of them)
                    return self._send(404, status(404, "NotFound", f'{kind} "{name}" not found'))
                if method == "PUT":
                    body = self._body()
                    if body.get("metadata", {}).get("name") != name:
                        return self._send(
                            400,
                            status(
                                400,
                                "BadRequest",
                                f"the name of the object ({body.get('metadata', {}).get('name')}) does not "
                                f"match the name on the URL ({name})",
                            ),
                        )
                    if refused := invalid({**body, "apiVersion": api_version, "kind": kind_name}):
                        return self._send(refused["code"], refused)
                    before = store[name]
                    store[name] = {**body, "apiVersion": api_version, "kind": kind_name}
                    if kind == "deployments":
                        emulator.rolled_out(ns, name, before)
                    return self._send(200, store[name])
                if method == "PATCH":  # a JSON merge patch; a strategic one is read as one too (lists replaced)
                    before = store[name]
                    store[name] = merged(store[name], self._body())
                    if kind == "daemonsets":
                        emulator.rolled_out_daemon_set(ns, name, before)
                    self._send(200, store[name])
                    if kind == "pods":  # its finalizers removed: a deleted pod goes
                        emulator._released(ns, store[name])
                    else:
                        emulator._released_object(ns, kind, name)
                    return None
                return self._send(405, status(405, "MethodNotAllowed", method))

            def _proxy(self, match) -> None:
                """GET through the API server's proxy to a Service's or pod's port, answered as
                that port answers (its status, type and body)."""
                emulator.requests.append(("GET", urlparse(self.path).path))
                port, why = emulator.proxied(match["ns"], match["kind"], match["name"], match["port"] or "80")
                if why:
                    return self._send(port, status(port, "ServiceUnavailable" if port == 503 else "NotFound", why))
                query = urlparse(self.path).query
                try:
                    answer = requests.get(
                        f"http://{LOOPBACK}:{port}{match['path'] or '/'}{'?' + query if query else ''}", timeout=10
                    )
                except requests.RequestException as e:
                    why = f"error trying to reach {match['kind'][:-1]} {match['name']}: {type(e).__name__}"
                    return self._send(503, status(503, "ServiceUnavailable", why))
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("Content-Type", "text/plain"))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)
                return None

            def _grace(self, query: str) -> int | None:
                """gracePeriodSeconds of a DELETE, from its query or its DeleteOptions body."""
                asked = parse_qs(query).get("gracePeriodSeconds")
                body = self._body() if int(self.headers.get("Content-Length") or 0) else {}
                if asked:
                    return int(asked[0])
                return body.get("gracePeriodSeconds") if isinstance(body, dict) else None

            @staticmethod
            def _selected(obj: dict, query: str) -> bool:
                """Whether obj's labels match the query's labelSelector (parsed by _check_selector first)."""
                selector = parse_qs(query).get("labelSelector", [""])[0]
                return label_selector(selector)(obj["metadata"].get("labels") or {})

            def _check_selector(self, query: str) -> bool:
                """False, having answered 400 as a real server does, for a selector it cannot parse."""
                selector = parse_qs(query).get("labelSelector", [""])[0]
                try:
                    label_selector(selector)
                except ValueError as e:
                    self._send(400, status(400, "BadRequest", f"unable to parse requirement: {e}"))
                    return False
                return True

            def _container(self, spec: dict, container: str) -> tuple[str | None, dict | None]:
                """(the container named, or the only one; None) or (None, the 400 a real server gives)."""
                pod, names = spec["metadata"]["name"], [c["name"] for c in spec["spec"]["containers"]]
                if not container and len(names) == 1:
                    return names[0], None
                if not container:
                    why = f"a container name must be specified for pod {pod}, choose one of: [{' '.join(names)}]"
                    return None, status(400, "BadRequest", why)
                if container not in names:
                    return None, status(400, "BadRequest", f"container {container} is not valid for pod {pod}")
                return container, None

            def _log(self, ns: str, pod: str, query: dict) -> None:
                """A container's log as the kubelet serves it: empty (200) when it wrote
                nothing; 400 for a previous instance there is not, or a container that
                never started; tail_lines honoured."""
                previous = query.get("previous", ["false"])[0] == "true"
                spec = emulator.get(ns, "pods", pod)
                if spec is None:
                    return self._send(404, status(404, "NotFound", f'pods "{pod}" not found'))
                container, refused = self._container(spec, query.get("container", [""])[0])
                if refused:
                    return self._send(400, refused)
                text = emulator.logs.get((ns, pod, container, previous))
                state = next(
                    (
                        c.get("state") or {}
                        for c in spec.get("status", {}).get("containerStatuses") or []
                        if c["name"] == container
                    ),
                    {},
                )
                never_started = (state.get("waiting") or {}).get("reason") in NEVER_STARTED
                if text is None and previous:
                    return self._send(
                        400,
                        status(
                            400, "BadRequest", f'previous terminated container "{container}" in pod "{pod}" not found'
                        ),
                    )
                if text is None and never_started:
                    return self._send(
                        400,
                        status(
                            400,
                            "BadRequest",
                            f'container "{container}" in pod "{pod}" is waiting to start: {state["waiting"]["reason"]}',
                        ),
                    )
                text = text or ""
                if tail := query.get("tailLines"):
                    lines = text.splitlines(keepends=True)
                    text = "".join(lines[len(lines) - min(int(tail[0]), len(lines)) :])
                data = text.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _plain(self, code: int, text: str) -> None:
                data = text.encode()
                self.send_response(code)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.close_connection = True

            def _exec(self, ns: str, pod: str, query: dict) -> None:
                """`exec` over a websocket in the channel protocol negotiated (v5 or v4.channel.k8s.io,
                the client's first that `exec_protocols` holds), run here as a local process whose
                paths under the pod's volume mounts point at the folders standing in for those
                volumes; stdin frames from the client feed it. Refused as a real server refuses:
                a container the pod has not (400), a pod not on a node yet (400, the API server),
                a container not running (500 from the kubelet, passed through)."""
                with emulator.lock:  # the pod as it is now (a deletion may finish while this runs)
                    spec = json.loads(json.dumps(emulator.get(ns, "pods", pod)))
                if spec is None or self.headers.get("Upgrade", "").lower() != "websocket":
                    return self._send(404, status(404, "NotFound", f'pods "{pod}" not found'))
                container, refused = self._container(spec, query.get("container", [""])[0])
                if refused:
                    return self._send(400, refused)
                if not spec["spec"].get("nodeName"):
                    return self._send(400, status(400, "BadRequest", f"pod {pod} does not have a host assigned"))
                state = next(
                    (
                        c.get("state") or {}
                        for c in spec.get("status", {}).get("containerStatuses") or []
                        if c["name"] == container
                    ),
                    {"running": {}},  # a pod made here without container statuses runs them all
                )
                if spec.get("status", {}).get("phase") != "Running" or "running" not in state:
                    return self._plain(500, f'container not found ("{container}")')
                offered = [p.strip() for p in self.headers.get("Sec-WebSocket-Protocol", "").split(",")]
                protocol = next((p for p in offered if p in emulator.exec_protocols), None)
                if protocol is None:
                    return self._plain(
                        400,
                        f"requested protocol(s) are not supported: {offered}; supports {list(emulator.exec_protocols)}",
                    )
                emulator.exec_protocols_used.append(protocol)
                if ENDS_FIRST_PROCESS.fullmatch(" ".join(query.get("command", []))):
                    return self._first_process_ended(ns, pod, container, protocol)
                command = [emulator.local_path(ns, spec, arg) for arg in query.get("command", [])]
                with_stdin = query.get("stdin", ["false"])[0] == "true"
                self._upgrade(protocol)
                proc = subprocess.Popen(
                    command,
                    stdin=subprocess.PIPE if with_stdin else subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=emulator.container_env(ns, spec, container),
                )
                lock = threading.Lock()

                def pump(stream, channel: int) -> None:
                    while chunk := stream.read1(65536):
                        with lock:
                            self._frame(0x2, bytes([channel]) + chunk)

                pumps = [
                    threading.Thread(target=pump, args=(proc.stdout, 1)),
                    threading.Thread(target=pump, args=(proc.stderr, 2)),
                ]
                if with_stdin:
                    threading.Thread(target=self._feed, args=(proc, protocol), daemon=True).start()
                for thread in pumps:
                    thread.start()
                try:
                    proc.wait(timeout=60)
                finally:
                    proc.kill()
                for thread in pumps:
                    thread.join(10)
                result = (
                    {"metadata": {}, "status": "Success"}
                    if proc.returncode == 0
                    else {
                        "metadata": {},
                        "status": "Failure",
                        "reason": "NonZeroExitCode",
                        "details": {"causes": [{"reason": "ExitCode", "message": str(proc.returncode)}]},
                    }
                )
                with lock:
                    self._frame(0x2, b"\x03" + json.dumps(result).encode())
                    self._frame(0x8, b"")
                self.close_connection = True

            def _upgrade(self, protocol: str) -> None:
                key = self.headers["Sec-WebSocket-Key"]
                accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
                self.send_response_only(101, "Switching Protocols")
                for header, value in (
                    ("Upgrade", "websocket"),
                    ("Connection", "Upgrade"),
                    ("Sec-WebSocket-Accept", accept),
                    ("Sec-WebSocket-Protocol", protocol),
                ):
                    self.send_header(header, value)
                self.end_headers()

            def _first_process_ended(self, ns: str, pod: str, container: str, protocol: str) -> None:
                """`kill 1`: the container ends with its first process, and the exec with it (the
                stream closes with no exit status); the kubelet starts the container again."""
                self._upgrade(protocol)
                emulator.restart_container(ns, pod, container)
                self._frame(0x8, b"")
                self.close_connection = True

            def _feed(self, proc, protocol: str) -> None:
                """Client frames (masked, RFC 6455) into the process's stdin: channel 0 is
                data, channel 255 with 0 closes it (v5 only: v4 has no way to close stdin but
                closing the whole stream), a close frame ends it."""
                try:
                    while True:
                        head = self.rfile.read(2)
                        if len(head) < 2:
                            break
                        opcode, size = head[0] & 0x0F, head[1] & 0x7F
                        if size == 126:
                            size = int.from_bytes(self.rfile.read(2), "big")
                        elif size == 127:
                            size = int.from_bytes(self.rfile.read(8), "big")
                        mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
                        data = self.rfile.read(size)
                        keys = (mask * (size // 4 + 1))[:size]
                        data = (int.from_bytes(data, "big") ^ int.from_bytes(keys, "big")).to_bytes(size, "big")
                        if opcode == 0x8 or (protocol == V5 and data[:2] == b"\xff\x00"):
                            break
                        if data[:1] == b"\x00":
                            proc.stdin.write(data[1:])
                            proc.stdin.flush()
                except (OSError, ValueError):  # the process has ended, or the client has gone
                    pass
                finally:
                    try:
                        proc.stdin.close()
                    except OSError:
                        pass

            def _frame(self, opcode: int, payload: bytes) -> None:
                size = len(payload)
                head = bytes([0x80 | opcode])
                if size < 126:
                    head += bytes([size])
                elif size < 65536:
                    head += bytes([126]) + size.to_bytes(2, "big")
                else:
                    head += bytes([127]) + size.to_bytes(8, "big")
                self.wfile.write(head + payload)
                self.wfile.flush()

            def _namespace(self, method: str, ns: str | None) -> None:
                if method == "GET" and ns is None:
                    return self._send(
                        200,
                        {
                            "apiVersion": "v1",
                            "kind": "NamespaceList",
                            "metadata": {},
                            "items": list(emulator.namespaces.values()),
                        },
                    )
                if method == "GET":
                    if ns not in emulator.namespaces:
                        return self._send(404, status(404, "NotFound", f'namespaces "{ns}" not found'))
                    return self._send(200, emulator.namespaces[ns])
                if method == "POST":
                    body = self._body()
                    if refused := invalid({"apiVersion": "v1", "kind": "Namespace", **body}):
                        return self._send(refused["code"], refused)
                    name = body["metadata"]["name"]
                    if name in emulator.namespaces:
                        deleting = emulator.namespaces[name]["status"]["phase"] == "Terminating"
                        return self._send(
                            409,
                            status(
                                409,
                                "AlreadyExists",
                                f'{"object is being deleted: " if deleting else ""}namespaces "{name}" already exists',
                            ),
                        )
                    emulator.add_namespace(name, labels=body["metadata"].get("labels"))
                    return self._send(201, emulator.namespaces[name])
                if method == "DELETE" and ns not in emulator.namespaces:
                    return self._send(404, status(404, "NotFound", f'namespaces "{ns}" not found'))
                if method == "DELETE" and ns in IMMORTAL_NAMESPACES:  # the NamespaceLifecycle admission plugin
                    return self._send(
                        403,
                        status(403, "Forbidden", f'namespaces "{ns}" is forbidden: this namespace may not be deleted'),
                    )
                if method == "DELETE" and emulator.namespaces[ns]["status"]["phase"] == "Terminating":
                    return self._send(
                        409,
                        status(
                            409,
                            "Conflict",
                            f'Operation cannot be fulfilled on namespaces "{ns}": The system is ensuring all '
                            "content is removed from this namespace.  Upon completion, this namespace will "
                            "automatically be purged by the system.",
                        ),
                    )
                if method == "DELETE":
                    emulator.delete_namespace(ns)
                    return self._send(200, emulator.namespaces[ns])
                return self._send(405, status(405, "MethodNotAllowed", method))

            def do_GET(self):
                self._route("GET")

            def do_POST(self):
                self._route("POST")

            def do_PUT(self):
                self._route("PUT")

            def do_PATCH(self):
                self._route("PATCH")

            def do_DELETE(self):
                self._route("DELETE")

        return Handler

    def kubeconfig(self, context: str = "emulated") -> dict:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": context,
            "clusters": [{"name": "emulated", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": "not-a-real-token"}}],
            "contexts": [{"name": context, "context": {"cluster": "emulated", "user": "tester"}}],
        }
