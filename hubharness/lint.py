"""Known pitfalls of chart values, each found with why it hurts and what to do instead.

The seed's values carry several (a fallback password, a deprecated image registry, a
postStart hook that pip-installs pyspark at every start); none stops a deployment, so
nothing else would say so. `invoke lint` lists them, deploy prints them as warnings,
`--strict` makes them errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from . import values as chart_values

# os.environ.get("X", "default") / os.getenv("X", "default") with a non-empty default
ENV_DEFAULT = re.compile(r"""os\.(?:environ\.get|getenv)\(\s*(['"])[^'"]+\1\s*,\s*(['"])(?!\2)[^'"]+\2""")
# DummyAuthenticator.password, SharedPasswordAuthenticator.user_password / .admin_password
LITERAL_PASSWORD = re.compile(r"""\.(?:user_|admin_)?password\s*=\s*(['"])[^'"]+\1""")
PASSWORD_TRAITS = (
    "DummyAuthenticator.password",
    "SharedPasswordAuthenticator.user_password",
    "SharedPasswordAuthenticator.admin_password",
)
PACKAGE_INSTALL = re.compile(r"\b(?:pip3?|conda|mamba|micromamba)\s+install\b|\bapt(?:-get)?\s+install\b")
PINNED_PYSPARK = re.compile(r"pyspark==(\d+\.\d+\.\d+)")
DEPRECATED_REGISTRY = re.compile(r"^(?:docker\.io/|registry\.hub\.docker\.com/)?jupyter/(?P<image>[^/]+)$")
SHARED_PASSWORD_AUTHENTICATORS = ("dummy", "shared-password", "DummyAuthenticator", "SharedPasswordAuthenticator")
LOCAL_HOSTS = re.compile(r"(^|\.)(localhost|local|internal|test|example)$|^127\.|^10\.|^192\.168\.")


@dataclass(frozen=True)
class Finding:
    rule: str
    where: str  # the values key it is about
    why: str
    fix: str

    def line(self) -> str:
        return f"{self.rule}: {self.where}: {self.why}; {self.fix}"


def _start_hook_command(values: dict) -> str:
    command = chart_values.get(values, "singleuser.lifecycleHooks.postStart.exec.command") or []
    return " ".join(str(c) for c in command) if isinstance(command, list) else str(command)


def fallback_password(values: dict) -> Iterator[Finding]:
    for key, snippet in (chart_values.get(values, "hub.extraConfig", {}) or {}).items():
        text = str(snippet)
        if ENV_DEFAULT.search(text) or LITERAL_PASSWORD.search(text):
            yield Finding(
                "fallback-password",
                f"hub.extraConfig.{key}",
                "a password written in the config (an environment default or a literal) opens the hub to anyone "
                "who reads it whenever the Secret is missing",
                "read the password from the Secret only, and refuse to start without it",
            )
    for trait in PASSWORD_TRAITS:
        if chart_values.get(values, f"hub.config.{trait}"):
            yield Finding(
                "fallback-password",
                f"hub.config.{trait}",
                "the password is written in the values",
                "take it from a Secret through hub.extraEnv (valueFrom.secretKeyRef)",
            )


def deprecated_registry(values: dict) -> Iterator[Finding]:
    name = str(chart_values.get(values, "singleuser.image.name") or "")
    match = DEPRECATED_REGISTRY.match(name)
    if match:
        yield Finding(
            "deprecated-image",
            "singleuser.image.name",
            f"{name} is on Docker Hub, where the Jupyter images are no longer updated",
            f"use quay.io/jupyter/{match['image']}",
        )


def unpinned_image(values: dict) -> Iterator[Finding]:
    tag = str(chart_values.get(values, "singleuser.image.tag") or "")
    if chart_values.get(values, "singleuser.image.name") and (not tag or tag == "latest" or not re.search(r"\d", tag)):
        yield Finding(
            "unpinned-image",
            "singleuser.image.tag",
            f"tag {tag or '(none)'} names no version: the image changes under you, and verify cannot know its Spark",
            "pin a tag with a version (e.g. spark-3.5.3)",
        )


def installs_at_start(values: dict) -> Iterator[Finding]:
    command = _start_hook_command(values)
    if PACKAGE_INSTALL.search(command):
        yield Finding(
            "installs-at-start",
            "singleuser.lifecycleHooks.postStart",
            "packages are installed at every server start: slow, needs the network, versions drift",
            "bake them into the notebook image",
        )


def hook_pyspark_differs(values: dict) -> Iterator[Finding]:
    pinned = PINNED_PYSPARK.search(_start_hook_command(values))
    expected = chart_values.expected_pyspark_version(values)
    if pinned and expected and pinned[1] != expected:
        yield Finding(
            "pyspark-mismatch",
            "singleuser.lifecycleHooks.postStart",
            f"the hook installs pyspark {pinned[1]} over the image's Spark {expected}",
            "drop the hook, or use the image whose tag names that Spark",
        )


def no_admin(values: dict) -> Iterator[Finding]:
    if not chart_values.get(values, "hub.config.Authenticator.admin_users"):
        yield Finding(
            "no-admin",
            "hub.config.Authenticator.admin_users",
            "no admin user: nobody can list users or stop servers through the hub",
            "name at least one admin",
        )


def shared_password_in_public(values: dict) -> Iterator[Finding]:
    authenticator = str(chart_values.get(values, "hub.config.JupyterHub.authenticator_class") or "")
    hosts = [str(h) for h in (chart_values.get(values, "ingress.hosts") or [])]
    public = [h for h in hosts if not LOCAL_HOSTS.search(h)]
    if (
        chart_values.get(values, "hub.config.Authenticator.allow_all")
        and authenticator.rsplit(".", 1)[-1] in SHARED_PASSWORD_AUTHENTICATORS
        and chart_values.get(values, "ingress.enabled")
        and public
    ):
        yield Finding(
            "shared-password-public",
            "hub.config.Authenticator.allow_all",
            f"anyone who has the one shared password gets a server on {', '.join(public)}",
            "use a real authenticator there, or an allowed_users list",
        )


def culling_off(values: dict) -> Iterator[Finding]:
    if chart_values.get(values, "cull.enabled") is False:
        yield Finding(
            "no-culling",
            "cull.enabled",
            "idle servers are never stopped: they hold memory and CPU until someone stops them",
            "leave cull.enabled on (the chart's default) and set cull.timeout",
        )


def database_in_memory(values: dict) -> Iterator[Finding]:
    if chart_values.get(values, "hub.db.type") == "sqlite-memory":
        yield Finding(
            "database-in-memory",
            "hub.db.type",
            "sqlite-memory forgets every user and server at each hub restart, and there is nothing to back up",
            "use sqlite-pvc (the chart's default) or a database server",
        )


RULES: tuple[Callable[[dict], Iterator[Finding]], ...] = (
    fallback_password,
    deprecated_registry,
    unpinned_image,
    installs_at_start,
    hook_pyspark_differs,
    no_admin,
    shared_password_in_public,
    culling_off,
    database_in_memory,
)


def check(values: dict) -> list[Finding]:
    return [finding for rule in RULES for finding in rule(values)]
