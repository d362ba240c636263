"""How the harness reaches proxy-public of a kubernetes deployment from this machine.

In order: HUBHARNESS_PUBLIC_URL if set (an ingress host, a load balancer); on kind, the
NodePort of the values as mapped to 127.0.0.1 by manifests/kind-cluster.yaml (what
z2jh's own CI does: no port-forward to break); anywhere else, `kubectl port-forward`
to svc/proxy-public on a free local port, for as long as the harness runs.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import yaml

from ...errors import HarnessError

PUBLIC_URL_ENV = "HUBHARNESS_PUBLIC_URL"
INGRESS_URL_ENV = "HUBHARNESS_INGRESS_URL"  # where the ingress controller answers, if not in the Ingress status
INGRESS_HOST_ENV = "HUBHARNESS_INGRESS_HOST"  # the host deploy's Ingress routes to proxy-public
DNS_NAME = re.compile(r"(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*")
FORWARD_TIMEOUT = 20
FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) ->")
# what kubectl says when the pod it forwards to has gone (it exits, or fails every connection)
LOST = re.compile(r"lost connection to pod|error forwarding port|an error occurred forwarding")
RESTARTS = 20  # times a forward is started again on its port, at most


def kind_host_port(kind_config: Path, node_port: int) -> int:
    """The 127.0.0.1 port that the kind config maps to the NodePort."""
    config = yaml.safe_load(kind_config.read_text())
    for node in config.get("nodes", []):
        for mapping in node.get("extraPortMappings", []):
            if mapping.get("containerPort") == node_port:
                return int(mapping["hostPort"])
    raise HarnessError(
        f"proxy-public's NodePort {node_port} is not mapped by {kind_config}: add an "
        "extraPortMappings entry for it, or set proxy.service.nodePorts.http to a mapped port"
    )


def with_ingress_host(ingress: dict) -> dict:
    """The Ingress of manifests/ingress.yaml, for the host HUBHARNESS_INGRESS_HOST names if
    set: one host is one Ingress in a cluster (two namespaces side by side need two)."""
    host = os.environ.get(INGRESS_HOST_ENV, "")
    if not host:
        return ingress
    if not DNS_NAME.fullmatch(host):
        raise HarnessError(
            f"{INGRESS_HOST_ENV}={host!r} is not a host name: lower-case DNS labels joined by dots "
            "(for example hub.example.org)"
        )
    for rule in ingress["spec"]["rules"]:
        rule["host"] = host
    return ingress


def node_port(values: dict) -> int | None:
    service = (values.get("proxy") or {}).get("service") or {}
    if service.get("type") != "NodePort":
        return None
    port = (service.get("nodePorts") or {}).get("http")
    return int(port) if port else None


def _pump(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


class PortForward:
    """`kubectl port-forward svc/proxy-public` on one local port for as long as the harness
    runs, as a Service's address is stable. kubectl forwards to the one pod it picked as it
    started; when that pod goes (the proxy restarted, a rollout) kubectl exits or fails every
    connection ("lost connection to pod"), so it is started again on the same port, to the
    Service's pod of the moment. Callers keep the URL they were given."""

    def __init__(self, namespace: str, kube_context: str, kubeconfig: str):
        self.namespace, self.kube_context, self.kubeconfig = namespace, kube_context, kubeconfig
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.restarts = 0
        self.closed = False
        self.lock = threading.Lock()

    def url(self) -> str:
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                self._start()
            return f"http://127.0.0.1:{self.port}"

    def _start(self) -> None:
        """kubectl on this forward's port (the first time a free one kubectl chooses)."""
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            raise HarnessError(
                f"kubectl not found: install it to reach proxy-public through a port-forward, "
                f"or set {PUBLIC_URL_ENV} to the hub's URL (for example its ingress host)"
            )
        proc = subprocess.Popen(
            [
                kubectl,
                "port-forward",
                "--namespace",
                self.namespace,
                "--context",
                self.kube_context,
                "--address",
                "127.0.0.1",
                "svc/proxy-public",
                f"{self.port or ''}:80",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "KUBECONFIG": self.kubeconfig},
        )
        lines: queue.Queue = queue.Queue()
        # One reader for kubectl's whole life: it names the port first, and a pipe
        # nobody drains would block it later.
        threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
        deadline = time.monotonic() + FORWARD_TIMEOUT
        seen, exited = [], False
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                exited = True
                break
            seen.append(line.strip())
            if match := FORWARDING.search(line):
                self.proc, self.port = proc, int(match[1])
                threading.Thread(target=self._follow, args=(proc, lines), daemon=True).start()
                return
        _stop(proc)
        how = "failed" if exited else f"did not start within {FORWARD_TIMEOUT}s"
        raise HarnessError(
            f"kubectl port-forward to svc/proxy-public in {self.namespace} {how}: {(seen or ['no output'])[-1]}"
        )

    def _follow(self, proc: subprocess.Popen, lines: queue.Queue) -> None:
        """When this kubectl loses its pod, start one again on the same port: at most
        RESTARTS times in the forward's life, a second apart while the new pod starts."""
        while (line := lines.get()) is not None and not LOST.search(line):
            pass
        while True:
            with self.lock:
                if self.closed or self.proc is not proc or self.restarts >= RESTARTS:
                    return
                _stop(proc)
                self.restarts += 1
                try:
                    self._start()
                    return
                except HarnessError:
                    pass
            time.sleep(1)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            if self.proc is not None:
                _stop(self.proc)
            self.proc = None


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
