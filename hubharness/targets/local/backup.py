"""Backup and restore of a local namespace's data (the archive format is in
hubharness.backup): the hub database through sqlite's online backup, homes file by file.
The target stops and starts the hub around a restore (LocalTarget.restore)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from ... import backup
from ... import values as chart_values
from ...errors import HarnessError
from ..base import BackupResult
from .state import DATABASE, StateFolder


def run_backup(folder: StateFolder, to: Path | None = None) -> BackupResult:
    state = folder.read_state()
    db = folder.database
    if not state:
        raise HarnessError(f"nothing deployed in namespace {folder.namespace} (context local): nothing to back up")
    if not db.is_file():
        raise HarnessError(
            f"no hub database in {folder.state_dir} (hub.db.type sqlite-memory keeps none): "
            "set hub.db.type: sqlite-pvc to have users to back up"
        )

    def fill(writer: backup.ArchiveWriter, tmp: Path) -> dict:
        snapshot = tmp / DATABASE
        db_integrity = backup.snapshot_db(db, snapshot)
        if db_integrity != "ok":
            raise HarnessError(f"the live hub database fails integrity_check ({db_integrity}): not backed up")
        writer.add_file(backup.DB_MEMBER, snapshot, live=False)  # our own private copy
        users = backup.db_users(snapshot)
        home = folder.state_dir / "home"
        for path in sorted(home.rglob("*")) if home.is_dir() else []:
            if path.is_file() and not path.is_symlink():
                try:
                    writer.add_file(f"home/{path.relative_to(home).as_posix()}", path)
                except FileNotFoundError:
                    continue  # gone since it was listed (a save's temporary copy): nothing to keep
        values_json = folder.state_dir / "values.json"
        if values_json.is_file():
            writer.add_file("config/values.json", values_json)
        values = json.loads(values_json.read_text()) if values_json.is_file() else {}
        refs = list(chart_values.secret_refs(chart_values.get(values, "hub.extraEnv", {})).values())
        return backup.manifest_base(folder.context, folder.namespace, state.get("chart", ""), refs, users, db_integrity)

    # the snapshot is made beside the live database: same disk, same privacy
    return backup.write_archive(folder, to, fill, scratch=folder.state_dir)


def stage(folder: StateFolder, archive: Path) -> tuple[backup.Checked, str]:
    """The archive checked and unpacked beside the state (nothing replaced yet); its stamp."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    staging = folder.state_dir / f".restore-{stamp}"
    return backup.check_and_stage(archive.resolve(), folder.context, folder.namespace, staging), stamp


def swap_in(folder: StateFolder, checked: backup.Checked, stamp: str) -> Path | None:
    """With the hub stopped: the database and homes move aside (never deleted), the staged
    ones take their place. Returns where the old data went, if there was any."""
    staging = checked.staging
    try:
        aside = folder.state_dir / "pre-restore" / stamp
        present = [n for n in (DATABASE, "home") if (folder.state_dir / n).exists()]
        if present:
            aside.mkdir(parents=True)
        for name in present:
            shutil.move(folder.state_dir / name, aside / name)
        restored_db = staging / backup.DB_MEMBER
        backup.forget_servers(restored_db, keep_spawner_state=False)  # a local spawner's state is pids
        shutil.move(restored_db, folder.database)
        (staging / "home").mkdir(exist_ok=True)
        shutil.move(staging / "home", folder.state_dir / "home")
        if (staging / "config" / "values.json").is_file():  # for reference: values/ stays the source
            shutil.move(staging / "config" / "values.json", folder.state_dir / "archive-values.json")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return aside if present else None
