"""Backup of a chart deployment into the same archive format as the local target.

Bytes come out through `exec` over the API server's websocket stream, never through a
copy of the live file (the seed's recipe): the hub database with sqlite's online backup
API run inside the hub pod; each user's home with tar inside a pod that mounts their
volume, their running server's, else a short-lived helper pod from the notebook image.
Each volume's name, labels and size go into the manifest, for restore (restore.py).
"""

from __future__ import annotations

import contextlib
import json
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

from ... import backup, chart
from ... import values as chart_values
from ...errors import HarnessError
from .api import HUB_DB, NOTEBOOK_CONTAINER, RELEASE, user_claims
from .pods import PARALLEL_PODS, exec_in, helper_pod, inpod, last_line

HOME = "/home/jovyan"  # where a helper pod mounts a home (a user's server: its own mount, see _server_pod)
TAR_ATTEMPTS = 3  # GNU tar exits 1 when a file changed while it read it: read again
LOST_FOUND = "lost+found"  # ext4's, on block volumes: root's, and no user's data
# What restore needs to make a user's volume again as KubeSpawner made it.
VOLUME_ANNOTATIONS = "hub.jupyter.org/"


def user_helper(values: dict) -> tuple[dict, dict]:
    """(container, pod securityContext) of a helper pod that reads or writes user homes
    as the user's server would: the notebook image, singleuser.uid and fsGid."""
    image = chart_values.get(values, "singleuser.image", {}) or {}
    if not image.get("name") or not image.get("tag"):
        raise HarnessError(
            "the release names no singleuser.image (neither its values nor the chart's defaults): "
            "a helper pod needs the notebook image; redeploy with `invoke deploy`"
        )
    uid = chart_values.get(values, "singleuser.uid")
    fs_gid = chart_values.get(values, "singleuser.fsGid")
    security = {
        **({"runAsUser": uid} if uid is not None else {}),
        **({"fsGroup": fs_gid} if fs_gid is not None else {}),
    }
    return {"name": NOTEBOOK_CONTAINER, "image": f"{image.get('name')}:{image.get('tag')}"}, security


def volume_record(claim) -> dict:
    """A user's volume as restore will make it again (not its binding to a disk)."""
    spec = claim.spec
    return {
        "name": claim.metadata.name,
        "labels": claim.metadata.labels or {},
        "annotations": {
            k: v for k, v in (claim.metadata.annotations or {}).items() if k.startswith(VOLUME_ANNOTATIONS)
        },
        "accessModes": spec.access_modes or ["ReadWriteOnce"],
        "storage": ((spec.resources.requests or {}) if spec.resources else {}).get("storage", "10Gi"),
        "storageClassName": spec.storage_class_name,
    }


class HomeReader:
    """A pod that mounts a user's volume: their running server, else a helper pod."""

    def __init__(self, target, values: dict):
        self.core, self.namespace = target.core(), target.namespace  # a client per thread (pods.py)
        self.container, self.security = user_helper(values)

    def _server_pod(self, claim: str) -> tuple[str, str] | None:
        """(pod, path) of the user's running server that mounts `claim` in its notebook
        container, at the path it mounts it (the values' singleuser.storage.homeMountPath
        as the spawner applied it, read from the pod, not assumed)."""
        for pod in self.core.list_namespaced_pod(
            self.namespace, label_selector=f"release={RELEASE},component=singleuser-server"
        ).items:
            if pod.status.phase != "Running" or pod.metadata.deletion_timestamp is not None:
                continue
            volumes = {
                v.name
                for v in pod.spec.volumes or []
                if v.persistent_volume_claim and v.persistent_volume_claim.claim_name == claim
            }
            for container in pod.spec.containers:
                for mount in container.volume_mounts or [] if container.name == NOTEBOOK_CONTAINER else []:
                    if mount.name in volumes and not mount.sub_path:
                        return pod.metadata.name, mount.mount_path
        return None

    def tar(self, claim: str, into: BinaryIO) -> bool:
        """The home as a tar stream into `into`; whether it held still while it was read."""
        server = self._server_pod(claim)
        pod, home = server if server else (None, HOME)
        with contextlib.ExitStack() as stack:
            if pod is None:
                pod = stack.enter_context(
                    helper_pod(
                        self.core,
                        self.namespace,
                        f"hubharness-backup-{claim}",
                        self.container,
                        claim,
                        HOME,
                        True,
                        self.security,
                    )
                )
            for _ in range(TAR_ATTEMPTS):
                into.seek(0)
                into.truncate()
                rc, err = exec_in(
                    self.core,
                    self.namespace,
                    pod,
                    NOTEBOOK_CONTAINER,
                    inpod("tar-home", home, LOST_FOUND),
                    into,
                )
                if rc == 0:
                    into.seek(0)
                    return True
                if rc != 1:
                    raise HarnessError(f"tar of {claim} in pod {pod} failed ({rc}): {last_line(err)}")
            into.seek(0)
            return False


def _user_homes(core, namespace: str) -> list[tuple[str, Any]]:
    """(user, claim) of every user volume; the user names the home's folder in the archive."""
    homes = user_claims(core, namespace)
    for user, claim in homes:
        if "/" in user or user in (".", ".."):
            raise HarnessError(f"volume {claim.metadata.name} names user {user!r}, not a folder name")
    return homes


def _archive_homes(target, values: dict, homes: list, writer: backup.ArchiveWriter, tmp: Path) -> None:
    """Homes are read in parallel (helper pods wait on scheduling and volumes), archived in order."""

    def read(claim: str):
        stream = tempfile.TemporaryFile(dir=tmp)  # noqa: SIM115
        try:
            return stream, HomeReader(target, values).tar(claim, stream)
        except BaseException:
            stream.close()
            raise

    with ThreadPoolExecutor(max_workers=PARALLEL_PODS) as pool:
        reads = [(user, pool.submit(read, claim.metadata.name)) for user, claim in homes]
        for user, future in reads:
            stream, still = future.result()
            home = tmp / "home" / user
            home.mkdir(parents=True)
            with stream, tarfile.open(fileobj=stream) as tar:
                tar.extractall(home, filter="data")  # refuses absolute paths, .. and devices
            for path in sorted(home.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    writer.add_file(f"home/{user}/{path.relative_to(home).as_posix()}", path, live=False)
            if not still:
                writer.unsettled.append(f"home/{user}/")


def run_backup(target, to: Path | None = None) -> backup.BackupResult:
    deployment = target.deployment()
    try:
        hubs = deployment.component_pods("hub")
        if not hubs:
            raise HarnessError(f"no hub pod in namespace {target.namespace}: nothing to back up (is it deployed?)")
        serving = deployment.serving_pod("hub")
        if serving is None:  # the database is read in the hub's container: it must run
            raise HarnessError(
                f"no hub pod runs in namespace {target.namespace} "
                f"({', '.join(f'{p.metadata.name} {p.status.phase}' for p in hubs)}): back up when it does"
            )
        hub = serving.metadata.name

        def fill(writer: backup.ArchiveWriter, tmp: Path) -> dict:
            snapshot = tmp / "jupyterhub.sqlite"
            with snapshot.open("wb") as out:
                rc, err = exec_in(deployment.core, target.namespace, hub, "hub", inpod("snapshot", HUB_DB), out)
            if rc != 0:
                raise HarnessError(
                    f"the online backup of {HUB_DB} in pod {hub} failed: {last_line(err)} "
                    "(hub.db.type must be sqlite-pvc)"
                )
            db_integrity = backup.integrity(snapshot)
            if db_integrity != "ok":
                raise HarnessError(f"the hub database fails integrity_check ({db_integrity}): not backed up")
            writer.add_file(backup.DB_MEMBER, snapshot, live=False)
            users = backup.db_users(snapshot)
            homes = _user_homes(deployment.core, target.namespace)
            _archive_homes(target, deployment.rendered_values, homes, writer, tmp)
            writer.add_bytes("config/values.json", json.dumps(deployment.values, indent=2, sort_keys=True).encode())
            refs = list(
                chart_values.secret_refs(chart_values.get(deployment.rendered_values, "hub.extraEnv", {})).values()
            )
            manifest = backup.manifest_base(
                target.context,
                target.namespace,
                deployment.chart_version,
                refs,
                users,
                db_integrity,
                jupyterhub=chart.hub_version(deployment.chart_version),
            )
            return {**manifest, "volumes": {user: volume_record(claim) for user, claim in homes}}

        return backup.write_archive(target, to, fill)
    finally:
        deployment.close()
