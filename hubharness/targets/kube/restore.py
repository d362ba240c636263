"""Restore of a chart deployment from a hubharness archive (the format backup.py writes).

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

from kubernetes.client.exceptions import ApiException

from ... import backup
from ...errors import HarnessError
from .api import HUB_DB, NOTEBOOK_CONTAINER, USERNAME_ANNOTATION, validated
from .backup import HOME, user_helper
from .pods import PARALLEL_PODS, exec_in, helper_pod, inpod, last_line

HUB_DEPLOYMENT = "hub"
ASIDE = ".hubharness-pre-restore"  # in a home: <stamp>/ holds what the home held
PLACEMENT = ("imagePullSecrets", "nodeSelector", "tolerations", "affinity")  # of the hub, for its helper


@dataclass
class HubPod:
    """What a helper pod needs to write the hub's database as the hub would."""

    container: dict
    security: dict | None
    placement: dict  # the hub's image pull secrets, node selector, tolerations, affinity
    claim: str
    replicas: int


def hub_pod(apps, namespace: str) -> HubPod:
    """From the chart's hub Deployment: the image, the security contexts, where it may be
    scheduled, and the volume that holds the database (only with hub.db.type sqlite-pvc)."""
    try:
        hub = apps.read_namespaced_deployment(HUB_DEPLOYMENT, namespace)
    except ApiException as e:
        raise HarnessError(
            f"reading deployment {HUB_DEPLOYMENT} in {namespace} failed: {e.status} {e.reason}"
        ) from None
    api = apps.api_client
    spec = hub.spec.template.spec
    container = next((c for c in spec.containers if c.name == "hub"), spec.containers[0])
    mounts = {m.name for m in container.volume_mounts or [] if m.mount_path == posixpath.dirname(HUB_DB)}
    claims = [
        v.persistent_volume_claim.claim_name
        for v in spec.volumes or []
        if v.name in mounts and v.persistent_volume_claim
    ]
    if not claims:
        raise HarnessError(
            f"the hub keeps its database on no volume at {posixpath.dirname(HUB_DB)} "
            "(hub.db.type must be sqlite-pvc): there is nothing to restore it into"
        )
    helper = {"name": "hub", "image": container.image}
    if container.security_context:
        helper["securityContext"] = api.sanitize_for_serialization(container.security_context)
    security = api.sanitize_for_serialization(spec.security_context) if spec.security_context else None
    template = api.sanitize_for_serialization(spec)
    placement = {k: template[k] for k in PLACEMENT if k in template}
    return HubPod(helper, security, placement, claims[0], hub.spec.replicas if hub.spec.replicas is not None else 1)


def _scale(apps, namespace: str, replicas: int) -> None:
    apps.patch_namespaced_deployment_scale(HUB_DEPLOYMENT, namespace, {"spec": {"replicas": replicas}})


def _home_tar(home: Path, into) -> None:
    """The staged home as a tar of its entries (not of `.`: the volume's root stays as it is)."""
    with tarfile.open(fileobj=into, mode="w") as tar:
        for entry in sorted(home.iterdir()):
            tar.add(entry, arcname=entry.name)
    into.seek(0)


def _volume(record: dict) -> dict:
    spec = {"accessModes": record["accessModes"], "resources": {"requests": {"storage": record["storage"]}}}
    if record.get("storageClassName"):
        spec["storageClassName"] = record["storageClassName"]
    return validated(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "spec": spec,
            "metadata": {"name": record["name"], "labels": record["labels"], "annotations": record["annotations"]},
        }
    )


def _send(core, namespace: str, pod: str, container: str, command: list[str], data, what: str) -> dict:
    out = io.BytesIO()
    rc, err = exec_in(core, namespace, pod, container, command, out, stdin=data)
    if rc != 0:
        raise HarnessError(f"{what} failed in pod {pod}: {last_line(err)}")
    return json.loads(out.getvalue().decode().strip().splitlines()[-1])


class Restore:
    """One restore into one namespace, from an archive already checked into `staging`."""

    def __init__(self, target, deployment, checked: backup.Checked, force: bool):
        self.target, self.namespace = target, target.namespace
        self.values, self.staging, self.manifest = deployment.rendered_values, checked.staging, checked.manifest
        self.stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        self.volumes = self.manifest.get("volumes", {})
        home = self.staging / "home"
        self.homes = sorted(p.name for p in home.iterdir() if p.is_dir()) if home.is_dir() else []
        self.core, self.apps = deployment.core, target.apps()
        self.refuse_what_would_be_lost(force)
        self.hub = hub_pod(self.apps, self.namespace)

    def refuse_what_would_be_lost(self, force: bool) -> None:
        unknown = [u for u in self.homes if u not in self.volumes]
        if unknown:
            raise HarnessError(
                f"the archive holds {unknown[0]}'s home but no record of their volume "
                "(it was not made on kubernetes): refused"
            )
        claims = self.core.list_namespaced_persistent_volume_claim(self.namespace).items
        self.existing = {c.metadata.name for c in claims}
        occupied = sorted(c.metadata.name for c in claims if (c.metadata.annotations or {}).get(USERNAME_ANNOTATION))
        if occupied and not force:
            raise HarnessError(
                f"namespace {self.namespace} has user volumes ({', '.join(occupied[:5])}): restore would "
                "replace their files; pass --force (what they hold is moved aside inside each volume)"
            )

    def run(self) -> list[str]:
        """Write everything with the hub down; where what was replaced went."""
        backup.forget_servers(self.staging / backup.DB_MEMBER, keep_spawner_state=True)
        _scale(self.apps, self.namespace, 0)
        try:
            self.target.stop_user_pods(self.core, until_gone=("hub", "singleuser-server"))  # nothing may write
            with ThreadPoolExecutor(max_workers=PARALLEL_PODS) as pool:
                futures = [pool.submit(self.write_db)] + [
                    pool.submit(self.write_home, user, record) for user, record in sorted(self.volumes.items())
                ]
                return [aside for f in futures if (aside := f.result())]
        finally:
            _scale(self.apps, self.namespace, self.hub.replicas)  # also on failure: on whichever database is in place

    def write_db(self) -> str | None:
        core = self.target.core()  # a client of its own: this runs in a worker thread
        staged, hub = self.staging / backup.DB_MEMBER, self.hub
        aside = f"{posixpath.dirname(HUB_DB)}/pre-restore/{self.stamp}"
        with (
            helper_pod(
                core,
                self.namespace,
                "hubharness-restore-hub-db",
                hub.container,
                hub.claim,
                posixpath.dirname(HUB_DB),
                False,
                hub.security,
                hub.placement,
            ) as pod,
            staged.open("rb") as data,
        ):
            done = _send(
                core,
                self.namespace,
                pod,
                "hub",
                inpod("restore-db", HUB_DB, *backup.size_and_sha256(data), aside),
                data,
                f"writing the hub database into volume {hub.claim}",
            )
        return f"{aside}/ in volume {hub.claim}" if done["moved_aside"] else None

    def write_home(self, user: str, record: dict) -> str | None:
        core = self.target.core()
        if record["name"] not in self.existing:
            core.create_namespaced_persistent_volume_claim(self.namespace, _volume(record))
        if user not in self.homes:
            return None  # an empty home: the volume is all there is to it
        container, security = user_helper(self.values)
        aside = f"{ASIDE}/{self.stamp}"
        with tempfile.TemporaryFile(dir=self.staging) as data:
            _home_tar(self.staging / "home" / user, data)
            size, digest = backup.size_and_sha256(data)
            with helper_pod(
                core,
                self.namespace,
                f"hubharness-restore-{record['name']}",
                container,
                record["name"],
                HOME,
                False,
                security,
            ) as pod:
                done = _send(
                    core,
                    self.namespace,
                    pod,
                    NOTEBOOK_CONTAINER,
                    inpod("restore-home", HOME, size, digest, aside),
                    data,
                    f"writing {user}'s home into volume {record['name']}",
                )
        return f"{HOME}/{aside}/ in volume {record['name']}" if done["moved_aside"] else None


def _hub_back(target, deployment, replaced: str) -> str:
    """Wait for the hub to be Ready again; integrity_check of the database it opened."""
    core = deployment.core
    try:
        target.wait_ready(core, "hub")
    except HarnessError as e:
        raise HarnessError(f"{e}; the data the restore replaced is in {replaced}") from None
    checked = deployment.hub_database_integrity()
    if not checked:
        raise HarnessError(
            f"the restored database fails: {checked.detail}; the data the restore replaced is in {replaced}"
        )
    return "ok"


def run_restore(target, archive: Path, force: bool = False) -> backup.RestoreResult:
    started = time.monotonic()
    deployment = target.deployment()  # one clear line when nothing is deployed
    try:
        with tempfile.TemporaryDirectory(prefix="hubharness-restore-") as tmp:
            checked = backup.check_and_stage(archive.resolve(), target.context, target.namespace, Path(tmp) / "staging")
            moved = Restore(target, deployment, checked, force).run()
        replaced = "; ".join(moved) or None
        integrity = _hub_back(target, deployment, replaced or "nowhere: none was there")
    finally:
        deployment.close()
    files = checked.manifest["files"]
    return backup.RestoreResult(
        checked.manifest.get("users", []),
        len(files),
        sum(f["size"] for f in files.values()),
        replaced,
        integrity,
        time.monotonic() - started,
    )
