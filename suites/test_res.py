"""RES: the deployment survives its own faults: a hub restart, a proxy restart, a user's
server that dies behind the hub's back. Tried on the scratch namespace `<namespace>-res`
(fixtures/resilience.py); times and bounds are in the run's res.json."""

import pytest

from fixtures.resilience import HUB_BACK, KERNEL_VALUE, ROUTES_BACK, SERVER_NOTICED

pytestmark = pytest.mark.check("RES")


def _could_not(seen, step: str) -> str:
    return f"; {step} failed: {seen.errors[step]}" if step in seen.errors else ""


def test_servers_survive_a_hub_restart(resilience):
    seen = resilience
    assert seen.hub_back is not None, f"the hub did not come back within {HUB_BACK:.0f}s" + _could_not(
        seen, "hub restart"
    )
    after, before = seen.server_after, seen.server_before
    assert after.get("ready"), (
        f"after the hub's restart (back in {seen.hub_back}s) the hub reports res-dan's server as {after or 'gone'}"
    )
    assert after.get("started") == before.get("started"), (
        f"res-dan's server was started again ({before.get('started')} → {after.get('started')}), not kept"
    )
    assert seen.server_process_ok, f"res-dan's server is gone after the hub's restart: {seen.server_process}"


def test_kernels_keep_their_state_across_a_hub_restart(resilience):
    seen = resilience
    assert seen.kernel_value == KERNEL_VALUE, (
        f"x in res-dan's kernel read {seen.kernel_value!r} after the hub's restart, set to {KERNEL_VALUE} before"
        + _could_not(seen, "hub restart")
    )


def test_users_stay_logged_in_across_a_hub_restart(resilience):
    seen = resilience
    assert seen.home_page_ok, (
        f"res-dan's login session after the hub's restart: /hub/home gave {seen.home_page or 'nothing'}"
        + _could_not(seen, "hub restart")
    )


def test_routes_come_back_after_a_proxy_restart(resilience):
    seen = resilience
    assert seen.routes_back is not None, (
        f"res-dan's server did not answer through the proxy within {ROUTES_BACK:.0f}s of the proxy's restart"
        + _could_not(seen, "proxy restart")
    )


def test_a_dead_server_is_noticed_and_starts_again_with_its_home(resilience):
    seen = resilience
    assert seen.noticed is not None, (
        f"the hub still reported res-eve's server {SERVER_NOTICED:.0f}s after it was killed"
        + _could_not(seen, "server killed")
    )
    assert seen.file_intact, (
        "res-eve's file after her server started again: "
        + ("changed" if seen.file_intact is False else "not read")
        + _could_not(seen, "server killed")
    )


def test_a_rotated_password_is_the_only_one_that_logs_in(resilience):
    seen = resilience
    assert seen.new_password_logs_in is not None, "rotate-password did not finish" + _could_not(
        seen, "password rotated"
    )
    assert seen.old_password_login == seen.refused_status, (
        f"after rotate-password ({seen.rotation}) the old password got {seen.old_password_login}, "
        f"not the hub's refusal {seen.refused_status}"
    )
    assert seen.new_password_logs_in, f"after rotate-password ({seen.rotation}) the new password does not log in"


def test_a_password_rotation_keeps_users_servers(resilience):
    seen = resilience
    assert seen.server_kept_through_rotation, "rotate-password did not finish" + _could_not(seen, "password rotated")
    assert seen.server_kept_through_rotation_ok, (
        f"res-dan's server after rotate-password: {seen.server_kept_through_rotation} "
        f"(before: started {seen.server_before.get('started')})"
    )
