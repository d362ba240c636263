"""The local target applies values as the chart's jupyterhub_config.py does."""

from __future__ import annotations

import secrets

import requests
import yaml


def test_a_service_token_given_in_values_is_the_one_the_hub_accepts(harness, tmp_path):
    """As the chart: hub.services.<name>.apiToken is used when given (zero-to-jupyterhub's
    own dev-config gives its services tokens), generated only when not."""
    token = secrets.token_hex(32)
    overlay = tmp_path / "services.yaml"
    overlay.write_text(
        yaml.safe_dump(
            {
                "hub": {
                    "services": {"given-token": {"apiToken": token}},
                    "loadRoles": {"given-token-reader": {"services": ["given-token"], "scopes": ["list:users"]}},
                }
            }
        )
    )
    ran = harness.deploy("parity", "--values", str(overlay))
    assert ran.code == 0, ran.err
    url = harness.status("parity")["hub_url"]
    response = requests.get(f"{url}/hub/api/users", headers={"Authorization": f"token {token}"}, timeout=10)
    assert response.status_code == 200, f"the given token was refused: {response.status_code} {response.text[:200]}"
    assert "admin" in [u["name"] for u in response.json()]
