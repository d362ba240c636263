"""RDY: hub and proxy are up and Ready, and the hub is the version the chart ships."""

import pytest

pytestmark = pytest.mark.check("RDY")


@pytest.mark.parametrize("name", ["hub", "proxy"])
def test_component_is_ready(deployment, name):
    component = next((c for c in deployment.components() if c.name == name), None)
    assert component is not None, f"no {name} component in this deployment"
    assert component.running, f"{name} is not running: {component.detail}"
    assert component.ready, f"{name} is not ready: {component.detail}"
    assert component.restarts == 0, f"{name} restarted {component.restarts} time(s)"


def test_image_puller_has_the_notebook_image_on_every_node(deployment):
    ready = deployment.image_puller_ready()
    if ready is None:
        pytest.skip("prePuller.continuous.enabled is false: there is no continuous image puller")
    assert ready, ready.detail


def test_hub_health_answers_through_the_proxy(public):
    assert public.get("/hub/health").status_code == 200


def test_hub_runs_the_charts_jupyterhub(deployment, admin_api):
    version = admin_api.info()["version"]
    assert version == deployment.expected_hub_version, (
        f"hub runs JupyterHub {version}, chart {deployment.chart_version} ships {deployment.expected_hub_version}"
    )
