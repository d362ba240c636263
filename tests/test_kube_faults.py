"""Every check that the API server alone can prove on kubernetes (kube_proofs.KUBE_FAULTS), broken
on an emulated cluster the way it happens on a real one: `invoke verify --context emulated`
passes it on the healthy namespace and fails it, by name, on the broken one."""

from __future__ import annotations

import json

import pytest

from hubharness import checks, values
from hubharness.paths import VALUES_DIR
from hubharness.targets.kube import KubeTarget, spark_rbac

from . import kube_proofs
from . import test_kube_verify as emulated
from .helpers import run_invoke
from .kube_emulator import daemon_set_status
from .test_kube_verify import AUTH, PASSWORD, _closed_port, _pod, b64

ingress_controller = emulated.ingress_controller


@pytest.fixture
def chart(cluster, ingress_controller):
    """The emulated namespace with the chart installed on the kind values and native Spark's
    (the objects deploy makes for it too), and the ingress controller in front of it."""
    config = values.load(values.values_files("kind", [VALUES_DIR / checks.NEEDS_VALUES[checks.SPARK_NATIVE]]))
    emulated.install_chart(cluster, config=config)
    for body in spark_rbac.objects("spark-driver", "jh"):
        fields = {k: v for k, v in body.items() if k not in ("apiVersion", "kind", "metadata")}
        cluster.add("jh", f"{body['kind'].lower()}s", body["metadata"]["name"], **fields)
    cluster.ingress_controller = ingress_controller
    return cluster


def _puller_down(cluster) -> None:
    """The puller's DaemonSet as its controller reports a pod that is not Ready."""
    cluster.get("jh", "daemonsets", "continuous-image-puller")["status"] = daemon_set_status(1, 0)


def _backend(cluster) -> dict:
    return cluster.get("jh", "ingresses", "jupyterhub")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]


BREAK = {
    "namespace-terminating": lambda c: c.namespaces["jh"]["status"].update(phase="Terminating"),
    "foreign-pod-in-namespace": lambda c: c.add_pod("jh", "squatter", "web", release="other"),
    "secret-without-key": lambda c: c.get("jh", "secrets", "urbalurba-secrets").update(data={"other": b64("x")}),
    "user-pod-mounts-the-secret": lambda c: c.add_pod(
        "jh",
        "jupyter-eve",
        "singleuser-server",
        container="notebook",
        env=[{"name": AUTH, "valueFrom": {"secretKeyRef": {"name": "urbalurba-secrets", "key": AUTH}}}],
    ),
    "secret-rotated-behind-hub": lambda c: c.get("jh", "secrets", "urbalurba-secrets").update(
        data={AUTH: b64("rotated-but-the-hub-was-not-restarted")}
    ),
    "published-password": lambda c: c.get("jh", "secrets", "urbalurba-secrets").update(
        data={AUTH: b64(checks.PUBLISHED[0])}
    ),
    "password-in-hub-log": lambda c: c.logs.update({("jh", "hub-5d9c", "hub", False): f"login with {PASSWORD}\n"}),
    "hub-in-crash-loop": lambda c: _pod(c, "hub-5d9c")["status"].update(
        phase="Running",
        conditions=[{"type": "Ready", "status": "False"}],
        containerStatuses=[
            {
                "name": "hub",
                "ready": False,
                "restartCount": 4,
                "image": "example/image:1",
                "imageID": "",
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting"}},
            }
        ],
    ),
    "proxy-not-ready": lambda c: _pod(c, "proxy-7f4b")["status"].update(
        conditions=[{"type": "Ready", "status": "False"}]
    ),
    "ingress-points-elsewhere": lambda c: _backend(c).update(name="hub"),
    "image-puller-pull-backoff": lambda c: (
        _puller_down(c)
        or _pod(c, "continuous-image-puller-4kq2p")["status"].update(
            phase="Pending",
            conditions=[{"type": "Ready", "status": "False"}],
            initContainerStatuses=[
                {
                    "name": "image-pull-singleuser",
                    "ready": False,
                    "restartCount": 0,
                    "image": "quay.io/jupyter/pyspark-notebook:spark-3.5.3-typo",
                    "imageID": "",
                    "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}},
                }
            ],
        )
    ),
    "spark-driver-role-missing": lambda c: c.objects[("jh", "roles")].pop("spark-driver"),
    "driver-ports-closed": lambda c: c.get("jh", "networkpolicies", "singleuser")["spec"].update(
        ingress=emulated.chart_network_policies({})["singleuser"]["ingress"]
    ),
}


# More of the ways a check's fault happens on a cluster (the issue's list), each run through
# `invoke verify` too: the catalogue names one fault per check, these are others, each
# keyed by what the failed check must say (a missing NetworkPolicy, a password in a config
# map or an event, a log the context may not read, a hub that restarted and runs again).
MORE_BREAKS = {
    ("NS.state_is_isolated", "no NetworkPolicy for singleuser"): lambda c: c.objects[("jh", "networkpolicies")].pop(
        "singleuser"
    ),
    (
        "SPK.native_driver_may_manage_executor_pods",
        "may not create, get, list, watch, delete, deletecollection pods; create, deletecollection configmaps",
    ): lambda c: c.objects[("jh", "rolebindings")].pop("spark-driver"),
    ("SPK.native_driver_may_manage_executor_pods", "may not create, deletecollection pods; create"): lambda c: c.get(
        "jh", "roles", "spark-driver"
    ).update(rules=[{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "delete"]}]),
    (
        "SPK.native_executors_may_reach_the_driver",
        "NetworkPolicy singleuser selects a user pod for ingress and no rule of it allows it",
    ): lambda c: BREAK["driver-ports-closed"](c),
    ("SPK.native_executors_may_reach_the_driver", "NetworkPolicy executors-stay-in selects an executor pod"): (
        lambda c: c.add(
            "jh",
            "networkpolicies",
            "executors-stay-in",
            spec={"podSelector": {"matchLabels": {"spark-role": "executor"}}, "policyTypes": ["Egress"]},
        )
    ),
    ("SEC.secrets_appear_nowhere_else", "configmap notes key pw"): lambda c: c.add(
        "jh", "configmaps", "notes", data={"pw": f"password={PASSWORD}"}
    ),
    ("SEC.secrets_appear_nowhere_else", "event e1"): lambda c: c.add(
        "jh", "events", "e1", message=f"pulled with {PASSWORD}", involvedObject={"kind": "Pod", "name": "hub-5d9c"}
    ),
    ("SEC.secrets_appear_nowhere_else", "cannot read the log of pod proxy-7f4b (chp): 403"): lambda c: c.forbidden.add(
        ("GET", "/pods/proxy-7f4b/log")
    ),
    ("RDY.image_puller_has_the_notebook_image_on_every_node", "node emulated-node does not have"): lambda c: c.get(
        "", "nodes", "emulated-node"
    )["status"].update(images=[]),
    (
        "RDY.image_puller_has_the_notebook_image_on_every_node",
        "is in ImagePullBackOff pulling quay.io/jupyter/pyspark-notebook:spark-3.5.3-typo",
    ): lambda c: BREAK["image-puller-pull-backoff"](c),
    (
        "RDY.image_puller_has_the_notebook_image_on_every_node",
        "DaemonSet continuous-image-puller: 0 of 1 pod(s) Ready",
    ): lambda c: _puller_down(c) or c.objects[("jh", "pods")].pop("continuous-image-puller-4kq2p"),
    ("RDY.component_is_ready[hub]", "hub restarted 1 time(s)"): lambda c: _pod(c, "hub-5d9c")["status"].update(
        containerStatuses=[
            {
                "name": "hub",
                "ready": True,
                "restartCount": 1,
                "image": "example/image:1",
                "imageID": "",
                "state": {"running": {"startedAt": "2026-11-25T00:05:00Z"}},
                "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
            }
        ]
    ),
}


def verify(cluster, check_ids: list[str], hub_url: str = "", timeout: float = 120) -> tuple[dict[str, str], str]:
    """`invoke verify --context emulated` of these checks: their outcomes, and what it printed."""
    done = run_invoke(
        "verify",
        "--context",
        "emulated",
        "--namespace",
        "jh",
        "--check",
        ",".join(check_ids),
        timeout=timeout,
        # without a hub_url no hub is there: the checks must not need one, and reach nothing if they try
        HUBHARNESS_PUBLIC_URL=hub_url or f"http://127.0.0.1:{_closed_port()}",
    )
    summary = json.loads((cluster.tmp_path / "reports" / "latest" / "summary.json").read_text())
    return {c["id"]: c["outcome"] for c in summary["checks"]}, done.stdout + done.stderr


def test_the_catalogue_names_a_cluster_fault_for_each_check_the_api_server_proves():
    kube_checks = {c.id for c in checks.for_target(KubeTarget)}
    assert set(kube_proofs.KUBE_FAULTS) <= kube_checks, set(kube_proofs.KUBE_FAULTS) - kube_checks
    assert set(kube_proofs.KUBE_FAULTS.values()) == set(BREAK)


def test_a_healthy_namespace_passes_every_check_the_api_server_proves(chart):
    outcomes, output = verify(chart, list(kube_proofs.KUBE_FAULTS))
    assert outcomes == dict.fromkeys(kube_proofs.KUBE_FAULTS, "passed"), output[-3000:]


@pytest.mark.parametrize("check_id", list(kube_proofs.KUBE_FAULTS))
def test_verify_fails_the_check_its_cluster_fault_breaks(chart, check_id):
    BREAK[kube_proofs.KUBE_FAULTS[check_id]](chart)
    outcomes, output = verify(chart, [check_id])
    assert outcomes == {check_id: "failed"}, output[-3000:]
    assert f"failed checks: {check_id}" in output


@pytest.mark.parametrize(("check_id", "says"), list(MORE_BREAKS))
def test_verify_fails_the_check_on_another_way_its_fault_happens(chart, check_id, says):
    MORE_BREAKS[(check_id, says)](chart)
    outcomes, output = verify(chart, [check_id])
    assert outcomes == {check_id: "failed"}, output[-3000:]
    assert f"failed checks: {check_id}" in output
    summary = json.loads((chart.tmp_path / "reports" / "latest" / "summary.json").read_text())
    message = next(c["message"] for c in summary["checks"] if c["id"] == check_id)
    assert says in message, message
