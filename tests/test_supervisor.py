"""The local kubelet: what exits is started again with back-off and counted, and
stopping the supervisor stops what it runs first. Real processes, small back-offs."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from hubharness.targets.local import supervisor

SUPERVISOR = supervisor.__file__  # run as deploy runs it
TIMEOUT = 20


def supervise(tmp_path: Path, *command: str, backoff: float = 0.3, restarts: int = 0) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-I",
            SUPERVISOR,
            "--name",
            "thing",
            "--status",
            str(tmp_path / "thing.json"),
            "--log",
            str(tmp_path / "thing.log"),
            "--backoff",
            str(backoff),
            "--restarts",
            str(restarts),
            "--",
            *command,
        ]
    )


def status_when(tmp_path: Path, ok, timeout: float = TIMEOUT) -> dict:
    deadline = time.monotonic() + timeout
    seen: dict = {}
    while time.monotonic() < deadline:
        try:
            seen = json.loads((tmp_path / "thing.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            seen = {}
        if seen and ok(seen):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"status never got there in {timeout}s: {seen}")


@pytest.fixture
def stop_after():
    started: list[subprocess.Popen] = []
    yield started.append
    for proc in started:
        proc.kill()
        proc.wait(10)


def test_a_process_that_keeps_exiting_is_started_again_and_counted(tmp_path, stop_after):
    sup = supervise(tmp_path, sys.executable, "-c", "print('ran'); raise SystemExit(3)")
    stop_after(sup)
    seen = status_when(tmp_path, lambda s: s["restarts"] >= 3 and s["state"] == "waiting")
    assert seen["last_exit"]["code"] == 3 and seen["reason"] == "CrashLoopBackOff"
    assert (tmp_path / "thing.log").read_text().count("ran") >= 3


def test_back_off_doubles_between_restarts(tmp_path, stop_after):
    started = time.monotonic()
    sup = supervise(tmp_path, sys.executable, "-c", "raise SystemExit(1)", backoff=0.5)
    stop_after(sup)
    status_when(tmp_path, lambda s: s["restarts"] >= 4)
    # the second start at once, the third after 0.5 s, the fourth after 1 s (a constant
    # back-off would have it exit after 1 s)
    assert time.monotonic() - started >= 1.5


def test_restarts_counted_before_carry_over(tmp_path, stop_after):
    sup = supervise(tmp_path, sys.executable, "-c", "import time; time.sleep(60)", restarts=2)
    stop_after(sup)
    seen = status_when(tmp_path, lambda s: s["state"] == "running")
    assert seen["restarts"] == 2 and psutil.pid_exists(seen["container"]["pid"])


def test_stopping_the_supervisor_stops_its_process_first(tmp_path):
    sup = supervise(tmp_path, sys.executable, "-c", "import time; time.sleep(60)")
    child = status_when(tmp_path, lambda s: s["state"] == "running")["container"]["pid"]
    sup.send_signal(signal.SIGTERM)
    assert sup.wait(TIMEOUT) == 0
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE
    seen = json.loads((tmp_path / "thing.json").read_text())
    assert (seen["state"], seen["container"], seen["restarts"]) == ("terminated", None, 0)


def test_stopping_during_a_back_off_does_not_wait_it_out(tmp_path):
    sup = supervise(tmp_path, sys.executable, "-c", "raise SystemExit(1)", backoff=120)
    status_when(tmp_path, lambda s: s["reason"] == "CrashLoopBackOff")
    sup.send_signal(signal.SIGTERM)
    assert sup.wait(TIMEOUT) == 0


def test_an_idle_supervisor_sleeps_until_its_process_exits(tmp_path, stop_after):
    """No polling: a running component costs its supervisor nothing, and its exit is seen
    at once."""
    sup = supervise(tmp_path, sys.executable, "-c", "import time; time.sleep(60)")
    stop_after(sup)
    child = psutil.Process(status_when(tmp_path, lambda s: s["state"] == "running")["container"]["pid"])
    before = psutil.Process(sup.pid).cpu_times()
    time.sleep(1)
    after = psutil.Process(sup.pid).cpu_times()
    wakeups = psutil.Process(sup.pid).num_ctx_switches().voluntary
    time.sleep(1)
    assert psutil.Process(sup.pid).num_ctx_switches().voluntary == wakeups, "the supervisor woke while its process ran"
    assert after.user + after.system == before.user + before.system
    child.kill()
    seen = status_when(tmp_path, lambda s: s["restarts"] == 1, timeout=5)
    assert seen["last_exit"]["code"] == -signal.SIGKILL


def test_a_killed_supervisor_takes_its_process_with_it(tmp_path):
    """Nothing runs unsupervised: the component gets SIGTERM when its supervisor dies."""
    sup = supervise(tmp_path, sys.executable, "-c", "import time; time.sleep(60)")
    child = psutil.Process(status_when(tmp_path, lambda s: s["state"] == "running")["container"]["pid"])
    sup.kill()
    sup.wait(TIMEOUT)
    gone, _ = psutil.wait_procs([child], timeout=TIMEOUT)
    assert gone, f"pid {child.pid} outlived its supervisor"


def test_without_a_command_it_refuses_to_start(tmp_path):
    done = subprocess.run(
        [sys.executable, "-I", SUPERVISOR, "--name", "x", "--status", "s", "--log", "l"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 2 and "no command to supervise" in done.stderr
