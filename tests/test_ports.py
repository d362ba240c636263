"""A port picked free can be taken before the hub or proxy binds it: deploy picks again."""

import socket

import pytest
import yaml

from hubharness import procs, values
from hubharness.targets.local import LocalTarget


@pytest.mark.parametrize(
    "pick, log, evidence",
    [
        (0, "proxy", "EADDRINUSE"),  # proxy-public (picked first when --port 0)
        (1, "hub", "Address already in use"),  # the hub's own port
    ],
)
def test_deploy_repicks_a_port_taken_between_pick_and_bind(harness, monkeypatch, pick, log, evidence):
    monkeypatch.setenv("HUBHARNESS_HOME", str(harness.home))
    if "HUBHARNESS_VALUES_SCHEMA" in harness.env:
        monkeypatch.setenv("HUBHARNESS_VALUES_SCHEMA", harness.env["HUBHARNESS_VALUES_SCHEMA"])
    real = procs.free_port
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        picks = iter([real() for _ in range(pick)] + [taken])
        monkeypatch.setattr(procs, "free_port", lambda: next(picks, None) or real())
        target = LocalTarget("ports")
        result = target.deploy(values.values_files("local"), port=0)
        assert result.action == "started"
        assert taken not in target.ports()
        assert evidence in target.log(log).read_text()
        assert all(c.ready for c in target.deployment().components())


RACE = """
import socket
import jupyterhub.spawner
_squatter = socket.socket()
_squatter.bind(("127.0.0.1", 0))
_squatter.listen()
_pick = jupyterhub.spawner.random_port
_picks = iter([_squatter.getsockname()[1]])
jupyterhub.spawner.random_port = lambda: next(_picks, None) or _pick()
"""


def test_a_server_port_taken_between_the_hubs_pick_and_the_bind_does_not_fail_the_spawn(harness, tmp_path, monkeypatch):
    """The race a busy machine runs: JupyterHub picks a free port for a user's server and
    another process takes it before the server binds. The spawner picks again."""
    overlay = tmp_path / "race.yaml"
    overlay.write_text(yaml.safe_dump({"hub": {"extraConfig": {"99-race": RACE}}}))
    assert harness.deploy("race", "--values", str(overlay)).code == 0
    monkeypatch.setenv("HUBHARNESS_HOME", str(harness.home))
    target = LocalTarget("race")
    api = target.admin_api()
    api.ensure_user("rae")
    api.start_server("rae")
    ready = api.wait_server_ready("rae", timeout=90)
    assert ready.get("ready"), ready
    assert "already in use" in target.log("user-rae").read_text(), "the server never met the taken port"
    assert "was taken before rae's server bound it" in target.log("hub").read_text()
    assert target.deployment().user_server_running("rae")
