"""The fault matrix: break a deployment in one suite's way; verify must fail naming that check.

A check that cannot fail proves nothing, so each suite is broken for real here.
"""

import json
import os
import textwrap

import psutil
import requests

from hubharness.waiting import wait_until

from .conftest import failed


def deploy(harness, ns, tmp_path, overlay: str | None = None):
    args = []
    if overlay:
        path = tmp_path / f"{ns}.yaml"
        path.write_text(textwrap.dedent(overlay))
        args = ["--values", str(path)]
    ran = harness.deploy(ns, *args)
    assert ran.code == 0, ran.err
    return harness.state_dir(ns)


def verify_fails(harness, ns, k, expected_ids, check=None):
    ran, summary = harness.verify(ns, k=k, check=check)
    assert ran.code != 0, f"verify passed on a broken deployment: {ran.out[-2000:]}"
    bad = failed(summary)
    for check in expected_ids:
        assert check in bad, f"{check} not among failed checks {sorted(bad)}"
        assert check in ran.out, "the failed check is not named in verify's output"
    assert (harness.reports / "latest" / "diagnostics").is_dir()
    return summary


def test_ns_world_readable_state_fails(harness, tmp_path):
    state = deploy(harness, "ns-open", tmp_path)
    os.chmod(state, 0o755)
    verify_fails(harness, "ns-open", None, ["NS.state_is_isolated"], check="NS")


def test_sec_readable_secret_file_fails(harness, tmp_path):
    state = deploy(harness, "sec-mode", tmp_path)
    os.chmod(state / "secrets" / "urbalurba-secrets.json", 0o644)
    verify_fails(harness, "sec-mode", "secret_is_private", ["SEC.secret_is_private"])


def test_sec_secret_changed_behind_the_hubs_back_fails(harness, tmp_path):
    state = deploy(harness, "sec-stale", tmp_path)
    secret = state / "secrets" / "urbalurba-secrets.json"
    secret.write_text(json.dumps({"JUPYTERHUB_AUTH_PASSWORD": "rotated-but-not-deployed"}))
    verify_fails(harness, "sec-stale", "hub_reads_password_from_secret or right_password",
                 ["SEC.hub_reads_password_from_secret", "AUTH.right_password_logs_in"])


def test_sec_seed_fallback_password_is_caught(harness, tmp_path):
    # The seed's config verbatim, with the secret not wired into the hub.
    deploy(harness, "sec-fallback", tmp_path, """
        hub:
          extraEnv: null
          extraConfig:
            00-shared-password: |
              import os
              c.DummyAuthenticator.password = os.environ.get('JUPYTERHUB_AUTH_PASSWORD', 'fallback-password')
    """)
    verify_fails(harness, "sec-fallback", None, ["SEC.no_fallback_password_logs_in[fallback-password]"], check="SEC")


def test_sec_leaked_password_in_a_log_fails(harness, tmp_path):
    state = deploy(harness, "sec-leak", tmp_path)
    password = json.loads((state / "secrets" / "urbalurba-secrets.json").read_text())["JUPYTERHUB_AUTH_PASSWORD"]
    with open(state / "logs" / "hub.log", "a") as log:
        log.write(f"debug: password is {password}\n")
    verify_fails(harness, "sec-leak", "secrets_appear_nowhere_else", ["SEC.secrets_appear_nowhere_else"])
    summary = (harness.reports / "latest" / "summary.json").read_text()
    assert password not in summary


def test_sec_hub_without_the_secret_does_not_start(harness, tmp_path):
    overlay = tmp_path / "nosecret.yaml"
    overlay.write_text("hub:\n  extraEnv: null\n")
    ran = harness.deploy("sec-none", "--values", str(overlay))
    assert ran.code != 0
    assert len(ran.err_lines) == 1 and "hub exited during start" in ran.err
    assert "JUPYTERHUB_AUTH_PASSWORD is empty or unset" in ran.err


def test_rdy_stopped_proxy_fails(harness, tmp_path):
    deploy(harness, "rdy-proxy", tmp_path)
    psutil.Process(harness.status("rdy-proxy")["proxy"]["pid"]).kill()
    verify_fails(harness, "rdy-proxy", None, ["RDY.component_is_ready[proxy]"], check="RDY")


def test_prx_missing_hub_route_fails(harness, tmp_path):
    state = deploy(harness, "prx-route", tmp_path)
    runtime = json.loads((state / "runtime.json").read_text())
    token = json.loads((state / "secrets" / "hub.json").read_text())["hub.config.ConfigurableHTTPProxy.auth_token"]
    response = requests.delete(f"http://127.0.0.1:{runtime['proxy_api_port']}/api/routes/",
                               headers={"Authorization": f"token {token}"}, timeout=5)
    assert response.status_code == 204
    verify_fails(harness, "prx-route", "route_table_holds_the_hub_route", ["PRX.route_table_holds_the_hub_route"])


def test_auth_any_password_accepted_fails(harness, tmp_path):
    deploy(harness, "auth-open", tmp_path, """
        hub:
          extraConfig:
            99-open: |
              c.DummyAuthenticator.password = ""
    """)
    verify_fails(harness, "auth-open", "wrong_password_is_refused",
                 ["AUTH.wrong_password_is_refused[wrong]", "AUTH.wrong_password_is_refused[empty]"])


def test_auth_everyone_admin_fails(harness, tmp_path):
    deploy(harness, "auth-admin", tmp_path, """
        hub:
          config:
            Authenticator:
              admin_users: [admin, verify-alice]
    """)
    verify_fails(harness, "auth-admin", "non_admin", ["AUTH.non_admin_is_kept_from_admin_page"])


def test_spk_wrong_pyspark_fails(harness, tmp_path):
    fake = tmp_path / "fake-site" / "pyspark"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("__version__ = '3.4.0'\n")
    deploy(harness, "spk-version", tmp_path, f"""
        singleuser:
          extraEnv:
            PYTHONPATH: {fake.parent}
    """)
    verify_fails(harness, "spk-version", "pyspark_is_the_expected_version or servers_pyspark_python",
                 ["SPK.pyspark_is_the_expected_version", "SPK.servers_pyspark_python_imports_the_expected_pyspark"])


def test_spk_broken_spark_python_fails(harness, tmp_path):
    deploy(harness, "spk-env", tmp_path, """
        singleuser:
          extraEnv:
            PYSPARK_PYTHON: /opt/conda/bin/python
    """)
    verify_fails(harness, "spk-env", "spark_python or known_answer or servers_pyspark_python",
                 ["SPK.spark_python_is_set_and_is_the_kernels[PYSPARK_PYTHON]", "SPK.spark_job_gives_the_known_answer",
                  "SPK.servers_pyspark_python_imports_the_expected_pyspark"])


def test_adm_harness_without_server_rights_fails(harness, tmp_path):
    deploy(harness, "adm-scopes", tmp_path, """
        hub:
          loadRoles:
            hubharness:
              scopes: [list:users, read:users, read:hub]
    """)
    verify_fails(harness, "adm-scopes", None, ["ADM.server_stops_through_the_api"], check="ADM")


def test_bak_database_not_persisted_fails(harness, tmp_path):
    deploy(harness, "bak-memory", tmp_path, """
        hub:
          db:
            type: sqlite-memory
    """)
    verify_fails(harness, "bak-memory", None, ["BAK.user_records_come_back"], check="BAK")


def test_rmv_leftovers_are_seen(harness, tmp_path, monkeypatch):
    """What RMV asserts is empty is not empty when something of ours is left."""
    import socket
    import subprocess

    from hubharness.targets.local import LocalTarget

    state = deploy(harness, "rmv-left", tmp_path)
    monkeypatch.setenv("HUBHARNESS_HOME", str(harness.home))
    target = LocalTarget("rmv-left")
    ports = target.ports()
    assert harness.invoke("remove", "--namespace", "rmv-left").code == 0
    assert target.leftovers(ports) == [f"state dir {state}"]
    env = {**os.environ, "JUPYTERHUB_API_URL": f"http://127.0.0.1:{target.read_state()['hub_port']}/hub/api"}
    stray = subprocess.Popen(["sleep", "120"], cwd="/", env=env)  # a user's job that outlived its server
    # Until it has exec'd, the child still shows our own command line and environment.
    wait_until("the stray job to start", lambda: psutil.Process(stray.pid).cmdline()[:1] == ["sleep"], 10)
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", ports[0]))
        squatter.listen()
        try:
            left = target.leftovers(ports)
            assert f"process {stray.pid} (sleep)" in left
            assert f"a listener on 127.0.0.1:{ports[0]}" in left
            assert harness.invoke("remove", "--namespace", "rmv-left").code == 0
            assert stray.wait(10) is not None, "remove did not stop the stray job"
        finally:
            stray.kill()
