"""Backup archives: what goes in, how it is checked before anything is overwritten.

An archive is a gzip'd tar: db/jupyterhub.sqlite (taken with sqlite's online
backup API, never a copy of the live file), home/<user>/..., config/values.json,
and manifest.json last, with the sha256 and size of every other member. Secrets
are not stored; the manifest names the Secret they come from.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import __version__
from .errors import HarnessError
from .stable import CHUNK, stable_copy

FORMAT = "hubharness-backup/1"
MANIFEST = "manifest.json"
DB_MEMBER = "db/jupyterhub.sqlite"


def snapshot_db(live: Path, dest: Path) -> str:
    """Copy a live sqlite database with its online backup API; return integrity_check."""
    source = sqlite3.connect(f"file:{live}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(dest)
    try:
        source.backup(target)
        return target.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        target.close()
        source.close()


def size_and_sha256(fileobj) -> tuple[int, str]:
    """Of a file object, read from its start; it is left at its start again."""
    fileobj.seek(0)
    digest, size = hashlib.sha256(), 0
    while chunk := fileobj.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    fileobj.seek(0)
    return size, digest.hexdigest()


def schema_revision(db: Path) -> str | None:
    """The alembic revision a JupyterHub database is at (None: not a hub's database yet)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()
    return row[0] if row else None


def integrity(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


class ArchiveWriter:
    """Writes to a temporary file beside the destination; only a complete archive is renamed in."""

    def __init__(self, dest: Path):
        self.dest = dest
        try:
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".partial")
        except OSError as e:
            raise HarnessError(
                f"cannot write the backup to {dest.parent}: {e.strerror}; choose a writable folder with --to"
            ) from None
        os.close(fd)
        self.tmp = Path(tmp)
        self.tar = tarfile.open(self.tmp, "w:gz", compresslevel=1)  # noqa: SIM115
        self.files: dict[str, dict] = {}
        self.unsettled: list[str] = []  # files still being written when they were read

    def _add(self, name: str, fileobj, size: int, mtime: float, digest: str) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, mtime, 0o600
        fileobj.seek(0)
        self.tar.addfile(info, fileobj)
        self.files[name] = {"sha256": digest, "size": size}

    def add_file(self, name: str, path: Path, live: bool = True) -> None:
        """`live`: someone may be writing it (a home file), so wait for it to settle."""
        with tempfile.SpooledTemporaryFile(max_size=64 << 20) as spool:
            digest, size, settled = stable_copy(path, spool, live)
            self._add(name, spool, size, path.stat().st_mtime, digest)
        if not settled:
            self.unsettled.append(name)

    def add_bytes(self, name: str, data: bytes) -> None:
        self._add(name, io.BytesIO(data), len(data), time.time(), hashlib.sha256(data).hexdigest())

    def finish(self, manifest: dict) -> Path:
        manifest = {**manifest, "files": self.files, "changing_during_backup": self.unsettled}
        data = json.dumps(manifest, indent=2, sort_keys=True).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mtime, info.mode = len(data), time.time(), 0o600
        self.tar.addfile(info, io.BytesIO(data))
        self.tar.close()
        os.chmod(self.tmp, 0o600)
        os.replace(self.tmp, self.dest)
        return self.dest

    def abort(self) -> None:
        try:
            self.tar.close()
        except Exception:  # noqa: BLE001, S110 — closing a tar on a full disk fails again; the file goes anyway
            pass
        self.tmp.unlink(missing_ok=True)


@dataclass
class RestoreResult:
    users: list[str]
    files: int
    bytes: int
    moved_aside: str | None  # where the data it replaced is
    integrity: str
    seconds: float


def forget_servers(db: Path, keep_spawner_state: bool) -> None:
    """The archived servers do not exist after a restore: mark them stopped, so the hub
    does not poll what is gone. keep_spawner_state: KubeSpawner keeps the name of the
    user's volume there; a local spawner's state is pids, which would be recycled."""
    conn = sqlite3.connect(db)
    try:
        with conn:
            if keep_spawner_state:
                conn.execute("UPDATE spawners SET server_id = NULL")
            else:
                conn.execute("UPDATE spawners SET server_id = NULL, state = '{}'")
            conn.execute("DELETE FROM servers")
    finally:
        conn.close()


@dataclass
class BackupResult:
    archive: Path
    users: list[str]
    files: int
    bytes: int
    seconds: float
    secrets: list[str] = field(default_factory=list)  # the Secrets the deployment reads, not archived


def db_users(db: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return sorted(r[0] for r in conn.execute("SELECT name FROM users"))
    finally:
        conn.close()


def default_archive(target) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return Path.cwd() / f"hubharness-backup-{target.context}-{target.namespace}-{stamp}.tar.gz"


def archive_path(target, to: Path | None) -> Path:
    """--to as a file, or a folder for the default name; its folder must exist."""
    dest = (to or default_archive(target)).resolve()
    if dest.is_dir():
        dest = dest / default_archive(target).name
    if not dest.parent.is_dir():
        raise HarnessError(
            f"cannot write the backup to {dest.parent}: no such folder; create it or choose another --to"
        )
    return dest


def manifest_base(
    context: str,
    namespace: str,
    chart_version: str,
    secret_refs: list[tuple[str, str]],
    users: list[str],
    db_integrity: str,
    jupyterhub: str | None = None,
) -> dict:
    """jupyterhub: the hub's version where it is not this Python's (a chart's hub image)."""
    from importlib.metadata import version

    return {
        "format": FORMAT,
        "harness": __version__,
        "jupyterhub": jupyterhub or version("jupyterhub"),
        "chart": chart_version,
        "context": context,
        "namespace": namespace,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "secrets": [{"name": n, "key": k, "stored": False} for n, k in secret_refs],
        "users": users,
        "db_integrity": db_integrity,
    }


def write_archive(
    target, to: Path | None, fill: Callable[[ArchiveWriter, Path], dict], scratch: Path | None = None
) -> BackupResult:
    """The one way an archive is written, whatever the target: choose its path, let `fill`
    add the members (with a private scratch folder, in `scratch` or the system's) and
    return the manifest, then rename the complete archive in. On any error nothing is left
    behind and the error is one line."""
    started = time.monotonic()
    dest = archive_path(target, to)
    writer = ArchiveWriter(dest)
    try:
        with tempfile.TemporaryDirectory(dir=scratch, prefix=".hubharness-backup-") as tmp:
            manifest = fill(writer, Path(tmp))
        archive = writer.finish(manifest)
    except (OSError, sqlite3.Error, tarfile.TarError) as e:
        writer.abort()
        reason = getattr(e, "strerror", None) or str(e)
        hint = "" if isinstance(e, tarfile.TarError) else " (disk full or not writable?)"
        raise HarnessError(f"backup to {dest} failed: {reason}{hint}; nothing was written") from None
    except BaseException:
        writer.abort()
        raise
    files = writer.files
    return BackupResult(
        archive,
        manifest["users"],
        len(files),
        sum(f["size"] for f in files.values()),
        time.monotonic() - started,
        sorted({s["name"] for s in manifest.get("secrets", [])}),
    )


@dataclass
class Checked:
    manifest: dict
    staging: Path


def _safe_member(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts and bool(path.parts)


def check_and_stage(archive: Path, context: str, namespace: str, staging: Path) -> Checked:
    """Extract into `staging` while checking every byte against the manifest.

    Raises HarnessError (and removes `staging`) for a corrupted, truncated, unsafe or
    foreign archive; the deployment is not touched either way.
    """
    if not archive.is_file():
        raise HarnessError(f"no backup archive at {archive}")
    staging.mkdir(parents=True)
    os.chmod(staging, 0o700)
    seen: dict[str, dict] = {}
    manifest = None
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if not member.isfile() or not _safe_member(member.name):
                    raise HarnessError(f"archive {archive} holds an unexpected member {member.name!r}: refused")
                source = tar.extractfile(member)
                if source is None:  # isfile() above: a regular member always has a file object
                    raise HarnessError(f"archive {archive}: member {member.name!r} cannot be read: refused")
                if member.name == MANIFEST:
                    manifest = json.loads(source.read())
                    continue
                dest = staging / member.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                digest, size = hashlib.sha256(), 0
                with open(dest, "wb") as out:
                    while chunk := source.read(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                os.utime(dest, (member.mtime, member.mtime))
                seen[member.name] = {"sha256": digest.hexdigest(), "size": size}
        if manifest is None:
            raise HarnessError(f"archive {archive} has no manifest (truncated, or not a hubharness backup): refused")
        if manifest.get("format") != FORMAT:
            raise HarnessError(f"archive {archive} is not a {FORMAT} archive: refused")
        if (manifest.get("context"), manifest.get("namespace")) != (context, namespace):
            raise HarnessError(
                f"archive {archive} is of namespace {manifest.get('namespace')} (context "
                f"{manifest.get('context')}), not {namespace} ({context}): refused; restore it there"
            )
        expected = manifest.get("files", {})
        bad = sorted(n for n in set(expected) | set(seen) if expected.get(n) != seen.get(n))
        if bad:
            raise HarnessError(
                f"archive {archive} does not match its manifest ({len(bad)} file(s), "
                f"first {bad[0]}): corrupted, refused"
            )
        if DB_MEMBER in seen and integrity(staging / DB_MEMBER) != "ok":
            raise HarnessError(f"archive {archive}: its hub database fails integrity_check: refused")
        return Checked(manifest, staging)
    except (tarfile.TarError, EOFError, OSError, zlib_error(), ValueError, sqlite3.DatabaseError) as e:
        shutil.rmtree(staging, ignore_errors=True)
        raise HarnessError(
            f"archive {archive} is unreadable ({type(e).__name__}: {e}): corrupted or truncated, refused"
        ) from None
    except HarnessError:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def zlib_error():
    import zlib

    return zlib.error
