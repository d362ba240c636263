"""Fixtures for the project's own tests: real deployments on 127.0.0.1, random ports.

Every deployment lives in a temporary HUBHARNESS_HOME, so tests never touch a
user's .hubharness/ or reports/, and every one is purged at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from hubharness.paths import PROJECT_ROOT

from .kube_emulator import KubeEmulator

SHARED_SCHEMAS = PROJECT_ROOT.parent / "shared" / "z2jh"


def chart_schemas_or_skip() -> Path:
    """Where the chart's values schemas are for tests that need them; skip, saying so, if nowhere."""
    path = Path(os.environ.get("HUBHARNESS_VALUES_SCHEMA") or SHARED_SCHEMAS)
    if not path.exists():
        pytest.skip(
            f"no chart values schemas at {path}: set HUBHARNESS_VALUES_SCHEMA "
            "(or put ../shared/z2jh beside the checkout, as .ci/run has)"
        )
    return path


INVOKE = str(Path(sys.executable).parent / "invoke")
COMMAND_TIMEOUT = 300


@dataclass
class Ran:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


class Harness:
    """Runs `invoke …` as a user does, in an isolated home."""

    def __init__(self, home: Path, reports: Path):
        self.home = home
        self.reports = reports
        self.env = {k: v for k, v in os.environ.items() if k != "JUPYTERHUB_AUTH_PASSWORD"}
        self.env.update(HUBHARNESS_HOME=str(home), HUBHARNESS_REPORTS=str(reports))
        if "HUBHARNESS_VALUES_SCHEMA" not in self.env and SHARED_SCHEMAS.is_dir():
            self.env["HUBHARNESS_VALUES_SCHEMA"] = str(SHARED_SCHEMAS)

    def invoke(self, *args: str, env: dict | None = None, timeout: float = COMMAND_TIMEOUT) -> Ran:
        done = subprocess.run(
            [INVOKE, *args],
            cwd=PROJECT_ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        return Ran(done.returncode, done.stdout, done.stderr)

    def deploy(self, namespace: str, *args: str, **kw) -> Ran:
        ran = self.invoke("deploy", "--namespace", namespace, "--port", "0", *args, **kw)
        return ran

    def verify(self, namespace: str, k: str | None = None, check: str | None = None) -> tuple[Ran, dict]:
        args = ["verify", "--namespace", namespace] + (["-k", k] if k else []) + (["--check", check] if check else [])
        ran = self.invoke(*args)
        summary_file = self.reports / "latest" / "summary.json"
        summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
        return ran, summary

    def status(self, namespace: str) -> dict:
        ran = self.invoke("status", "--namespace", namespace, "--json")
        assert ran.code == 0, ran.err
        return json.loads(ran.out)

    def state_dir(self, namespace: str) -> Path:
        return self.home / namespace

    def purge_all(self) -> None:
        if self.home.is_dir():
            for ns in sorted(p.name for p in self.home.iterdir() if p.is_dir()):
                self.invoke("remove", "--namespace", ns, "--purge")


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


def outcomes(summary: dict) -> dict[str, str]:
    return {c["id"]: c["outcome"] for c in summary.get("checks", [])}


def failed(summary: dict) -> set[str]:
    return {cid for cid, outcome in outcomes(summary).items() if outcome in ("failed", "timeout")}


@pytest.fixture(scope="session", autouse=True)
def no_process_outlives_the_tests(tmp_path_factory):
    """Every deployment is purged by its fixture; anything still running from our temp
    folders afterwards is a leak: stop it and say so (in the -rw summary)."""
    import warnings

    from hubharness.procs import processes_under, stop_all

    yield
    base = tmp_path_factory.getbasetemp()
    leaked = processes_under(base)
    if leaked:
        names = ", ".join(f"{p.pid} {p.name()}" for p in leaked[:10])
        stop_all(leaked)
        warnings.warn(f"processes outlived the tests and were stopped: {names}")


HELM = """#!{python}
import json, os, sys
with open(os.environ["HELM_RECORD"], "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1:2] == ["list"]:
    all_namespaces = "--all-namespaces" in sys.argv
    print(os.environ.get("HELM_ALL_RELEASES" if all_namespaces else "HELM_RELEASES", ""))
if sys.argv[1:2] == ["upgrade"] and os.environ.get("HELM_FAIL_UPGRADE"):
    sys.exit(os.environ["HELM_FAIL_UPGRADE"])
"""


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
