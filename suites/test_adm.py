"""ADM: admins list users and sessions and stop a server through the API."""

import pytest

pytestmark = pytest.mark.check("ADM")


def test_users_are_listed(admin_api, users):
    names = {u["name"] for u in admin_api.users()}
    assert set(users) <= names, f"missing from /hub/api/users: {sorted(set(users) - names)}"


def test_active_sessions_are_listed(admin_api, bob):
    bob.server()
    active = {u["name"] for u in admin_api.users(state="active")}
    assert bob.name in active, f"{bob.name} has a running server but is not listed as active"


def test_server_stops_through_the_api(deployment, admin_api, bob):
    bob.server()
    assert deployment.user_server_running(bob.name), f"{bob.name}'s server is not running to begin with"
    response = admin_api.stop_server(bob.name)
    assert response.status_code in (202, 204), f"DELETE server answered {response.status_code}"
    admin_api.wait_server_stopped(bob.name, timeout=30)
    fact = deployment.user_server_running(bob.name)
    assert not fact, f"hub says stopped but: {fact.detail}"
