"""hubharness.connections: a session reuses a kept-alive connection only while it is fresh,
so no request goes out on a connection configurable-http-proxy is closing (its 6 s)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hubharness import connections

BODY = b"ok"


class _Counting(ThreadingHTTPServer):
    accepted = 0

    def get_request(self):
        self.accepted += 1
        return super().get_request()


class _KeepAlive(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keeps the connection open between requests

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


@pytest.fixture
def counting() -> Iterator[_Counting]:
    """An http server that keeps connections open and counts those it accepts."""
    server = _Counting(("127.0.0.1", 0), _KeepAlive)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_a_fresh_connection_is_reused_an_idle_one_is_not(counting):
    url = f"http://127.0.0.1:{counting.server_address[1]}/"
    with connections.session(idle=0.3) as http:
        for _ in range(3):
            assert http.get(url, timeout=5).content == BODY
        assert counting.accepted == 1, "requests in a row share one connection"
        time.sleep(0.5)
        assert http.get(url, timeout=5).content == BODY
        assert counting.accepted == 2, "after the idle bound the next request opens a new connection"
