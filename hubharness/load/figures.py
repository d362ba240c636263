"""What a load run saw, as figures: per phase count, failures by cause, p50, p95, max;
the hub's and proxy's CPU and memory over the run; and the thresholds it is held to."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

# The phases of every user's journey, in order, with their names for people.
PHASES = {
    "login": "login",
    "spawn": "spawn",
    "kernel": "kernel start",
    "result": "first result",
    "stop": "stop",
}
# Threshold names as options and values spell them (commands: --max-failures, --max-p95-spawn).
MAX_FAILURES = "max-failures"
MAX_P95_SPAWN = "max-p95-spawn"


@dataclass(frozen=True)
class Usage:
    """One component's resources at one moment: cumulative CPU seconds where the process
    is ours to read (local), or the CPU rate the metrics API reports (kubernetes)."""

    memory_bytes: int
    cpu_seconds: float | None = None
    cpu_cores: float | None = None


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def phase_figures(users: list[dict]) -> dict[str, dict]:
    """Per phase: how many users reached it, how many got through, failures by cause, and
    the latency of those that got through."""
    out = {}
    for phase in PHASES:
        done = [p for u in users for p in u["phases"] if p["phase"] == phase]
        ok = [p["seconds"] for p in done if p["cause"] is None]
        causes: dict[str, int] = {}
        for p in done:
            if p["cause"] is not None:
                causes[p["cause"]] = causes.get(p["cause"], 0) + 1
        out[phase] = {
            "count": len(done),
            "ok": len(ok),
            "failures": causes,
            "p50": _round(percentile(ok, 50)),
            "p95": _round(percentile(ok, 95)),
            "max": _round(max(ok) if ok else None),
        }
    return out


SPARK_TIMES = {"session": "session start", "queued": "wait for an executor", "job": "job"}


def spark_seen(line: str) -> dict | None:
    """What the Spark cell printed before its answer (its master and times), or None when
    that line is not the cell's JSON."""
    try:
        seen = json.loads(line)
    except ValueError:
        return None
    if not isinstance(seen, dict) or not all(isinstance(seen.get(key), int | float) for key in SPARK_TIMES):
        return None
    return {"master": str(seen.get("master", "")), **{key: round(float(seen[key]), 3) for key in SPARK_TIMES}}


def spark_figures(users: list[dict]) -> dict:
    """The users' Spark, by Spark's own account: the masters their sessions ran on, and per
    time (session start, wait for a first executor, job) p50, p95 and max; each user's own
    is in its record."""
    seen = [u["spark"] for u in users if u.get("spark")]
    times = {}
    for key in SPARK_TIMES:
        values = [s[key] for s in seen]
        times[key] = {
            "p50": _round(percentile(values, 50)),
            "p95": _round(percentile(values, 95)),
            "max": _round(max(values) if values else None),
        }
    return {"users": len(seen), "masters": sorted({s["master"] for s in seen}), "times": times}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def failures_by_cause(users: list[dict]) -> dict[str, int]:
    causes: dict[str, int] = {}
    for user in users:
        if user["failure"]:
            causes[user["failure"]] = causes.get(user["failure"], 0) + 1
    return causes


def resource_series(samples: list[dict]) -> dict[str, list[dict]]:
    """Per component, points of (t, cpu cores, memory MB): cumulative CPU seconds become
    a rate between consecutive samples; a rate the metrics API gave is taken as it is."""
    series: dict[str, list[dict]] = {}
    last: dict[str, dict] = {}
    for sample in samples:
        name = sample["component"]
        cores = sample.get("cpu_cores")
        previous = last.get(name)
        if cores is None and sample.get("cpu_seconds") is not None:
            if previous is not None and sample["t"] > previous["t"]:
                cores = (sample["cpu_seconds"] - previous["cpu_seconds"]) / (sample["t"] - previous["t"])
            last[name] = sample
            if previous is None:
                continue
        series.setdefault(name, []).append(
            {"t": sample["t"], "cpu_cores": round(cores or 0.0, 4), "memory_mb": round(sample["memory_bytes"] / 1e6, 1)}
        )
    return series


def resource_summary(samples: list[dict]) -> dict[str, dict]:
    summary = {}
    for name, points in resource_series(samples).items():
        cpu = [p["cpu_cores"] for p in points]
        mem = [p["memory_mb"] for p in points]
        summary[name] = {
            "cpu_cores_mean": round(sum(cpu) / len(cpu), 3) if cpu else None,
            "cpu_cores_max": round(max(cpu), 3) if cpu else None,
            "memory_mb_max": max(mem) if mem else None,
            "samples": len(points),
        }
    return summary


def thresholds(figures: dict[str, dict], failures: int, max_failures: int, max_p95_spawn: float) -> list[dict]:
    """Each threshold with what was observed; `crossed` says whether the run broke it. A
    p95 that cannot be computed (no spawn got through) crosses its bound: nothing shows
    that spawns are fast enough."""
    p95 = figures["spawn"]["p95"]
    return [
        {
            "name": MAX_FAILURES,
            "limit": max_failures,
            "observed": failures,
            "crossed": failures > max_failures,
            "says": f"{failures} user(s) failed, at most {max_failures} allowed",
        },
        {
            "name": MAX_P95_SPAWN,
            "limit": max_p95_spawn,
            "observed": p95,
            "crossed": p95 is None or p95 > max_p95_spawn,
            "says": (
                f"p95 spawn {p95:.1f}s, at most {max_p95_spawn:g}s allowed"
                if p95 is not None
                else f"no spawn completed: p95 spawn unknown, at most {max_p95_spawn:g}s allowed"
            ),
        },
    ]


def crossed(report: dict) -> list[dict]:
    return [t for t in report["thresholds"] if t["crossed"]]
