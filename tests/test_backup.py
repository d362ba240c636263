"""invoke backup / restore as a user runs them, and every way an archive can be wrong.

Each refusal must leave the deployment exactly as it was.
"""

import io
import json
import os
import resource
import signal
import sqlite3
import subprocess
import tarfile

import pytest

from hubharness.backup import MANIFEST

from .helpers import INVOKE, PROJECT_ROOT


@pytest.fixture(scope="module")
def deployed(module_harness, tmp_path_factory):
    """namespace `bk` with a user home, and one good archive of it."""
    assert module_harness.deploy("bk").code == 0
    home = module_harness.state_dir("bk") / "home" / "ann"
    home.mkdir(parents=True)
    (home / "data.bin").write_bytes(os.urandom(200_000))
    (home / "nb.ipynb").write_text(json.dumps({"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}))
    archive = tmp_path_factory.mktemp("archives") / "good.tar.gz"
    ran = module_harness.invoke("backup", "--namespace", "bk", "--to", str(archive))
    assert ran.code == 0, ran.err
    module_harness.archive = archive
    return module_harness


def database_records(path) -> dict:
    """What a restore would replace in the hub's database: every table's row count, and
    the users (name, admin, created). Not its bytes: the live hub writes activity
    timestamps (its own, its services', the idle culler's requests) at any time."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        counts = {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
        users = conn.execute("SELECT name, admin, created FROM users ORDER BY name").fetchall()
    finally:
        conn.close()
    return {"rows": counts, "users": users}


def snapshot(harness, ns="bk"):
    """What a refused restore must not change: hub pid, database records, home files."""
    state = harness.state_dir(ns)
    status = harness.status(ns)
    files = {str(p.relative_to(state)): p.read_bytes() for p in (state / "home").rglob("*") if p.is_file()}
    return status["hub"]["pid"], database_records(state / "jupyterhub.sqlite"), files


def assert_refused(ran, *words):
    assert ran.code != 0, ran.out
    assert len(ran.err_lines) == 1, ran.err_lines
    for word in words:
        assert word in ran.err, ran.err


def test_backup_says_what_it_wrote(deployed):
    with tarfile.open(deployed.archive) as tar:
        manifest = json.load(tar.extractfile(MANIFEST))
    assert "home/ann/data.bin" in manifest["files"] and "db/jupyterhub.sqlite" in manifest["files"]
    assert manifest["namespace"] == "bk" and manifest["context"] == "local"
    assert deployed.archive.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "not gzip", "manifest lies"])
def test_damaged_archive_is_refused_and_nothing_changes(deployed, tmp_path, damage):
    data = deployed.archive.read_bytes()
    if damage == "flipped byte":
        data = data[: len(data) // 2] + bytes([data[len(data) // 2] ^ 0xFF]) + data[len(data) // 2 + 1 :]
    elif damage == "truncated":
        data = data[: len(data) * 2 // 3]
    elif damage == "not gzip":
        data = b"this is not an archive\n" * 100
    else:
        with tarfile.open(deployed.archive) as tar:
            members = [(m, tar.extractfile(m).read()) for m in tar]
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w:gz") as tar:
            for member, body in members:
                if member.name == "home/ann/data.bin":  # random bytes: flip one, never replace it by chance
                    body = bytes([body[0] ^ 0xFF]) + body[1:]
                tar.addfile(member, io.BytesIO(body))
        data = out.getvalue()
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(data)
    before = snapshot(deployed)
    assert_refused(deployed.invoke("restore", "--namespace", "bk", "--from", str(bad), "--force"), "refused")
    assert snapshot(deployed) == before


def test_archive_of_another_namespace_is_refused(deployed):
    assert deployed.deploy("bk-other").code == 0
    before = snapshot(deployed, "bk-other")
    ran = deployed.invoke("restore", "--namespace", "bk-other", "--from", str(deployed.archive), "--force")
    assert_refused(ran, "namespace bk", "not bk-other", "refused")
    assert snapshot(deployed, "bk-other") == before
    deployed.invoke("remove", "--namespace", "bk-other", "--purge")


def test_archive_of_another_context_is_refused(deployed, tmp_path):
    with tarfile.open(deployed.archive) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar]
    out = tmp_path / "kind.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        for member, body in members:
            if member.name == MANIFEST:
                body = json.dumps({**json.loads(body), "context": "kind"}).encode()
                member.size = len(body)
            tar.addfile(member, io.BytesIO(body))
    before = snapshot(deployed)
    assert_refused(deployed.invoke("restore", "--namespace", "bk", "--from", str(out), "--force"), "context kind")
    assert snapshot(deployed) == before


def test_restore_over_running_users_needs_force(deployed):
    before = snapshot(deployed)
    ran = deployed.invoke("restore", "--namespace", "bk", "--from", str(deployed.archive))
    assert_refused(ran, "--force", "ann")
    assert snapshot(deployed) == before


def test_restore_with_force_moves_current_data_aside(deployed):
    home = deployed.state_dir("bk") / "home" / "ann"
    original = (home / "data.bin").read_bytes()
    (home / "data.bin").write_bytes(b"changed after the backup")
    ran = deployed.invoke("restore", "--namespace", "bk", "--from", str(deployed.archive), "--force")
    assert ran.code == 0, ran.err
    assert (home / "data.bin").read_bytes() == original
    aside = list((deployed.state_dir("bk") / "pre-restore").glob("*/home/ann/data.bin"))
    assert aside and aside[0].read_bytes() == b"changed after the backup", "the replaced data was lost"
    assert deployed.status("bk")["hub"]["healthy"]


def test_backup_to_unwritable_place_fails_cleanly(deployed, tmp_path):
    ran = deployed.invoke("backup", "--namespace", "bk", "--to", "/proc/hubharness.tar.gz")
    assert_refused(ran, "cannot write the backup")
    ran = deployed.invoke("backup", "--namespace", "bk", "--to", str(tmp_path / "missing" / "b.tar.gz"))
    assert_refused(ran, "no such folder")


def test_backup_on_a_full_disk_leaves_no_partial_archive(deployed, tmp_path):
    """RLIMIT_FSIZE stands in for a full disk: writes past 100 kB fail with EFBIG."""

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    done = subprocess.run(
        [INVOKE, "backup", "--namespace", "bk", "--to", str(tmp_path)],
        cwd=PROJECT_ROOT,
        env=deployed.env,
        capture_output=True,
        text=True,
        preexec_fn=limit,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "nothing was written" in lines[0], lines
    assert list(tmp_path.iterdir()) == [], "a partial archive was left behind"


def test_backup_and_restore_of_kind_say_what_is_missing(deployed):
    assert_refused(deployed.invoke("backup", "--context", "kind"), "kind cluster hubharness is not set up here")
    assert_refused(
        deployed.invoke("restore", "--context", "kind", "--from", str(deployed.archive)),
        "kind cluster hubharness is not set up here",
    )


def test_restore_into_nothing_deployed_says_deploy_first(deployed):
    ran = deployed.invoke("restore", "--namespace", "never-deployed", "--from", str(deployed.archive))
    assert_refused(ran, "invoke deploy")


def test_a_file_rewritten_in_place_is_archived_as_one_whole_version(tmp_path):
    """Jupyter saves as jupyter_server's atomic_writing does: the file copied to `.~<name>`
    beside it, truncated and rewritten in place, the copy removed when done. A backup
    must not catch the gap, however slowly the save goes on a busy machine."""
    import shutil
    import threading

    from hubharness.backup import ArchiveWriter

    path, saving = tmp_path / "busy.txt", tmp_path / ".~busy.txt"
    versions = [f"version {n}\n".encode() * 50_000 for n in range(40)]
    path.write_bytes(versions[0])
    stop = threading.Event()

    def rewrite():
        for data in versions[1:]:
            if stop.is_set():
                return
            shutil.copy2(path, saving)
            with open(path, "wb") as f:  # truncate, then write in pieces, like a slow save
                for i in range(0, len(data), 65536):
                    f.write(data[i : i + 65536])
                    f.flush()
                    stop.wait(0.005)
            saving.unlink()
            stop.wait(0.15)

    writer_thread = threading.Thread(target=rewrite)
    writer_thread.start()
    archive = ArchiveWriter(tmp_path / "a.tar.gz")
    try:
        for n in range(15):
            archive.add_file(f"copy{n}", path)
            stop.wait(0.03)
    finally:
        stop.set()
        writer_thread.join()
    archive.finish({})
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        for n in range(15):
            assert tar.extractfile(f"copy{n}").read() in versions, f"copy{n} is a torn write"
