"""Background processes the local target owns: start detached, recognise, stop."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from .errors import HarnessError


@dataclass(frozen=True)
class ProcessRecord:
    """A pid plus its start time, so a recycled pid is never mistaken for ours."""

    pid: int
    create_time: float

    def process(self) -> psutil.Process | None:
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) > 0.01:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.Error:
            return None

    def alive(self) -> bool:
        return self.process() is not None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict | None) -> ProcessRecord | None:
        return cls(**data) if data else None


def start(cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> ProcessRecord:
    """Start `cmd` in its own session, detached from our terminal, logging to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        os.chmod(log, 0o600)
        proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return ProcessRecord(proc.pid, psutil.Process(proc.pid).create_time())


def running(proc: psutil.Process) -> bool:
    """It runs: a zombie has ended (its parent, maybe not us, reaps it), and one gone is gone."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _is_child(proc: psutil.Process) -> bool:
    try:
        return proc.ppid() == os.getpid()
    except psutil.NoSuchProcess:
        return False


def _wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Poll until they are gone; a zombie counts as gone (its parent, maybe not us, reaps
    it), which psutil's wait() on a process that is not our child would not see. A daemon's
    zombie is init's to reap, whenever it does: nothing here waits for that (on this
    machine's init, a second or more)."""
    deadline = time.monotonic() + timeout
    alive = [p for p in procs if running(p)]
    while alive and time.monotonic() < deadline:
        psutil.wait_procs([p for p in alive if _is_child(p)], timeout=0.05)  # reap ours
        time.sleep(0.02)
        alive = [p for p in alive if running(p)]
    return alive


def stop(proc: psutil.Process, timeout: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL; a process that is already gone is fine."""
    stop_all([proc], timeout)


def stop_all(procs: list[psutil.Process], timeout: float = 10.0) -> None:
    """SIGTERM then SIGCONT to each (a stopped process acts on SIGTERM only once continued,
    as systemd does it), wait, then SIGKILL what is left."""
    for proc in procs:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.send_signal(signal.SIGCONT)
        except psutil.NoSuchProcess:
            pass
    kill_all(_wait_gone(procs, timeout), 5)


def kill_all(procs: list[psutil.Process], timeout: float = 10.0) -> None:
    """SIGKILL each at once, as a pod deleted with no grace period, and wait until they are gone."""
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    _wait_gone(procs, timeout)


def carries(value: str, marker: str) -> bool:
    """`marker` is in `value` as a whole: the state folder /h/ld is not in /h/ldtraf (removing
    namespace ld once stopped namespace ldtraf's hub), a hub URL's 127.0.0.1:8000/ is in
    http://127.0.0.1:8000/hub/api."""
    start = value.find(marker)
    while start != -1:
        after = value[start + len(marker) : start + len(marker) + 1]
        if marker.endswith("/") or not after or not (after.isalnum() or after in "-_."):
            return True
        start = value.find(marker, start + 1)
    return False


def processes_under(directory: Path, env_markers: dict[str, str] | None = None) -> list[psutil.Process]:
    """Processes working inside `directory` (hub, proxy, user servers), or carrying one of
    `env_markers` (name → substring) in their environment: a user's job or a Spark JVM
    that changed directory still carries its server's JUPYTERHUB_API_URL."""
    directory = directory.resolve()
    found = []
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == os.getpid():
            continue
        try:
            cwd = Path(proc.cwd())
            if cwd == directory or directory in cwd.parents:
                found.append(proc)
            elif env_markers:
                env = proc.environ()
                if any(carries(env.get(name, ""), marker) for name, marker in env_markers.items()):
                    found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


# Ports handed out lately, by every process of the harness on this machine: a port is free
# between free_port() and the bind of whoever asked for it, and two deploys at once (verify's
# scratch namespaces, selftest's jobs) could otherwise be handed the same one.
PORTS_HANDED_OUT = Path(tempfile.gettempdir()) / "hubharness-ports"
PORT_HELD_FOR = 120.0  # seconds: long enough for a hub, a proxy or a server to bind it
_swept: list[bool] = []


def _drop_if_stale(mark: Path) -> None:
    """A port's mark handed out over PORT_HELD_FOR ago: bound by now, or not wanted."""
    with contextlib.suppress(OSError):
        if time.time() - mark.stat().st_mtime > PORT_HELD_FOR:
            mark.unlink()


def _unbound_port() -> int:
    """A port the kernel gives, free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port() -> int:
    """A port nothing listens on now, and that no process of the harness was handed in the
    last PORT_HELD_FOR seconds (a file per port under PORTS_HANDED_OUT, made exclusively)."""
    if not PORTS_HANDED_OUT.is_dir():
        PORTS_HANDED_OUT.mkdir(exist_ok=True)
    elif not _swept:  # once a process: the marks of ports held no longer go
        _swept.append(True)
        for old in PORTS_HANDED_OUT.iterdir():
            _drop_if_stale(old)
    for _ in range(50):
        port = _unbound_port()
        mark = PORTS_HANDED_OUT / str(port)
        _drop_if_stale(mark)
        try:
            os.close(os.open(mark, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            continue  # another deploy was handed it a moment ago
        return port
    raise HarnessError(f"no free port that no other deploy was just handed, in 50 tries ({PORTS_HANDED_OUT})")


def port_in_use(port: int) -> bool:
    """Something holds the port. SO_REUSEADDR, as servers set it: TIME_WAIT is not use."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def require_free(port: int, what: str) -> None:
    if port_in_use(port):
        raise HarnessError(
            f"port {port} on 127.0.0.1 ({what}) is in use: stop what holds it, "
            "or pass --port N (or --port 0 for any free port)"
        )


def log_tail(path: Path, lines: int = 60) -> str:
    if not path.is_file():
        return ""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 64 * 1024))
        text = f.read().decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])


def last_meaningful_line(path: Path) -> str:
    for line in reversed(log_tail(path, 40).splitlines()):
        if line.strip():
            return line.strip()[-300:]
    return "(log is empty)"
