"""`invoke rotate-password`: a new login password in its Secret, the hub restarted to read
it, users' servers left running, and the change proven before it is called done.

The new value comes from HUBHARNESS_NEW_PASSWORD (HUBHARNESS_NEW_ADMIN_PASSWORD with
--admin) or is generated; it is never printed, only where to read it. Proven through the
login form, as a user meets it: the old password refused, the new one let in. A rotation
that fails after the Secret was written puts the old value back and restarts the hub again,
so nobody is locked out. The target gives the two primitives (write the Secret's key,
restart the hub as deleting its pod does); the order and the proof are here.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import requests

from . import authenticators
from . import values as chart_values
from .errors import HarnessError
from .hubapi import TIMEOUT, HubAPI, hub_healthy, login, refused_login_status
from .secretstore import Secret
from .targets.base import Target
from .waiting import wait_until

NEW_ENV = authenticators.NEW_ENV
PROBE_USER = "hubharness-rotation"  # logs in to prove the user password; deleted afterwards
HEALTHY_TIMEOUT = 120  # seconds for the restarted hub to answer through the proxy


@dataclass
class RotationResult:
    which: str  # "user password" or "admin password"
    origin: str  # where the new value came from: "environment" or "generated"
    place: str  # where to read it (never the value)
    seconds: float
    kept: list[str] = field(default_factory=list)  # user servers running before and after, the same ones
    lost: list[str] = field(default_factory=list)  # … stopped or started again by the rotation
    left: str = ""  # what the rotation could not clean up (its probe user), if anything

    def lines(self) -> list[str]:
        out = [
            (
                f"rotated the {self.which} ({self.origin}) in {self.seconds:.1f}s: the old one is refused, "
                f"the new one logs in; read it from {self.place}"
            ),
            f"user servers kept running: {len(self.kept)}" + (f" ({', '.join(self.kept)})" if self.kept else ""),
        ]
        if self.lost:
            out.append(f"user servers the rotation stopped or started again: {', '.join(self.lost)}")
        if self.left:
            out.append(self.left)
        return out


def _servers(api: HubAPI) -> dict[str, str]:
    """Running servers, user/name → when the hub says it started."""
    return {
        f"{user['name']}/{name}": str(server.get("started"))
        for user in api.users(state="active")
        for name, server in (user.get("servers") or {}).items()
        if server.get("ready")
    }


def _prove(url: str, username: str, old: str, new: str) -> None:
    """The old password refused with the hub's own status, the new one let in."""
    version = requests.get(f"{url}/hub/api", timeout=TIMEOUT).json().get("version", "")
    refused = login(url, username, old)
    if refused.ok or refused.response.status_code != refused_login_status(version):
        raise HarnessError(f"the old password still logs {username} in ({refused.response.status_code})")
    accepted = login(url, username, new)
    if not accepted.ok:
        raise HarnessError(f"the new password does not log {username} in ({accepted.response.status_code})")


def rotate(target: Target, admin: bool = False) -> RotationResult:
    deployment = target.deployment()
    try:
        return _rotate(target, deployment, admin)
    finally:
        deployment.close()  # what reaching it took (a port-forward)


def _rotate(target: Target, deployment, admin: bool) -> RotationResult:
    started = time.monotonic()
    values = deployment.rendered_values
    env_name = authenticators.ADMIN_ENV if admin else authenticators.AUTH_ENV
    which = "admin password" if admin else "user password"
    refs = authenticators.password_refs(values)
    if env_name not in refs:
        raise HarnessError(
            f"the values route no admin password from a Secret ({authenticators.ADMIN_ENV} in hub.extraEnv): "
            "there is none to rotate"
        )
    url = deployment.public_url
    if not hub_healthy(url):
        raise HarnessError(
            f"the hub at {url} does not answer /hub/health: a rotation must prove the new {which} on a running "
            "hub; bring it up (invoke deploy) and rotate again (nothing was changed)"
        )
    old = deployment.admin_password() if admin else deployment.auth_password()
    given = os.environ.get(NEW_ENV[env_name])
    new = Secret(given or authenticators.GENERATED[env_name]())
    if new == old:
        raise HarnessError(f"{NEW_ENV[env_name]} holds the {which} in use: give another, or unset it for a new one")
    # what the hub would refuse to start with: the new one, beside the other password it keeps
    candidates: dict[str, tuple[str, str]] = {env_name: (new, NEW_ENV[env_name])}
    other = authenticators.AUTH_ENV if admin else authenticators.ADMIN_ENV
    if other in refs:
        kept = deployment.auth_password() if admin else deployment.admin_password()
        candidates[other] = (kept, f"Secret {'/'.join(refs[other])}")
    authenticators.refuse_passwords(values, candidates)
    username = _admin_user(values) if admin else _probe_user(values)
    api = HubAPI(url, deployment.service_token())
    made_probe = username == PROBE_USER and api.user(PROBE_USER) is None
    before = _servers(api)
    target.write_password(env_name, new)
    try:
        target.restart_hub()
        _wait_healthy(url)
        _prove(url, username, old, new)
    except Exception as e:  # noqa: BLE001 — whatever failed after the write, the old password goes back
        why = str(e) if isinstance(e, HarnessError) else f"{type(e).__name__}: {e}"
        raise HarnessError(f"rotation failed: {why}; {_put_back(target, env_name, old, url, username)}") from None
    finally:
        left = _delete_probe(api) if made_probe else ""
    after = _servers(api)
    secret, key = refs[env_name]
    return RotationResult(
        which,
        "environment" if given else "generated",
        target.password_place(secret, key),
        time.monotonic() - started,
        kept=sorted(s for s in before if after.get(s) == before[s]),
        lost=sorted(s for s in before if after.get(s) != before[s]),
        left=left,
    )


def _wait_healthy(url: str) -> None:
    """Until the hub answers through the proxy (a Ready pod is not yet a served Service)."""
    wait_until(f"the hub at {url}/hub/health after its restart", lambda: hub_healthy(url), HEALTHY_TIMEOUT)


def _delete_probe(api: HubAPI) -> str:
    """The user that proved the password, deleted; what was left if it could not be."""
    try:
        api.delete_user(PROBE_USER)
        return ""
    except (HarnessError, requests.RequestException) as e:
        return f"user {PROBE_USER} could not be deleted ({e}): delete it in the hub's admin page"


def _probe_user(values: dict) -> str:
    """Who logs in to prove the user password: a user of the harness's own, unless the hub
    lets only some users in (then the first of them that is no admin, left as it was:
    an admin may log in with the admin password only)."""
    allowed = set(chart_values.get(values, "hub.config.Authenticator.allowed_users", []) or [])
    admins = set(chart_values.get(values, "hub.config.Authenticator.admin_users", []) or [])
    return str(min(allowed - admins)) if allowed - admins else PROBE_USER


def _admin_user(values: dict) -> str:
    admins = chart_values.get(values, "hub.config.Authenticator.admin_users", []) or []
    if not admins:
        raise HarnessError("the values name no admin user (hub.config.Authenticator.admin_users) to prove it with")
    return str(min(admins))


def _put_back(target: Target, env_name: str, old: str, url: str, username: str) -> str:
    """The old value written back and the hub restarted again: what the operator is told."""
    try:
        target.write_password(env_name, old)
        target.restart_hub()
        if login(url, username, old).ok:
            return "the old password is in place again and logs in"
    except Exception as e:  # noqa: BLE001 — said to the operator, who must act
        return f"putting the old password back failed too ({type(e).__name__}: {e}): check the Secret and the hub"
    return "the old password was written back, but the hub does not take it yet: check the hub's log"
