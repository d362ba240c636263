"""Chart values: layered like `helm -f a -f b`, validated against the chart schema."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .chart import find_values_schema
from .errors import HarnessError
from .paths import VALUES_DIR


def values_files(target: str, extra: Iterable[str | Path] = ()) -> list[Path]:
    """base.yaml, the target's overlay if there is one, then the user's files in order."""
    files = [VALUES_DIR / "base.yaml"]
    overlay = VALUES_DIR / f"{target}.yaml"
    if overlay.is_file():
        files.append(overlay)
    files.extend(Path(f) for f in extra)
    return files


def load_file(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HarnessError(f"values file {path} does not exist: check the --values path") from None
    except OSError as e:
        raise HarnessError(f"values file {path} cannot be read: {e.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise HarnessError(f"values file {path} is not valid YAML{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise HarnessError(f"values file {path} must hold a mapping of chart values, not a {type(data).__name__}")
    return data


def merge(base: dict, overlay: dict) -> dict:
    """Helm's coalescing: maps merge key by key, anything else replaces, null deletes."""
    result = copy.deepcopy(base)
    for key, value in overlay.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def load(files: Iterable[Path]) -> dict:
    merged: dict = {}
    for path in files:
        merged = merge(merged, load_file(path))
    return merged


# Where `required` tells alternatives apart (hub.extraFiles: oneOf data, stringData,
# binaryData) it is no default's business: without it every branch matches, and oneOf fails.
_ALTERNATIVES = ("oneOf", "anyOf", "allOf", "not", "if", "then", "else")


def _without_required(schema: Any) -> Any:
    """The user's values are an overlay on the chart's defaults, which fill what is required."""
    if isinstance(schema, dict):
        # The keyword holds a list; a property that happens to be named "required"
        # (singleuser.extraNodeAffinity.required) holds a schema and stays.
        return {
            k: v if k in _ALTERNATIVES else _without_required(v)
            for k, v in schema.items()
            if not (k == "required" and isinstance(v, list))
        }
    if isinstance(schema, list):
        return [_without_required(v) for v in schema]
    return schema


def _dotted(path: Iterable) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _unexpected_key(instance: dict, schema: dict) -> str:
    known = schema.get("properties", {})
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    for key in instance:
        if key not in known and not any(p.search(key) for p in patterns):
            return key
    return "?"


def validate(values: dict, schema: dict, chart_version: str) -> None:
    """Raise one HarnessError naming the first offending key path."""
    import jsonschema  # on first use

    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(_without_required(schema))
    errors = sorted(validator.iter_errors(values), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return
    error = errors[0]
    if error.validator == "additionalProperties":
        key = _dotted([*error.absolute_path, _unexpected_key(error.instance, error.schema)])
        raise HarnessError(
            f"unknown values key {key}: not in the jupyterhub chart {chart_version} schema; "
            "check its spelling and indentation"
        )
    raise HarnessError(
        f"values key {_dotted(error.absolute_path)}: {error.message} (jupyterhub chart {chart_version} schema)"
    )


def get(values: dict, dotted: str, default: Any = None) -> Any:
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def expected_pyspark_version(values: dict) -> str | None:
    """The Spark version the notebook image promises, from a tag like `spark-3.5.3`."""
    tag = str(get(values, "singleuser.image.tag", "") or "")
    match = re.search(r"spark-(\d+\.\d+\.\d+)", tag)
    return match.group(1) if match else None


def env_entries(env: Any) -> dict[str, Any]:
    """extraEnv may be a mapping (name → value or EnvVar body) or a list of EnvVars."""
    if isinstance(env, list):
        return {item["name"]: {k: v for k, v in item.items() if k != "name"} for item in env}
    return dict(env or {})


def secret_refs(env: Any) -> dict[str, tuple[str, str]]:
    """env var name → (Secret name, key) for every secretKeyRef in an extraEnv."""
    refs = {}
    for name, value in env_entries(env).items():
        ref = value.get("valueFrom", {}).get("secretKeyRef") if isinstance(value, dict) else None
        if ref:
            refs[name] = (ref["name"], ref["key"])
    return refs


AUTH_ENV = "JUPYTERHUB_AUTH_PASSWORD"


def auth_secret_ref(values: dict) -> tuple[str, str]:
    """(Secret name, key) the hub's password comes from; the seed's when values name none."""
    return secret_refs(get(values, "hub.extraEnv", {})).get(AUTH_ENV, ("urbalurba-secrets", AUTH_ENV))


@dataclass(frozen=True)
class SchemaCheck:
    """Whether deploy validated the values against the chart's schema: where the schema
    came from, or why there was none and how to get one. Recorded with the deployment,
    so that a report never passes unvalidated values off as validated."""

    validated: bool
    schema: str

    def record(self) -> dict[str, Any]:
        return {"validated": self.validated, "schema": self.schema}

    def warning(self) -> str:
        """One line for deploy's output; empty when the values were validated."""
        return "" if self.validated else f"values NOT validated against the chart's schema: {self.schema}"


def load_validated(files: Iterable[Path], chart_version: str) -> tuple[dict, SchemaCheck]:
    """Merged values, validated against the chart's schema when one can be had (an
    invalid key raises), and how they were checked."""
    values = load(files)
    schema, where = find_values_schema(chart_version)
    if schema is None:
        return values, SchemaCheck(False, where)
    validate(values, schema, chart_version)
    return values, SchemaCheck(True, f"chart {chart_version} schema from {where}")
