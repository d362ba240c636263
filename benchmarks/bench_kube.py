"""What reading a kubernetes namespace costs the harness: time and API requests per fact,
for a namespace with many user pods, against the emulated API server of the tests.

    .venv/bin/python benchmarks/bench_kube.py [--users 50] [--log-lines 2000] [--homes 10] [--home-mb 10]
                                              [--pod-start 0]

The emulator answers at once, so this measures the harness and the kubernetes client
(requests, deserialisation, the leak scan, the exec streams of a backup and of a restore
into a purged namespace), not a cluster.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hubharness.targets import target_for
from tests.kube_emulator import KubeEmulator
from tests.test_kube_backup import drop_user_volumes
from tests.test_kube_verify import install_chart


def timed(cluster, what: str, action) -> None:
    before, started = len(cluster.requests), time.perf_counter()
    result = action()
    print(
        f"  {what:<32} {time.perf_counter() - started:7.3f} s  {len(cluster.requests) - before:5d} requests"
        + (f"  ({result})" if result is not None else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--log-lines", type=int, default=2000)
    parser.add_argument("--homes", type=int, default=10, help="users whose home the backup reads")
    parser.add_argument("--home-mb", type=int, default=10, help="random bytes in each of those homes")
    parser.add_argument(
        "--pod-start",
        type=float,
        default=0.0,
        help="seconds a helper pod stays Pending, standing in for a cluster's pod start",
    )
    args = parser.parse_args()
    with KubeEmulator() as cluster, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "kubeconfig"
        config.write_text(yaml.safe_dump(cluster.kubeconfig()))
        os.environ.update(KUBECONFIG=str(config), HUBHARNESS_HOME=tmp)
        install_chart(cluster)
        line = "[I 2026-11-25 10:00:00.000 ServerApp] 200 GET /user/x/api/kernels (x@10.0.0.1) 1.00ms\n"
        for n in range(args.users):
            pod = f"jupyter-user-{n}"
            cluster.add_pod(
                "jh",
                pod,
                "singleuser-server",
                container="notebook",
                annotations={"hub.jupyter.org/username": f"user-{n}"},
            )
            cluster.logs[("jh", pod, "notebook", False)] = line * args.log_lines
        print(f"namespace with {args.users} user pods, {args.log_lines} log lines each")
        holder = {}
        timed(cluster, "import kubernetes.client", lambda: __import__("kubernetes.client") and None)
        timed(
            cluster, "deployment()", lambda: holder.setdefault("d", target_for("emulated", "jh").deployment()) and None
        )
        d = holder["d"]
        timed(cluster, "components()", lambda: len(d.components()))
        timed(cluster, "state_is_isolated()", lambda: bool(d.state_is_isolated()))
        timed(cluster, "secrets()", lambda: len(d.secrets()))
        timed(cluster, "leak scan (SEC)", lambda: sum(len(text) for _, text in d.leak_surfaces()))
        timed(cluster, "user_server_running()", lambda: bool(d.user_server_running("user-7")))
        timed(cluster, "write_diagnostics()", lambda: d.write_diagnostics(Path(tmp) / "diagnostics"))
        homes(cluster, Path(tmp), args.homes, args.home_mb)
        cluster.pod_start_delay = args.pod_start
        archive = Path(tmp) / "backup.tar.gz"
        timed(
            cluster,
            f"backup, {args.homes} x {args.home_mb} MB homes",
            lambda: (
                f"{target_for('emulated', 'jh').backup(archive).bytes / 1e6:.0f} MB through exec, "
                f"archive {archive.stat().st_size / 1e6:.0f} MB"
            ),
        )
        drop_user_volumes(cluster, [f"home-{n}" for n in range(args.homes)])  # as a purge; restore remakes them
        timed(
            cluster,
            "restore of it, volumes purged",
            lambda: f"{target_for('emulated', 'jh').restore(archive).bytes / 1e6:.0f} MB through exec",
        )


def homes(cluster, tmp: Path, count: int, megabytes: int) -> None:
    """Volumes with random homes (helper pods read them), and the hub's database."""
    from tests.test_kube_backup import hub_with_database, user_volume

    hub_with_database(cluster, tmp, [f"home-{n}" for n in range(count)])
    for n in range(count):
        user_volume(cluster, tmp, f"home-{n}", {"data.bin": os.urandom(megabytes << 20)})


if __name__ == "__main__":
    main()
