"""Run every check alone: one `invoke verify --check <check id>` per check, in sequence.

    .venv/bin/python benchmarks/alone.py --namespace NS [--context local] [--timeout 600] [--check IDS]

A check that passes in a full verify but fails when selected alone depends on an
earlier check having run. The deployment must be there already (`invoke deploy`);
BAK and RMV make and purge `<namespace>-scratch` as verify always does. One verify
at a time: each run spawns user servers and Spark, which a small machine feels.

Prints a table (check, outcome, seconds) and exits 1 if any check did not pass alone.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hubharness import checks
from hubharness.errors import HarnessError
from hubharness.targets import target_class

INVOKE = str(Path(sys.executable).parent / "invoke")
REPORT = re.compile(r"report: (\S+)\s*$", re.MULTILINE)


def run_alone(check: str, context: str, namespace: str, timeout: float) -> dict:
    """One verify of this check only; its outcome as summary.json records it."""
    start = time.perf_counter()
    cmd = [INVOKE, "verify", "--context", context, "--namespace", namespace, "--check", check]
    # its own process group, so that a run that overstays can be ended with all it started
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        return {
            "check": check,
            "outcome": "run-timeout",
            "seconds": round(time.perf_counter() - start, 1),
            "message": f"verify still running after {timeout:.0f} s, ended (servers it spawned and its scratch namespace may be left)",
            "report": "",
        }
    seconds = round(time.perf_counter() - start, 1)
    found = REPORT.findall(out)
    report = Path(found[-1]) if found else None
    record = {}
    if report is not None and (report / "summary.json").is_file():
        records = json.loads((report / "summary.json").read_text())["checks"]
        record = next((r for r in records if r["id"] == check), {})
    outcome = record.get("outcome") or "error"  # no record: verify did not get to run it
    if outcome == "passed" and proc.returncode != 0:
        outcome = "error"
    last_line = (out.strip().splitlines() or [f"verify exited {proc.returncode}"])[-1]
    message = "" if outcome == "passed" else record.get("message") or last_line
    return {"check": check, "outcome": outcome, "seconds": seconds, "message": message, "report": str(report or "")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespace", required=True, help="the deployment to verify (deployed already)")
    parser.add_argument("--context", default="local")
    parser.add_argument("--timeout", type=float, default=600, help="seconds for one verify run (default 600)")
    parser.add_argument("--check", help="only these checks (ids or checklist ids, as verify's --check)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    try:
        ids = [c.id for c in checks.select(args.check, target_class(args.context), args.context)]
    except HarnessError as e:  # an unknown id: one line, not a traceback
        print(f"alone: {e}", file=sys.stderr)
        return 2
    width = max(len(i) for i in ids)
    print(f"{'check':{width}}  {'outcome':11}  seconds", flush=True)
    results, start = [], time.perf_counter()
    for check in ids:
        result = run_alone(check, args.context, args.namespace, args.timeout)
        results.append(result)
        line = f"{check:{width}}  {result['outcome']:11}  {result['seconds']:7.1f}"
        if result["outcome"] != "passed":
            line += f"  {result['message'][:200]}"
        print(line, flush=True)
    total = time.perf_counter() - start
    bad = [r for r in results if r["outcome"] != "passed"]
    print(f"alone: {len(results) - len(bad)}/{len(results)} passed alone in {total:.0f} s", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"total_seconds": round(total, 1), "runs": results}, indent=2) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
