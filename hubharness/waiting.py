"""Bounded waits that say what they waited for, fail fast, and show progress on a terminal."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import Retrying, retry_if_result, stop_after_delay, wait_exponential

from .errors import WaitTimeout

T = TypeVar("T")


def wait_until(
    what: str,
    probe: Callable[[], T],
    timeout: float,
    fail_fast: Callable[[], None] | None = None,
    progress: bool | None = None,
) -> T:
    """Poll `probe` until it returns something truthy; return that.

    `fail_fast` raises (e.g. the process died) instead of waiting out the clock.
    Exceptions from `probe` or `fail_fast` are not retried: probes return falsy for "not yet".
    Progress is shown on a terminal, by the main thread only: a wait in a worker thread
    (selftest's purges, remove's stops side by side) would draw over its neighbours' lines.
    """
    on_terminal = sys.stderr.isatty() and threading.current_thread() is threading.main_thread()
    show = on_terminal if progress is None else progress
    started = time.monotonic()

    def attempt() -> T:
        if fail_fast is not None:
            fail_fast()
        result = probe()
        if show and not result:
            print(f"\r  waiting for {what} … {time.monotonic() - started:4.1f}s", end="", file=sys.stderr, flush=True)
        return result

    retrying = Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_exponential(multiplier=0.02, max=0.5),
        retry=retry_if_result(lambda r: not r),
        retry_error_callback=lambda state: _timed_out(what, timeout),
        reraise=True,
    )
    try:
        return retrying(attempt)
    finally:
        if show:
            print("\r\033[K", end="", file=sys.stderr, flush=True)


def _timed_out(what: str, timeout: float):
    raise WaitTimeout(f"timed out after {timeout:g}s waiting for {what}")
