"""The journeys as Prometheus metrics, on their own registry and HTTP endpoint.

Names follow Prometheus' conventions (base units, `_total` counters, `_seconds`).
Labels take only fixed values (an outcome, a phase, a reason): never a user name, an
address or an error text, so the series stay few and the scrape carries no secret.
Every labelled series exists from the start at zero, so rates and alerts see the first
failure as a change.
"""

from __future__ import annotations

import math
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    start_http_server,
)

from ..errors import HarnessError
from .journey import OUTCOMES, PHASES, Record

PREFIX = "hubharness_watch"
# seconds: from a health check's milliseconds to a Spark job's minutes on a small machine
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 90, 120, 180, 240, 300)
REASONS = ("error", "timeout")  # why a phase failed: a timeout is not a generic failure


class Metrics:
    def __init__(self, journey_phases: tuple[str, ...] = PHASES):
        disable_created_metrics()  # a `_created` series beside each one doubles the scrape for nothing here
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total: what watch itself costs
        r = self.registry
        self.journeys = Counter(f"{PREFIX}_journeys", "Journeys run, by outcome.", ["outcome"], registry=r)
        self.failures = Counter(
            f"{PREFIX}_phase_failures",
            "Phases that did not get through, by phase and reason (error or timeout).",
            ["phase", "reason"],
            registry=r,
        )
        self.durations = Histogram(
            f"{PREFIX}_phase_duration_seconds",
            "How long each phase that got through took.",
            ["phase"],
            buckets=BUCKETS,
            registry=r,
        )
        self.last_success = Gauge(
            f"{PREFIX}_last_success_timestamp_seconds",
            "When the last successful journey ended (Unix time).",
            registry=r,
        )
        self.last_journey = Gauge(
            f"{PREFIX}_last_journey_timestamp_seconds", "When the last journey ended, whatever its outcome.", registry=r
        )
        self.consecutive = Gauge(
            f"{PREFIX}_consecutive_failures", "Journeys failed in a row since the last success.", registry=r
        )
        self.healthy = Gauge(
            f"{PREFIX}_hub_healthy", "1 if the hub answered /hub/health in the last journey, else 0.", registry=r
        )
        self.healthy.set(math.nan)  # not asked yet: neither up nor down
        self.interval = Gauge(
            f"{PREFIX}_interval_seconds", "The schedule: seconds from one journey to the next.", registry=r
        )
        for outcome in OUTCOMES:
            self.journeys.labels(outcome)
        for phase in journey_phases:
            self.durations.labels(phase)
            for reason in REASONS:
                self.failures.labels(phase, reason)
        self.tls: Gauge | None = None  # made when a journey first reads a certificate (an https hub)
        self.server: WSGIServer | None = None

    def record(self, record: Record) -> None:
        self.journeys.labels(record.outcome).inc()
        for phase in record.phases:
            if phase.outcome == "ok":
                self.durations.labels(phase.phase).observe(phase.seconds)
            elif phase.outcome in ("failed", "timeout"):
                self.failures.labels(phase.phase, "timeout" if phase.outcome == "timeout" else "error").inc()
        if record.hub_healthy is not None:
            self.healthy.set(1 if record.hub_healthy else 0)
        if record.tls_not_after is not None:
            if self.tls is None:
                self.tls = Gauge(
                    f"{PREFIX}_tls_not_after_timestamp_seconds",
                    "When the certificate of the hub's https address expires (Unix time).",
                    registry=self.registry,
                )
            self.tls.set(record.tls_not_after)
        self.last_journey.set(record.finished)
        if record.outcome == "success":
            self.last_success.set(record.finished)
            self.consecutive.set(0)
        elif record.outcome != "interrupted":
            self.consecutive.inc()

    def serve(self, address: str, port: int) -> int:
        """Start the /metrics endpoint on a thread of its own; the port it listens on."""
        try:
            self.server, _ = start_http_server(port, addr=address, registry=self.registry)
        except OSError as e:
            raise HarnessError(
                f"--metrics-port {port} on {address} cannot be listened on ({e.strerror or e}): "
                "give a free port, or 0 for any"
            ) from None
        return self.server.server_port

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
