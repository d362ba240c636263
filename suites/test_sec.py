"""SEC: the password lives in a Secret, reaches the hub from it, and nowhere else."""

import hashlib

import pytest

from hubharness.checks import PUBLISHED
from hubharness.hubapi import login

pytestmark = pytest.mark.check("SEC")

# Passwords that must never open the hub: the seed's fallback and its documented example.
PUBLISHED_PASSWORDS = PUBLISHED
HUB_SECRET_VARIABLES = ("JUPYTERHUB_AUTH_PASSWORD", "JUPYTERHUB_ADMIN_PASSWORD", "CONFIGPROXY_AUTH_TOKEN")


def test_secret_holds_the_password(deployment):
    fact = deployment.secret_has_key()
    assert fact, f"missing: {fact.detail}"


def test_secret_is_private(deployment):
    fact = deployment.secret_is_private()
    assert fact, fact.detail


def test_hub_reads_password_from_secret(deployment):
    fact = deployment.hub_reads_password_from_secret()
    assert fact, fact.detail


def test_hub_reads_admin_password_from_secret(deployment, authenticator):
    """SharedPasswordAuthenticator's admin password (the catalogue runs this check only
    where the hub says it runs it; `authenticator` fails it where the hub cannot say)."""
    fact = deployment.hub_reads_admin_password_from_secret()
    assert fact, fact.detail


def test_password_is_not_a_published_one(password):
    assert str(password) not in PUBLISHED_PASSWORDS, "the secret holds a password published in docs"


@pytest.mark.parametrize("candidate", PUBLISHED_PASSWORDS)
def test_no_fallback_password_logs_in(deployment, candidate, refused_login, prefix):
    result = login(deployment.public_url, f"{prefix}intruder", candidate)
    assert not result.ok, f"the hub accepted the published password {candidate!r}"
    assert result.response.status_code == refused_login, (
        f"expected the hub's {refused_login}, got {result.response.status_code}"
    )


def test_secrets_appear_nowhere_else(deployment):
    secrets = [str(s) for s in deployment.secrets() if len(str(s)) >= 6]
    leaks = sorted({where for where, text in deployment.leak_surfaces() for s in secrets if s in text})
    assert not leaks, f"a secret value appears in: {', '.join(leaks[:10])}"


@pytest.mark.cell(
    "import os, json, hashlib\n"
    "print(json.dumps({k: hashlib.sha256(v.encode()).hexdigest() for k, v in os.environ.items()}))"
)
def test_user_servers_do_not_inherit_hub_secrets(cell, deployment):
    """By name and by value: the kernel's environment is its server's (digests only
    leave the notebook, never a value)."""
    digests = cell.last_json()
    secret_digests = {hashlib.sha256(str(s).encode()).hexdigest() for s in deployment.secrets()}
    by_name = sorted(k for k in HUB_SECRET_VARIABLES if k in digests)
    by_value = sorted(k for k, digest in digests.items() if digest in secret_digests)
    assert not by_name, f"user server environment holds {by_name}"
    assert not by_value, f"user server environment holds a hub secret's value in {by_value}"


HOME_TOKENS = (
    "import os, re, json, hashlib\n"
    "seen, files, skipped = set(), 0, 0\n"
    "for root, dirs, names in os.walk(os.path.expanduser('~')):\n"
    "    for name in names:\n"
    "        path = os.path.join(root, name)\n"
    "        try:\n"
    "            if os.path.islink(path) or os.path.getsize(path) > 1 << 20:\n"
    "                skipped += 1; continue\n"
    "            text = open(path, 'rb').read().decode('utf-8', 'replace')\n"
    "        except OSError:\n"
    "            skipped += 1; continue\n"
    "        files += 1\n"
    "        words = set(re.findall(r'[A-Za-z0-9_-]{6,}', text)) | {l.strip() for l in text.splitlines()}\n"
    "        seen |= {hashlib.sha256(w.encode()).hexdigest()[:16] for w in words if len(w) >= 6}\n"
    "print(json.dumps({'files': files, 'skipped': skipped, 'digests': sorted(seen)}))"
)


@pytest.mark.cell(HOME_TOKENS)
def test_user_homes_hold_no_hub_secret(cell, deployment):
    """Every word and line of every file (up to 1 MiB) in alice's home, as digests: no hub
    secret is written where its user, or anyone they share a file with, can read it."""
    found = cell.last_json()
    secret_digests = {
        hashlib.sha256(str(s).encode()).hexdigest()[:16] for s in deployment.secrets() if len(str(s)) >= 6
    }
    leaked = len(secret_digests & set(found["digests"]))  # a count: even a digest of a secret stays out of reports
    assert leaked == 0, (
        f"{leaked} hub secret(s) in files of the user's home ({found['files']} files read, {found['skipped']} skipped)"
    )
