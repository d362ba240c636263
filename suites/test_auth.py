"""AUTH: the shared password logs in (HTTP and a real browser); nothing else does."""

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from hubharness.hubapi import TIMEOUT, UserSession, login

pytestmark = pytest.mark.check("AUTH")


def test_right_password_logs_in(deployment, password):
    result = login(deployment.public_url, "verify-dana", password)
    assert result.ok, f"login answered {result.response.status_code} → {result.response.headers.get('Location')}"


@pytest.mark.parametrize("wrong", ["not-the-password", ""], ids=["wrong", "empty"])
def test_wrong_password_is_refused(deployment, wrong, refused_login):
    result = login(deployment.public_url, "verify-dana", wrong)
    assert not result.ok, "the hub accepted a wrong password"
    assert result.response.status_code == refused_login, f"expected {refused_login}, got {result.response.status_code}"


def test_login_without_xsrf_is_refused(deployment, password):
    result = login(deployment.public_url, "verify-dana", password, with_xsrf=False)
    assert not result.ok, "the hub accepted a login form without its _xsrf token"
    assert result.response.status_code == 403, f"expected 403, got {result.response.status_code}"


def test_admin_reaches_admin_page(deployment, admin_password, admin_name):
    session = UserSession(deployment.public_url, admin_name, admin_password).session
    response = session.get(f"{deployment.public_url}/hub/admin", timeout=TIMEOUT, allow_redirects=False)
    assert response.status_code == 200, f"{admin_name} got {response.status_code} on /hub/admin"


def test_non_admin_is_kept_from_admin_page(deployment, alice):
    response = alice.login.session.get(f"{deployment.public_url}/hub/admin", timeout=TIMEOUT, allow_redirects=False)
    assert response.status_code == 403, f"{alice.name} got {response.status_code} on /hub/admin"


def test_user_password_does_not_make_an_admin(deployment, authenticator, password, admin_name):
    """SharedPasswordAuthenticator: admins log in with the admin password only, and the
    user password never makes anyone an admin."""
    as_admin = login(deployment.public_url, admin_name, password)
    assert not as_admin.ok, f"{admin_name} logged in with the user password"
    assert as_admin.response.status_code == 403, f"expected the hub's 403, got {as_admin.response.status_code}"
    dana = UserSession(deployment.public_url, "verify-dana", password).api().request("GET", "/user")
    assert dana.status_code == 200, f"/hub/api/user answered verify-dana {dana.status_code}"
    assert dana.json()["admin"] is False, "verify-dana is an admin after logging in with the user password"


def test_admin_password_is_refused_for_a_non_admin(deployment, admin_password):
    result = login(deployment.public_url, "verify-dana", admin_password)
    assert not result.ok, "verify-dana, no admin, logged in with the admin password"
    assert result.response.status_code == 403, f"expected the hub's 403, got {result.response.status_code}"


def test_user_cannot_reach_another_users_server(alice, bob):
    url = f"{bob.server_url}/api/contents"
    as_alice = requests.get(
        url, headers={"Authorization": f"token {alice.token}"}, timeout=TIMEOUT, allow_redirects=False
    )
    assert as_alice.status_code == 403, f"{alice.name} got {as_alice.status_code} on {bob.name}'s server"
    as_bob = requests.get(url, headers={"Authorization": f"token {bob.token}"}, timeout=TIMEOUT)
    assert as_bob.status_code == 200, f"{bob.name} got {as_bob.status_code} on their own server"


def test_browser_with_wrong_password_stays_out(browser, deployment, bob):
    browser.get(f"{deployment.public_url}/hub/login")
    wait = WebDriverWait(browser, 30)
    wait.until(ec.presence_of_element_located((By.ID, "username_input"))).send_keys(bob.name)
    browser.find_element(By.ID, "password_input").send_keys("not-the-password")
    browser.find_element(By.ID, "login_submit").click()
    error = wait.until(ec.presence_of_element_located((By.CLASS_NAME, "login_error")))
    assert "/hub/login" in browser.current_url
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
    wait.until(ec.presence_of_element_located((By.ID, "jp-main-dock-panel")))
