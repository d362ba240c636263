"""NS: the deployment has its own namespace and shares nothing with its neighbours."""

import pytest

pytestmark = pytest.mark.check("NS")


def test_namespace_exists(deployment):
    fact = deployment.namespace_exists()
    assert fact, fact.detail


def test_state_is_isolated(deployment):
    fact = deployment.state_is_isolated()
    assert fact, fact.detail
