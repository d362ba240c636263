"""What native Spark's checks stand on (hubharness.sparknative): the NetworkPolicy evaluator
over the chart's policies as the emulated cluster's stand-in renders them, the emulated RBAC
authorizer that answers the SubjectAccessReview, and where each check is proven.

Executor pods themselves need a real cluster: the checks that watch them run on kind, and
say so.
"""

from __future__ import annotations

import pytest

from hubharness import checks, faults, sparknative
from hubharness.selftest import Selftest
from hubharness.targets.kube import KubeTarget, netpol, spark_rbac
from hubharness.targets.kube.deployment import NETWORK_POLICIES, NOTEBOOK_PORTS
from hubharness.targets.local import LocalTarget
from hubharness.targets.remote import RemoteTarget

from . import kube_proofs
from .kube_emulator import KubeEmulator
from .test_kube_verify import chart_network_policies
from .test_spark_native import native_values

NATIVE_CHECKS = [c.id for c in checks.CATALOGUE if c.needs == checks.SPARK_NATIVE]


def test_fault_overlays_change_only_their_setting():
    native = sparknative.driver(native_values()).conf
    for name, changed in (
        ("one-executor-pod", {"spark.executor.instances": "1"}),
        ("executor-pods-kept", {"spark.kubernetes.executor.deleteOnTermination": "false"}),
        ("executors-without-owner", {"spark.kubernetes.driver.pod.name": None}),
    ):
        conf = sparknative.driver(native_values(faults.BY_NAME[name].overlay)).conf
        expected = {k: v for k, v in {**native, **changed}.items() if v is not None}
        assert conf == expected, name
    opened = native_values(faults.BY_NAME["driver-ports-closed"].overlay)
    assert opened["singleuser"]["networkPolicy"]["ingress"] == []


# ---- the emulated RBAC authorizer ----------------------------------------------------------
def _review(emulator, verb: str, user: str = "system:serviceaccount:jh:spark-driver") -> dict:
    _, groups = spark_rbac.subject("spark-driver", "jh")
    spec = {"user": user, "groups": groups, "resourceAttributes": {"namespace": "jh", "verb": verb, "resource": "pods"}}
    return emulator.review_access(spec)


def test_the_emulated_authorizer_allows_only_what_a_bound_role_grants():
    with KubeEmulator() as emulator:
        assert _review(emulator, "create") == {"allowed": False, "reason": ""}
        for body in spark_rbac.objects("spark-driver", "jh")[1:]:
            emulator.add(
                "jh",
                body["kind"].lower() + "s",
                body["metadata"]["name"],
                **{k: v for k, v in body.items() if k not in ("apiVersion", "kind", "metadata")},
            )
        allowed = _review(emulator, "create")
        assert allowed["allowed"] and 'RoleBinding "spark-driver/jh" of Role "spark-driver"' in allowed["reason"]
        assert not _review(emulator, "escalate")["allowed"]
        assert not _review(emulator, "create", user="system:serviceaccount:jh:default")["allowed"]
        assert not _review(emulator, "create", user="system:serviceaccount:other:spark-driver")["allowed"]
        emulator.objects[("jh", "roles")].pop("spark-driver")
        assert not _review(emulator, "create")["allowed"], "a binding to a missing Role grants nothing"
        emulator.add("", "clusterroles", "edit", rules=[{"apiGroups": [""], "resources": ["*"], "verbs": ["*"]}])
        emulator.objects[("jh", "rolebindings")]["spark-driver"]["roleRef"] = {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "edit",
        }
        assert _review(emulator, "delete")["allowed"], "a RoleBinding may grant a ClusterRole in its namespace"


# ---- the NetworkPolicy evaluator -----------------------------------------------------------
DRIVER = netpol.Pod(
    "jh", {"component": "singleuser-server", "app": "jupyterhub", "release": "jupyterhub"}, NOTEBOOK_PORTS
)
EXECUTOR = netpol.Pod("jh", {"spark-role": "executor", "spark-app-selector": "spark-1"})
NAMESPACES = {
    "jh": {"kubernetes.io/metadata.name": "jh"},
    "other": {"kubernetes.io/metadata.name": "other", "team": "a"},
}


def _policies(config: dict, ns: str = "jh") -> list[dict]:
    return [
        {"metadata": {"name": n, "namespace": ns}, "spec": spec} for n, spec in chart_network_policies(config).items()
    ]


def test_the_stand_in_renders_every_policy_the_chart_makes():
    assert set(chart_network_policies({})) == set(NETWORK_POLICIES)


def test_the_charts_default_singleuser_policy_keeps_executors_from_the_driver_and_says_so():
    egress, ingress = netpol.connection(_policies({}), EXECUTOR, DRIVER, 29413, NAMESPACES)
    assert egress.allowed and not egress.selecting, "nothing selects executor pods for egress"
    assert not ingress.allowed and ingress.selecting == ("singleuser",)
    assert "NetworkPolicy singleuser selects the driver" in ingress.said("ingress", "the driver")
    # the hub, with the label the chart lets in, reaches the notebook port by its name only
    hub = netpol.Pod("jh", {"hub.jupyter.org/network-access-singleuser": "true"})
    assert netpol.connection(_policies({}), hub, DRIVER, 8888, NAMESPACES)[1].allowed
    assert not netpol.connection(_policies({}), hub, DRIVER, 8889, NAMESPACES)[1].allowed


def test_the_native_values_open_exactly_the_driver_ports_to_executors():
    policies = _policies(native_values())
    for port in (29413, 29414):
        egress, ingress = netpol.connection(policies, EXECUTOR, DRIVER, port, NAMESPACES)
        assert egress.allowed and ingress.allowed and ingress.allowing == "singleuser", port
    assert not netpol.connection(policies, EXECUTOR, DRIVER, 29415, NAMESPACES)[1].allowed
    stranger = netpol.Pod("jh", {"app": "web"})
    assert not netpol.connection(policies, stranger, DRIVER, 29413, NAMESPACES)[1].allowed
    elsewhere = netpol.Pod("other", EXECUTOR.labels)  # a podSelector alone means the policy's namespace
    assert not netpol.connection(policies, elsewhere, DRIVER, 29413, NAMESPACES)[1].allowed
    # the driver's own egress to executors and the API server
    assert netpol.connection(policies, DRIVER, EXECUTOR, 41000, NAMESPACES)[0].allowed
    api_server = netpol.Pod("default", {}, ip="10.96.0.1")
    assert netpol.connection(policies, DRIVER, api_server, 443, NAMESPACES)[0].allowed
    assert not netpol.connection(_policies({}), DRIVER, api_server, 443, NAMESPACES)[0].allowed


@pytest.mark.parametrize(
    ("peer", "source", "allowed"),
    [
        ({"namespaceSelector": {"matchLabels": {"team": "a"}}}, netpol.Pod("other", {}), True),
        ({"namespaceSelector": {"matchLabels": {"team": "a"}}}, netpol.Pod("jh", {}), False),
        (
            {"namespaceSelector": {}, "podSelector": {"matchLabels": {"spark-role": "executor"}}},
            netpol.Pod("other", {"spark-role": "executor"}),
            True,
        ),
        (
            {"podSelector": {"matchExpressions": [{"key": "spark-role", "operator": "In", "values": ["executor"]}]}},
            EXECUTOR,
            True,
        ),
        ({"podSelector": {"matchExpressions": [{"key": "spark-role", "operator": "DoesNotExist"}]}}, EXECUTOR, False),
        (
            {"ipBlock": {"cidr": "10.244.0.0/16", "except": ["10.244.1.0/24"]}},
            netpol.Pod("jh", {}, ip="10.244.2.7"),
            True,
        ),
        (
            {"ipBlock": {"cidr": "10.244.0.0/16", "except": ["10.244.1.0/24"]}},
            netpol.Pod("jh", {}, ip="10.244.1.7"),
            False,
        ),
    ],
)
def test_peers_are_read_as_the_api_defines_them(peer, source, allowed):
    policy = {
        "metadata": {"name": "p", "namespace": "jh"},
        "spec": {"podSelector": {}, "ingress": [{"from": [peer], "ports": [{"port": 29000, "endPort": 29500}]}]},
    }
    assert netpol.connection([policy], source, DRIVER, 29413, NAMESPACES)[1].allowed is allowed


def test_a_policy_without_rules_isolates_and_one_of_another_type_does_not():
    deny = {"metadata": {"name": "deny", "namespace": "jh"}, "spec": {"podSelector": {}}}
    egress_only = {
        "metadata": {"name": "out", "namespace": "jh"},
        "spec": {"podSelector": {}, "policyTypes": ["Egress"]},
    }
    assert not netpol.connection([deny], EXECUTOR, DRIVER, 29413, NAMESPACES)[1].allowed
    egress, ingress = netpol.connection([egress_only], EXECUTOR, DRIVER, 29413, NAMESPACES)
    assert ingress.allowed and not egress.allowed and egress.selecting == ("out",)
    other_ns = {"metadata": {"name": "deny", "namespace": "other"}, "spec": {"podSelector": {}}}
    assert netpol.connection([other_ns], EXECUTOR, DRIVER, 29413, NAMESPACES)[1].allowed


# ---- where the checks are proven ------------------------------------------------------------
def test_native_checks_apply_on_kubernetes_only_and_say_where_they_are_proven():
    assert len(NATIVE_CHECKS) == 5
    for check_id in NATIVE_CHECKS:
        check = checks.BY_ID[check_id]
        assert LocalTarget.why_not_applicable(check) and RemoteTarget.why_not_applicable(check)
        assert not KubeTarget.why_not_applicable(check)
        assert KubeTarget.why_cannot_do(faults.BY_NAME[KubeTarget.fault_for(check)]) == ""
    emulated = {c for c in NATIVE_CHECKS if c in kube_proofs.KUBE_FAULTS}
    assert emulated == {"SPK.native_driver_may_manage_executor_pods", "SPK.native_executors_may_reach_the_driver"}
    for check_id in set(NATIVE_CHECKS) - emulated:
        proof = kube_proofs.kube_proof(checks.BY_ID[check_id])
        assert "pip's pyspark ships no Kubernetes resource manager" in proof and "kind" in proof, check_id


def test_a_local_selftest_lists_the_native_checks_as_not_proven_with_why():
    selftest = Selftest("local", "st", [], "4.4.0", None, say=lambda *_: None)
    listed = selftest._elsewhere("SPK")
    assert [row["id"] for row in listed] == NATIVE_CHECKS
    assert all("applies to kubernetes only" in row["why"] and "pyspark" in row["why"] for row in listed)
    assert selftest._elsewhere("AUTH") == []
