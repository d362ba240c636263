"""The load's figures, thresholds and page. tests/data/load-small.json is the load.json
of a real `invoke verify --check LOAD` (5 users on a local deployment); the page drawn
from it is opened in a real headless Chromium. The load against a live hub, and its
faults, are proven by `invoke selftest` (tests/test_selftest.py)."""

from __future__ import annotations

import copy
import json
import re

import pytest

from hubharness.commands import load_lines
from hubharness.load import figures, page
from hubharness.load.hub import options

from .helpers import PROJECT_ROOT

SMALL = json.loads((PROJECT_ROOT / "tests" / "data" / "load-small.json").read_text())


def with_a_failed_spawn(report: dict) -> dict:
    """The small run as it would be had its last user's spawn failed."""
    broken = copy.deepcopy(report)
    user = broken["users"][-1]
    spawn = next(p for p in user["phases"] if p["phase"] == "spawn")
    spawn.update(cause="spawn failed", detail="fault: every third spawn fails")
    user["phases"] = user["phases"][: user["phases"].index(spawn) + 1]
    user["failure"] = "spawn failed"
    broken["phases"] = figures.phase_figures(broken["users"])
    broken["failures"] = figures.failures_by_cause(broken["users"])
    broken["failed"] = sum(broken["failures"].values())
    broken["completed"] = len(broken["users"]) - broken["failed"]
    broken["thresholds"] = figures.thresholds(broken["phases"], broken["failed"], 0, 60)
    return broken


def test_percentiles_interpolate_between_ranks():
    assert figures.percentile([], 95) is None
    assert figures.percentile([3.0], 95) == 3.0
    assert figures.percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert figures.percentile([float(n) for n in range(1, 21)], 95) == pytest.approx(19.05)


def test_a_failed_user_is_counted_by_cause_and_crosses_max_failures():
    broken = with_a_failed_spawn(SMALL)
    assert broken["phases"]["spawn"]["failures"] == {"spawn failed": 1}
    assert broken["phases"]["stop"]["count"] == len(SMALL["users"]) - 1
    crossed = figures.crossed(broken)
    assert [t["name"] for t in crossed] == [figures.MAX_FAILURES]
    assert "threshold max-failures CROSSED: 1 user(s) failed, at most 0 allowed" in load_lines(broken)[-2]


def test_p95_spawn_crosses_its_bound_when_slower_or_unknown():
    spawn = SMALL["phases"]["spawn"]
    assert not figures.thresholds(SMALL["phases"], 0, 0, spawn["p95"] + 1)[1]["crossed"]
    assert figures.thresholds(SMALL["phases"], 0, 0, spawn["p95"] - 1)[1]["crossed"]
    nothing = {**SMALL["phases"], "spawn": {**spawn, "p95": None}}
    assert figures.thresholds(nothing, 0, 0, 60)[1]["crossed"]


def test_options_come_from_the_command_line_then_the_values_then_defaults():
    values = {"custom": {"hubharness": {"load": {"users": 7, "maxP95Spawn": 30}}}}
    chosen = options(values, "load-", users=None, max_failures=2)
    assert (chosen.users, chosen.max_p95_spawn, chosen.max_failures, chosen.hold) == (7, 30.0, 2, 2.0)
    assert options({}, "load-", users=50).users == 50
    assert options({}, "load-").users == 5


def test_users_start_three_seconds_apart_unless_a_ramp_is_given():
    assert options({}, "load-", users=20).ramp == 60.0
    assert options({}, "load-").ramp == 15.0
    assert options({}, "load-", users=20, ramp=5).ramp == 5.0
    assert options({"custom": {"hubharness": {"load": {"ramp": 0}}}}, "load-", users=20).ramp == 0.0


def test_spark_figures_are_what_each_users_cell_printed_of_spark():
    printed = [
        json.dumps({"master": "spark://spark-master:7077", "session": 4.5, "queued": q, "job": 1.25}) for q in (0.1, 9)
    ]
    users = [{"spark": figures.spark_seen(line)} for line in printed] + [{"spark": None}]
    assert figures.spark_seen("500500") is None and figures.spark_seen('{"master": "local[*]"}') is None
    seen = figures.spark_figures(users)
    assert seen["users"] == 2 and seen["masters"] == ["spark://spark-master:7077"]
    assert seen["times"]["queued"] == {"p50": 4.55, "p95": 8.555, "max": 9.0}
    lines = load_lines({**SMALL, "spark": seen})
    assert "  Spark of 2 user(s), on spark://spark-master:7077:" in lines
    assert any(
        line.split()[:4] == ["wait", "for", "an", "executor"] and line.split()[4:] == ["4.55", "8.55", "9.00"]
        for line in lines
    )


def test_page_loads_in_a_browser_with_its_plots_no_request_and_no_console_error(chromium, tmp_path):
    _, html_file = page.write(tmp_path, with_a_failed_spawn(SMALL))
    text = html_file.read_text()
    loaders = re.findall(r"<script|<link|<img|<iframe|@import|url\((?!#)|href=\"(?!#)", text)
    assert loaders == [], f"the page loads something: {loaders}"  # url(#id), href="#id": in the page
    chromium.get(html_file.as_uri())
    assert "4/5 users" in chromium.title and "max-failures" in chromium.title
    sizes = chromium.execute_script(
        "return ['timeline', 'histograms', 'resource-plot'].map(id => {"
        " const svg = document.querySelector('#' + id + ' svg');"
        " if (!svg) return null; const box = svg.getBoundingClientRect();"
        " return [box.width, box.height, svg.querySelectorAll('path, rect, use').length]; })"
    )
    for name, size in zip(("timeline", "histograms", "resource-plot"), sizes, strict=True):
        assert size is not None, f"no {name} plot on the page"
        width, height, marks = size
        assert width > 200 and height > 100 and marks > 10, f"{name} plot drawn empty: {size}"
    assert chromium.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert "CROSSED" in chromium.find_element("id", "thresholds").text
    errors = [entry for entry in chromium.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], errors
