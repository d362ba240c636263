"""deploy → status → verify → remove → remove --purge, as a user runs them."""

import json
import signal
import subprocess
import time

import psutil
import pytest
import requests
import testinfra

from hubharness import checks, procs
from hubharness.hubapi import HubAPI, UserSession
from hubharness.kernel import Kernel
from hubharness.targets.local import LocalTarget
from hubharness.waiting import wait_until

from .helpers import INVOKE, PROJECT_ROOT, failed, open_page, outcomes

host = testinfra.get_host("local://")


def listening(port: int) -> bool:
    return host.socket(f"tcp://127.0.0.1:{port}").is_listening


@pytest.fixture(scope="module")
def deployed(module_harness):
    ran = module_harness.deploy("life")
    assert ran.code == 0, ran.err
    return module_harness


def _secret(harness, ns="life"):
    path = harness.state_dir(ns) / "secrets" / "urbalurba-secrets.json"
    return json.loads(path.read_text())["JUPYTERHUB_AUTH_PASSWORD"]


def test_deploy_says_where_the_password_is_and_never_prints_it(deployed):
    status = deployed.status("life")
    assert status["hub"]["healthy"] and status["proxy"]["running"]
    secret_file = deployed.state_dir("life") / "secrets" / "urbalurba-secrets.json"
    assert status["secret_file"] == str(secret_file)
    assert secret_file.stat().st_mode & 0o777 == 0o600
    again = deployed.deploy("life")
    assert str(secret_file) in again.out
    printed = _secret(deployed) in again.out + again.err
    assert not printed, "deploy printed the password"  # not in the assert's expression: pytest would print it


def test_second_deploy_starts_no_second_hub(deployed):
    before = deployed.status("life")
    again = deployed.deploy("life")
    assert again.code == 0 and "already deployed" in again.out
    after = deployed.status("life")
    assert (after["hub"]["pid"], after["proxy"]["pid"]) == (before["hub"]["pid"], before["proxy"]["pid"])


def test_changed_values_restart_the_hub_only(deployed, tmp_path):
    before = deployed.status("life")
    overlay = tmp_path / "debug.yaml"
    overlay.write_text("singleuser:\n  defaultUrl: /lab\n")
    ran = deployed.deploy("life", "--values", str(overlay))
    assert ran.code == 0 and "redeployed" in ran.out, ran.out + ran.err
    after = deployed.status("life")
    assert after["hub"]["pid"] != before["hub"]["pid"]
    assert after["proxy"]["pid"] == before["proxy"]["pid"]


def test_smoke_verify_runs_only_its_checks_and_spawns_one_user(deployed):
    ran = deployed.invoke("verify", "--namespace", "life", "--smoke")
    assert ran.code == 0, ran.out[-3000:]
    summary = json.loads((deployed.reports / "latest" / "summary.json").read_text())
    assert [c["id"] for c in summary["checks"]] == [c.id for c in checks.CATALOGUE if c.id in checks.SMOKE]
    assert {c["outcome"] for c in summary["checks"]} == {"passed"}
    assert [b["name"] for b in summary["background"] if b["name"].startswith("spawn:")] == ["spawn: verify-alice"]
    refused = deployed.invoke("verify", "--namespace", "life", "--smoke", "--check", "SEC")
    assert refused.code != 0 and "--smoke is a selection of its own" in refused.err


def test_the_real_report_and_index_load_offline_in_chromium(deployed, chromium):
    """The pages of the verify above (the smoke one; the whole verify's report is
    tests/test_selftest.py's to read, from its healthy namespace), opened from disk as a
    user would: no console error,
    nothing from the network, the deployment on top; their screenshots stay in the run."""
    from selenium.webdriver.common.by import By

    run = (deployed.reports / "latest").resolve()
    for page, shot in ((run / "report.html", "report.png"), (deployed.reports / "index.html", "index.png")):
        console, network, by_page = open_page(chromium, page)
        assert console == [] and network == [], (page.name, console, network)
        assert all(url.startswith("file:") for url in by_page), by_page
        assert "verify PASSED" in chromium.title or "latest passed" in chromium.title
        assert chromium.find_element(By.CSS_SELECTOR, "header.run").is_displayed()
        assert chromium.save_screenshot(str(run / shot))
    chromium.get((run / "report.html").as_uri())
    assert "namespace life" in chromium.find_element(By.ID, "deployment").text


def test_reports_hold_no_secret(deployed):
    """Every file of every run, and the pages for people: report.html and index.html."""
    secrets = [
        v for f in (deployed.state_dir("life") / "secrets").glob("*.json") for v in json.loads(f.read_text()).values()
    ]
    # No secret in an assert's expression: pytest prints its values when it fails.
    looked_for = bool(secrets)
    assert looked_for, "the deployment's secrets were not found"
    assert (deployed.reports / "index.html").is_file() and (deployed.reports / "latest" / "report.html").is_file()
    for path in deployed.reports.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            leaked = any(s in text for s in secrets)
            assert not leaked, f"secret in {path}"


def test_status_lists_users_after_verify(deployed):
    status = deployed.status("life")
    names = {u["name"] for u in status["users"]}
    assert "verify-alice" in names  # the smoke verify's user with a server
    assert not any(u["servers"] for u in status["users"] if u["name"].startswith("verify-")), (
        "verify left a server running"
    )
    homes = {h["user"]: h for h in status["figures"]["homes"]}
    assert homes["verify-alice"]["used_bytes"] > 0 and homes["verify-alice"]["percent"] < 1, homes
    assert set(status["figures"]["resources"]["components"]) == {"hub", "proxy"}, status["figures"]  # no server runs


def _kernel_running(deployed, user: str, code: str) -> tuple[HubAPI, str, list[psutil.Process]]:
    """user's server with a kernel that ran `code`, then left running as a closed tab leaves
    it: the user's API, what the code printed, the processes in the user's home."""
    status = deployed.status("life")
    api = UserSession(status["hub_url"], user, _secret(deployed)).api()
    api.start_server(user)
    server = api.wait_server_ready(user, 90)
    kernel = Kernel(f"{status['hub_url']}{server['url']}", api.token).start()
    printed = kernel.run(code, timeout=120).stdout.strip()
    kernel.disconnect()
    return api, printed, procs.processes_under(deployed.state_dir("life") / "home" / user)


def test_a_stopped_servers_kernel_and_spark_end_with_it(deployed):
    """A pod's processes all end with its container: when the hub says dan's server has
    stopped, the kernel it ran and that kernel's Spark JVM are gone too."""
    api, printed, pod = _kernel_running(
        deployed,
        "dan",
        "from pyspark.sql import SparkSession\n"
        "print(SparkSession.builder.config('spark.ui.enabled', 'false').getOrCreate().range(3).count())",
    )
    assert printed == "3"
    assert len(pod) >= 3, "the server, its kernel and Spark's JVM should run in dan's home"
    api.stop_server("dan")
    api.wait_server_stopped("dan", 60)
    assert [p.pid for p in pod if procs.running(p)] == [], "still running after the hub said dan's server stopped"


def test_a_killed_server_takes_its_kernel_with_it(deployed, monkeypatch):
    """RES's "server killed behind the hub's back" is a pod deleted with no grace: the
    server and the kernel it runs end together."""
    _, printed, pod = _kernel_running(deployed, "erin", "print(6 * 7)")
    assert printed == "42"
    assert len(pod) >= 2, "the server and its kernel should run in erin's home"
    monkeypatch.setenv("HUBHARNESS_HOME", str(deployed.home))
    deployment = LocalTarget("life").deployment()
    started = time.monotonic()
    deployment.kill_user_server("erin")
    took = time.monotonic() - started
    assert [p.pid for p in pod if procs.running(p)] == [], "still running after erin's server was killed"
    # the killed server is the hub's child, a zombie until the hub's next poll reaps it: dead
    assert took < 5, f"the kill took {took:.1f}s: it waited on a process that had ended"


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("sigint_ignored", [False, True], ids=["from-a-shell", "in-a-scripts-background"])
def test_a_load_ended_by_sigterm_removes_its_users_as_ctrl_c_does(deployed, sigint_ignored):
    """A CI job cancelled mid-load: the load's users and their servers do not stay on the hub,
    also where the load started with SIGINT ignored (`invoke load &` in a script)."""
    load = subprocess.Popen(
        [INVOKE, "load", "--namespace", "life", "--users", "2", "--ramp", "0", "--hold", "120"],
        cwd=PROJECT_ROOT,
        env=deployed.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ignore_sigint if sigint_ignored else None,  # noqa: PLW1509 — one call, before exec
    )

    def servers() -> list[dict]:
        return [u for u in deployed.status("life")["users"] if u["name"].startswith("load-") and u["servers"]]

    def load_runs() -> None:
        if load.poll() is not None:
            raise AssertionError(f"the load ended before its servers ran: {load.communicate()[1][-2000:]}")

    try:
        wait_until("the load's two servers", lambda: len(servers()) == 2, 90, fail_fast=load_runs, progress=False)
        load.send_signal(signal.SIGTERM)
        _, err = load.communicate(timeout=60)
    finally:
        load.kill()
    assert load.returncode == 130 and "hubharness: interrupted" in err, (load.returncode, err[-2000:])
    left = [u["name"] for u in deployed.status("life")["users"] if u["name"].startswith("load-")]
    assert left == [], f"the load's users outlived its SIGTERM: {left}"


def test_remove_keeps_data_and_stops_everything(deployed):
    status = deployed.status("life")
    ports = json.loads((deployed.state_dir("life") / "state.json").read_text())
    assert listening(ports["public_port"])
    ran = deployed.invoke("remove", "--namespace", "life")
    assert ran.code == 0 and "kept" in ran.out, ran.out + ran.err
    assert not psutil.pid_exists(status["hub"]["pid"]) and not psutil.pid_exists(status["proxy"]["pid"])
    state = deployed.state_dir("life")
    assert (state / "jupyterhub.sqlite").is_file() and (state / "home" / "verify-alice").is_dir()
    assert not [p for p in psutil.process_iter(["cwd"]) if str(state) in (p.info["cwd"] or "")]
    assert not listening(ports["public_port"])
    again = deployed.invoke("remove", "--namespace", "life")
    assert again.code == 0


def test_redeploy_after_remove_keeps_users(deployed):
    assert deployed.deploy("life").code == 0
    names = {u["name"] for u in deployed.status("life")["users"]}
    assert "verify-alice" in names


def test_purge_leaves_nothing(deployed):
    ports = json.loads((deployed.state_dir("life") / "state.json").read_text())
    ran = deployed.invoke("remove", "--namespace", "life", "--purge")
    assert ran.code == 0, ran.err
    assert not deployed.state_dir("life").exists()
    for key in ("public_port", "hub_port", "proxy_api_port"):
        assert not listening(ports[key]), key
    again = deployed.invoke("remove", "--namespace", "life", "--purge")
    assert again.code == 0 and "nothing deployed" in again.out


def test_password_from_the_environment_is_used(harness):
    ran = harness.deploy("envpw", env={"JUPYTERHUB_AUTH_PASSWORD": "a-given-password-123"})
    assert ran.code == 0, ran.err
    assert _secret(harness, "envpw") == "a-given-password-123"
    assert "a-given-password-123" not in ran.out + ran.err
    _, summary = harness.verify("envpw", k="hub_reads_password_from_secret or right_password")
    assert summary["counts"]["passed"] == 2 and not failed(summary)


def test_two_deployments_side_by_side_do_not_clash(harness):
    assert harness.deploy("left").code == 0
    assert harness.deploy("right").code == 0
    left, right = harness.status("left"), harness.status("right")
    assert left["hub_url"] != right["hub_url"]
    for ns in ("left", "right"):
        ran, summary = harness.verify(ns, check="NS,RDY")
        assert ran.code == 0 and not failed(summary), outcomes(summary)
    harness.invoke("remove", "--namespace", "left", "--purge")
    assert harness.status("right")["hub"]["healthy"], "removing one namespace touched the other"


def _restarted(harness, ns: str, name: str, pid: int, timeout: float = 60) -> dict:
    """status, once `name` runs again under another pid and answers (its supervisor's work)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = harness.status(ns)
        if status[name]["running"] and status[name]["pid"] != pid and status["hub"]["healthy"]:
            return status
        time.sleep(0.5)
    raise AssertionError(f"{name} did not come back within {timeout}s: {status}")


def test_a_hub_that_died_comes_back_at_its_address_and_servers_keep_working(harness):
    """As a container with restartPolicy Always behind its Service: the hub's supervisor
    starts it again at once, on the same internal address, and counts the restart; a
    user's running server still reaches the hub; deploy then has nothing to do."""
    assert harness.deploy("crash").code == 0
    before = harness.status("crash")
    state = json.loads((harness.state_dir("crash") / "state.json").read_text())
    api = UserSession(before["hub_url"], "carol", _secret(harness, "crash")).api()
    api.start_server("carol")
    server = api.wait_server_ready("carol", 90)
    psutil.Process(before["hub"]["pid"]).kill()
    after = _restarted(harness, "crash", "hub", before["hub"]["pid"])
    assert json.loads((harness.state_dir("crash") / "state.json").read_text())["hub_port"] == state["hub_port"]
    assert {c["name"]: c["restarts"] for c in after["components"]} == {"hub": 1, "proxy": 0}
    # the server checks carol's token with the hub, at the address it was given when it started
    response = requests.get(
        f"{after['hub_url']}{server['url']}api/status",
        timeout=30,
        headers={"Authorization": f"token {api.token}"},
    )
    assert response.status_code == 200, f"carol's server answered {response.status_code} after the hub restart"
    ran = harness.deploy("crash")
    assert ran.code == 0 and "already deployed, nothing changed" in ran.out, ran.out + ran.err
    assert harness.invoke("remove", "--namespace", "crash").code == 0
    assert harness.deploy("crash").code == 0
    assert {c["name"]: c["restarts"] for c in harness.status("crash")["components"]} == {"hub": 0, "proxy": 0}


def test_a_proxy_whose_supervisor_died_is_started_again_by_deploy_and_counted(harness):
    """Killing the supervisor takes its component with it (as a pod's containers go with
    the pod); deploy starts both again and counts it as the kubelet would: a restart."""
    assert harness.deploy("orphan").code == 0
    state = json.loads((harness.state_dir("orphan") / "state.json").read_text())
    before = harness.status("orphan")
    psutil.Process(state["proxy"]["pid"]).kill()
    psutil.Process(before["proxy"]["pid"]).wait(10)
    ran = harness.deploy("orphan")
    assert ran.code == 0 and "started again (proxy had stopped; restart counted)" in ran.out, ran.out + ran.err
    assert {c["name"]: c["restarts"] for c in harness.status("orphan")["components"]} == {"hub": 0, "proxy": 1}
