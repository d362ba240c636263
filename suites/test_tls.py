"""TLS: a hub reached by its https URL shows a certificate for its host, with a chain that
verifies and far from expiry, and plain http is redirected to https, never served in clear
(context remote: a hub deployed here is reached over its own listener)."""

import os
from urllib.parse import urlsplit

import pytest

from hubharness import tls
from hubharness.errors import HarnessError

pytestmark = pytest.mark.check("TLS")

MIN_DAYS_ENV = "HUBHARNESS_TLS_MIN_DAYS"
MIN_DAYS = 14


@pytest.fixture(scope="session")
def certificate(deployment) -> tls.Certificate:
    if urlsplit(deployment.public_url).scheme != "https":
        pytest.fail(f"{deployment.public_url} is plain http: the hub has no TLS (give its https URL)")
    try:
        return tls.certificate(deployment.public_url)  # the system's CAs, and HUBHARNESS_CA_BUNDLE's
    except HarnessError as e:
        pytest.fail(str(e))


@pytest.fixture(scope="session")
def min_days() -> float:
    given = os.environ.get(MIN_DAYS_ENV, "")
    try:
        return float(given) if given else MIN_DAYS
    except ValueError:
        pytest.fail(f"{MIN_DAYS_ENV}={given!r} is not a number of days")


def test_certificate_chain_verifies(certificate, note):
    assert certificate.chain_ok, (
        f"the chain does not verify: {certificate.chain_error} (issuer {certificate.issuer}; "
        "a private CA is trusted with HUBHARNESS_CA_BUNDLE)"
    )
    note(f"issued to {certificate.subject} by {certificate.issuer}")


def test_certificate_names_the_host(certificate, note):
    assert certificate.matches_host(), (
        f"the certificate names {', '.join(certificate.names) or 'no host'}, not {certificate.host}"
    )
    note(f"{certificate.host} is among {', '.join(certificate.names)}")


def test_certificate_is_far_from_expiry(certificate, min_days, note):
    left = certificate.days_left()
    when = f"in {left:.1f} day(s)" if left >= 0 else f"{-left:.1f} day(s) ago"
    assert left >= min_days, (
        f"the certificate expire{'s' if left >= 0 else 'd'} {certificate.not_after:%Y-%m-%d %H:%M} UTC, {when}: "
        f"under the {min_days:g} days of {MIN_DAYS_ENV}"
    )
    note(f"{left:.0f} days left (until {certificate.not_after:%Y-%m-%d} UTC; the bound is {min_days:g})")


def test_plain_http_redirects_to_https(deployment, note):
    """Redirected to the hub's https host, or not served at all (refused, or dropped);
    never the hub in clear. Plain http that cannot be reached for another reason (a name
    that does not resolve) says nothing of it: the check fails."""
    try:
        status, location = tls.http_redirect(deployment.http_url)
    except tls.NotServed as e:
        note(f"plain http is not served: {e}")
        return
    except HarnessError as e:
        pytest.fail(f"plain http could not be read, so whether it serves the hub in clear is not known: {e}")
    host = urlsplit(deployment.public_url).hostname
    redirected = status in (301, 302, 307, 308) and location.startswith("https://")
    if not redirected or urlsplit(location).hostname != host:
        pytest.fail(
            f"plain http serves the hub in clear: {deployment.http_url} answered {status}"
            + (f" → {location}" if location else "")
            + f", not a redirect to https://{host}"
        )
    note(f"{deployment.http_url} answers {status} → {location}")
