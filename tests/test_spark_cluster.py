"""The Spark cluster of a deployment: its settings, what notebooks ask of it, and the
settings deploy refuses in one line before anything starts."""

import json
import socket

import psutil
import pytest
import yaml

from hubharness import checks, faults, procs, sparkcluster, values
from hubharness.errors import HarnessError
from hubharness.paths import VALUES_DIR

from .test_bad_input import assert_refused, assert_untouched, existing  # noqa: F401 — a fixture

CLUSTER = values.load([VALUES_DIR / "base.yaml", VALUES_DIR / "local.yaml", VALUES_DIR / "spark-cluster.yaml"])


def with_(**changes) -> dict:
    """The shipped cluster values with custom.sparkCluster keys or the submit args changed."""
    submit = changes.pop("submit", None)
    overlay: dict = {"custom": {"sparkCluster": changes}}
    if submit is not None:
        overlay["singleuser"] = {"extraEnv": {sparkcluster.SUBMIT_ARGS: submit}}
    return values.merge(CLUSTER, overlay)


def test_the_shipped_values_turn_on_two_workers_and_send_notebooks_to_them():
    cluster = sparkcluster.refuse_unusable(CLUSTER)
    assert cluster == sparkcluster.Settings(workers=2, worker_cores=2, worker_memory="1g")
    asked = sparkcluster.request(CLUSTER)
    assert asked.master == f"spark://{sparkcluster.SERVICE_ADDRESS}"
    assert (asked.executor_memory, asked.executor_cores, asked.cores_max) == ("512m", 1, 2)


def test_submit_args_are_read_as_spark_submit_reads_them():
    asked = sparkcluster.request(with_(submit="--master=spark://spark-master:7077 --total-executor-cores=3 x"))
    assert (asked.master, asked.cores_max) == ("spark://spark-master:7077", 3)


def test_the_every_core_faults_values_differ_from_the_shipped_ones_by_the_core_limit_alone():
    overlay = faults.BY_NAME["spark-apps-take-every-core"].overlay
    broken = values.merge(CLUSTER, yaml.safe_load(overlay))
    shipped = sparkcluster.submit_conf(CLUSTER)
    assert sparkcluster.submit_conf(broken) == {k: v for k, v in shipped.items() if k != "spark.cores.max"}
    with pytest.raises(ValueError, match="set no spark.cores.min"):
        faults.submit_args(checks.SPARK_CLUSTER, drop=("spark.cores.min",))


def test_the_jvms_of_spark_take_the_same_flags_wherever_they_are_set():
    """The daemons' (sparkcluster.DAEMON_JAVA_OPTS), the executors' (spark-cluster.yaml) and,
    on local, the notebooks' (local.yaml): one choice, written in three places."""
    flags = set(sparkcluster.DAEMON_JAVA_OPTS.split())
    assert set(CLUSTER["singleuser"]["extraEnv"]["JDK_JAVA_OPTIONS"].split()) == flags
    executors = sparkcluster.submit_conf(CLUSTER)["spark.executor.extraJavaOptions"]
    assert set(executors.split()) == flags


def test_values_without_the_section_have_no_cluster():
    assert sparkcluster.refuse_unusable(values.load([VALUES_DIR / "base.yaml"])) is None


@pytest.mark.parametrize(("text", "mib"), [("512m", 512), ("1g", 1024), ("2G", 2048), ("1024", 1024), ("1536mb", 1536)])
def test_memory_sizes_are_read_as_spark_reads_them(text, mib):
    assert sparkcluster.mebibytes(text, "x") == mib


@pytest.mark.parametrize(
    ("overlay", "words"),
    [
        ({"workers": 0}, "custom.sparkCluster.workers is 0"),
        ({"workers": "two"}, "custom.sparkCluster.workers is 'two'"),
        ({"workerCores": -1}, "workerCores is -1"),
        ({"workerMemory": "lots"}, "is not a memory size"),
        ({"workerMemory": "256m"}, "executors ask for 512m"),
        ({"worker": 3}, "unknown values key custom.sparkCluster.worker"),
        ({"submit": "--master spark://spark-master:7077 --executor-cores 4 pyspark-shell"}, "4 cores"),
        ({"submit": "--master local[2] pyspark-shell"}, "notebooks are not sent to it"),
        (  # spark-submit's own flag wins over --conf
            {"submit": "--master spark://spark-master:7077 --executor-memory 2g --conf spark.executor.memory=512m"},
            "executors ask for 2g",
        ),
        ({"submit": "--master spark://spark-master:7077 --conf 'spark.x=1 pyspark-shell"}, "cannot be read"),
        ({"submit": "--master spark://spark-master:7077 --conf spark.cores.max=x pyspark-shell"}, "spark.cores.max=x"),
    ],
)
def test_settings_that_could_never_run_a_job_are_one_line(overlay, words):
    with pytest.raises(HarnessError, match=None) as refused:
        sparkcluster.refuse_unusable(with_(**overlay))
    assert words in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_master_that_does_not_answer_is_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing answers there
    plain = values.load([VALUES_DIR / "base.yaml"])
    notebooks = values.merge(
        plain,
        {"singleuser": {"extraEnv": {sparkcluster.SUBMIT_ARGS: f"--master spark://127.0.0.1:{port} pyspark-shell"}}},
    )
    with pytest.raises(HarnessError, match="does not answer"):
        sparkcluster.refuse_unusable(notebooks)
    without = values.merge(
        plain, {"singleuser": {"extraEnv": {sparkcluster.SUBMIT_ARGS: "--master spark://spark-master:7077"}}}
    )
    with pytest.raises(HarnessError, match="no Spark cluster is deployed"):
        sparkcluster.refuse_unusable(without)


def test_deploy_refuses_workers_too_small_in_one_line_and_starts_nothing(harness, existing, tmp_path):  # noqa: F811
    small = tmp_path / "small.yaml"
    small.write_text(yaml.safe_dump({"custom": {"sparkCluster": {"workerMemory": "256m"}}}))
    ran = harness.invoke(
        "deploy",
        "--namespace",
        "keep",
        "--port",
        "0",
        "--values",
        str(VALUES_DIR / "spark-cluster.yaml"),
        "--values",
        str(small),
    )
    assert_refused(ran, "executors ask for 512m", "256m")
    assert_untouched(existing)
    assert not (existing / "state.json").exists()


def _spark(status: dict) -> dict[str, dict]:
    return {c["name"]: c for c in status["components"] if c["name"].startswith("spark-")}


def test_the_cluster_runs_under_the_local_kubelet_shown_by_status_and_stopped_by_remove(harness):
    ran = harness.deploy("spk", "--values", str(VALUES_DIR / "spark-cluster.yaml"))
    assert ran.code == 0, ran.err
    assert "Spark cluster: master spark-master:7077 at 127.0.0.1:" in ran.out
    spark = _spark(harness.status("spk"))
    assert sorted(spark) == ["spark-master", "spark-worker-1", "spark-worker-2"]
    assert all(c["ready"] and c["restarts"] == 0 for c in spark.values()), spark

    # a worker lost for good (its supervisor too) is started again by the next deploy, counted
    state = harness.state_dir("spk")
    supervisor = psutil.Process(json.loads((state / "state.json").read_text())["spark-worker-2"]["pid"])
    supervisor.terminate()
    supervisor.wait(30)
    assert not _spark(harness.status("spk"))["spark-worker-2"]["running"]
    ran = harness.deploy("spk", "--values", str(VALUES_DIR / "spark-cluster.yaml"))
    assert ran.code == 0, ran.err
    assert "started again (spark-worker-2 had stopped; restart counted)" in ran.out
    spark = _spark(harness.status("spk"))
    assert spark["spark-worker-2"]["ready"] and spark["spark-worker-2"]["restarts"] == 1, spark
    assert spark["spark-master"]["restarts"] == 0, "the rest of the cluster was kept"

    # two users' Spark at once on the cluster they share, as `invoke load --spark` reports it
    ran = harness.invoke("load", "--namespace", "spk", "--users", "2", "--ramp", "0", "--hold", "0", "--spark")
    assert ran.code == 0, ran.out[-2000:] + ran.err[-2000:]
    assert "Spark of 2 user(s), on spark://127.0.0.1:" in ran.out and "wait for an executor" in ran.out
    report = json.loads((harness.reports / "latest" / "load.json").read_text())
    (master,) = report["spark"]["masters"]  # the master's own address, where spark-master:7077 leads here
    assert master.startswith("spark://127.0.0.1:"), master
    assert all(u["spark"]["job"] > 0 and u["spark"]["queued"] >= 0 for u in report["users"]), report["users"]
    assert 'id="spark"' in (harness.reports / "latest" / "load.html").read_text()

    assert harness.invoke("remove", "--namespace", "spk").code == 0
    jvms = [p for p in procs.processes_under(state) if "org.apache.spark" in " ".join(p.cmdline())]
    assert jvms == [], f"remove left Spark running: {[p.pid for p in jvms]}"
    assert "spark" not in json.loads((state / "state.json").read_text())


def test_on_a_cluster_a_master_outside_the_deployment_is_for_the_pods_to_reach():
    """This machine cannot tell whether pods reach it: kubernetes deploy does not ask."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing answers there
    outside = values.merge(
        values.load([VALUES_DIR / "base.yaml"]),
        {"singleuser": {"extraEnv": {sparkcluster.SUBMIT_ARGS: f"--master spark://127.0.0.1:{port} pyspark-shell"}}},
    )
    with pytest.raises(HarnessError, match="does not answer"):
        sparkcluster.refuse_unusable(outside)
    assert sparkcluster.refuse_unusable(outside, reachable_here=False) is None
