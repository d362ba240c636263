"""Runs inside a pod, as `python3 -c <this file's text> <mode> <args…>`, for backup and
restore on kubernetes, with hubharness/stable.py's text ahead of it (homes are read as
backup reads them here: each file one whole version). Standard library only: the hub and
notebook images are all it may count on.

Data to restore comes in on stdin with its size and sha256 given first, so the end of
the stream needs no stdin close (only the v5 exec protocol has one) and a torn or
altered transfer is refused before anything is replaced. What was there is moved
aside, never deleted.
"""

import hashlib
import json
import os
import sqlite3
import sys
import tarfile
from pathlib import Path

CHUNK = 1 << 20
INCOMING = ".hubharness-restoring"


def integrity(db):
    conn = sqlite3.connect("file:" + db + "?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def snapshot(db):
    """sqlite's online backup of the live database into memory, written to stdout."""
    source = sqlite3.connect("file:" + db + "?mode=ro", uri=True, timeout=30)
    copy = sqlite3.connect(":memory:")
    source.backup(copy)
    sys.stdout.buffer.write(copy.serialize())


def receive(path, size, sha256):
    digest, left = hashlib.sha256(), size
    with open(path, "wb") as out:
        while left:
            chunk = sys.stdin.buffer.read(min(left, CHUNK))
            if not chunk:
                os.unlink(path)
                sys.exit(f"the stream ended after {size - left} of {size} bytes: nothing replaced")
            digest.update(chunk)
            out.write(chunk)
            left -= len(chunk)
        out.flush()
        os.fsync(out.fileno())
    if digest.hexdigest() != sha256:
        os.unlink(path)
        sys.exit("what arrived does not match its sha256: nothing replaced")


def restore_db(db, size, sha256, aside):
    """The database arrives beside the live one, is checked, and takes its place; the
    old one (with any journal) goes to `aside`."""
    incoming = os.path.join(os.path.dirname(db), INCOMING + "-" + os.path.basename(db))
    receive(incoming, size, sha256)
    if integrity(incoming) != "ok":
        os.unlink(incoming)
        sys.exit("the database that arrived fails integrity_check: nothing replaced")
    present = [p for p in (db, db + "-journal", db + "-wal", db + "-shm") if os.path.exists(p)]
    if present:
        os.makedirs(aside)
        for path in present:
            os.replace(path, os.path.join(aside, os.path.basename(path)))
    os.replace(incoming, db)
    print(json.dumps({"integrity": integrity(db), "moved_aside": aside if present else None}))


def restore_home(home, size, sha256, aside):
    """A tar of the home arrives, is checked, and is unpacked; what the home held before
    goes to `aside` (relative to the home, whose first part is never moved)."""
    incoming = os.path.join(home, INCOMING + ".tar")
    receive(incoming, size, sha256)
    keep = {INCOMING + ".tar", aside.split("/")[0], "lost+found"}  # ext4's own: root's, not the user's
    present = sorted(name for name in os.listdir(home) if name not in keep)
    if present:
        os.makedirs(os.path.join(home, aside))
        for name in present:
            os.replace(os.path.join(home, name), os.path.join(home, aside, name))
    with tarfile.open(incoming) as tar:
        files = sum(1 for member in tar if member.isfile())
        if hasattr(tarfile, "data_filter"):  # refuses absolute paths, .. and devices
            tar.extractall(home, filter="data")
        else:  # an image older than Python 3.11.4; the tar was made by hubharness from a checked archive
            tar.extractall(home)
    os.unlink(incoming)
    print(json.dumps({"files": files, "moved_aside": aside if present else None}))


def env_digest(name):
    """The sha256 of one variable of this container's environment: the value never leaves it."""
    value = os.environ.get(name)
    print("unset" if value is None else hashlib.sha256(value.encode()).hexdigest())


def tar_home(home, exclude):
    """The home as a tar stream on stdout, each file one whole version of it (stable_copy,
    sent ahead of this text); exit 1 when a file did not settle, as GNU tar exits when a
    file changed while it read it."""
    import tempfile

    settled = True
    with tarfile.open(fileobj=sys.stdout.buffer, mode="w|") as out:

        def unreadable(error):
            raise error

        for root, dirs, files in os.walk(home, onerror=unreadable):
            dirs[:] = sorted(d for d in dirs if not (root == home and d == exclude))
            for name in sorted(files):
                path = os.path.join(root, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                with tempfile.SpooledTemporaryFile(max_size=64 << 20) as spool:
                    try:
                        _, size, ok = stable_copy(Path(path), spool, True)  # noqa: F821 — stable.py's, sent ahead
                        mtime = os.stat(path).st_mtime
                    except FileNotFoundError:
                        continue  # deleted while the home was read
                    settled = settled and ok
                    info = tarfile.TarInfo(os.path.relpath(path, home))
                    info.size, info.mtime, info.mode = size, mtime, 0o600
                    spool.seek(0)
                    out.addfile(info, spool)
    sys.stdout.buffer.flush()
    sys.exit(0 if settled else 1)


def main(argv):
    mode, args = argv[0], argv[1:]
    if mode == "env-digest":
        env_digest(args[0])
    elif mode == "integrity":
        print(integrity(args[0]))
    elif mode == "snapshot":
        snapshot(args[0])
    elif mode == "restore-db":
        restore_db(args[0], int(args[1]), args[2], args[3])
    elif mode == "tar-home":
        try:
            tar_home(args[0], args[1])
        except Exception as e:  # noqa: BLE001 — exit 1 says "a file did not settle": anything else is no backup
            sys.stderr.write(f"reading the home failed: {type(e).__name__}: {e}\n")
            sys.exit(2)
    elif mode == "restore-home":
        restore_home(args[0], int(args[1]), args[2], args[3])
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main(sys.argv[1:])
