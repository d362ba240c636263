"""The chart's values schema fetched once from its published package, and a deploy that
had none says so, there and in the report.

The Helm repository is a local HTTP server on 127.0.0.1 serving a package built here from
the shared folder's schema: nothing reaches outside this machine.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from hubharness import chart, chart_package, report_page, values
from hubharness.paths import PROJECT_ROOT

from .helpers import chart_schemas_or_skip

VERSION = "4.4.0"


def chart_tgz(schema: dict | None) -> bytes:
    """A chart package as the repository publishes it: jupyterhub/Chart.yaml and its schema."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        files = {"jupyterhub/Chart.yaml": f"name: jupyterhub\nversion: {VERSION}\n".encode()}
        if schema is not None:
            files["jupyterhub/values.schema.json"] = json.dumps(schema).encode()
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


class Repo:
    """A Helm repository on 127.0.0.1: index.yaml and the packages it names; counts requests."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        repo = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                repo.requests.append(self.path)
                body = repo.files.get(self.path.lstrip("/"))
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def publish(self, package: bytes, url: str | None = None, digest: str | None = "right") -> None:
        name = f"jupyterhub-{VERSION}.tgz"
        self.files[name] = package
        entry = {"name": "jupyterhub", "version": VERSION, "urls": [url or name]}
        if digest:
            entry["digest"] = hashlib.sha256(package).hexdigest() if digest == "right" else digest
        older = {"name": "jupyterhub", "version": "4.3.0", "urls": ["jupyterhub-4.3.0.tgz"]}
        self.files["index.yaml"] = yaml.safe_dump(
            {"apiVersion": "v1", "entries": {"jupyterhub": [entry, older]}}
        ).encode()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def shared_schema() -> dict:
    return yaml.safe_load((chart_schemas_or_skip() / f"values.schema-{VERSION}.yaml").read_text())


@pytest.fixture
def repo(monkeypatch, tmp_path):
    """No schema at hand (no HUBHARNESS_VALUES_SCHEMA, no helm cache, an empty project
    cache), and the chart repository served from 127.0.0.1."""
    served = Repo()
    monkeypatch.delenv("HUBHARNESS_VALUES_SCHEMA", raising=False)
    monkeypatch.setenv("HELM_CACHE_HOME", str(tmp_path / "helm"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HUBHARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(chart_package.REPO_ENV, served.url)
    yield served
    served.close()


def test_the_schema_is_fetched_once_into_the_cache(repo, shared_schema):
    repo.publish(chart_tgz(shared_schema))
    found, where = chart.find_values_schema(VERSION)
    assert found == shared_schema
    cached = chart_package.cached_path("jupyterhub", VERSION)
    assert json.loads(cached.read_text()) == shared_schema
    assert str(cached) in where and f"{repo.url}jupyterhub-{VERSION}.tgz" in where
    assert repo.requests == ["/index.yaml", f"/jupyterhub-{VERSION}.tgz"]
    assert [p.name for p in cached.parent.iterdir()] == ["values.schema.json"], "a temporary file was left"

    again, where = chart.find_values_schema(VERSION)
    assert again == shared_schema and where == str(cached)
    assert len(repo.requests) == 2, f"fetched again: {repo.requests}"


def test_the_fetched_schema_validates_the_values(repo, shared_schema, tmp_path):
    repo.publish(chart_tgz(shared_schema), url=f"{repo.url}jupyterhub-{VERSION}.tgz")  # an absolute URL
    typo = tmp_path / "typo.yaml"
    typo.write_text("singleuser:\n  extraEnvv:\n    A: b\n")
    _, check = values.load_validated(values.values_files("local"), VERSION)
    assert check.validated and not check.warning()
    with pytest.raises(values.HarnessError, match=r"unknown values key singleuser\.extraEnvv"):
        values.load_validated(values.values_files("local", [typo]), VERSION)


@pytest.mark.parametrize(
    "broken, says",
    [
        ("digest", "does not match the sha256"),
        ("no schema", "holds no jupyterhub/values.schema.json"),
        ("not a schema", "is not a JSON schema of the chart's values"),
        ("not listed", "lists no jupyterhub 4.4.0"),
        ("no repository", "GET http://127.0.0.1:"),
    ],
)
def test_a_schema_that_cannot_be_had_is_one_line_with_the_fix(repo, shared_schema, broken, says):
    if broken == "digest":
        repo.publish(chart_tgz(shared_schema), digest="0" * 64)
    elif broken == "no schema":
        repo.publish(chart_tgz(None))
    elif broken == "not a schema":
        repo.publish(chart_tgz({"type": "object", "properties": {"hub": {"type": 17}}}))
    elif broken == "not listed":
        repo.publish(chart_tgz(shared_schema))
        repo.files["index.yaml"] = b"apiVersion: v1\nentries: {jupyterhub: []}\n"
    # "no repository": nothing published, index.yaml answers 404
    found, note = chart.find_values_schema(VERSION)
    assert found is None
    assert says in note and "\n" not in note
    assert "set HUBHARNESS_VALUES_SCHEMA to a folder holding the chart's values.schema.json" in note
    assert not chart_package.cached_path("jupyterhub", VERSION).exists()
    _, check = values.load_validated(values.values_files("local"), VERSION)
    assert not check.validated and check.warning().startswith("values NOT validated against the chart's schema: ")
    assert check.record() == {"validated": False, "schema": note}


def test_the_report_says_plainly_that_values_were_not_validated():
    why = "no values schema for chart 4.4.0 (…): set HUBHARNESS_VALUES_SCHEMA …"
    summary = {
        "context": "local",
        "namespace": "dev",
        "outcome": "passed",
        "counts": {"passed": 1, "failed": 0, "timeout": 0, "skipped": 0},
        "deployment": {"values_schema": {"validated": False, "schema": why}},
        "checks": [],
    }
    for html in (report_page.render_report(summary), report_page.render_index([("run", summary)])):
        assert "NOT validated" in html
    page = report_page.render_report(summary)
    assert "The values were NOT validated</b> against the chart&#x27;s schema at deploy: no values schema" in page
    assert "NOT validated: no values schema for chart 4.4.0" in page
    validated = {**summary, "deployment": {"values_schema": {"validated": True, "schema": "chart 4.4.0 schema from x"}}}
    assert "NOT validated" not in report_page._header(validated)
    assert "validated against chart 4.4.0 schema from x" in report_page._header(validated)
    older = {**summary, "deployment": {}}
    assert "NOT validated" not in report_page._header(older)


def test_deploy_without_a_schema_says_so_and_the_report_too_then_fetches_it(harness, repo, shared_schema):
    """As on a fresh clone without helm: the repository unreachable, deploy goes on with
    one warning line and records it, verify's report says so; once the repository
    answers, the next deploy fetches the schema and the record says validated."""
    env = {"HUBHARNESS_CHART_REPO": "http://127.0.0.1:9/"}  # nothing listens on port 9 (discard)
    del harness.env["HUBHARNESS_VALUES_SCHEMA"]
    ran = harness.deploy("novalid", env=env)
    assert ran.code == 0, ran.err
    warnings = [line for line in ran.err_lines if "NOT validated" in line]
    assert len(warnings) == 1 and "set HUBHARNESS_VALUES_SCHEMA" in warnings[0], ran.err
    state = json.loads((harness.state_dir("novalid") / "state.json").read_text())
    assert state["values_schema"]["validated"] is False

    ran, summary = harness.verify("novalid", check="RDY")
    assert ran.code == 0, ran.out + ran.err
    assert summary["deployment"]["values_schema"]["validated"] is False
    assert "values NOT validated against the chart's schema at deploy" in ran.out
    assert "The values were NOT validated</b>" in (harness.reports / "latest" / "report.html").read_text()

    repo.publish(chart_tgz(shared_schema))
    # the repo fixture's empty cache, with the project's configurable-http-proxy in it
    cache = chart_package.cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "npm").symlink_to(Path(harness.env.get("HUBHARNESS_CACHE") or PROJECT_ROOT / ".cache") / "npm")
    ran = harness.deploy("novalid", env={"HUBHARNESS_CHART_REPO": repo.url, "HUBHARNESS_CACHE": str(cache)})
    assert ran.code == 0 and "NOT validated" not in ran.err, ran.err
    assert "already deployed, nothing changed" in ran.out
    state = json.loads((harness.state_dir("novalid") / "state.json").read_text())
    assert state["values_schema"]["validated"] is True and "fetched from" in state["values_schema"]["schema"]
    assert repo.requests == ["/index.yaml", f"/jupyterhub-{VERSION}.tgz"]
