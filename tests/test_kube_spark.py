"""The Spark standalone cluster on kubernetes: its objects as plain dicts (no cluster), and
deploy, status, a redeploy without it and remove driven over HTTP against the emulated API
server (tests/kube_emulator.py).

Here the master's web UI behind the Service is a stand-in that answers Spark's /json/
format (a test tool): these prove what the kubernetes target applies, waits for, reads
through the API server's proxy and deletes. Real Spark master and workers serve the
emulated namespaces in the emulated selftest (tests/test_kube_selftest.py); a real
cluster runs them on kind in the nightly.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hubharness import faults, sparkcluster, values
from hubharness.errors import HarnessError
from hubharness.paths import VALUES_DIR
from hubharness.targets import target_for
from hubharness.targets.kube import spark_objects
from hubharness.targets.kube.api import validated

from .helpers import run_invoke
from .test_kube_verify import chart_release

SPARK_VALUES = [*values.values_files("emulated"), VALUES_DIR / "spark-cluster.yaml"]
CONFIG = values.load(SPARK_VALUES)
SETTINGS = sparkcluster.Settings(workers=3, worker_cores=2, worker_memory="1g")


def objects(settings: sparkcluster.Settings = SETTINGS) -> dict[tuple[str, str], dict]:
    made = spark_objects.cluster_objects("jupyterhub", spark_objects.image_of(CONFIG), settings)
    return {(o["kind"], o["metadata"]["name"]): o for o in made}


# ---- the objects, as dicts ------------------------------------------------------------------
def test_the_master_service_answers_7077_and_the_web_ui_of_the_master_pods():
    service = objects()[("Service", "spark-master")]
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {"spark": 7077, "webui": 8080}
    master = objects()[("Deployment", "spark-master")]
    pod_labels = master["spec"]["template"]["metadata"]["labels"]
    assert all(pod_labels[k] == v for k, v in service["spec"]["selector"].items())
    assert service["spec"]["selector"] == {"app": "jupyterhub", "component": "spark-master", "release": "jupyterhub"}
    assert master["spec"]["replicas"] == 1 and master["spec"]["strategy"]["type"] == "Recreate"


def test_workers_are_the_settings_replicas_with_their_cores_and_memory_on_the_notebook_image():
    workers = objects()[("Deployment", "spark-worker")]
    assert workers["spec"]["replicas"] == 3
    (container,) = workers["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "quay.io/jupyter/pyspark-notebook:spark-3.5.3"
    script = container["command"][-1]
    assert '"${SPARK_HOME:?' in script and "/bin/spark-class" in script
    assert "org.apache.spark.deploy.worker.Worker" in script
    assert "--cores 2 --memory 1024m" in script and script.endswith("spark://spark-master:7077")
    assert '--host "$POD_IP"' in script
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "2048Mi"}
    labels = workers["spec"]["template"]["metadata"]["labels"]
    assert labels["component"] == "spark-worker" and labels["release"] == "jupyterhub"


def test_the_shipped_values_let_drivers_and_executors_through_the_singleuser_network_policy():
    policy = CONFIG["singleuser"]["networkPolicy"]
    (egress,) = policy["egress"]
    (expression,) = egress["to"][0]["podSelector"]["matchExpressions"]
    assert set(expression["values"]) == set(spark_objects.COMPONENTS), "drivers reach the master and executors"
    (ingress,) = policy["ingress"]
    worker = spark_objects.worker_deployment("jupyterhub", spark_objects.image_of(CONFIG), SETTINGS)
    pod_labels = worker["spec"]["template"]["metadata"]["labels"]
    wanted = ingress["from"][0]["podSelector"]["matchLabels"]
    assert all(pod_labels[k] == v for k, v in wanted.items()), "executors reach the driver"


def test_no_service_links_put_spark_master_port_in_the_spark_pods_environment():
    for key in (("Deployment", "spark-master"), ("Deployment", "spark-worker")):
        spec = objects()[key]["spec"]["template"]["spec"]
        assert spec["enableServiceLinks"] is False
        assert spec["securityContext"]["runAsNonRoot"] is True


def test_every_object_is_a_valid_kubernetes_object():
    for body in objects().values():
        validated(body)


def test_values_without_a_notebook_image_are_one_line():
    without = values.merge(CONFIG, {"singleuser": {"image": {"name": None}}})
    with pytest.raises(HarnessError, match="singleuser.image.name"):
        spark_objects.image_of(without)


def test_pull_secrets_and_policy_come_from_the_values_as_the_chart_gives_them():
    given = values.merge(
        CONFIG,
        {"imagePullSecrets": [{"name": "b"}], "singleuser": {"image": {"pullSecrets": ["a"], "pullPolicy": "Always"}}},
    )
    spec = spark_objects.worker_deployment("jupyterhub", spark_objects.image_of(given), SETTINGS)["spec"]
    assert spec["template"]["spec"]["imagePullSecrets"] == [{"name": "a"}, {"name": "b"}]
    assert spec["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"


# ---- deploy, status, redeploy, remove on the emulated API server ------------------------------
class MasterStandIn:
    """A test tool on 127.0.0.1 answering /json/ as a Spark master does: ALIVE, with
    `alive` workers ALIVE."""

    def __init__(self, alive: int):
        self.alive = alive
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                workers = [
                    {"id": f"worker-{n}", "host": "127.0.0.1", "port": 40000 + n, "state": "ALIVE", "cores": 2}
                    for n in range(stand_in.alive)
                ]
                body = json.dumps({"url": "spark://127.0.0.1:7077", "status": "ALIVE", "workers": workers}).encode()
                self.send_response(200 if self.path == "/json/" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def master(cluster):
    stand_in = MasterStandIn(alive=2)
    cluster.serve_port = lambda ns, pod, port: stand_in.port if port == spark_objects.UI_PORT else port
    cluster.add_pod("jh", "hub-abc", "hub")
    cluster.add_pod("jh", "proxy-abc", "proxy")
    yield stand_in
    stand_in.server.shutdown()
    stand_in.server.server_close()


def deploy(files: list[Path]):
    return target_for("emulated", "jh").deploy(files, chart_version="4.4.0")


def spark_pods(cluster, component: str) -> list[dict]:
    pods = cluster.objects.get(("jh", "pods"), {}).values()
    return [p for p in pods if p["metadata"]["labels"].get("component") == component]


def test_deploy_applies_the_cluster_waits_for_its_workers_and_status_shows_them(cluster, master):
    result = deploy(SPARK_VALUES)
    assert "Spark master spark-master:7077 ALIVE with 2 worker(s)" in result.ready_note
    assert cluster.get("jh", "services", "spark-master") is not None
    assert len(spark_pods(cluster, "spark-master")) == 1 and len(spark_pods(cluster, "spark-worker")) == 2
    # read through the API server's service proxy, not a port-forward
    assert ("GET", "/api/v1/namespaces/jh/services/spark-master:8080/proxy/json/") in cluster.requests
    cluster.add_release("jh", chart_release(CONFIG))
    shown = {c.name: c for c in target_for("emulated", "jh").status().components}
    assert shown["spark-worker"].ready and "2 of 2 pod(s) Ready" in shown["spark-worker"].detail
    assert shown["spark-master"].ready
    before = {p["metadata"]["name"] for p in spark_pods(cluster, "spark-worker")}
    again = deploy(SPARK_VALUES)  # idempotent: replaced, the same pods
    assert "ALIVE with 2 worker(s)" in again.ready_note
    assert ("PUT", "/apis/apps/v1/namespaces/jh/deployments/spark-worker") in cluster.requests
    assert {p["metadata"]["name"] for p in spark_pods(cluster, "spark-worker")} == before


def test_new_settings_replace_the_workers_and_deploy_waits_for_the_new_ones(cluster, master, tmp_path):
    deploy(SPARK_VALUES)
    before = {p["metadata"]["name"] for p in spark_pods(cluster, "spark-worker")}
    (tmp_path / "bigger.yaml").write_text("custom:\n  sparkCluster:\n    workerMemory: 2g\n")
    deploy([*SPARK_VALUES, tmp_path / "bigger.yaml"])
    now = [p for p in spark_pods(cluster, "spark-worker") if "deletionTimestamp" not in p["metadata"]]
    assert len(now) == 2 and not before & {p["metadata"]["name"] for p in now}
    digest = cluster.get("jh", "deployments", "spark-worker")["spec"]["template"]["metadata"]["annotations"]
    assert all(p["metadata"]["annotations"] == digest for p in now)


def test_a_deploy_without_the_cluster_removes_it(cluster, master):
    deploy(SPARK_VALUES)
    result = deploy(values.values_files("emulated"))
    assert "Spark cluster removed" in result.ready_note
    assert cluster.get("jh", "services", "spark-master") is None
    assert cluster.get("jh", "deployments", "spark-worker") is None
    assert not spark_pods(cluster, "spark-worker") and not spark_pods(cluster, "spark-master")


def test_workers_that_never_register_time_out_naming_the_wait(cluster, master, monkeypatch):
    from hubharness.targets.kube import spark

    monkeypatch.setattr(spark, "READY_TIMEOUT", 2)
    master.alive = 1
    with pytest.raises(HarnessError, match="to list 2 worker"):
        deploy(SPARK_VALUES)


def test_remove_deletes_the_cluster_with_the_release(cluster, master, monkeypatch):
    deploy(SPARK_VALUES)
    for name in ("hub-abc", "proxy-abc"):  # helm's --wait takes hub and proxy; the Spark pods are not helm's
        cluster.objects[("jh", "pods")].pop(name)
    monkeypatch.setenv("HELM_RELEASES", "jupyterhub")
    target_for("emulated", "jh").remove()
    assert not spark_pods(cluster, "spark-worker") and cluster.get("jh", "services", "spark-master") is None
    deletes = [path for method, path in cluster.requests if method == "DELETE"]
    assert "/apis/apps/v1/namespaces/jh/deployments/spark-worker" in deletes


@pytest.mark.parametrize(
    ("overlay", "words"),
    [
        ("custom:\n  sparkCluster:\n    workers: 0\n", "custom.sparkCluster.workers is 0"),
        ("custom:\n  sparkCluster:\n    workerMemory: 256m\n", "executors ask for 512m"),
        ("singleuser:\n  image:\n    name: ''\n", "singleuser.image.name"),
    ],
)
def test_bad_cluster_settings_are_one_line_and_nothing_is_made(cluster, tmp_path, overlay, words):
    (tmp_path / "bad.yaml").write_text(overlay)
    done = run_invoke(
        "deploy",
        "--context",
        "emulated",
        "--namespace",
        "jh",
        *[a for f in [*SPARK_VALUES[1:], tmp_path / "bad.yaml"] for a in ("--values", str(f))],
        timeout=120,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], done.stderr
    assert cluster.helm_calls() == [] and "jh" not in cluster.namespaces, "nothing was started"


def test_a_worker_down_is_the_workers_deployment_scaled_one_down_and_status_says_so(cluster, master):
    deploy(SPARK_VALUES)
    cluster.add_release("jh", chart_release(CONFIG))
    assert target_for("emulated", "jh").do_fault(faults.BY_NAME["spark-worker-down"]) is None
    assert cluster.get("jh", "deployments", "spark-worker")["spec"]["replicas"] == 1
    assert len(spark_pods(cluster, "spark-worker")) == 1
    workers = target_for("emulated", "jh").deployment().spark_components()[1]
    assert (workers.name, workers.ready) == ("spark-worker", False)
    assert workers.detail.startswith("1 of 2 pod(s) Ready")


def test_a_master_that_does_not_answer_behind_its_service_is_one_line_naming_the_proxy(cluster, master):
    deploy(SPARK_VALUES)
    cluster.add_release("jh", chart_release(CONFIG))
    view = target_for("emulated", "jh").deployment().spark_cluster()
    assert view is not None and view.master_url == "spark://spark-master:7077"
    master.server.shutdown()
    master.server.server_close()
    with pytest.raises(HarnessError) as refused:
        view.master_status()
    said = str(refused.value)
    assert said.startswith("the Spark master's status cannot be read: /api/v1/namespaces/jh/services/spark-master:8080")
    assert "answered 503" in said and "\n" not in said


def test_a_deployment_without_the_cluster_has_no_view_of_one(cluster, master):
    deploy(values.values_files("emulated"))
    cluster.add_release("jh", chart_release(values.load(values.values_files("emulated"))))
    deployment = target_for("emulated", "jh").deployment()
    assert deployment.spark_cluster() is None and deployment.spark_components() == []
