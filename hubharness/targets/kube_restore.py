"""Restore of a chart deployment from a hubharness archive (the format kube_backup.py writes).

The archive is checked byte for byte before anything changes (backup.check_and_stage).
Then nothing may write: the hub is scaled to 0 and the user pods are stopped. The
database goes into the hub's volume and each home into its user's volume, through
short-lived helper pods (exec with the bytes on stdin; inpod.py checks their size and
sha256 before it replaces anything). A user volume that is gone (a purged namespace)
is made again under the name and labels the backup recorded, so KubeSpawner finds it on
the user's next spawn. What was there is moved aside inside its own volume, never
deleted. Then the hub is scaled back, and the database checked where it runs.
"""

from __future__ import annotations

import io
import json
import posixpath
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .. import backup
from ..errors import HarnessError
from ..waiting import wait_until
from .kube_backup import HOME, HUB_DB, user_helper
from .kube_deployment import NOTEBOOK_CONTAINER, USERNAME_ANNOTATION
from .kube_pods import exec_in, helper_pod, inpod, last_line

HUB_DEPLOYMENT = "hub"
ASIDE = ".hubharness-pre-restore"  # in a home: <stamp>/ holds what the home held
WORKERS = 3  # helper pods at once: each waits on scheduling, a volume and exec
STOP_TIMEOUT = 120


@dataclass
class HubPod:
    """What a helper pod needs to write the hub's database as the hub would."""

    container: dict
    security: dict | None
    claim: str
    replicas: int


def hub_pod(target, namespace: str) -> HubPod:
    """From the chart's hub Deployment: the image, the security contexts and the volume
    that holds the database (there is one only with hub.db.type sqlite-pvc)."""
    from kubernetes.client.exceptions import ApiException

    apps = target.apps()
    try:
        hub = apps.read_namespaced_deployment(HUB_DEPLOYMENT, namespace)
    except ApiException as e:
        raise HarnessError(f"reading deployment {HUB_DEPLOYMENT} in {namespace} failed: {e.status} {e.reason}") \
            from None
    api = apps.api_client
    spec = hub.spec.template.spec
    container = next((c for c in spec.containers if c.name == "hub"), spec.containers[0])
    mounts = {m.name for m in container.volume_mounts or [] if m.mount_path == posixpath.dirname(HUB_DB)}
    claims = [v.persistent_volume_claim.claim_name for v in spec.volumes or []
              if v.name in mounts and v.persistent_volume_claim]
    if not claims:
        raise HarnessError(f"the hub keeps its database on no volume at {posixpath.dirname(HUB_DB)} "
                           "(hub.db.type must be sqlite-pvc): there is nothing to restore it into")
    helper = {"name": "hub", "image": container.image}
    if container.security_context:
        helper["securityContext"] = api.sanitize_for_serialization(container.security_context)
    security = api.sanitize_for_serialization(spec.security_context) if spec.security_context else None
    return HubPod(helper, security, claims[0], hub.spec.replicas if hub.spec.replicas is not None else 1)


def _scale(target, namespace: str, replicas: int) -> None:
    target.apps().patch_namespaced_deployment_scale(HUB_DEPLOYMENT, namespace, {"spec": {"replicas": replicas}})


def _home_tar(home: Path, into) -> None:
    """The staged home as a tar of its entries (not of `.`: the volume's root stays as it is)."""
    with tarfile.open(fileobj=into, mode="w") as tar:
        for entry in sorted(home.iterdir()):
            tar.add(entry, arcname=entry.name)
    into.seek(0)


def _volume(record: dict) -> dict:
    from .kube import validated

    spec = {"accessModes": record["accessModes"], "resources": {"requests": {"storage": record["storage"]}}}
    if record.get("storageClassName"):
        spec["storageClassName"] = record["storageClassName"]
    return validated({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "spec": spec, "metadata": {
        "name": record["name"], "labels": record["labels"], "annotations": record["annotations"]}})


def _send(core, namespace: str, pod: str, container: str, command: list[str], data, what: str) -> dict:
    out = io.BytesIO()
    rc, err = exec_in(core, namespace, pod, container, command, out, stdin=data)
    if rc != 0:
        raise HarnessError(f"{what} failed in pod {pod}: {last_line(err)}")
    return json.loads(out.getvalue().decode().strip().splitlines()[-1])


class Restore:
    def __init__(self, target, deployment, staging: Path, manifest: dict, stamp: str):
        self.target, self.namespace = target, target.namespace
        self.values, self.staging, self.manifest, self.stamp = deployment.values, staging, manifest, stamp
        self.homes = sorted(p.name for p in (staging / "home").iterdir() if p.is_dir()) \
            if (staging / "home").is_dir() else []

    def write_db(self, hub: HubPod) -> str | None:
        core = self.target.core()  # a client of its own: this runs in a worker thread
        staged = self.staging / backup.DB_MEMBER
        aside = f"{posixpath.dirname(HUB_DB)}/pre-restore/{self.stamp}"
        with helper_pod(core, self.namespace, "hubharness-restore-hub-db", hub.container, hub.claim,
                        posixpath.dirname(HUB_DB), False, hub.security) as pod, staged.open("rb") as data:
            done = _send(core, self.namespace, pod, "hub", inpod("restore-db", HUB_DB, *backup.size_and_sha256(data),
                                                                  aside),
                         data, f"writing the hub database into volume {hub.claim}")
        return f"{aside}/ in volume {hub.claim}" if done["moved_aside"] else None

    def write_home(self, user: str, record: dict, exists: bool) -> str | None:
        core = self.target.core()
        if not exists:
            core.create_namespaced_persistent_volume_claim(self.namespace, _volume(record))
        if user not in self.homes:
            return None  # an empty home: the volume is all there is to it
        container, security = user_helper(self.values)
        aside = f"{ASIDE}/{self.stamp}"
        with tempfile.TemporaryFile(dir=self.staging) as data:
            _home_tar(self.staging / "home" / user, data)
            size, digest = backup.size_and_sha256(data)
            with helper_pod(core, self.namespace, f"hubharness-restore-{record['name']}", container,
                            record["name"], HOME, False, security) as pod:
                done = _send(core, self.namespace, pod, NOTEBOOK_CONTAINER,
                             inpod("restore-home", HOME, size, digest, aside), data,
                             f"writing {user}'s home into volume {record['name']}")
        return f"{HOME}/{aside}/ in volume {record['name']}" if done["moved_aside"] else None

    def write_all(self, hub: HubPod, existing: set[str]) -> list[str]:
        volumes = self.manifest.get("volumes", {})
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            futures = [pool.submit(self.write_db, hub)] + [
                pool.submit(self.write_home, user, record, record["name"] in existing)
                for user, record in sorted(volumes.items())]
            return [aside for f in futures if (aside := f.result())]


def _stop_everything(core, namespace: str) -> None:
    """Nothing may write while the data is replaced: no hub, no user server."""
    from .kube import RELEASE

    core.delete_collection_namespaced_pod(namespace, label_selector=f"release={RELEASE},component=singleuser-server")
    wait_until(f"the hub and user pods in {namespace} to stop", lambda: not [
        p for p in core.list_namespaced_pod(namespace, label_selector=f"release={RELEASE}").items
        if (p.metadata.labels or {}).get("component") in ("hub", "singleuser-server")], STOP_TIMEOUT)


def run_restore(target, archive: Path, force: bool = False) -> backup.RestoreResult:
    from .kube import READY_TIMEOUT

    started = time.monotonic()
    deployment = target.deployment()  # one clear line when nothing is deployed
    core = deployment.core
    archive = archive.resolve()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    try:
        with tempfile.TemporaryDirectory(prefix="hubharness-restore-") as tmp:
            checked = backup.check_and_stage(archive, target.context, target.namespace, Path(tmp) / "staging")
            restore = Restore(target, deployment, checked.staging, checked.manifest, stamp)
            volumes = checked.manifest.get("volumes", {})
            unknown = [u for u in restore.homes if u not in volumes]
            if unknown:
                raise HarnessError(f"archive {archive} holds {unknown[0]}'s home but no record of their volume "
                                   "(it was not made on kubernetes): refused")
            claims = core.list_namespaced_persistent_volume_claim(target.namespace).items
            existing = {c.metadata.name for c in claims}
            occupied = sorted(c.metadata.name for c in claims
                              if (c.metadata.annotations or {}).get(USERNAME_ANNOTATION))
            if occupied and not force:
                raise HarnessError(
                    f"namespace {target.namespace} has user volumes ({', '.join(occupied[:5])}): restore would "
                    "replace their files; pass --force (what they hold is moved aside inside each volume)")
            hub = hub_pod(target, target.namespace)
            backup.forget_servers(checked.staging / backup.DB_MEMBER, keep_spawner_state=True)
            _scale(target, target.namespace, 0)
            try:
                _stop_everything(core, target.namespace)
                moved = restore.write_all(hub, existing)
            except BaseException:
                _scale(target, target.namespace, hub.replicas)  # back, on whichever database is in place
                raise
            _scale(target, target.namespace, hub.replicas)
        wait_until(f"the hub pod in {target.namespace} to be Running and Ready",
                   lambda: target.pods_ready(core, ["hub"]), READY_TIMEOUT)
        hub_now = deployment.component_pods("hub")[0].metadata.name
        out = io.BytesIO()
        rc, err = exec_in(core, target.namespace, hub_now, "hub", inpod("integrity", HUB_DB), out)
        result = out.getvalue().decode().strip() if rc == 0 else f"not checked ({last_line(err)})"
        if result != "ok":
            raise HarnessError(f"the restored database fails integrity_check in pod {hub_now}: {result}; "
                               f"the previous data is in {'; '.join(moved) or 'nowhere: there was none'}")
    finally:
        deployment.close()
    files = checked.manifest["files"]
    return backup.RestoreResult(checked.manifest.get("users", []), len(files),
                                sum(f["size"] for f in files.values()), "; ".join(moved) or None, result,
                                time.monotonic() - started)
