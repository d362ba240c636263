"""`invoke rotate-password`: the new password in the Secret, the hub restarted to read it,
a user's running server and kernel kept; the old password refused, the new one let in,
as the test sees it through the login form. Never printed."""

from __future__ import annotations

import json

import pytest

from hubharness import rotation
from hubharness.errors import HarnessError
from hubharness.hubapi import HubAPI, UserSession, login
from hubharness.kernel import Kernel
from hubharness.targets import target_for

from .helpers import run_invoke
from .test_kube_selftest import hub_cluster, ingress_controller  # noqa: F401 — the emulated cluster, a real hub per namespace

NEW = "a-new-password-from-the-environment"


def _password(harness, namespace: str) -> str:
    return json.loads((harness.state_dir(namespace) / "secrets" / "urbalurba-secrets.json").read_text())[
        "JUPYTERHUB_AUTH_PASSWORD"
    ]


def test_rotating_twice_keeps_a_running_kernel_and_only_the_last_password_logs_in(harness, monkeypatch, tmp_path):
    # pages of one user: what the rotation reads of the hub's users must follow the pagination
    paged = tmp_path / "paged.yaml"
    paged.write_text("hub:\n  config:\n    JupyterHub:\n      api_page_default_limit: 1\n      api_page_max_limit: 1\n")
    assert harness.deploy("rot", "--values", str(paged)).code == 0
    monkeypatch.setenv("HUBHARNESS_HOME", str(harness.home))
    deployment = target_for("local", "rot").deployment()
    url, first = deployment.public_url, _password(harness, "rot")
    api = UserSession(url, "ann", first).api()
    api.start_server("ann")
    server = api.wait_server_ready("ann", deployment.spawn_timeout)
    kernel = Kernel(f"{url}{server['url']}", api.token).start()
    kernel.run("x = 7")
    kernel.disconnect()

    given = harness.invoke("rotate-password", "--namespace", "rot", env={"HUBHARNESS_NEW_PASSWORD": NEW})
    assert given.code == 0, given.err
    assert _password(harness, "rot") == NEW
    assert "rotated the user password (environment)" in given.out and "kept running: 1 (ann/)" in given.out
    made = harness.invoke("rotate-password", "--namespace", "rot")
    assert made.code == 0, made.err
    last = _password(harness, "rot")
    assert last not in (first, NEW) and "(generated)" in made.out

    for old in (first, NEW):
        assert not login(url, "ann", old).ok
    assert login(url, "ann", last).ok
    again = Kernel(f"{url}{server['url']}", api.token).attach(kernel.kernel_id or "")
    assert again.run("print(x)").stdout.strip() == "7", "ann's kernel did not live through the rotations"
    again.disconnect()
    assert api.user("ann")["servers"][""]["started"] == server["started"]
    for ran in (given, made):
        assert not [p for p in (first, NEW, last) if p in ran.out + ran.err], "a password was printed"
    admin = HubAPI(url, deployment.service_token())
    assert admin.user("hubharness-rotation") is None, "the user that proved the password was left behind"
    for name in ("bea", "cal"):
        admin.ensure_user(name)
    assert {"ann", "bea", "cal"} <= {u["name"] for u in admin.users()}, "a page of users was not read"


def test_a_rotation_with_the_hub_down_changes_nothing_and_says_so(harness, monkeypatch):
    assert harness.deploy("rotdown").code == 0
    monkeypatch.setenv("HUBHARNESS_HOME", str(harness.home))
    before = _password(harness, "rotdown")
    target_for("local", "rotdown")._stop_supervisors(["hub"])  # the hub down, as after a crash
    ran = harness.invoke("rotate-password", "--namespace", "rotdown")
    assert ran.code == 2
    assert ran.err.strip().splitlines() == [ran.err.strip()], ran.err
    assert "does not answer /hub/health" in ran.err and "nothing was changed" in ran.err
    assert _password(harness, "rotdown") == before


def test_a_rotation_the_hub_never_reads_is_rolled_back_and_the_old_password_still_logs_in(harness, monkeypatch):
    """A restart that restarts nothing (the rotation-restarts-nothing mutant, planted here):
    the new password cannot be proven, so the old one goes back into the Secret."""
    assert harness.deploy("rotback").code == 0
    monkeypatch.setenv("HUBHARNESS_HOME", str(harness.home))
    monkeypatch.setenv("HUBHARNESS_NEW_PASSWORD", NEW)
    before = _password(harness, "rotback")
    target = target_for("local", "rotback")
    monkeypatch.setattr(type(target), "restart_hub", lambda self: None)
    with pytest.raises(HarnessError) as failed:
        rotation.rotate(target)
    assert str(failed.value).startswith("rotation failed: "), failed.value
    assert str(failed.value).endswith("the old password is in place again and logs in"), failed.value
    assert NEW not in str(failed.value) and before not in str(failed.value)
    assert _password(harness, "rotback") == before
    url = target.deployment().public_url
    assert login(url, "ann", before).ok and not login(url, "ann", NEW).ok


def test_a_rotation_on_a_cluster_patches_the_secret_and_a_new_hub_pod_reads_it(hub_cluster):  # noqa: F811
    done = run_invoke("deploy", "--context", "emulated", "--namespace", "rotk", timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    deployment = target_for("emulated", "rotk").deployment()
    old, hub_pods = str(deployment.auth_password()), deployment.hub_instance()
    try:
        ran = run_invoke(
            "rotate-password", "--context", "emulated", "--namespace", "rotk", timeout=300, HUBHARNESS_NEW_PASSWORD=NEW
        )
        assert ran.returncode == 0, ran.stderr[-2000:]
        assert "--context emulated -n rotk get secret urbalurba-secrets" in ran.stdout
        assert str(target_for("emulated", "rotk").deployment().auth_password()) == NEW
        assert deployment.hub_instance() != hub_pods, "the hub's pod was not replaced"
        assert not login(deployment.public_url, "kim", old).ok
        assert login(deployment.public_url, "kim", NEW).ok
    finally:
        deployment.close()
