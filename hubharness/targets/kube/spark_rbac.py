"""What native Spark needs of the namespace besides the chart: the service account user
pods run as, a Role that lets it create, list and delete the executors' pods, services and
config maps (what Spark's driver makes in client mode), and the RoleBinding between them.

Pure functions returning the objects as dicts (KubeSpawner's objects.py style): deploy
creates them, remove deletes them, the project's tests read them as they are.
"""

from __future__ import annotations

ROLE = "spark-driver"  # the Role's and RoleBinding's name
MANAGED_BY = {"app.kubernetes.io/managed-by": "hubharness", "app.kubernetes.io/component": "spark-native"}
# what Spark's driver does to its executors in client mode: pods it creates, watches and
# deletes; a config map of its Spark conf and, where asked, a headless service
RULES = (
    {
        "apiGroups": [""],
        "resources": ["pods"],
        "verbs": ["create", "get", "list", "watch", "delete", "deletecollection", "patch"],
    },
    {
        "apiGroups": [""],
        "resources": ["services", "configmaps", "persistentvolumeclaims"],
        "verbs": ["create", "get", "list", "watch", "delete", "deletecollection"],
    },
)


def service_account(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "labels": dict(MANAGED_BY)},
    }


def role() -> dict:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": ROLE, "labels": dict(MANAGED_BY)},
        "rules": [{key: list(value) for key, value in rule.items()} for rule in RULES],
    }


def role_binding(account: str, namespace: str) -> dict:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": ROLE, "labels": dict(MANAGED_BY)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLE},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
    }


def objects(account: str, namespace: str) -> list[dict]:
    """In the order they are created (the binding names the other two)."""
    return [service_account(account), role(), role_binding(account, namespace)]


def subject(account: str, namespace: str) -> tuple[str, list[str]]:
    """The user and groups the API server authenticates the service account's token as."""
    return (
        f"system:serviceaccount:{namespace}:{account}",
        ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
    )
