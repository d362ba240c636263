"""The report for people: report.html answers which deployment was checked, what failed
and why, on its first screen; index.html lists the runs with a trend; `invoke report`
draws both again from the runs' summary.json; both load offline in a real Chromium.

The pages are drawn from two recorded runs (tests/report_runs.py), not a deployment:
a real verify run's pages are covered by test_lifecycle and test_faults."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from hubharness import report_page

from .helpers import open_page, run_invoke
from .report_runs import DEPLOYMENT, FAILURE, SKIP, TIMEOUT, summary, write_run, write_runs


class Resources(HTMLParser):
    """Every URL a page would load by itself (not the links a reader may follow)."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "embed") and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def loads(page: str) -> list[str]:
    parser = Resources()
    parser.feed(page)
    return parser.urls + re.findall(r"url\(([^)]*)\)|@import", page)


def test_a_failed_run_names_the_deployment_then_its_failures_first():
    page = report_page.render_report(summary(failed=True))
    facts = ("nightly", "http://127.0.0.1:41234", "4.4.0", "5.5.0", "spark-3.5.3", "values/base.yaml", "a3f1a3f1")
    for fact in (*facts, "<b>authenticator</b> jupyterhub.auth.DummyAuthenticator"):
        assert fact in page, fact
    header, _, rest = page.partition('id="failures"')
    run = summary(failed=True)["counts"]
    assert f"verify FAILED: 1 failed, 1 timed out, {run['passed']} passed, 4 skipped" in header
    # failures (failed before timeout), then skips, then the checklist, then the timeline
    order = [rest.find(s) for s in (FAILURE, html.escape(TIMEOUT), 'id="skips"', 'id="checklist"', 'id="timeline"')]
    assert -1 not in order and order == sorted(order), order
    assert "invoke verify --context local --namespace nightly --check RDY.hub_health_answers_through_the_proxy" in rest
    assert "/hub/health answers 200 through proxy-public" in rest  # the check named in words
    assert SKIP in rest


def test_the_header_says_how_sec_went_and_what_the_scrub_of_the_report_found():
    """An auditor's question, "was the password ever exposed", answered on top."""
    passed = report_page.render_report(summary(False)).partition('id="failures"')[0]
    assert "SEC checks: 12 passed, 0 failed; every file of this report was searched for" in passed
    assert "2 secret value(s): none found" in passed
    failed = report_page.render_report(summary(True)).partition('id="failures"')[0]
    assert "found in 1 file(s) and replaced by ***: diagnostics/SPK.server_spawns_through_the_hub/hub.log" in failed


def test_a_check_id_with_brackets_is_quoted_in_its_command():
    command = report_page.rerun_command(summary(True), "SEC.no_fallback_password_logs_in[admin]")
    assert command.endswith("--check 'SEC.no_fallback_password_logs_in[admin]'")


def test_diagnostics_are_inline_escaped_and_their_tail_only(tmp_path):
    run = write_run(tmp_path, "20261127T040000Z-local", summary(True))
    page = report_page.render_report(summary(True), report_page.read_diagnostics(run))
    assert "&lt;Proxy&gt; answered 503 &amp; gave up" in page and "<Proxy>" not in page
    assert "line 259" in page and "line 10\n" not in page
    assert "61 earlier in the file" in page


def test_whatever_a_run_recorded_is_escaped():
    data = summary(True)
    data["checks"][0]["message"] = "<script>alert(1)</script>"
    data["deployment"] = {**DEPLOYMENT, "namespace": "<b>ns</b>", "public_url": 'http://x/"><script>'}
    page = report_page.render_report(data)
    assert "<script>" not in page and "&lt;script&gt;alert(1)" in page and "&lt;b&gt;ns" in page
    data["deployment"]["public_url"] = "javascript:alert(1)"
    assert 'href="javascript' not in report_page.render_report(data)


def test_a_summary_from_before_the_new_keys_still_renders():
    old = summary(True)
    for key in ("outcome", "deployment", "background"):
        del old[key]
    for record in old["checks"]:
        del record["start"], record["stop"]
    page = report_page.render_report(old)
    assert "verify FAILED" in page and "nightly" in page and "no check timings" in page
    assert "nightly" in report_page.render_index([("old", old)])


def test_the_timeline_draws_every_check_and_the_background_work():
    svg = report_page.timeline_svg(summary(False))
    assert svg.count("<rect") == len(summary(False)["checks"]) + 4
    assert "spawn (background)" in svg and "scratch (background)" in svg


def test_the_pages_load_nothing_from_anywhere(tmp_path):
    write_runs(tmp_path)
    pages = [report_page.write_report(tmp_path / name) for name, _ in report_page.runs_in(tmp_path)]
    pages.append(report_page.write_index(tmp_path))
    for page in pages:
        assert loads(page.read_text()) == [], page


def test_the_index_lists_runs_newest_first_with_the_trend(tmp_path):
    passed, failed = write_runs(tmp_path)
    (tmp_path / "latest").symlink_to(failed.name)
    (tmp_path / "not-a-run").mkdir()
    page = report_page.write_index(tmp_path).read_text()
    assert page.find(f"{failed.name}/report.html") < page.find(f"{passed.name}/report.html")
    assert page.count('<tr class="') == 2  # the symlink and a folder without summary.json are not runs
    assert 'aria-label="trend of verify duration and failures"' in page
    assert "the latest failed" in page


def test_invoke_report_draws_both_pages_again_and_keeps_pytest_htmls(tmp_path):
    passed, failed = write_runs(tmp_path)
    (failed / "report.html").write_text("<html>pytest-html's page</html>")
    ran = run_invoke("report", "--dir", str(tmp_path), timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert str(failed / "report.html") in ran.stdout and str(tmp_path / "index.html") in ran.stdout
    assert "pytest-html" in (failed / "pytest.html").read_text()
    assert "verify FAILED" in (failed / "report.html").read_text()
    assert "verify PASSED" in (passed / "report.html").read_text()
    again = run_invoke("report", "--dir", str(tmp_path / "nowhere"), timeout=60)
    assert again.returncode == 2 and "no verify run in" in again.stderr


# -- in a real browser (the chromium fixture is in conftest.py) ---------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    passed, failed = write_runs(root)
    for run in (passed, failed):
        report_page.write_report(run)
    report_page.write_index(root)
    return root, passed, failed


@pytest.mark.parametrize("which", ["failed", "passed"])
def test_chromium_shows_the_report_offline_with_the_deployment_on_the_first_screen(chromium, runs, which):
    from selenium.webdriver.common.by import By

    _, passed, failed = runs
    run = failed if which == "failed" else passed
    console, network, by_page = open_page(chromium, run / "report.html")
    assert console == [] and network == [], (console, network)
    assert by_page and all(url.startswith("file:") for url in by_page), by_page
    screen = chromium.execute_script("return window.innerHeight")
    header = chromium.find_element(By.CSS_SELECTOR, "header.run")
    assert header.is_displayed() and f"verify {which.upper()}" in header.text
    facts = chromium.find_element(By.ID, "deployment")
    assert facts.rect["y"] + facts.rect["height"] <= screen, "the deployment is not on the first screen"
    assert "nightly" in facts.text and "http://127.0.0.1:41234" in facts.text and "4.4.0" in facts.text
    assert chromium.find_element(By.ID, "checklist").is_displayed()
    if which == "failed":
        first = chromium.find_element(By.CSS_SELECTOR, "#failures article")
        assert first.rect["y"] < screen, "the first failure is below the first screen"
        assert "RDY.hub_health_answers_through_the_proxy" in first.text and "503" in first.text
    else:
        assert not chromium.find_elements(By.ID, "failures")
    assert chromium.save_screenshot(str(run / "report.png"))


def test_chromium_shows_the_index_offline_with_runs_and_trend(chromium, runs):
    from selenium.webdriver.common.by import By

    root, _, _ = runs
    console, network, by_page = open_page(chromium, root / "index.html")
    assert console == [] and network == [], (console, network)
    assert by_page and all(url.startswith("file:") for url in by_page), by_page
    rows = chromium.find_elements(By.CSS_SELECTOR, "#runs tr.failed, #runs tr.passed")
    assert [r.get_attribute("class") for r in rows] == ["failed", "passed"]
    trend = chromium.find_element(By.CSS_SELECTOR, "#trend svg")
    assert trend.is_displayed() and trend.size["height"] > 50
    assert chromium.save_screenshot(str(root / "index.png"))
    # the run's link leads to its report
    rows[0].find_element(By.TAG_NAME, "a").click()
    assert "verify FAILED" in chromium.title


def test_a_check_run_on_a_scratch_namespace_shows_its_logs_under_its_failure():
    run = summary(failed=True)
    res = next(c for c in run["checks"] if c["id"].startswith("RES."))
    res["outcome"], res["message"] = "failed", "the hub did not come back within 60s"
    scratch_log = report_page.Diagnostic("hub.log.tail", "[E] the scratch hub could not start", 0)
    page = report_page.render_report(run, {"RES-scratch": [scratch_log]})
    card = page.partition(f'id="{res["id"]}"')[2].partition("</article>")[0]
    assert "the scratch hub could not start" in card and "diagnostics/RES-scratch/hub.log.tail" in card


def test_the_day_two_figures_show_each_home_against_its_capacity_and_memory_against_its_limit():
    ops = {
        "homes": [
            {
                "user": "verify-alice",
                "used_bytes": 2 * 2**20,
                "capacity_bytes": 2**20,
                "percent": 200.0,
                "where": "/h/a",
            }
        ],
        "max_home_percent": 90.0,
        "resources": {
            "source": "processes",
            "components": {
                "hub": {
                    "memory_bytes": 100 * 2**20,
                    "memory_limit_bytes": 2**30,
                    "cpu_seconds": 1.5,
                    "cpu_cores": None,
                },
                "server:<b>x</b>": {
                    "memory_bytes": 2**27,
                    "memory_limit_bytes": None,
                    "cpu_seconds": None,
                    "cpu_cores": 0.25,
                },
            },
        },
    }
    page = report_page.render_report({**summary(failed=False), "ops": ops})
    section = page[page.index('id="ops"') : page.index('id="timeline"')]
    for shown in (
        "verify-alice",
        "2.0 MiB",
        "1.0 MiB",
        "200.0 %",
        "above 90.0 %",
        "100.0 MiB",
        "1,024.0 MiB",
        "1.5 s used",
    ):
        assert shown in section, shown
    assert "0.250 cores" in section and "&lt;b&gt;x&lt;/b&gt;" in section  # escaped, as every recorded text
    unread = {
        **ops,
        "resources": {"source": "metrics API (metrics.k8s.io)", "error": "not available: the metrics API answered 404"},
    }
    assert "the metrics API answered 404" in report_page.render_report({**summary(failed=False), "ops": unread})
    assert 'id="ops"' not in report_page.render_report(summary(failed=False))  # a run without OPS
