"""`invoke backup` and `invoke restore` on kubernetes: the hub database and every user's
home travel the exec websocket stream of the emulated API server, out and back in
(commands run here, on folders standing in for the volumes)."""

import hashlib
import io
import json
import shutil
import sqlite3
import subprocess
import tarfile
import threading
import time

import pytest

from hubharness import backup, values
from hubharness.errors import HarnessError
from hubharness.targets import target_for
from hubharness.targets.kube import backup as kube_backup
from hubharness.targets.kube import pods as kube_pods
from hubharness.waiting import wait_until

from .helpers import run_invoke
from .test_kube_verify import CHART_DEFAULTS, install_chart


def hub_database(path, users, running=()):
    """A real JupyterHub database (its own ORM), with these users; `running` ones have a
    server and KubeSpawner's state (the pod and the volume it made)."""
    from jupyterhub import orm

    session = orm.new_session_factory(f"sqlite:///{path}")()
    for name in users:
        user = orm.User(name=name)
        session.add(user)
        if name in running:
            session.add(
                orm.Spawner(
                    user=user,
                    name="",
                    server=orm.Server(ip="10.244.0.7", port=8888),
                    state={"pod_name": f"jupyter-{name}", "pvc_name": f"claim-{name}"},
                )
            )
    session.commit()
    session.close()


def mount(pod: dict, claim: str, path: str) -> None:
    pod["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": path}]


def user_volume(cluster, tmp_path, user: str, files: dict) -> None:
    """A claim as KubeSpawner makes it (labels, annotations), bound (volumeName, the
    binder's annotations), with files in it."""
    claim = f"claim-{user}"
    folder = tmp_path / "volumes" / "jh" / claim
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    (folder / "lost+found").mkdir()  # an ext4 volume's, root's own
    (folder / "lost+found" / "#1573").write_bytes(b"a recovered block\n")
    cluster.volumes[("jh", claim)] = folder
    cluster.add(
        "jh",
        "persistentvolumeclaims",
        claim,
        spec={
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "10Gi"}},
            "storageClassName": "standard",
            "volumeName": f"pvc-{user}-0a1b",
        },
    )
    cluster.get("jh", "persistentvolumeclaims", claim)["metadata"].update(
        labels={
            "app": "jupyterhub",
            "component": "singleuser-storage",
            "heritage": "jupyterhub",
            "hub.jupyter.org/username": user,
        },
        annotations={"hub.jupyter.org/username": user, "pv.kubernetes.io/bind-completed": "yes"},
    )


ALICE = {"notes.txt": "größe ✓\n".encode(), "data/blob.bin": bytes(range(256)) * 4096}
BEN = {"analysis.ipynb": b'{"cells": []}\n'}


HUB_TEMPLATE = {  # the chart's hub Deployment, as far as restore reads it
    "metadata": {"labels": {"app": "jupyterhub", "component": "hub", "release": "jupyterhub"}},
    "spec": {
        "securityContext": {"fsGroup": 1000},
        "nodeSelector": {"hub.jupyter.org/node-purpose": "core"},
        "tolerations": [
            {"key": "hub.jupyter.org/dedicated", "operator": "Equal", "value": "core", "effect": "NoSchedule"}
        ],
        "containers": [
            {
                "name": "hub",
                "image": "quay.io/jupyterhub/k8s-hub:4.4.0",
                "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "allowPrivilegeEscalation": False},
                "volumeMounts": [{"name": "pvc", "mountPath": "/srv/jupyterhub"}],
            }
        ],
        "volumes": [{"name": "pvc", "persistentVolumeClaim": {"claimName": "hub-db-dir"}}],
    },
}


def hub_with_database(cluster, tmp_path, users, running=()) -> None:
    """The chart's hub (its Deployment, its pod) with a real database on its volume, and
    a folder for the volumes clients create."""
    cluster.volume_root = tmp_path / "volumes"
    db_dir = tmp_path / "volumes" / "jh" / "hub-db-dir"
    db_dir.mkdir(parents=True)
    hub_database(db_dir / "jupyterhub.sqlite", users, running)
    cluster.volumes[("jh", "hub-db-dir")] = db_dir
    mount(cluster.get("jh", "pods", "hub-5d9c"), "hub-db-dir", "/srv/jupyterhub")
    cluster.add(
        "jh",
        "deployments",
        "hub",
        spec={"replicas": 1, "selector": {"matchLabels": HUB_TEMPLATE["metadata"]["labels"]}, "template": HUB_TEMPLATE},
    )


def drop_user_volumes(cluster, users) -> None:
    """What `remove --purge` leaves of users' volumes and server pods: nothing."""
    for user in users:
        del cluster.objects[("jh", "persistentvolumeclaims")][f"claim-{user}"]
        shutil.rmtree(cluster.volumes.pop(("jh", f"claim-{user}")))
    for pod in [p for p in cluster.objects[("jh", "pods")] if p.startswith("jupyter-")]:
        del cluster.objects[("jh", "pods")][pod]


@pytest.fixture
def deployed(cluster, tmp_path):
    install_chart(cluster)
    hub_with_database(cluster, tmp_path, ["admin", "alice", "ben"], running=["alice"])
    user_volume(cluster, tmp_path, "alice", ALICE)
    user_volume(cluster, tmp_path, "ben", BEN)
    alice = cluster.add_pod(
        "jh",
        "jupyter-alice",
        "singleuser-server",
        container="notebook",
        annotations={"hub.jupyter.org/username": "alice"},
    )
    mount(alice, "claim-alice", "/home/jovyan")
    return cluster


def test_backup_takes_the_database_online_and_every_home(deployed, tmp_path):
    result = target_for("emulated", "jh").backup(tmp_path / "kube.tar.gz")
    assert result.users == ["admin", "alice", "ben"]
    staging = tmp_path / "staging"
    checked = backup.check_and_stage(result.archive, "emulated", "jh", staging)  # what restore runs first
    assert checked.manifest["db_integrity"] == "ok" and checked.manifest["jupyterhub"] == "5.5.0"
    assert checked.manifest["chart"] == "4.4.0" and checked.manifest["changing_during_backup"] == []
    for user, files in (("alice", ALICE), ("ben", BEN)):
        for name, data in files.items():
            restored = (staging / "home" / user / name).read_bytes()
            assert hashlib.sha256(restored).digest() == hashlib.sha256(data).digest(), f"{user}/{name}"
    assert backup.integrity(staging / "db" / "jupyterhub.sqlite") == "ok"
    assert not [n for n in checked.manifest["files"] if "lost+found" in n], "ext4's lost+found is no user data"


def test_a_running_servers_home_is_read_where_its_pod_mounts_it(deployed, tmp_path):
    """singleuser.storage.homeMountPath set elsewhere than the chart's /home/jovyan: the
    server pod's own mount of the volume says where the home is."""
    alice = deployed.get("jh", "pods", "jupyter-alice")
    alice["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/srv/homes/alice"}]
    staging = tmp_path / "staging"
    result = target_for("emulated", "jh").backup(tmp_path / "kube.tar.gz")
    checked = backup.check_and_stage(result.archive, "emulated", "jh", staging)
    for name, data in ALICE.items():
        assert (staging / "home" / "alice" / name).read_bytes() == data, name
    created = [body["metadata"]["name"] for method, path, body in deployed.bodies if method == "POST"]
    assert created == ["hubharness-backup-claim-ben"], "alice's home was read through her own server"
    assert checked.manifest["changing_during_backup"] == []


def test_a_home_without_a_server_is_read_by_a_helper_pod_that_is_removed(deployed, tmp_path):
    target_for("emulated", "jh").backup(tmp_path / "kube.tar.gz")
    created = [body for method, path, body in deployed.bodies if method == "POST" and path.endswith("/pods")]
    assert [(b["metadata"]["name"], b["spec"]["volumes"][0]["persistentVolumeClaim"]) for b in created] == [
        ("hubharness-backup-claim-ben", {"claimName": "claim-ben", "readOnly": True})
    ]
    assert created[0]["spec"]["containers"][0]["image"] == "quay.io/jupyter/pyspark-notebook:spark-3.5.3"
    assert deployed.get("jh", "pods", "hubharness-backup-claim-ben") is None


def test_archive_holds_no_secret(deployed, tmp_path):
    archive = target_for("emulated", "jh").backup(tmp_path / "kube.tar.gz").archive
    secrets = [s.encode() for s in ("from-the-environment-123", "hubharness-service-token-0123456789")]
    with tarfile.open(archive) as tar:
        for member in tar:
            data = tar.extractfile(member).read()
            assert not [s for s in secrets if s in data], f"a secret is in {member.name}"
        manifest = json.load(tar.extractfile(backup.MANIFEST))
    assert manifest["secrets"] == [{"name": "urbalurba-secrets", "key": "JUPYTERHUB_AUTH_PASSWORD", "stored": False}]


def test_a_hub_without_its_database_file_is_one_clear_error_and_no_archive(deployed, tmp_path):
    (tmp_path / "volumes" / "jh" / "hub-db-dir" / "jupyterhub.sqlite").unlink()
    with pytest.raises(
        HarnessError,
        match=r"the online backup of /srv/jupyterhub/jupyterhub.sqlite in pod "
        r"hub-5d9c failed: .*hub.db.type must be sqlite-pvc",
    ):
        target_for("emulated", "jh").backup(tmp_path / "kube.tar.gz")
    assert list(tmp_path.glob("*.tar.gz*")) == []


def test_cli_backup_on_a_kube_context(deployed, tmp_path):
    done = run_invoke("backup", "--context", "emulated", "--namespace", "jh", "--to", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "backed up namespace jh (context emulated): 3 user(s), 5 file(s)" in done.stdout
    assert "from-the-environment-123" not in done.stdout + done.stderr


def test_a_home_that_keeps_changing_is_read_three_times_and_named_in_the_manifest(deployed, tmp_path):
    """The pod's reader of homes exits 1 when a file did not settle while it read it (as GNU
    tar does when a file changed); this pod's python3 always says so for it."""
    real = shutil.which("python3")
    fake = deployed.bin_dir / "python3"
    fake.write_text(
        f'#!/bin/sh\nif [ "$3" = tar-home ]; then echo tar-home >> {tmp_path}/tar-calls; {real} "$@"; exit 1; fi\n'
        f'exec {real} "$@"\n'
    )
    fake.chmod(0o755)
    result = target_for("emulated", "jh").backup(tmp_path / "kube.tar.gz")
    checked = backup.check_and_stage(result.archive, "emulated", "jh", tmp_path / "staging")
    assert checked.manifest["changing_during_backup"] == ["home/alice/", "home/ben/"]
    assert len((tmp_path / "tar-calls").read_text().splitlines()) == 2 * kube_backup.TAR_ATTEMPTS
    assert (tmp_path / "staging" / "home" / "ben" / "analysis.ipynb").read_bytes() == BEN["analysis.ipynb"]


# ---- restore ----------------------------------------------------------------------------
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def db_column(db, sql) -> list:
    conn = sqlite3.connect(db)
    try:
        return [row[0] for row in conn.execute(sql)]
    finally:
        conn.close()


def changes(cluster, since: int) -> list[tuple[str, str]]:
    return [(m, p) for m, p in cluster.requests[since:] if m in MUTATING]


def hub_db(tmp_path):
    return tmp_path / "volumes" / "jh" / "hub-db-dir" / "jupyterhub.sqlite"


def purge_and_deploy_again(cluster, tmp_path) -> None:
    """What `remove --purge` then `deploy` leave: no user volumes or pods, a fresh database."""
    drop_user_volumes(cluster, ["alice", "ben"])
    hub_db(tmp_path).unlink()
    hub_database(hub_db(tmp_path), ["admin"])


@pytest.fixture
def archive(deployed, tmp_path):
    return target_for("emulated", "jh").backup(tmp_path / "kube.tar.gz").archive


def test_restore_after_a_purge_brings_back_users_volumes_and_files_byte_for_byte(deployed, archive, tmp_path):
    purge_and_deploy_again(deployed, tmp_path)
    result = target_for("emulated", "jh").restore(archive)
    assert (result.users, result.integrity) == (["admin", "alice", "ben"], "ok")
    assert db_column(hub_db(tmp_path), "SELECT name FROM users ORDER BY name") == ["admin", "alice", "ben"]
    assert db_column(hub_db(tmp_path), "SELECT count(*) FROM servers") == [0], "an archived server survived"
    assert db_column(hub_db(tmp_path), "SELECT server_id FROM spawners") == [None]
    state = json.loads(db_column(hub_db(tmp_path), "SELECT state FROM spawners")[0])
    assert state["pvc_name"] == "claim-alice", "KubeSpawner would not find the volume it made"
    for user, files in (("alice", ALICE), ("ben", BEN)):
        folder = deployed.volumes[("jh", f"claim-{user}")]
        for name, data in files.items():
            assert hashlib.sha256((folder / name).read_bytes()).digest() == hashlib.sha256(data).digest()
    claim = deployed.get("jh", "persistentvolumeclaims", "claim-alice")
    assert claim["metadata"]["labels"]["hub.jupyter.org/username"] == "alice"
    assert claim["metadata"]["annotations"] == {"hub.jupyter.org/username": "alice"}, "a binding was copied"
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "10Gi"}},
        "storageClassName": "standard",
    }
    pods = sorted(deployed.objects[("jh", "pods")])
    hubs = [p for p in pods if p.startswith("hub-")]
    assert len(hubs) == 1 and hubs != ["hub-5d9c"], f"the hub was not restarted: {pods}"
    assert not [p for p in pods if p.startswith("hubharness-")], "a helper pod was left behind"
    aside = next((hub_db(tmp_path).parent / "pre-restore").iterdir())
    assert db_column(aside / "jupyterhub.sqlite", "SELECT name FROM users") == ["admin"]
    assert result.moved_aside == f"/srv/jupyterhub/pre-restore/{aside.name}/ in volume hub-db-dir"


def test_restore_writes_only_while_the_hub_is_scaled_to_zero(deployed, archive, tmp_path):
    purge_and_deploy_again(deployed, tmp_path)
    since, bodies = len(deployed.requests), len(deployed.bodies)
    target_for("emulated", "jh").restore(archive)
    done = changes(deployed, since)
    scales = [i for i, (_, path) in enumerate(done) if path.endswith("/deployments/hub/scale")]
    writes = [i for i, (method, path) in enumerate(done) if "/pods" in path or "persistentvolumeclaims" in path]
    sent = deployed.bodies[bodies:]
    assert [b["spec"]["replicas"] for m, p, b in sent if p.endswith("/scale")] == [0, 1]
    assert scales[0] < min(writes) and max(writes) < scales[1], done
    helpers = [b["metadata"]["name"] for m, p, b in sent if m == "POST" and p.endswith("/pods")]
    assert sorted(helpers) == [
        "hubharness-restore-claim-alice",
        "hubharness-restore-claim-ben",
        "hubharness-restore-hub-db",
    ]
    db_helper = next(b for m, p, b in sent if m == "POST" and b["metadata"]["name"] == "hubharness-restore-hub-db")
    assert (db_helper["spec"]["securityContext"], db_helper["spec"]["nodeSelector"]) == (
        {"fsGroup": 1000},
        {"hub.jupyter.org/node-purpose": "core"},
    ), "the helper is not placed as the hub is"
    assert db_helper["spec"]["containers"][0]["securityContext"]["runAsUser"] == 1000


def test_restore_over_user_volumes_is_refused_without_force_and_changes_nothing(deployed, archive):
    since = len(deployed.requests)
    with pytest.raises(
        HarnessError,
        match=r"namespace jh has user volumes \(claim-alice, claim-ben\): restore "
        r"would replace their files; pass --force",
    ):
        target_for("emulated", "jh").restore(archive)
    assert changes(deployed, since) == []


def test_forced_restore_moves_what_a_home_held_aside_inside_its_volume(deployed, archive):
    alice = deployed.volumes[("jh", "claim-alice")]
    (alice / "notes.txt").write_bytes(b"written after the backup\n")
    since = len(deployed.requests)
    result = target_for("emulated", "jh").restore(archive, force=True)
    assert (alice / "notes.txt").read_bytes() == ALICE["notes.txt"]
    [aside] = (alice / ".hubharness-pre-restore").iterdir()
    assert (aside / "notes.txt").read_bytes() == b"written after the backup\n"
    assert (aside / "data" / "blob.bin").read_bytes() == ALICE["data/blob.bin"]
    assert (alice / "lost+found" / "#1573").is_file() and not (aside / "lost+found").exists()
    assert f"/home/jovyan/.hubharness-pre-restore/{aside.name}/ in volume claim-alice" in result.moved_aside
    assert not [c for c in changes(deployed, since) if c[1].endswith("/persistentvolumeclaims")], (
        "a volume that exists was made again"
    )


def test_a_corrupted_archive_is_refused_before_anything_changes(deployed, archive, tmp_path):
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(bytes(data))
    purge_and_deploy_again(deployed, tmp_path)
    since = len(deployed.requests)
    with pytest.raises(HarnessError, match="refused"):
        target_for("emulated", "jh").restore(broken)
    assert changes(deployed, since) == []
    assert deployed.get("jh", "pods", "hub-5d9c") is not None


def test_an_archive_without_volume_records_is_refused_before_anything_changes(deployed, archive, tmp_path):
    """A home with no record of its volume (an archive of another kind of target)."""
    stripped = tmp_path / "stripped.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(stripped, "w:gz") as dst:
        for member in src:
            data = src.extractfile(member).read()
            if member.name == backup.MANIFEST:
                manifest = json.loads(data)
                del manifest["volumes"]
                data = json.dumps(manifest).encode()
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    since = len(deployed.requests)
    with pytest.raises(HarnessError, match="holds alice's home but no record of their volume"):
        target_for("emulated", "jh").restore(stripped, force=True)
    assert changes(deployed, since) == []


def test_a_failed_write_brings_the_hub_back_on_its_old_database(deployed, archive, tmp_path):
    purge_and_deploy_again(deployed, tmp_path)
    old = hub_db(tmp_path).read_bytes()
    fake = deployed.bin_dir / "python3"  # the exec's python3: a full disk for the database only
    fake.write_text(
        f'#!/bin/sh\nif [ "$3" = restore-db ]; then echo "OSError: [Errno 28] No space left on device"'
        f' >&2; exit 1; fi\nexec {shutil.which("python3")} "$@"\n'
    )
    fake.chmod(0o755)
    with pytest.raises(
        HarnessError,
        match=r"writing the hub database into volume hub-db-dir failed in pod "
        r"hubharness-restore-hub-db: OSError: \[Errno 28\] No space left",
    ):
        target_for("emulated", "jh").restore(archive)
    assert hub_db(tmp_path).read_bytes() == old
    assert deployed.get("jh", "deployments", "hub")["spec"]["replicas"] == 1
    assert [p for p in deployed.objects[("jh", "pods")] if p.startswith("hub-")], "the hub stayed down"
    assert not [p for p in deployed.objects[("jh", "pods")] if p.startswith("hubharness-")]


@pytest.mark.parametrize("damage", ["short", "altered"])
def test_the_in_pod_writer_replaces_nothing_with_a_torn_or_altered_stream(tmp_path, damage):
    db = tmp_path / "jupyterhub.sqlite"
    hub_database(db, ["admin"])
    new = tmp_path / "new.sqlite"
    hub_database(new, ["admin", "alice"])
    data = new.read_bytes()
    sent = data[:-100] if damage == "short" else data[:-1] + bytes([data[-1] ^ 1])
    before = db.read_bytes()
    done = subprocess.run(
        kube_pods.inpod("restore-db", db, len(data), hashlib.sha256(data).hexdigest(), tmp_path / "aside"),
        input=sent,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert b"nothing replaced" in done.stderr
    assert db.read_bytes() == before and not (tmp_path / "aside").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jupyterhub.sqlite", "new.sqlite"]


def test_cli_restore_on_a_kube_context(deployed, archive, tmp_path):
    purge_and_deploy_again(deployed, tmp_path)
    done = run_invoke("restore", "--context", "emulated", "--namespace", "jh", "--from", str(archive))
    assert done.returncode == 0, done.stderr
    assert "restored namespace jh (context emulated)" in done.stdout
    assert "3 user(s), 5 file(s)" in done.stdout and "database integrity_check: ok" in done.stdout
    assert "from-the-environment-123" not in done.stdout + done.stderr


def test_helper_pods_that_take_a_while_to_start_are_waited_for(deployed, archive, tmp_path):
    """Pending on no node, then ContainerCreating (exec refused), then Running: restore
    execs into each helper only once it runs."""
    deployed.pod_start_delay = 0.5
    purge_and_deploy_again(deployed, tmp_path)
    assert target_for("emulated", "jh").restore(archive).integrity == "ok"
    assert (deployed.volumes[("jh", "claim-ben")] / "analysis.ipynb").read_bytes() == BEN["analysis.ipynb"]
    helpers = {b["metadata"]["name"] for m, p, b in deployed.bodies if m == "POST" and p.endswith("/pods")}
    seen = {
        (e["involvedObject"]["name"], e["reason"])
        for e in deployed.objects[("jh", "events")].values()
        if e["involvedObject"]["name"] in helpers
    }
    assert helpers and seen == {(h, r) for h in helpers for r in ("Scheduled", "Pulled", "Created", "Started")}


def notebook_image() -> str:
    image = values.load(values.values_files("kind"))["singleuser"]["image"]
    return f"{image['name']}:{image['tag']}"


@pytest.mark.parametrize(("failure", "reason"), [("pull", "ImagePullBackOff"), ("crash", "CrashLoopBackOff")])
def test_a_helper_pod_that_cannot_run_fails_at_once_naming_why_and_is_removed(deployed, tmp_path, failure, reason):
    """Its image cannot be pulled, or its container keeps exiting: the kubelet's waiting
    reason, not a 120 s timeout."""
    deployed.pod_start_delay = 0.4
    deployed.image_failures[notebook_image()] = failure
    started = time.monotonic()
    with pytest.raises(HarnessError, match=rf"helper pod hubharness-backup-claim-ben is in {reason}: .*describe pod"):
        target_for("emulated", "jh").backup(tmp_path / "kube.tar.gz")
    assert time.monotonic() - started < kube_pods.HELPER_TIMEOUT / 4
    assert deployed.get("jh", "pods", "hubharness-backup-claim-ben") is None
    assert list(tmp_path.glob("*.tar.gz*")) == []


def test_restore_into_a_namespace_without_a_release_says_deploy_first(cluster, tmp_path):
    cluster.add_namespace("empty")
    with pytest.raises(
        HarnessError,
        match=r"nothing deployed in namespace empty \(context emulated\): "
        r"run `invoke deploy --context emulated` first",
    ):
        target_for("emulated", "empty").restore(tmp_path / "any.tar.gz")


def test_in_pod_command_lines_fit_a_proxys_8_kib_request_line():
    """exec's command travels in the URL's query; proxies in front of API servers often
    cap a request line at 8 KiB."""
    from urllib.parse import urlencode

    longest = kube_pods.inpod(
        "restore-home", "/home/jovyan", 10**12, "0" * 64, ".hubharness-pre-restore/20261126T000000Z"
    )
    query = urlencode([("command", part) for part in longest])
    assert len(query) + 512 < 8 << 10, f"{len(query)} bytes of query"


def test_a_restore_the_api_refuses_is_one_clear_line_and_changes_nothing(deployed, archive, tmp_path):
    deployed.forbidden.add(("PATCH", "/deployments/hub/scale"))  # a context without the right to scale
    since = len(deployed.requests)
    done = run_invoke("restore", "--context", "emulated", "--namespace", "jh", "--from", str(archive), "--force")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(
        "hubharness: the kubernetes API refused a request: 403 Forbidden: "
        "/apis/apps/v1/namespaces/jh/deployments/hub/scale is forbidden"
    )
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert [c for c in changes(deployed, since) if c[0] != "PATCH"] == [], "something changed before the refusal"


def test_a_helper_pod_left_by_an_interrupted_run_is_replaced(deployed, tmp_path):
    deployed.add_pod("jh", "hubharness-backup-claim-ben", "backup", release="", container="notebook")
    result = target_for("emulated", "jh").backup(tmp_path / "kube.tar.gz")
    assert result.users == ["admin", "alice", "ben"]
    assert deployed.get("jh", "pods", "hubharness-backup-claim-ben") is None


def test_a_helper_pod_that_exits_at_once_is_one_clear_error(deployed, tmp_path):
    deployed.on_pod_created = lambda pod: pod.__setitem__("status", {"phase": "Failed"})
    with pytest.raises(HarnessError, match=r"helper pod hubharness-backup-claim-ben ended \(Failed\) before"):
        target_for("emulated", "jh").backup(tmp_path / "kube.tar.gz")
    assert deployed.get("jh", "pods", "hubharness-backup-claim-ben") is None


def test_a_helper_pod_is_of_the_release_so_a_verify_during_a_backup_sees_nothing_foreign(deployed):
    target = target_for("emulated", "jh")
    deployment = target.deployment()
    container = {"name": "notebook", "image": "quay.io/jupyter/pyspark-notebook:spark-3.5.3"}
    with kube_pods.helper_pod(target.core(), "jh", "hubharness-backup-claim-ben", container, "claim-ben", "/srv", True):
        isolated = deployment.state_is_isolated()
    assert isolated, isolated.detail


def test_helper_pods_run_the_charts_default_image_when_the_values_name_none(cluster, tmp_path):
    """helm's record keeps the given values and the chart's defaults apart: a key the
    user never set is read from the chart's values, not from a default of our own."""
    config = values.load(values.values_files("kind"))
    del config["singleuser"]["image"]
    install_chart(cluster, config=config)
    hub_with_database(cluster, tmp_path, ["admin", "ben"])
    user_volume(cluster, tmp_path, "ben", BEN)
    target_for("emulated", "jh").backup(tmp_path / "kube.tar.gz")
    created = [body for method, path, body in cluster.bodies if method == "POST" and path.endswith("/pods")]
    assert [b["spec"]["containers"][0]["image"] for b in created] == ["quay.io/jupyterhub/k8s-singleuser-sample:4.4.0"]
    assert created[0]["spec"]["securityContext"] == {"runAsUser": 1000, "fsGroup": 100}


def test_a_release_that_names_no_notebook_image_is_one_clear_error(cluster, tmp_path, monkeypatch):
    config = values.load(values.values_files("kind"))
    del config["singleuser"]["image"]
    monkeypatch.setitem(CHART_DEFAULTS, "singleuser", {})
    install_chart(cluster, config=config)
    hub_with_database(cluster, tmp_path, ["admin", "ben"])
    user_volume(cluster, tmp_path, "ben", BEN)
    with pytest.raises(HarnessError, match="the release names no singleuser.image"):
        target_for("emulated", "jh").backup(tmp_path / "kube.tar.gz")
    assert not list(tmp_path.glob("kube.tar.gz*")), "an archive was left behind"


# ---- exec as a real server gives it (issue 11, part 2) -------------------------------------
@pytest.mark.parametrize("protocol", ["v5.channel.k8s.io", "v4.channel.k8s.io"])
def test_backup_and_restore_work_over_either_exec_protocol(deployed, tmp_path, protocol):
    """The client offers v5 then v4; a server without v5 speaks v4, which cannot close stdin:
    restore's in-pod writer knows the size of what it reads, so it needs no end of stream."""
    deployed.exec_protocols = (protocol,)
    archive = target_for("emulated", "jh").backup(tmp_path / "kube.tar.gz").archive
    purge_and_deploy_again(deployed, tmp_path)
    assert target_for("emulated", "jh").restore(archive).integrity == "ok"
    for user, files in (("alice", ALICE), ("ben", BEN)):
        for name, data in files.items():
            assert (deployed.volumes[("jh", f"claim-{user}")] / name).read_bytes() == data, f"{user}/{name}"
    assert db_column(hub_db(tmp_path), "SELECT name FROM users ORDER BY name") == ["admin", "alice", "ben"]
    assert set(deployed.exec_protocols_used) == {protocol}
    assert len(deployed.exec_protocols_used) >= 6  # snapshot, 2 tars, db, 2 homes, integrity


@pytest.mark.parametrize("protocol, code", [("v5.channel.k8s.io", 0), ("v4.channel.k8s.io", 124)])
def test_only_v5_closes_a_commands_stdin(deployed, protocol, code):
    """Why inpod.py is sent the size first: under v4 a command that reads to the end of
    its input never sees one (here `timeout` ends it)."""
    deployed.exec_protocols = (protocol,)
    out = io.BytesIO()
    rc, _ = kube_pods.exec_in(
        target_for("emulated", "jh").core(), "jh", "hub-5d9c", "hub", ["timeout", "2", "cat"], out, io.BytesIO(b"x")
    )
    assert (rc, out.getvalue()) == (code, b"x")


def _not_running(pod: dict, phase: str, state: dict) -> None:
    pod["status"].update(
        phase=phase,
        containerStatuses=[
            {"name": "hub", "ready": False, "restartCount": 1, "image": "x", "imageID": "", "state": state}
        ],
    )


@pytest.mark.parametrize(
    "change, refusal",
    [
        (lambda pod: None, r"400 container sidecar is not valid for pod hub-5d9c"),
        (
            lambda pod: [pod["spec"].pop("nodeName"), pod["status"].update(phase="Pending")],
            r"400 pod hub-5d9c does not have a host assigned",
        ),
        (
            lambda pod: _not_running(pod, "Running", {"waiting": {"reason": "CrashLoopBackOff"}}),
            r'500 container not found \("hub"\)',
        ),
        (
            lambda pod: _not_running(pod, "Succeeded", {"terminated": {"exitCode": 0}}),
            r'500 container not found \("hub"\)',
        ),
    ],
    ids=["unknown-container", "no-host", "crash-loop", "completed"],
)
def test_an_exec_the_server_refuses_is_one_clear_error(deployed, change, refusal):
    change(deployed.get("jh", "pods", "hub-5d9c"))
    container = "sidecar" if "sidecar" in refusal else "hub"
    with pytest.raises(HarnessError, match=rf"^exec in pod hub-5d9c \({container}\) was refused: {refusal}$"):
        kube_pods.exec_in(target_for("emulated", "jh").core(), "jh", "hub-5d9c", container, ["true"], io.BytesIO())


def test_backup_reads_the_database_in_the_hub_pod_that_runs(deployed, tmp_path):
    """A rollout leaves a new hub pod starting beside the old one: exec only into one that runs."""
    starting = deployed.add_pod("jh", "hub-0new", "hub", waiting="ContainerCreating")
    deployed.objects[("jh", "pods")] = {"hub-0new": starting, **deployed.objects[("jh", "pods")]}  # listed first
    assert target_for("emulated", "jh").backup(tmp_path / "kube.tar.gz").users == ["admin", "alice", "ben"]
    deployed.get("jh", "pods", "hub-5d9c")["status"]["phase"] = "Failed"
    with pytest.raises(
        HarnessError, match=r"^no hub pod runs in namespace jh \(hub-0new Pending, hub-5d9c Failed\): back up when"
    ):
        target_for("emulated", "jh").backup(tmp_path / "again.tar.gz")


# ---- asynchronous deletion (issue 11, part 2) ----------------------------------------------
def test_helper_pods_are_deleted_gracefully_and_waited_for_until_gone(deployed, tmp_path):
    """A forced deletion (gracePeriodSeconds=0) removes the pod object at once, while its
    container may still run with the volume mounted: a helper is deleted gracefully, and
    backup and restore go on only once it is gone."""
    deployed.pod_deletion_delay = 0.5
    archive = target_for("emulated", "jh").backup(tmp_path / "kube.tar.gz").archive
    assert deployed.get("jh", "pods", "hubharness-backup-claim-ben") is None
    purge_and_deploy_again(deployed, tmp_path)
    assert target_for("emulated", "jh").restore(archive).integrity == "ok"
    helpers = [(name, grace) for _, name, grace in deployed.deletions if name.startswith("hubharness-")]
    assert sorted(name for name, _ in helpers) == [
        "hubharness-backup-claim-ben",
        "hubharness-restore-claim-alice",
        "hubharness-restore-claim-ben",
        "hubharness-restore-hub-db",
    ]
    assert all(grace != 0 for _, grace in helpers), helpers
    assert not [p for p in deployed.objects[("jh", "pods")] if p.startswith("hubharness-")]


@pytest.mark.parametrize("goes", ["after backup deleted it", "before backup deleted it"])
def test_a_helper_pod_still_terminating_from_an_earlier_run_is_waited_for(deployed, tmp_path, goes):
    """The old helper is held (a finalizer) until backup's create of its name was refused,
    and then until backup has deleted it too, or not: either way backup waits for it to go
    and makes its own, whatever the machine's speed (no timing in this test)."""
    name = "hubharness-backup-claim-ben"
    old = deployed.add_pod("jh", name, "backup", release="", container="notebook")
    old["metadata"]["finalizers"] = ["example.com/held-by-the-test"]
    target_for("emulated", "jh").core().delete_namespaced_pod(name, "jh")
    assert deployed.get("jh", "pods", name)["metadata"]["deletionTimestamp"]
    wait_until("the kubelet to stop the old helper", lambda: deployed.held_by_finalizers("jh", name), 30)
    refused = []

    def deleted_twice():
        return [d for d in deployed.deletions if d[1] == name][1:]

    def release_the_old_one(ns, kind, refused_name):
        refused.append(refused_name)
        if goes == "before backup deleted it":
            deployed.remove_finalizers(ns, refused_name)
        else:  # the emulator's handler thread must answer backup's DELETE first: release from another
            threading.Thread(
                target=lambda: (
                    wait_until("backup to delete the old helper", deleted_twice, 30),
                    deployed.remove_finalizers(ns, refused_name),
                ),
                daemon=True,
            ).start()

    deletions_when_made = []
    deployed.on_conflict = release_the_old_one
    deployed.on_pod_created = lambda pod: deletions_when_made.append(
        len([d for d in deployed.deletions if d[1] == name])
    )
    assert target_for("emulated", "jh").backup(tmp_path / "kube.tar.gz").users == ["admin", "alice", "ben"]
    assert refused == [name]
    assert deletions_when_made == [2 if goes == "after backup deleted it" else 1]
    created = [b for m, p, b in deployed.bodies if m == "POST" and b["metadata"]["name"].startswith("hubharness-")]
    assert len(created) == 2, "the helper was not made again once the old one had gone"
    assert deployed.get("jh", "pods", name) is None


def multi_attach_events(cluster, pod: str) -> list[str]:
    return [
        e["message"]
        for e in cluster.objects.get(("jh", "events"), {}).values()
        if e["involvedObject"]["name"] == pod and e["reason"] == "FailedAttachVolume"
    ]


def test_a_helper_waits_while_a_stopping_server_on_another_node_still_holds_the_volume(deployed, tmp_path):
    """alice's server is stopping (held by a finalizer): her ReadWriteOnce volume is still
    attached to its node, so the helper on another node stays ContainerCreating with a
    Multi-Attach event until her pod has gone; backup waits for it, then reads her home."""
    deployed.scheduled_node = "emulated-node-2"
    deployed.get("jh", "pods", "jupyter-alice")["metadata"]["finalizers"] = ["example.com/held-by-the-test"]
    target_for("emulated", "jh").core().delete_namespaced_pod("jupyter-alice", "jh")
    helper = "hubharness-backup-claim-alice"

    def release_alice_once_the_helper_is_refused():
        wait_until("the helper's Multi-Attach event", lambda: multi_attach_events(deployed, helper), 30)
        deployed.remove_finalizers("jh", "jupyter-alice")

    released = threading.Thread(target=release_alice_once_the_helper_is_refused, daemon=True)
    released.start()
    staging = tmp_path / "staging"
    backup.check_and_stage(
        target_for("emulated", "jh").backup(tmp_path / "kube.tar.gz").archive, "emulated", "jh", staging
    )
    released.join(5)
    assert multi_attach_events(deployed, helper) == [
        'Multi-Attach error for volume "pvc-alice-0a1b" Volume is already used by pod(s) jupyter-alice'
    ]
    for name, data in ALICE.items():
        assert (staging / "home" / "alice" / name).read_bytes() == data, name


def test_a_helper_whose_volume_another_pod_keeps_says_which_pod_when_it_gives_up(deployed, tmp_path, monkeypatch):
    monkeypatch.setattr(kube_pods, "HELPER_TIMEOUT", 1.5)
    deployed.scheduled_node = "emulated-node-2"
    holder = deployed.add_pod("jh", "someone-elses-job", "job", release="", container="job")
    mount(holder, "claim-ben", "/data")
    with pytest.raises(
        HarnessError,
        match=r"timed out after 1.5s waiting for helper pod hubharness-backup-claim-ben to run: FailedAttachVolume: "
        r'Multi-Attach error for volume "pvc-ben-0a1b" Volume is already used by pod\(s\) someone-elses-job',
    ):
        target_for("emulated", "jh").backup(tmp_path / "kube.tar.gz")
    assert deployed.get("jh", "pods", "hubharness-backup-claim-ben") is None
    assert list(tmp_path.glob("*.tar.gz*")) == []


def test_restore_waits_for_the_old_hub_pod_to_stop_before_writing(deployed, archive, tmp_path):
    """Scaled to 0, the hub pod terminates for a while (its database still open): no helper
    that writes is made until it has gone."""
    deployed.pod_deletion_delay = 1.0
    purge_and_deploy_again(deployed, tmp_path)
    old_hub_when_a_helper_came = []
    deployed.on_pod_created = lambda pod: old_hub_when_a_helper_came.append(deployed.get("jh", "pods", "hub-5d9c"))
    target_for("emulated", "jh").restore(archive)
    assert len(old_hub_when_a_helper_came) == 3
    assert old_hub_when_a_helper_came == [None, None, None], "a helper was made while the old hub still ran"
