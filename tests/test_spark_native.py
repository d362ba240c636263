"""Native Spark on Kubernetes (values/spark-native.yaml): its values refused in one line where
they could never give a notebook executors (and on local, which has no Kubernetes), and the
namespace objects deploy makes for it, as dicts and through the emulated API server.
"""

from __future__ import annotations

import pytest
import yaml

from hubharness import sparknative, values
from hubharness.errors import HarnessError
from hubharness.paths import VALUES_DIR
from hubharness.targets import target_for
from hubharness.targets.base import Footprint
from hubharness.targets.kube import spark_rbac
from hubharness.targets.kube.api import validated

from .helpers import chart_schemas_or_skip, run_invoke

NATIVE = VALUES_DIR / "spark-native.yaml"
K8S = "--master k8s://https://kubernetes.default.svc"


def native_values(*overlays: str) -> dict:
    merged = values.load([VALUES_DIR / "base.yaml", NATIVE])
    for overlay in overlays:
        merged = values.merge(merged, yaml.safe_load(overlay))
    return merged


# ---- the values --------------------------------------------------------------------------
def test_the_native_values_validate_and_describe_the_driver(monkeypatch):
    monkeypatch.setenv("HUBHARNESS_VALUES_SCHEMA", str(chart_schemas_or_skip()))
    merged, schema = values.load_validated([VALUES_DIR / "base.yaml", NATIVE], "4.4.0")
    assert schema.validated
    assert sparknative.refuse_unusable(merged) == sparknative.Settings("spark-driver")
    driver = sparknative.driver(merged)
    assert driver.master == "k8s://https://kubernetes.default.svc"
    assert driver.ports == {"spark.driver.port": 29413, "spark.blockManager.port": 29414}
    assert driver.executor_labels == {"spark-role": "executor"}
    assert driver.namespace is None  # $(SPARK_NAMESPACE): the pod's own, expanded by the kubelet
    env = values.env_entries(merged["singleuser"]["extraEnv"])
    assert env["SPARK_DRIVER_HOST"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert env["SPARK_DRIVER_POD"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert driver.conf["spark.driver.host"] == "$(SPARK_DRIVER_HOST)"
    assert driver.conf["spark.kubernetes.driver.pod.name"] == "$(SPARK_DRIVER_POD)"


@pytest.mark.parametrize(
    ("overlay", "says"),
    [
        ("custom: {sparkNative: {enabled: true, replicas: 2}}", "unknown values key custom.sparkNative.replicas"),
        ("custom: {sparkNative: {serviceAccount: Spark_Driver}}", "give a Kubernetes name"),
        ("custom: {sparkCluster: {enabled: true}}", "both enabled"),
        ("singleuser: {extraEnv: {PYSPARK_SUBMIT_ARGS: '--master local[2] pyspark-shell'}}", "local[2]"),
        (f"singleuser: {{extraEnv: {{PYSPARK_SUBMIT_ARGS: '{K8S} --deploy-mode cluster'}}}}", "--deploy-mode cluster"),
        (
            f"singleuser: {{extraEnv: {{PYSPARK_SUBMIT_ARGS: '{K8S} pyspark-shell'}}}}",
            "no spark.kubernetes.container.image",
        ),
        ("singleuser: {image: {tag: spark-3.5.0}}", "executors must run the notebook's Python"),
        ("singleuser: {serviceAccountName: default}", "user pods must run as the account"),
    ],
)
def test_native_values_that_could_never_give_executors_are_one_clear_line(overlay, says):
    with pytest.raises(HarnessError) as refused:
        sparknative.refuse_unusable(native_values(overlay))
    assert says in str(refused.value)
    assert "\n" not in str(refused.value)


def test_driver_ports_left_to_chance_are_refused():
    args = values.load_file(NATIVE)["singleuser"]["extraEnv"]["PYSPARK_SUBMIT_ARGS"]
    for fixed in ("--conf spark.driver.port=29413", "--conf spark.blockManager.port=29414"):
        args = args.replace(fixed, "")
    loose = yaml.safe_dump({"singleuser": {"extraEnv": {"PYSPARK_SUBMIT_ARGS": args}}})
    with pytest.raises(HarnessError, match="leaves spark.driver.port and spark.blockManager.port to chance"):
        sparknative.refuse_unusable(native_values(loose))


def test_the_local_target_refuses_native_mode_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HUBHARNESS_HOME", str(tmp_path / "home"))
    done = run_invoke("deploy", "--namespace", "native", "--values", str(NATIVE), timeout=120)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "pip's pyspark ships no Kubernetes resource manager" in last and "--context kind" in last, done.stderr
    assert not (tmp_path / "home" / "native").exists(), "nothing was started"


# ---- the namespace objects deploy makes ----------------------------------------------------
def test_the_rbac_objects_are_valid_and_grant_what_the_driver_does():
    made = spark_rbac.objects("spark-driver", "jh")
    assert [o["kind"] for o in made] == ["ServiceAccount", "Role", "RoleBinding"]
    for body in made:
        validated(body)
    pods = next(rule for rule in made[1]["rules"] if "pods" in rule["resources"])
    assert {"create", "list", "watch", "delete"} <= set(pods["verbs"])
    assert made[2]["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "spark-driver"}
    assert made[2]["subjects"] == [{"kind": "ServiceAccount", "name": "spark-driver", "namespace": "jh"}]


def test_deploy_makes_the_account_role_and_binding_and_remove_deletes_them(cluster, monkeypatch):
    cluster.add_pod("jh", "hub-abc", "hub")
    cluster.add_pod("jh", "proxy-abc", "proxy")
    target = target_for("emulated", "jh")
    target.deploy(values.values_files("emulated", [NATIVE]), chart_version="4.4.0")
    assert cluster.get("jh", "serviceaccounts", "spark-driver") is not None
    assert cluster.get("jh", "roles", "spark-driver")["rules"] == spark_rbac.role()["rules"]
    assert cluster.get("jh", "rolebindings", "spark-driver")["subjects"][0]["name"] == "spark-driver"
    target.deploy(values.values_files("emulated", [NATIVE]), chart_version="4.4.0")  # again: replaced, not refused
    assert ("PUT", "/apis/rbac.authorization.k8s.io/v1/namespaces/jh/roles/spark-driver") in cluster.requests
    cluster.objects[("jh", "pods")].clear()  # helm's --wait takes hub and proxy
    monkeypatch.setenv("HELM_RELEASES", "jupyterhub")
    native = [left for left in target.leftovers(Footprint()) if "(native Spark)" in left]
    assert native == [
        "service account spark-driver (native Spark)",
        "role spark-driver (native Spark)",
        "role binding spark-driver (native Spark)",
    ]
    target.remove()
    assert not [left for left in target.leftovers(Footprint()) if "(native Spark)" in left]
    for kind in ("serviceaccounts", "roles", "rolebindings"):
        assert cluster.get("jh", kind, "spark-driver") is None, kind
