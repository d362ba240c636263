"""A port picked free can be taken before the hub or proxy binds it: deploy picks again."""

import socket

import pytest

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
