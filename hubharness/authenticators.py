"""The shared-password authenticators verify knows: which one a hub runs (as the hub
itself reports it), the Secret keys their passwords come from, and the rules the hub
holds those passwords to.

DummyAuthenticator (the seed's, the default): one password for everyone.
SharedPasswordAuthenticator (JupyterHub 5.3+, `values/shared-password.yaml`): a user
password for non-admins and a separate admin password that only admin users may use.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from . import chart
from . import values as chart_values
from .errors import HarnessError
from .hubapi import HubAPI

AUTH_ENV = chart_values.AUTH_ENV
ADMIN_ENV = "JUPYTERHUB_ADMIN_PASSWORD"
# rotate-password's new values, read by the command only (never a component's environment)
NEW_ENV = {AUTH_ENV: "HUBHARNESS_NEW_PASSWORD", ADMIN_ENV: "HUBHARNESS_NEW_ADMIN_PASSWORD"}

DUMMY, SHARED = "dummy", "shared-password"  # JupyterHub's own names (its entry points)
CLASSES = {
    "jupyterhub.auth.DummyAuthenticator": DUMMY,
    "jupyterhub.authenticators.shared.SharedPasswordAuthenticator": SHARED,
}
# The values overlay that makes a deployment run each one (selftest's healthy baseline).
VALUES_FILE = {SHARED: "shared-password.yaml"}

# Passwords deploy makes when neither the environment nor the Secret has one: long
# enough for every authenticator (SharedPasswordAuthenticator: 8 for users, 32 for admins).
GENERATED: dict[str, Callable[[], str]] = {
    AUTH_ENV: lambda: secrets.token_urlsafe(24),  # 32 characters
    ADMIN_ENV: lambda: secrets.token_urlsafe(36),  # 48 characters
}


def configured(values: dict) -> str:
    """The authenticator the values select (hub.config.JupyterHub.authenticator_class),
    by JupyterHub's short name; a class verify does not know keeps its own name."""
    name = str(chart_values.get(values, "hub.config.JupyterHub.authenticator_class", "") or "")
    return CLASSES.get(name, name)


# The JupyterHub an authenticator first came with (charts that ship an older one cannot run it).
SINCE = {SHARED: "5.3.0"}


def require_hub_for(values: dict, chart_version: str) -> None:
    """Refuse, before anything changes, values whose authenticator the chart's JupyterHub lacks."""
    kind = configured(values)
    since = SINCE.get(kind)
    if not since:
        return
    hub = chart.hub_version(chart_version)
    if tuple(map(int, hub.split("."))) < tuple(map(int, since.split("."))):
        raise HarnessError(
            f"the values select the {kind} authenticator, which JupyterHub {since} brought; chart "
            f"{chart_version} ships JupyterHub {hub}: deploy chart 4.2.0 or newer, or leave {VALUES_FILE[kind]} out"
        )


def admin_secret_ref(values: dict) -> tuple[str, str] | None:
    """(Secret name, key) of the admin password, where the values route one to the hub."""
    return chart_values.secret_refs(chart_values.get(values, "hub.extraEnv", {})).get(ADMIN_ENV)


def password_refs(values: dict) -> dict[str, tuple[str, str]]:
    """Every login password the hub takes from a Secret: env name → (Secret, key)."""
    refs = {AUTH_ENV: chart_values.auth_secret_ref(values)}
    if admin := admin_secret_ref(values):
        refs[ADMIN_ENV] = admin
    return refs


def password_problem(values: dict, passwords: dict[str, str]) -> str | None:
    """Why the hub would refuse these passwords (env name → value; one missing is made by
    deploy, long enough), by the authenticator's own rules; None when it takes them."""
    if configured(values) != SHARED:
        return None
    from jupyterhub.authenticators.shared import SharedPasswordAuthenticator
    from traitlets import TraitError

    traits = {"user_password": passwords.get(AUTH_ENV), "admin_password": passwords.get(ADMIN_ENV)}
    try:
        SharedPasswordAuthenticator(**{k: v for k, v in traits.items() if v})
    except (TraitError, ValueError) as e:
        return str(e).strip()
    return None


def refuse_passwords(values: dict, candidates: dict[str, tuple[str, str]]) -> None:
    """One clear line, before anything changes, when the hub would refuse a password:
    candidates are env name → (value, where it comes from)."""
    problem = password_problem(values, {name: value for name, (value, _) in candidates.items()})
    if problem:
        sources = ", ".join(f"{name} from {where}" for name, (_, where) in sorted(candidates.items()))
        raise HarnessError(
            f"SharedPasswordAuthenticator refuses the passwords ({sources}): {problem}; "
            "set a longer or different one and deploy again (nothing was changed)"
        )


def running_class(public_url: str, token: str) -> str:
    """The authenticator class the hub runs, as it reports it (GET /hub/api/info, scope
    read:hub); a HarnessError when the hub cannot be asked."""
    try:
        info = HubAPI(public_url, token).request("GET", "/info")
    except Exception as e:  # noqa: BLE001 — any failure to ask is the same answer: not known
        raise HarnessError(f"could not ask the hub which authenticator it runs: {type(e).__name__}") from None
    if info.status_code != 200:
        raise HarnessError(
            f"could not ask the hub which authenticator it runs: /hub/api/info answered {info.status_code}"
        )
    try:
        return str(info.json()["authenticator"]["class"])
    except (ValueError, KeyError, TypeError):
        raise HarnessError("the hub's /hub/api/info names no authenticator class") from None


def kind_of(class_path: str) -> str:
    return CLASSES.get(class_path, class_path)
