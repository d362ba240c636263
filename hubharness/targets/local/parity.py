"""What the local target does with each chart value: the parity table.

Every key of the chart's values schema under hub, proxy, singleuser, cull, scheduling,
prePuller and ingress falls under exactly one entry here (tests/test_parity.py walks
the schemas): applied as the chart's jupyterhub_config.py applies it, applied but not
enforced by a local process, or not applicable, with the reason. deploy lists the
values a user set that are not applicable; nothing is dropped silently.

HUB_TRAITS are the hub.* keys the chart turns into one JupyterHub trait each; the hub's
config (hub_config.py) applies them from this table, so the table and the config can't
drift apart.
"""

from __future__ import annotations

from collections.abc import Iterator

# hub.<key> → the JupyterHub trait the chart sets from it
HUB_TRAITS = {
    "hub.activeServerLimit": "active_server_limit",
    "hub.allowNamedServers": "allow_named_servers",
    "hub.namedServerLimitPerUser": "named_server_limit_per_user",
    "hub.concurrentSpawnLimit": "concurrent_spawn_limit",
    "hub.consecutiveFailureLimit": "consecutive_failure_limit",
    "hub.redirectToServer": "redirect_to_server",
    "hub.shutdownOnLogout": "shutdown_on_logout",
    "hub.authenticatePrometheus": "authenticate_prometheus",
    "hub.templatePaths": "template_paths",
    "hub.templateVars": "template_vars",
}

APPLIED = {
    **{key: f"JupyterHub.{trait}" for key, trait in HUB_TRAITS.items()},
    "hub.config": "each section's traits, the seeded secrets excepted",
    "hub.extraConfig": "executed in key order, as the chart does",
    "hub.extraEnv": "the hub's environment; secretKeyRefs resolved from the Secrets",
    "hub.services": "services with their apiToken (given, else generated and kept)",
    "hub.loadRoles": "roles",
    "hub.cookieSecret": "the cookie secret (given, else generated and kept)",
    "hub.db.type": "sqlite-pvc: a file in the state folder; sqlite-memory: in memory",
    "proxy.secretToken": "the proxy's auth token (given, else generated and kept)",
    "singleuser.extraEnv": "the servers' environment; image paths mapped to this machine",
    "singleuser.cmd": "the server command",
    "singleuser.defaultUrl": "Spawner.default_url",
    "singleuser.startTimeout": "Spawner.start_timeout",
    "singleuser.image.tag": "the notebook image's Spark is mirrored (images.py)",
    "singleuser.image.name": "the notebook image is mirrored (images.py)",
    "singleuser.lifecycleHooks": "exec hooks run in the server's folder and environment",
    "singleuser.storage.homeMountPath": "each user's home stands for it",
    "cull": "jupyterhub-idle-culler as a hub service, the chart's defaults under the values'",
    "debug.enabled": "DEBUG logs for hub and spawner",
    "custom.sparkCluster": "a Spark standalone master and workers as supervised processes (hubharness.sparkcluster)",
}

NOT_ENFORCED = {
    "singleuser.cpu": "Spawner cpu traits are set; a local process is not confined by them",
    "singleuser.memory": "Spawner mem traits are set; a local process is not confined by them",
    "singleuser.storage.capacity": "each home's capacity in OPS's figures and check; a folder is not confined by it",
    "hub.resources.limits.memory": "the hub's memory limit in OPS's figures and check; a process is not confined by it",
    "proxy.chp.resources.limits.memory": "the proxy's memory limit in OPS's figures and check; a process is not "
    "confined by it",
}

_POD = "Kubernetes pod spec: local processes have no pod"
_NET = "Kubernetes networking: everything listens on 127.0.0.1"
NOT_APPLICABLE = {
    "custom.sparkNative": "refused at deploy: Spark's executors as Kubernetes pods need a cluster, and pip's "
    "pyspark ships no Kubernetes resource manager (hubharness.sparknative)",
    # hub
    "hub.annotations": _POD,
    "hub.labels": _POD,
    "hub.args": "the hub's command is the harness's own (jupyterhub -f hub_config.py)",
    "hub.command": "the hub's command is the harness's own (jupyterhub -f hub_config.py)",
    "hub.baseUrl": "the harness serves the hub at /",
    "hub.containerSecurityContext": _POD,
    "hub.podSecurityContext": _POD,
    "hub.db.url": "only sqlite databases are run locally",
    "hub.db.password": "only sqlite databases are run locally",
    "hub.db.upgrade": "the local hub runs the harness's own JupyterHub",
    "hub.db.pvc": "the database is a file in the state folder",
    "hub.deploymentStrategy": _POD,
    "hub.existingSecret": "the chart's managed Secret is secrets/hub.json in the state folder",
    "hub.extraContainers": _POD,
    "hub.extraFiles": _POD,
    "hub.extraPodSpec": _POD,
    "hub.extraVolumeMounts": _POD,
    "hub.extraVolumes": _POD,
    "hub.initContainers": _POD,
    "hub.fsGid": "processes run as the harness's user",
    "hub.image": "the hub runs from the harness's virtualenv, the chart's JupyterHub version",
    "hub.lifecycle": _POD,
    "hub.livenessProbe": _POD,
    "hub.readinessProbe": _POD,
    "hub.networkPolicy": _NET,
    "hub.nodeSelector": _POD,
    "hub.tolerations": _POD,
    "hub.pdb": _POD,
    "hub.resources": _POD,
    "hub.revisionHistoryLimit": _POD,
    "hub.service": _NET,
    "hub.serviceAccount": _POD,
    # proxy
    "proxy.annotations": _POD,
    "proxy.labels": _POD,
    "proxy.chp": "configurable-http-proxy runs as a process with the harness's flags",
    "proxy.deploymentStrategy": _POD,
    "proxy.https": "TLS is the ingress's or a real cluster's: the local proxy serves http on 127.0.0.1",
    "proxy.secretSync": "TLS is the ingress's or a real cluster's",
    "proxy.service": _NET,
    "proxy.traefik": "TLS is the ingress's or a real cluster's",
    # singleuser
    "singleuser.allowPrivilegeEscalation": _POD,
    "singleuser.cloudMetadata": _NET,
    "singleuser.events": "Kubernetes events of user pods",
    "singleuser.extraAnnotations": _POD,
    "singleuser.extraContainers": _POD,
    "singleuser.extraFiles": _POD,
    "singleuser.extraLabels": _POD,
    "singleuser.extraNodeAffinity": _POD,
    "singleuser.extraPodAffinity": _POD,
    "singleuser.extraPodAntiAffinity": _POD,
    "singleuser.extraPodConfig": _POD,
    "singleuser.extraResource": _POD,
    "singleuser.extraTolerations": _POD,
    "singleuser.fsGid": "processes run as the harness's user",
    "singleuser.uid": "processes run as the harness's user",
    "singleuser.image.pullPolicy": "no image is pulled",
    "singleuser.image.pullSecrets": "no image is pulled",
    "singleuser.initContainers": _POD,
    "singleuser.networkPolicy": _NET,
    "singleuser.networkTools": _NET,
    "singleuser.nodeSelector": _POD,
    "singleuser.podNameTemplate": _POD,
    "singleuser.profileList": "KubeSpawner profiles choose pod specs",
    "singleuser.serviceAccountName": _POD,
    "singleuser.storage.type": "homes are folders in the state folder",
    "singleuser.storage.dynamic": "homes are folders in the state folder",
    "singleuser.storage.static": "homes are folders in the state folder",
    "singleuser.storage.extraLabels": "homes are folders in the state folder",
    "singleuser.storage.extraVolumes": _POD,
    "singleuser.storage.extraVolumeMounts": _POD,
    # the rest of the chart is about the cluster
    "scheduling": "Kubernetes scheduling",
    "prePuller": "no image is pulled",
    "ingress": "an Ingress needs a cluster: the hub is reached at 127.0.0.1",
}


def entry(key: str) -> tuple[str, str] | None:
    """(kind, why) of the most specific table entry that covers `key`, or None."""
    best: tuple[str, str, str] | None = None
    for kind, table in (("applied", APPLIED), ("not enforced", NOT_ENFORCED), ("not applicable", NOT_APPLICABLE)):
        for prefix, why in table.items():
            if (key == prefix or key.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[0])):
                best = (prefix, kind, why)
    return (best[1], best[2]) if best else None


def _leaves(tree: dict, prefix: str = "") -> Iterator[str]:
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from _leaves(value, path + ".")
        else:
            yield path


def _short(key: str) -> str:
    return ".".join(key.split(".")[:3])


def not_applicable(values: dict) -> list[str]:
    """The values set (three levels deep) that the local target does not apply; a key the
    table does not know is listed too, never dropped."""
    found: list[str] = []
    for leaf in _leaves(values):
        known = entry(leaf)
        if known is not None and known[0] != "not applicable":
            continue
        if _short(leaf) not in found:
            found.append(_short(leaf))
    return found


def not_enforced(values: dict) -> list[str]:
    """The values set that are applied but that a local process is not held to."""
    leaves = list(_leaves(values))
    return [key for key in NOT_ENFORCED if any(leaf == key or leaf.startswith(key + ".") for leaf in leaves)]
