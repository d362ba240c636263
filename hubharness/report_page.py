"""The verify report for people: `report.html` of one run and `reports/index.html` of all.

Rendering is pure (summary dicts in, one self-contained HTML string out: inline CSS and
SVG, no script, nothing fetched); `write_report` and `write_index` read a run's
summary.json and diagnostics/ and write the pages. Summaries written before a key
existed (deployment, outcome, per-check start/stop) still render, with what they have.
Every value from a run is escaped.
"""

from __future__ import annotations

import html
import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from . import checks as catalogue

OUTCOMES = ("failed", "timeout", "skipped", "passed")
COLOURS = {"passed": "#1a7f37", "failed": "#cf222e", "timeout": "#bc4c00", "skipped": "#6e7781"}
TAIL_LINES = 200  # of each diagnostics file, inline (a local log tail is 200 lines); the file is linked
TAIL_CHARS = 40_000
MAX_RUNS = 200  # in the index; older runs stay on disk

GENERATOR = "hubharness report_page"  # tells our page from pytest-html's, which it replaced
PYTEST_PAGE = "pytest.html"  # pytest-html's page of the run, for developers

e = html.escape

CSS = """
:root { --ok: #1a7f37; --bad: #cf222e; --slow: #bc4c00; --skip: #6e7781; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1f2328; }
.wrap { max-width: 1180px; margin: 0 auto; padding: 0 1.5em; }
main.wrap { padding-top: .5em; padding-bottom: 3em; }
h1 { font-size: 1.5em; margin: .2em 0; }
h2 { font-size: 1.15em; margin: 1.6em 0 .5em; border-bottom: 1px solid var(--line); padding-bottom: .2em; }
header.run { padding: .8em 1.5em; color: #fff; }
header.passed { background: var(--ok); }
header.failed { background: var(--bad); }
header.run p { margin: .1em 0; }
header.run p.unvalidated { background: #fff8c5; color: #1f2328; border-left: 6px solid var(--slow);
  padding: .3em .6em; margin: .4em 0; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(270px, 1fr)); gap: .1em 1.5em;
  margin: .8em 0; }
.facts div { padding: .15em 0; border-bottom: 1px dotted var(--line); overflow-wrap: anywhere; }
.facts b { display: inline-block; min-width: 8.5em; font-weight: 600; color: #57606a; }
code, pre { font: 13px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
pre { background: #f6f8fa; border: 1px solid var(--line); padding: .6em; overflow-x: auto;
  white-space: pre-wrap; overflow-wrap: anywhere; margin: .3em 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .25em .5em; border-bottom: 1px solid #eaeef2; }
th { background: #f6f8fa; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.group td { background: #f6f8fa; font-weight: 600; }
.badge { display: inline-block; min-width: 5.2em; text-align: center; border-radius: 1em; color: #fff;
  font-size: .8em; font-weight: 600; padding: 0 .6em; }
.passed .badge, .badge.passed { background: var(--ok); }
.failed .badge, .badge.failed { background: var(--bad); }
.timeout .badge, .badge.timeout { background: var(--slow); }
.skipped .badge, .badge.skipped { background: var(--skip); }
.failure { border: 1px solid var(--line); border-left: 6px solid var(--bad); padding: .5em 1em; margin: .8em 0; }
.failure.timeout { border-left-color: var(--slow); }
.failure h3 { margin: .2em 0; font-size: 1.05em; }
.muted { color: #57606a; }
.zero { color: #afb8c1; }
details summary { cursor: pointer; }
svg text { font: 11px system-ui, sans-serif; fill: #1f2328; }
nav a { margin-right: 1em; }
"""


@dataclass(frozen=True)
class Diagnostic:
    """One file of diagnostics/<check id>/: its tail, and how much was left out."""

    name: str
    tail: str
    lines_left_out: int = 0


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="{GENERATOR}">\n'
        f"<title>{e(title)}</title>\n<style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _seconds(value) -> str:
    if not isinstance(value, (int, float)):
        return "–"
    if value < 120:
        return f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds:02d} s"


def outcome_of(summary: dict) -> str:
    """passed or failed: as recorded, or from the counts of a summary older than the key."""
    if summary.get("outcome") in ("passed", "failed"):
        return summary["outcome"]
    counts = counts_of(summary)
    return "failed" if counts["failed"] or counts["timeout"] else "passed"


def counts_of(summary: dict) -> dict[str, int]:
    counts = summary.get("counts") or {}
    checks = summary.get("checks") or []
    return {k: int(counts.get(k, sum(c.get("outcome") == k for c in checks))) for k in OUTCOMES}


def deployment_of(summary: dict) -> dict:
    """The deployment block, filled from the run's own keys where an older summary has none."""
    facts = dict(summary.get("deployment") or {})
    for key in ("context", "namespace", "public_url", "chart"):
        if facts.get(key) is None:
            facts[key] = summary.get(key)
    return facts


def words(check_id: str) -> str:
    """A check named in words: what it guards, from the catalogue."""
    check = catalogue.BY_ID.get(check_id)
    if check:
        return check.guards
    name = check_id.split(".", 1)[-1]
    return name.replace("_", " ")


def rerun_command(summary: dict, check_id: str) -> str:
    facts = deployment_of(summary)
    return (
        f"invoke verify --context {shlex.quote(str(facts.get('context') or 'local'))} "
        f"--namespace {shlex.quote(str(facts.get('namespace') or 'default'))} --check {shlex.quote(check_id)}"
    )


def _headline(summary: dict) -> str:
    counts = counts_of(summary)
    parts = [f"{counts['failed']} failed"] if counts["failed"] else []
    parts += [f"{counts['timeout']} timed out"] if counts["timeout"] else []
    parts += [f"{counts['passed']} passed"]
    parts += [f"{counts['skipped']} skipped"] if counts["skipped"] else []
    return ", ".join(parts)


def _fact(label: str, value) -> str:
    shown = e(str(value)) if value not in (None, "", []) else '<span class="muted">not recorded</span>'
    return f"<div><b>{e(label)}</b> {shown}</div>"


def not_validated(facts: dict) -> str | None:
    """Why the deployment's values were not validated against the chart's schema; None
    when they were, or when the run recorded nothing about it (an older summary)."""
    record = facts.get("values_schema")
    if isinstance(record, dict) and record.get("validated") is False:
        return str(record.get("schema") or "no reason recorded")
    return None


def _values_schema_fact(facts: dict) -> str:
    record = facts.get("values_schema")
    if not isinstance(record, dict):
        return _fact("values schema", None)
    why = not_validated(facts)
    shown = f"NOT validated: {why}" if why is not None else f"validated against {record.get('schema')}"
    return _fact("values schema", shown)


def _header(summary: dict) -> str:
    facts = deployment_of(summary)
    unvalidated = not_validated(facts)
    outcome = outcome_of(summary)
    hub = facts.get("jupyterhub")
    expected = facts.get("jupyterhub_expected")
    hub_text = hub if hub else None
    if hub and expected and hub != expected:
        hub_text = f"{hub} (the chart ships {expected})"
    elif not hub and expected:
        why = "the hub did not answer /hub/api" if facts.get("public_url") else "the run did not reach the hub"
        hub_text = f"{expected} (the chart's; {why})"
    master = facts.get("spark_master") or (
        "local mode (the notebooks' Spark settings name no master)" if summary.get("deployment") else None
    )
    values = facts.get("values_files") or []
    values_html = (
        "<br>".join(
            f'<code>{e(str(v.get("path")))}</code> <span class="muted" title="sha256 {e(str(v.get("sha256")))}">'
            f"sha256 {e(str(v.get('sha256') or 'unreadable')[:16])}…</span>"
            for v in values
        )
        if values
        else e(str(facts["values_record"]))
        if facts.get("values_record")
        else '<span class="muted">not recorded</span>'
    )
    url = facts.get("public_url")
    url_html = (
        (f'<a href="{e(url)}">{e(url)}</a>' if str(url).startswith(("http://", "https://")) else e(str(url)))
        if url
        else '<span class="muted">not reached</span>'
    )
    mutant = summary.get("mutant")
    return f"""<header class="run {outcome}"><div class="wrap">
<h1>verify {e(outcome.upper())}: {e(_headline(summary))}</h1>
<p>namespace <b>{e(str(facts.get("namespace")))}</b> on context <b>{e(str(facts.get("context")))}</b>,
chart {e(str(facts.get("chart")))}, started {e(str(summary.get("started")))}, took {e(_seconds(summary.get("duration")))}
{f" — a selftest run with the harness fault <b>{e(mutant)}</b> planted" if mutant else ""}</p>
{f'<p class="unvalidated"><b>The values were NOT validated</b> against the chart&#x27;s schema at deploy: {e(unvalidated)}</p>' if unvalidated is not None else ""}
</div></header>
<main class="wrap">
<section id="deployment" class="facts" aria-label="deployment">
{_fact("context", facts.get("context"))}
{_fact("namespace", facts.get("namespace"))}
<div><b>public URL</b> {url_html}</div>
{_fact("chart", facts.get("chart"))}
{_fact("JupyterHub", hub_text)}
{_fact("authenticator", summary.get("authenticator") or ("the hub did not say" if "authenticator" in summary else None))}
{_fact("notebook image", facts.get("notebook_image"))}
{_fact("PySpark", facts.get("pyspark"))}
{_fact("Spark master", master)}
{_fact("harness", facts.get("harness"))}
{_fact("started", summary.get("started"))}
{_fact("duration", _seconds(summary.get("duration")))}
{_fact("outcome", f"{outcome}: {_headline(summary)}")}
{_values_schema_fact(facts)}
<div style="grid-column: 1 / -1; display: flex"><b>values files</b> <span>{values_html}</span></div>
{_secrets_fact(summary)}
</section>"""


def _secrets_fact(summary: dict) -> str:
    """For an auditor: how SEC went, and what the report's own scrub found."""
    sec = [c for c in summary.get("checks") or [] if c.get("check") == "SEC"]
    parts = []
    if sec:
        counts = {k: sum(c.get("outcome") == k for c in sec) for k in ("passed", "failed", "timeout", "skipped")}
        bad = [str(c.get("id")) for c in sec if c.get("outcome") in ("failed", "timeout")]
        parts.append(
            "SEC checks: "
            + ", ".join(f"{n} {k}" for k, n in counts.items() if n or k == "failed")
            + (f" ({', '.join(bad)})" if bad else "")
        )
    scrub = summary.get("scrubbed")
    if isinstance(scrub, dict):
        found = scrub.get("found_in") or []
        searched = f"every file of this report was searched for the deployment's {scrub.get('secrets')} secret value(s)"
        parts.append(
            f"{searched}: found in {len(found)} file(s) and replaced by ***: {', '.join(map(str, found))}"
            if found
            else f"{searched}: none found"
        )
    if not parts:
        return ""
    return f'<div style="grid-column: 1 / -1; display: flex" id="secrets"><b>secrets</b> <span>{e("; ".join(parts))}</span></div>'


def _diagnostics_html(check_id: str, files: list[Diagnostic]) -> str:
    if not files:
        return '<p class="muted">no diagnostics were written for this check</p>'
    parts = []
    for n, d in enumerate(files):
        more = (
            f' <span class="muted">(last {TAIL_LINES} lines; {d.lines_left_out} earlier in the file)</span>'
            if d.lines_left_out
            else ""
        )
        link = f"diagnostics/{check_id}/{d.name}"
        parts.append(
            f"<details{' open' if n == 0 else ''}><summary><code>{e(d.name)}</code>{more} "
            f'<a href="{e(link)}">file</a></summary><pre>{e(d.tail)}</pre></details>'
        )
    return "\n".join(parts)


def _scratch_diagnostics(check_id: str, diagnostics: dict[str, list[Diagnostic]]) -> str:
    """A check that ran on a scratch namespace of its own (RES) also shows that namespace's
    logs, which its fixture wrote to diagnostics/<GROUP>-scratch/."""
    folder = f"{check_id.split('.', 1)[0]}-scratch"
    if folder not in diagnostics:
        return ""
    return f'\n<p class="muted">its scratch namespace:</p>\n{_diagnostics_html(folder, diagnostics[folder])}'


def _failures(summary: dict, diagnostics: dict[str, list[Diagnostic]]) -> str:
    bad = [c for c in summary.get("checks") or [] if c.get("outcome") in ("failed", "timeout")]
    if not bad:
        return ""
    bad.sort(key=lambda c: (c.get("outcome") != "failed", c.get("start", 0)))
    cards = []
    for c in bad:
        cid = str(c.get("id"))
        cards.append(
            f"""<article class="failure {e(c["outcome"])}" id="{e(cid)}">
<h3><span class="badge {e(c["outcome"])}">{e(c["outcome"])}</span> <code>{e(cid)}</code></h3>
<p>{e(words(cid))} <span class="muted">({_seconds(c.get("duration"))})</span></p>
<pre class="message">{e(str(c.get("message") or "no message"))}</pre>
<p>Run it alone: <code>{e(rerun_command(summary, cid))}</code></p>
{_diagnostics_html(cid, diagnostics.get(cid, []))}{_scratch_diagnostics(cid, diagnostics)}
</article>"""
        )
    return f'<section id="failures"><h2>Failures and timeouts ({len(bad)})</h2>\n' + "\n".join(cards) + "</section>"


def _skips(summary: dict) -> str:
    skipped = [c for c in summary.get("checks") or [] if c.get("outcome") == "skipped"]
    if not skipped:
        return ""
    rows = "\n".join(
        f"<tr><td><code>{e(str(c['id']))}</code></td><td>{e(words(str(c['id'])))}</td>"
        f"<td>{e(str(c.get('message') or ''))}</td></tr>"
        for c in skipped
    )
    return (
        f'<section id="skips"><h2>Skipped ({len(skipped)})</h2>'
        f"<table><tr><th>check</th><th>guards</th><th>why it was skipped</th></tr>\n{rows}</table></section>"
    )


def _not_applicable(summary: dict) -> str:
    """The catalogue's checks that do not apply to this target or these credentials, each
    with why: neither passed nor skipped, so that nobody reads them as either."""
    rows = summary.get("not_applicable") or []
    left = summary.get("left_on_hub") or []
    if not rows and not left:
        return ""
    kept = f'<p class="unvalidated"><b>Left on the hub</b> (not deleted): {e("; ".join(left))}</p>' if left else ""
    items = "".join(f"<li><code>{e(r['id'])}</code>: {e(r['why'])}</li>" for r in rows)
    return (
        f'<section id="not-applicable"><h2>Not applicable here ({len(rows)})</h2>{kept}'
        '<p class="muted">Checks of the catalogue this run did not run, because they need what this target '
        "or these credentials do not give; neither passed nor skipped.</p>"
        f"<details><summary>the {len(rows)} checks, each with why</summary><ul>{items}</ul></details></section>"
    )


def _ops(summary: dict) -> str:
    """OPS's day-2 figures: each home against its capacity, each component's memory against
    its limit (or why it was not read)."""
    ops = summary.get("ops") or {}
    if not ops:
        return ""
    bound = ops.get("max_home_percent")
    homes = "\n".join(
        f'<tr><td>{e(str(h.get("user")))}</td><td class="num">{_mib(h.get("used_bytes"))}</td>'
        f'<td class="num">{_mib(h.get("capacity_bytes"))}</td>'
        f'<td class="num">{e("" if h.get("percent") is None else str(h.get("percent")) + " %")}</td>'
        f'<td><small class="muted">{e(str(h.get("where")))}</small></td></tr>'
        for h in ops.get("homes") or []
    )
    resources = ops.get("resources") or {}
    rows = "\n".join(
        f'<tr><td>{e(name)}</td><td class="num">{_mib(r.get("memory_bytes"))}</td>'
        f'<td class="num">{_mib(r.get("memory_limit_bytes"))}</td>'
        f'<td class="num">{e(_cpu(r))}</td></tr>'
        for name, r in (resources.get("components") or {}).items()
    )
    return (
        '<section id="ops"><h2>Storage and resources</h2>'
        + (
            f"<p>Users' homes (a home above {e(str(bound))} % of its capacity fails OPS):</p>"
            '<table><tr><th>user</th><th class="num">used</th><th class="num">capacity</th>'
            f'<th class="num">full</th><th>where</th></tr>\n{homes}</table>'
            if homes
            else ""
        )
        + (
            f"<p>Memory and CPU at the end of verify, from {e(str(resources.get('source')))}:</p>"
            + (
                f'<p class="muted">{e(str(resources["error"]))}</p>'
                if resources.get("error")
                else '<table><tr><th>component</th><th class="num">memory</th><th class="num">limit</th>'
                f'<th class="num">CPU</th></tr>\n{rows}</table>'
            )
            if resources
            else ""
        )
        + "</section>"
    )


def _mib(n) -> str:
    return "—" if n is None else f"{n / 2**20:,.1f} MiB"


def _cpu(r: dict) -> str:
    if r.get("cpu_cores") is not None:
        return f"{r['cpu_cores']:.3f} cores"
    return "—" if r.get("cpu_seconds") is None else f"{r['cpu_seconds']:.1f} s used"


def _groups(summary: dict) -> list[str]:
    present = {str(c.get("check")) for c in summary.get("checks") or []}
    return [g for g in catalogue.CHECK_ORDER if g in present] + sorted(present - set(catalogue.CHECK_ORDER))


def _count_cell(n: int, outcome: str) -> str:
    style = f' style="color:{COLOURS[outcome]};font-weight:600"' if n and outcome != "passed" else ""
    return f'<td class="num{" zero" if not n else ""}"{style}>{n}</td>'


def _checklist(summary: dict) -> str:
    checks = summary.get("checks") or []
    rows = []
    for group in _groups(summary):
        members = [c for c in checks if str(c.get("check")) == group]
        counts = {k: sum(c.get("outcome") == k for c in members) for k in OUTCOMES}
        rows.append(
            f'<tr class="group"><td>{e(group)}</td><td>{e(catalogue.GROUPS.get(group, ""))}</td>'
            + "".join(_count_cell(counts[k], k) for k in ("passed", "failed", "timeout", "skipped"))
            + "<td></td></tr>"
        )
        for c in members:
            cid = str(c.get("id"))
            message = str(c.get("message") or "")
            rows.append(
                f'<tr class="{e(str(c.get("outcome")))}"><td><span class="badge">{e(str(c.get("outcome")))}</span></td>'
                f"<td><code>{e(cid)}</code><br>{e(words(cid))}"
                + (f'<br><small class="muted">{e(message[:300])}</small>' if message else "")
                + f'</td><td colspan="4"></td><td class="num">{e(_seconds(c.get("duration")))}</td></tr>'
            )
    return (
        '<section id="checklist"><h2>Checklist</h2><table>'
        '<tr><th>id</th><th>check</th><th class="num">passed</th><th class="num">failed</th>'
        '<th class="num">timeout</th><th class="num">skipped</th><th class="num">time</th></tr>\n'
        + "\n".join(rows)
        + "</table></section>"
    )


def timeline_svg(summary: dict, width: int = 1100) -> str:
    """One lane per checklist id, a bar per check from its start to its end, and below
    them the background work (spawns, kernel cells, scratch deployments) that ran beside
    the checks: overlapping bars are work done at the same time."""
    checks = [c for c in summary.get("checks") or [] if isinstance(c.get("start"), (int, float))]
    if not checks:
        return '<p class="muted">This run recorded no check timings (a summary from before they were kept).</p>'
    background = summary.get("background") or []
    lanes = [(g, [c for c in checks if str(c.get("check")) == g]) for g in _groups({"checks": checks})]
    names = sorted({str(b.get("name", "")).split(":")[0] for b in background})
    end = max([float(c.get("stop", c["start"])) for c in checks] + [float(b.get("stop", 0)) for b in background])
    end = max(end, float(summary.get("duration") or 0), 1.0)
    left, lane_h, top = 160, 20, 22
    scale = (width - left - 10) / end
    rows = len(lanes) + len(names)
    height = top + rows * lane_h + 24
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="timeline of the run">'
        )
    ]
    step = next(s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600, 1e9) if end / s <= 12)
    tick = 0.0
    while tick <= end:
        x = left + tick * scale
        parts.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 20}" stroke="#eaeef2"/>')
        parts.append(f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle">{tick:.0f}s</text>')
        tick += step

    def bar(y: int, start: float, stop: float, colour: str, label: str) -> str:
        x = left + start * scale
        w = max((stop - start) * scale, 2.0)
        return (
            f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{lane_h - 6}" fill="{colour}" '
            f'fill-opacity="0.85" stroke="#fff" stroke-width="1"><title>{e(label)}</title></rect>'
        )

    for n, (group, members) in enumerate(lanes):
        y = top + n * lane_h
        parts.append(f'<text x="4" y="{y + 14}">{e(group)}</text>')
        for c in members:
            start, stop = float(c["start"]), float(c.get("stop", c["start"]))
            label = f"{c.get('id')} {c.get('outcome')}: {start:.1f}s to {stop:.1f}s"
            parts.append(bar(y, start, stop, COLOURS.get(str(c.get("outcome")), "#888"), label))
    for n, name in enumerate(names):
        y = top + (len(lanes) + n) * lane_h
        parts.append(f'<text x="4" y="{y + 14}" fill="#57606a">{e(name)} (background)</text>')
        for b in background:
            if str(b.get("name", "")).split(":")[0] == name:
                start, stop = float(b.get("start", 0)), float(b.get("stop", 0))
                parts.append(bar(y, start, stop, "#8250df", f"{b.get('name')}: {start:.1f}s to {stop:.1f}s"))
    parts.append(f'<text x="{left}" y="12" fill="#57606a">seconds from the start of the run</text></svg>')
    return "\n".join(parts)


def render_report(
    summary: dict, diagnostics: dict[str, list[Diagnostic]] | None = None, pytest_page: bool = False
) -> str:
    """The run's page: the deployment, failures first with their diagnostics and how to
    run them alone, skips with their reason, the checklist by id, the timeline."""
    diagnostics = diagnostics or {}
    facts = deployment_of(summary)
    outcome = outcome_of(summary)
    title = f"verify {outcome.upper()}: {_headline(summary)} — {facts.get('namespace')} on {facts.get('context')}"
    links = (
        '<nav><a href="../index.html">all runs</a><a href="summary.json">summary.json</a>'
        '<a href="junit.xml">junit.xml</a>'
        + (f'<a href="{PYTEST_PAGE}">pytest\'s page (for developers)</a>' if pytest_page else "")
        + "</nav>"
    )
    body = (
        _header(summary)
        + "\n"
        + _failures(summary, diagnostics)
        + "\n"
        + _skips(summary)
        + "\n"
        + _checklist(summary)
        + "\n"
        + _ops(summary)
        + _not_applicable(summary)
        + '\n<section id="timeline"><h2>Timeline</h2>'
        + '<p class="muted">Each bar is a check, from its setup to its teardown; the harness spawns servers, '
        + "runs the notebook's Spark cells and deploys its scratch namespace in the background while the "
        + "checks run, shown in the lanes below them.</p>"
        + timeline_svg(summary)
        + "</section>\n"
        + links
        + "\n</main>"
    )
    return _page(title, body)


def trend_svg(runs: list[tuple[str, dict]], width: int = 1100, height: int = 150) -> str:
    """Verify's duration (bars) and failures (red marks) over the runs, oldest on the left."""
    ordered = list(reversed(runs))[-60:]
    if not ordered:
        return ""
    longest = max([float(s.get("duration") or 0) for _, s in ordered] + [1.0])
    worst = max([counts_of(s)["failed"] + counts_of(s)["timeout"] for _, s in ordered] + [1])
    left, bottom, top = 90, 22, 14
    slot = min((width - left - 10) / max(len(ordered), 1), 60.0)
    plot = height - top - bottom
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="trend of verify duration and failures">'
        ),
        f'<text x="4" y="{top + 4}">{_seconds(longest)}</text>',
        f'<text x="4" y="{height - bottom}">0</text>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#d0d7de"/>',
    ]
    for n, (name, s) in enumerate(ordered):
        duration = float(s.get("duration") or 0)
        bad = counts_of(s)["failed"] + counts_of(s)["timeout"]
        h = plot * duration / longest
        x = left + n * slot
        colour = COLOURS[outcome_of(s)]
        label = f"{name}: {outcome_of(s)}, {bad} failed or timed out, {_seconds(duration)}"
        parts.append(
            f'<a href="{e(name)}/report.html"><rect x="{x + slot * 0.15:.1f}" y="{height - bottom - h:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{h:.1f}" fill="{colour}" fill-opacity="0.35"><title>{e(label)}</title>'
            "</rect></a>"
        )
        if bad:
            y = top + plot * (1 - bad / worst)
            parts.append(
                f'<circle cx="{x + slot / 2:.1f}" cy="{y:.1f}" r="4" fill="{COLOURS["failed"]}"><title>{e(label)}'
                f'</title></circle><text x="{x + slot / 2:.1f}" y="{y - 6:.1f}" text-anchor="middle" '
                f'fill="{COLOURS["failed"]}">{bad}</text>'
            )
    parts.append(
        f'<text x="{left}" y="{height - 6}" fill="#57606a">oldest → newest; bar: duration (green passed, red failed); '
        f"red mark: checks failed or timed out (most: {worst})</text></svg>"
    )
    return "\n".join(parts)


def render_index(runs: list[tuple[str, dict]]) -> str:
    """Every run, newest first: outcome, counts, duration, chart, context, a link to its
    report; above them the trend. `runs` are (folder name, summary), newest first."""
    if not runs:
        return _page("hubharness: no verify runs yet", '<main class="wrap"><h1>No verify runs yet</h1></main>')
    rows = []
    for name, s in runs:
        facts = deployment_of(s)
        counts = counts_of(s)
        outcome = outcome_of(s)
        mutant = s.get("mutant")
        rows.append(
            f'<tr class="{outcome}"><td><a href="{e(name)}/report.html">{e(name)}</a>'
            + (f'<br><small class="muted">selftest fault {e(str(mutant))}</small>' if mutant else "")
            + ("<br><small><b>values NOT validated</b></small>" if not_validated(facts) is not None else "")
            + f'</td><td><span class="badge">{e(outcome)}</span></td>'
            + "".join(_count_cell(counts[k], k) for k in ("passed", "failed", "timeout", "skipped"))
            + f'<td class="num">{e(_seconds(s.get("duration")))}</td><td>{e(str(facts.get("chart")))}</td>'
            f"<td>{e(str(facts.get('context')))}</td><td>{e(str(facts.get('namespace')))}</td>"
            f"<td>{e(str(s.get('started')))}</td></tr>"
        )
    latest_name, latest = runs[0]
    body = f"""<header class="run {outcome_of(latest)}"><div class="wrap">
<h1>hubharness verify runs: the latest {e(outcome_of(latest))}</h1>
<p>{len(runs)} run(s) here, newest first. The latest, <a style="color:#fff" href="{e(latest_name)}/report.html">{e(latest_name)}</a>:
{e(_headline(latest))} in {e(_seconds(latest.get("duration")))}.</p></div></header>
<main class="wrap">
<section id="trend"><h2>Trend</h2>{trend_svg(runs)}</section>
<section id="runs"><h2>Runs</h2><table>
<tr><th>run</th><th>outcome</th><th class="num">passed</th><th class="num">failed</th><th class="num">timeout</th>
<th class="num">skipped</th><th class="num">duration</th><th>chart</th><th>context</th><th>namespace</th><th>started</th></tr>
{chr(10).join(rows)}
</table></section></main>"""
    return _page(f"hubharness verify runs: latest {outcome_of(latest)}", body)


def read_diagnostics(run_dir: Path) -> dict[str, list[Diagnostic]]:
    """The tail of every file in diagnostics/<check id>/, per check id."""
    root = run_dir / "diagnostics"
    found: dict[str, list[Diagnostic]] = {}
    if not root.is_dir():
        return found
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            lines = path.read_text(errors="replace").splitlines()
            tail = "\n".join(lines[-TAIL_LINES:])[-TAIL_CHARS:]
            name = str(path.relative_to(folder))
            found.setdefault(folder.name, []).append(Diagnostic(name, tail, max(len(lines) - TAIL_LINES, 0)))
    return found


def write_report(run_dir: Path) -> Path:
    """report.html of the run in `run_dir`, from its summary.json and diagnostics/."""
    summary = json.loads((run_dir / "summary.json").read_text())
    page = run_dir / "report.html"
    if page.is_file() and GENERATOR not in page.read_text(errors="replace")[:2000]:
        page.replace(run_dir / PYTEST_PAGE)  # a run from before this page: keep pytest-html's beside it
    page.write_text(render_report(summary, read_diagnostics(run_dir), (run_dir / PYTEST_PAGE).is_file()))
    return page


def runs_in(root: Path) -> list[tuple[str, dict]]:
    """(folder name, summary) of every run folder in `root`, newest first; a folder whose
    summary cannot be read is left out."""
    runs = []
    for folder in root.iterdir() if root.is_dir() else []:
        if folder.is_symlink() or not (folder / "summary.json").is_file():
            continue
        try:
            summary = json.loads((folder / "summary.json").read_text())
        except (OSError, ValueError):
            continue
        if isinstance(summary, dict):
            runs.append((folder.name, summary))
    runs.sort(key=lambda run: (str(run[1].get("started") or ""), run[0]), reverse=True)
    return runs[:MAX_RUNS]


def write_index(root: Path) -> Path:
    page = root / "index.html"
    page.write_text(render_index(runs_in(root)))
    return page
