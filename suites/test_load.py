"""LOAD: a small load (5 users unless the values' custom.hubharness.load say otherwise)
goes through the whole journey a person takes, within its thresholds. Nightly CI sees a
regression here; `invoke load` is for the big runs. load.json and load.html go into the
run's report folder."""

from pathlib import Path

import pytest

from hubharness.load import figures, journey, page
from hubharness.load.hub import options

pytestmark = pytest.mark.check("LOAD")


@pytest.fixture(scope="session")
def load_report(request, deployment) -> dict:
    chosen = options(deployment.values, "verify-load-")
    report = {"context": deployment.context, "namespace": deployment.namespace}
    report |= journey.run(deployment.load_hub(), chosen)
    report_dir = request.config.getoption("report_dir")
    if report_dir:
        page.write(Path(report_dir), report)  # verify redacts the folder afterwards
    return report


def threshold(report: dict, name: str) -> dict:
    return next(t for t in report["thresholds"] if t["name"] == name)


def first_failures(report: dict, n: int = 3) -> str:
    failed = [(u["name"], p) for u in report["users"] for p in u["phases"] if p["cause"]]
    return "; ".join(f"{name} {p['phase']}: {p['cause']} ({p['detail'][:150]})" for name, p in failed[:n])


def test_users_complete_the_journey(load_report):
    t = threshold(load_report, figures.MAX_FAILURES)
    assert not t["crossed"], (
        f"threshold {t['name']} crossed: {t['says']}; by cause {load_report['failures']}; {first_failures(load_report)}"
    )
    assert load_report["completed"] == len(load_report["users"]) - load_report["failed"]


def test_p95_spawn_within_bound(load_report):
    t = threshold(load_report, figures.MAX_P95_SPAWN)
    spawn = load_report["phases"]["spawn"]
    assert not t["crossed"], f"threshold {t['name']} crossed: {t['says']} (spawn figures {spawn})"
