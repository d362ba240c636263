"""The kubernetes target's deploy path, driven over HTTP against tests/kube_emulator.py
with the real kubernetes client, and a recording stand-in for helm on PATH.

These prove the calls and their order, not that a cluster runs the hub: that is the
nightly's job on kind.
"""

import base64
import json
import os
import sys
import time

import pytest
import requests
import yaml
from kubernetes.client.exceptions import ApiException

from hubharness import values
from hubharness.errors import HarnessError, WaitTimeout
from hubharness.targets import target_for
from hubharness.targets.base import Footprint
from hubharness.targets.kube import api as kube_api
from hubharness.targets.kube import target as kube
from hubharness.waiting import wait_until

from .helpers import PROJECT_ROOT, run_invoke
from .kube_emulator import CLUSTER
from .test_kube_verify import chart_release


def deploy(namespace="jh"):
    return target_for("emulated", namespace).deploy(values.values_files("emulated"), chart_version="4.4.0")


def test_deploy_creates_namespace_secret_release_and_ingress(cluster):
    cluster.add_pod("jh", "hub-abc", "hub")
    cluster.add_pod("jh", "proxy-abc", "proxy")
    result = deploy()
    assert "jh" in cluster.namespaces
    secret = cluster.get("jh", "secrets", "urbalurba-secrets")
    assert base64.b64decode(secret["data"]["JUPYTERHUB_AUTH_PASSWORD"]).decode() == "from-the-environment-123"
    assert result.secret_origin == "environment"
    base = str(PROJECT_ROOT / "values" / "base.yaml")
    where = ["--kube-context", "emulated", "--kubeconfig", os.environ["KUBECONFIG"]]
    assert cluster.helm_calls() == [
        ["repo", "add", "jupyterhub", "https://hub.jupyter.org/helm-chart/", "--force-update", *where],
        ["repo", "update", "jupyterhub", *where],
        [
            "upgrade",
            "--install",
            "jupyterhub",
            "jupyterhub/jupyterhub",
            "--version",
            "4.4.0",
            "--namespace",
            "jh",
            "-f",
            base,
            "--timeout",
            "300s",
            *where,
        ],
    ]
    ingress = cluster.get("jh", "ingresses", "jupyterhub")
    assert ingress["spec"]["rules"][0]["host"] == "jupyterhub.localhost"
    assert not any("from-the-environment-123" in arg for call in cluster.helm_calls() for arg in call)


def test_second_deploy_keeps_the_secret_and_replaces_the_ingress(cluster):
    cluster.add_pod("jh", "hub-abc", "hub")
    cluster.add_pod("jh", "proxy-abc", "proxy")
    deploy()
    os.environ.pop("JUPYTERHUB_AUTH_PASSWORD")
    assert deploy().secret_origin == "stored"
    assert ("PUT", "/apis/networking.k8s.io/v1/namespaces/jh/ingresses/jupyterhub") in cluster.requests


def test_the_ingress_host_is_the_one_the_environment_names(cluster, monkeypatch):
    """One host is one Ingress in a cluster: selftest's namespaces each name their own."""
    cluster.add_pod("jh", "hub-abc", "hub")
    cluster.add_pod("jh", "proxy-abc", "proxy")
    monkeypatch.setenv("HUBHARNESS_INGRESS_HOST", "jh.jupyterhub.localhost")
    deploy()
    assert cluster.get("jh", "ingresses", "jupyterhub")["spec"]["rules"][0]["host"] == "jh.jupyterhub.localhost"
    monkeypatch.setenv("HUBHARNESS_INGRESS_HOST", "jh_hub")
    with pytest.raises(HarnessError, match="is not a host name"):
        deploy("other")
    assert "other" not in cluster.namespaces, "refused before any change"


def test_crashloop_fails_fast_naming_the_pod(cluster):
    cluster.add_pod("jh", "hub-crash", "hub", waiting="CrashLoopBackOff")
    started = time.monotonic()
    with pytest.raises(HarnessError, match=r"pod hub-crash \(hub\) is in CrashLoopBackOff"):
        deploy()
    # not the wait's timeout: said at the first look (a deploy itself runs helm three times
    # and takes 7-12 s on 2 busy cores: a bound of seconds would time the machine)
    assert time.monotonic() - started < kube.READY_TIMEOUT / 10


def test_image_pull_failure_fails_fast(cluster):
    cluster.add_pod("jh", "hub-ok", "hub")
    cluster.add_pod("jh", "proxy-pull", "proxy", waiting="ImagePullBackOff")
    with pytest.raises(HarnessError, match="ImagePullBackOff"):
        deploy()


def test_pods_that_never_get_ready_time_out_naming_the_wait(cluster, monkeypatch):
    monkeypatch.setattr(kube, "READY_TIMEOUT", 1)
    cluster.add_pod("jh", "hub-slow", "hub", ready=False)
    with pytest.raises(WaitTimeout, match="the hub pod in jh to be Running and Ready"):
        deploy()


def test_secret_without_its_key_is_refused_before_helm(cluster):
    cluster.add_namespace("jh")
    cluster.objects[("jh", "secrets")] = {
        "urbalurba-secrets": {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "urbalurba-secrets"},
            "data": {"OTHER": "eA=="},
        }
    }
    with pytest.raises(
        HarnessError, match="secret urbalurba-secrets in namespace jh has no key JUPYTERHUB_AUTH_PASSWORD"
    ):
        deploy()
    assert cluster.helm_calls() == []


def test_terminating_namespace_is_refused(cluster):
    cluster.add_namespace("jh", phase="Terminating")
    with pytest.raises(HarnessError, match="namespace jh is terminating"):
        deploy()


def test_unknown_context_lists_the_contexts_there_are(cluster):
    with pytest.raises(HarnessError, match="unknown context 'prod': use one of local, kind, remote, emulated"):
        target_for("prod", "jh")


def test_cli_deploys_to_a_kube_context(cluster):

    cluster.add_pod("jh", "hub-abc", "hub")
    cluster.add_pod("jh", "proxy-abc", "proxy")
    done = run_invoke("deploy", "--context", "emulated", "--namespace", "jh")  # bound: run_invoke's 120 s
    assert done.returncode == 0, done.stderr
    assert "deployed: release jupyterhub in namespace jh (context emulated)" in done.stdout
    assert "from-the-environment-123" not in done.stdout + done.stderr


def test_backup_of_nothing_deployed_says_deploy_first(cluster):
    with pytest.raises(
        HarnessError, match=r"nothing deployed in namespace jh \(context emulated\): run `invoke deploy"
    ):
        target_for("emulated", "jh").backup()


def test_created_objects_are_valid_kubernetes_objects(cluster):
    import kubernetes_validate

    cluster.add_pod("jh", "hub-abc", "hub")
    cluster.add_pod("jh", "proxy-abc", "proxy")
    deploy()
    created = [body for method, _, body in cluster.bodies if method in ("POST", "PUT")]
    assert {b["kind"] for b in created} == {"Namespace", "Secret", "Ingress"}
    for body in created:
        kubernetes_validate.validate(body, kube_api.KUBE_SCHEMA_VERSION, strict=True)


def test_an_invalid_manifest_is_refused_before_anything_is_created(cluster, monkeypatch, tmp_path):
    broken = yaml.safe_load(kube.INGRESS.read_text())
    broken["spec"]["rules"][0]["http"]["paths"][0]["pathTyp"] = "Prefix"
    (tmp_path / "ingress.yaml").write_text(yaml.safe_dump(broken))
    monkeypatch.setattr(kube, "INGRESS", tmp_path / "ingress.yaml")
    cluster.add_pod("jh", "hub-abc", "hub")
    with pytest.raises(
        HarnessError,
        match=r"Ingress jupyterhub is not a valid Kubernetes 1\.33 object: "
        r"Additional properties .*'pathTyp'",
    ):
        deploy()
    assert cluster.namespaces == {} and cluster.helm_calls() == []


def test_remove_uninstalls_stops_user_pods_and_keeps_the_secret(cluster, monkeypatch):
    cluster.add_pod("jh", "hub-abc", "hub")
    cluster.add_pod("jh", "proxy-abc", "proxy")
    deploy()
    # helm's --wait takes hub and proxy; KubeSpawner's pods are not helm's
    cluster.objects[("jh", "pods")].clear()
    cluster.add_pod("jh", "jupyter-alice", "singleuser-server", container="notebook")
    monkeypatch.setenv("HELM_RELEASES", "jupyterhub")
    said = target_for("emulated", "jh").remove().message
    assert said.startswith("removed release jupyterhub from jh; kept the Secret and user volumes")
    assert cluster.helm_calls()[-1][:4] == ["uninstall", "jupyterhub", "--namespace", "jh"]
    assert not cluster.objects[("jh", "pods")], "a user pod outlived remove"
    assert cluster.get("jh", "secrets", "urbalurba-secrets")
    assert cluster.namespaces["jh"]["status"]["phase"] == "Active"


def test_remove_without_a_release_says_nothing_is_deployed(cluster):
    said = target_for("emulated", "jh").remove().message
    assert said == "nothing deployed in namespace jh (context emulated): nothing to remove"
    assert [c[0] for c in cluster.helm_calls()] == ["list"]


def test_purge_deletes_the_namespace_and_waits_until_it_is_gone(cluster, monkeypatch):
    cluster.add_namespace("jh", labels=kube.MANAGED_BY)  # as deploy made it
    monkeypatch.setenv("HELM_RELEASES", "jupyterhub")
    assert "and namespace jh" in target_for("emulated", "jh").remove(purge=True).message
    assert "jh" not in cluster.namespaces, "remove --purge returned while the namespace was still there"


def test_purge_in_a_namespace_deploy_did_not_make_keeps_it_and_all_that_is_not_the_deployments(cluster, monkeypatch):
    """kind's deployment goes to namespace default, which no one may delete (a real server's
    403); a namespace of the user's own holds more than the hub. Purge deletes what the
    deployment put there: its users' volumes, the Secret and the Ingress deploy made."""
    cluster.add_namespace("default")
    with pytest.raises(ApiException) as refused:
        target_for("emulated", "default").core().delete_namespace("default")
    assert refused.value.status == 403
    cluster.add_pod("default", "hub-abc", "hub")
    cluster.add_pod("default", "proxy-abc", "proxy")
    deploy("default")
    cluster.objects[("default", "pods")].clear()  # as helm uninstall --wait leaves it
    for claim, user, release in (("claim-ann", "ann", "jupyterhub"), ("claim-bo", "bo", "another-hub")):
        made = cluster.add("default", "persistentvolumeclaims", claim, spec={"accessModes": ["ReadWriteOnce"]})
        made["metadata"] |= {"annotations": {"hub.jupyter.org/username": user}, "labels": {"release": release}}
    cluster.add("default", "persistentvolumeclaims", "postgres-data", spec={"accessModes": ["ReadWriteOnce"]})
    cluster.add("default", "secrets", "postgres", type="Opaque", data={})
    target = target_for("emulated", "default")
    assert target.leftovers(Footprint()) == ["state: volume claim claim-ann", "state: secret urbalurba-secrets"]
    monkeypatch.setenv("HELM_RELEASES", "jupyterhub")
    said = target.remove(purge=True).message
    assert "kept namespace default and all else in it: deploy did not make it" in said
    monkeypatch.setenv("HELM_RELEASES", "")  # uninstalled
    assert target.leftovers(Footprint()) == []
    assert cluster.namespaces["default"]["status"]["phase"] == "Active"
    left = {kind: set(cluster.objects.get(("default", kind), {})) for kind in ("persistentvolumeclaims", "secrets")}
    assert left == {"persistentvolumeclaims": {"claim-bo", "postgres-data"}, "secrets": {"postgres"}}
    assert not cluster.objects.get(("default", "ingresses")), "the Ingress deploy made outlived purge"
    again = target_for("emulated", "default").remove(purge=True)
    assert again.message.startswith("nothing deployed in namespace default") and not again.removed


def test_purge_of_what_is_gone_says_nothing_is_deployed(cluster):
    assert "nothing deployed" in target_for("emulated", "jh").remove(purge=True).message


def test_a_fresh_target_runs_helm_without_a_tool_check_first(cluster, monkeypatch):
    """helm is found when first used, not as a side effect of deploy's tool check."""
    monkeypatch.setenv("HELM_RELEASES", "jupyterhub")
    assert target_for("emulated", "jh").helm_run("list", "--short", what="helm list").split() == ["jupyterhub"]


def test_remove_keeps_user_volumes_and_secret_and_leaves_no_pod(cluster, monkeypatch):
    cluster.add_pod("jh", "hub-abc", "hub")
    cluster.add_pod("jh", "proxy-abc", "proxy")
    deploy()
    cluster.add("jh", "persistentvolumeclaims", "claim-rmv-2dcat", spec={"accessModes": ["ReadWriteOnce"]})
    cluster.get("jh", "persistentvolumeclaims", "claim-rmv-2dcat")["metadata"]["annotations"] = {
        "hub.jupyter.org/username": "rmv-cat"
    }
    cluster.add_release("jh", chart_release(values.load(values.values_files("emulated"))))  # as helm leaves it
    target = target_for("emulated", "jh")
    footprint = target.footprint()
    assert target.leftovers(footprint) == ["pod hub-abc", "pod proxy-abc", "state: namespace jh (Active)"]
    cluster.objects[("jh", "pods")].clear()  # as helm uninstall --wait leaves it
    cluster.objects[("jh", "secrets")].pop("sh.helm.release.v1.jupyterhub.v1")  # and its record
    assert target.user_data_kept("rmv-cat", footprint), target.user_data_kept("rmv-cat", footprint).detail
    assert not target.user_data_kept("someone-else", footprint)
    assert target.leftovers(footprint) == ["state: namespace jh (Active)"], "what remove keeps, and no more"
    monkeypatch.setenv("HELM_RELEASES", "jupyterhub")
    target.remove(purge=True)
    assert not target.user_data_kept("rmv-cat", footprint)


def test_what_remove_keeps_is_judged_by_the_secret_that_was_deployed(cluster):
    """--values renamed the password's Secret: after remove (helm's record gone with the
    release) the check must look at that Secret, not at the one the values files name."""
    config = values.load(values.values_files("emulated"))
    config["hub"]["extraEnv"]["JUPYTERHUB_AUTH_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] = "team-secrets"
    cluster.add_namespace("jh")
    cluster.add_release("jh", chart_release(config))
    cluster.add("jh", "persistentvolumeclaims", "claim-ann", spec={"accessModes": ["ReadWriteOnce"]})
    cluster.get("jh", "persistentvolumeclaims", "claim-ann")["metadata"]["annotations"] = {
        "hub.jupyter.org/username": "ann"
    }
    target = target_for("emulated", "jh")
    footprint = target.footprint()
    assert footprint.secret == ("team-secrets", "JUPYTERHUB_AUTH_PASSWORD")
    cluster.objects[("jh", "secrets")].pop("sh.helm.release.v1.jupyterhub.v1")
    cluster.add("jh", "secrets", "urbalurba-secrets", type="Opaque", data={"JUPYTERHUB_AUTH_PASSWORD": "eA=="})
    kept = target.user_data_kept("ann", footprint)
    assert not kept and "secret team-secrets gone" in kept.detail, kept.detail
    cluster.add("jh", "secrets", "team-secrets", type="Opaque", data={"JUPYTERHUB_AUTH_PASSWORD": "eA=="})
    assert target.user_data_kept("ann", footprint)


def test_a_chart_version_helm_cannot_find_is_one_line(cluster, monkeypatch):
    monkeypatch.setenv("HELM_FAIL_UPGRADE", 'Error: chart "jupyterhub" matching 9.9.9 not found in jupyterhub index')
    monkeypatch.delenv("HUBHARNESS_VALUES_SCHEMA", raising=False)
    with pytest.raises(
        HarnessError,
        match=r"^helm upgrade --install \(chart 9\.9\.9\) failed: Error: chart "
        r'"jupyterhub" matching 9\.9\.9 not found in jupyterhub index$',
    ):
        target_for("emulated", "jh").deploy(values.values_files("emulated"), chart_version="9.9.9")


KIND = """#!{python}
import json, os, sys
args = sys.argv[1:]
state = os.environ["KIND_STATE"]
clusters = json.load(open(state)) if os.path.exists(state) else []
with open(os.environ["KIND_RECORD"], "a") as f:
    f.write(json.dumps(args) + "\\n")
opt = lambda name: next(a.split("=", 1)[1] for a in args if a.startswith(name + "=")) if any(
    a.startswith(name + "=") for a in args) else args[args.index(name) + 1]
if args[:2] == ["get", "clusters"]:
    print("\\n".join(clusters))
elif args[:2] in (["create", "cluster"], ["export", "kubeconfig"]):
    open(opt("--kubeconfig"), "w").write(open(os.environ["KIND_KUBECONFIG"]).read())
    clusters = sorted(set(clusters) | {{opt("--name")}})
elif args[:2] == ["delete", "cluster"]:
    clusters = [c for c in clusters if c != opt("--name")]
json.dump(clusters, open(state, "w"))
"""


def test_kind_cluster_is_created_then_reused_and_purge_deletes_it(cluster, monkeypatch):
    """kind (and docker) as recording stand-ins; pytest-kind's KindCluster drives them."""
    tmp = cluster.tmp_path
    (tmp / "kind-kubeconfig").write_text(yaml.safe_dump(cluster.kubeconfig(context="kind-hubharness")))
    for tool, script in (("kind", KIND.format(python=sys.executable)), ("docker", "#!/bin/sh\nexit 0\n")):
        (cluster.bin_dir / tool).write_text(script)
        (cluster.bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("KIND_STATE", str(tmp / "kind-state.json"))
    monkeypatch.setenv("KIND_RECORD", str(tmp / "kind.jsonl"))
    monkeypatch.setenv("KIND_KUBECONFIG", str(tmp / "kind-kubeconfig"))
    cluster.add_pod("jh", "hub-abc", "hub")
    cluster.add_pod("jh", "proxy-abc", "proxy")
    kubeconfig = str(tmp / "home" / ".kind" / "kubeconfig")

    target_for("kind", "jh").deploy(values.values_files("kind"), chart_version="4.4.0")
    target_for("kind", "jh").deploy(values.values_files("kind"), chart_version="4.4.0")
    monkeypatch.setenv("HELM_RELEASES", "jupyterhub")
    cluster.objects[("jh", "pods")].clear()  # what helm uninstall --wait does
    said = target_for("kind", "jh").remove(purge=True).message

    calls = [json.loads(line) for line in (tmp / "kind.jsonl").read_text().splitlines()]
    assert calls == [
        ["get", "clusters"],
        ["get", "clusters"],  # pytest-kind looks again before creating
        ["create", "cluster", "--name=hubharness", f"--kubeconfig={kubeconfig}", "--config", str(kube_api.KIND_CONFIG)],
        ["get", "clusters"],
        ["export", "kubeconfig", "--name", "hubharness", "--kubeconfig", kubeconfig],
        ["get", "clusters"],
        ["delete", "cluster", "--name=hubharness", f"--kubeconfig={kubeconfig}"],
    ]
    assert all("--kube-context" in c and "kind-hubharness" in c for c in cluster.helm_calls())
    assert said.endswith("deleted kind cluster hubharness (--keep-cluster keeps it)")
    assert not os.path.exists(kubeconfig)


def test_kind_purge_keeps_a_cluster_other_releases_still_use(cluster, monkeypatch):
    tmp = cluster.tmp_path
    kubeconfig = tmp / "home" / ".kind" / "kubeconfig"
    kubeconfig.parent.mkdir(parents=True)
    kubeconfig.write_text(yaml.safe_dump(cluster.kubeconfig(context="kind-hubharness")))
    (cluster.bin_dir / "kind").write_text('#!/bin/sh\necho "kind $*" >> "$KIND_RECORD"\n')
    (cluster.bin_dir / "docker").write_text("#!/bin/sh\nexit 0\n")
    for tool in ("kind", "docker"):
        (cluster.bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("KIND_RECORD", str(tmp / "kind.txt"))
    monkeypatch.setenv("HELM_RELEASES", "jupyterhub")
    monkeypatch.setenv("HELM_ALL_RELEASES", "jupyterhub")  # the deployment under test, say
    cluster.add_namespace("jh-scratch")
    said = target_for("kind", "jh-scratch").remove(purge=True).message
    assert said.endswith("kept kind cluster hubharness: other releases run in it")
    assert kubeconfig.exists() and not (tmp / "kind.txt").exists()


def test_a_deployment_beside_another_gets_no_ingress(cluster):
    cluster.add_pod("jh-scratch", "hub-abc", "hub")
    cluster.add_pod("jh-scratch", "proxy-abc", "proxy")
    files = [*values.values_files("kind"), values.VALUES_DIR / "scratch.yaml"]
    target_for("emulated", "jh-scratch").deploy(files, chart_version="4.4.0", beside=True)
    assert cluster.get("jh-scratch", "ingresses", "jupyterhub") is None
    upgrade = cluster.helm_calls()[-1]
    last_values_file = upgrade[upgrade.index("--timeout") - 2 : upgrade.index("--timeout")]
    assert last_values_file == ["-f", str(values.VALUES_DIR / "scratch.yaml")]


def test_a_node_port_taken_by_another_namespace_is_refused_before_anything_changes(cluster):
    cluster.add_namespace("first")
    cluster.add_service("first", "proxy-public", node_port=30080)
    cluster.add_service("first", "hub")
    with pytest.raises(
        HarnessError,
        match="NodePort 30080 is taken by service proxy-public in namespace first: "
        "deploy with --values setting proxy.service.nodePorts.http",
    ):
        target_for("emulated", "second").deploy(values.values_files("kind"), chart_version="4.4.0")
    assert "second" not in cluster.namespaces and cluster.helm_calls() == []


def test_redeploying_keeps_its_own_node_port(cluster):
    cluster.add_service("jh", "proxy-public", node_port=30080)
    cluster.add_pod("jh", "hub-abc", "hub")
    cluster.add_pod("jh", "proxy-abc", "proxy")
    target_for("emulated", "jh").deploy(values.values_files("kind"), chart_version="4.4.0")


def test_purge_deletes_retained_volumes_and_leftovers_see_cluster_scoped_objects(cluster, monkeypatch):
    """A volume with reclaim policy Retain and helm's cluster roles outlive the namespace."""
    cluster.add_pod("jh", "hub-abc", "hub")
    cluster.add_pod("jh", "proxy-abc", "proxy")
    deploy()
    for name, ns in (("pvc-ann", "jh"), ("pvc-elsewhere", "other")):
        cluster.add(
            CLUSTER,
            "persistentvolumes",
            name,
            status={"phase": "Bound"},
            spec={"persistentVolumeReclaimPolicy": "Retain", "claimRef": {"namespace": ns, "name": f"claim-{name}"}},
        )
    role = cluster.add(CLUSTER, "clusterroles", "jupyterhub-user-scheduler", rules=[])
    role["metadata"]["annotations"] = {
        "meta.helm.sh/release-name": "jupyterhub",
        "meta.helm.sh/release-namespace": "jh",
    }
    target = target_for("emulated", "jh")
    left = target.leftovers(Footprint())
    assert "persistent volume pvc-ann (Retain, Bound) of claim claim-pvc-ann" in left
    assert "cluster role jupyterhub-user-scheduler" in left
    assert not [item for item in left if "pvc-elsewhere" in item]
    cluster.objects[("jh", "pods")].clear()  # as helm uninstall --wait leaves it
    monkeypatch.setenv("HELM_RELEASES", "jupyterhub")
    said = target.remove(purge=True).message
    assert "deleted the retained persistent volume(s) pvc-ann" in said
    assert cluster.get(CLUSTER, "persistentvolumes", "pvc-ann") is None
    assert cluster.get(CLUSTER, "persistentvolumes", "pvc-elsewhere") is not None
    # the recording helm deletes nothing: a cluster role helm left behind is what RMV sees
    assert target.leftovers(Footprint()) == ["cluster role jupyterhub-user-scheduler"]


# ---- status codes as a real API server gives them (issue 11, part 2) ------------------------
def test_an_update_of_a_missing_object_is_404_and_never_creates_it(cluster):
    from kubernetes.client.exceptions import ApiException

    cluster.add_namespace("jh")
    target = target_for("emulated", "jh")
    body = yaml.safe_load(kube.INGRESS.read_text())
    with pytest.raises(ApiException) as put:
        target.networking().replace_namespaced_ingress("jupyterhub", "jh", body)
    with pytest.raises(ApiException) as patch:
        target.apps().patch_namespaced_deployment_scale("hub", "jh", {"spec": {"replicas": 0}})
    assert (put.value.status, patch.value.status) == (404, 404)
    assert cluster.get("jh", "ingresses", "jupyterhub") is None


def test_deploy_over_an_existing_namespace_uses_it_and_replaces_the_ingress(cluster):
    cluster.add_namespace("jh")
    cluster.objects[("jh", "ingresses")] = {"jupyterhub": yaml.safe_load(kube.INGRESS.read_text())}
    cluster.add_pod("jh", "hub-abc", "hub")
    cluster.add_pod("jh", "proxy-abc", "proxy")
    deploy()
    assert ("POST", "/api/v1/namespaces") not in cluster.requests
    assert ("PUT", "/apis/networking.k8s.io/v1/namespaces/jh/ingresses/jupyterhub") in cluster.requests


def test_creating_a_namespace_that_exists_is_409_and_deploy_takes_it_when_made_meanwhile(cluster, monkeypatch):
    """Another deploy made the namespace between our look and our create: the API's 409
    AlreadyExists is no failure, the namespace is looked at again."""
    from kubernetes.client.exceptions import ApiException

    cluster.add_namespace("jh")
    with pytest.raises(ApiException) as again:
        target_for("emulated", "jh").core().create_namespace({"metadata": {"name": "jh"}})
    assert again.value.status == 409 and "AlreadyExists" in again.value.body
    looks = iter([None])  # the first look sees no namespace yet
    real = kube.KubeTarget._namespace_phase
    monkeypatch.setattr(kube.KubeTarget, "_namespace_phase", lambda self, core: next(looks, real(self, core)))
    cluster.add_pod("jh", "hub-abc", "hub")
    cluster.add_pod("jh", "proxy-abc", "proxy")
    deploy()
    assert ("POST", "/api/v1/namespaces") in cluster.requests


def test_a_namespace_that_began_terminating_before_deploy_could_make_it_is_one_clear_error(cluster, monkeypatch):
    cluster.add_namespace("jh", phase="Terminating")
    looks = iter([None])
    real = kube.KubeTarget._namespace_phase
    monkeypatch.setattr(kube.KubeTarget, "_namespace_phase", lambda self, core: next(looks, real(self, core)))
    with pytest.raises(HarnessError, match="namespace jh is terminating: wait until it is gone"):
        deploy()
    assert cluster.helm_calls() == []


def test_deleting_a_missing_namespace_is_404_and_purge_of_a_release_whose_namespace_is_gone_copes(cluster, monkeypatch):
    from kubernetes.client.exceptions import ApiException

    with pytest.raises(ApiException) as gone:
        target_for("emulated", "jh").core().delete_namespace("jh")
    assert gone.value.status == 404
    monkeypatch.setenv("HELM_RELEASES", "jupyterhub")  # helm still lists it; its namespace is gone
    said = target_for("emulated", "jh").remove(purge=True).message
    assert "and namespace jh" in said and "jh" not in cluster.namespaces


def test_purge_of_a_namespace_already_terminating_waits_until_it_is_gone(cluster, monkeypatch):
    """A second DELETE of a Terminating namespace is 409 Conflict on a real server (an
    interrupted purge, run again): purge waits for the deletion under way."""
    cluster.add_namespace("jh")
    cluster.namespace_deletion_delay = 1.0
    target = target_for("emulated", "jh")
    target.core().delete_namespace("jh")
    monkeypatch.setenv("HELM_RELEASES", "")
    started = time.monotonic()
    assert "and namespace jh" in target.remove(purge=True).message
    assert "jh" not in cluster.namespaces
    assert time.monotonic() - started > 0.5, "purge returned before the namespace was gone"


# ---- asynchronous deletion (issue 11, part 2) ----------------------------------------------
def test_a_deleted_pod_terminates_then_goes_and_its_namespace_waits_for_it(cluster):
    """The pod is held by a finalizer, so the namespace's wait for it is seen whatever the
    machine's speed (no sleep against the emulator's delays)."""
    cluster.add_namespace("jh")
    pod = cluster.add_pod("jh", "web", "web", release="other")
    pod["metadata"]["finalizers"] = ["example.com/held-by-the-test"]
    core = target_for("emulated", "jh").core()
    core.delete_namespace("jh")
    assert core.read_namespaced_pod("web", "jh").metadata.deletion_timestamp is not None
    assert core.read_namespace("jh").status.phase == "Terminating"
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_config_map("jh", {"metadata": {"name": "late"}})
    assert refused.value.status == 403
    assert json.loads(refused.value.body)["message"] == (
        'configmaps "late" is forbidden: unable to create new content in namespace jh because it is being terminated'
    )
    # the kubelet has stopped the pod and the namespace's own delay is over: only the pod keeps it
    wait_until("the pod stopped and the namespace emptied", lambda: cluster._stopped and "jh" in cluster._emptied, 10)
    assert core.read_namespace("jh").status.phase == "Terminating"
    cluster.remove_finalizers("jh", "web")
    assert "jh" not in cluster.namespaces and cluster.get("jh", "pods", "web") is None


def test_deploy_into_a_namespace_being_deleted_is_one_clear_line(cluster):

    cluster.pod_deletion_delay = 30  # a pod that takes its time to stop keeps the namespace Terminating
    cluster.add_namespace("jh")
    cluster.add_pod("jh", "hub-abc", "hub")
    target_for("emulated", "jh").core().delete_namespace("jh")
    done = run_invoke("deploy", "--context", "emulated", "--namespace", "jh")  # bound: run_invoke's 120 s
    assert done.returncode == 2
    assert done.stderr.strip() == "hubharness: namespace jh is terminating: wait until it is gone, or use another"
    assert not [c for c in cluster.helm_calls() if c[0] == "upgrade"]


def test_a_namespace_that_begins_terminating_during_deploy_is_one_clear_error(cluster, monkeypatch):
    """Deletion began after deploy looked: the API refuses the Secret with 403 (the namespace
    lifecycle admission); that is said as what it is, not as missing rights."""
    cluster.pod_deletion_delay = 30
    cluster.add_namespace("jh")
    cluster.add_pod("jh", "hub-abc", "hub")
    target_for("emulated", "jh").core().delete_namespace("jh")
    monkeypatch.setattr(kube.KubeTarget, "_namespace_phase", lambda self, core: "Active")  # what it saw before
    with pytest.raises(HarnessError, match=r"^namespace jh began terminating during deploy: wait until it is gone"):
        deploy()
    assert not [c for c in cluster.helm_calls() if c[0] == "upgrade"]


def test_purge_waits_while_the_namespaces_pods_stop(cluster, monkeypatch):
    cluster.pod_deletion_delay = 1.0
    cluster.add_namespace("jh", labels=kube.MANAGED_BY)  # as deploy made it
    cluster.add_pod("jh", "jupyter-ann", "singleuser-server", container="notebook")  # stopped by remove itself
    cluster.add_pod("jh", "web", "web", release="other")  # stopped by the namespace's deletion
    monkeypatch.setenv("HELM_RELEASES", "jupyterhub")
    started = time.monotonic()
    said = target_for("emulated", "jh").remove(purge=True).message
    assert "and namespace jh" in said
    assert "jh" not in cluster.namespaces, "purge returned while the namespace was still there"
    assert time.monotonic() - started >= 2.0, "purge did not wait for the pods to stop"
    assert ("jh", "jupyter-ann", None) in cluster.deletions


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        (
            {"metadata": {"name": "p"}, "spec": {}},
            422,
            "Pod \"p\" is invalid: spec: 'containers' is a required property",
        ),
        ({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": 7}]}}, 400, "cannot be handled"),
    ],
)
def test_an_object_the_api_schema_refuses_fails_at_create_as_on_a_cluster(cluster, body, code, says):
    """The emulator checks what it is sent against the API schema, as a server does (sent
    raw: the kubernetes client checks its own models before sending), so an object made
    wrongly fails at create in the project's tests, not first on a cluster."""
    cluster.add_namespace("jh")
    sent = requests.post(
        f"{cluster.url}/api/v1/namespaces/jh/pods", json={"apiVersion": "v1", "kind": "Pod", **body}, timeout=30
    )
    assert sent.status_code == code and says in sent.json()["message"], sent.text
    assert cluster.get("jh", "pods", "p") is None


def test_a_commands_last_line_is_read_from_an_exec_stream_and_from_testinfra():
    from hubharness.targets.kube.pods import last_line

    assert last_line(b"first\nError: the last\n") == "Error: the last"
    assert last_line("Error: process no longer exists (pid=21536)\n") == "Error: process no longer exists (pid=21536)"
    assert last_line("") == "no output"
