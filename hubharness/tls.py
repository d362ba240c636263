"""What a hub's https URL presents: its certificate, whether the chain verifies, whether
it names the host, and whether plain http redirects to https.

A remote hub is verified by its URL alone, so the certificate is read as a browser would
meet it: the leaf as served (parsed even when it does not verify), then a second,
verifying handshake that says why the chain fails, in OpenSSL's words.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .errors import HarnessError

TIMEOUT = 10  # seconds, for a connection and its handshake
DAY = 86400.0


@dataclass(frozen=True)
class Certificate:
    """The leaf certificate a TLS endpoint serves, and what a verifying client makes of it.

    `chain_error` is "" when the chain verifies, else OpenSSL's reason ("certificate has
    expired", "unable to get local issuer certificate" …). `spki_sha256_b64` is the form
    chromium's --ignore-certificate-errors-spki-list takes, to trust exactly this key.
    """

    host: str
    port: int
    subject: str
    issuer: str
    not_after: datetime
    names: tuple[str, ...]
    chain_ok: bool
    chain_error: str
    spki_sha256_b64: str

    def days_left(self, now: datetime | None = None) -> float:
        """Days until it expires; negative once it has."""
        now = now or datetime.now(UTC)
        return (self.not_after - now).total_seconds() / DAY

    def matches_host(self, host: str | None = None) -> bool:
        """It names `host` (default: the host it was read from) in its subjectAltName, as
        RFC 6125 matches: the common name is not used."""
        return names_match(self.names, self.host if host is None else host)


def names_match(names: tuple[str, ...], host: str) -> bool:
    """`host` is one of `names`: an IP address only by an IP entry, a DNS name exactly
    or by one wildcard that stands for the whole left-most label ("*.example.org")."""
    wanted = _ip(host)
    if wanted is not None:
        return any(_ip(name) == wanted for name in names)
    host = _dns(host)
    return any(_dns_matches(_dns(name), host) for name in names if _ip(name) is None)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _dns(name: str) -> str:
    """Lower case, no trailing dot, A-labels (certificates carry internationalised names so)."""
    name = name.strip().rstrip(".").lower()
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


def _dns_matches(pattern: str, host: str) -> bool:
    if not pattern or not host:
        return False
    if not pattern.startswith("*."):
        return "*" not in pattern and pattern == host
    rest = pattern[2:]
    if "*" in rest or rest.count(".") < 1:  # one wildcard, never over a single label ("*.com")
        return False
    label, _, host_rest = host.partition(".")
    return bool(label) and host_rest == rest


def endpoint(url: str) -> tuple[str, int]:
    """Host and port of an https URL (port 443 when it names none)."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise HarnessError(f"{url} is not an https URL: give https://HOST[:PORT]")
    try:
        port = parts.port or 443
    except ValueError:
        raise HarnessError(f"{url} has no valid port") from None
    return parts.hostname, port


def certificate(url: str, ca_bundle: str | None = None, timeout: float = TIMEOUT) -> Certificate:
    """The certificate the https `url` serves, and whether its chain verifies against
    `ca_bundle` (a PEM file) or, without one, the system's trust (SSL_CERT_FILE honoured).

    A connection that fails for another reason than the certificate (refused, timed out,
    not TLS at all) raises HarnessError naming the URL and the cause.
    """
    host, port = endpoint(url)
    der = _handshake(url, host, port, _reading_context(), timeout)
    error = _chain_error(url, host, port, _verifying_context(ca_bundle), timeout)
    return parse(der, host, port, error)


def parse(der: bytes, host: str, port: int, chain_error: str) -> Certificate:
    """A Certificate from the leaf's DER and the verifying handshake's outcome."""
    cert = x509.load_der_x509_certificate(der)
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return Certificate(
        host=host,
        port=port,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_after=cert.not_valid_after_utc,
        names=san_names(cert),
        chain_ok=not chain_error,
        chain_error=chain_error,
        spki_sha256_b64=base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii"),
    )


def san_names(cert: x509.Certificate) -> tuple[str, ...]:
    """The subjectAltName's DNS names and IP addresses, as strings, in the order given."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(str(entry.value) for entry in san if isinstance(entry, (x509.DNSName, x509.IPAddress)))


def _reading_context() -> ssl.SSLContext:
    """Takes any certificate: the leaf is read even when it would not verify."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _verifying_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Verifies the chain only: the host is matched by Certificate.matches_host, so a
    wrong name and a bad chain are told apart."""
    context = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _server_name(host: str) -> str | None:
    """SNI carries DNS names only."""
    return None if _ip(host) is not None else host


def _handshake(url: str, host: str, port: int, context: ssl.SSLContext, timeout: float) -> bytes:
    """The leaf's DER after a handshake with `context`."""
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as sock,
            context.wrap_socket(sock, server_hostname=_server_name(host)) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except ssl.SSLCertVerificationError:
        raise
    except (OSError, ssl.SSLError) as e:
        raise HarnessError(f"{url}: {_cause(e)}") from None
    if not der:
        raise HarnessError(f"{url}: the server sent no certificate")
    return der


def _chain_error(url: str, host: str, port: int, context: ssl.SSLContext, timeout: float) -> str:
    """ "" when the chain verifies, else OpenSSL's reason."""
    try:
        _handshake(url, host, port, context, timeout)
    except ssl.SSLCertVerificationError as e:
        return e.verify_message or str(e.reason or e)
    return ""


def _cause(error: BaseException) -> str:
    """One line for a connection that failed before any certificate could be judged."""
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "timed out connecting or in the TLS handshake"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (nothing listens on that port)"
    if isinstance(error, socket.gaierror):
        return f"the host name does not resolve ({error.strerror})"
    if isinstance(error, ssl.SSLError):
        reason = error.reason or error.strerror or str(error)
        return f"no TLS handshake ({reason}): is it https at all?"
    return " ".join(str(error).split()) or type(error).__name__


class NotServed(HarnessError):
    """Nothing serves plain http there: the connection was refused, or never opened (a
    firewall that drops it). Any other failure (a name that does not resolve, a reset, a
    listener that takes the connection and never answers) says nothing of what is served,
    and is a HarnessError."""


def http_redirect(http_url: str, timeout: float = TIMEOUT) -> tuple[int, str]:
    """Status and Location ("" when none) of a GET of the plain-http URL, redirects not
    followed: a hub served on https should send http there."""
    try:
        response = requests.get(http_url, allow_redirects=False, timeout=timeout)
    except requests.ConnectTimeout:
        raise NotServed(f"{http_url}: no connection within {timeout:.0f}s (dropped)") from None
    except requests.ConnectionError as e:
        if _refused(e):
            raise NotServed(f"{http_url}: connection refused") from None
        raise HarnessError(f"{http_url}: {_request_cause(e)}") from None
    except requests.RequestException as e:
        raise HarnessError(f"{http_url}: {_request_cause(e)}") from None
    response.close()
    return response.status_code, response.headers.get("Location", "")


def _refused(error: BaseException) -> bool:
    """Whether a connection error was a refused connection (requests wraps urllib3, which
    wraps the socket's error: walk the chain and the reasons)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, ConnectionRefusedError):
            return True
        todo += [
            e.__cause__,
            e.__context__,
            getattr(e, "reason", None),
            *(a for a in e.args if isinstance(a, BaseException)),
        ]
    return False


def _request_cause(error: requests.RequestException) -> str:
    if isinstance(error, requests.Timeout):
        return "timed out"
    if isinstance(error, requests.ConnectionError):
        return "could not connect (refused, unreachable or reset)"
    return " ".join(str(error).split())[:200] or type(error).__name__
