"""The kubelet of a local namespace, for one component (hub or proxy): it runs the
component's process and starts it again whenever it exits, as a container with
`restartPolicy: Always` is, with the kubelet's back-off, and counts the restarts.

Run as `python -I supervisor.py --name hub --status FILE --log FILE -- command …`. The component inherits the supervisor's environment (the hub's holds its
secrets: never on a command line, never in a file). What it observes goes to the status
file (pods/<name>.json), the local analogue of a pod's containerStatuses: the running
process, restartCount, the last exit and the back-off. SIGTERM stops the component
(SIGTERM, then SIGKILL after a grace period, as a pod's deletion does) and then the
supervisor. Standard library only, run by its path in isolated mode: it starts in
milliseconds and imports nothing of the harness (the target imports it for its numbers).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

# The kubelet's container restart back-off: the first restart at once, then 10 s doubling
# up to 5 min; a container that ran 10 min without exiting starts again from the first.
BACKOFF_START = 10.0
BACKOFF_MAX = 300.0
BACKOFF_RESET_AFTER = 600.0
GRACE = 10.0  # SIGTERM → SIGKILL, as terminationGracePeriodSeconds
POLL = 0.1  # how often the child is looked at where the kernel cannot say it exited (no pidfd)
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: if the supervisor dies (even SIGKILL), so does the
    component, as a container does with its pod; nothing runs unsupervised."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: remove still sweeps the namespace's processes


def _process_start_time(pid: int) -> float | None:
    """As psutil's create_time(), so ProcessRecord recognises the process without psutil
    being imported here."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        boot = next(
            float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime")
        )
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


class Supervisor:
    def __init__(self, name: str, command: list[str], status: Path, log: Path, restarts: int, backoff: float):
        self.name, self.command, self.status_file, self.log = name, command, status, log
        self.restarts, self.backoff_start = restarts, backoff
        self.backoff = 0.0  # the next wait before a restart; 0: at once
        self.stopping = False
        self.child: subprocess.Popen | None = None
        # the pipe a signal's arrival writes a byte to (run: signal.set_wakeup_fd), read end first
        self.wakeup, self.wakeup_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.status: dict = {
            "name": name,
            "supervisor": {"pid": os.getpid(), "create_time": _process_start_time(os.getpid())},
            "container": None,
            "restarts": restarts,
            "state": "waiting",
            "reason": "ContainerCreating",
            "last_exit": None,
        }

    def write(self, **changes) -> None:
        self.status.update(changes)
        tmp = self.status_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.status, indent=2, sort_keys=True))
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.status_file)

    def on_signal(self, signum, frame) -> None:
        self.stopping = True

    def start_child(self) -> None:
        with open(self.log, "ab") as out:
            os.chmod(self.log, 0o600)
            self.child = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 — only prctl, before exec
            )
        self.started = time.monotonic()
        pid = self.child.pid
        self.write(
            container={"pid": pid, "create_time": _process_start_time(pid)},
            state="running",
            reason="",
            started_at=time.time(),
        )

    def wait_child(self) -> int | None:
        """Until the child exits (its exit code) or we are told to stop (None), asleep: the
        kernel wakes us (a pidfd that turns readable, a signal's byte on the wakeup pipe)."""
        assert self.child is not None
        try:
            pidfd: int | None = os.pidfd_open(self.child.pid)
        except (AttributeError, OSError):  # not Linux 5.3+: look every POLL seconds
            pidfd = None
        try:
            while not self.stopping:
                code = self.child.poll()
                if code is not None:
                    return code
                self.sleep(None if pidfd is not None else POLL, pidfd)
        finally:
            if pidfd is not None:
                os.close(pidfd)
        return None

    def sleep(self, seconds: float | None, pidfd: int | None = None) -> None:
        """Until a signal arrives, the pidfd turns readable or `seconds` pass (None: no bound).
        A signal that came after `stopping` was last read has left its byte: no wait then."""
        select.select([self.wakeup] if pidfd is None else [self.wakeup, pidfd], [], [], seconds)
        try:
            while os.read(self.wakeup, 64):
                pass
        except BlockingIOError:
            pass

    def stop_child(self) -> None:
        if self.child is None or self.child.poll() is not None:
            return
        self.child.terminate()
        self.child.send_signal(signal.SIGCONT)  # a stopped child (SIGSTOP) acts on SIGTERM once continued
        try:
            self.child.wait(GRACE)
        except subprocess.TimeoutExpired:
            self.child.kill()
            self.child.wait(5)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        signal.set_wakeup_fd(self.wakeup_write, warn_on_full_buffer=False)
        while not self.stopping:
            self.start_child()
            code = self.wait_child()
            if code is None:
                break
            ran = time.monotonic() - self.started
            if ran >= BACKOFF_RESET_AFTER:
                self.backoff = 0.0
            self.restarts += 1
            until = time.time() + self.backoff
            self.write(
                container=None,
                restarts=self.restarts,
                state="waiting",
                reason="CrashLoopBackOff" if self.backoff else "Restarting",
                backoff_until=until,
                last_exit={"code": code, "at": time.time(), "ran_seconds": round(ran, 3)},
            )
            while not self.stopping and time.time() < until:
                self.sleep(until - time.time())
            self.backoff = min(max(self.backoff * 2, self.backoff_start), BACKOFF_MAX)
        self.stop_child()
        self.write(container=None, state="terminated", reason="Stopped")
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--status", required=True, type=Path)
    parser.add_argument("--log", required=True, type=Path)
    parser.add_argument("--restarts", type=int, default=0, help="restarts counted before this supervisor")
    parser.add_argument("--backoff", type=float, default=BACKOFF_START, help="the first back-off, in seconds")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to supervise (give it after --)")
    return Supervisor(args.name, command, args.status, args.log, args.restarts, args.backoff).run()


if __name__ == "__main__":
    sys.exit(main())
