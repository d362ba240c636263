"""Benchmark the local target: deploy, verify against its floor, peak RSS.

    .venv/bin/python benchmarks/bench.py [--runs 3] [--smoke-only]

`verify --smoke` is timed in every run beside the floor; --smoke-only leaves out the
full verify and NS..SPK.

The floor is what verify cannot beat: one user logs in, spawns, starts a kernel
and runs a SparkSession job, done by the minimal script below in the same run.
Everything runs in a temporary HUBHARNESS_HOME on a random port.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hubharness.checks import CHECK_ORDER
from hubharness.hubapi import UserSession
from hubharness.kernel import Kernel
from hubharness.targets.local import LocalTarget

INVOKE = str(Path(sys.executable).parent / "invoke")
NS = "bench"
# the checks without the scratch-namespace suites BAK and RMV
CORE = ",".join(group for group in CHECK_ORDER if group not in ("BAK", "RMV"))


def peak_rss_mib(pid: int, stop: threading.Event, out: list) -> None:
    """Sample VmHWM (the kernel's own high-water mark) until the process ends."""
    peak = 0
    while not stop.is_set():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            break
        stop.wait(0.05)
    out.append(peak / 1024)


def timed_invoke(*args: str, env: dict) -> tuple[float, float, int, str]:
    start = time.perf_counter()
    proc = subprocess.Popen(
        [INVOKE, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    stop, peak = threading.Event(), []
    sampler = threading.Thread(target=peak_rss_mib, args=(proc.pid, stop, peak))
    sampler.start()
    out, _ = proc.communicate(timeout=900)
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    return seconds, peak[0] if peak else 0.0, proc.returncode, out


def floor(user: str) -> dict[str, float]:
    """login → spawn → kernel → SparkSession job, timed step by step."""
    d = LocalTarget(NS).deployment()
    marks, t0 = {}, time.perf_counter()
    session = UserSession(d.public_url, user, str(d.auth_password()))
    api = session.api()
    marks["login"] = time.perf_counter() - t0
    api.start_server(user)
    server = api.wait_server_ready(user, 120)
    marks["spawn"] = time.perf_counter() - t0
    kernel = Kernel(f"{d.public_url}{server['url']}", api.token).start()
    kernel.run("1")
    marks["kernel"] = time.perf_counter() - t0
    out = kernel.run(
        "from pyspark.sql import SparkSession\n"
        "spark = SparkSession.builder.master('local[2]').config('spark.ui.enabled', 'false').getOrCreate()\n"
        "print(spark.range(1, 1001).selectExpr('sum(id)').first()[0])",
        timeout=300,
    )
    assert out.stdout.strip() == "500500", out
    marks["spark"] = time.perf_counter() - t0
    kernel.shutdown()
    api.stop_server(user)
    api.wait_server_stopped(user, 60)
    return marks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--smoke-only", action="store_true", help="time verify --smoke only, beside the floor")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="hubharness-bench-")
    env = {**os.environ, "HUBHARNESS_HOME": f"{home}/home", "HUBHARNESS_REPORTS": f"{home}/reports"}
    os.environ.update(HUBHARNESS_HOME=env["HUBHARNESS_HOME"], HUBHARNESS_REPORTS=env["HUBHARNESS_REPORTS"])
    results: dict[str, list[float]] = {
        k: []
        for k in (
            "deploy_cold_s",
            "deploy_again_s",
            "deploy_rss_mib",
            "floor_s",
            "verify_smoke_s",
            "verify_core_s",
            "verify_s",
            "verify_rss_mib",
            "remove_purge_s",
        )
    }
    floors = []
    try:
        for run in range(args.runs):
            s, rss, code, out = timed_invoke("deploy", "--namespace", NS, "--port", "0", env=env)
            assert code == 0, out
            results["deploy_cold_s"].append(s)
            results["deploy_rss_mib"].append(rss)
            s, _, code, out = timed_invoke("deploy", "--namespace", NS, "--port", "0", env=env)
            assert code == 0 and "already deployed" in out, out
            results["deploy_again_s"].append(s)
            marks = floor(f"floor-{run}")
            floors.append(marks)
            results["floor_s"].append(marks["spark"])
            s, _, code, out = timed_invoke("verify", "--namespace", NS, "--smoke", env=env)
            assert code == 0, out[-3000:]
            results["verify_smoke_s"].append(s)
            if args.smoke_only:
                s, _, code, out = timed_invoke("remove", "--namespace", NS, "--purge", env=env)
                results["remove_purge_s"].append(s)
                continue
            s, _, code, out = timed_invoke("verify", "--namespace", NS, "--check", CORE, env=env)
            assert code == 0, out[-3000:]
            results["verify_core_s"].append(s)
            s, rss, code, out = timed_invoke("verify", "--namespace", NS, env=env)
            assert code == 0, out[-3000:]
            results["verify_s"].append(s)
            results["verify_rss_mib"].append(rss)
            s, _, code, out = timed_invoke("remove", "--namespace", NS, "--purge", env=env)
            assert code == 0, out
            results["remove_purge_s"].append(s)
    finally:
        subprocess.run(
            [INVOKE, "remove", "--namespace", NS, "--purge"], cwd=ROOT, env=env, capture_output=True, check=False
        )
    summary = {
        k: {"median": round(statistics.median(v), 2), "min": round(min(v), 2), "max": round(max(v), 2)}
        for k, v in results.items()
        if v
    }
    floor_s = statistics.median(results["floor_s"])
    summary["verify_smoke_over_floor"] = round(statistics.median(results["verify_smoke_s"]) / floor_s, 2)
    if not args.smoke_only:
        summary["verify_core_over_floor"] = round(statistics.median(results["verify_core_s"]) / floor_s, 2)
        summary["verify_over_floor"] = round(statistics.median(results["verify_s"]) / floor_s, 2)
    summary["floor_steps_s"] = {k: round(statistics.median(m[k] for m in floors), 2) for k in floors[0]}
    print(json.dumps(summary, indent=2))
    for name, stats in summary.items():
        if isinstance(stats, dict) and "median" in stats:
            print(f"{name:16} median {stats['median']:7.2f}  (min {stats['min']:.2f}, max {stats['max']:.2f})")
    print(f"verify --smoke / floor {summary['verify_smoke_over_floor']:.2f}×; floor steps: {summary['floor_steps_s']}")
    if not args.smoke_only:
        print(
            f"verify (NS..SPK) / floor {summary['verify_core_over_floor']:.2f}×, full verify / floor "
            f"{summary['verify_over_floor']:.2f}×"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
