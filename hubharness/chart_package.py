"""The chart's published package: its values.schema.json, fetched once into the cache.

Without helm and without HUBHARNESS_VALUES_SCHEMA, deploy still validates the values
against the schema of the chart it deploys: the Helm repository's index.yaml names the
version's .tgz (and its sha256), whose `<chart>/values.schema.json` is kept in
`.cache/charts/<chart>-<version>/`. HUBHARNESS_CHART_REPO points at another copy of the
repository (a mirror, or a test's local server).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
import time
from pathlib import Path
from urllib.parse import urljoin

import requests
import yaml

from .paths import cache_dir

REPO_ENV = "HUBHARNESS_CHART_REPO"
CONNECT_TIMEOUT = 10  # seconds to reach the repository
READ_TIMEOUT = 30  # seconds between two reads of a response
DOWNLOAD_TIMEOUT = 120  # seconds for one whole response (the index of every release is large)
MAX_BYTES = 64 * 1024 * 1024  # the index of every z2jh release, dev builds included, is well under this


class FetchFailed(Exception):
    """The schema could not be had from the repository; the message says why."""


def repo_url(default: str) -> str:
    url = os.environ.get(REPO_ENV) or default
    return url if url.endswith("/") else url + "/"


def cached_path(chart: str, version: str) -> Path:
    return cache_dir() / "charts" / f"{chart}-{version}" / "values.schema.json"


def _is_values_schema(schema: object) -> bool:
    """A JSON schema of a mapping of values, as the chart's is (not `{}`, which allows anything)."""
    import jsonschema  # on first use

    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict) or not schema["properties"]:
        return False
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError:
        return False
    return True


def cached(chart: str, version: str) -> dict | None:
    """The schema fetched before, or None (none yet, or not a values schema)."""
    try:
        schema = json.loads(cached_path(chart, version).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return schema if _is_values_schema(schema) else None


def _get(url: str) -> bytes:
    """The body of a GET, bounded in time and size."""
    deadline = time.monotonic() + DOWNLOAD_TIMEOUT
    try:
        with requests.get(url, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), stream=True) as response:
            response.raise_for_status()
            body = bytearray()
            for chunk in response.iter_content(1 << 16):
                body += chunk
                if len(body) > MAX_BYTES:
                    raise FetchFailed(f"{url} is larger than {MAX_BYTES // (1024 * 1024)} MB")
                if time.monotonic() > deadline:
                    raise FetchFailed(f"{url} took longer than {DOWNLOAD_TIMEOUT} s")
            return bytes(body)
    except requests.RequestException as e:
        raise FetchFailed(f"GET {url} failed: {type(e).__name__}") from None


def _package(repo: str, chart: str, version: str) -> tuple[str, str | None]:
    """The URL of the chart version's .tgz and its sha256, as the repository's index names them."""
    index_url = urljoin(repo, "index.yaml")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the index is megabytes
    try:
        index = yaml.load(_get(index_url), Loader=loader)
    except yaml.YAMLError:
        raise FetchFailed(f"{index_url} is not a Helm repository index (not YAML)") from None
    entries = index.get("entries") if isinstance(index, dict) else None
    for entry in (entries or {}).get(chart) or []:
        if isinstance(entry, dict) and str(entry.get("version")) == version and entry.get("urls"):
            return urljoin(repo, str(entry["urls"][0])), entry.get("digest")
    raise FetchFailed(f"{index_url} lists no {chart} {version}")


def _schema_in(package: bytes, chart: str, url: str) -> dict:
    try:
        with tarfile.open(fileobj=io.BytesIO(package), mode="r:*") as tar:
            member = tar.extractfile(f"{chart}/values.schema.json")
            text = member.read() if member else b""
    except (tarfile.TarError, KeyError, OSError):
        raise FetchFailed(f"{url} holds no {chart}/values.schema.json") from None
    try:
        schema = json.loads(text)
    except ValueError:
        raise FetchFailed(f"{chart}/values.schema.json in {url} is not JSON") from None
    if not _is_values_schema(schema):
        raise FetchFailed(f"{chart}/values.schema.json in {url} is not a JSON schema of the chart's values")
    return schema


def _write_atomically(path: Path, schema: dict) -> None:
    """Whole or not at all: a deploy beside this one reads either no file or this one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".values.schema.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(schema, out)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def schema(chart: str, version: str, default_repo: str) -> tuple[dict, str]:
    """(schema, where it is) from the cache, else fetched from the repository and cached;
    FetchFailed says why it could not be had."""
    found = cached(chart, version)
    path = cached_path(chart, version)
    if found is not None:
        return found, str(path)
    url, digest = _package(repo_url(default_repo), chart, version)
    package = _get(url)
    if digest and hashlib.sha256(package).hexdigest() != digest:
        raise FetchFailed(f"{url} does not match the sha256 the repository's index gives for it")
    fetched = _schema_in(package, chart, url)
    try:
        _write_atomically(path, fetched)
    except OSError as e:
        raise FetchFailed(f"fetched from {url} but cannot write {path}: {e.strerror}") from None
    return fetched, f"{path} (fetched from {url})"
