"""What verify and status read from a kubernetes namespace (kube_deployment.py), over HTTP
against the emulated API server with the real kubernetes client.

The emulator holds what the chart would leave (pods with the chart's labels, its Secret,
helm's release record, network policies, logs); nothing here runs a hub. Each fact is
shown holding on a healthy namespace and failing on the fault it is there to catch.
"""

import base64
import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from hubharness import report, values
from hubharness.errors import HarnessError
from hubharness.targets import target_for
from hubharness.targets.kube import access as kube_access
from hubharness.targets.kube import api as kube
from hubharness.targets.kube import helm_release
from hubharness.waiting import wait_until

from .helpers import PROJECT_ROOT, run_invoke
from .kube_emulator import KubeEmulator, daemon_set_status

PASSWORD = "from-the-environment-123"
SERVICE_TOKEN = "hubharness-service-token-0123456789"
PROXY_TOKEN = "proxy-auth-token-0123456789"
AUTH = values.AUTH_ENV
FROM_SECRET = [{"name": AUTH, "valueFrom": {"secretKeyRef": {"name": "urbalurba-secrets", "key": AUTH}}}]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# The chart's own values.yaml (4.4.0), as much as the harness reads: helm keeps it in the
# release record beside the values given, which hold only what the user set.
CHART_DEFAULTS = {
    "proxy": {"service": {"type": "LoadBalancer", "nodePorts": {"http": None}}},
    "singleuser": {
        "image": {"name": "quay.io/jupyterhub/k8s-singleuser-sample", "tag": "4.4.0"},
        "uid": 1000,
        "fsGid": 100,
    },
    "scheduling": {"userScheduler": {"enabled": True}},
    "prePuller": {"continuous": {"enabled": True}, "hook": {"enabled": True}},
}


def chart_release(config: dict, chart_version: str = "4.4.0", ns: str = "jh") -> str:
    return helm_release.encode(
        {
            "name": "jupyterhub",
            "version": 1,
            "namespace": ns,
            "config": config,
            "chart": {
                "metadata": {"name": "jupyterhub", "version": chart_version, "appVersion": "5.5.0"},
                "values": CHART_DEFAULTS,
            },
        }
    )


def install_chart(cluster, ns: str = "jh", config: dict | None = None) -> None:
    """What `helm upgrade --install` of the chart leaves in a namespace, as far as verify reads it."""
    cluster.add_namespace(ns)
    cluster.add(ns, "secrets", "urbalurba-secrets", type="Opaque", data={AUTH: b64(PASSWORD)})
    chart_objects(cluster, ns, config or values.load(values.values_files("kind")), hub_env=FROM_SECRET)


PRIVATE = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]


def _chart_labels(component: str) -> dict:
    return {"matchLabels": {"component": component, "app": "jupyterhub", "release": "jupyterhub"}}


def chart_network_policies(config: dict) -> dict[str, dict]:
    """A stand-in for the chart's NetworkPolicy templates (4.x, hub/proxy/singleuser netpol.yaml)
    rendered for these values, in the shape the chart gives them: each selects its component's
    pods, lets in what the chart lets in plus the values' `<component>.networkPolicy.ingress`,
    and lets out what its egressAllowRules defaults let out plus the values' `egress`. Not
    helm: the templates' conditionals the harness's values never touch are left out."""
    anywhere = [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]
    core = {
        "hub": (
            [
                {
                    "ports": [{"port": "http"}],
                    "from": [{"podSelector": {"matchLabels": {"hub.jupyter.org/network-access-hub": "true"}}}],
                }
            ],
            anywhere,
        ),
        "proxy": (
            [
                {"ports": [{"port": "http"}, {"port": "https"}]},
                {
                    "ports": [{"port": "api"}],
                    "from": [{"podSelector": {"matchLabels": {"hub.jupyter.org/network-access-proxy-api": "true"}}}],
                },
            ],
            anywhere,
        ),
        "singleuser": (
            [
                {
                    "ports": [{"port": "notebook-port"}],
                    "from": [{"podSelector": {"matchLabels": {"hub.jupyter.org/network-access-singleuser": "true"}}}],
                }
            ],
            [
                {"ports": [{"port": 8081}], "to": [{"podSelector": _chart_labels("hub")}]},
                {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE}}]},  # egressAllowRules.nonPrivateIPs
            ],
        ),
    }
    policies = {}
    for component, (ingress, egress) in core.items():
        given = values.get(config, f"{component}.networkPolicy") or {}
        if given.get("enabled", True) is False:
            continue
        policies[component] = {
            "podSelector": _chart_labels("singleuser-server" if component == "singleuser" else component),
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [*ingress, *(given.get("ingress") or [])],
            "egress": [*egress, *(given.get("egress") or [])],
        }
    return policies


def chart_objects(cluster, ns: str, config: dict, chart_version: str = "4.4.0", hub_env: list | None = None) -> None:
    """The chart's own objects (the user's Secret is deploy's, made before helm runs)."""
    cluster.add(
        ns,
        "secrets",
        "hub",
        type="Opaque",
        data={
            "hub.services.hubharness.apiToken": b64(SERVICE_TOKEN),
            "hub.config.ConfigurableHTTPProxy.auth_token": b64(PROXY_TOKEN),
            "values.yaml": b64("hub: {}\n"),
        },
    )
    cluster.add_release(ns, chart_release(config, chart_version, ns))
    cluster.add_pod(ns, "hub-5d9c", "hub", env=hub_env)
    cluster.add_pod(ns, "proxy-7f4b", "proxy", container="chp")
    cluster.add_pod(ns, "user-scheduler-a", "user-scheduler", container="kube-scheduler")
    cluster.add_pod(ns, "user-scheduler-b", "user-scheduler", container="kube-scheduler")
    for name, spec in chart_network_policies(config).items():
        cluster.add(ns, "networkpolicies", name, spec=spec)
    cluster.add(ns, "configmaps", "user-scheduler", data={"config.yaml": "profiles: []\n"})
    if values.get(config, "prePuller.continuous.enabled", True):  # the chart's default
        image_puller(cluster, ns, config)
    cluster.objects.setdefault((ns, "ingresses"), {})["jupyterhub"] = yaml.safe_load(kube.INGRESS.read_text())
    cluster.logs[(ns, "hub-5d9c", "hub", False)] = "[I JupyterHub app] Running JupyterHub version 5.5.0\n"
    cluster.logs[(ns, "proxy-7f4b", "chp", False)] = "[ConfigProxy] Proxying http://*:8000\n"


PULLER = "continuous-image-puller-4kq2p"


def image_puller(cluster, ns: str, config: dict) -> None:
    """The chart's continuous-image-puller: a DaemonSet whose init container pulls the
    notebook image, its pod on the node done pulling, and the image in the node's list."""
    image = values.get(config, "singleuser.image", {}) or {}
    notebook = f"{image.get('name', 'quay.io/jupyterhub/k8s-singleuser-sample')}:{image.get('tag', '4.4.0')}"
    labels = {"app": "jupyterhub", "component": "continuous-image-puller", "release": "jupyterhub"}
    pause = {"name": "pause", "image": "registry.k8s.io/pause:3.10"}
    init = {"name": "image-pull-singleuser", "image": notebook, "command": ["/bin/sh", "-c", "echo Pulling complete"]}
    cluster.add(
        ns,
        "daemonsets",
        "continuous-image-puller",
        spec={
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"initContainers": [init], "containers": [pause]}},
        },
        status=daemon_set_status(1, 1),
    )
    pod = cluster.add_pod(ns, PULLER, "continuous-image-puller", container="pause")
    pod["spec"]["initContainers"] = [init]
    pod["status"]["initContainerStatuses"] = [
        {
            "name": init["name"],
            "image": notebook,
            "imageID": "",
            "ready": True,
            "restartCount": 0,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
        }
    ]
    node = cluster.get("", "nodes", "emulated-node")
    if not any(notebook in i["names"] for i in node["status"]["images"]):
        node["status"]["images"].append({"names": [notebook], "sizeBytes": 2_000_000_000})


class IngressController:
    """Stands in for an ingress controller on 127.0.0.1: serves the hub's login page for the
    hosts it was told route to proxy-public, and for those the Ingresses of `cluster` name
    when it watches one; its default backend's 404 for any other."""

    def __init__(self):
        self.hosts = {"jupyterhub.localhost"}
        self.cluster: KubeEmulator | None = None
        controller = self

        def routes(host: str) -> bool:
            if host in controller.hosts:
                return True
            objects = controller.cluster.objects if controller.cluster else {}
            return any(
                rule.get("host") == host
                for (_, kind), store in list(objects.items())
                if kind == "ingresses"
                for ingress in list(store.values())
                for rule in ingress.get("spec", {}).get("rules") or []
            )

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                known = routes(self.headers.get("Host", "").split(":")[0])
                body = b'<form><input name="password"></form>' if known else b"default backend - 404"
                self.send_response(200 if known else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def ingress_controller(monkeypatch):
    controller = IngressController()
    monkeypatch.setenv(kube_access.INGRESS_URL_ENV, controller.url)
    yield controller
    controller.server.shutdown()
    controller.server.server_close()


@pytest.fixture
def chart(cluster, ingress_controller):
    install_chart(cluster)
    cluster.ingress_controller = ingress_controller
    return cluster


def deployment(ns: str = "jh"):
    return target_for("emulated", ns).deployment()


def leaks(d) -> list[str]:
    return sorted({where for where, text in d.leak_surfaces() for s in d.secrets() if str(s) in text})


def test_a_healthy_chart_deployment_holds_every_fact(chart):
    d = deployment()
    assert (d.chart_version, d.expected_hub_version) == ("4.4.0", "5.5.0")
    assert (str(d.auth_password()), str(d.service_token())) == (PASSWORD, SERVICE_TOKEN)
    assert {PASSWORD, SERVICE_TOKEN, PROXY_TOKEN} <= {str(s) for s in d.secrets()}
    for fact in (
        d.namespace_exists(),
        d.state_is_isolated(),
        d.secret_has_key(),
        d.secret_is_private(),
        d.hub_reads_password_from_secret(),
        d.ingress_in_place(),
    ):
        assert fact, fact.detail
    assert leaks(d) == []
    assert [(c.name, c.running, c.ready, c.restarts) for c in d.components()] == [
        ("hub", True, True, 0),
        ("proxy", True, True, 0),
        ("user-scheduler", True, True, 0),
    ]


def _pod(cluster, name):
    return cluster.get("jh", "pods", name)


FAULTS = {
    "namespace terminating": (lambda c: c.namespaces["jh"]["status"].update(phase="Terminating"), "namespace_exists"),
    "another app's pod in the namespace": (
        lambda c: c.add_pod("jh", "squatter", "web", release="other"),
        "state_is_isolated",
    ),
    "network policies disabled": (
        lambda c: c.objects[("jh", "networkpolicies")].pop("singleuser"),
        "state_is_isolated",
    ),
    "secret without its key": (lambda c: c.get("jh", "secrets", "urbalurba-secrets").update(data={}), "secret_has_key"),
    "a user pod reads the secret": (
        lambda c: c.add_pod("jh", "jupyter-eve", "singleuser-server", env=FROM_SECRET, container="notebook"),
        "secret_is_private",
    ),
    "password as a literal in the hub's env": (
        lambda c: _pod(c, "hub-5d9c")["spec"]["containers"][0].update(env=[{"name": AUTH, "value": PASSWORD}]),
        "hub_reads_password_from_secret",
    ),
    "hub reads another secret": (
        lambda c: _pod(c, "hub-5d9c")["spec"]["containers"][0].update(
            env=[{"name": AUTH, "valueFrom": {"secretKeyRef": {"name": "old-secrets", "key": AUTH}}}]
        ),
        "hub_reads_password_from_secret",
    ),
    "secret rotated under a running hub": (
        lambda c: c.get("jh", "secrets", "urbalurba-secrets").update(data={AUTH: b64("rotated-not-restarted")}),
        "hub_reads_password_from_secret",
    ),
    "no ingress": (lambda c: c.objects[("jh", "ingresses")].clear(), "ingress_in_place"),
    "the controller does not route the host": (lambda c: c.ingress_controller.hosts.clear(), "ingress_in_place"),
    "no ingress controller": (lambda c: os.environ.pop(kube_access.INGRESS_URL_ENV), "ingress_in_place"),
    "ingress to another service": (
        lambda c: c.get("jh", "ingresses", "jupyterhub")["spec"]["rules"][0]["http"]["paths"][0]["backend"][
            "service"
        ].update(name="hub"),
        "ingress_in_place",
    ),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fact_fails_on_its_fault(chart, fault):
    breaks, fact = FAULTS[fault]
    breaks(chart)
    found = getattr(deployment(), fact)()
    assert not found, f"{fact} held despite: {fault} ({found.detail})"


LEAKS = {
    "configmap": lambda c: c.add("jh", "configmaps", "notes", data={"pw": f"password={PASSWORD}"}),
    "pod spec": lambda c: _pod(c, "proxy-7f4b")["spec"]["containers"][0].update(args=["--token", PROXY_TOKEN]),
    "log": lambda c: c.logs.update({("jh", "hub-5d9c", "hub", False): f"login with {PASSWORD}\n"}),
    "event": lambda c: c.add(
        "jh", "events", "e1", message=f"pulled with {SERVICE_TOKEN}", involvedObject={"kind": "Pod", "name": "hub-5d9c"}
    ),
}


@pytest.mark.parametrize("surface", LEAKS)
def test_a_secret_is_found_wherever_it_leaks(chart, surface):
    LEAKS[surface](chart)
    assert leaks(deployment()), f"a secret in a {surface} went unnoticed"


LEAKS.update(
    {
        "configmap binaryData": lambda c: c.add(
            "jh", "configmaps", "blob", binaryData={"k": b64(f"tok {PROXY_TOKEN}")}
        ),
        "pod metadata": lambda c: (
            _pod(c, "hub-5d9c")["metadata"].setdefault("annotations", {}).update(note=f"pw {PASSWORD}")
        ),
    }
)


def test_a_log_that_cannot_be_read_fails_the_leak_scan_naming_it(chart):
    chart.forbidden.add(("GET", "/pods/proxy-7f4b/log"))
    with pytest.raises(HarnessError, match=r"cannot read the log of pod proxy-7f4b \(chp\): 403"):
        leaks(deployment())


def test_a_secret_in_the_installed_values_is_a_leak(cluster):
    config = values.load(values.values_files("kind"))
    config["hub"]["extraEnv"][AUTH] = PASSWORD
    install_chart(cluster, config=config)
    assert "the helm release's values" in leaks(deployment())


@pytest.mark.parametrize(
    "change, expect",
    [
        (lambda c: c.add_pod("jh", "proxy-7f4b", "proxy", container="chp", restarts=2), ("proxy", True, True, 2)),
        (lambda c: c.add_pod("jh", "proxy-7f4b", "proxy", container="chp", ready=False), ("proxy", True, False, 0)),
        (lambda c: c.add_pod("jh", "hub-5d9c", "hub", waiting="CrashLoopBackOff"), ("hub", False, False, 3)),
        (
            lambda c: [c.objects[("jh", "pods")].pop(n) for n in ("user-scheduler-a", "user-scheduler-b")],
            ("user-scheduler", False, False, 0),
        ),
    ],
    ids=["restarted", "not-ready", "crashloop", "no-user-scheduler"],
)
def test_components_report_restarts_readiness_and_absence(chart, change, expect):
    change(chart)
    found = {c.name: c for c in deployment().components()}[expect[0]]
    assert (found.name, found.running, found.ready, found.restarts) == expect, found.detail


def test_user_server_is_found_by_the_spawners_username_annotation(chart):
    d = deployment()
    assert not d.user_server_running("verify-bob")
    chart.add_pod(
        "jh",
        "jupyter-verify-2dbob",
        "singleuser-server",
        container="notebook",
        annotations={"hub.jupyter.org/username": "verify-bob"},
    )
    assert d.user_server_running("verify-bob")
    assert not d.user_server_running("verify-alice")


def test_res_stops_a_component_by_deleting_its_pods_and_waits_until_they_are_gone(chart):
    """Until the old hub pod is gone it may still answer: RES times the restart from then."""
    chart.pod_deletion_delay = 0.5
    d = deployment()
    hub_pods = [p.metadata.name for p in d.component_pods("hub")]
    d.stop_component("hub")
    assert [(ns, pod) for ns, pod, _ in chart.deletions] == [("jh", name) for name in hub_pods]
    assert not set(hub_pods) & {p.metadata.name for p in d.component_pods("hub")}
    with pytest.raises(HarnessError, match="no pod with component=nothing"):
        d.stop_component("nothing")


def test_res_kills_a_users_server_by_deleting_their_pod_at_once(chart):
    chart.add_pod(
        "jh",
        "jupyter-res-2ddan",
        "singleuser-server",
        container="notebook",
        annotations={"hub.jupyter.org/username": "res-dan"},
    )
    d = deployment()
    d.kill_user_server("res-dan")
    assert chart.deletions[-1] == ("jh", "jupyter-res-2ddan", 0)
    assert not d.user_server_running("res-dan")
    with pytest.raises(HarnessError, match="res-eve has no singleuser-server pod"):
        d.kill_user_server("res-eve")


def test_diagnostics_hold_describe_events_and_previous_logs(chart, tmp_path):
    chart.add_pod("jh", "proxy-7f4b", "proxy", container="chp", restarts=1)
    chart.logs[("jh", "proxy-7f4b", "chp", True)] = "Error: listen EADDRINUSE :::8000\n"
    chart.add(
        "jh",
        "events",
        "proxy.1",
        type="Warning",
        reason="BackOff",
        message="Back-off restarting",
        involvedObject={"kind": "Pod", "name": "proxy-7f4b"},
    )
    deployment().write_diagnostics(tmp_path)
    described = (tmp_path / "proxy-7f4b.describe.yaml").read_text()
    assert yaml.safe_load(described.split("\nevents:")[0])["metadata"]["name"] == "proxy-7f4b"
    assert "Warning BackOff: Back-off restarting" in described
    assert (tmp_path / "proxy-7f4b.chp.previous.log").read_text() == "Error: listen EADDRINUSE :::8000\n"
    assert "Running JupyterHub" in (tmp_path / "hub-5d9c.hub.log").read_text()
    assert not (tmp_path / "hub-5d9c.hub.previous.log").exists()
    assert "proxy: running=True ready=True restarts=1" in (tmp_path / "components.txt").read_text()


def test_nothing_deployed_is_one_clear_error(cluster):
    cluster.add_namespace("jh")
    with pytest.raises(
        HarnessError,
        match=r"nothing deployed in namespace jh \(context emulated\): "
        r"run `invoke deploy --context emulated` first",
    ):
        deployment()


def test_on_kind_the_hub_is_reached_on_the_node_port_kind_maps(chart, tmp_path):
    kind_config = tmp_path / "home" / ".kind" / "kubeconfig"
    kind_config.parent.mkdir(parents=True)
    kind_config.write_text(yaml.safe_dump(chart.kubeconfig(context="kind-hubharness")))
    assert target_for("kind", "jh").deployment().public_url == "http://127.0.0.1:8080"


def test_public_url_from_the_environment_wins(chart, monkeypatch):
    monkeypatch.setenv(kube_access.PUBLIC_URL_ENV, "http://jupyterhub.localhost/")
    assert deployment().public_url == "http://jupyterhub.localhost"


def test_the_kind_config_maps_the_node_port_of_the_kind_values():
    assert yaml.safe_load(kube.KIND_CONFIG.read_text())["name"] == kube.KIND_CLUSTER
    port = kube_access.node_port(values.load(values.values_files("kind")))
    assert kube_access.kind_host_port(PROJECT_ROOT / "manifests" / "kind-cluster.yaml", port) == 8080
    with pytest.raises(HarnessError, match="NodePort 30081 is not mapped"):
        kube_access.kind_host_port(PROJECT_ROOT / "manifests" / "kind-cluster.yaml", 30081)


KUBECTL = """#!{python}
import os, sys, time
record = os.environ["KUBECTL_RECORD"]
first = not os.path.exists(record)
with open(record, "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\\n")
if "exec" in sys.argv:  # run the command here, as if in the pod
    command = sys.argv[sys.argv.index("--") + 1:]
    os.execvp(command[0], command)
if os.environ.get("KUBECTL_SILENT"):
    time.sleep(60)
if os.environ.get("KUBECTL_FAIL"):
    print('error: services "proxy-public" not found', flush=True)
    sys.exit(1)
print("Forwarding from 127.0.0.1:{port} -> 8000", flush=True)
if os.environ.get("KUBECTL_LOSE_POD") and first:  # the pod it forwarded to has gone
    print("E1127 17:00:00.000000 portforward.go:413] lost connection to pod", flush=True)
    sys.exit(1)
time.sleep(60)
"""


def fake_kubectl(cluster, port: int) -> None:
    kubectl = cluster.bin_dir / "kubectl"
    kubectl.write_text(KUBECTL.format(python=os.sys.executable, port=port))
    kubectl.chmod(0o755)


def test_elsewhere_a_port_forward_is_opened_and_closed(chart, monkeypatch):
    monkeypatch.setenv("KUBECTL_RECORD", str(chart.tmp_path / "kubectl.txt"))
    fake_kubectl(chart, 45678)
    d = deployment()
    assert d.public_url == "http://127.0.0.1:45678"
    assert (chart.tmp_path / "kubectl.txt").read_text().splitlines() == [
        "port-forward --namespace jh --context emulated --address 127.0.0.1 svc/proxy-public :80"
    ]
    forward = d._forward.proc
    d.close()
    assert forward.poll() is not None, "kubectl port-forward outlived the deployment"


def test_a_port_forward_that_loses_its_pod_is_started_again_on_the_same_port(chart, monkeypatch):
    """kubectl forwards to the one pod it picked; when that pod goes (the proxy restarted)
    the URL verify already holds must reach proxy-public again, as a Service's would."""
    record = chart.tmp_path / "kubectl.txt"
    monkeypatch.setenv("KUBECTL_RECORD", str(record))
    monkeypatch.setenv("KUBECTL_LOSE_POD", "1")
    fake_kubectl(chart, 45679)
    d = deployment()
    assert d.public_url == "http://127.0.0.1:45679"
    lost = d._forward.proc
    wait_until("kubectl started again", lambda: d._forward.proc is not lost, 10)
    first, again = record.read_text().splitlines()
    assert first.endswith("svc/proxy-public :80") and again.endswith("svc/proxy-public 45679:80")
    again_proc = d._forward.proc
    assert again_proc.poll() is None and d._forward.restarts == 1
    d.close()
    assert again_proc.poll() is not None, "the forward started again outlived the deployment"


def test_a_port_forward_that_fails_says_why(chart, monkeypatch):
    monkeypatch.setenv("KUBECTL_RECORD", str(chart.tmp_path / "kubectl.txt"))
    monkeypatch.setenv("KUBECTL_FAIL", "1")
    fake_kubectl(chart, 1)
    with pytest.raises(HarnessError, match='in jh failed: error: services "proxy-public" not found'):
        _ = deployment().public_url


def test_commands_in_a_users_pod_go_through_testinfras_kubectl_backend(chart, monkeypatch):
    monkeypatch.setenv("KUBECTL_RECORD", str(chart.tmp_path / "kubectl.txt"))
    fake_kubectl(chart, 1)
    d = deployment()
    with pytest.raises(HarnessError, match="verify-alice has no running server pod in jh"):
        d.run_in_server("verify-alice", "true")
    chart.add_pod(
        "jh",
        "jupyter-verify-2dalice",
        "singleuser-server",
        container="notebook",
        annotations={"hub.jupyter.org/username": "verify-alice"},
    )
    found = d.run_in_server("verify-alice", "echo $((6 * 7))")
    assert (found.rc, found.stdout) == (0, "42\n")
    (called,) = (chart.tmp_path / "kubectl.txt").read_text().splitlines()
    assert called == (
        f"--kubeconfig={os.environ['KUBECONFIG']} --context=emulated -n jh -c notebook "
        "exec jupyter-verify-2dalice -- /bin/sh -c echo $((6 * 7))"
    )


def test_a_port_forward_that_says_nothing_is_given_up_in_time(chart, monkeypatch):
    monkeypatch.setenv("KUBECTL_RECORD", str(chart.tmp_path / "kubectl.txt"))
    monkeypatch.setenv("KUBECTL_SILENT", "1")
    monkeypatch.setattr(kube_access, "FORWARD_TIMEOUT", 1)
    fake_kubectl(chart, 1)
    d = deployment()
    with pytest.raises(HarnessError, match="did not start within 1s: no output"):
        _ = d.public_url
    assert d._forward.proc is None, "the silent kubectl was left running"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_verify_reads_the_namespace(chart):
    done = run_invoke("verify", "--context", "emulated", "--namespace", "jh", "--check", "NS")
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((chart.tmp_path / "reports" / "latest" / "summary.json").read_text())
    outcome = {c["id"]: c["outcome"] for c in summary["checks"]}
    assert outcome == {"NS.namespace_exists": "passed", "NS.state_is_isolated": "passed"}


def test_cli_verify_fails_and_collects_pod_diagnostics(chart):
    chart.add_pod("jh", "squatter", "web", release="other")
    done = run_invoke("verify", "--context", "emulated", "--namespace", "jh", "--check", "NS")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "failed checks: NS.state_is_isolated" in done.stdout
    diagnostics = chart.tmp_path / "reports" / "latest" / "diagnostics" / "NS.state_is_isolated"
    assert (diagnostics / "hub-5d9c.describe.yaml").is_file()
    # the page for people shows the pod's describe (its events) inline, under the failure
    page = (chart.tmp_path / "reports" / "latest" / "report.html").read_text()
    failure = page.partition('id="failures"')[2].partition('id="checklist"')[0]
    assert "NS.state_is_isolated" in failure and "hub-5d9c.describe.yaml" in failure
    assert "--context emulated --namespace jh --check NS.state_is_isolated" in failure
    # ...and neither it, the index nor any other report file holds a secret
    assert (chart.tmp_path / "reports" / "index.html").is_file()
    report = "".join(p.read_text(errors="replace") for p in (chart.tmp_path / "reports").rglob("*") if p.is_file())
    assert PASSWORD not in report and SERVICE_TOKEN not in report


def test_cli_status_shows_pods_and_says_when_the_hub_is_unreachable(chart):
    done = run_invoke(
        "status",
        "--context",
        "emulated",
        "--namespace",
        "jh",
        HUBHARNESS_PUBLIC_URL=f"http://127.0.0.1:{_closed_port()}",
    )
    assert done.returncode == 0, done.stderr
    assert "user-scheduler: ready (pod user-scheduler-a Running, Ready=True; " in done.stdout
    assert "password: urbalurba-secrets/JUPYTERHUB_AUTH_PASSWORD in namespace jh" in done.stdout
    assert "users: unavailable (" in done.stdout
    assert "memory: not measured (not available: the metrics API answered 404" in done.stdout  # said, not a crash
    assert PASSWORD not in done.stdout + done.stderr


def test_a_pod_that_wrote_nothing_has_an_empty_log_and_the_leak_scan_reads_it(chart, tmp_path):
    """A real server answers 200 and an empty body for a container that wrote nothing
    (the user-scheduler's here), 400 for one that never started: neither is a failure."""
    chart.add_pod("jh", "user-scheduler-c", "user-scheduler", container="kube-scheduler", waiting="ContainerCreating")
    chart.get("jh", "pods", "user-scheduler-c")["status"]["containerStatuses"][0]["restartCount"] = 0
    surfaces = dict(deployment().leak_surfaces())
    assert surfaces["pod user-scheduler-a log (kube-scheduler)"] == ""
    assert surfaces["pod user-scheduler-c log (kube-scheduler)"].startswith("(no log: 400")
    assert leaks(deployment()) == []
    deployment().write_diagnostics(tmp_path)
    assert (tmp_path / "user-scheduler-a.kube-scheduler.log").read_text() == ""


def test_logs_as_a_real_server_gives_them(chart):
    from kubernetes.client.exceptions import ApiException

    core = target_for("emulated", "jh").core()
    chart.logs[("jh", "hub-5d9c", "hub", False)] = "one\ntwo\nthree\n"
    assert core.read_namespaced_pod_log("hub-5d9c", "jh", container="hub", tail_lines=2) == "two\nthree\n"
    assert core.read_namespaced_pod_log("hub-5d9c", "jh") == "one\ntwo\nthree\n"  # its only container
    for kwargs, code, message in (
        ({"name": "gone"}, 404, 'pods \\"gone\\" not found'),
        ({"container": "sidecar"}, 400, "container sidecar is not valid for pod hub-5d9c"),
        ({"container": "hub", "previous": True}, 400, 'previous terminated container \\"hub\\" in pod'),
    ):
        with pytest.raises(ApiException) as refused:
            core.read_namespaced_pod_log(kwargs.pop("name", "hub-5d9c"), "jh", **kwargs)
        assert (refused.value.status, message in refused.value.body) == (code, True), refused.value.body


def test_a_hub_that_does_not_run_fails_the_facts_read_inside_it_saying_why(chart):
    """exec into a container that is not running is refused by the kubelet; the facts read
    inside the hub say so, rather than erring (a crash-looping hub, as RDY sees it)."""
    _pod(chart, "hub-5d9c")["status"].update(
        containerStatuses=[
            {
                "name": "hub",
                "ready": False,
                "restartCount": 4,
                "image": "x",
                "imageID": "",
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
            }
        ]
    )
    found = deployment().hub_reads_password_from_secret()
    assert not found and 'refused: 500 container not found ("hub")' in found.detail, found.detail
    _pod(chart, "hub-5d9c")["status"]["phase"] = "Failed"
    integrity = deployment().hub_database_integrity()
    assert not integrity and integrity.detail == "no running hub pod in jh", integrity.detail


def test_load_says_hub_resources_are_not_available_where_the_cluster_has_no_metrics_api(chart):
    """LOAD's hub and proxy figures come from the metrics API; without one it says so,
    it does not pretend."""
    usage = deployment().component_usage()
    assert isinstance(usage, str) and usage.startswith("not available: the metrics API answered 404"), usage


@pytest.mark.parametrize(
    ("selector", "names"),
    [
        ("component in (hub,proxy)", {"hub-5d9c", "proxy-7f4b"}),
        ("release=jupyterhub,component notin (hub, proxy)", {"user-scheduler-a", "user-scheduler-b", PULLER}),
        ("component!=user-scheduler", {"hub-5d9c", "proxy-7f4b", "stray", PULLER}),
        ("!release", {"stray"}),
        ("release", {"hub-5d9c", "proxy-7f4b", "user-scheduler-a", "user-scheduler-b", PULLER}),
        ("release==jupyterhub,component=hub", {"hub-5d9c"}),
    ],
)
def test_label_selectors_are_read_as_a_real_server_reads_them(chart, selector, names):
    chart.add_pod("jh", "stray", "stray", release="")
    core = target_for("emulated", "jh").core()
    assert {p.metadata.name for p in core.list_namespaced_pod("jh", label_selector=selector).items} == names


@pytest.mark.parametrize("selector", ["component in hub", "component in ()", "component ~ hub", "=hub"])
def test_a_label_selector_the_server_cannot_parse_is_refused_not_read_as_everything(chart, selector):
    core = target_for("emulated", "jh").core()
    with pytest.raises(ApiException) as refused:
        core.list_namespaced_pod("jh", label_selector=selector)
    assert refused.value.status == 400 and "unable to parse requirement" in refused.value.body


def test_sec_reads_the_secret_the_deployed_values_name_not_this_machines_files(cluster, ingress_controller):
    """--values renamed the password's Secret at deploy: SEC looks at that one (helm's record),
    not at the one values/ names, which holds another password here."""
    config = values.load(values.values_files("kind"))
    config["hub"]["extraEnv"][AUTH]["valueFrom"]["secretKeyRef"]["name"] = "team-secrets"
    install_chart(cluster, config=config)
    cluster.get("jh", "secrets", "urbalurba-secrets")["data"] = {AUTH: b64("not-the-deployed-password")}
    cluster.add("jh", "secrets", "team-secrets", type="Opaque", data={AUTH: b64(PASSWORD)})
    team = [{"name": AUTH, "valueFrom": {"secretKeyRef": {"name": "team-secrets", "key": AUTH}}}]
    cluster.add_pod("jh", "hub-5d9c", "hub", env=team)
    d = deployment()
    assert d.auth_ref == ("team-secrets", AUTH)
    for fact in (d.secret_has_key(), d.secret_is_private(), d.hub_reads_password_from_secret()):
        assert fact, fact.detail
    assert "team-secrets" in d.hub_reads_password_from_secret().detail
    cluster.get("jh", "secrets", "team-secrets")["data"] = {}
    missing = deployment().secret_has_key()
    assert not missing and "secret team-secrets" in missing.detail, missing.detail


def test_the_report_names_helms_record_of_the_values_and_the_charts_default_image(cluster, ingress_controller):
    """The values files of this machine are not what was deployed: the report says it read
    helm's record, and an image the values do not name is the chart's default."""
    config = values.load(values.values_files("kind"))
    del config["singleuser"]["image"]
    install_chart(cluster, config=config)
    facts = report.deployment_facts(deployment())
    assert facts["values_files"] == []
    assert facts["values_record"].startswith("helm release jupyterhub revision 1 in jh (its recorded values, sha256 ")
    image = CHART_DEFAULTS["singleuser"]["image"]
    assert facts["notebook_image"] == f"{image['name']}:{image['tag']}"
