"""SPK: a spawned server runs PySpark: the version, the environment, and real jobs.

Every cell runs in one kernel of one user server, reached through the proxy and
sharing one SparkSession, as a notebook does. Cells are queued when the session
starts (see fixtures/users.py) and each check reads its own cell's output.

The session is built as a notebook builds it: `getOrCreate()` with the deployment's own
Spark settings (its environment, PYSPARK_SUBMIT_ARGS, spark-defaults.conf), so the jobs
run where the deployment sends notebooks: local mode where it names no master, its Spark
cluster where it has one (suites/test_spk_cluster.py checks that cluster).
"""

import pytest
import requests

from fixtures.users import SPARK
from hubharness.hubapi import TIMEOUT
from hubharness.values import env_entries, expected_pyspark_version, get

pytestmark = pytest.mark.check("SPK")


SPARK_ENV = (
    "import os, shutil, sys, json\n"
    "def _resolve(v):\n"
    "    w = shutil.which(v) if v else None\n"
    "    return [v, w and os.path.realpath(w)]\n"
    "print(json.dumps({'kernel': os.path.realpath(sys.executable),"
    " **{n: _resolve(os.environ.get(n)) for n in ('PYSPARK_PYTHON', 'PYSPARK_DRIVER_PYTHON')}}))"
)

KNOWN_ANSWER = SPARK + (
    "import json\n"
    "total = spark.range(1, 1001).selectExpr('sum(id)').first()[0]\n"
    "squares = spark.sparkContext.parallelize(range(100), 2).map(lambda x: x * x).sum()\n"
    "print(json.dumps([total, squares, spark.sparkContext.master]))"
)

CSV_TO_PANDAS = SPARK + (
    "import csv, json, os, tempfile\n"
    "d = tempfile.mkdtemp(dir=os.getcwd(), prefix='.verify-csv-')\n"
    "with open(os.path.join(d, 'data.csv'), 'w', newline='') as f:\n"
    "    w = csv.writer(f); w.writerow(['category', 'value'])\n"
    "    for i in range(300): w.writerow(['abc'[i % 3], i])\n"
    "df = spark.read.csv(os.path.join(d, 'data.csv'), header=True, inferSchema=True)\n"
    "pdf = df.filter(df.value > 100).groupBy('category').agg({'value': 'avg'})"
    ".orderBy('category').toPandas()\n"
    "print(json.dumps({'type': type(pdf).__module__.split('.')[0], 'rows': pdf.to_dict('records')}))\n"
    "import shutil; shutil.rmtree(d)"
)

ML_PIPELINE = SPARK + (
    "import json, random\n"
    "from pyspark.ml import Pipeline\n"
    "from pyspark.ml.feature import VectorAssembler, StandardScaler\n"
    "from pyspark.ml.classification import RandomForestClassifier\n"
    "from pyspark.ml.evaluation import BinaryClassificationEvaluator\n"
    "rng = random.Random(42)\n"
    "rows = [(a, b, rng.random(), float(a + b > 1)) for a, b in"
    " ((rng.random(), rng.random()) for _ in range(400))]\n"
    "df = spark.createDataFrame(rows, ['feature1', 'feature2', 'feature3', 'label'])\n"
    "pipeline = Pipeline(stages=[\n"
    "    VectorAssembler(inputCols=['feature1', 'feature2', 'feature3'], outputCol='features'),\n"
    "    StandardScaler(inputCol='features', outputCol='scaled_features'),\n"
    "    RandomForestClassifier(featuresCol='scaled_features', labelCol='label', numTrees=5, maxDepth=4,"
    " seed=42)])\n"
    "train, test = df.randomSplit([0.8, 0.2], seed=42)\n"
    "auc = BinaryClassificationEvaluator(labelCol='label', metricName='areaUnderROC')"
    ".evaluate(pipeline.fit(train).transform(test))\n"
    "print(json.dumps(auc))"
)

JSON_TO_CSV = SPARK + (
    "import glob, json, os, tempfile\n"
    "from pyspark.sql.functions import avg, count, max, min\n"
    "d = tempfile.mkdtemp(dir=os.getcwd(), prefix='.verify-json-')\n"
    "records = [{'region': r, 'sales': s} for r, n in (('north', 3), ('south', 5))"
    " for s in range(10, 10 * (n + 1), 10)]\n"
    "with open(os.path.join(d, 'sales.json'), 'w') as f: json.dump(records, f)\n"
    "df = spark.read.option('multiline', 'true').json(os.path.join(d, 'sales.json'))\n"
    "summary = df.groupBy('region').agg(count('*').alias('total_records'),"
    " avg('sales').alias('avg_sales'), max('sales').alias('max_sales'), min('sales').alias('min_sales'))\n"
    "summary.coalesce(1).write.mode('overwrite').option('header', 'true').csv(os.path.join(d, 'summary'))\n"
    "parts = glob.glob(os.path.join(d, 'summary', 'part-*.csv'))\n"
    "print(json.dumps([len(parts), sorted(open(parts[0]).read().splitlines())]))\n"
    "import shutil; shutil.rmtree(d)"
)


def test_server_spawns_through_the_hub(alice):
    response = requests.get(
        f"{alice.server_url}/api/status", headers={"Authorization": f"token {alice.token}"}, timeout=TIMEOUT
    )
    assert response.status_code == 200, f"{alice.name}'s server answered {response.status_code} on /api/status"


@pytest.mark.cell("print(6 * 7)")
def test_kernel_runs_code_over_the_proxy(cell):
    assert not cell.error, cell.error
    assert cell.stdout.strip() == "42"


@pytest.mark.cell("import json, pyspark; print(json.dumps(pyspark.__version__))")
def test_pyspark_is_the_expected_version(cell, deployment):
    expected = expected_pyspark_version(deployment.rendered_values)
    if expected is None:
        pytest.skip("singleuser.image.tag names no Spark version (spark-X.Y.Z)")
    if deployment.image_not_mirrored():
        pytest.skip(deployment.image_not_mirrored())
    found = cell.last_json()
    assert found == expected, f"pyspark {found} in the notebook, image tag promises {expected}"


@pytest.mark.cell(SPARK_ENV)
@pytest.mark.parametrize("name", ["PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON"])
def test_spark_python_is_set_and_is_the_kernels(cell, deployment, name):
    seen = cell.last_json()
    value, resolved = seen[name]
    configured = env_entries(get(deployment.rendered_values, "singleuser.extraEnv", {})).get(name)
    assert value is not None, f"{name} is not set in the notebook"
    if configured is not None and not isinstance(configured, dict):
        expected = deployment.as_deployed(str(configured))
        assert value == expected, f"{name}={value}, values set {configured} (here: {expected})"
    assert resolved, f"{name}={value} is not an executable in the notebook"
    assert resolved == seen["kernel"], f"{name} runs {resolved}, the kernel runs {seen['kernel']}"


def test_servers_pyspark_python_imports_the_expected_pyspark(deployment, alice):
    """Outside the kernel, in the server's own environment (testinfra): Spark starts its
    Python workers from $PYSPARK_PYTHON, and they need Java."""
    alice.server()
    found = deployment.run_in_server(
        # the java Spark launches: $JAVA_HOME/bin/java when JAVA_HOME is set, else java on PATH
        alice.name,
        '"$PYSPARK_PYTHON" -c "import pyspark; print(pyspark.__version__)" && '
        '"${JAVA_HOME:+$JAVA_HOME/bin/}java" -version',
    )
    assert found.rc == 0, f"in {alice.name}'s server: {(found.stderr or found.stdout).strip()[-300:]}"
    expected = expected_pyspark_version(deployment.rendered_values)
    if expected is not None and deployment.image_not_mirrored():
        pytest.skip(deployment.image_not_mirrored())
    if expected is not None:
        assert found.stdout.strip() == expected, f"$PYSPARK_PYTHON imports pyspark {found.stdout.strip()}"


@pytest.mark.cell(KNOWN_ANSWER)
def test_spark_job_gives_the_known_answer(cell, deployment):
    total, squares, master = cell.last_json()
    cluster = deployment.spark_cluster()
    if cluster is not None:
        ran_on = cluster.master_status().get("url")
        assert master == ran_on, f"the notebook's Spark ran on {master}, not the deployment's cluster ({ran_on})"
    assert [total, squares] == [500500, 328350], f"Spark on {master} answered {[total, squares]}"


@pytest.mark.cell(CSV_TO_PANDAS)
def test_csv_aggregate_to_pandas(cell):
    out = cell.last_json()
    kept = [v for v in range(101, 300)]
    expected = {
        c: sum(v for v in kept if "abc"[v % 3] == c) / len([v for v in kept if "abc"[v % 3] == c]) for c in "abc"
    }
    assert out["type"] == "pandas"
    assert {r["category"]: r["avg(value)"] for r in out["rows"]} == pytest.approx(expected)


@pytest.mark.cell(ML_PIPELINE)
def test_ml_pipeline_trains_with_a_good_auc(cell):
    auc = cell.last_json()
    assert auc > 0.9, f"AUC {auc} on cleanly separable data"


@pytest.mark.cell(JSON_TO_CSV)
def test_json_aggregate_written_as_csv(cell):
    parts, lines = cell.last_json()
    assert parts == 1, f"expected one CSV part file, found {parts}"
    assert lines == sorted(
        ["region,total_records,avg_sales,max_sales,min_sales", "north,3,20.0,30,10", "south,5,30.0,50,10"]
    )
