"""A run's report folder (reports/<stamp>-<what>, with reports/latest pointing at it), and
the last line of defence of every report: no secret value survives in its files."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .paths import reports_root


def new_report_dir(context: str, root: Path | None = None) -> Path:
    root = root or reports_root()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    run = root / f"{stamp}-{context}"
    n = 1
    while run.exists():
        n += 1
        run = root / f"{stamp}-{context}-{n}"
    run.mkdir(parents=True)
    latest = root / "latest"
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(run.name)
    return run


def redact(directory: Path, secrets: list[str], also: tuple[Path, ...] = ()) -> list[Path]:
    """Last line of defence: no secret value survives in any report file (the files of
    `directory`, and the files `also` names). Returns the files one was found in."""
    values = secret_values(secrets)
    found = []
    for path in [*directory.rglob("*"), *also]:
        if not path.is_file():
            continue
        data = path.read_bytes()
        cleaned = data
        for value in values:
            cleaned = cleaned.replace(value.encode(), b"***")
        if cleaned != data:
            path.write_bytes(cleaned)
            found.append(path)
    return found


def secret_values(secrets: list[str]) -> list[str]:
    """The values redaction looks for, longest first (shorter ones would scrub ordinary words)."""
    return sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)


def record_scrub(report_dir: Path, secrets: list[str], found: list[Path]) -> None:
    """Say in summary.json how many secret values the report was searched for and where
    one was found (and replaced): the page answers "was the password ever exposed"."""
    summary_file = report_dir / "summary.json"
    if not summary_file.is_file():
        return
    summary = json.loads(summary_file.read_text())
    summary["scrubbed"] = {
        "secrets": len(secret_values(secrets)),
        "found_in": sorted(str(p.relative_to(report_dir)) for p in found if p.is_relative_to(report_dir)),
    }
    summary_file.write_text(json.dumps(summary, indent=2) + "\n")
