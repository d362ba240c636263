"""The class-data archive of the notebook image's Spark (hubharness/targets/local/classdata.py):
made once, mapped by the JVMs a notebook starts, harmless where a JVM cannot use it."""

from __future__ import annotations

import os
import subprocess
import sys

from hubharness.targets.local import classdata
from hubharness.targets.local.spark import spark_home

from .test_parity import hub_config_for

SESSION = """
from pyspark.sql import SparkSession
spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
print(spark.range(10).count())
spark.stop()
"""


def test_a_notebooks_spark_maps_its_classes_from_the_archive(tmp_path):
    archive = classdata.ensure(spark_home(None))  # bootstrap made it; deploy makes it when missing
    assert archive is not None and archive.is_file()
    logs = tmp_path / "load-%p.log"
    env = {
        **os.environ,
        "JDK_JAVA_OPTIONS": f"{classdata.java_options(archive)} -Xlog:class+load=info:file={logs}",
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    done = subprocess.run(
        [sys.executable, "-c", SESSION], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "10", done.stderr[-2000:]
    loaded = "".join(log.read_text() for log in tmp_path.glob("load-*.log"))
    assert "org.apache.spark.SparkContext source: shared objects file (top)" in loaded


def test_a_jvm_that_cannot_use_the_archive_starts_without_it_and_keeps_stdout_clean(tmp_path):
    """Spark's launcher prints the command it builds on stdout: a warning there would break it."""
    archive = tmp_path / "other.jsa"
    archive.write_bytes(b"not an archive")
    done = subprocess.run(
        ["java", *classdata.java_options(archive).split(), "-version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stdout == ""
    assert "openjdk version" in done.stderr


def test_an_archive_that_cannot_be_made_is_said_once_and_not_tried_again(tmp_path, monkeypatch):
    monkeypatch.setenv("HUBHARNESS_CACHE", str(tmp_path / "cache"))
    home, site = tmp_path / "spark", tmp_path / "site"
    (home / "jars").mkdir(parents=True)
    (site / "pyspark").mkdir(parents=True)
    (site / "pyspark" / "__init__.py").write_text("raise ImportError('a broken pyspark')\n")
    said: list[str] = []
    assert classdata.ensure(home, site, say=said.append) is None
    assert "ImportError: a broken pyspark" in said[-1] and said[-1].endswith("Spark's JVMs start without one")
    assert classdata.ensure(home, site, say=said.append) is None
    assert len(said) == 2, said


def test_the_servers_map_the_archive_before_the_java_options_the_values_set(tmp_path, monkeypatch):
    archive = tmp_path / "spark.jsa"
    values = {"singleuser": {"extraEnv": {"JDK_JAVA_OPTIONS": "-XX:+UseSerialGC"}}}
    config = hub_config_for(values, tmp_path, monkeypatch, classes=archive)
    assert config.Spawner.environment["JDK_JAVA_OPTIONS"] == f"{classdata.java_options(archive)} -XX:+UseSerialGC"
    alone = hub_config_for({}, tmp_path / "alone", monkeypatch, classes=archive)
    assert alone.Spawner.environment["JDK_JAVA_OPTIONS"] == classdata.java_options(archive)
    without = hub_config_for({}, tmp_path / "without", monkeypatch)
    assert "JDK_JAVA_OPTIONS" not in without.Spawner.environment
