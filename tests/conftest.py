"""Fixtures for the project's own tests: real deployments on 127.0.0.1, random ports.

Every deployment lives in a temporary HUBHARNESS_HOME, so tests never touch a
user's .hubharness/ or reports/ (but a failed emulated selftest's reports, copied to
reports/kept-by-tests/), and every one is purged at the end. The helpers they
use are in helpers.py.
"""

from __future__ import annotations

import json
import os
import sys
import warnings

import pytest
import yaml

from fixtures.browser import headless_chromium
from hubharness.chart_package import REPO_ENV
from hubharness.procs import free_port, processes_under, stop_all

from .helpers import HELM, Harness
from .kube_emulator import KubeEmulator

# No test fetches the chart's schema from the internet: where one unsets
# HUBHARNESS_VALUES_SCHEMA, the chart repository is a local port nothing listens on.
os.environ.setdefault(REPO_ENV, f"http://127.0.0.1:{free_port()}/")

# the two longest files: the local selftest (over half the run on its own), then the
# emulated cluster's
LONGEST_FIRST = ("tests/test_selftest.py", "tests/test_kube_selftest.py")


def pytest_collection_modifyitems(items):
    """The longest files first. Under xdist (README's command) --no-loadscope-reorder keeps
    this order: each of the two selftests' files starts a worker, and the rest is shared
    after them. xdist's own order (most tests first) started the selftest a third into
    the run, and the run took its length on top of that."""
    items.sort(key=lambda item: next((i for i, f in enumerate(LONGEST_FIRST) if item.nodeid.startswith(f)), 2))


@pytest.fixture
def harness(tmp_path):
    h = Harness(tmp_path / "home", tmp_path / "reports")
    yield h
    h.purge_all()


@pytest.fixture(scope="module")
def module_harness(tmp_path_factory):
    base = tmp_path_factory.mktemp("harness")
    h = Harness(base / "home", base / "reports")
    yield h
    h.purge_all()


@pytest.fixture(scope="session", autouse=True)
def no_process_outlives_the_tests(tmp_path_factory):
    """Every deployment is purged by its fixture; anything still running from our temp
    folders afterwards is a leak: stop it and say so (in the -rw summary)."""
    yield
    base = tmp_path_factory.getbasetemp()
    leaked = processes_under(base)
    if leaked:
        names = ", ".join(f"{p.pid} {p.name()}" for p in leaked[:10])
        stop_all(leaked)
        warnings.warn(f"processes outlived the tests and were stopped: {names}")


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    """An emulated API server (a test tool, see kube_emulator.py) as kube context
    `emulated`, and a recording helm on PATH; the harness's home and reports in tmp."""
    with KubeEmulator() as emulator:
        config = tmp_path / "kubeconfig"
        config.write_text(yaml.safe_dump(emulator.kubeconfig()))
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        helm = bin_dir / "helm"
        helm.write_text(HELM.format(python=sys.executable))
        helm.chmod(0o755)
        monkeypatch.setenv("KUBECONFIG", str(config))
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("HELM_RECORD", str(tmp_path / "helm.jsonl"))
        monkeypatch.setenv("JUPYTERHUB_AUTH_PASSWORD", "from-the-environment-123")
        monkeypatch.setenv("HUBHARNESS_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("HUBHARNESS_REPORTS", str(tmp_path / "reports"))
        emulator.bin_dir, emulator.tmp_path = bin_dir, tmp_path
        emulator.helm_calls = lambda: (
            [json.loads(line) for line in (tmp_path / "helm.jsonl").read_text().splitlines()]
            if (tmp_path / "helm.jsonl").exists()
            else []
        )
        yield emulator


@pytest.fixture(scope="module")
def chromium():
    """Headless Chromium that logs the console and every request it makes."""
    logs = {"browser": "ALL", "performance": "ALL"}
    with headless_chromium("--window-size=1280,900", page_load_timeout=30, logging_prefs=logs) as driver:
        yield driver
