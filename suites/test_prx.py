"""PRX: proxy-public serves the hub, and the route table follows spawns and stops."""

import pytest

pytestmark = pytest.mark.check("PRX")


def test_root_redirects_into_the_hub(public):
    response = public.get("/")
    assert response.status_code in (301, 302), f"/ answered {response.status_code}"
    assert "/hub/" in response.headers["Location"]


def test_login_page_is_served(public):
    response = public.get("/hub/login")
    assert response.status_code == 200, f"/hub/login answered {response.status_code}"
    assert 'name="password"' in response.text, "no password field on the login page"


def test_ingress_routes_its_host_to_proxy_public(deployment):
    fact = deployment.ingress_in_place()
    if fact is None:
        pytest.skip("this target has no ingress")
    assert fact, fact.detail


def test_route_table_holds_the_hub_route(deployment):
    routes = deployment.proxy_routes()
    assert "/" in routes, f"no hub route in the proxy, routes: {sorted(routes)}"
    assert routes["/"]["target"].rstrip("/") == deployment.hub_target.rstrip("/")


def test_user_route_appears_after_spawn(deployment, bob):
    bob.server()
    assert f"/user/{bob.name}" in deployment.proxy_routes()


def test_user_route_goes_after_stop(deployment, bob, bob_stopped, public):
    assert f"/user/{bob.name}" not in deployment.proxy_routes()
    # No server answers any more: the request falls through to the hub, which says 424.
    response = public.get(
        f"/user/{bob.name}/api/status", headers={"Authorization": f"token {bob.token}"}, allow_redirects=True
    )
    assert response.status_code == 424 and response.url.startswith(f"{deployment.public_url}/hub/"), (
        f"/user/{bob.name}/api/status answers {response.status_code} at {response.url} after stop"
    )
