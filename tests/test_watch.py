"""`invoke watch` against a real local deployment: a journey counted with its phases'
durations on the metrics endpoint (scraped over 127.0.0.1), SIGTERM during a spawn
ending that journey with no server left, the catalogue's spawn-fails fault counted as
failures of the spawn phase by a real Prometheus, whose evaluation of the shipped rules
fires HubJourneyFailing; no secret in the scrape or the history. The alert rules are
checked and unit-tested by promtool, and shown to fail when their bounds move."""

from __future__ import annotations

import http.server
import ipaddress
import json
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hubharness import faults
from hubharness.hubapi import HubAPI
from hubharness.load.hub import Hub
from hubharness.procs import free_port, processes_under
from hubharness.targets import target_for
from hubharness.targets.kube.api import KUBE_SCHEMA_VERSION
from hubharness.watch.history import History, page
from hubharness.watch.journey import JOURNEYS, TIMEOUTS, USER, Journey, PhaseResult, Record
from hubharness.watch.metrics import Metrics
from hubharness.watch.schedule import Settings, line, run

from .helpers import INVOKE, PROJECT_ROOT, open_page, run_invoke
from .test_bad_input import assert_refused
from .test_kube_selftest import hub_cluster, ingress_controller  # noqa: F401 — the emulated cluster, a real hub per namespace

NS = "watch"
RULES = PROJECT_ROOT / "manifests" / "prometheus" / "watch-rules.yaml"
RULES_TEST = PROJECT_ROOT / "manifests" / "prometheus" / "watch-rules.test.yaml"
MANIFEST = PROJECT_ROOT / "manifests" / "watch.yaml"
LIGHT = ("health", "login", "spawn", "kernel", "stop")
WAIT = 120  # seconds, at most, for what a watch should show (a spawn on 2 busy cores takes ~10)


# ---- helpers ------------------------------------------------------------------------
def samples(text: str) -> dict[str, float]:
    """A scrape as {'name{label="v",...}': value}, labels sorted."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            found[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return found


class Watch:
    """`invoke watch` running as a user runs it, its output in files."""

    def __init__(self, harness, tmp: Path, *args: str, port: int | None = None):
        self.port = port or free_port()
        self.out, self.err = tmp / f"watch-{self.port}.out", tmp / f"watch-{self.port}.err"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen(
                [INVOKE, "watch", "--namespace", NS, "--metrics-port", str(self.port), *args],
                cwd=PROJECT_ROOT,
                env=harness.env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )

    def said(self) -> str:
        return f"stdout: {self.out.read_text()[-3000:]}\nstderr: {self.err.read_text()[-3000:]}"

    def scrape(self) -> str:
        return requests.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text

    def until(self, what: str, probe, timeout: float = WAIT):
        """Poll `probe` (every 0.2 s, `timeout` at most) until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"watch exited ({self.proc.returncode}) before {what}; {self.said()}")
            try:
                seen = probe()
            except requests.ConnectionError:
                seen = None
            if seen:
                return seen
            time.sleep(0.2)
        pytest.fail(f"no {what} in {timeout}s; {self.said()}")

    def ended(self, timeout: float = 120) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"watch still running {timeout}s after it was told to end; {self.said()}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture(scope="module")
def deployed(module_harness):
    ran = module_harness.deploy(NS)
    assert ran.code == 0, ran.err
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HUBHARNESS_HOME", str(module_harness.home))
        deployment = target_for("local", NS).deployment()
    module_harness.deployment = deployment
    return module_harness


class Prometheus:
    """A real Prometheus server (Debian's package, as promtool) on a free port, scraping
    watch every second and evaluating the shipped rules every second."""

    def __init__(self, tmp: Path, watch_port: int):
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail("prometheus not found: ./bootstrap.sh installs it (Debian's prometheus package)")
        self.url = f"http://127.0.0.1:{free_port()}"
        config = tmp / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(RULES)],
                    "scrape_configs": [
                        {"job_name": "hubharness-watch", "static_configs": [{"targets": [f"127.0.0.1:{watch_port}"]}]}
                    ],
                }
            )
        )
        self.log = tmp / "prometheus.log"
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp / 'tsdb'}",
                    f"--web.listen-address={self.url.removeprefix('http://')}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"prometheus exited ({self.proc.returncode}): {self.log.read_text()[-2000:]}")
            try:
                if requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        pytest.fail(f"prometheus not ready in {timeout}s: {self.log.read_text()[-2000:]}")

    def query(self, expr: str) -> float | None:
        answer = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5).json()
        values = [float(r["value"][1]) for r in answer["data"]["result"]]
        return max(values) if values else None

    def alerts(self) -> dict[str, str]:
        """Alert name → state (pending, firing), as Prometheus evaluates the rules now."""
        answer = requests.get(f"{self.url}/api/v1/alerts", timeout=5).json()
        return {a["labels"]["alertname"]: a["state"] for a in answer["data"]["alerts"]}

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def no_secret_in(text: str, secrets: list[str], where: str) -> None:
    leaked = [s for s in secrets if len(s) >= 6 and s in text]
    assert not leaked, f"{len(leaked)} secret value(s) in {where}"  # never the value itself in the message


def server_left(harness) -> list[str]:
    """The synthetic user's server as the hub sees it and as the machine does."""
    deployment = harness.deployment
    left = []
    admin = HubAPI(deployment.public_url, deployment.service_token())
    if admin.server(USER) is not None:
        left.append(f"the hub lists a server of {USER}: {admin.server(USER)}")
    running = deployment.user_server_running(USER)
    if running:
        left.append(f"a server process of {USER} runs: {running.detail}")
    return left


# ---- against the deployment ------------------------------------------------------------
def test_a_journey_is_counted_and_sigterm_during_a_spawn_leaves_no_server(deployed, tmp_path):
    secrets = [str(s) for s in deployed.deployment.secrets()]
    watch = Watch(deployed, tmp_path, "--every", "1s")
    try:
        watch.until(
            "successful journey",
            lambda: samples(watch.scrape())['hubharness_watch_journeys_total{outcome="success"}'] >= 1,
        )
        text = watch.scrape()
        seen = samples(text)
        for phase in LIGHT:
            count = seen[f'hubharness_watch_phase_duration_seconds_count{{phase="{phase}"}}']
            total = seen[f'hubharness_watch_phase_duration_seconds_sum{{phase="{phase}"}}']
            assert count == 1 and total > 0, f"{phase}: {count} observation(s), {total}s"
        assert seen['hubharness_watch_phase_duration_seconds_count{phase="spark"}'] == 0
        assert seen["hubharness_watch_last_success_timestamp_seconds"] > time.time() - WAIT
        assert seen["hubharness_watch_hub_healthy"] == 1 and seen["hubharness_watch_consecutive_failures"] == 0
        assert not any(v for k, v in seen.items() if k.startswith("hubharness_watch_phase_failures_total"))
        assert not [k for k in seen if "hubharness-watch" in k or "127.0.0.1" in k], "a user name or address as a label"
        no_secret_in(text, secrets, "the metrics scrape")

        admin = HubAPI(deployed.deployment.public_url, deployed.deployment.service_token())
        watch.until("second journey's spawn under way", lambda: (admin.server(USER) or {}).get("pending") == "spawn")
        watch.proc.send_signal(signal.SIGTERM)
        code = watch.ended()
    finally:
        watch.close()
    out = watch.out.read_text()
    assert code == 0, watch.said()
    assert " light ok in " in out and " light INTERRUPTED at spawn " in out, out
    assert out.splitlines()[-1].startswith(f"watch: 2 journey(s) as {USER}, 0 failed; stopped by SIGTERM"), out
    assert not server_left(deployed), server_left(deployed)
    with pytest.raises(requests.ConnectionError):
        watch.scrape()

    kept = sorted((deployed.reports / "watch").glob("journey-*.json"))
    journeys = [json.loads(p.read_text()) for p in kept]
    assert [j["outcome"] for j in journeys] == ["success", "interrupted"]
    assert [p["phase"] for p in journeys[1]["phases"]] == ["health", "login", "spawn", "stop"]
    assert "The last 2 journeys: 1 interrupted, 1 success." in (deployed.reports / "watch" / "index.html").read_text()
    for path in [*kept, deployed.reports / "watch" / "index.html"]:
        no_secret_in(path.read_text(), secrets, str(path))


def test_a_spark_journey_runs_spark_as_a_notebook_does_and_leaves_nothing(deployed, tmp_path):
    """After the light journeys above: one spark journey (`--for` lets no second start),
    its Spark built from the deployment's own settings, and nothing of it left after."""
    before = set((deployed.reports / "watch").glob("journey-*.json"))
    watch = Watch(deployed, tmp_path, "--journey", "spark", "--for", "1s")
    try:
        code = watch.ended(timeout=TIMEOUTS["spark"] + 2 * WAIT)
    finally:
        watch.close()
    assert code == 0, watch.said()
    assert " spark ok in " in watch.out.read_text(), watch.said()
    (kept,) = set((deployed.reports / "watch").glob("journey-*.json")) - before
    journey = json.loads(kept.read_text())
    assert journey["outcome"] == "success"
    assert [p["phase"] for p in journey["phases"]] == list(JOURNEYS["spark"]), journey["phases"]
    assert not server_left(deployed), server_left(deployed)
    home = deployed.deployment.folder.state_dir / "home" / USER
    left = [" ".join(proc.cmdline())[:120] for proc in processes_under(home)]
    assert not left, f"left running in {USER}'s home: {left}"


def test_bad_input_is_one_line(deployed):
    assert_refused(deployed.invoke("watch", "--namespace", NS, "--journey", "heavy"), "--journey 'heavy'", "light")
    assert_refused(deployed.invoke("watch", "--namespace", NS, "--every", "5x"), "--every 5x is not an interval")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ran = deployed.invoke("watch", "--namespace", NS, "--metrics-port", str(port), "--for", "1s")
    assert_refused(ran, f"--metrics-port {port}", "give a free port")
    assert_refused(deployed.invoke("watch", "--namespace", "nowhere"), "nothing deployed in namespace nowhere")


def test_a_broken_spawn_path_shows_in_prometheus_and_fires_the_alert(deployed, tmp_path):
    """The catalogue's spawn-fails fault (the single-user command does not exist) laid over
    the deployment; a real Prometheus scrapes watch and evaluates the shipped rules: the
    spawn phase's failures rise and HubJourneyFailing fires (3 in a row). SIGINT ends
    watch, which exits 1 for the failed journeys. The module's last test: the deployment
    stays broken until the fixture purges it (mending it would cost a redeploy)."""
    port = free_port()
    prometheus = Prometheus(tmp_path, port)  # starts while the hub restarts with the fault
    try:
        args, env = faults.materialise(faults.BY_NAME["spawn-fails"], tmp_path)
        broken = deployed.deploy(NS, *args, env=env)
        assert broken.code == 0, broken.err
        prometheus.ready()
        watch = Watch(deployed, tmp_path, "--every", "1s", port=port)
        try:
            watch.until(
                "HubJourneyFailing firing in Prometheus",
                lambda: prometheus.alerts().get("HubJourneyFailing") == "firing",
            )
            seen = samples(watch.scrape())
            failed_spawns = prometheus.query('hubharness_watch_phase_failures_total{phase="spawn",reason="error"}')
            failed_elsewhere = prometheus.query('sum(hubharness_watch_phase_failures_total{phase!="spawn"})')
            watch.proc.send_signal(signal.SIGINT)
            code = watch.ended()
        finally:
            watch.close()
    finally:
        prometheus.close()
    assert failed_spawns is not None and failed_spawns >= 3, f"Prometheus read {failed_spawns} failed spawns"
    assert failed_elsewhere == 0, f"Prometheus read {failed_elsewhere} failures of other phases"
    assert code == 1, watch.said()
    assert seen['hubharness_watch_journeys_total{outcome="failure"}'] >= 3
    assert seen["hubharness_watch_consecutive_failures"] >= 3 and seen["hubharness_watch_hub_healthy"] == 1
    assert seen['hubharness_watch_journeys_total{outcome="success"}'] == 0
    out = watch.out.read_text()
    assert " light FAILURE at spawn after " in out and "stopped by SIGINT" in out.splitlines()[-1], out
    assert not server_left(deployed), server_left(deployed)


# ---- without a hub -----------------------------------------------------------------------
def journey(outcome: str = "ok", phase: str = "spawn", finished: float = 1000.0) -> Record:
    phases = [PhaseResult(p, 0.5, "ok") for p in LIGHT]
    if outcome != "ok":
        i = LIGHT.index(phase)
        phases = [*phases[:i], PhaseResult(phase, 2.0, outcome, "the spawn failed: secret-value-123")]
        phases.append(PhaseResult("stop", 0.3, "ok"))
    return Record("light", "2026-12-06T08:00:00Z", finished=finished, seconds=4.0, hub_healthy=True, phases=phases)


def test_metrics_count_outcomes_phases_and_failures_in_a_row():
    metrics = Metrics()
    for record in (journey(), journey("failed"), journey("timeout", "kernel")):
        metrics.record(record)
    seen = samples(generate_latest(metrics.registry).decode())
    assert seen['hubharness_watch_journeys_total{outcome="success"}'] == 1
    assert seen['hubharness_watch_journeys_total{outcome="failure"}'] == 1
    assert seen['hubharness_watch_journeys_total{outcome="timeout"}'] == 1
    assert seen['hubharness_watch_phase_failures_total{phase="spawn",reason="error"}'] == 1
    assert seen['hubharness_watch_phase_failures_total{phase="kernel",reason="timeout"}'] == 1
    assert seen['hubharness_watch_phase_duration_seconds_count{phase="stop"}'] == 3
    assert seen['hubharness_watch_phase_duration_seconds_count{phase="spawn"}'] == 2  # the failed one is not a duration
    assert seen["hubharness_watch_consecutive_failures"] == 2
    assert seen["hubharness_watch_last_success_timestamp_seconds"] == 1000.0
    assert "secret-value-123" not in generate_latest(metrics.registry).decode()


def test_lines_and_history_say_where_it_failed_keep_the_last_and_hide_secrets(tmp_path):
    assert line(journey()).startswith("watch 2026-12-06T08:00:00Z light ok in 4.0s: health 0.50s, login 0.50s")
    failed = line(journey("failed"))
    assert failed.startswith("watch 2026-12-06T08:00:00Z light FAILURE at spawn after 2.0s: the spawn failed")
    history = History(tmp_path, ["secret-value-123"], keep=3)
    for n in range(5):
        history.add(journey("failed" if n % 2 else "ok", finished=1000.0 + n), "local", NS)
    kept = history.files()
    assert len(kept) == 3 and json.loads(kept[-1].read_text())["finished"] == 1004.0
    text = "".join(p.read_text() for p in kept) + (tmp_path / "index.html").read_text()
    assert "secret-value-123" not in text and "the spawn failed: ***" in text
    assert "The last 3 journeys: 1 failure, 2 success." in page(history.journeys())
    assert "<script" not in text and "http" not in (tmp_path / "index.html").read_text().replace("http-equiv", "")


def test_a_hub_that_does_not_answer_is_a_timeout_one_that_refuses_a_failure(monkeypatch):
    monkeypatch.setitem(TIMEOUTS, "health", 1.0)
    with socket.socket() as silent:  # listens, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        hub = Hub(f"http://127.0.0.1:{silent.getsockname()[1]}", "password-1234", "token-1234", 5, lambda: "")
        slow = Journey(hub, "light", threading.Event()).run()
    refused = Journey(hub, "light", threading.Event()).run()
    assert (slow.outcome, [p.phase for p in slow.phases], slow.hub_healthy) == ("timeout", ["health"], False)
    assert slow.phases[0].seconds < 3, slow.phases
    assert (refused.outcome, refused.failed and refused.failed.phase) == ("failure", "health")
    assert "Connection refused" in refused.phases[0].error


def test_for_ends_the_schedule_and_the_endpoint(tmp_path):
    """Journeys every second for 2.5 s against a hub that refuses connections: each failed
    at its health check, then the metrics endpoint is closed."""
    with socket.socket() as gone:
        gone.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{gone.getsockname()[1]}"  # bound, not listening: refused
        hub = Hub(url, "password-1234", "token-1234", 5, lambda: "")
        lines: list[str] = []
        started = time.monotonic()
        settings = Settings("light", every=1.0, duration=2.5, address="127.0.0.1", port=0)
        history = History(tmp_path, [])
        summary = run(lambda: hub, settings, history, "local", NS, lines.append)
        took = time.monotonic() - started
    assert {"password-1234", "token-1234"} <= set(history.secrets), "each journey's hub's credentials are redacted"
    # every 1 s for 2.5 s: three, or two where the first two started late on a busy machine
    assert summary.journeys in (2, 3) and summary.failed == summary.journeys, lines
    assert summary.stopped_by == "--for", lines
    assert 2.0 < took < 5, f"--for 2.5s took {took:.1f}s"
    assert all(" light FAILURE at health after " in line for line in lines[1:]), lines
    metrics_url = lines[0].split("metrics on ")[1].split(";")[0]
    with pytest.raises(requests.ConnectionError):
        requests.get(metrics_url, timeout=2)


def self_signed(folder: Path, days: int) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 valid `days` from now, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return folder / "cert.pem", folder / "key.pem"


class HealthOnly(http.server.BaseHTTPRequestHandler):
    """A hub that answers its health check and nothing else."""

    def do_GET(self):
        self.send_response(200 if self.path == "/hub/health" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args):
        pass


def test_an_https_hubs_certificate_end_is_read_and_exported(tmp_path, monkeypatch):
    cert, key = self_signed(tmp_path, days=30)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # trusted as the deployment's CA would be
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HealthOnly)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        hub = Hub(f"https://127.0.0.1:{server.server_port}", "password-1234", "token-1234", 5, lambda: "")
        record = Journey(hub, "light", threading.Event()).run()
    finally:
        server.shutdown()
        server.server_close()
    assert record.hub_healthy and record.failed is not None and record.failed.phase == "login", record
    assert record.tls_not_after is not None
    assert abs(record.tls_not_after - (time.time() + 30 * 86400)) < 600, record.tls_not_after
    metrics = Metrics()
    assert "tls" not in generate_latest(metrics.registry).decode()  # not known yet: no series
    metrics.record(record)
    seen = samples(generate_latest(metrics.registry).decode())
    assert seen["hubharness_watch_tls_not_after_timestamp_seconds"] == record.tls_not_after


def test_page_shows_the_journeys_in_a_browser_and_loads_nothing(chromium, tmp_path):
    history = History(tmp_path, [])
    history.add(journey(finished=1000.0), "local", NS)
    history.add(journey("timeout", "kernel", finished=1001.0), "local", NS)
    console, network, _ = open_page(chromium, tmp_path / "index.html")
    assert console == [] and network == [], (console, network)
    rows = chromium.execute_script(
        "return [...document.querySelectorAll('tr')].slice(1).map(r => [...r.cells].map(c => c.textContent))"
    )
    assert [r[2] for r in rows] == ["timeout", "success"], rows  # newest first
    assert rows[0][-1].startswith("kernel: the spawn failed") and rows[1][-1] == ""
    assert chromium.title == "hubharness watch"


# ---- the alert rules ------------------------------------------------------------------------
def promtool(*args: str, cwd: Path = RULES.parent) -> subprocess.CompletedProcess:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool not found: ./bootstrap.sh installs it (Debian's prometheus package)")
    return subprocess.run([found, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def test_rules_pass_promtool_check_and_their_unit_tests():
    checked = promtool("check", "rules", RULES.name)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 6 rules found" in checked.stdout
    tested = promtool("test", "rules", RULES_TEST.name)
    assert tested.returncode == 0, tested.stdout + tested.stderr


@pytest.mark.parametrize(
    "bound, moved",
    [
        ("hubharness_watch_consecutive_failures >= 3", "hubharness_watch_consecutive_failures >= 4"),
        ("> 60\n", "> 90\n"),
        ("> 1800)\n", "> 2400)\n"),
        ("for: 10m", "for: 20m"),
        ("< 14 * 86400", "< 7 * 86400"),
    ],
    ids=["in-a-row", "p95", "no-success", "health", "certificate"],
)
def test_rule_tests_fail_when_a_bound_moves(tmp_path, bound, moved):
    """A rule test that passes whatever the rule says proves nothing."""
    rules = RULES.read_text()
    assert bound in rules
    (tmp_path / RULES.name).write_text(rules.replace(bound, moved, 1))
    shutil.copy(RULES_TEST, tmp_path / RULES_TEST.name)
    tested = promtool("test", "rules", RULES_TEST.name, cwd=tmp_path)
    assert tested.returncode != 0, f"the rules' tests pass with {moved!r} for {bound!r}"


def test_kubernetes_manifest_runs_watch_behind_a_scraped_service():
    import kubernetes_validate

    docs = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    for doc in docs:
        kubernetes_validate.validate(doc, KUBE_SCHEMA_VERSION, strict=True)
    kinds = {d["kind"]: d for d in docs}
    deployment, service = kinds["Deployment"], kinds["Service"]
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    args = container["args"]
    port = int(args[args.index("--metrics-port") + 1])
    assert args[args.index("--metrics-addr") + 1] == "0.0.0.0"
    assert [p["containerPort"] for p in container["ports"]] == [port]
    assert service["spec"]["selector"] == pod["metadata"]["labels"]
    assert [p["targetPort"] for p in service["spec"]["ports"]] == [port]
    annotations = service["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/port"] == str(port)
    from_secrets = [e["valueFrom"]["secretKeyRef"] for e in container.get("env", []) if "valueFrom" in e]
    mounted = [v["secret"]["secretName"] for v in pod["spec"].get("volumes", []) if "secret" in v]
    assert from_secrets or mounted, "the credential does not come from a Secret"
    assert "JUPYTERHUB_AUTH_PASSWORD" not in MANIFEST.read_text().replace("key: JUPYTERHUB_AUTH_PASSWORD", "")


def test_watch_on_a_cluster_takes_its_journey_through_the_port_forward(hub_cluster):  # noqa: F811
    """On a kube context (the emulated cluster: a real hub behind its API server) watch
    reaches proxy-public as verify does and leaves no server of its user running."""
    done = run_invoke("deploy", "--context", "emulated", "--namespace", "watchk", timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    port = free_port()
    ran = run_invoke(
        "watch", "--context", "emulated", "--namespace", "watchk", "--every", "5s", "--for", "3s",
        "--metrics-port", str(port), timeout=300,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert " light ok in " in ran.stdout and "1 journey(s) as hubharness-watch, 0 failed" in ran.stdout, ran.stdout
    deployment = target_for("emulated", "watchk").deployment()
    try:
        watcher = HubAPI(deployment.public_url, deployment.service_token()).user(USER)
        assert watcher is not None and not watcher["servers"], watcher
    finally:
        deployment.close()
