"""What the harness may log in to a remote hub with: only from the environment, or from a
file only its owner reads, never from argv (a command line is visible to every user of the
machine and lands in shell histories and CI logs).

A password (dummy or shared-password hubs) logs verify's users in through the form; an
API token with admin scopes (a service's, or an admin's) makes them and their tokens on a
hub behind any authenticator, and lets ADM run. Which checks each allows is in
hubharness.targets.remote.checks (FROM_OUTSIDE).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from ...errors import HarnessError
from ...secretstore import Secret
from .checks import ADMIN, ADMIN_PASSWORD, PASSWORD, USERS

# environment variable -> the field it fills
ENVIRONMENT = {
    "HUBHARNESS_PASSWORD": "password",
    "HUBHARNESS_API_TOKEN": "api_token",
    "HUBHARNESS_ADMIN_PASSWORD": "admin_password",
    "HUBHARNESS_ADMIN_TOKEN": "admin_token",
    "HUBHARNESS_ADMIN_USER": "admin_user",
}
FILE_ENV = "HUBHARNESS_CREDENTIALS"  # a YAML file of the same keys in lower case, mode 0600


@dataclass(frozen=True)
class Credentials:
    password: Secret | None = None
    api_token: Secret | None = None
    admin_password: Secret | None = None
    admin_token: Secret | None = None
    admin_user: str | None = None

    @property
    def offers(self) -> frozenset[str]:
        """What these credentials let verify do (hubharness.checks: PASSWORD, ADMIN, ADMIN_PASSWORD)."""
        held = set()
        if self.password:
            held.add(PASSWORD)
        if self.api_token or self.admin_token or (self.admin_password and self.admin_user):
            held.add(ADMIN)
        if self.admin_password and self.admin_user:
            held.add(ADMIN_PASSWORD)
        if held & {PASSWORD, ADMIN}:
            held.add(USERS)
        return frozenset(held)

    def secrets(self) -> list[Secret]:
        """Every value given, for leak checks and the report's redaction."""
        return [s for s in (self.password, self.api_token, self.admin_password, self.admin_token) if s]


def from_file(path: Path) -> dict[str, str]:
    """The credentials file's keys; refused unless only its owner may read it."""
    try:
        mode = path.stat().st_mode
    except OSError as e:
        raise HarnessError(f"{FILE_ENV}={path}: cannot read it ({e.strerror}): point it at your credentials file")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise HarnessError(f"{FILE_ENV}={path} is readable by others (mode {stat.S_IMODE(mode):o}): chmod 600 {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise HarnessError(f"{FILE_ENV}={path} is not a YAML mapping ({type(e).__name__}): fix it") from None
    known = set(ENVIRONMENT.values())
    if not isinstance(data, dict) or set(data) - known:
        unknown = ", ".join(sorted(set(data) - known)) if isinstance(data, dict) else "not a mapping"
        raise HarnessError(f"{FILE_ENV}={path}: unknown key(s) {unknown}; use {', '.join(sorted(known))}")
    return {k: str(v) for k, v in data.items() if v is not None}


def load(environ: Mapping[str, str] = os.environ) -> Credentials:
    """From the file HUBHARNESS_CREDENTIALS names, then the environment over it. None at
    all is allowed: the checks that need nothing but the URL (TLS, health) run."""
    given = from_file(Path(environ[FILE_ENV])) if environ.get(FILE_ENV) else {}
    given.update({field: environ[name] for name, field in ENVIRONMENT.items() if environ.get(name)})
    if given.get("admin_password") and not given.get("admin_user"):
        raise HarnessError("HUBHARNESS_ADMIN_PASSWORD needs HUBHARNESS_ADMIN_USER: the admin's user name")
    secret = {k: Secret(v) for k, v in given.items() if k != "admin_user"}
    return Credentials(admin_user=given.get("admin_user"), **secret)
