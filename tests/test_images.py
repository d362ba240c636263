"""The local target mirrors the notebook image: its servers run the tag's Spark."""

from __future__ import annotations

import copy

import yaml

from hubharness import values
from hubharness.targets.local import LocalTarget, images

from .helpers import PROJECT_ROOT

SHIPPED = values.load(values.values_files("local"))


def image(name: str, tag: str) -> dict:
    out = copy.deepcopy(SHIPPED)
    out["singleuser"]["image"] = {"name": name, "tag": tag}
    return out


def test_the_shipped_image_is_the_harnesss_own_spark():
    found = images.mirror(SHIPPED)
    assert (found.pyspark, found.path) == (images.installed_pyspark(), None), found


def test_an_image_it_cannot_mirror_is_said_so():
    found = images.mirror(image("example.org/team/notebook", "2024-06"))
    assert found.path is None and "is not mirrored here" in found.note
    found = images.mirror(image("quay.io/jupyter/pyspark-notebook", "latest"))
    assert found.path is None and "its tag names no Spark" in found.note


def _overlay(tmp_path, tag: str) -> str:
    path = tmp_path / f"image-{tag}.yaml"
    path.write_text(yaml.safe_dump({"singleuser": {"image": {"name": "jupyter/pyspark-notebook", "tag": tag}}}))
    return str(path)


def test_a_spark_the_harness_does_not_ship_runs_in_the_server(harness, tmp_path, monkeypatch):
    """The seed's image, spark-3.5.0: pyspark 3.5.0 is installed once into the cache and
    is what the server imports, and a real Spark job runs on it."""
    ran = harness.deploy("spark350", "--values", _overlay(tmp_path, "spark-3.5.0"), timeout=900)
    assert ran.code == 0, ran.err
    assert "jupyter/pyspark-notebook:spark-3.5.0: pyspark 3.5.0, from " in ran.out
    monkeypatch.setenv("HUBHARNESS_HOME", str(harness.home))
    target = LocalTarget("spark350")
    api = target.admin_api()
    api.ensure_user("sol")
    api.start_server("sol")
    api.wait_server_ready("sol", timeout=60)
    job = (
        "from pyspark.sql import SparkSession; "
        "s = SparkSession.builder.master('local[1]').getOrCreate(); "
        "print(s.version, s.range(1, 1001).selectExpr('sum(id)').first()[0]); s.stop()"
    )
    ran = target.deployment().run_in_server("sol", f'python -c "{job}"')
    assert ran.rc == 0, ran.stderr[-2000:]
    assert ran.stdout.split()[-2:] == ["3.5.0", "500500"], ran.stdout


def test_an_image_whose_spark_cannot_be_installed_is_one_clear_line_and_nothing_deployed(harness, tmp_path):
    ran = harness.deploy("spark999", "--values", _overlay(tmp_path, "spark-9.9.9"))
    assert ran.code != 0
    assert ran.err_lines[-1].startswith(
        "hubharness: cannot mirror notebook image jupyter/pyspark-notebook:spark-9.9.9: pip could not install"
    ), ran.err
    assert not (harness.state_dir("spark999") / "state.json").exists()


def test_the_seeds_own_values_verify_green_on_local(harness):
    """Migrating from the seed: its values (its image, spark-3.5.0, its PYSPARK_PYTHON
    /opt/conda/bin/python, its postStart hook) deploy and pass every check; what is
    really wrong with them is lint's to say, and deploy says it."""
    seed = str(PROJECT_ROOT / "tests" / "data" / "seed-values.yaml")
    ran = harness.deploy("seed", "--values", seed, timeout=900)
    assert ran.code == 0, ran.err
    assert [line.split(":")[1].strip() for line in ran.err_lines if line.startswith("warning: ")] == [
        "fallback-password",
        "deprecated-image",
        "installs-at-start",
    ]
    ran, summary = harness.verify("seed")
    failed = {c["id"]: c["message"][:300] for c in summary.get("checks", []) if c["outcome"] != "passed"}
    assert ran.code == 0 and not failed, failed or ran.out[-2000:]


def test_the_spark_checks_say_when_the_image_cannot_be_mirrored(harness, tmp_path):
    """A custom image whose tag names another Spark: the checks that depend on the image
    say it could not be mirrored, not that the deployment has the wrong pyspark."""
    overlay = tmp_path / "custom.yaml"
    overlay.write_text(
        yaml.safe_dump({"singleuser": {"image": {"name": "example.org/team/spark", "tag": "spark-3.4.1"}}})
    )
    ran = harness.deploy("custom", "--values", str(overlay))
    assert ran.code == 0, ran.err
    assert "notebook image example.org/team/spark:spark-3.4.1 is not mirrored here" in ran.out
    ran, summary = harness.verify("custom", check="SPK.pyspark_is_the_expected_version")
    (check,) = summary["checks"]
    assert check["outcome"] == "failed"
    assert check["message"].startswith("could not run: the local target cannot mirror image example.org/team/spark")
