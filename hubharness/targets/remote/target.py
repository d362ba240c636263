"""The remote target: a hub this harness did not deploy, reached by its URL as its users
reach it. Nothing of the machine or cluster it runs on is visible: what verify may observe
is HTTP(S) to the hub and its users' servers, with the credentials the operator gives
(credentials.py). The lifecycle (deploy, remove, backup …) is whoever runs the hub's.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import ssl
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any, ClassVar, NoReturn
from urllib.parse import quote, urlsplit

import certifi
import requests

from ...checks import HTTPS_URL, LOCAL, REMOTE, SPARK_CLUSTER, SPARK_NATIVE, Check, Fault
from ...errors import HarnessError
from ...hubapi import TIMEOUT, HubAPI, UserSession, login, users_of
from ...paths import cache_dir
from ...secretstore import Secret
from ..base import Component, Deployment, Fact, Footprint, Status, Target
from . import checks, credentials
from .checks import ADMIN

CONTEXT = "remote"
CA_BUNDLE_ENV = "HUBHARNESS_CA_BUNDLE"  # a CA file to trust besides the system's (a private CA)
PREFIX_ENV = "HUBHARNESS_USER_PREFIX"  # verify's users are <prefix>alice …; deleted afterwards
REFUSED = (401, 403)
ADMIN_TOKEN_RENEW = 3000.0  # seconds; hubapi.UserSession asks for tokens that live 3600
TOKEN_NOTE = "hubharness verify (remote)"  # the admin's token asked for with their password, revoked at the end


def run_prefix(environ: MutableMapping[str, str] = os.environ) -> str:
    """What verify's users' names begin with: HUBHARNESS_USER_PREFIX, else verify-<6 hex>-
    made once per process, a run's own, so that the sweep deletes this run's users only,
    never another run's nor a person's."""
    given = environ.get(PREFIX_ENV)
    if not given:
        environ[PREFIX_ENV] = given = f"verify-{secrets.token_hex(3)}-"
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{2,}-", given):
        raise HarnessError(
            f"{PREFIX_ENV}={given!r}: give at least 4 lower-case letters, digits or dashes ending in '-' "
            "(every user whose name begins with it is deleted at the end)"
        )
    return given


def _outside(what: str) -> NoReturn:
    raise HarnessError(f"{what} cannot be observed from outside a hub reached by its URL (context {CONTEXT})")


def trust_ca_bundle(environ: MutableMapping[str, str] = os.environ) -> str | None:
    """HUBHARNESS_CA_BUNDLE trusted besides the CAs the clients trust already (the bundle
    REQUESTS_CA_BUNDLE names, else the system's, else certifi's): one file of both, for
    requests, websocket-client (the kernels) and the ssl module."""
    given = environ.get(CA_BUNDLE_ENV)
    if not given:
        return None
    try:
        extra = Path(given).read_bytes()
    except OSError:
        raise HarnessError(f"{CA_BUNDLE_ENV}={given} cannot be read: point it at the CA certificate(s) to trust")
    if b"-----BEGIN CERTIFICATE-----" not in extra:
        raise HarnessError(f"{CA_BUNDLE_ENV}={given} holds no PEM certificate: give the CA's certificate file")
    folder = cache_dir() / "ca"
    base = environ.get("REQUESTS_CA_BUNDLE") or ssl.get_default_verify_paths().openssl_cafile or certifi.where()
    if Path(base).parent == folder:  # made by an earlier call in this process
        return base
    both = Path(base).read_bytes().rstrip() + b"\n" + extra
    bundle = folder / f"{hashlib.sha256(both).hexdigest()[:16]}.pem"
    if not bundle.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        bundle.write_bytes(both)
    for name in ("REQUESTS_CA_BUNDLE", "WEBSOCKET_CLIENT_CA_BUNDLE", "SSL_CERT_FILE"):
        environ[name] = str(bundle)
    return str(bundle)


def check_url(url: str, plain: bool = False) -> str:
    """The hub's root URL as given, refused in one line where it cannot be one; plain http
    only where `plain` (--http-url, which carries no credential)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HarnessError(f"--url {url!r} is not a hub's address: give it as https://hub.example.org")
    if parts.scheme == "http" and not plain:
        raise HarnessError(f"--url {url}: plain http would carry the credentials in clear; give the hub's https URL")
    if parts.username or parts.password:
        raise HarnessError(
            "the URL holds a user name or password: give the address alone; credentials come from the environment"
        )
    if parts.path.rstrip("/") not in ("", "/hub"):
        raise HarnessError(f"--url {url!r}: give the hub's root (https://{parts.netloc}), not a page of it")
    return f"{parts.scheme}://{parts.netloc}"


class RemoteDeployment(Deployment):
    """What verify may ask of a hub reached by its URL. The facts that need the machine or
    the cluster raise: the target leaves their checks out (checks.FROM_OUTSIDE)."""

    spawn_timeout = 300  # a cluster's spawn may pull an image and attach a volume
    chart_version = "not known (a hub this harness did not deploy)"
    values_record = "not known: a hub this harness did not deploy"
    admin_ref = None

    def __init__(self, namespace: str, url: str, http_url: str | None, creds: credentials.Credentials):
        self.context, self.namespace = CONTEXT, namespace
        self.url = url
        parts = urlsplit(url)
        host = f"[{parts.hostname}]" if ":" in str(parts.hostname) else parts.hostname
        self.http_url = http_url or f"http://{host}"
        self.creds = creds
        self.values: dict = {}
        self.values_files: list[Path] = []
        self.user_prefix = run_prefix()
        self.load_prefix = f"{self.user_prefix}load-"
        # the token the admin's session asked for with their password, when, and its id (to revoke it)
        self._session_token: Secret | None = None
        self._session_token_at = 0.0
        self._admin_token_id: str | None = None
        self.offers = creds.offers
        self._minted: list[Secret] = []

    @property
    def public_url(self) -> str:
        return self.url

    @property
    def admin_users(self) -> list[str]:
        return [self.creds.admin_user] if self.creds.admin_user else []

    @property
    def expected_hub_version(self) -> str:
        _outside("the chart a hub was deployed with")

    def auth_password(self) -> Secret:
        if not self.creds.password:
            raise HarnessError("no users' password given: set HUBHARNESS_PASSWORD")
        return self.creds.password

    def admin_password(self) -> Secret:
        if not self.creds.admin_password:
            raise HarnessError("no admin password given: set HUBHARNESS_ADMIN_USER and HUBHARNESS_ADMIN_PASSWORD")
        return self.creds.admin_password

    @property
    def _admin_token(self) -> Secret:
        """The admin credential's token: the one given, else one the admin's session asks
        for, which the hub lets live an hour: asked for anew (and the old one revoked) once
        it is ADMIN_TOKEN_RENEW old, so that a watch of days keeps its identity."""
        given = self.creds.api_token or self.creds.admin_token
        if given:
            return given
        if self._session_token is not None and time.monotonic() - self._session_token_at < ADMIN_TOKEN_RENEW:
            return self._session_token
        if not (self.creds.admin_password and self.creds.admin_user):
            raise HarnessError(
                "no admin credential given: set HUBHARNESS_API_TOKEN (a token with admin scopes) or "
                "HUBHARNESS_ADMIN_USER and HUBHARNESS_ADMIN_PASSWORD"
            )
        self._revoke_session_token()
        try:
            session = UserSession(self.url, self.creds.admin_user, str(self.creds.admin_password))
            token = Secret(session.create_token(TOKEN_NOTE))
        except requests.RequestException as e:
            raise HarnessError(f"{self.creds.admin_user} could not log in at {self.url}: {e}") from None
        self._session_token, self._session_token_at, self._admin_token_id = token, time.monotonic(), session.token_id
        self._minted.append(token)
        return token

    def service_token(self) -> Secret:
        """The admin credential's token: the harness's identity on a remote hub."""
        return self._admin_token

    def user_token(self, username: str) -> Secret:
        """A token for one of verify's users, made by the admin credential (a hub behind
        an authenticator the harness cannot log in through)."""
        response = HubAPI(self.url, self._admin_token).request(
            "POST", f"/users/{quote(username)}/tokens", json={"note": "hubharness verify", "expires_in": 3600}
        )
        if response.status_code != 201:
            raise HarnessError(
                f"the admin credential may not make a token for {username}: {response.status_code} "
                "(it needs the tokens scope, or admin:users)"
            )
        token = Secret(response.json()["token"])
        self._minted.append(token)
        return token

    def secrets(self) -> list[Secret]:
        return [*self.creds.secrets(), *self._minted]

    def check_access(self) -> list[str]:
        """The credentials tried before any check. A token the hub refuses (401, 403), or a
        URL where nothing answers, stops verify in one line; a refused password is said in
        one line, and the checks that log in fail by name. A hub that answers otherwise (a
        certificate that does not verify, a 5xx, a hang) is left to the checks."""
        said = []
        try:
            requests.get(f"{self.url}/hub/api", timeout=TIMEOUT)
            if self.creds.api_token or self.creds.admin_token:
                which = "HUBHARNESS_API_TOKEN" if self.creds.api_token else "HUBHARNESS_ADMIN_TOKEN"
                status = HubAPI(self.url, self._admin_token).request("GET", "/user").status_code
                if status in REFUSED:
                    raise HarnessError(
                        f"the hub at {self.url} refuses {which}: GET /hub/api/user answered {status}; "
                        "check the token (and that it has not expired)"
                    )
            tries = [("HUBHARNESS_PASSWORD", f"{self.user_prefix}alice", self.creds.password)]
            if self.creds.admin_user and self.creds.admin_password:
                tries.append(("HUBHARNESS_ADMIN_PASSWORD", self.creds.admin_user, self.creds.admin_password))
            for which, name, password in tries:
                if password:
                    result = login(self.url, name, str(password))
                    if not result.ok and result.response.status_code in (200, *REFUSED):
                        said.append(
                            f"the hub at {self.url} refuses {which}: logging in as {name} answered "
                            f"{result.response.status_code}; the checks that log in with it fail"
                        )
        except requests.exceptions.SSLError:
            return said  # the TLS checks say what is wrong with the certificate
        except requests.ConnectionError as e:
            raise HarnessError(f"nothing answers at {self.url} ({type(e).__name__}): check --url") from None
        except requests.RequestException:
            return said  # a hub that answers badly or hangs: its checks name it
        return said

    # what needs the machine or the cluster
    def state_is_isolated(self) -> Fact:
        _outside("a namespace's state")

    def secret_has_key(self) -> Fact:
        _outside("the Secret")

    def secret_is_private(self) -> Fact:
        _outside("the Secret")

    def hub_reads_password_from_secret(self) -> Fact:
        _outside("the Secret")

    def hub_reads_admin_password_from_secret(self) -> Fact:
        _outside("the Secret")

    def leak_surfaces(self) -> Iterator[tuple[str, str]]:
        _outside("the hub's configuration, logs and processes")

    def components(self) -> list[Component]:
        _outside("the hub's and the proxy's processes or pods")

    def hub_instance(self) -> str:
        _outside("which hub process runs")

    @property
    def hub_target(self) -> str:
        _outside("the hub's internal address")

    def homes(self) -> list:
        _outside("users' homes")

    def run_in_server(self, username: str, command: str):
        _outside("a user's server's processes")

    def hub_database_integrity(self) -> Fact:
        _outside("the hub's database")

    def stop_component(self, name: str) -> None:
        _outside("restarting the hub or the proxy")

    def kill_user_server(self, username: str) -> None:
        _outside("a user's server's process")

    # what the hub shows
    def proxy_routes(self) -> dict:
        """The proxy's routes as the hub reads them (GET /hub/api/proxy, scope proxy)."""
        return HubAPI(self.url, self._admin_token).proxy_routes()

    def user_server_running(self, username: str) -> Fact:
        """Does the user's server itself answer through the proxy (its /api/status), with
        the admin credential's access:servers: what the hub's record says is not asked."""
        url = f"{self.url}/user/{quote(username)}/api/status"
        try:
            response = requests.get(
                url, headers={"Authorization": f"token {self._admin_token}"}, timeout=TIMEOUT, allow_redirects=False
            )
        except requests.RequestException as e:
            return Fact(False, f"{url} did not answer: {type(e).__name__}")
        try:
            answered = response.status_code == 200 and "started" in response.json()
        except ValueError:
            answered = False
        return Fact(answered, f"{url} answered {response.status_code}" + (" from the server" if answered else ""))

    def write_diagnostics(self, dest: Path) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        try:
            version = requests.get(f"{self.url}/hub/api", timeout=TIMEOUT).json()
        except (requests.RequestException, ValueError) as e:
            version = {"error": type(e).__name__}
        (dest / "hub.json").write_text(json.dumps({"url": self.url, "hub_api": version}, indent=2) + "\n")

    def verify_users(self) -> list[str]:
        """verify's users now on the hub (the prefix's), as the admin credential lists them."""
        return [
            u["name"] for u in HubAPI(self.url, self._admin_token).users() if u["name"].startswith(self.user_prefix)
        ]

    def sweep(self) -> list[str]:
        """Delete what verify made on the hub (its users, with their servers and tokens);
        what could not be deleted, each in a few words."""
        if ADMIN not in self.creds.offers:
            kept = (
                f"verify's users ({self.user_prefix}…): without an admin credential they cannot be deleted "
                "(no server of theirs runs; their tokens expire within the hour)"
            )
            return [kept]
        try:
            api = HubAPI(self.url, self._admin_token)
            names = self.verify_users()
        except requests.exceptions.SSLError:
            return []  # every request of the run was refused the same way: it made nothing
        except (HarnessError, requests.RequestException) as e:
            return [f"verify's users (prefix {self.user_prefix}) not listed: {e}"]
        left = []
        for name in names:
            try:
                if api.server(name) is not None:
                    api.stop_server(name)
                    api.wait_server_stopped(name, timeout=60)
                api.delete_user(name)
            except (HarnessError, requests.RequestException) as e:
                left.append(f"{name}: {e}")
        return left

    def close(self) -> None:
        """Revoke the token asked for with the admin's password, if any."""
        self._revoke_session_token()

    def _revoke_session_token(self) -> None:
        token, token_id = self._session_token, self._admin_token_id
        self._session_token, self._admin_token_id = None, None
        if token is None or token_id is None:
            return
        user = quote(str(self.creds.admin_user))
        try:
            HubAPI(self.url, token).request("DELETE", f"/users/{user}/tokens/{token_id}")
        except requests.RequestException:
            pass  # it expires within the hour


class RemoteTarget(Target):
    """`--context remote --url https://hub.example.org`: verify and status only."""

    OPTIONS: ClassVar[frozenset[str]] = frozenset({"url", "http_url"})
    KIND = REMOTE
    # a hub reached by its URL may run either Spark: which of its checks apply is FROM_OUTSIDE's to say
    HAS = frozenset({HTTPS_URL, SPARK_CLUSTER, SPARK_NATIVE})

    @classmethod
    def why_not_applicable(cls, check: Check) -> str:
        if check.id in checks.FROM_OUTSIDE:
            return ""
        return checks.NOT_FROM_OUTSIDE.get(check.id) or checks.NOT_FROM_OUTSIDE[check.group]

    @classmethod
    def credentials_for(cls, check: Check) -> frozenset[str]:
        return checks.FROM_OUTSIDE.get(check.id, frozenset())

    @staticmethod
    def why_missing(credentials: list[str]) -> str:
        """The environment that gives these credentials, for the report's not applicable list."""
        return " and ".join(checks.CREDENTIALS[c] for c in credentials)

    @classmethod
    def fault_for(cls, check: Check) -> str:
        return checks.INSTEAD.get(check.id, check.fault)

    @classmethod
    def why_cannot_do(cls, fault: Fault) -> str:
        """selftest stands a local deployment behind a TLS front for a remote hub: the
        front's faults, and the local deployment's values and ways, can be done."""
        if fault.mutant:
            return "it is planted in the harness's own operations, which do not run on a remote hub"
        if fault.by_values or REMOTE in fault.ways or LOCAL in fault.ways:
            return ""
        return "it is done to a cluster"

    def __init__(self, namespace: str, url: str | None = None, http_url: str | None = None):
        self.context, self.namespace = CONTEXT, namespace
        self._url = check_url(url) if url else None
        self.http_url = check_url(http_url, plain=True) if http_url else None

    @classmethod
    def create(cls, context: str, namespace: str, **options: Any) -> RemoteTarget:
        return cls(namespace, options.get("url"), options.get("http_url"))

    @property
    def url(self) -> str:
        if not self._url:
            raise HarnessError("--context remote needs the hub's address: --url https://hub.example.org")
        return self._url

    def _refuse(self, what: str) -> NoReturn:
        raise HarnessError(
            f"{what} is for a hub this harness deploys (local, kind or a kube context): a remote hub is "
            "changed by whoever runs it; verify and status reach it by its URL"
        )

    def deploy(self, values_files, port=0, chart_version=None, beside=False, force=False):
        self._refuse("deploy")

    def exists(self) -> bool:
        return True

    def remove(self, purge: bool = False):
        self._refuse("remove")

    def backup(self, to=None):
        self._refuse("backup")

    def restore(self, archive, force=False):
        self._refuse("restore")

    def footprint(self) -> Footprint:
        self._refuse("remove")

    def user_data_kept(self, username: str, footprint: Footprint) -> Fact:
        self._refuse("remove")

    def leftovers(self, footprint: Footprint) -> list[str]:
        self._refuse("remove")

    def deployment(self) -> RemoteDeployment:
        trust_ca_bundle()
        return RemoteDeployment(self.namespace, self.url, self.http_url, credentials.load())

    def status(self) -> Status:
        deployment = self.deployment()
        try:
            answers = requests.get(f"{self.url}/hub/api", timeout=TIMEOUT)
            version = answers.json().get("version") if answers.ok else None
            detail = f"JupyterHub {version}" if version else f"/hub/api answered {answers.status_code}"
        except (requests.RequestException, ValueError) as e:
            version, detail = None, f"did not answer: {type(e).__name__}"
        hub = Component("hub", version is not None, version is not None, 0, f"{detail} (as seen from outside)")
        status = Status(self.context, self.namespace, "not known", self.url, "not the harness's: a remote hub", [hub])
        try:
            status.users = users_of(HubAPI(self.url, deployment.service_token()))
        except HarnessError as e:
            status.users_error = str(e)
        except requests.RequestException as e:
            status.users_error = f"the hub could not be asked: {e}"
        finally:
            deployment.close()
        return status
