"""Journeys on a schedule, one at a time, until `--for` runs out or SIGINT/SIGTERM.

A journey starts every `every` seconds (start to start; one that takes longer is followed
at once by the next). A signal ends the journey under way at its next poll and stops
its server before watch returns; `--for` starts no journey after it has run out and
lets the one under way finish, each of its phases bounded.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..load.hub import Hub
from .history import History, redact
from .journey import Journey, Record
from .metrics import Metrics


@dataclass(frozen=True)
class Settings:
    journey: str  # light | spark
    every: float  # seconds
    duration: float | None  # --for, seconds; None: until a signal
    address: str  # where /metrics listens
    port: int  # 0: any free port


@dataclass
class Summary:
    journeys: int = 0
    failed: int = 0  # failure or timeout
    stopped_by: str = "--for"


def line(record: Record) -> str:
    """A journey in one line: its phases' seconds, or what failed, where and after what."""
    done = ", ".join(f"{p.phase} {p.seconds:.2f}s" for p in record.phases if p.outcome == "ok")
    failed = record.failed
    if failed is None:
        return f"watch {record.started} {record.journey} ok in {record.seconds:.1f}s: {done}"
    head = f"watch {record.started} {record.journey} {record.outcome.upper()} at {failed.phase} after {failed.seconds:.1f}s"
    return f"{head}: {failed.error}" + (f" (got through: {done})" if done else "")


def run(
    hub_of: Callable[[], Hub],
    settings: Settings,
    history: History,
    context: str,
    namespace: str,
    say: Callable[[str], None],
) -> Summary:
    metrics = Metrics()
    metrics.interval.set(settings.every)
    stopping = threading.Event()
    summary = Summary()

    def on_signal(signum: int, _frame: object) -> None:
        summary.stopped_by = signal.Signals(signum).name
        # set from another thread: the handler may run while this thread holds the Event's lock
        threading.Thread(target=stopping.set, daemon=True).start()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        port = metrics.serve(settings.address, settings.port)
        shown = "127.0.0.1" if settings.address in ("", "0.0.0.0") else settings.address
        until = f" for {settings.duration:g}s" if settings.duration else " until SIGINT/SIGTERM"
        say(
            f"watch: a {settings.journey} journey every {settings.every:g}s{until} against namespace {namespace} "
            f"(context {context}); metrics on http://{shown}:{port}/metrics; journeys in {history.folder}"
        )
        end = time.monotonic() + settings.duration if settings.duration else math.inf
        while not stopping.is_set():
            begun = time.monotonic()
            hub = hub_of()  # asked each time: a credential of the deployment's may have been renewed
            history.secrets += [s for s in (str(hub.password), str(hub.admin_token)) if s not in history.secrets]
            record = Journey(hub, settings.journey, stopping).run()
            metrics.record(record)
            history.add(record, context, namespace)
            say(redact(line(record), history.secrets))
            summary.journeys += 1
            summary.failed += record.outcome in ("failure", "timeout")
            if time.monotonic() >= end:
                break
            stopping.wait(max(0.0, min(begun + settings.every, end) - time.monotonic()))
            if time.monotonic() >= end:
                break
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        metrics.close()
    return summary
