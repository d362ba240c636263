"""ADM: admins list users and sessions and stop a server through the API."""

import pytest

pytestmark = pytest.mark.check("ADM")


def test_users_are_listed(admin_api, users):
    names = {u["name"] for u in admin_api.users()}
    assert set(users) <= names, f"missing from /hub/api/users: {sorted(set(users) - names)}"


def test_active_sessions_are_listed(admin_api, alice):
    alice.server()
    active = {u["name"] for u in admin_api.users(state="active")}
    assert alice.name in active, f"{alice.name} has a running server but is not listed as active"


def test_server_stops_through_the_api(bob, bob_stopped):
    assert bob_stopped.running_before, f"{bob.name}'s server was not running to begin with"
    assert bob_stopped.status in (202, 204), f"DELETE server answered {bob_stopped.status}"
    assert not bob_stopped.running_after, f"hub says stopped but: {bob_stopped.running_after.detail}"
