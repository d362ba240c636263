"""The remote target: a local hub served behind a TLS front with a CA of the test's own,
verified by its https URL as an operator verifies a hub they did not deploy."""

from __future__ import annotations

import json
import re
import secrets
import signal
import subprocess

import pytest
import requests

from hubharness import checks
from hubharness.hubapi import HubAPI, UserSession
from hubharness.paths import PROJECT_ROOT
from hubharness.secretstore import Secret
from hubharness.targets.remote import RemoteDeployment, credentials
from hubharness.targets.remote import checks as remote_checks
from hubharness.targets.remote import target as remote_target
from hubharness.tlsfront import TestCA, TlsFront
from hubharness.waiting import wait_until

from .helpers import INVOKE, failed, outcomes

NAMESPACE = "rm"


def _secret(harness, name: str, key: str) -> str:
    return json.loads((harness.state_dir(NAMESPACE) / "secrets" / f"{name}.json").read_text())[key]


@pytest.fixture(scope="module")
def hub(module_harness, tmp_path_factory):
    """A local deployment behind https, and what an operator would be given for it."""
    ran = module_harness.deploy(NAMESPACE)
    assert ran.code == 0, ran.err
    folder = tmp_path_factory.mktemp("tls")
    ca = TestCA(folder)
    upstream = module_harness.status(NAMESPACE)["hub_url"]
    password = _secret(module_harness, "urbalurba-secrets", "JUPYTERHUB_AUTH_PASSWORD")
    with TlsFront(upstream, ca.issue("front"), folder) as front:
        yield {
            "front": front,
            "ca": str(ca.ca_pem),
            "password": password,
            # an admin's own token, as an operator of a hub behind OAuth would give one
            "token": UserSession(upstream, "admin", password).create_token("an operator's token"),
            "upstream": upstream,
        }


def remote_verify(harness, hub, env: dict[str, str], *args: str):
    front = hub["front"]
    ran = harness.invoke(
        "verify", "--context", "remote", "--url", front.url, "--http-url", front.http_url, *args,
        env={"HUBHARNESS_CA_BUNDLE": hub["ca"], **env},
        timeout=900,
    )  # fmt: skip
    summary_file = harness.reports / "latest" / "summary.json"
    return ran, json.loads(summary_file.read_text()) if summary_file.exists() else {}


def what_went_wrong(ran, harness, hub) -> str:
    """verify's last words, the errors the TLS front and the deployment's proxy logged, and
    the hub's errors and 5xx answers: a 503 page is configurable-http-proxy's at either
    hop, its log says which."""
    logs = harness.state_dir(NAMESPACE) / "logs"
    said = [ran.out[-3000:]]
    for name, path in (("front", hub["front"].log("https")), ("proxy", logs / "proxy.log")):
        errors = [line for line in _lines(path) if "error" in line]
        said.append(f"--- {name}'s errors ({path.name}):\n" + "\n".join(errors[-20:]))
    hub_errors = [line for line in _lines(logs / "hub.log") if re.match(r"\[[EC] |\[W .*\] 5\d\d ", line)]
    said.append("--- the hub's errors and its 5xx answers:\n" + "\n".join(hub_errors[-20:]))
    return "\n".join(said)


def _lines(path) -> list[str]:
    return path.read_text(errors="replace").splitlines() if path.is_file() else [f"({path} is missing)"]


def remote_environment() -> list[str]:
    """What an operator may have exported for the remote target, cleared for a test."""
    return [*credentials.ENVIRONMENT, credentials.FILE_ENV, "HUBHARNESS_CA_BUNDLE", "HUBHARNESS_USER_PREFIX"]


def left_users(hub) -> list[str]:
    api = HubAPI(hub["upstream"], hub["token"])
    return [u["name"] for u in api.users() if u["name"].startswith("verify-")]


def test_a_token_alone_verifies_every_check_it_allows_and_leaves_nothing(module_harness, hub):
    ran, summary = remote_verify(module_harness, hub, {"HUBHARNESS_API_TOKEN": hub["token"]})
    ran_ids = set(outcomes(summary))
    allowed = {
        cid for cid, needs in remote_checks.FROM_OUTSIDE.items() if needs <= {remote_checks.ADMIN, remote_checks.USERS}
    }
    assert ran_ids == allowed, sorted(ran_ids ^ allowed)
    assert not failed(summary) and ran.code == 0, what_went_wrong(ran, module_harness, hub)
    why = {r["id"]: r["why"] for r in summary["not_applicable"]}
    assert "HUBHARNESS_PASSWORD" in why["AUTH.wrong_password_is_refused[wrong]"]
    assert "Secret" in why["SEC.secret_is_private"]
    assert set(why) | ran_ids == set(checks.BY_ID)
    assert summary["left_on_hub"] == [] and left_users(hub) == []
    assert hub["token"] not in (module_harness.reports / "latest" / "report.html").read_text()


def test_a_password_and_an_admin_verify_the_logins(module_harness, hub):
    env = {
        "HUBHARNESS_PASSWORD": hub["password"],
        "HUBHARNESS_ADMIN_USER": "admin",
        "HUBHARNESS_ADMIN_PASSWORD": hub["password"],
    }
    ran, summary = remote_verify(module_harness, hub, env, "--check", "AUTH,SEC,PRX,ADM,TLS")
    assert not failed(summary) and ran.code == 0, what_went_wrong(ran, module_harness, hub)
    assert "AUTH.non_admin_cannot_list_users" in outcomes(summary)
    assert "AUTH.browser_logs_in_to_jupyterlab" in outcomes(summary)
    assert left_users(hub) == []
    # the admin's token the run asked for with the admin's password is revoked
    tokens = HubAPI(hub["upstream"], hub["token"]).request("GET", "/users/admin/tokens").json()["api_tokens"]
    assert not [t for t in tokens if t.get("note") == "hubharness verify (remote)"]


def hub_log_mark(harness, hub) -> int:
    """How many lines the hub's log holds up to a request made for the purpose, once the
    hub has written it there (its log is written behind its requests)."""
    mark = f"/hub/log-mark-{secrets.token_hex(4)}"
    requests.get(f"{hub['upstream']}{mark}", timeout=10)
    log = harness.state_dir(NAMESPACE) / "logs" / "hub.log"

    def lines_to_mark() -> int:
        lines = log.read_text().splitlines()
        return next((n + 1 for n, line in enumerate(lines) if mark in line), 0)

    return wait_until(f"{mark} in the hub's log", lines_to_mark, 30, progress=False)


def test_one_run_asks_the_hub_for_one_admin_token(module_harness, hub):
    """verify builds the deployment under test once: the admin logs in and asks for a
    token once per run, for the checks before pytest (the authenticator the hub runs)
    and the checks in it (the user the admin makes for the check) alike, and the run
    revokes it at the end. Counted as the hub logged the requests."""
    env = {
        "HUBHARNESS_PASSWORD": hub["password"],
        "HUBHARNESS_ADMIN_USER": "admin",
        "HUBHARNESS_ADMIN_PASSWORD": hub["password"],
    }
    before = hub_log_mark(module_harness, hub)
    ran, summary = remote_verify(module_harness, hub, env, "--check", "AUTH.non_admin_cannot_list_users")
    after = hub_log_mark(module_harness, hub)
    assert outcomes(summary) == {"AUTH.non_admin_cannot_list_users": "passed"}, ran.out[-3000:] + ran.err
    assert summary["authenticator"], "the check before pytest did not ask the hub with the admin token"
    run = (module_harness.state_dir(NAMESPACE) / "logs" / "hub.log").read_text().splitlines()[before:after]
    asked = [line for line in run if "POST /hub/api/users/admin/tokens " in line]
    revoked = [line for line in run if "DELETE /hub/api/users/admin/tokens/" in line]
    assert len(asked) == 1 and len(revoked) == 1, "\n".join(asked + revoked)
    assert [line for line in run if "POST /hub/api/users/verify-" in line and "nina" in line], (
        "no user made by the admin"
    )
    assert summary["left_on_hub"] == [] and left_users(hub) == []


def test_a_password_alone_says_what_it_could_not_delete(module_harness, hub):
    ran, summary = remote_verify(
        module_harness, hub, {"HUBHARNESS_PASSWORD": hub["password"]}, "--check", "AUTH.right_password_logs_in,PRX"
    )
    # PRX's route checks read the proxy's table through the hub's API: they need an admin token
    assert set(outcomes(summary)) == {
        "AUTH.right_password_logs_in",
        "PRX.root_redirects_into_the_hub",
        "PRX.login_page_is_served",
    }
    assert not failed(summary) and ran.code == 0, what_went_wrong(ran, module_harness, hub)
    assert "without an admin credential they cannot be deleted" in summary["left_on_hub"][0]
    assert "NOT deleted from the hub" in ran.out
    api = HubAPI(hub["upstream"], hub["token"])
    for name in left_users(hub):  # what the operator would do with an admin credential
        api.delete_user(name)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupt_leaves_nothing_on_the_hub(module_harness, hub, signum):
    """Interrupted once its users are on the hub (Ctrl-C, or a CI job cancelled), verify
    still deletes them and their servers."""
    front = hub["front"]
    args = ["verify", "--context", "remote", "--url", front.url, "--http-url", front.http_url, "--check", "SPK,ADM"]
    env = {**module_harness.env, "HUBHARNESS_CA_BUNDLE": hub["ca"], "HUBHARNESS_API_TOKEN": hub["token"]}
    run = subprocess.Popen(
        [INVOKE, *args], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_until("verify's users on the hub", lambda: len(left_users(hub)) >= 2, 60, progress=False)
        run.send_signal(signum)
        out, _ = run.communicate(timeout=180)
    finally:
        run.kill()
    assert left_users(hub) == [], out[-3000:]
    assert not [u for u in HubAPI(hub["upstream"], hub["token"]).users(state="active")], out[-3000:]


def test_the_admins_session_token_is_renewed_before_the_hub_expires_it(hub, monkeypatch):
    """A watch runs for days; the token the admin's password asks for lives an hour: past
    ADMIN_TOKEN_RENEW it is asked for anew and the old one revoked, and close revokes the last."""
    creds = credentials.Credentials(admin_user="admin", admin_password=Secret(hub["password"]))
    deployment = RemoteDeployment(NAMESPACE, hub["upstream"], None, creds)
    clock = [1000.0]
    monkeypatch.setattr(remote_target.time, "monotonic", lambda: clock[0])
    first = deployment.service_token()
    assert deployment.service_token() == first, "asked for once while it is young"
    clock[0] += remote_target.ADMIN_TOKEN_RENEW + 1
    second = deployment.service_token()
    assert second != first
    assert HubAPI(hub["upstream"], first).request("GET", "/user").status_code in (401, 403), "the old one revoked"
    assert HubAPI(hub["upstream"], second).request("GET", "/user").status_code == 200
    deployment.close()
    assert HubAPI(hub["upstream"], second).request("GET", "/user").status_code in (401, 403)


def test_a_credential_the_hub_refuses_is_said_in_one_line(module_harness, hub):
    ran, _ = remote_verify(module_harness, hub, {"HUBHARNESS_API_TOKEN": "not-a-token"}, "--check", "ADM")
    assert ran.code == 2 and len(ran.err_lines) == 1 and "refuses HUBHARNESS_API_TOKEN" in ran.err, ran.err
    # a refused password is said first, and the checks that log in with it fail by name
    env = {"HUBHARNESS_PASSWORD": "not-the-password", "HUBHARNESS_API_TOKEN": hub["token"]}
    ran, summary = remote_verify(module_harness, hub, env, "--check", "AUTH.right_password_logs_in")
    assert ran.out.startswith("verify: the hub at") and "refuses HUBHARNESS_PASSWORD" in ran.out.splitlines()[0]
    assert failed(summary) == {"AUTH.right_password_logs_in"} and ran.code == 1, ran.out[-2000:]


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["verify", "--context", "remote"], {"HUBHARNESS_PASSWORD": "x" * 12}, "--url https://"),
        (["verify", "--context", "remote", "--url", "ftp://hub"], {}, "is not a hub's address"),
        (
            ["verify", "--context", "remote", "--url", "https://127.0.0.1:9"],
            {},
            "nothing answers at https://127.0.0.1:9",
        ),
        (["verify", "--context", "remote", "--url", "https://me:pw@hub.example"], {}, "the URL holds a user name"),
        (["deploy", "--context", "remote"], {}, "deploy is for a hub this harness deploys"),
        (["remove", "--context", "remote"], {}, "remove is for a hub this harness deploys"),
        (["backup", "--context", "remote"], {}, "backup is for a hub this harness deploys"),
    ],
)
def test_bad_remote_input_is_one_line(harness, args, env, says):
    clean = dict.fromkeys(remote_environment(), "")
    ran = harness.invoke(*args, env={**clean, **env})
    assert ran.code == 2 and len(ran.err_lines) == 1 and says in ran.err, ran.err


def test_a_credentials_file_others_may_read_is_refused(harness, tmp_path):
    path = tmp_path / "creds.yaml"
    path.write_text("password: not-published-123\n")
    path.chmod(0o644)
    ran = harness.invoke(
        "verify", "--context", "remote", "--url", "https://127.0.0.1:9", env={"HUBHARNESS_CREDENTIALS": str(path)}
    )
    assert ran.code == 2 and "chmod 600" in ran.err, ran.err


def test_selftest_on_remote_kills_the_tls_checks(module_harness):
    ran = module_harness.invoke("selftest", "--context", "remote", "--check", "TLS", "--prefix", "rst", timeout=900)
    assert ran.code == 0, ran.out[-3000:] + ran.err[-2000:]
    assert "killed 4/4" in ran.out


def test_the_front_serves_the_hub_over_https(hub):
    assert requests.get(f"{hub['front'].url}/hub/health", verify=hub["ca"], timeout=10).status_code == 200
