"""load.json as one self-contained HTML page: the figures, a timeline of every user's
phases, latency histograms and the hub's and proxy's resources, drawn by matplotlib as
inline SVG. The page loads nothing: no script, no stylesheet, no font from elsewhere."""

from __future__ import annotations

import html
import io
import json
from pathlib import Path
from typing import Any

from .figures import PHASES, SPARK_TIMES, crossed, resource_series

COLOURS = {"login": "#4e79a7", "spawn": "#f28e2b", "kernel": "#59a14f", "result": "#b07aa1", "stop": "#9c755f"}
HOLD = "#d9d9d9"
FAILED = "#e15759"


def _svg(figure: Any) -> str:
    """The figure as an <svg> element to inline (no XML prologue, text as text)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _pyplot() -> Any:
    # Imported on use: matplotlib costs a second to import, and only a load draws.
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: no glyph paths, no font files
    import matplotlib.pyplot as plt

    return plt


def timeline(report: dict) -> str:
    plt = _pyplot()
    users = report["users"]
    figure, axes = plt.subplots(figsize=(11, max(2.5, 0.22 * len(users) + 1.2)))
    for row, user in enumerate(users):
        phases = user["phases"]
        for phase in phases:
            colour = FAILED if phase["cause"] else COLOURS.get(phase["phase"], "#888")
            axes.broken_barh([(phase["start"], max(phase["seconds"], 0.05))], (row - 0.4, 0.8), color=colour)
        result = next((p for p in phases if p["phase"] == "result" and not p["cause"]), None)
        stop = next((p for p in phases if p["phase"] == "stop"), None)
        if result and stop:  # the hold: a person reading the answer
            axes.broken_barh([(result["end"], stop["start"] - result["end"])], (row - 0.4, 0.8), color=HOLD)
    axes.set_yticks(range(len(users)), [u["name"] for u in users], fontsize=7 if len(users) > 30 else 9)
    axes.invert_yaxis()
    axes.set_xlabel("seconds since the first user started")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in (*COLOURS.values(), HOLD, FAILED)]
    axes.legend(handles, [*PHASES.values(), "hold", "failed"], ncol=7, loc="upper center", bbox_to_anchor=(0.5, 1.12))
    axes.grid(axis="x", alpha=0.3)
    out = _svg(figure)
    plt.close(figure)
    return out


def histograms(report: dict) -> str:
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(PHASES), figsize=(13, 2.8))
    for ax, (phase, title) in zip(axes, PHASES.items(), strict=True):
        seconds = [p["seconds"] for u in report["users"] for p in u["phases"] if p["phase"] == phase and not p["cause"]]
        ax.hist(seconds, bins=min(20, max(1, len(seconds))), color=COLOURS[phase])
        figures = report["phases"][phase]
        if figures["p95"] is not None:
            ax.axvline(figures["p95"], color="black", linestyle="--", linewidth=1)
        ax.set_title(f"{title} (n={len(seconds)})", fontsize=10)
        ax.set_xlabel("seconds")
    axes[0].set_ylabel("users")
    figure.tight_layout()
    out = _svg(figure)
    plt.close(figure)
    return out


def resources(report: dict) -> str | None:
    series = resource_series(report["resources"]["samples"])
    if not series:
        return None
    plt = _pyplot()
    figure, (cpu, memory) = plt.subplots(1, 2, figsize=(12, 3))
    for name, points in series.items():
        t = [p["t"] for p in points]
        cpu.plot(t, [p["cpu_cores"] for p in points], label=name)
        memory.plot(t, [p["memory_mb"] for p in points], label=name)
    cpu.set_title("CPU (cores)", fontsize=10)
    memory.set_title("memory (MB)", fontsize=10)
    for ax in (cpu, memory):
        ax.set_xlabel("seconds since the first user started")
        ax.legend()
        ax.grid(alpha=0.3)
    figure.tight_layout()
    out = _svg(figure)
    plt.close(figure)
    return out


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def render(report: dict) -> str:
    e = html.escape
    options = report["options"]
    phase_rows = "\n".join(
        f"<tr><td>{e(title)}</td><td>{f['count']}</td><td>{f['ok']}</td>"
        f"<td>{e(', '.join(f'{c}: {n}' for c, n in f['failures'].items()) or '–')}</td>"
        f"<td>{_seconds(f['p50'])}</td><td>{_seconds(f['p95'])}</td><td>{_seconds(f['max'])}</td></tr>"
        for phase, title in PHASES.items()
        for f in [report["phases"][phase]]
    )
    threshold_rows = "\n".join(
        f"<tr class={'crossed' if t['crossed'] else 'held'}><td>{e(t['name'])}</td><td>{e(str(t['limit']))}</td>"
        f"<td>{e(str(t['observed']))}</td><td>{'CROSSED' if t['crossed'] else 'held'}</td><td>{e(t['says'])}</td></tr>"
        for t in report["thresholds"]
    )
    summary = report["resources"]["summary"]
    resource_rows = "\n".join(
        f"<tr><td>{e(name)}</td><td>{s['cpu_cores_mean']}</td><td>{s['cpu_cores_max']}</td>"
        f"<td>{s['memory_mb_max']}</td></tr>"
        for name, s in summary.items()
    )
    spark = report.get("spark")
    spark_rows = (
        "\n".join(
            f"<tr><td>{e(title)}</td><td>{_seconds(f['p50'])}</td><td>{_seconds(f['p95'])}</td>"
            f"<td>{_seconds(f['max'])}</td></tr>"
            for key, title in SPARK_TIMES.items()
            for f in [spark["times"][key]]
        )
        if spark
        else ""
    )
    spark_section = (
        f"""<h2>Spark</h2>
<p>{spark["users"]} user(s)' sessions, on {e(", ".join(spark["masters"]) or "no master seen")}, by Spark's own
account: the session's start, the wait for a first executor (a cluster's queue for the cores the other users
hold, and the executor's own start; none in local mode) and the job. Each user's own are in load.json.</p>
<table id="spark"><tr><th></th><th>p50 s</th><th>p95 s</th><th>max s</th></tr>
{spark_rows}</table>
"""
        if spark
        else ""
    )
    generator = report["generator"]
    plot = resources(report)
    verdict = "FAILED: " + ", ".join(t["name"] for t in crossed(report)) if crossed(report) else "passed"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>hubharness load: {report["completed"]}/{len(report["users"])} users, {e(verdict)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .25em .6em; text-align: left; }}
tr.crossed {{ background: #fde8e8; }}
figure {{ margin: 1em 0; }}
svg {{ max-width: 100%; height: auto; }}
</style></head><body>
<h1>load: {report["completed"]}/{len(report["users"])} users completed, {e(verdict)}</h1>
<p>{e(report["public_url"])}, started {e(report["started"])}, {report["duration"]:.1f}s;
{options["users"]} users over a {options["ramp"]:g}s ramp, holding {options["hold"]:g}s,
{"a SparkSession job" if options["spark"] else "plain Python"} as the cell with a known answer.
The load generator (one process, asyncio) used {generator["cpu_seconds"]:.2f} CPU seconds,
{generator["cpu_seconds_per_user"]:.3f} per user.</p>
<h2>thresholds</h2>
<table id="thresholds"><tr><th>threshold</th><th>limit</th><th>observed</th><th></th><th></th></tr>
{threshold_rows}</table>
<h2>phases</h2>
<table id="phases"><tr><th>phase</th><th>count</th><th>ok</th><th>failures by cause</th><th>p50 s</th><th>p95 s</th>
<th>max s</th></tr>
{phase_rows}</table>
{spark_section}<h2>every user's journey</h2>
<figure id="timeline">{timeline(report)}</figure>
<h2>latency per phase</h2>
<figure id="histograms">{histograms(report)}</figure>
<h2>hub and proxy</h2>
<p>source: {e(report["resources"]["source"])}</p>
<table id="resources"><tr><th>component</th><th>CPU cores mean</th><th>CPU cores max</th><th>memory MB max</th></tr>
{resource_rows}</table>
{f'<figure id="resource-plot">{plot}</figure>' if plot else ""}
</body></html>
"""


def write(report_dir: Path, report: dict) -> tuple[Path, Path]:
    """load.json and load.html into a run's report folder."""
    data, page = report_dir / "load.json", report_dir / "load.html"
    data.write_text(json.dumps(report, indent=1) + "\n")
    page.write_text(render(report))
    return data, page
