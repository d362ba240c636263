"""A class-data archive of the notebook image's Spark (the JDK's application class-data sharing).

Most of a short Spark JVM's start is reading, parsing and verifying thousands of classes from
Spark's jars. An archive of them, made once, is mapped instead: the JVMs a notebook starts
(Spark's launcher and driver) and a Spark cluster's daemons and executors start for about half
the CPU. It is made for each Spark and JVM in the project cache, by a small Spark job run with
`-XX:ArchiveClassesAtExit`, as an image would have one made at its build. A JVM that cannot use
it (another JDK build, other jars) starts without it and says why on stderr; its stdout stays
clean, since Spark's launcher prints the command it builds there.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ...paths import cache_dir

MAKE_TIMEOUT = 300  # one local Spark job on a busy machine, then the JVM writes the archive
LOCK_WAIT = 360  # another deploy making the same archive

# the job whose classes are archived: a session, Python tasks, a shuffle, CSV written and read
JOB = r"""
import sys, tempfile
from pyspark import SparkContext
from pyspark.sql import SparkSession

spark = (
    SparkSession.builder.master("local[2]").appName("hubharness-class-data")
    .config("spark.ui.enabled", "false").getOrCreate()
)
assert spark.sparkContext.parallelize(range(100), 4).map(lambda x: x * 2).sum() == 9900
df = spark.range(1000)
assert len(df.groupBy((df.id % 3).alias("k")).count().collect()) == 3
with tempfile.TemporaryDirectory() as out:
    df.write.csv(out + "/csv")
    assert spark.read.csv(out + "/csv").count() == 1000
gateway = SparkContext._gateway
spark.stop()
gateway.shutdown()
gateway.proc.stdin.close()  # the JVM ends, and writes the archive as it does
sys.exit(gateway.proc.wait(timeout=120))
"""


def java_options(archive: Path) -> str:
    """The JVM options that map `archive`, its warnings on stderr rather than stdout."""
    return f"-XX:SharedArchiveFile={archive} -Xlog:cds*=off -Xlog:cds*=warning:stderr"


def archive_path(spark_home: Path) -> Path | None:
    """Where the archive of this Spark for this JVM is kept; None without a java."""
    java = shutil.which("java")
    if java is None or not (spark_home / "jars").is_dir():
        return None
    jvm = Path(java).resolve()
    key = f"{spark_home.resolve()}|{(spark_home / 'jars').stat().st_mtime_ns}|{jvm}|{jvm.stat().st_mtime_ns}"
    return cache_dir() / "spark-classes" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.jsa"


def ensure(spark_home: Path, pythonpath: Path | None = None, say=print) -> Path | None:
    """The archive of `spark_home`'s classes, made first if there is none (one process at a
    time); None when it cannot be made, and the JVMs start without one."""
    archive = archive_path(spark_home)
    if archive is None or archive.with_suffix(".failed").is_file():
        return None
    if archive.is_file():
        return archive
    archive.parent.mkdir(parents=True, exist_ok=True)
    with open(archive.with_suffix(".lock"), "w") as lock:
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return None
                time.sleep(0.5)
        if archive.is_file() or archive.with_suffix(".failed").is_file():  # the lock's holder tried
            return archive if archive.is_file() else None
        say(f"a class-data archive of Spark ({spark_home}) for faster JVM starts: made once, into {archive.parent}")
        failed = _make(archive, pythonpath)
        if failed:  # said once, and not tried again: delete the file to try again
            archive.with_suffix(".failed").write_text(failed + "\n")
            say(f"no class-data archive ({failed}): Spark's JVMs start without one")
        return None if failed else archive


def _make(archive: Path, pythonpath: Path | None) -> str:
    """Make the archive; why it could not be made, or ""."""
    partial = archive.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("JDK_JAVA_OPTIONS", "JAVA_TOOL_OPTIONS")}
    env.update(
        PYSPARK_SUBMIT_ARGS=f"--driver-java-options -XX:ArchiveClassesAtExit={partial} pyspark-shell",
        PYSPARK_PYTHON=sys.executable,
        SPARK_LOCAL_IP="127.0.0.1",
    )
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(pythonpath), env.get("PYTHONPATH")) if p)
    try:
        done = subprocess.run(
            [sys.executable, "-c", JOB],
            env=env,
            capture_output=True,
            text=True,
            timeout=MAKE_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        partial.unlink(missing_ok=True)
        return f"its Spark job took over {MAKE_TIMEOUT}s"
    if done.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"its Spark job exited with {done.returncode}: {last[:200]}"
    partial.rename(archive)
    return ""
