"""Steadiness: verify K times in a row on one healthy deployment beside a CPU-bound process.

    .venv/bin/python benchmarks/steadiness.py [--runs 10] [--smoke] [--remote] [--burners 1] [--values FILE]

Nothing is broken, so every failed check is a false red: the machine was busy and a check
said the deployment was wrong. The burners are busy loops, each pinned to one core, as
another job on a shared CI machine would be. Everything runs in a temporary
HUBHARNESS_HOME on a random port; the deployment is purged at the end.

--remote verifies the deployment as the remote target does a hub it did not deploy: by its
https URL, through a TLS front (configurable-http-proxy with a CA of its own), with the
admin's password in the environment.

Prints one line per run (seconds, passed, false reds with their messages) and the total;
exits 1 if any run had a false red.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from hubharness.tlsfront import TestCA, TlsFront

ROOT = Path(__file__).resolve().parent.parent
INVOKE = str(Path(sys.executable).parent / "invoke")
NS = "steady"
REPORT = re.compile(r"report: (\S+)\s*$", re.MULTILINE)
RUN_TIMEOUT = 900  # one verify; a hung one is a red of its own


def burn(core: int) -> None:
    """A busy loop on one core until terminated."""
    os.sched_setaffinity(0, {core})
    while True:
        pass


def invoke(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [INVOKE, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )


def verify_once(args: list[str], env: dict) -> dict:
    started = time.perf_counter()
    try:
        done = invoke("verify", *args, env=env)
    except subprocess.TimeoutExpired:
        return {"seconds": RUN_TIMEOUT, "passed": 0, "reds": [("verify", f"still running after {RUN_TIMEOUT} s")]}
    seconds = time.perf_counter() - started
    found = REPORT.findall(done.stdout)
    summary = Path(found[-1]) / "summary.json" if found else None
    if summary is None or not summary.is_file():
        return {"seconds": seconds, "passed": 0, "reds": [("verify", (done.stderr or done.stdout).strip()[-300:])]}
    checks = json.loads(summary.read_text())["checks"]
    reds = [
        (c["id"], c["message"].splitlines()[0][:200] if c["message"] else "")
        for c in checks
        if c["outcome"] != "passed"
    ]
    return {"seconds": seconds, "passed": sum(c["outcome"] == "passed" for c in checks), "reds": reds}


@contextmanager
def behind_a_front(home: Path, env: dict) -> Iterator[tuple[list[str], dict]]:
    """The deployment served on https by a TLS front: verify's arguments for it, and the
    environment an operator gives the remote target (the CA, the admin's password)."""
    hub_url = json.loads(invoke("status", "--namespace", NS, "--json", env=env).stdout)["hub_url"]
    secrets = home / "home" / NS / "secrets" / "urbalurba-secrets.json"
    password = json.loads(secrets.read_text())["JUPYTERHUB_AUTH_PASSWORD"]
    ca = TestCA(home / "tls")
    with TlsFront(hub_url, ca.issue("front"), home / "tls") as front:
        remote = ["--context", "remote", "--url", front.url, "--http-url", front.http_url]
        yield (
            remote,
            {
                **env,
                "HUBHARNESS_CA_BUNDLE": str(ca.ca_pem),
                "HUBHARNESS_PASSWORD": password,
                "HUBHARNESS_ADMIN_USER": "admin",
                "HUBHARNESS_ADMIN_PASSWORD": password,
            },
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--smoke", action="store_true", help="verify --smoke in each run (default: the full verify)")
    parser.add_argument("--remote", action="store_true", help="verify by https URL through a TLS front")
    parser.add_argument("--burners", type=int, default=1, help="busy processes beside verify, one core each")
    parser.add_argument("--values", action="append", default=[], help="extra values file for the deployment")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="hubharness-steady-")
    env = {**os.environ, "HUBHARNESS_HOME": f"{home}/home", "HUBHARNESS_REPORTS": f"{home}/reports"}
    deploy = ["deploy", "--namespace", NS, "--port", "0", *[a for v in args.values for a in ("--values", v)]]
    done = invoke(*deploy, env=env)
    if done.returncode != 0:
        print(f"steadiness: deploy failed: {done.stderr.strip()[-300:]}", file=sys.stderr)
        return 2
    cores = sorted(os.sched_getaffinity(0))
    burners = [multiprocessing.Process(target=burn, args=(cores[i % len(cores)],)) for i in range(args.burners)]
    for b in burners:
        b.start()
    runs: list[dict] = []
    try:
        with ExitStack() as front:
            verify = ["--namespace", NS]
            if args.remote:
                verify, env = front.enter_context(behind_a_front(Path(home), env))
            verify += ["--smoke"] if args.smoke else []
            what = "verify --context remote" if args.remote else "verify"
            what += " --smoke" if args.smoke else ""
            print(f"steadiness: {args.runs} x {what} beside {args.burners} busy core(s) of {len(cores)}", flush=True)
            for n in range(1, args.runs + 1):
                run = verify_once(verify, env)
                runs.append(run)
                print(
                    f"  run {n:2}: {run['seconds']:6.1f} s, {run['passed']} passed, {len(run['reds'])} false red(s)",
                    flush=True,
                )
                for check, message in run["reds"]:
                    print(f"          {check}: {message}", flush=True)
    finally:
        for b in burners:
            b.terminate()
            b.join()
        invoke("remove", "--namespace", NS, "--purge", env=env)
    red_runs = sum(bool(r["reds"]) for r in runs)
    seconds = sorted(r["seconds"] for r in runs)
    print(
        f"steadiness: {red_runs} of {len(runs)} run(s) with a false red; "
        f"verify {seconds[0]:.1f}-{seconds[-1]:.1f} s (median {seconds[len(seconds) // 2]:.1f} s); reports in {home}/reports"
    )
    return 1 if red_runs else 0


if __name__ == "__main__":
    sys.exit(main())
