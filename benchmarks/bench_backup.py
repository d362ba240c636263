"""Benchmark backup and restore: 20 users × 10 MB homes on the local target.

    .venv/bin/python benchmarks/bench_backup.py [--users 20] [--mb 10]

Homes hold random bytes (incompressible: the worst case for size and time) plus
a small notebook each; users are created through the hub API.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hubharness.hubapi import HubAPI
from hubharness.targets.local import LocalTarget

INVOKE = str(Path(sys.executable).parent / "invoke")
NS = "bench-backup"


def invoke(env, *args) -> float:
    start = time.perf_counter()
    done = subprocess.run([INVOKE, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"invoke {' '.join(args)} failed: {done.stderr.strip()}")
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--mb", type=int, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hubharness-bench-backup-"))
    env = {**os.environ, "HUBHARNESS_HOME": str(work / "home")}
    os.environ["HUBHARNESS_HOME"] = env["HUBHARNESS_HOME"]
    archive = work / "backup.tar.gz"
    try:
        invoke(env, "deploy", "--namespace", NS, "--port", "0")
        target = LocalTarget(NS)
        d = target.deployment()
        api = HubAPI(d.public_url, d.service_token())
        for n in range(args.users):
            name = f"user{n:02d}"
            api.ensure_user(name)
            home = target.state_dir / "home" / name
            home.mkdir(parents=True, exist_ok=True)
            (home / "data.bin").write_bytes(os.urandom(args.mb << 20))
            (home / "analysis.ipynb").write_text(
                json.dumps({"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {}})
            )
        backup_s = invoke(env, "backup", "--namespace", NS, "--to", str(archive))
        size_mb = archive.stat().st_size / 1e6
        invoke(env, "remove", "--namespace", NS, "--purge")
        invoke(env, "deploy", "--namespace", NS, "--port", "0")
        restore_s = invoke(env, "restore", "--namespace", NS, "--from", str(archive))
        after = LocalTarget(NS).deployment()
        users = {u["name"] for u in HubAPI(after.public_url, after.service_token()).users()}
        assert all(f"user{n:02d}" in users for n in range(args.users)), "users missing after restore"
    finally:
        subprocess.run(
            [INVOKE, "remove", "--namespace", NS, "--purge"], cwd=ROOT, env=env, capture_output=True, check=False
        )
    data_mb = args.users * args.mb * (1 << 20) / 1e6
    print(
        json.dumps(
            {
                "users": args.users,
                "home_mb_each": args.mb,
                "data_mb": round(data_mb, 1),
                "backup_s": round(backup_s, 2),
                "archive_mb": round(size_mb, 1),
                "restore_s": round(restore_s, 2),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
