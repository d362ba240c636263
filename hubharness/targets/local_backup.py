"""Backup and restore for the local target (the archive format is in hubharness.backup)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from .. import backup, chart
from .. import values as chart_values
from ..errors import HarnessError
from .local import LocalTarget


def run_backup(target: LocalTarget, to: Path | None = None) -> backup.BackupResult:
    started = time.monotonic()
    state = target.read_state()
    db = target.state_dir / "jupyterhub.sqlite"
    if not state:
        raise HarnessError(f"nothing deployed in namespace {target.namespace} (context local): nothing to back up")
    if not db.is_file():
        raise HarnessError(
            f"no hub database in {target.state_dir} (hub.db.type sqlite-memory keeps none): "
            "set hub.db.type: sqlite-pvc to have users to back up"
        )
    dest = backup.archive_path(target, to)
    writer = backup.ArchiveWriter(dest)
    try:
        with tempfile.TemporaryDirectory(dir=target.state_dir, prefix=".backup-") as tmp:
            snapshot = Path(tmp) / "jupyterhub.sqlite"
            db_integrity = backup.snapshot_db(db, snapshot)
            if db_integrity != "ok":
                raise HarnessError(f"the live hub database fails integrity_check ({db_integrity}): not backed up")
            writer.add_file(backup.DB_MEMBER, snapshot, live=False)  # our own private copy
            users = backup.db_users(snapshot)
        home = target.state_dir / "home"
        for path in sorted(home.rglob("*")) if home.is_dir() else []:
            if path.is_file() and not path.is_symlink():
                try:
                    writer.add_file(f"home/{path.relative_to(home).as_posix()}", path)
                except FileNotFoundError:
                    continue  # gone since it was listed (a save's temporary copy): nothing to keep
        values_json = target.state_dir / "values.json"
        if values_json.is_file():
            writer.add_file("config/values.json", values_json)
        values = json.loads(values_json.read_text()) if values_json.is_file() else {}
        refs = list(chart_values.secret_refs(chart_values.get(values, "hub.extraEnv", {})).values())
        manifest = backup.manifest_base(
            target.context, target.namespace, state.get("chart", ""), refs, users, db_integrity
        )
        archive = writer.finish(manifest)
    except (OSError, sqlite3.Error) as e:
        writer.abort()
        reason = getattr(e, "strerror", None) or str(e)
        raise HarnessError(
            f"backup to {dest} failed: {reason} (disk full or not writable?); nothing was written"
        ) from None
    except BaseException:
        writer.abort()
        raise
    files = writer.files
    return backup.BackupResult(
        archive, users, len(files), sum(f["size"] for f in files.values()), time.monotonic() - started
    )


def _has_user_data(target: LocalTarget) -> list[str]:
    home = target.state_dir / "home"
    with_files = sorted(p.name for p in home.iterdir() if p.is_dir() and any(p.iterdir())) if home.is_dir() else []
    return with_files


def run_restore(target: LocalTarget, archive: Path, force: bool = False) -> backup.RestoreResult:
    started = time.monotonic()
    state = target.read_state()
    if not state:
        raise HarnessError(
            f"nothing deployed in namespace {target.namespace} (context local): "
            "run `invoke deploy` first, then restore into it"
        )
    archive = archive.resolve()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    staging = target.state_dir / f".restore-{stamp}"
    checked = backup.check_and_stage(archive, target.context, target.namespace, staging)
    try:
        running = target.running("hub") is not None
        occupied = _has_user_data(target)
        if running and occupied and not force:
            raise HarnessError(
                f"namespace {target.namespace} is running with user data ({', '.join(occupied[:5])}): "
                "restore would replace it; pass --force (the current data is moved aside, not deleted)"
            )
        values_files = [Path(f) for f in state.get("values_files", [])]
        port = state.get("public_port") or 0
        target.remove(purge=False)

        # The old database and homes are moved aside, never deleted.
        aside = target.state_dir / "pre-restore" / stamp
        present = [n for n in ("jupyterhub.sqlite", "home") if (target.state_dir / n).exists()]
        if present:
            aside.mkdir(parents=True)
        for name in present:
            shutil.move(target.state_dir / name, aside / name)
        restored_db = staging / backup.DB_MEMBER
        backup.forget_servers(restored_db, keep_spawner_state=False)  # a local spawner's state is pids
        shutil.move(restored_db, target.state_dir / "jupyterhub.sqlite")
        (staging / "home").mkdir(exist_ok=True)
        shutil.move(staging / "home", target.state_dir / "home")
        if (staging / "config" / "values.json").is_file():  # for reference: values/ stays the source
            shutil.move(staging / "config" / "values.json", target.state_dir / "archive-values.json")
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    target.deploy(
        values_files or chart_values.values_files(target.context),
        port=port,
        chart_version=state.get("chart") or chart.DEFAULT_CHART_VERSION,
    )
    result = backup.integrity(target.state_dir / "jupyterhub.sqlite")
    if result != "ok":
        raise HarnessError(f"restored database fails integrity_check: {result}; the previous data is in {aside}")
    files = checked.manifest["files"]
    return backup.RestoreResult(
        checked.manifest.get("users", []),
        len(files),
        sum(f["size"] for f in files.values()),
        str(aside) if present else None,
        result,
        time.monotonic() - started,
    )
