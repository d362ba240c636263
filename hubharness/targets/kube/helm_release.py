"""What helm deployed, read from the release record helm keeps in the namespace.

Helm 3 stores each release revision as a Secret (type helm.sh/release.v1, labels
owner=helm, name=<release>, status=deployed): gzip'd JSON, base64 twice (once by helm,
once by the API). Reading it with the kubernetes client gives verify the chart version
and the values actually installed, without needing helm on the verifying machine.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass, field

from kubernetes.client.exceptions import ApiException

from ... import values as chart_values
from ...errors import HarnessError


@dataclass
class Release:
    name: str
    revision: int
    chart_version: str
    app_version: str
    config: dict  # the values given at install (helm's "user-supplied values")
    defaults: dict = field(default_factory=dict)  # the chart's own values.yaml, as helm keeps it
    record: str = ""  # the Secret helm keeps this revision in

    @property
    def values(self) -> dict:
        """What the chart rendered with: its defaults under the values given. Read a key
        whose default matters from here, not from `config` with a default of our own."""
        return chart_values.merge(self.defaults, self.config)


def decode(data: str) -> dict:
    """The release JSON from a Secret's `data.release` as the API returns it."""
    raw = base64.b64decode(base64.b64decode(data))
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return json.loads(raw)


def encode(release: dict) -> str:
    """The inverse of decode (as helm writes it, then the API encodes it again)."""
    inner = base64.b64encode(gzip.compress(json.dumps(release).encode()))
    return base64.b64encode(inner).decode()


def deployed(core, namespace: str, release: str) -> Release | None:
    """The deployed revision, or None (no such release, or no such namespace)."""
    try:
        secrets = core.list_namespaced_secret(
            namespace, label_selector=f"owner=helm,name={release},status=deployed"
        ).items
    except ApiException as e:
        if e.status == 404:
            return None
        raise HarnessError(f"reading helm's release record in {namespace} failed: {e.status} {e.reason}") from None
    if not secrets:
        return None
    newest = max(secrets, key=lambda s: int((s.metadata.labels or {}).get("version", "0")))
    try:
        body = decode(newest.data["release"])
        meta = body["chart"]["metadata"]
        return Release(
            body["name"],
            int(body.get("version", 0)),
            meta["version"],
            meta.get("appVersion", ""),
            body.get("config") or {},
            body["chart"].get("values") or {},
            newest.metadata.name,
        )
    except (KeyError, TypeError, ValueError) as e:
        raise HarnessError(
            f"helm release record {newest.metadata.name} in {namespace} is unreadable "
            f"({type(e).__name__}): redeploy with `invoke deploy`"
        ) from None
