"""SPK with a Spark cluster: notebooks' jobs run on the cluster the deployment gives them.

These checks apply where the deployment runs a Spark standalone cluster beside the hub
(values/spark-cluster.yaml); verify leaves them out elsewhere. What they read is Spark's own
account: the master's and the workers' status (their web UI's /json/) and the driver's
status store, never the harness's configuration. alice's notebook runs the job in the
session every SPK cell shares; bob is the second user. What ran where goes to spark.json.
"""

import time

import pytest

from fixtures.users import SPARK, record_spark
from hubharness.kernel import Kernel

pytestmark = pytest.mark.check("SPK")

SECOND_USER_BOUND = 180  # seconds for the second user's session and job, executors' start included
WAITING_NAMED_AFTER = 30  # an application without executors this long is named as Spark names it (it warns at 15 s)
GONE_WITHIN = 30  # seconds for executors to go after their application ends (a worker kills them at once)

CLUSTER_JOB = SPARK + (
    "import json, os, sys, pyspark\n"
    "sc = spark.sparkContext\n"
    "import time\n"
    # as a notebook waits for its executors: two at least besides the driver, 30 s at most
    "_until = time.monotonic() + 30\n"
    "while sc._jsc.sc().getExecutorMemoryStatus().size() < 3 and time.monotonic() < _until: time.sleep(0.2)\n"
    "def _where(_):\n"
    "    import os, sys, pyspark\n"
    "    yield [os.path.realpath(sys.executable), pyspark.__version__]\n"
    "seen = sc.parallelize(range(8), 8).mapPartitions(_where).collect()\n"
    "total = sc.parallelize(range(1, 1001), 8).sum()\n"
    "_all = sc._jsc.sc().statusStore().executorList(False)\n"
    "executors = [{'id': e.id(), 'host_port': e.hostPort(), 'tasks': e.totalTasks()}"
    " for e in (_all.apply(i) for i in range(_all.size())) if e.id() != 'driver']\n"
    "print(json.dumps({'master': sc.master, 'app': sc.applicationId, 'total': total, 'executors': executors,"
    " 'python': sorted(set(map(tuple, seen))), 'kernel': [os.path.realpath(sys.executable), pyspark.__version__]}))"
)

SECOND_APP = "hubharness-second-user"
SECOND_USER_JOB = (
    "import json\n"
    "from pyspark.sql import SparkSession\n"
    f"spark = SparkSession.builder.appName('{SECOND_APP}').getOrCreate()\n"
    "print(json.dumps([spark.sparkContext.applicationId, spark.sparkContext.parallelize(range(1, 1001), 4).sum()]))"
)

STOPPED_APP = "hubharness-stop"
RUN_AND_STOP = (
    "import json\n"
    "from pyspark.sql import SparkSession\n"
    f"spark = SparkSession.builder.appName('{STOPPED_APP}').getOrCreate()\n"
    "app = spark.sparkContext.applicationId\n"
    "spark.sparkContext.parallelize(range(100), 2).sum()\n"
    "spark.stop()\n"
    "print(json.dumps(app))"
)
RUN_AND_KEEP = (
    "import json\n"
    "from pyspark.sql import SparkSession\n"
    f"spark = SparkSession.builder.appName('{STOPPED_APP}-kept').getOrCreate()\n"
    "spark.sparkContext.parallelize(range(100), 2).sum()\n"
    "print(json.dumps(spark.sparkContext.applicationId))"
)


@pytest.fixture(scope="session")
def spark_cluster(deployment):
    cluster = deployment.spark_cluster()
    assert cluster is not None, (
        "the values turn on a Spark cluster (custom.sparkCluster) and none runs in this deployment: "
        "`invoke deploy` starts it"
    )
    return cluster


def _free(workers: list[dict]) -> str:
    return ", ".join(f"{w['id']}: {w.get('coresfree')} core(s) and {w.get('memoryfree')} MiB free" for w in workers)


def test_spark_cluster_has_every_worker(spark_cluster, deployment):
    for component in deployment.spark_components():  # as RDY holds hub and proxy
        assert component.running and component.ready, f"{component.name} is not ready: {component.detail}"
        assert component.restarts == 0, f"{component.name} restarted {component.restarts} time(s): {component.detail}"
    status = spark_cluster.master_status()
    assert status.get("status") == "ALIVE", f"the Spark master at {spark_cluster.master_ui} is {status.get('status')}"
    wanted = spark_cluster.settings
    alive = [w for w in status.get("workers", []) if w.get("state") == "ALIVE"]
    listed = ", ".join(f"{w['id']} {w.get('state')}" for w in status.get("workers", [])) or "none at all"
    assert len(alive) >= wanted.workers, (
        f"{len(alive)} of {wanted.workers} workers registered ALIVE with the master ({listed})"
    )
    small = [w for w in alive if w["cores"] < wanted.worker_cores or w["memory"] < wanted.worker_memory_mb]
    assert not small, (
        f"workers offer less than custom.sparkCluster gives ({wanted.worker_cores} cores, {wanted.worker_memory}): "
        + ", ".join(f"{w['id']} {w['cores']} cores {w['memory']} MiB" for w in small)
    )


@pytest.mark.cell(CLUSTER_JOB)
def test_spark_job_runs_on_executors_of_two_workers(cell, spark_cluster, request):
    assert not cell.error, f"the job failed on the cluster: {cell.error}"
    seen = cell.last_json()
    # the deployment's master lists the notebook's application (a master behind a Service
    # calls itself by its pod's address, notebooks by the Service's name)
    listed = spark_cluster.app(seen["app"])
    assert listed is not None, (
        f"the notebook's Spark runs on {seen['master']} as {seen['app']}, which the deployment's master "
        f"({spark_cluster.master_url} to notebooks, {spark_cluster.master_status().get('url')} to itself) does not list"
    )
    assert seen["total"] == 500500, f"the cluster answered {seen['total']}"
    on_workers = spark_cluster.executors_by_worker(seen["app"])
    busy = {str(e["id"]) for e in seen["executors"] if e["tasks"]}
    workers_busy = sorted(w for w, ids in on_workers.items() if busy & {str(i) for i in ids})
    record_spark(
        request,
        master=seen["master"],
        app=seen["app"],
        executors=[
            {**e, "worker": next((w for w, ids in on_workers.items() if e["id"] in map(str, ids)), None)}
            for e in seen["executors"]
        ],
    )
    assert len(workers_busy) >= 2, (
        f"{seen['app']}'s tasks ran on executors of {len(workers_busy)} worker(s) ({', '.join(workers_busy) or 'none'}); "
        f"executors with tasks: {sorted(busy) or 'none'}; on the workers: {on_workers or 'none'}"
    )


@pytest.mark.cell(CLUSTER_JOB)
def test_executors_run_the_notebooks_python(cell):
    if cell.error:
        why = next((line.strip() for line in cell.error.splitlines() if "Cannot run program" in line), None)
        pytest.fail(f"the executors could not run the notebook's Python: {why or cell.error[-600:]}")
    seen = cell.last_json()
    kernel = seen["kernel"]
    others = [python for python in seen["python"] if list(python) != kernel]
    assert not others, (
        f"executors ran {others}, the notebook runs {kernel[0]} with pyspark {kernel[1]} (PYSPARK_PYTHON)"
    )


@pytest.mark.cell(CLUSTER_JOB)
def test_two_users_run_spark_at_once(cell, spark_cluster, bobs_kernel):
    assert not cell.error, f"the first user's job failed: {cell.error}"
    first = cell.last_json()["app"]  # alice's session holds its executors as long as her kernel runs
    job = bobs_kernel.submit(SECOND_USER_JOB)
    started, waiting_since, together = time.monotonic(), None, False
    while not job.done() and time.monotonic() - started < SECOND_USER_BOUND:
        status = spark_cluster.master_status()
        apps = {a["name"]: a for a in status.get("activeapps", [])}
        second = apps.get(SECOND_APP)
        if second is not None and second.get("state") == "WAITING":
            waiting_since = waiting_since or time.monotonic()
            holders = [f"{a['id']} ({a['name']})" for a in status.get("activeapps", []) if a.get("state") == "RUNNING"]
            assert time.monotonic() - waiting_since < WAITING_NAMED_AFTER, (
                f"Initial job has not accepted any resources: the second user's {second['id']} has waited "
                f"{WAITING_NAMED_AFTER}s for executors ({second.get('memoryperexecutor')} MiB each) while "
                f"{', '.join(holders) or 'nothing'} hold the cluster; workers: {_free(status.get('workers', []))}"
            )
        elif second is not None:
            waiting_since = None
            together = together or any(a["id"] == first and a.get("state") == "RUNNING" for a in apps.values())
        time.sleep(1)
    result = Kernel.collect(job, max(1.0, SECOND_USER_BOUND - (time.monotonic() - started)), "the second user's job")
    assert not result.error, f"the second user's job failed: {result.error}"
    app, total = result.last_json()
    assert total == 500500, f"the second user's job answered {total}"
    # both sessions are still open: each application must hold its executors now
    running = {a["id"] for a in spark_cluster.master_status().get("activeapps", []) if a.get("state") == "RUNNING"}
    together = together or {first, app} <= running
    assert together, f"{first} and {app} were never seen running at the same time (running now: {sorted(running)})"


def _executors_gone(spark_cluster, deployment, app: str) -> list[str]:
    """What is left of the application after GONE_WITHIN seconds: [] once nothing is."""
    deadline = time.monotonic() + GONE_WITHIN
    while True:
        left = []
        listed = spark_cluster.app(app)
        if listed is not None and listed.get("state") in ("RUNNING", "WAITING"):
            left.append(f"the master lists {app} as {listed['state']}")
        left += [f"executors {ids} on {worker}" for worker, ids in spark_cluster.executors_by_worker(app).items()]
        left += deployment.spark_executor_processes(app)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(1)


def test_no_executor_is_left_after_stop(spark_cluster, deployment, bob, bobs_kernel):
    stopped = bobs_kernel.execute(RUN_AND_STOP, timeout=SECOND_USER_BOUND)
    assert not stopped.error, f"bob's session could not run and stop: {stopped.error}"
    app = stopped.last_json()
    left = _executors_gone(spark_cluster, deployment, app)
    assert not left, f"{GONE_WITHIN}s after spark.stop(): " + "; ".join(left)
    kept = bobs_kernel.execute(RUN_AND_KEEP, timeout=SECOND_USER_BOUND)
    assert not kept.error, f"bob's second session failed: {kept.error}"
    app = kept.last_json()
    bob.stop()
    left = _executors_gone(spark_cluster, deployment, app)
    assert not left, f"{GONE_WITHIN}s after bob's server stopped, its session never stopped: " + "; ".join(left)
