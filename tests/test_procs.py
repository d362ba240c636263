"""Which processes are a namespace's: found by their folder and environment markers."""

import io
import os
import signal
import subprocess
import threading
import time

import psutil

from hubharness import procs
from hubharness.procs import carries, stop
from hubharness.waiting import wait_until


def test_a_namespaces_marker_is_not_found_in_a_namespace_whose_name_it_begins():
    assert carries("/tmp/hh/ld", "/tmp/hh/ld")
    assert carries("/tmp/hh/ld/home/alice", "/tmp/hh/ld")
    assert not carries("/tmp/hh/ldtraf", "/tmp/hh/ld")
    assert not carries("/tmp/hh/ld-scratch", "/tmp/hh/ld")
    assert carries("http://127.0.0.1:8000/hub/api", "127.0.0.1:8000/")
    assert not carries("http://127.0.0.1:18000/hub/api", "127.0.0.1:1800")


def test_a_stopped_process_is_ended_by_its_sigterm_not_a_sigkill(tmp_path):
    """A hung component (SIGSTOP, the hub-hangs fault) acts on SIGTERM only once continued:
    stop continues it, so it ends by its own handler, not by the SIGKILL after the grace."""
    said, ready = tmp_path / "said", tmp_path / "ready"
    script = f"trap 'echo term > {said}; exit 0' TERM; touch {ready}; while :; do sleep 0.1; done"
    child = subprocess.Popen(["sh", "-c", script])
    try:
        # A SIGTERM that comes before the trap is set ends sh by default, not by the handler.
        wait_until("the shell to set its TERM trap", ready.exists, timeout=30)
        child.send_signal(signal.SIGSTOP)
        stop(psutil.Process(child.pid), timeout=30)
        assert said.read_text() == "term\n"
    finally:
        child.kill()
        child.wait()


def test_a_port_handed_out_is_not_handed_out_again_while_it_is_held(tmp_path, monkeypatch):
    """Two deploys at once (verify's scratch namespaces, selftest's jobs) each ask for a free
    port: the kernel may name the same one twice before either binds it."""
    monkeypatch.setattr(procs, "PORTS_HANDED_OUT", tmp_path)
    ports = iter([40001, 40001, 40002, 40001])
    monkeypatch.setattr(procs, "_unbound_port", lambda: next(ports))
    assert procs.free_port() == 40001
    assert procs.free_port() == 40002, "40001 was just handed out"
    old = time.time() - procs.PORT_HELD_FOR - 1
    os.utime(tmp_path / "40001", (old, old))
    assert procs.free_port() == 40001, "held no longer: bound by now, or not wanted"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_wait_shows_progress_on_a_terminal_from_the_main_thread_only(monkeypatch):
    """A wait in a worker thread (selftest's purges run in its lanes) would draw over what
    the main thread prints: it waits quietly."""

    def waited() -> str:
        terminal = _Terminal()
        monkeypatch.setattr("sys.stderr", terminal)
        calls = iter([False, True])
        wait_until("the second call", lambda: next(calls), timeout=5)
        return terminal.getvalue()

    assert "waiting for the second call" in waited()
    seen: list[str] = []
    worker = threading.Thread(target=lambda: seen.append(waited()))
    worker.start()
    worker.join(10)
    assert seen == [""]
