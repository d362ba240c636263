"""HTTP clients that never send a request on a connection the server may be closing.

configurable-http-proxy, every hub's proxy-public, closes a kept-alive connection 6 s
after its last answer and does not tell clients when (no Keep-Alive hint). A request sent
on it just as it closes fails ("Connection aborted"): a browser retries it, a check would
fail for no fault of the hub. These clients close a connection that has been idle for
IDLE seconds instead of reusing it, well before any proxy does (LOAD's aiohttp connector
takes the same bound).
"""

from __future__ import annotations

import time

import requests
from requests.adapters import HTTPAdapter

IDLE = 2.0  # seconds: under configurable-http-proxy's 6 s, and tornado's hour


class _ClosesIdle(HTTPAdapter):
    """An adapter that drops its pooled connections after `idle` seconds without a request."""

    def __init__(self, idle: float):
        super().__init__()
        self.idle = idle
        self._last = time.monotonic()

    def send(self, request, *args, **kwargs):
        if time.monotonic() - self._last > self.idle:
            self.poolmanager.clear()  # closes the idle ones; one in use is dropped when returned
        try:
            return super().send(request, *args, **kwargs)
        finally:
            self._last = time.monotonic()


def session(idle: float = IDLE) -> requests.Session:
    """A requests session whose connections are reused only while fresh."""
    http = requests.Session()
    adapter = _ClosesIdle(idle)
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    return http
