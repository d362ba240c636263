"""Benchmark Spark on the cluster against local mode, side by side, through a notebook.

    .venv/bin/python benchmarks/spark_cluster.py [--runs 3] [--verify]

Deploys one namespace with values/spark-cluster.yaml in a temporary HUBHARNESS_HOME,
logs a user in, and in one kernel of their server times, for each run, the same job
(a session started, a sum over 8 partitions with Python workers, a groupBy) in local mode
(`local[2]`, a new session) and on the cluster (the deployment's own settings), then
prints both and their ratio. With --verify it also times `invoke verify` of the SPK
checks with and without the cluster's five.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hubharness.hubapi import UserSession
from hubharness.kernel import Kernel
from hubharness.targets.local import LocalTarget

INVOKE = str(Path(sys.executable).parent / "invoke")
NS = "bench-spark"

JOB = """
import json, time
from pyspark.sql import SparkSession
t0 = time.monotonic()
builder = SparkSession.builder.appName('bench').config('spark.ui.enabled', 'false')
builder = builder.master({master!r}) if {master!r} else builder
spark = builder.getOrCreate()
t1 = time.monotonic()
total = spark.sparkContext.parallelize(range(1, 100001), 8).map(lambda x: x * 2).sum()
groups = spark.range(0, 100000).selectExpr('id % 10 AS k').groupBy('k').count().count()
t2 = time.monotonic()
master = spark.sparkContext.master
spark.stop()
print(json.dumps({{'master': master, 'session': t1 - t0, 'job': t2 - t1, 'answer': [total, groups]}}))
"""


def invoke(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([INVOKE, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--verify", action="store_true", help="also time verify of SPK with and without the cluster")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hubharness-bench-spark-") as home:
        env = {**os.environ, "HUBHARNESS_HOME": home, "HUBHARNESS_REPORTS": f"{home}/reports"}
        os.environ.update(HUBHARNESS_HOME=home)
        started = time.monotonic()
        done = invoke("deploy", "--namespace", NS, "--port", "0", "--values", "values/spark-cluster.yaml", env=env)
        if done.returncode:
            print(done.stderr, file=sys.stderr)
            return 1
        print(f"deploy with the cluster: {time.monotonic() - started:.1f}s")
        try:
            deployment = LocalTarget(NS).deployment()
            user = UserSession(deployment.public_url, "bench-user", str(deployment.auth_password())).api()
            user.start_server("bench-user")
            server = user.wait_server_ready("bench-user", 120)
            kernel = Kernel(f"{deployment.public_url}{server['url']}".rstrip("/"), user.token).start()
            figures: dict[str, list[dict]] = {"local[2]": [], "cluster": []}
            for _ in range(args.runs):
                for name, master in (("local[2]", "local[2]"), ("cluster", "")):
                    ran = kernel.run(JOB.format(master=master), timeout=300)
                    figures[name].append(ran.last_json())
            kernel.shutdown()
            print(f"{'':10} {'session s':>10} {'job s':>8} {'total s':>8}   master")
            medians = {}
            for name, runs in figures.items():
                session = statistics.median(r["session"] for r in runs)
                job = statistics.median(r["job"] for r in runs)
                medians[name] = session + job
                print(f"{name:10} {session:10.2f} {job:8.2f} {session + job:8.2f}   {runs[0]['master']}")
            print(f"cluster / local: {medians['cluster'] / medians['local[2]']:.2f}× (medians of {args.runs} runs)")
            if args.verify:
                for label, check in (
                    ("verify SPK without the cluster's five", "SPK"),
                    ("verify SPK with the cluster's five", "SPK"),
                ):
                    extra = ["--skip", cluster_checks()] if "without" in label else []
                    t = time.monotonic()
                    ran_verify = invoke("verify", "--namespace", NS, "--check", check, *extra, env=env)
                    print(f"{label}: {time.monotonic() - t:.1f}s (exit {ran_verify.returncode})")
        finally:
            invoke("remove", "--namespace", NS, "--purge", env=env)
    return 0


def cluster_checks() -> str:
    from hubharness import checks

    return ",".join(c.id for c in checks.CATALOGUE if c.needs == checks.SPARK_CLUSTER)


if __name__ == "__main__":
    sys.exit(main())
