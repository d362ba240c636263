"""Talking to a hub the way its users and admins do: the login form and the REST API."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

import requests

from . import connections
from .errors import HarnessError
from .secretstore import Secret
from .waiting import wait_until

TIMEOUT = 10  # seconds, for any single HTTP request
HELD_TIMEOUT = 30  # spawn and stop requests: longer than slow_spawn_timeout and slow_stop_timeout (10 s)
PAGINATED = "application/jupyterhub-pagination+json"  # JupyterHub ≥ 2: items and where the next page is
MAX_PAGES = 1000
MAX_EVENTS = 200  # lines of a spawn's progress stream read for its outcome


class HubAPI:
    """Token-authenticated client for /hub/api (one request helper, explicit timeouts).

    `token` is the API token it authenticates with, for whoever needs the same identity
    elsewhere (a kernel, a user's server). It is a Secret: neither its repr nor this
    client's shows it.
    """

    def __init__(self, public_url: str, token: str, session: requests.Session | None = None):
        self.public_url = public_url.rstrip("/")
        self.token = Secret(token)
        self.session = session or connections.session()
        self.session.headers["Authorization"] = f"token {token}"

    def __repr__(self) -> str:
        return f"HubAPI({self.public_url!r})"

    def clone(self) -> HubAPI:
        """A client with its own connection pool, for use from another thread."""
        return HubAPI(self.public_url, self.token)

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", TIMEOUT)
        kwargs.setdefault("allow_redirects", False)
        return self.session.request(method, f"{self.public_url}/hub/api{path}", **kwargs)

    def _ok(self, response: requests.Response) -> requests.Response:
        if response.status_code >= 400:
            raise HarnessError(
                f"hub API {response.request.method} {response.request.path_url} answered "
                f"{response.status_code}: {response.text[:200]}"
            )
        return response

    def info(self) -> dict:
        return self._ok(self.request("GET", "/")).json()

    def proxy_routes(self) -> dict:
        """The proxy's routing table as the hub reads it from the proxy (scope `proxy`),
        keyed like configurable-http-proxy's own API: "/", "/user/alice"."""
        routes = self._ok(self.request("GET", "/proxy")).json()
        return {(spec.rstrip("/") or "/"): route for spec, route in routes.items()}

    def users(self, state: str | None = None) -> list[dict]:
        """Every user, page after page: the hub gives at most api_page_max_limit (200) a request."""
        params = {"state": state} if state else {}
        found: list[dict] = []
        for _ in range(MAX_PAGES):
            body = self._ok(
                self.request("GET", "/users", params={**params, "offset": len(found)}, headers={"Accept": PAGINATED})
            ).json()
            if isinstance(body, list):  # a hub that does not paginate gives them all at once
                return found + body
            found += body["items"]
            if not body["items"] or not (body.get("_pagination") or {}).get("next"):
                return found
        raise HarnessError(f"the hub listed more than {MAX_PAGES} pages of users")

    def user(self, name: str) -> dict | None:
        response = self.request("GET", f"/users/{quote(name)}")
        return None if response.status_code == 404 else self._ok(response).json()

    def ensure_user(self, name: str) -> dict:
        existing = self.user(name)
        if existing is not None:
            return existing
        return self._ok(self.request("POST", f"/users/{quote(name)}")).json()

    def delete_user(self, name: str) -> None:
        """Delete a user (the hub stops a running server first); one already gone is no error."""
        response = self.request("DELETE", f"/users/{quote(name)}", timeout=HELD_TIMEOUT)
        if response.status_code != 404:
            self._ok(response)

    def set_admin(self, name: str, admin: bool = True) -> dict:
        """Only an admin may grant admin (a service's admin:users scope is not enough)."""
        return self._ok(self.request("PATCH", f"/users/{quote(name)}", json={"admin": admin})).json()

    def start_server(self, name: str) -> requests.Response:
        response = self.request("POST", f"/users/{quote(name)}/server", timeout=HELD_TIMEOUT)
        if response.status_code == 400 and "already running" in response.text:
            return response
        if response.status_code >= 500:
            why = self.spawn_failure(name)
            if why:
                raise HarnessError(f"hub API POST /hub/api/users/{name}/server answered {response.status_code}: {why}")
        return self._ok(response)

    def spawn_failure(self, name: str) -> str | None:
        """Why the hub says the user's last spawn failed (the failed event of its progress
        stream: "Spawn failed: …"), where it says; the API's own 500 says only "error"."""
        url = f"{self.public_url}/hub/api/users/{quote(name)}/server/progress"
        try:
            with self.session.get(url, stream=True, timeout=TIMEOUT) as answer:
                if answer.status_code != 200:
                    return None
                for line in itertools.islice(answer.iter_lines(decode_unicode=True), MAX_EVENTS):
                    if line and line.startswith("data:"):
                        event = json.loads(line.removeprefix("data:"))
                        if event.get("failed"):
                            return str(event.get("message") or "Spawn failed")
        except (requests.RequestException, ValueError):
            return None
        return None

    def stop_server(self, name: str, server: str = "") -> requests.Response:
        suffix = f"/servers/{quote(server)}" if server else "/server"
        # The hub holds the request until the stop is done or slow_stop_timeout (10 s) passed.
        response = self.request("DELETE", f"/users/{quote(name)}{suffix}", timeout=HELD_TIMEOUT)
        if response.status_code in (204, 202, 400):  # 400: not running
            return response
        return self._ok(response)

    def server(self, name: str) -> dict | None:
        user = self.user(name)
        return (user or {}).get("servers", {}).get("")

    def wait_server_ready(self, name: str, timeout: float, fail_fast: Callable[[], None] | None = None) -> dict:
        """`fail_fast` raises to give up early (watch: a stop was asked for)."""

        def probe():
            server = self.server(name)
            if server is None:
                raise HarnessError(f"server of {name} is gone: its spawn failed or it was stopped (see the hub log)")
            return server if server.get("ready") else None

        return wait_until(f"{name}'s server to be ready", probe, timeout, fail_fast=fail_fast)

    def wait_server_stopped(self, name: str, timeout: float) -> None:
        wait_until(f"{name}'s server to stop", lambda: self.server(name) is None, timeout)


@dataclass
class LoginResult:
    session: requests.Session
    response: requests.Response

    @property
    def ok(self) -> bool:
        """Logged in: redirected away from the login page with a hub session cookie."""
        return (
            self.response.status_code == 302
            and "/hub/login" not in self.response.headers.get("Location", "")
            and any(c.name.startswith("jupyterhub-") for c in self.session.cookies)
        )


def login(public_url: str, username: str, password: str, with_xsrf: bool = True) -> LoginResult:
    """Log in through the form, as a browser does: GET for the _xsrf cookie, then POST."""
    session = connections.session()
    base = public_url.rstrip("/")
    form = session.get(f"{base}/hub/login", timeout=TIMEOUT)
    form.raise_for_status()
    data = {"username": username, "password": password}
    if with_xsrf:
        data["_xsrf"] = session.cookies.get("_xsrf") or ""
    response = session.post(f"{base}/hub/login", data=data, timeout=TIMEOUT, allow_redirects=False)
    return LoginResult(session, response)


def refused_login_status(hub_version: str) -> int:
    """What the hub answers a refused login form with: JupyterHub 5.3 made it 403; before,
    the form came back with its error and 200 (charts 4.0.0 and 4.1.0 ship 5.2.1)."""
    major_minor = tuple(int(p) for p in hub_version.split(".")[:2] if p.isdigit())
    return 403 if major_minor >= (5, 3) else 200


class UserSession:
    """A logged-in user: cookies from the login form, then a token of their own."""

    def __init__(self, public_url: str, username: str, password: str):
        self.public_url = public_url.rstrip("/")
        self.username = username
        result = login(public_url, username, password)
        if not result.ok:
            raise HarnessError(
                f"login as {username} failed: {result.response.status_code} "
                f"{result.response.headers.get('Location', '')}"
            )
        self.session = result.session
        self.token_id: str | None = None

    def create_token(self, note: str = "hubharness verify") -> str:
        # The _xsrf cookie of the login form is an anonymous one: JupyterHub 5.3 refuses it
        # once logged in (5.5 renews it at login). A page of the hub, as a browser shows one
        # after login, renews it; /hub/home starts nothing (/hub/spawn would).
        self.session.get(f"{self.public_url}/hub/home", timeout=TIMEOUT, allow_redirects=False)
        response = self.session.post(
            f"{self.public_url}/hub/api/users/{quote(self.username)}/tokens",
            json={"note": note, "expires_in": 3600},
            headers={"X-XSRFToken": self.session.cookies.get("_xsrf", "")},
            timeout=TIMEOUT,
        )
        if response.status_code != 201:
            raise HarnessError(f"token for {self.username} refused: {response.status_code} {response.text[:200]}")
        self.token_id = response.json().get("id")  # to revoke it
        return response.json()["token"]

    def api(self) -> HubAPI:
        return HubAPI(self.public_url, self.create_token())


def users_of(api: HubAPI) -> list[dict]:
    """Users and their servers, as `invoke status` shows them."""
    return [
        {
            "name": user["name"],
            "admin": user.get("admin"),
            "last_activity": user.get("last_activity"),
            "servers": {
                (name or "default"): {"ready": s.get("ready"), "url": s.get("url"), "started": s.get("started")}
                for name, s in (user.get("servers") or {}).items()
            },
        }
        for user in api.users()
    ]


def hub_healthy(url: str, timeout: float = TIMEOUT) -> bool:
    """Does the hub answer /hub/health with 200 at `url` (proxy-public) now."""
    try:
        return requests.get(f"{url}/hub/health", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False
