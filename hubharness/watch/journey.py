"""One synthetic user's journey through a hub, as a person takes it: the hub answers its
health check (on https, its certificate's end is read too), the user logs in through the form, starts a server, runs a cell in a
kernel over the proxy (with `spark`: a small Spark job, built as a notebook builds its
SparkSession) and stops the server.

Every phase is timed and bounded; the first that does not get through ends the journey,
and a server it asked for is stopped all the same (as the harness's admin if the user
cannot), so a journey never leaves one running. A stop asked for from outside (SIGTERM)
ends the phase under way at its next poll; the stop phase itself always runs.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
import requests.utils

from ..errors import HarnessError, WaitTimeout
from ..hubapi import TIMEOUT, HubAPI, UserSession
from ..kernel import Kernel
from ..load.hub import Hub
from ..waiting import wait_until

USER = "hubharness-watch"  # the synthetic user: one name, whatever the schedule
JOURNEYS = {
    "light": ("health", "login", "spawn", "kernel", "stop"),
    "spark": ("health", "login", "spawn", "kernel", "spark", "stop"),
}
PHASES = JOURNEYS["spark"]
# seconds each phase may take; spawn takes the deployment's own bound (Deployment.spawn_timeout)
TIMEOUTS = {"health": 10.0, "login": 30.0, "kernel": 60.0, "spark": 240.0, "stop": 60.0}
OUTCOMES = ("success", "failure", "timeout", "interrupted")  # of a journey
POLL = 0.5  # seconds between looks at a running cell, so that a stop is seen

KERNEL_CELL = ("print(sum(range(1, 1001)))", "500500")
# As a notebook runs Spark: getOrCreate() with the deployment's own settings (its master,
# PYSPARK_SUBMIT_ARGS, spark-defaults.conf), stopped when done so no executor outlives it.
SPARK_CELL = (
    (
        "from pyspark.sql import SparkSession\n"
        "spark = SparkSession.builder.appName('hubharness-watch')"
        ".config('spark.ui.enabled', 'false').config('spark.sql.shuffle.partitions', '1').getOrCreate()\n"
        "print(spark.range(1, 1001).selectExpr('sum(id)').first()[0])\n"
        "spark.stop()"
    ),
    "500500",
)


def certificate_not_after(url: str, timeout: float) -> float | None:
    """When the certificate the hub's https address presents expires (Unix time), checked
    against the CAs requests trusts; None for plain http."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return None
    trusted = (
        os.environ.get("REQUESTS_CA_BUNDLE")
        or os.environ.get("CURL_CA_BUNDLE")
        or requests.utils.DEFAULT_CA_BUNDLE_PATH
    )
    context = ssl.create_default_context(cafile=trusted)
    address = (parts.hostname, parts.port or 443)
    with (
        socket.create_connection(address, timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=parts.hostname) as tls,
    ):
        cert = tls.getpeercert()
    return float(ssl.cert_time_to_seconds(str(cert["notAfter"]))) if cert else None


class Interrupted(Exception):
    """A stop was asked for while a phase ran."""


class _Ended(Exception):
    """A phase did not get through: the journey goes on to its cleanup."""


@dataclass
class PhaseResult:
    phase: str
    seconds: float
    outcome: str  # ok | failed | timeout | interrupted
    error: str = ""


@dataclass
class Record:
    """One journey, as the terminal line, the history and the metrics take it."""

    journey: str
    started: str  # UTC, ISO 8601
    finished: float = 0.0  # Unix time
    seconds: float = 0.0
    hub_healthy: bool | None = None  # None: the health check did not run
    tls_not_after: float | None = None  # the hub's certificate's end (Unix time), where it has one
    phases: list[PhaseResult] = field(default_factory=list)

    @property
    def failed(self) -> PhaseResult | None:
        """The first phase that did not get through: it decides the journey's outcome."""
        return next((p for p in self.phases if p.outcome != "ok"), None)

    @property
    def outcome(self) -> str:
        failed = self.failed
        if failed is None:
            return "success"
        return {"failed": "failure"}.get(failed.outcome, failed.outcome)

    def to_json(self) -> dict:
        failed = self.failed
        return {
            **asdict(self),
            "outcome": self.outcome,
            "failed_phase": failed.phase if failed else None,
        }


class Journey:
    """One run of the synthetic user through `hub` (what a load needs of a deployment:
    its public URL, the password, the harness's admin token, the spawn bound)."""

    def __init__(self, hub: Hub, kind: str, stopping: threading.Event, user: str = USER):
        self.hub, self.kind, self.stopping, self.user = hub, kind, stopping, user
        self.url = hub.public_url.rstrip("/")
        self.note = f"hubharness watch {uuid.uuid4().hex[:12]}"  # this journey's token, found again to revoke it
        self.api: HubAPI | None = None
        self.kernel: Kernel | None = None
        self.server_url = ""
        self.spawn_asked = False
        self.tls_not_after: float | None = None

    def timeout(self, phase: str) -> float:
        if phase == "spawn" or (phase == "stop" and self.spawn_asked and not self.server_url):
            # a spawn ended before the server was ready may go on until the hub gives up on it
            return self.hub.spawn_timeout + (TIMEOUTS["stop"] if phase == "stop" else 0)
        return TIMEOUTS[phase]

    def run(self) -> Record:
        record = Record(self.kind, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        started = time.monotonic()
        steps: dict[str, Callable[[float], None]] = {
            "health": self._health,
            "login": self._login,
            "spawn": self._spawn,
            "kernel": self._kernel,
            "spark": self._spark,
        }
        try:
            for phase in JOURNEYS[self.kind][:-1]:
                self._phase(record, phase, steps[phase])
        except _Ended:
            pass
        finally:
            self._clean_up(record)
        record.seconds = round(time.monotonic() - started, 3)
        record.finished = time.time()
        record.tls_not_after = self.tls_not_after
        return record

    def _phase(self, record: Record, phase: str, step: Callable[[float], None], interruptible: bool = True) -> None:
        if interruptible and self.stopping.is_set():
            record.phases.append(PhaseResult(phase, 0.0, "interrupted", "a stop was asked for before it began"))
            raise _Ended
        bound = self.timeout(phase)
        started = time.monotonic()
        outcome, error = "ok", ""
        try:
            step(started + bound)
        except Interrupted:
            outcome, error = "interrupted", "a stop was asked for while it ran"
        except WaitTimeout as e:
            outcome, error = "timeout", str(e)
        except requests.Timeout as e:  # the hub took one request's whole bound: slow, not broken
            outcome, error = "timeout", f"{type(e).__name__}: {e}"
        except HarnessError as e:
            outcome, error = "failed", str(e)
        except Exception as e:  # noqa: BLE001 — a refused connection, a broken socket, an unreadable answer: this phase failed
            outcome, error = "failed", f"{type(e).__name__}: {e}"
        seconds = time.monotonic() - started
        if outcome == "ok" and seconds > bound:
            outcome, error = "timeout", f"took {seconds:.1f}s, bound {bound:g}s"
        if phase == "health":
            record.hub_healthy = outcome == "ok"
        record.phases.append(PhaseResult(phase, round(seconds, 3), outcome, error[:300]))
        if outcome != "ok":
            raise _Ended

    def _left(self, deadline: float) -> float:
        return max(0.1, deadline - time.monotonic())

    def _check_stopping(self) -> None:
        if self.stopping.is_set():
            raise Interrupted

    # ---- the phases ----------------------------------------------------------------
    def _health(self, deadline: float) -> None:
        answer = requests.get(f"{self.url}/hub/health", timeout=min(TIMEOUT, self._left(deadline)))
        if answer.status_code != 200:
            raise HarnessError(f"/hub/health answered {answer.status_code}")
        try:  # a figure beside the health check, not part of it (a proxy may stand in the way)
            self.tls_not_after = certificate_not_after(self.url, min(TIMEOUT, self._left(deadline)))
        except (OSError, ValueError):
            self.tls_not_after = None

    def _login(self, deadline: float) -> None:
        # made beforehand as the harness's admin, so a hub that lists its allowed users lets it in
        HubAPI(self.url, self.hub.admin_token).ensure_user(self.user)
        session = UserSession(self.url, self.user, self.hub.password)
        self.api = HubAPI(self.url, session.create_token(note=self.note))

    def _spawn(self, deadline: float) -> None:
        assert self.api is not None
        self.spawn_asked = True
        self.api.start_server(self.user)
        server = self.api.wait_server_ready(self.user, self._left(deadline), fail_fast=self._check_stopping)
        self.server_url = f"{self.url}{server['url']}"

    def _kernel(self, deadline: float) -> None:
        assert self.api is not None
        self.kernel = Kernel(self.server_url, self.api.token).start()
        self._cell(*KERNEL_CELL, deadline)

    def _spark(self, deadline: float) -> None:
        self._cell(*SPARK_CELL, deadline)

    def _cell(self, code: str, answer: str, deadline: float) -> None:
        assert self.kernel is not None
        future = self.kernel.submit(code)
        asked = time.monotonic()
        while True:
            try:
                done = future.result(timeout=min(POLL, self._left(deadline)))
                break
            except FutureTimeout:
                self._check_stopping()
                if time.monotonic() >= deadline:
                    waited = time.monotonic() - asked
                    raise WaitTimeout(f"timed out after {waited:.0f}s waiting for the kernel to run the cell") from None
        if done.error:
            raise HarnessError(f"cell failed with {done.error}")
        printed = [line.strip() for line in done.stdout.splitlines() if line.strip()]
        if not printed or printed[-1] != answer:
            raise HarnessError(f"wrong answer: expected {answer}, the cell printed {done.stdout[-200:]!r}")

    def _stop(self, deadline: float) -> None:
        """Ask for the stop until the server is gone: a spawn still pending (a journey
        ended during its spawn) cannot be stopped before it is done, the hub says 400."""
        api = self.api
        assert api is not None

        def gone() -> bool:
            server = api.server(self.user)
            if server is None:
                return True
            if not server.get("pending"):
                api.stop_server(self.user)
            return False

        wait_until(f"{self.user}'s server to stop", gone, self._left(deadline))

    # ---- whatever happened -------------------------------------------------------------
    def _clean_up(self, record: Record) -> None:
        """Shut the kernel down, stop the server the journey asked for (timed, as the
        journey's last phase), and revoke the journey's token."""
        if self.kernel is not None:
            self.kernel.shutdown()
        if self.spawn_asked:
            try:
                self._phase(record, "stop", self._stop, interruptible=False)
            except _Ended:
                self._stop_as_admin()
        self._revoke()

    def _stop_as_admin(self) -> None:
        """The user could not stop its server: the harness's admin token stops it."""
        admin = HubAPI(self.url, self.hub.admin_token)
        try:
            admin.stop_server(self.user)
            admin.wait_server_stopped(self.user, TIMEOUTS["stop"])
        except (HarnessError, requests.RequestException):
            pass  # the hub is gone: the next journey's stop, or remove, stops what is left

    def _revoke(self) -> None:
        if self.api is None:
            return
        try:
            answer = self.api.request("GET", f"/users/{self.user}/tokens")
            tokens = answer.json().get("api_tokens", []) if answer.status_code == 200 else []
            for token in tokens:
                if token.get("note") == self.note:
                    self.api.request("DELETE", f"/users/{self.user}/tokens/{token['id']}")
        except (requests.RequestException, ValueError):
            pass  # it expires within the hour on its own
