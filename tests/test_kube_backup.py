"""`invoke backup` on kubernetes: the hub database and every user's home travel the exec
websocket stream of the emulated API server (commands run here, on folders standing in
for the volumes), into an archive the restore checker accepts byte for byte."""

import hashlib
import json
import shutil
import tarfile

import pytest

from hubharness import backup
from hubharness.errors import HarnessError
from hubharness.targets import kube_backup, target_for

from .test_kube_verify import install_chart


def hub_database(path, users):
    """A real JupyterHub database (its own ORM), with these users."""
    from jupyterhub import orm

    session = orm.new_session_factory(f"sqlite:///{path}")()
    for name in users:
        session.add(orm.User(name=name))
    session.commit()
    session.close()


def mount(pod: dict, claim: str, path: str) -> None:
    pod["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": path}]


def user_volume(cluster, tmp_path, user: str, files: dict) -> None:
    claim = f"claim-{user}"
    folder = tmp_path / "volumes" / claim
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    cluster.volumes[("jh", claim)] = folder
    cluster.add("jh", "persistentvolumeclaims", claim, spec={"accessModes": ["ReadWriteOnce"]})
    cluster.get("jh", "persistentvolumeclaims", claim)["metadata"]["annotations"] = {
        "hub.jupyter.org/username": user}


ALICE = {"notes.txt": "größe ✓\n".encode(), "data/blob.bin": bytes(range(256)) * 4096}
BEN = {"analysis.ipynb": b'{"cells": []}\n'}


@pytest.fixture
def deployed(cluster, tmp_path):
    install_chart(cluster)
    db_dir = tmp_path / "volumes" / "hub-db-dir"
    db_dir.mkdir(parents=True)
    hub_database(db_dir / "jupyterhub.sqlite", ["admin", "alice", "ben"])
    cluster.volumes[("jh", "hub-db-dir")] = db_dir
    mount(cluster.get("jh", "pods", "hub-5d9c"), "hub-db-dir", "/srv/jupyterhub")
    user_volume(cluster, tmp_path, "alice", ALICE)
    user_volume(cluster, tmp_path, "ben", BEN)
    alice = cluster.add_pod("jh", "jupyter-alice", "singleuser-server", container="notebook",
                            annotations={"hub.jupyter.org/username": "alice"})
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


def test_a_home_without_a_server_is_read_by_a_helper_pod_that_is_removed(deployed, tmp_path):
    target_for("emulated", "jh").backup(tmp_path / "kube.tar.gz")
    created = [body for method, path, body in deployed.bodies if method == "POST" and path.endswith("/pods")]
    assert [(b["metadata"]["name"], b["spec"]["volumes"][0]["persistentVolumeClaim"]) for b in created] == [
        ("hubharness-backup-claim-ben", {"claimName": "claim-ben", "readOnly": True})]
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
    (tmp_path / "volumes" / "hub-db-dir" / "jupyterhub.sqlite").unlink()
    with pytest.raises(HarnessError, match=r"the online backup of /srv/jupyterhub/jupyterhub.sqlite in pod "
                                           r"hub-5d9c failed: .*hub.db.type must be sqlite-pvc"):
        target_for("emulated", "jh").backup(tmp_path / "kube.tar.gz")
    assert list(tmp_path.glob("*.tar.gz*")) == []


def test_restore_on_kubernetes_says_not_implemented(deployed, tmp_path):
    with pytest.raises(HarnessError, match="restore on context 'emulated' is not implemented yet"):
        target_for("emulated", "jh").restore(tmp_path / "x.tar.gz")


def test_cli_backup_on_a_kube_context(deployed, tmp_path):
    from .test_kube_verify import run_invoke

    done = run_invoke("backup", "--context", "emulated", "--namespace", "jh", "--to", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "backed up namespace jh (context emulated): 3 user(s), 5 file(s)" in done.stdout
    assert "from-the-environment-123" not in done.stdout + done.stderr


def test_a_home_that_keeps_changing_is_read_three_times_and_named_in_the_manifest(deployed, tmp_path):
    """GNU tar exits 1 when a file changed while it read it; this tar always says so."""
    real_tar = shutil.which("tar")
    fake = deployed.bin_dir / "tar"
    fake.write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/tar-calls\n{real_tar} "$@"\nexit 1\n')
    fake.chmod(0o755)
    result = target_for("emulated", "jh").backup(tmp_path / "kube.tar.gz")
    checked = backup.check_and_stage(result.archive, "emulated", "jh", tmp_path / "staging")
    assert checked.manifest["changing_during_backup"] == ["home/alice/", "home/ben/"]
    assert len((tmp_path / "tar-calls").read_text().splitlines()) == 2 * kube_backup.TAR_ATTEMPTS
    assert (tmp_path / "staging" / "home" / "ben" / "analysis.ipynb").read_bytes() == BEN["analysis.ipynb"]
