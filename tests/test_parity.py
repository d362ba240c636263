"""The local target applies values as the chart's jupyterhub_config.py does."""

from __future__ import annotations

import json
import secrets
import sys
import time
from pathlib import Path

import requests
import yaml

from hubharness.hubapi import UserSession
from hubharness.procs import processes_under
from hubharness.targets.local import LocalTarget


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


def _hooks(tmp_path, post_start: str) -> str:
    overlay = tmp_path / "hooks.yaml"
    hook = {"exec": {"command": ["sh", "-c", post_start]}}
    stop = {"exec": {"command": ["sh", "-c", "echo stopping > pre-stop.txt"]}}
    overlay.write_text(yaml.safe_dump({"singleuser": {"lifecycleHooks": {"postStart": hook, "preStop": stop}}}))
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
    response = api.request("POST", "/users/hugo/server", timeout=60)
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
