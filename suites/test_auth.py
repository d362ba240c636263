"""AUTH: the shared password logs in (HTTP and a real browser), nothing else does; non-admins
hold no admin power through the hub's API."""

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from hubharness.hubapi import HELD_TIMEOUT, TIMEOUT, UserSession, login

pytestmark = pytest.mark.check("AUTH")


def test_right_password_logs_in(deployment, password, prefix):
    result = login(deployment.public_url, f"{prefix}dana", password)
    assert result.ok, f"login answered {result.response.status_code} → {result.response.headers.get('Location')}"


@pytest.mark.parametrize("wrong", ["not-the-password", ""], ids=["wrong", "empty"])
def test_wrong_password_is_refused(deployment, wrong, refused_login, prefix):
    result = login(deployment.public_url, f"{prefix}dana", wrong)
    assert not result.ok, "the hub accepted a wrong password"
    assert result.response.status_code == refused_login, f"expected {refused_login}, got {result.response.status_code}"


def test_login_without_xsrf_is_refused(deployment, password, prefix):
    result = login(deployment.public_url, f"{prefix}dana", password, with_xsrf=False)
    assert not result.ok, "the hub accepted a login form without its _xsrf token"
    assert result.response.status_code == 403, f"expected 403, got {result.response.status_code}"


def test_admin_reaches_admin_page(deployment, admin_password, admin_name):
    session = UserSession(deployment.public_url, admin_name, admin_password).session
    response = session.get(f"{deployment.public_url}/hub/admin", timeout=TIMEOUT, allow_redirects=False)
    assert response.status_code == 200, f"{admin_name} got {response.status_code} on /hub/admin"


def test_non_admin_is_kept_from_admin_page(deployment, alice):
    response = alice.login.session.get(f"{deployment.public_url}/hub/admin", timeout=TIMEOUT, allow_redirects=False)
    assert response.status_code == 403, f"{alice.name} got {response.status_code} on /hub/admin"


def test_user_password_does_not_make_an_admin(deployment, authenticator, password, admin_name, prefix):
    """SharedPasswordAuthenticator: admins log in with the admin password only, and the
    user password never makes anyone an admin."""
    as_admin = login(deployment.public_url, admin_name, password)
    assert not as_admin.ok, f"{admin_name} logged in with the user password"
    assert as_admin.response.status_code == 403, f"expected the hub's 403, got {as_admin.response.status_code}"
    dana = UserSession(deployment.public_url, f"{prefix}dana", password).api().request("GET", "/user")
    assert dana.status_code == 200, f"/hub/api/user answered {prefix}dana {dana.status_code}"
    assert dana.json()["admin"] is False, f"{prefix}dana is an admin after logging in with the user password"


def test_admin_password_is_refused_for_a_non_admin(deployment, admin_password, prefix):
    result = login(deployment.public_url, f"{prefix}dana", admin_password)
    assert not result.ok, f"{prefix}dana, no admin, logged in with the admin password"
    assert result.response.status_code == 403, f"expected the hub's 403, got {result.response.status_code}"


def test_user_cannot_reach_another_users_server(alice, bob):
    url = f"{bob.server_url}/api/contents"
    as_alice = requests.get(
        url, headers={"Authorization": f"token {alice.token}"}, timeout=TIMEOUT, allow_redirects=False
    )
    assert as_alice.status_code == 403, f"{alice.name} got {as_alice.status_code} on {bob.name}'s server"
    as_bob = requests.get(url, headers={"Authorization": f"token {bob.token}"}, timeout=TIMEOUT)
    assert as_bob.status_code == 200, f"{bob.name} got {as_bob.status_code} on their own server"


# A non-admin's powers through the hub's API, with their own token (asked for with their
# login session, as a user gets one). JupyterHub 5 refuses a token without the scope an
# endpoint needs with 403, except where the token holds that scope for its own resources
# only (servers!user=<self>, read:tokens!user=<self> …): then it answers 404, the same as for
# a user that does not exist, so that nobody learns who does (jupyterhub/scopes.py,
# needs_scope). Each check asserts the exact status.
def own_resources(scope: str, name: str) -> bool:
    """The scope is filtered to the user's own resources: !user=<name> or !server=<name>/…."""
    _, _, only = scope.partition("!")
    return only == f"user={name}" or only.startswith(f"server={name}/")


def scopes_of(user, how: str = "token") -> list[str]:
    response = user.whoami(how)
    assert response.status_code == 200, f"/hub/api/user answered {user.name}'s {how} {response.status_code}"
    return response.json()["scopes"]


def test_non_admin_holds_only_its_own_scopes(non_admin, note):
    """The scopes the hub grants a user's token and their login session: each on the user's
    own resources (the default `user` role's `self`), none on other users, servers, tokens or
    the hub. They are the check's message in the report."""
    held = {how: scopes_of(non_admin, how) for how in ("token", "session")}
    for how, scopes in held.items():
        beyond = [s for s in scopes if not own_resources(s, non_admin.name)]
        assert not beyond, f"{non_admin.name}'s {how} holds scopes beyond its own resources: {', '.join(beyond)}"
    assert held["token"], f"the hub grants {non_admin.name}'s token no scope at all"
    bare = sorted({s.partition("!")[0] for s in held["token"]})
    session = "the same" if set(held["session"]) == set(held["token"]) else f"{len(held['session'])}, also its own"
    note(
        f"a non-admin's token holds {len(held['token'])} scopes, each on the user's own resources "
        f"(!user=<name> or !server=<name>/…; the session's: {session}): {', '.join(bare)}"
    )


def test_non_admin_cannot_list_users(non_admin):
    response = non_admin.api.request("GET", "/users")
    assert response.status_code == 403, f"GET /hub/api/users answered {non_admin.name} {response.status_code}"


def test_non_admin_cannot_create_a_user(non_admin, fresh_user):
    new = fresh_user("made-by-nina", made=False)  # deleted afterwards if the hub made it
    response = non_admin.api.request("POST", f"/users/{new}")
    assert response.status_code == 403, f"POST /hub/api/users/{new} answered {non_admin.name} {response.status_code}"


def test_non_admin_cannot_start_another_users_server(non_admin, fresh_user):
    other = fresh_user("otto")  # a server started by the request is stopped afterwards
    response = non_admin.api.request("POST", f"/users/{other}/server", timeout=HELD_TIMEOUT)
    assert response.status_code == 404, (
        f"POST /hub/api/users/{other}/server answered {non_admin.name} {response.status_code}, not the hub's 404"
    )


def test_non_admin_cannot_stop_another_users_server(non_admin, fresh_user):
    other = fresh_user("otto")
    response = non_admin.api.request("DELETE", f"/users/{other}/server", timeout=HELD_TIMEOUT)
    assert response.status_code == 404, (
        f"DELETE /hub/api/users/{other}/server answered {non_admin.name} {response.status_code}, not the hub's 404"
    )


def test_non_admin_cannot_read_another_users_tokens(non_admin, fresh_user):
    other = fresh_user("otto")
    response = non_admin.api.request("GET", f"/users/{other}/tokens")
    assert response.status_code == 404, (
        f"GET /hub/api/users/{other}/tokens answered {non_admin.name} {response.status_code}, not the hub's 404"
    )


def test_non_admin_cannot_shut_the_hub_down(non_admin):
    """The power is read from the scopes the hub reports first: a hub that grants it would
    really stop, and the checks after this one need it. Only a user without it asks."""
    granted = [s for s in scopes_of(non_admin) if s.partition("!")[0] == "shutdown"]
    assert not granted, f"{non_admin.name}'s token holds {granted[0]}: it may stop the hub (not tried)"
    response = non_admin.api.request("POST", "/shutdown")
    assert response.status_code == 403, f"POST /hub/api/shutdown answered {non_admin.name} {response.status_code}"


def test_browser_with_wrong_password_stays_out(browser, deployment, bob):
    browser.get(f"{deployment.public_url}/hub/login")
    wait = WebDriverWait(browser, 30)
    wait.until(ec.presence_of_element_located((By.ID, "username_input"))).send_keys(bob.name)
    browser.find_element(By.ID, "password_input").send_keys("not-the-password")
    browser.find_element(By.ID, "login_submit").click()
    # the hub's answer either way: its error on the login page, or the browser let in
    wait.until(lambda b: b.find_elements(By.CLASS_NAME, "login_error") or "/hub/login" not in b.current_url)
    assert "/hub/login" in browser.current_url, f"the wrong password let the browser in, to {browser.current_url}"
    error = browser.find_element(By.CLASS_NAME, "login_error")
    assert "Invalid" in error.text, f"login error reads {error.text!r}"


def test_browser_logs_in_to_jupyterlab(browser, deployment, password, bob):
    bob.server()  # bob's server is up: login lands in his JupyterLab
    browser.get(f"{deployment.public_url}/hub/login")
    wait = WebDriverWait(browser, 60)
    wait.until(ec.presence_of_element_located((By.ID, "username_input"))).send_keys(bob.name)
    browser.find_element(By.ID, "password_input").send_keys(str(password))
    browser.find_element(By.ID, "login_submit").click()
    wait.until(lambda b: f"/user/{bob.name}/lab" in b.current_url or "/hub/login" in b.current_url)
    assert "/hub/login" not in browser.current_url, "the browser stayed on the login page"
    # JupyterLab's workspace, or the error page the server gives instead (e.g. "JupyterLab Error")
    wait.until(lambda b: b.find_elements(By.ID, "jp-main-dock-panel") or "Error" in b.title)
    assert browser.find_elements(By.ID, "jp-main-dock-panel"), f"JupyterLab did not render: page {browser.title!r}"
