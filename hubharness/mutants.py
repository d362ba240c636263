"""Harness faults for `invoke selftest`, planted in one verify run (a pytest plugin).

BAK, RMV and RES's rotation check the harness's own operations (backup, restore, remove,
rotate-password) on a scratch namespace inside verify's process. To show that those checks can fail, selftest runs
verify with HUBHARNESS_MUTANT naming one of the faults below: the operation is replaced,
for that run only, by a broken one, in the target verify runs on (local, or kubernetes:
a restore that damages the database in the hub's pod, a remove that deletes the users'
volumes …). summary.json records the mutant, so such a run is never mistaken for a real
one. Nothing outside selftest sets it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from . import backup, stable
from .errors import HarnessError
from .hubapi import HubAPI
from .session import MUTANT_ENV
from .targets import target_class
from .targets.base import RemoveResult, Target

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
        if not name.startswith("home/"):
            return original(self, name, path, live)
        # the version backup would archive, read as backup reads it: a file being saved can
        # be empty or short for a moment, and would slip past a look at its size
        spool = io.BytesIO()
        stable.stable_copy(path, spool, live)
        data = spool.getvalue()
        if len(data) <= 64 * 1024:
            return self.add_bytes(name, data)
        return self.add_bytes(name, data[: len(data) // 2])

    return add_file


def _unchecked_stage(archive: Path, context: str, namespace: str, staging: Path) -> backup.Checked:
    staging.mkdir(parents=True)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(staging, filter="data")
    return backup.Checked(json.loads((staging / backup.MANIFEST).read_text()), staging)


# Pages that no table owns: integrity_check fails on them, while the hub, which never
# reads them, works on. Python, so that it runs in the hub's pod as it runs here.
ORPHAN_PAGES = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=30)
conn.execute("CREATE TABLE fault_orphan (x)")
conn.executemany("INSERT INTO fault_orphan VALUES (?)", [(b"x" * 3000,)] * 10)
conn.commit()
conn.execute("PRAGMA writable_schema=ON")
conn.execute("DELETE FROM sqlite_master WHERE name = 'fault_orphan'")
conn.commit()
conn.close()
"""


def _corrupting_restore(original):
    """The restored database is damaged after restore checked it."""

    def restore(target, archive, force=False):
        result = original(target, archive, force=force)
        target.damage_hub_database(ORPHAN_PAGES)
        return result

    return restore


def _remove_mutant(name: str, original):
    """Broken with the target's own primitives (delete_homes, runs_nothing)."""

    def remove(self, purge: bool = False) -> RemoveResult:
        if name == "remove-deletes-homes":
            said = original(self, purge=purge)
            self.delete_homes()
            return said
        if name == "remove-twice-fails":
            if self.runs_nothing() and not purge:
                raise HarnessError(f"namespace {self.namespace} is not running")
            return original(self, purge=purge)
        if name == "purge-keeps-state":
            said = original(self, purge=False)
            return said if not purge else RemoveResult(f"removed namespace {self.namespace} and all its data")
        said = original(self, purge=purge)  # remove-quiet-when-nothing-deployed
        return RemoveResult(f"removed namespace {self.namespace}") if not said.removed else said

    return remove


def _server_stopping_restart(original):
    """The hub restarted, and every user's server stopped with it."""

    def restart_hub(self) -> None:
        original(self)
        deployment = self.deployment()
        try:
            api = HubAPI(deployment.public_url, deployment.service_token())
            for user in api.users(state="active"):
                for server in user.get("servers") or {}:
                    api.stop_server(user["name"], server)
        finally:
            deployment.close()

    return restart_hub


def plant(name: str, patch: pytest.MonkeyPatch, target_cls: type[Target]) -> None:
    """The mutant in the operations of this target class (the one verify's context uses)."""
    if name == "backup-lies-about-checksums":
        patch.setattr(backup.ArchiveWriter, "finish", _lying_finish(backup.ArchiveWriter.finish))
    elif name == "backup-tears-files":
        patch.setattr(backup.ArchiveWriter, "add_file", _tearing_add_file(backup.ArchiveWriter.add_file))
    elif name == "restore-skips-archive-check":
        patch.setattr(backup, "check_and_stage", _unchecked_stage)
    elif name == "restore-corrupts-database":
        patch.setattr(target_cls, "restore", _corrupting_restore(target_cls.restore))
    elif name in (
        "remove-deletes-homes",
        "remove-twice-fails",
        "purge-keeps-state",
        "remove-quiet-when-nothing-deployed",
    ):
        patch.setattr(target_cls, "remove", _remove_mutant(name, target_cls.remove))
    elif name == "rotation-restarts-nothing":
        patch.setattr(target_cls, "restart_hub", lambda self: None)
    elif name == "rotation-stops-servers":
        patch.setattr(target_cls, "restart_hub", _server_stopping_restart(target_cls.restart_hub))
    else:
        raise pytest.UsageError(f"{MUTANT_ENV}={name}: no such harness fault")


def pytest_configure(config):
    patch = pytest.MonkeyPatch()
    plant(os.environ[MUTANT_ENV], patch, target_class(config.getoption("context")))
    config.stash[_PATCH] = patch


def pytest_unconfigure(config):
    config.stash[_PATCH].undo()
