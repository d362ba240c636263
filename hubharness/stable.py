"""Reading a file a user may be saving, as one whole version of it. Standard library only:
backup runs it here, and the kubernetes target sends this text into the user's pod with
targets/kube/inpod.py to read homes where they lie."""

import hashlib
import time
from pathlib import Path

CHUNK = 1 << 20
QUIET = 0.1  # seconds a file must be unmodified before it is read
MIN_QUIET = 0.01  # what will do once half of SETTLE_LIMIT passed: a save rewrites a file in milliseconds
SETTLE_LIMIT = 5.0  # seconds to wait for one file to settle


def stable_copy(path: Path, spool, live: bool = True) -> tuple[str, int, bool]:
    """Read a file a user may be writing into `spool`: only while no save of it is under
    way, once it has been quiet for QUIET seconds, and only if two stats around the read
    agree. Jupyter's contents manager rewrites a file in place (truncate, then write,
    from a thread), keeping the previous version as `.~<name>` beside it until the save
    is done: a read during a save would catch a torn or empty file. A file saved more
    often than every QUIET seconds is read in a shorter quiet moment (MIN_QUIET) after
    half of SETTLE_LIMIT. Returns (sha256, size, settled); unsettled after SETTLE_LIMIT
    seconds, the last read is kept and the manifest says so."""
    saving = path.with_name(f".~{path.name}")
    started = time.monotonic()
    deadline = started + SETTLE_LIMIT
    while True:
        before = path.stat()
        quiet_for = time.time() - before.st_mtime
        need = QUIET if time.monotonic() - started < SETTLE_LIMIT / 2 else MIN_QUIET
        if live and (quiet_for < need or saving.exists()) and time.monotonic() < deadline:
            time.sleep(max(need - quiet_for, 0.005))
            continue
        spool.seek(0)
        spool.truncate()
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
                spool.write(chunk)
        after = path.stat()
        settled = (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns) == (
            spool.tell(),
            after.st_mtime_ns,
        ) and not (live and saving.exists())
        if settled or time.monotonic() >= deadline:
            return digest.hexdigest(), spool.tell(), settled
