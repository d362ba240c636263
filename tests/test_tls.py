"""hubharness.tls against real TLS on 127.0.0.1: configurable-http-proxy (tlsfront) serves
a plain http upstream with certificates from a test CA, good and broken on purpose, and
each check must pass on the good one and fail on the broken one."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import http.client
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import websocket
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application
from tornado.websocket import WebSocketHandler

from hubharness import procs
from hubharness.errors import HarnessError
from hubharness.procs import free_port
from hubharness.targets.local.target import LocalTarget
from hubharness.tls import Certificate, NotServed, certificate, http_redirect, names_match
from hubharness.tlsfront import TOKEN_ENV, TestCA, TlsFront, answers, proxy_command
from hubharness.waiting import wait_until

UPSTREAM_BODY = b"upstream says hello"


class _Upstream(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(UPSTREAM_BODY)))
        self.end_headers()
        self.wfile.write(UPSTREAM_BODY)

    def log_message(self, *args):
        pass


class _RefusesUpgrades(BaseHTTPRequestHandler):
    """Keeps connections alive, but answers a websocket upgrade as a hub answers one for a
    stopped server (a redirect to the hub) and then ends that connection, as
    configurable-http-proxy does after relaying such an answer: LINGER seconds later rather
    than at once, so that a request sent on it meanwhile is lost every time, not by a race."""

    protocol_version = "HTTP/1.1"
    LINGER = 0.3

    def do_GET(self):
        upgrade = "Upgrade" in self.headers
        self.send_response(302 if upgrade else 200)
        if upgrade:
            self.send_header("Location", "/hub/user/bob/api/events/subscribe")
        self.send_header("Content-Length", "0")
        self.end_headers()
        if upgrade:
            self.wfile.flush()
            time.sleep(self.LINGER)
            self.close_connection = True

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """A plain http server, the hub's stand-in behind the front."""
    with _serving(_Upstream) as url:
        yield url


class _Echo(WebSocketHandler):
    def on_message(self, message):
        self.write_message(message)


@pytest.fixture(scope="module")
def echo_upstream() -> Iterator[str]:
    """A websocket echo server, as a kernel's channels are behind the hub."""
    loop = asyncio.new_event_loop()
    sockets = bind_sockets(0, "127.0.0.1")
    ready = threading.Event()

    def serve():
        asyncio.set_event_loop(loop)
        HTTPServer(Application([(r"/echo", _Echo)])).add_sockets(sockets)
        loop.call_soon(ready.set)
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    for sock in sockets:
        sock.close()
    loop.close()


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def front(upstream, tmp_path):
    """Starts a TlsFront for the upstream; every one started is stopped afterwards."""
    started: list[TlsFront] = []

    def make(cert, redirect=True):
        started.append(TlsFront(upstream, cert, tmp_path / f"front{len(started)}", redirect=redirect))
        return started[-1].start()

    yield make
    for one in started:
        one.stop()


def spki_of_key(path) -> str:
    key = load_pem_private_key(path.read_bytes(), password=None)
    spki = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def test_a_good_certificate_verifies_and_names_the_host(ca, front):
    files = ca.issue("good")
    served = certificate(front(files).url, ca_bundle=str(ca.ca_pem))
    assert served.chain_ok and served.chain_error == ""
    assert served.matches_host() and served.host == "127.0.0.1"
    assert set(served.names) == {"127.0.0.1", "localhost"}
    assert served.days_left() > 300
    assert served.not_after.tzinfo is not None
    assert served.spki_sha256_b64 == spki_of_key(files.key)
    assert (files.key.stat().st_mode & 0o777) == 0o600


def test_without_a_bundle_the_default_trust_is_used(ca, front, monkeypatch):
    """SSL_CERT_FILE names the system's trust; ca.pem is not in the machine's own."""
    url = front(ca.issue("default-trust")).url
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.ca_pem))
    assert certificate(url).chain_ok
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent/ca.pem")
    assert not certificate(url).chain_ok


def test_an_expired_certificate_fails_the_chain(ca, front):
    served = certificate(front(ca.issue("expired", expired=True)).url, ca_bundle=str(ca.ca_pem))
    assert not served.chain_ok
    assert "expired" in served.chain_error
    assert served.days_left() < 0


def test_a_certificate_for_another_host_does_not_match(ca, front):
    served = certificate(front(ca.issue("wrong", hosts=("wrong.example",))).url, ca_bundle=str(ca.ca_pem))
    assert served.chain_ok  # the chain is fine: only the name is wrong
    assert not served.matches_host()
    assert served.matches_host("wrong.example")


def test_a_certificate_from_an_unknown_ca_fails_the_chain(ca, front):
    served = certificate(front(ca.issue("stranger", untrusted=True)).url, ca_bundle=str(ca.ca_pem))
    assert not served.chain_ok
    assert "issuer" in served.chain_error, served.chain_error
    assert served.matches_host()


def test_restart_with_serves_another_certificate_at_the_same_url(ca, front):
    tls_front = front(ca.issue("before"))
    url = tls_front.url
    tls_front.restart_with(ca.issue("after", expired=True))
    assert tls_front.url == url
    assert certificate(url, ca_bundle=str(ca.ca_pem)).days_left() < 0


def test_http_redirects_to_https(ca, front):
    tls_front = front(ca.issue("redirect"), redirect=True)
    status, location = http_redirect(tls_front.http_url + "/hub/login")
    assert status in (301, 302, 307, 308)
    assert location.startswith("https://") and location.endswith("/hub/login")
    assert location.startswith(tls_front.url)


def test_http_without_redirect_is_served_in_clear(ca, front):
    tls_front = front(ca.issue("clear"), redirect=False)
    status, location = http_redirect(tls_front.http_url)
    assert status == 200
    assert not location.startswith("https://")
    assert requests.get(tls_front.http_url, timeout=10).content == UPSTREAM_BODY


def test_the_upstream_answers_through_https(ca, front):
    answer = requests.get(front(ca.issue("through")).url, verify=str(ca.ca_pem), timeout=10)
    assert answer.status_code == 200
    assert answer.content == UPSTREAM_BODY


def test_websockets_pass_through(ca, echo_upstream, tmp_path):
    with TlsFront(echo_upstream, ca.issue("websocket"), tmp_path / "front") as tls_front:
        wss = tls_front.url.replace("https://", "wss://") + "/echo"
        channel = websocket.create_connection(
            wss, timeout=10, sslopt={"ca_certs": str(ca.ca_pem), "cert_reqs": ssl.CERT_REQUIRED}
        )
        try:
            channel.send("ping through TLS")
            assert channel.recv() == "ping through TLS"
        finally:
            channel.close()


@pytest.fixture
def upstream_proxy(upstream, tmp_path) -> Iterator[str]:
    """configurable-http-proxy in clear before the upstream, as a hub's proxy-public is,
    closing idle kept-alive sockets after about a second instead of six."""
    port, api_port = free_port(), free_port()
    command = [*proxy_command(LocalTarget.chp_command(), port, api_port, upstream), "--keep-alive-timeout", "100"]
    record = procs.start(command, {**os.environ, TOKEN_ENV: "upstream"}, tmp_path, tmp_path / "upstream-chp.log")
    try:
        wait_until("the upstream proxy serving", lambda: answers(port), 30, progress=False)
        yield f"http://127.0.0.1:{port}"
    finally:
        procs.stop_all([p for p in [record.process()] if p is not None], 10)


def seconds_until_closed(port: int) -> float:
    """How long the server on 127.0.0.1:`port` keeps a connection open after answering on it."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/")
        connection.getresponse().read()
        start = time.monotonic()
        assert connection.sock.recv(1) == b"", "the server sent more than its answer"
        return time.monotonic() - start
    finally:
        connection.close()


def test_requests_sent_as_the_upstream_proxy_closes_its_socket_are_served(ca, upstream_proxy, tmp_path):
    """A proxy before a proxy: the front must not send a request on a kept-alive socket
    just as the upstream closes it (CHP then answers 503 "socket hang up")."""
    closes_after = seconds_until_closed(int(upstream_proxy.rsplit(":", 1)[1]))
    gaps = [closes_after + step / 1000 for step in range(-24, 9, 2)]
    with TlsFront(upstream_proxy, ca.issue("chained"), tmp_path / "front") as tls_front, requests.Session() as user:
        answers_after = {}
        for gap in gaps:
            user.get(tls_front.url, verify=str(ca.ca_pem), timeout=10).raise_for_status()
            time.sleep(gap)
            answers_after[round(gap, 3)] = user.get(tls_front.url, verify=str(ca.ca_pem), timeout=10).status_code
    assert set(answers_after.values()) == {200}, f"answers after an idle gap of seconds: {answers_after}"


def test_a_refused_websocket_leaves_no_spoilt_socket_for_the_next_request(ca, tmp_path):
    """A browser's websocket to a stopped server is answered with a redirect, and the
    proxy upstream ends that connection: the front must not send the next request on it
    (CHP then answers 503 "socket hang up", as a remote verify's admin once got)."""
    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13"}
    upgrade["Sec-WebSocket-Key"] = base64.b64encode(os.urandom(16)).decode()
    with _serving(_RefusesUpgrades) as upstream, TlsFront(upstream, ca.issue("upgrade"), tmp_path) as tls_front:
        get = functools.partial(requests.get, verify=str(ca.ca_pem), allow_redirects=False, timeout=10)
        answers = []
        for _ in range(3):
            refused = get(f"{tls_front.url}/user/bob/api/events/subscribe", headers=upgrade)
            answers.append((refused.status_code, get(f"{tls_front.url}/hub/api/users").status_code))
    assert set(answers) == {(302, 200)}, f"(websocket, the request after it): {answers}"


def test_the_proxy_token_is_in_the_environment_never_on_the_command_line(ca, front):
    tls_front = front(ca.issue("token"), redirect=False)
    running = tls_front.processes()
    assert len(running) == 2
    for proc in running:
        assert tls_front.token not in " ".join(proc.cmdline())
        assert proc.environ().get("CONFIGPROXY_AUTH_TOKEN") == tls_front.token
    assert tls_front.token not in repr(tls_front.token)


def test_stop_leaves_nothing_running(ca, front):
    """Its proxies gone, its port serves the front no more: refused, or, when another
    process has taken the freed port since (tests run side by side), not the front."""
    tls_front = front(ca.issue("stopped"), redirect=False)
    served = certificate(tls_front.url).subject
    running = tls_front.processes()
    tls_front.stop()
    assert not any(procs.running(proc) for proc in running)
    try:
        now = certificate(tls_front.url).subject
    except HarnessError as e:
        now = str(e)
    assert now != served, f"{tls_front.url} still serves the front's certificate after stop"


def test_plain_http_given_as_https_is_one_line(upstream):
    url = upstream.replace("http://", "https://")
    with pytest.raises(HarnessError) as raised:
        certificate(url, timeout=5)
    message = str(raised.value)
    assert url in message and "\n" not in message
    assert "TLS" in message


def test_nothing_listening_is_one_line():
    url = f"https://127.0.0.1:{free_port()}"
    with pytest.raises(HarnessError) as raised:
        certificate(url, timeout=5)
    assert url in str(raised.value) and "\n" not in str(raised.value)
    http_url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(NotServed) as raised:
        http_redirect(http_url, timeout=5)
    assert http_url in str(raised.value) and "connection refused" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_plain_http_that_cannot_be_reached_is_not_taken_for_not_served():
    """A name that does not resolve, or a listener that takes the connection and never
    answers, says nothing of what the hub serves on http."""
    url = "http://hub.invalid"  # .invalid never resolves (RFC 2606)
    with pytest.raises(HarnessError) as raised:
        http_redirect(url, timeout=5)
    assert not isinstance(raised.value, NotServed) and url in str(raised.value)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(HarnessError) as raised:
            http_redirect(url, timeout=1)
    assert not isinstance(raised.value, NotServed) and "timed out" in str(raised.value), raised.value


def test_only_https_urls_are_read():
    with pytest.raises(HarnessError, match="not an https URL"):
        certificate("http://127.0.0.1:8000")


@pytest.mark.parametrize(
    ("names", "host", "matches"),
    [
        (("hub.example.org",), "hub.example.org", True),
        (("hub.example.org",), "HUB.Example.org.", True),
        (("hub.example.org",), "example.org", False),
        (("*.example.org",), "hub.example.org", True),
        (("*.example.org",), "example.org", False),
        (("*.example.org",), "a.hub.example.org", False),
        (("*.org",), "example.org", False),
        (("h*.example.org",), "hub.example.org", False),
        (("hub.*.org",), "hub.example.org", False),
        (("127.0.0.1",), "127.0.0.1", True),
        (("127.0.0.1",), "127.0.0.2", False),
        (("::1",), "[0:0:0:0:0:0:0:1]", True),
        (("localhost",), "127.0.0.1", False),
        ((), "hub.example.org", False),
    ],
)
def test_host_names_match_as_rfc_6125_says(names, host, matches):
    assert names_match(names, host) is matches


def test_the_common_name_is_not_a_name():
    cert = Certificate(
        host="hub.example.org",
        port=443,
        subject="CN=hub.example.org",
        issuer="CN=Some CA",
        not_after=datetime(2030, 1, 1, tzinfo=UTC),
        names=("other.example.org",),
        chain_ok=True,
        chain_error="",
        spki_sha256_b64="",
    )
    assert not cert.matches_host()
    assert cert.days_left(now=datetime(2029, 12, 31, tzinfo=UTC)) == pytest.approx(1.0)
    assert cert.days_left(now=cert.not_after + timedelta(days=2)) == pytest.approx(-2.0)
