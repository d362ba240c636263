"""The last journeys on disk: one JSON file each in reports/watch/, the oldest dropped
past KEEP, and index.html, a static page of them (newest first) that loads nothing from
elsewhere. Secret values are replaced by *** before anything is written."""

from __future__ import annotations

import html
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from .journey import PHASES, Record

KEEP = 100  # journeys kept: at the default 5 minutes, the last eight hours
PAGE = "index.html"


def redact(text: str, secrets: list[str]) -> str:
    """Every secret value (of a useful length) in `text` as ***."""
    for value in sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True):
        text = text.replace(value, "***")
    return text


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a reader (a browser, a scraper of the files) never sees half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class History:
    def __init__(self, folder: Path, secrets: list[str], keep: int = KEEP):
        self.folder, self.secrets, self.keep = folder, [str(s) for s in secrets], keep

    def files(self) -> list[Path]:
        """The kept journeys' files, oldest first (their names sort by time)."""
        return sorted(self.folder.glob("journey-*.json"))

    def add(self, record: Record, context: str, namespace: str) -> Path:
        """Write the journey, drop the oldest past `keep`, draw the page again."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.fromtimestamp(record.finished, UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.folder / f"journey-{stamp}.json"
        data = {"context": context, "namespace": namespace, **record.to_json()}
        _write(path, redact(json.dumps(data, indent=1), self.secrets) + "\n")
        for old in self.files()[: -self.keep]:
            old.unlink(missing_ok=True)
        self.draw()
        return path

    def journeys(self) -> list[dict]:
        found = []
        for path in self.files():
            try:
                found.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue  # one being replaced, or damaged: the page goes on without it
        return found

    def draw(self) -> Path:
        _write(self.folder / PAGE, page(self.journeys()))
        return self.folder / PAGE


STYLE = (
    "body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}"
    "td,th{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:left;font-size:.9em}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}.success{color:#1a7f37}"
    ".failure,.timeout{color:#c62828;font-weight:bold}.interrupted{color:#8a6d00}"
    "td.err{max-width:40em;color:#555}"
)


def page(journeys: list[dict]) -> str:
    """The journeys as one page: a count by outcome, then a row each, newest first."""
    counts: dict[str, int] = {}
    for j in journeys:
        counts[j["outcome"]] = counts.get(j["outcome"], 0) + 1
    where = f"{journeys[-1]['namespace']} (context {journeys[-1]['context']})" if journeys else "-"
    head = "".join(f"<th>{p} s</th>" for p in PHASES)
    rows = []
    for j in reversed(journeys):
        seconds = {p["phase"]: p for p in j["phases"]}
        cells = "".join(
            f'<td class="n">{seconds[p]["seconds"]:.2f}</td>' if p in seconds else "<td></td>" for p in PHASES
        )
        failed = next((p for p in j["phases"] if p["outcome"] != "ok"), None)
        why = f"{failed['phase']}: {failed['error']}" if failed else ""
        rows.append(
            f"<tr><td>{html.escape(j['started'])}</td><td>{html.escape(j['journey'])}</td>"
            f'<td class="{html.escape(j["outcome"])}">{html.escape(j["outcome"])}</td>'
            f'<td class="n">{j["seconds"]:.2f}</td>{cells}<td class="err">{html.escape(why)}</td></tr>'
        )
    summary = ", ".join(f"{n} {o}" for o, n in sorted(counts.items())) or "no journey yet"
    return (
        '<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="60">'
        f"<title>hubharness watch</title><style>{STYLE}</style></head><body>"
        f"<h1>hubharness watch: {html.escape(where)}</h1>"
        f"<p>The last {len(journeys)} journeys: {html.escape(summary)}.</p>"
        f"<table><tr><th>started (UTC)</th><th>journey</th><th>outcome</th><th>total s</th>{head}"
        f"<th>what failed</th></tr>{''.join(rows)}</table></body></html>\n"
    )
