"""The local target applies values as the chart's jupyterhub_config.py does."""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml
from traitlets.config import Config

from hubharness import chart
from hubharness.hubapi import UserSession
from hubharness.procs import processes_under
from hubharness.targets.local import HUB_SECRET, LocalTarget, parity
from hubharness.targets.local.target import HUB_CONFIG, hub_runtime

from .helpers import SHARED_SCHEMAS, chart_schemas_or_skip


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


# seconds the hub holds a spawn request: past the server's bind (at most BIND_WAIT, 20 s, in
# hub_config.py) and its postStart
SPAWN_HELD = 50


def _hooks(tmp_path, post_start: str) -> str:
    overlay = tmp_path / "hooks.yaml"
    hook = {"exec": {"command": ["sh", "-c", post_start]}}
    stop = {"exec": {"command": ["sh", "-c", "echo stopping > pre-stop.txt"]}}
    # The hub holds a spawn request until the spawn is over, but only for slow_spawn_timeout
    # (10 s by default), then answers 202 with the spawn still going. A failing postStart
    # runs once the server listens, which can take longer than that on a busy machine:
    # hold the request until the spawn has failed, so the hub's answer is its outcome.
    held = {"JupyterHub": {"slow_spawn_timeout": SPAWN_HELD}}
    overlay.write_text(
        yaml.safe_dump(
            {"hub": {"config": held}, "singleuser": {"lifecycleHooks": {"postStart": hook, "preStop": stop}}}
        )
    )
    return str(overlay)


def test_lifecycle_hooks_run_in_the_server_and_a_failing_post_start_fails_the_spawn(harness, tmp_path, monkeypatch):
    """As the kubelet runs them: postStart in the server's folder and environment before
    the spawn is done, preStop before it stops; a postStart that fails fails the spawn."""
    ran = harness.deploy("hooks", "--values", _hooks(tmp_path, 'echo "started as $JUPYTERHUB_USER" > post-start.txt'))
    assert ran.code == 0, ran.err
    assert "lifecycleHooks" not in ran.out, f"reported as not applicable: {ran.out}"
    monkeypatch.setenv("HUBHARNESS_HOME", str(harness.home))
    api = LocalTarget("hooks").admin_api()
    api.ensure_user("hana")
    api.start_server("hana")
    api.wait_server_ready("hana", timeout=60)
    home = harness.state_dir("hooks") / "home" / "hana"
    assert (home / "post-start.txt").read_text() == "started as hana\n"
    api.stop_server("hana")
    api.wait_server_stopped("hana", timeout=30)
    assert (home / "pre-stop.txt").read_text() == "stopping\n"

    ran = harness.deploy("hooks", "--values", _hooks(tmp_path, "echo no such thing; exit 3"))
    assert ran.code == 0, ran.err
    api.ensure_user("hugo")
    response = api.request("POST", "/users/hugo/server", timeout=SPAWN_HELD + 10)
    assert response.status_code == 500, f"a spawn whose postStart failed answered {response.status_code}"
    hub_log = (harness.state_dir("hooks") / "logs" / "hub.log").read_text()
    assert "singleuser.lifecycleHooks.postStart exited 3: the server was stopped" in hub_log
    log = (harness.state_dir("hooks") / "logs" / "user-hugo.log").read_text()
    assert "no such thing" in log and "postStart: exited 3" in log
    assert not LocalTarget("hooks").deployment().user_server_running("hugo")


def test_the_images_paths_in_values_resolve_to_their_local_equivalents(harness, tmp_path, monkeypatch):
    """The seed's PYSPARK_PYTHON=/opt/conda/bin/python and paths under the chart's home
    mount work unchanged: the image's python is the harness's, its home each user's."""
    overlay = tmp_path / "image-paths.yaml"
    env = {"PYSPARK_PYTHON": "/opt/conda/bin/python", "DATA_DIR": "/home/jovyan/data"}
    overlay.write_text(yaml.safe_dump({"singleuser": {"extraEnv": env}}))
    assert harness.deploy("paths", "--values", str(overlay)).code == 0
    monkeypatch.setenv("HUBHARNESS_HOME", str(harness.home))
    api = LocalTarget("paths").admin_api()
    api.ensure_user("ida")
    api.start_server("ida")
    api.wait_server_ready("ida", timeout=60)
    ran = (
        LocalTarget("paths")
        .deployment()
        .run_in_server("ida", 'echo "$DATA_DIR"; "$PYSPARK_PYTHON" -c "import sys, pyspark; print(sys.prefix)"')
    )
    assert ran.rc == 0, ran.stderr
    data_dir, prefix = ran.stdout.split()
    assert data_dir == str(harness.state_dir("paths") / "home" / "ida" / "data")
    assert Path(prefix).resolve() == Path(sys.prefix).resolve()


def _cullers(state_dir: Path) -> list[list[str]]:
    return [p.cmdline() for p in processes_under(state_dir) if "jupyterhub_idle_culler" in " ".join(p.cmdline())]


def test_the_idle_culler_runs_as_the_chart_runs_it_and_stops_idle_servers(harness, tmp_path):
    """cull.* as the chart applies it: jupyterhub-idle-culler as a hub service with the
    chart's defaults under the values' own; an idle server is stopped; cull.enabled: false
    runs none."""
    overlay = tmp_path / "cull.yaml"
    overlay.write_text(yaml.safe_dump({"cull": {"timeout": 10, "every": 5, "maxAge": None}}))
    ran = harness.deploy("cull", "--values", str(overlay))
    assert ran.code == 0, ran.err
    (culler,) = _cullers(harness.state_dir("cull"))
    assert culler[4:] == ["--timeout=10", "--cull-every=5", "--concurrency=10"], culler
    password = json.loads((harness.state_dir("cull") / "secrets" / "urbalurba-secrets.json").read_text())
    api = UserSession(harness.status("cull")["hub_url"], "idle-ida", password["JUPYTERHUB_AUTH_PASSWORD"]).api()
    api.start_server("idle-ida")
    api.wait_server_ready("idle-ida", 120)
    deadline = time.monotonic() + 60
    while api.server("idle-ida") is not None and time.monotonic() < deadline:
        time.sleep(1)
    assert api.server("idle-ida") is None, "the idle server was not culled within 60 s (cull.timeout 10, cull.every 5)"
    overlay.write_text(yaml.safe_dump({"cull": {"enabled": False}}))
    assert harness.deploy("cull", "--values", str(overlay)).code == 0
    assert _cullers(harness.state_dir("cull")) == []


PARITY_ROOTS = ("hub", "proxy", "singleuser", "cull", "scheduling", "prePuller", "ingress")


def _schema_leaves(node: dict, prefix: str = ""):
    for key, sub in (node.get("properties") or {}).items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(sub, dict) and sub.get("properties"):
            yield from _schema_leaves(sub, path)
        else:
            yield path


def _schemas_at_hand() -> list[str]:
    """The supported charts whose values schema the tests have (../shared/z2jh: 4.2.0, 4.4.0)."""
    folder = Path(os.environ.get("HUBHARNESS_VALUES_SCHEMA") or SHARED_SCHEMAS)
    return [v for v in sorted(chart.HUB_VERSION_OF_CHART) if (folder / f"values.schema-{v}.yaml").is_file()] or ["none"]


@pytest.mark.parametrize("chart_version", _schemas_at_hand())
def test_every_chart_key_is_applied_or_said_not_applicable(chart_version):
    """No key in between: each value the chart reads has an entry in the parity table."""
    if chart_version == "none":
        pytest.skip(f"no chart values schema in {chart_schemas_or_skip()}")
    schema = yaml.safe_load((chart_schemas_or_skip() / f"values.schema-{chart_version}.yaml").read_text())
    keys = [k for k in _schema_leaves(schema) if k.split(".")[0] in PARITY_ROOTS]
    assert len(keys) > 300, f"only {len(keys)} keys read from the schema"
    unknown = [k for k in keys if parity.entry(k) is None]
    assert unknown == [], f"chart keys the local target neither applies nor lists as not applicable: {unknown}"


def hub_config_for(values: dict, tmp_path: Path, monkeypatch, classes: Path | None = None) -> Config:
    """The hub's config as hub_config.py builds it from these values (not started)."""
    state = tmp_path / "state"
    (state / "secrets").mkdir(parents=True)
    (state / "values.json").write_text(json.dumps(values))
    ports = {"public_port": 1, "hub_port": 2, "proxy_api_port": 3}
    (state / "runtime.json").write_text(json.dumps(hub_runtime(ports, None, classes)))
    (state / "secrets" / "hub.json").write_text(json.dumps({"hub.config.JupyterHub.cookie_secret": "00" * 32}))
    monkeypatch.setenv("HUBHARNESS_STATE_DIR", str(state))
    config = Config()
    exec(compile(HUB_CONFIG.read_text(), str(HUB_CONFIG), "exec"), {"get_config": lambda: config})  # noqa: S102
    return config


HUB_TRAIT_VALUES = {
    "hub.activeServerLimit": 9,
    "hub.allowNamedServers": True,
    "hub.namedServerLimitPerUser": 3,
    "hub.concurrentSpawnLimit": 7,
    "hub.consecutiveFailureLimit": 4,
    "hub.redirectToServer": False,
    "hub.shutdownOnLogout": True,
    "hub.authenticatePrometheus": False,
    "hub.templatePaths": ["/templates"],
    "hub.templateVars": {"announcement": "maintenance at noon"},
}


def test_hub_keys_become_the_jupyterhub_traits_the_chart_sets(tmp_path, monkeypatch):
    assert set(HUB_TRAIT_VALUES) == set(parity.HUB_TRAITS)
    values = {"hub": {key.split(".", 1)[1]: value for key, value in HUB_TRAIT_VALUES.items()}}
    config = hub_config_for(values, tmp_path, monkeypatch)
    for key, trait in parity.HUB_TRAITS.items():
        assert config.JupyterHub[trait] == HUB_TRAIT_VALUES[key], key
    unset = hub_config_for({}, tmp_path / "unset", monkeypatch)
    assert not any(trait in unset.JupyterHub for trait in parity.HUB_TRAITS.values()), "set without a value"


def test_the_culler_takes_the_charts_defaults_under_the_values_own(tmp_path, monkeypatch):
    config = hub_config_for({"cull": {"users": True, "every": None, "adminUsers": False}}, tmp_path, monkeypatch)
    (service,) = [s for s in config.JupyterHub.services if s["name"] == "jupyterhub-idle-culler"]
    assert service["command"][3:] == [
        "--url=http://127.0.0.1:2/hub/api",
        "--timeout=3600",
        "--concurrency=10",
        "--cull-users",
        "--cull-admin-users=false",
    ]
    (role,) = [r for r in config.JupyterHub.load_roles if r["name"] == "jupyterhub-idle-culler"]
    assert "admin:users" in role["scopes"] and role["services"] == ["jupyterhub-idle-culler"]


def test_a_cookie_secret_and_proxy_token_given_in_values_are_the_ones_used(tmp_path, monkeypatch):
    """As the chart: hub.cookieSecret and proxy.secretToken when given, generated when not."""
    monkeypatch.setenv("HUBHARNESS_HOME", str(tmp_path / "home"))
    target = LocalTarget("given")
    (target.state_dir / "secrets").mkdir(parents=True)
    cookie, token = secrets.token_hex(32), secrets.token_hex(32)
    target._prepare_secrets({"hub": {"cookieSecret": cookie}, "proxy": {"secretToken": token}})
    kept = target.store.read(HUB_SECRET)
    assert kept["hub.config.JupyterHub.cookie_secret"] == cookie
    assert kept["hub.config.ConfigurableHTTPProxy.auth_token"] == token
    target._prepare_secrets({})
    assert target.store.read(HUB_SECRET) == kept, "an earlier deploy's secrets are kept"


def test_deploy_lists_what_it_does_not_apply_and_what_it_does_not_enforce():
    values = {
        "hub": {"concurrentSpawnLimit": 5, "image": {"name": "x"}, "nodeSelector": {"a": "b"}},
        "singleuser": {"memory": {"limit": "1G"}, "uid": 1000},
        "ingress": {"enabled": True},
        "somethingNew": {"key": 1},
    }
    assert parity.not_applicable(values) == [
        "hub.image.name",
        "hub.nodeSelector.a",
        "singleuser.uid",
        "ingress.enabled",
        "somethingNew.key",
    ]
    assert parity.not_enforced(values) == ["singleuser.memory"]
