"""SPK: a spawned server runs PySpark: the version, the environment, and real jobs.

Every cell runs in one kernel of one user server, reached through the proxy,
sharing one SparkSession, as a notebook does.
"""

import pytest

pytestmark = pytest.mark.check("SPK")

SPARK = (
    "from pyspark.sql import SparkSession\n"
    "spark = SparkSession.builder.master('local[2]').appName('hubharness-verify')"
    ".config('spark.ui.enabled', 'false').config('spark.sql.shuffle.partitions', '4').getOrCreate()\n"
)
SPARK_TIMEOUT = 180


def test_server_spawns_through_the_hub(alice):
    assert alice.server()["ready"]


def test_kernel_runs_code_over_the_proxy(kernel):
    assert kernel.run("print(6 * 7)").stdout.strip() == "42"


def test_pyspark_is_the_expected_version(kernel, deployment):
    from hubharness.values import expected_pyspark_version

    expected = expected_pyspark_version(deployment.values)
    if expected is None:
        pytest.skip("singleuser.image.tag names no Spark version (spark-X.Y.Z)")
    found = kernel.run("import pyspark; print(pyspark.__version__)").stdout.strip()
    assert found == expected, f"pyspark {found} in the notebook, image tag promises {expected}"


@pytest.mark.parametrize("name", ["PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON"])
def test_spark_python_is_set_and_is_the_kernels(kernel, deployment, name):
    from hubharness.values import env_entries, get

    configured = env_entries(get(deployment.values, "singleuser.extraEnv", {})).get(name)
    seen = kernel.run(
        "import os, shutil, sys, json\n"
        f"v = os.environ.get({name!r})\n"
        "w = shutil.which(v) if v else None\n"
        "print(json.dumps([v, w and os.path.realpath(w), os.path.realpath(sys.executable)]))"
    ).last_json()
    value, resolved, kernel_python = seen
    assert value is not None, f"{name} is not set in the notebook"
    if configured is not None:
        assert value == str(configured), f"{name}={value}, values set {configured}"
    assert resolved, f"{name}={value} is not an executable in the notebook"
    assert resolved == kernel_python, f"{name} runs {resolved}, the kernel runs {kernel_python}"


def test_spark_job_gives_the_known_answer(kernel):
    out = kernel.run(
        SPARK + "import json\n"
        "total = spark.range(1, 1001).selectExpr('sum(id)').first()[0]\n"
        "squares = spark.sparkContext.parallelize(range(100), 2).map(lambda x: x * x).sum()\n"
        "print(json.dumps([total, squares]))",
        timeout=SPARK_TIMEOUT,
    ).last_json()
    assert out == [500500, 328350]


def test_csv_aggregate_to_pandas(kernel):
    out = kernel.run(
        SPARK + "import csv, json, os, tempfile\n"
        "d = tempfile.mkdtemp(dir=os.getcwd(), prefix='.verify-csv-')\n"
        "with open(os.path.join(d, 'data.csv'), 'w', newline='') as f:\n"
        "    w = csv.writer(f); w.writerow(['category', 'value'])\n"
        "    for i in range(300): w.writerow(['abc'[i % 3], i])\n"
        "df = spark.read.csv(os.path.join(d, 'data.csv'), header=True, inferSchema=True)\n"
        "pdf = df.filter(df.value > 100).groupBy('category').agg({'value': 'avg'})"
        ".orderBy('category').toPandas()\n"
        "print(json.dumps({'type': type(pdf).__module__.split('.')[0],"
        " 'rows': pdf.to_dict('records')}))",
        timeout=SPARK_TIMEOUT,
    ).last_json()
    expected = {c: sum(v for v in range(101, 300) if "abc"[v % 3] == c) /
                len([v for v in range(101, 300) if "abc"[v % 3] == c]) for c in "abc"}
    assert out["type"] == "pandas"
    assert {r["category"]: r["avg(value)"] for r in out["rows"]} == pytest.approx(expected)


def test_ml_pipeline_trains_with_a_good_auc(kernel):
    out = kernel.run(
        SPARK + "import json, random\n"
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
        "    RandomForestClassifier(featuresCol='scaled_features', labelCol='label', numTrees=10, seed=42)])\n"
        "train, test = df.randomSplit([0.8, 0.2], seed=42)\n"
        "auc = BinaryClassificationEvaluator(labelCol='label', metricName='areaUnderROC')"
        ".evaluate(pipeline.fit(train).transform(test))\n"
        "print(json.dumps(auc))",
        timeout=SPARK_TIMEOUT,
    ).last_json()
    assert out > 0.9, f"AUC {out} on cleanly separable data"


def test_json_aggregate_written_as_csv(kernel):
    out = kernel.run(
        SPARK + "import glob, json, os, tempfile\n"
        "from pyspark.sql.functions import avg, count, max, min\n"
        "d = tempfile.mkdtemp(dir=os.getcwd(), prefix='.verify-json-')\n"
        "records = [{'region': r, 'sales': s} for r, n in (('north', 3), ('south', 5))"
        " for s in range(10, 10 * (n + 1), 10)]\n"
        "with open(os.path.join(d, 'sales.json'), 'w') as f: json.dump(records, f)\n"
        "df = spark.read.option('multiline', 'true').json(os.path.join(d, 'sales.json'))\n"
        "summary = df.groupBy('region').agg(count('*').alias('total_records'),"
        " avg('sales').alias('avg_sales'), max('sales').alias('max_sales'), min('sales').alias('min_sales'))\n"
        "summary.coalesce(1).write.mode('overwrite').option('header', 'true')"
        ".csv(os.path.join(d, 'summary'))\n"
        "parts = glob.glob(os.path.join(d, 'summary', 'part-*.csv'))\n"
        "print(json.dumps([len(parts), sorted(open(parts[0]).read().splitlines())]))",
        timeout=SPARK_TIMEOUT,
    ).last_json()
    parts, lines = out
    assert parts == 1, f"expected one CSV part file, found {parts}"
    assert lines == sorted(["region,total_records,avg_sales,max_sales,min_sales",
                            "north,3,20.0,30,10", "south,5,30.0,50,10"])
