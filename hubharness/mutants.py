"""Harness faults for `invoke selftest`, planted in one verify run (a pytest plugin).

BAK and RMV check the harness's own operations (backup, restore, remove) on a scratch
namespace inside verify's process. To show that those checks can fail, selftest runs
verify with HUBHARNESS_MUTANT naming one of the faults below: the operation is replaced,
for that run only, by a broken one. summary.json records the mutant, so such a run is
never mistaken for a real one. Nothing outside selftest sets it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
from pathlib import Path

import pytest

from . import backup
from .errors import HarnessError
from .targets.base import RemoveResult
from .targets.local import LocalTarget
from .verify import MUTANT_ENV

_PATCH = pytest.StashKey[pytest.MonkeyPatch]()


def _lying_finish(original):
    def finish(self, manifest):
        self.files = {
            name: {**entry, "sha256": hashlib.sha256(entry["sha256"].encode()).hexdigest()}
            for name, entry in self.files.items()
        }
        return original(self, manifest)

    return finish


def _tearing_add_file(original):
    """A home file larger than 64 KiB goes in half: what a torn read of a file being
    saved looks like. The hub database is archived as it should be."""

    def add_file(self, name: str, path: Path, live: bool = True):
        if not name.startswith("home/") or path.stat().st_size <= 64 * 1024:
            return original(self, name, path, live)
        data = path.read_bytes()
        return self.add_bytes(name, data[: len(data) // 2])

    return add_file


def _unchecked_stage(archive: Path, context: str, namespace: str, staging: Path) -> backup.Checked:
    staging.mkdir(parents=True)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(staging, filter="data")
    return backup.Checked(json.loads((staging / backup.MANIFEST).read_text()), staging)


def _corrupting_restore(original):
    """The restored database gets pages that no table owns: integrity_check fails on
    them, while the hub, which never reads them, works on."""

    def restore(target, archive, force=False):
        result = original(target, archive, force=force)
        conn = sqlite3.connect(target.state_dir / "jupyterhub.sqlite", timeout=30)
        try:
            conn.execute("CREATE TABLE fault_orphan (x)")
            conn.executemany("INSERT INTO fault_orphan VALUES (?)", [(b"x" * 3000,)] * 10)
            conn.commit()
            conn.execute("PRAGMA writable_schema=ON")
            conn.execute("DELETE FROM sqlite_master WHERE name = 'fault_orphan'")
            conn.commit()
        finally:
            conn.close()
        return result

    return restore


def _remove_mutant(name: str, original):
    def remove(self, purge: bool = False) -> RemoveResult:
        if name == "remove-deletes-homes":
            said = original(self, purge=purge)
            shutil.rmtree(self.state_dir / "home", ignore_errors=True)
            return said
        if name == "remove-twice-fails":
            if self.state_dir.exists() and self.running("hub") is None and not purge:
                raise HarnessError(f"namespace {self.namespace} is not running")
            return original(self, purge=purge)
        if name == "purge-keeps-state":
            said = original(self, purge=False)
            return said if not purge else RemoveResult(f"removed namespace {self.namespace} and all its data")
        said = original(self, purge=purge)  # remove-quiet-when-nothing-deployed
        return RemoveResult(f"removed namespace {self.namespace}") if not said.removed else said

    return remove


def plant(name: str, patch: pytest.MonkeyPatch) -> None:
    if name == "backup-lies-about-checksums":
        patch.setattr(backup.ArchiveWriter, "finish", _lying_finish(backup.ArchiveWriter.finish))
    elif name == "backup-tears-files":
        patch.setattr(backup.ArchiveWriter, "add_file", _tearing_add_file(backup.ArchiveWriter.add_file))
    elif name == "restore-skips-archive-check":
        patch.setattr(backup, "check_and_stage", _unchecked_stage)
    elif name == "restore-corrupts-database":
        patch.setattr(LocalTarget, "restore", _corrupting_restore(LocalTarget.restore))
    elif name in (
        "remove-deletes-homes",
        "remove-twice-fails",
        "purge-keeps-state",
        "remove-quiet-when-nothing-deployed",
    ):
        patch.setattr(LocalTarget, "remove", _remove_mutant(name, LocalTarget.remove))
    else:
        raise pytest.UsageError(f"{MUTANT_ENV}={name}: no such harness fault")


def pytest_configure(config):
    patch = pytest.MonkeyPatch()
    plant(os.environ[MUTANT_ENV], patch)
    config.stash[_PATCH] = patch


def pytest_unconfigure(config):
    config.stash[_PATCH].undo()
