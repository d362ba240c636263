"""values/: layered like helm -f, valid for both chart versions, errors that name the key."""

import pytest

from hubharness import chart, sparkcluster, values
from hubharness.errors import HarnessError

from .helpers import chart_schemas_or_skip


@pytest.fixture(params=["4.2.0", "4.4.0"])
def schema(request, monkeypatch):
    monkeypatch.setenv("HUBHARNESS_VALUES_SCHEMA", str(chart_schemas_or_skip()))
    found, _ = chart.find_values_schema(request.param)
    return found, request.param


@pytest.mark.parametrize("target", ["local", "kind"])
def test_shipped_values_validate(schema, target):
    values.validate(values.load(values.values_files(target)), *schema)


def test_scratch_overlay_validates_and_leaves_no_node_port(schema):
    merged = values.load(values.values_files("kind", [values.VALUES_DIR / "scratch.yaml"]))
    values.validate(merged, *schema)
    assert merged["proxy"]["service"] == {"type": "ClusterIP", "nodePorts": {}}
    assert merged["scheduling"]["userScheduler"]["enabled"] is False


def test_the_spark_cluster_values_validate_and_scratch_namespaces_go_without_it(schema):
    with_cluster = values.values_files("local", [values.VALUES_DIR / "spark-cluster.yaml"])
    values.validate(values.load(with_cluster), *schema)
    scratch = values.load([*with_cluster, values.VALUES_DIR / "scratch-without-spark.yaml"])
    values.validate(scratch, *schema)
    assert sparkcluster.refuse_unusable(scratch) is None
    assert "PYSPARK_SUBMIT_ARGS" not in scratch["singleuser"]["extraEnv"]


def test_unknown_key_is_named_by_its_path(schema):
    bad = values.merge(values.load(values.values_files("local")), {"singleuser": {"storage": {"capacty": "1Gi"}}})
    with pytest.raises(HarnessError, match=r"unknown values key singleuser\.storage\.capacty"):
        values.validate(bad, *schema)


def test_misplaced_config_section_is_an_unknown_key(schema):
    if schema[1] == "4.2.0":
        pytest.skip("chart 4.2.0 accepts any hub.config section name")
    with pytest.raises(HarnessError, match=r"unknown values key hub\.config\.loadRoles"):
        values.validate({"hub": {"config": {"loadRoles": {}}}}, *schema)


def test_wrong_type_names_the_key(schema):
    with pytest.raises(HarnessError, match=r"values key singleuser\.cpu\.limit: 'two'"):
        values.validate({"singleuser": {"cpu": {"limit": "two"}}}, *schema)


def test_overlay_merges_maps_replaces_lists_and_null_deletes():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    merged = values.merge(base, {"a": {"c": [3]}, "d": None, "e": 2})
    assert merged == {"a": {"b": 1, "c": [3]}, "e": 2}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}


def test_malformed_yaml_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("hub:\n  config: [unclosed\n")
    with pytest.raises(HarnessError, match=r"bad\.yaml is not valid YAML at line \d+"):
        values.load([bad])


def test_missing_schema_is_a_note_not_an_error(monkeypatch, tmp_path):
    """No schema at hand and the chart repository unreachable (tests/conftest.py points it
    at a local port nothing listens on): a note with the fix, not an error."""
    monkeypatch.delenv("HUBHARNESS_VALUES_SCHEMA", raising=False)
    monkeypatch.setenv("HELM_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("HUBHARNESS_CACHE", str(tmp_path / "cache"))
    found, note = chart.find_values_schema("4.4.0")
    assert found is None and "no values schema for chart 4.4.0" in note and "HUBHARNESS_VALUES_SCHEMA" in note


def test_expected_pyspark_version_comes_from_the_image_tag():
    assert values.expected_pyspark_version(values.load(values.values_files("local"))) == "3.5.3"
    import pyspark

    assert pyspark.__version__ == "3.5.3", "the local target's pyspark must match the image tag"


def test_no_secret_and_no_fallback_in_values():
    for path in values.VALUES_DIR.glob("*.yaml"):
        text = path.read_text()
        assert "fallback-password" not in text and "SecretPassword2" not in text, path
        assert "os.environ.get('JUPYTERHUB_AUTH_PASSWORD', '" not in text, path


def test_extra_files_are_told_apart_by_the_key_they_carry(schema):
    """The chart's oneOf (data, stringData, binaryData) needs its `required` terms, which
    the overlay's leniency must not strip (zero-to-jupyterhub's own dev-config.yaml)."""
    one = {"mountPath": "/tmp/hello.txt", "stringData": "hello"}
    values.validate({"hub": {"extraFiles": {"hello": one}}, "singleuser": {"extraFiles": {"hello": one}}}, *schema)
    with pytest.raises(HarnessError, match=r"values key hub\.extraFiles\.both: .* is valid under each of"):
        values.validate({"hub": {"extraFiles": {"both": {**one, "data": {"a": 1}}}}}, *schema)
