"""A local hub behind TLS, as a remote one is served: certificates from a test CA (good,
expired, for the wrong host, from a CA nobody trusts) and configurable-http-proxy as the
TLS terminator in front of a plain http upstream.

The tests of hubharness.tls, and the remote target's selftest, prove with these that
each TLS check passes on a good front and fails on a broken one.
"""

from __future__ import annotations

import os
import secrets
import socket
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Self

import psutil
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from . import procs
from .errors import HarnessError
from .secretstore import Secret
from .targets.local.target import LocalTarget
from .waiting import wait_until

LOCAL_HOSTS = ("127.0.0.1", "localhost")
# how selftest breaks a front: a remote hub's way of a fault (hubharness.faults, Fault.ways["remote"])
BROKEN = ("untrusted", "wrong-host", "expired", "no-redirect")
START_TIMEOUT = 30  # seconds for the proxy to serve its ports
STOP_TIMEOUT = 10
PORT_ATTEMPTS = 3  # a port picked free can be taken before the proxy binds it
TOKEN_ENV = "CONFIGPROXY_AUTH_TOKEN"
# closes the front's idle upstream sockets before the upstream proxy does (the file says why)
IDLE_AGENT = Path(__file__).with_name("tlsfront_agent.js")


@dataclass(frozen=True)
class CertFiles:
    """A certificate chain (leaf first) and its private key, as PEM files."""

    cert: Path
    key: Path


class TestCA:
    """A certificate authority for tests, in `folder`: `ca_pem` is what a client trusts;
    `issue` makes the certificates a front serves, good or broken on purpose."""

    __test__ = False  # not a pytest test class

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._trusted = trustme.CA()
        self._stranger: trustme.CA | None = None
        self.ca_pem = self.folder / "ca.pem"
        self._trusted.cert_pem.write_to_path(str(self.ca_pem))

    def issue(
        self,
        name: str,
        hosts: Iterable[str] = LOCAL_HOSTS,
        expired: bool = False,
        untrusted: bool = False,
    ) -> CertFiles:
        """`name`.pem and `name`.key for `hosts`. `expired`: its validity ended yesterday.
        `untrusted`: issued by another CA, one not in ca.pem."""
        ca = self._other_ca() if untrusted else self._trusted
        not_before, not_after = expired_validity() if expired else (None, None)
        leaf = ca.issue_cert(*hosts, not_before=not_before, not_after=not_after)
        files = CertFiles(self.folder / f"{name}.pem", self.folder / f"{name}.key")
        files.cert.write_bytes(b"".join(pem.bytes() for pem in leaf.cert_chain_pems))
        files.key.touch(mode=0o600)
        os.chmod(files.key, 0o600)
        files.key.write_bytes(leaf.private_key_pem.bytes())
        return files

    def _other_ca(self) -> trustme.CA:
        if self._stranger is None:
            self._stranger = trustme.CA()
        return self._stranger


def expired_validity(now: datetime | None = None) -> tuple[datetime, datetime]:
    """Not before two days ago, not after yesterday."""
    now = now or datetime.now(UTC)
    return now - timedelta(days=2), now - timedelta(days=1)


def proxy_command(chp: list[str], port: int, api_port: int, upstream: str, cert: CertFiles | None = None) -> list[str]:
    """configurable-http-proxy on 127.0.0.1:`port` for `upstream`: terminating TLS with
    `cert`, or serving in clear without one."""
    tls = ["--ssl-key", str(cert.key), "--ssl-cert", str(cert.cert)] if cert else []
    return [
        *chp,
        *("--ip", "127.0.0.1", "--port", str(port)),
        *tls,
        *("--default-target", upstream, "--api-ip", "127.0.0.1", "--api-port", str(api_port)),
    ]


class TlsFront:
    """`upstream` (a plain http URL) served on https at `url` with `cert`, and on plain
    http at `http_url`: redirected to https when `redirect`, else served in clear there
    too (the fault "http without redirect").

    The redirect is configurable-http-proxy's --redirect-port, which listens on every
    interface, not 127.0.0.1 alone. The proxies' API token is in their environment,
    never on their command line.
    """

    def __init__(self, upstream: str, cert: CertFiles, folder: Path, redirect: bool = True):
        self.upstream = upstream
        self.cert = cert
        self.folder = Path(folder)
        self.redirect = redirect
        self.token = Secret(secrets.token_hex(32))
        self._ports: dict[str, int] = {}
        self._running: list[procs.ProcessRecord] = []

    def __repr__(self) -> str:
        return f"TlsFront({self.upstream!r}, redirect={self.redirect})"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._port('https')}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self._port('http')}"

    def _port(self, name: str) -> int:
        if name not in self._ports:
            raise HarnessError(f"{self!r} has not been started: no {name} port yet")
        return self._ports[name]

    def processes(self) -> list[psutil.Process]:
        """The proxies running now."""
        return [p for p in (record.process() for record in self._running) if p is not None]

    def start(self) -> Self:
        """Start the proxies; return once https serves this cert and http answers. Ports
        are kept from an earlier start, so a restart serves the same URLs; proxies still
        running from it are stopped first."""
        self.stop()
        chp = LocalTarget.chp_command()
        for attempt in range(1, PORT_ATTEMPTS + 1):
            if not self._ports or attempt > 1:
                self._ports = {name: procs.free_port() for name in ("https", "http", "api", "plain_api")}
            self._launch(chp)
            try:
                self._wait_serving()
                return self
            except _PortTaken:
                self.stop()
                if attempt == PORT_ATTEMPTS:
                    raise HarnessError(
                        f"configurable-http-proxy could not listen: ports taken {PORT_ATTEMPTS} times "
                        f"(log: {self.log('https')})"
                    ) from None
            except HarnessError:
                self.stop()
                raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _launch(self, chp: list[str]) -> None:
        ports = self._ports
        env = {**os.environ, TOKEN_ENV: str(self.token), "NODE_OPTIONS": _node_options(os.environ)}
        https = proxy_command(chp, ports["https"], ports["api"], self.upstream, self.cert)
        if self.redirect:
            https += ["--redirect-port", str(ports["http"]), "--redirect-to", str(ports["https"])]
        self._offsets = {name: _size(self.log(name)) for name in ("https", "http")}
        self._running = [procs.start(https, env, self.folder, self.log("https"))]
        if not self.redirect:
            plain = proxy_command(chp, ports["http"], ports["plain_api"], self.upstream)
            self._running.append(procs.start(plain, env, self.folder, self.log("http")))

    def log(self, name: str) -> Path:
        """The log of the proxy serving `name` ("https", or "http" when it is served in clear)."""
        return self.folder / f"chp-{name}.log"

    def _logged(self, name: str) -> bytes:
        path = self.log(name)
        if not path.is_file():
            return b""
        with open(path, "rb") as f:
            f.seek(self._offsets.get(name, 0))
            return f.read()

    def _fail_if_dead(self) -> None:
        names = ["https"] if self.redirect else ["https", "http"]
        for name in names:
            if b"EADDRINUSE" in self._logged(name):
                raise _PortTaken(name)
        for name, record in zip(names, self._running):
            if not record.alive():
                last = procs.last_meaningful_line(self.log(name))
                raise HarnessError(f"configurable-http-proxy ({name}) exited during start: {last}")

    def _wait_serving(self) -> None:
        expected = _pem_leaf_der(self.cert.cert)
        wait_until(
            f"configurable-http-proxy serving {self.url} and {self.http_url}",
            lambda: serves_certificate(self._ports["https"], expected) and answers(self._ports["http"]),
            START_TIMEOUT,
            fail_fast=self._fail_if_dead,
            progress=False,
        )
        self._fail_if_dead()  # a port answered by another process, while ours failed to bind it

    def restart_with(self, cert: CertFiles) -> Self:
        """Serve another certificate at the same URLs."""
        self.stop()
        self.cert = cert
        return self.start()

    def stop(self) -> None:
        """Terminate the proxies, wait, kill what is left."""
        running = self.processes()
        self._running = []
        if running:
            procs.stop_all(running, STOP_TIMEOUT)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _PortTaken(HarnessError):
    """A port picked free was taken before the proxy bound it: pick again."""


def _node_options(environ: Mapping[str, str]) -> str:
    """The caller's NODE_OPTIONS, and the front's agent preloaded."""
    return " ".join(filter(None, [environ.get("NODE_OPTIONS", ""), f'--require "{IDLE_AGENT}"']))


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else 0


def _pem_leaf_der(path: Path) -> bytes:
    """The first certificate of a PEM chain (the leaf), as DER."""
    return x509.load_pem_x509_certificates(path.read_bytes())[0].public_bytes(Encoding.DER)


def serves_certificate(port: int, der: bytes, timeout: float = 2) -> bool:
    """127.0.0.1:`port` completes a TLS handshake with the certificate `der`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock,
            context.wrap_socket(sock) as tls,
        ):
            return tls.getpeercert(binary_form=True) == der
    except (OSError, ssl.SSLError):
        return False


def answers(port: int, timeout: float = 2) -> bool:
    """Something accepts connections on 127.0.0.1:`port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False
