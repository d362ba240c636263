"""Backup of a chart deployment into the same archive format as the local target.

Bytes come out through `exec` over the API server's websocket stream, never through a
copy of the live file (the seed's recipe): the hub database with sqlite's online backup
API run inside the hub pod; each user's home with tar inside a pod that mounts their
volume, their running server's, else a short-lived helper pod from the notebook image.
Restore on kubernetes is not implemented yet.
"""

from __future__ import annotations

import json
import sqlite3
import tarfile
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from .. import backup, chart
from .. import values as chart_values
from ..errors import HarnessError
from ..waiting import wait_until
from .kube_deployment import NOTEBOOK_CONTAINER, USERNAME_ANNOTATION

HUB_DB = "/srv/jupyterhub/jupyterhub.sqlite"  # the chart's hub-db-dir volume
HOME = "/home/jovyan"  # singleuser.storage.homeMountPath
EXEC_TIMEOUT = 600
HELPER_TIMEOUT = 120
TAR_ATTEMPTS = 3  # GNU tar exits 1 when a file changed while it read it: read again
# Runs in the hub container: an online backup into memory, written to stdout.
DB_SNAPSHOT = (
    "import sqlite3, sys\n"
    "src = sqlite3.connect(f'file:{sys.argv[1]}?mode=ro', uri=True, timeout=30)\n"
    "dst = sqlite3.connect(':memory:')\n"
    "src.backup(dst)\n"
    "sys.stdout.buffer.write(dst.serialize())\n"
)


def exec_in(core, namespace: str, pod: str, container: str, command: list[str],
            stdout: BinaryIO) -> tuple[int, bytes]:
    """Run a command in a pod, its output written to `stdout` as it comes (a home can be
    larger than memory); (exit code, stderr). Bounded by EXEC_TIMEOUT."""
    from kubernetes.stream import stream

    ws = stream(core.connect_get_namespaced_pod_exec, pod, namespace, command=command, container=container,
                stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False, binary=True)
    err = bytearray()
    deadline = time.monotonic() + EXEC_TIMEOUT
    try:
        while ws.is_open() and time.monotonic() < deadline:
            ws.update(timeout=1)
            # timeout=0: a read must not pull more frames in (into the other channel)
            stdout.write(ws.read_stdout(timeout=0) or b"")
            err += ws.read_stderr(timeout=0) or b""
        if ws.is_open():
            raise HarnessError(f"`{command[0]}` in pod {pod} did not finish within {EXEC_TIMEOUT}s")
        stdout.write(ws.read_stdout(timeout=0) or b"")  # what the last update buffered
        err += ws.read_stderr(timeout=0) or b""
        return ws.returncode, bytes(err)
    finally:
        ws.close()


def _last_line(data: bytes) -> str:
    lines = data.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "no output"


class HomeReader:
    """A pod that mounts a user's volume: their running server, else a helper pod."""

    def __init__(self, deployment):
        self.core, self.namespace, self.deployment = deployment.core, deployment.namespace, deployment
        image = chart_values.get(deployment.values, "singleuser.image", {}) or {}
        self.image = f"{image.get('name')}:{image.get('tag')}"

    def _server_pod(self, claim: str):
        for pod in self.core.list_namespaced_pod(self.namespace, label_selector="component=singleuser-server").items:
            claims = {v.persistent_volume_claim.claim_name for v in pod.spec.volumes or [] if v.persistent_volume_claim}
            if claim in claims and pod.status.phase == "Running" and pod.metadata.deletion_timestamp is None:
                return pod.metadata.name
        return None

    def _helper(self, claim: str) -> str:
        from .kube import fail_if_stuck, validated

        name = f"hubharness-backup-{claim}"[:63].rstrip("-")
        self.core.create_namespaced_pod(self.namespace, validated({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "hubharness"}},
            "spec": {"restartPolicy": "Never",
                     "securityContext": {"runAsUser": 1000, "fsGroup": 100},
                     "containers": [{"name": NOTEBOOK_CONTAINER, "image": self.image,
                                     "command": ["sleep", str(EXEC_TIMEOUT)],
                                     "volumeMounts": [{"name": "home", "mountPath": HOME}]}],
                     "volumes": [{"name": "home", "persistentVolumeClaim": {"claimName": claim,
                                                                           "readOnly": True}}]}}))

        def running():
            pod = self.core.read_namespaced_pod(name, self.namespace)
            fail_if_stuck(pod, f"backup helper pod {name}")
            return pod.status is not None and pod.status.phase == "Running"

        wait_until(f"backup helper pod {name} to run", running, HELPER_TIMEOUT)
        return name

    def tar(self, claim: str, into: BinaryIO) -> bool:
        """The home as a tar stream into `into`; whether it held still while it was read."""
        pod, helper = self._server_pod(claim), None
        if pod is None:
            pod = helper = self._helper(claim)
        try:
            for _ in range(TAR_ATTEMPTS):
                into.seek(0)
                into.truncate()
                rc, err = exec_in(self.core, self.namespace, pod, NOTEBOOK_CONTAINER,
                                  ["tar", "-C", HOME, "-cf", "-", "."], into)
                if rc == 0:
                    return True
                if rc != 1:
                    raise HarnessError(f"tar of {claim} in pod {pod} failed ({rc}): {_last_line(err)}")
            return False
        finally:
            into.seek(0)
            if helper:
                self.core.delete_namespaced_pod(helper, self.namespace, grace_period_seconds=0)


def run_backup(target, to: Path | None = None) -> backup.BackupResult:
    started = time.monotonic()
    deployment = target.deployment()
    core = deployment.core
    hubs = deployment.component_pods("hub")
    if not hubs:
        raise HarnessError(f"no hub pod in namespace {target.namespace}: nothing to back up (is it deployed?)")
    dest = backup.archive_path(target, to)
    writer = backup.ArchiveWriter(dest)
    try:
        with tempfile.TemporaryDirectory(prefix="hubharness-backup-") as tmp:
            snapshot = Path(tmp) / "jupyterhub.sqlite"
            with snapshot.open("wb") as out:
                rc, err = exec_in(core, target.namespace, hubs[0].metadata.name, "hub",
                                  ["python3", "-c", DB_SNAPSHOT, HUB_DB], out)
            if rc != 0:
                raise HarnessError(f"the online backup of {HUB_DB} in pod {hubs[0].metadata.name} failed: "
                                   f"{_last_line(err)} (hub.db.type must be sqlite-pvc)")
            db_integrity = backup.integrity(snapshot)
            if db_integrity != "ok":
                raise HarnessError(f"the hub database fails integrity_check ({db_integrity}): not backed up")
            writer.add_file(backup.DB_MEMBER, snapshot, live=False)
            users = backup.db_users(snapshot)
            reader = HomeReader(deployment)
            for claim in core.list_namespaced_persistent_volume_claim(target.namespace).items:
                user = (claim.metadata.annotations or {}).get(USERNAME_ANNOTATION)
                if not user:
                    continue
                if "/" in user or user in (".", ".."):
                    raise HarnessError(f"volume {claim.metadata.name} names user {user!r}, not a folder name")
                home = Path(tmp) / "home" / user
                home.mkdir(parents=True)
                with tempfile.TemporaryFile(dir=tmp) as stream:
                    still = reader.tar(claim.metadata.name, stream)
                    with tarfile.open(fileobj=stream) as tar:
                        tar.extractall(home, filter="data")  # refuses absolute paths, .. and devices
                for path in sorted(home.rglob("*")):
                    if path.is_file() and not path.is_symlink():
                        writer.add_file(f"home/{user}/{path.relative_to(home).as_posix()}", path, live=False)
                if not still:
                    writer.unsettled.append(f"home/{user}/")
            writer.add_bytes("config/values.json", json.dumps(deployment.values, indent=2, sort_keys=True).encode())
        refs = list(chart_values.secret_refs(chart_values.get(deployment.values, "hub.extraEnv", {})).values())
        manifest = backup.manifest_base(target.context, target.namespace, deployment.chart_version, refs, users,
                                        db_integrity, jupyterhub=chart.hub_version(deployment.chart_version))
        archive = writer.finish(manifest)
    except (OSError, sqlite3.Error, tarfile.TarError) as e:
        writer.abort()
        reason = getattr(e, "strerror", None) or str(e)
        raise HarnessError(f"backup to {dest} failed: {reason}; nothing was written") from None
    except BaseException:
        writer.abort()
        raise
    finally:
        deployment.close()
    files = writer.files
    return backup.BackupResult(archive, users, len(files), sum(f["size"] for f in files.values()),
                        time.monotonic() - started)
