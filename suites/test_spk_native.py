"""SPK with native Spark on Kubernetes: a notebook's driver makes its executors as pods.

These checks apply where the values turn native mode on (values/spark-native.yaml), on
kubernetes only. What they read is the cluster's own account: the API server's verdict on
the user pods' service account (a SubjectAccessReview), the NetworkPolicies it holds, the
executor pods Spark made (by the labels Spark gives them) and the driver's status store.
The last three need Spark on Kubernetes for real (executor pods from the notebook image):
they run on kind, and the catalogue says why nowhere else (hubharness.checks).
"""

import pytest

from fixtures.users import SPARK, record_spark
from hubharness.errors import WaitTimeout
from hubharness.report import note
from hubharness.waiting import wait_until

pytestmark = pytest.mark.check("SPK")

EXECUTORS_WITHIN = 180  # seconds for two executor pods to start and register (their image is pre-pulled)
GONE_WITHIN = 90  # seconds for executor pods to go: a deleted pod's grace period (30 s) and then some
JOB_BOUND = 300  # seconds for a session of bob's, its executor pods and a job

NATIVE_JOB = SPARK + (
    "import json, time\n"
    "sc = spark.sparkContext\n"
    # as a notebook waits for its executors: two at least besides the driver
    f"_until = time.monotonic() + {EXECUTORS_WITHIN}\n"
    "while sc._jsc.sc().getExecutorMemoryStatus().size() < 3 and time.monotonic() < _until: time.sleep(0.5)\n"
    "total = sc.parallelize(range(1, 1001), 8).sum()\n"
    "_all = sc._jsc.sc().statusStore().executorList(False)\n"
    "executors = [{'id': e.id(), 'host_port': e.hostPort(), 'tasks': e.totalTasks()}"
    " for e in (_all.apply(i) for i in range(_all.size())) if e.id() != 'driver']\n"
    "print(json.dumps({'master': sc.master, 'app': sc.applicationId, 'total': total, 'executors': executors}))"
)

START = (
    "import json\n"
    "from pyspark.sql import SparkSession\n"
    "spark = SparkSession.builder.appName('hubharness-native-stop').getOrCreate()\n"
    "spark.sparkContext.parallelize(range(100), 4).sum()\n"
    "print(json.dumps(spark.sparkContext.applicationId))"
)
STOP = "spark.stop()\nprint('null')"


def _pods_said(pods: list[dict]) -> str:
    return ", ".join(f"{p['name']} ({p['phase']}{', being deleted' if p['deleting'] else ''})" for p in pods) or "none"


def _gone(deployment, app: str) -> list[dict]:
    """The application's executor pods left after GONE_WITHIN seconds; [] as soon as none is."""
    left: list[dict] = []

    def none_left() -> bool:
        left[:] = deployment.spark_executor_pods(app)
        return not left

    try:
        wait_until(f"the executor pods of {app} to go", none_left, GONE_WITHIN)
    except WaitTimeout:
        pass
    return left


def test_native_driver_may_manage_executor_pods(deployment, request):
    fact = deployment.spark_driver_access()
    assert fact, fact.detail
    note(request.node, fact.detail)


def test_native_executors_may_reach_the_driver(deployment, request):
    fact = deployment.executors_reach_the_driver()
    assert fact, fact.detail
    note(request.node, fact.detail)


@pytest.mark.cell(NATIVE_JOB)
def test_native_job_runs_on_two_executor_pods(cell, deployment, request):
    assert not cell.error, f"the job failed on Kubernetes: {cell.error}"
    seen = cell.last_json()
    assert seen["master"].startswith("k8s://"), f"the notebook's Spark runs on {seen['master']}, not on Kubernetes"
    assert seen["total"] == 500500, f"the executors answered {seen['total']}"
    pods = deployment.spark_executor_pods(seen["app"])
    by_ip = {p["ip"]: p["name"] for p in pods if p["ip"]}
    busy = {e["id"]: by_ip.get(e["host_port"].rpartition(":")[0]) for e in seen["executors"] if e["tasks"]}
    record_spark(request, master=seen["master"], app=seen["app"], executors=seen["executors"], executor_pods=pods)
    on_pods = sorted({pod for pod in busy.values() if pod})
    assert len(on_pods) >= 2, (
        f"{seen['app']}'s tasks ran on {len(on_pods)} executor pod(s) ({', '.join(on_pods) or 'none'}); executors with "
        f"tasks (Spark's account): {busy or 'none'}; its executor pods: {_pods_said(pods)}"
    )


@pytest.mark.cell(NATIVE_JOB)
def test_native_executor_pods_are_owned_by_the_driver(cell, deployment, alice):
    assert not cell.error, f"the job failed on Kubernetes: {cell.error}"
    app = cell.last_json()["app"]
    driver = deployment.server_pod(alice.name)
    pods = deployment.spark_executor_pods(app)
    assert pods, f"no executor pod of {app} in {deployment.namespace} (labels spark-role=executor, spark-app-selector)"
    orphans = [
        f"{p['name']} (owners: {', '.join(o['kind'] + '/' + o['name'] for o in p['owners']) or 'none'})"
        for p in pods
        if {"kind": "Pod", "name": driver["name"], "uid": driver["uid"]} not in p["owners"]
    ]
    assert not orphans, (
        f"executor pods not owned by {alice.name}'s pod {driver['name']} (they would outlive it): {', '.join(orphans)}"
    )


def test_native_no_executor_pod_left_after_stop(deployment, bob, bobs_kernel):
    started = bobs_kernel.execute(START, timeout=JOB_BOUND)
    assert not started.error, f"bob's session could not run: {started.error}"
    app = started.last_json()
    assert deployment.spark_executor_pods(app), f"no executor pod of {app} was seen while it ran"
    stopped = bobs_kernel.execute(STOP, timeout=JOB_BOUND)
    assert not stopped.error, f"spark.stop() failed: {stopped.error}"
    left = _gone(deployment, app)
    assert not left, f"{GONE_WITHIN}s after spark.stop() executor pods of {app} are left: {_pods_said(left)}"
    again = bobs_kernel.execute(START, timeout=JOB_BOUND)
    assert not again.error, f"bob's second session could not run: {again.error}"
    app = again.last_json()
    assert deployment.spark_executor_pods(app), f"no executor pod of {app} was seen while it ran"
    bob.stop()
    left = _gone(deployment, app)
    assert not left, f"{GONE_WITHIN}s after bob's server stopped, executor pods of {app} are left: {_pods_said(left)}"
