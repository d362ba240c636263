"""Day-2 figures: how full users' homes are against their capacity, and what hub, proxy
and users' servers use against the values' memory limits.

The targets measure (a folder on local, `du` in the user's pod and the claim's capacity on
kubernetes); this module reads the values' side, judges, and shapes the figures for the
report and `status --json`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from . import values as chart_values
from .errors import HarnessError
from .load.figures import Usage

DEFAULT_CAPACITY = "10Gi"  # the chart's singleuser.storage.capacity
DEFAULT_MAX_HOME_PERCENT = 90.0
MAX_HOME_PERCENT_KEY = "custom.hubharness.storage.maxPercent"
# the values that hold each component's memory limit, as the chart reads them
MEMORY_LIMITS = {
    "hub": "hub.resources.limits.memory",
    "proxy": "proxy.chp.resources.limits.memory",
    "server": "singleuser.memory.limit",
}


@dataclass(frozen=True)
class Home:
    """One user's home: bytes used, the capacity it has (None: no claim bounds it), where."""

    user: str
    used_bytes: int
    capacity_bytes: int | None
    where: str

    @property
    def percent(self) -> float | None:
        return None if not self.capacity_bytes else 100.0 * self.used_bytes / self.capacity_bytes

    def to_json(self) -> dict:
        percent = self.percent
        return {**vars(self), "percent": None if percent is None else round(percent, 1)}


# Kubernetes quantity suffixes (resource.Quantity); the client's parse_quantity would load
# the whole kubernetes client (3 s) into a local command. tests/test_daytwo.py holds the two equal.
_SUFFIXES = {
    **{s: Decimal(1024) ** (i + 1) for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))},
    **{s: Decimal(1000) ** (i + 1) for i, s in enumerate(("k", "M", "G", "T", "P", "E"))},
    "m": Decimal("0.001"),
    "": Decimal(1),
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?$")


def quantity_bytes(text: object, key: str) -> int | None:
    """A Kubernetes quantity ("10Gi", "512M", 1e9) as a whole number; None when not given."""
    if text in (None, ""):
        return None
    found = _QUANTITY.match(str(text).strip())
    if found is None or isinstance(text, bool):
        raise HarnessError(f"{key} is {text!r}: give a Kubernetes quantity such as 10Gi or 512Mi")
    return int(Decimal(found[1]) * _SUFFIXES[found[2] or ""])


def home_capacity(values: dict) -> int | None:
    """The capacity each home gets: singleuser.storage.capacity; None for storage type none."""
    if chart_values.get(values, "singleuser.storage.type") == "none":
        return None
    capacity = chart_values.get(values, "singleuser.storage.capacity") or DEFAULT_CAPACITY
    return quantity_bytes(capacity, "singleuser.storage.capacity")


def max_home_percent(values: dict) -> float:
    """How full a home may be: custom.hubharness.storage.maxPercent, 90 by default."""
    given = chart_values.get(values, MAX_HOME_PERCENT_KEY)
    if given is None:
        return DEFAULT_MAX_HOME_PERCENT
    try:
        percent = float(given)
    except (TypeError, ValueError):
        percent = -1.0
    if not 0 < percent <= 100:
        raise HarnessError(f"{MAX_HOME_PERCENT_KEY} is {given!r}: give a percentage above 0 and at most 100")
    return percent


def too_full(homes: list[Home], limit: float) -> list[Home]:
    return [h for h in homes if h.percent is not None and h.percent > limit]


def folder_bytes(folder: Path) -> int:
    """Bytes a folder takes on disk, as `du` counts them (blocks, each inode once, links
    not followed): a sparse file counts what it holds."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, dirs, files in os.walk(folder):
        for name in (root, *(os.path.join(root, n) for n in dirs + files)):
            try:
                st = os.lstat(name)
            except OSError:
                continue  # gone while we walked: a kernel's runtime file
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


# JupyterHub's ByteSpecification, which reads singleuser.memory.limit (Spawner.mem_limit):
# K, M, G, T are powers of 1024 there, not of 1000 as in a Kubernetes quantity
_BYTE_SPEC = re.compile(r"^(\d+(?:\.\d+)?)([KMGT])$")


def memory_limits(values: dict) -> dict[str, int | None]:
    """hub, proxy and server (each user's) → the memory limit the values give, in bytes, each
    read as what reads it: the pod specs' quantities, the spawner's byte specification."""
    out = {}
    for name, key in MEMORY_LIMITS.items():
        given = chart_values.get(values, key)
        spec = _BYTE_SPEC.match(str(given or "").strip()) if name == "server" else None
        out[name] = int(float(spec[1]) * 1024 ** ("KMGT".index(spec[2]) + 1)) if spec else quantity_bytes(given, key)
    return out


def over_memory_limit(usage: dict[str, Usage], limits: dict[str, int | None]) -> list[str]:
    """Which components use more memory than their limit, named with both figures. A user's
    server is keyed `server:<user>` and held to singleuser.memory.limit."""
    over = []
    for name, used in sorted(usage.items()):
        limit = limits.get(name.split(":", 1)[0])
        if limit is not None and used.memory_bytes > limit:
            over.append(f"{name} uses {mib(used.memory_bytes)} over its limit of {mib(limit)}")
    return over


def mib(n: int) -> str:
    """Bytes for people: KiB below a MiB, MiB above."""
    return f"{n / 1024:.0f} KiB" if n < 2**20 else f"{n / 2**20:.1f} MiB"


def resources_json(usage: dict[str, Usage] | str, limits: dict[str, int | None], source: str) -> dict:
    """The report's and status's resource figures: each component's memory and CPU beside
    its limit, or why they could not be read."""
    if isinstance(usage, str):
        return {"source": source, "error": usage}
    return {
        "source": source,
        "components": {
            name: {
                "memory_bytes": used.memory_bytes,
                "memory_limit_bytes": limits.get(name.split(":", 1)[0]),
                "cpu_seconds": used.cpu_seconds,
                "cpu_cores": used.cpu_cores,
            }
            for name, used in sorted(usage.items())
        },
    }


def figures(deployment) -> dict:
    """A deployment's day-2 figures now (`status --json`); what could not be read says why."""
    out: dict = {}
    try:
        out["homes"] = [h.to_json() for h in deployment.homes()]
        out["max_home_percent"] = max_home_percent(deployment.values)
    except HarnessError as e:
        out["homes_error"] = str(e)
    try:
        limits = memory_limits(deployment.rendered_values)
    except HarnessError as e:
        return {**out, "resources": {"error": str(e)}}
    hub_and_proxy, servers = deployment.component_usage(), deployment.server_usage()
    unread = next((u for u in (hub_and_proxy, servers) if isinstance(u, str)), None)
    out["resources"] = resources_json(unread or {**hub_and_proxy, **servers}, limits, deployment.usage_source)
    return out


def lines(figures: dict) -> list[str]:
    """The figures for people, as `status` prints them."""
    out = [
        f"  home {h['user']}: {_of(h['used_bytes'], h['capacity_bytes'], h['percent'])}"
        for h in figures.get("homes", [])
    ]
    if "error" in figures:
        out.append(f"  homes and memory: not measured ({figures['error']})")
    if "homes_error" in figures:
        out.append(f"  homes: not measured ({figures['homes_error']})")
    resources = figures.get("resources") or {}
    if resources.get("error"):
        out.append(f"  memory: not measured ({resources['error']})")
    for name, r in (resources.get("components") or {}).items():
        out.append(f"  memory {name}: {_of(r['memory_bytes'], r['memory_limit_bytes'], None)}")
    return out


def _of(used: int, bound: int | None, percent: float | None) -> str:
    if bound is None:
        return f"{mib(used)} (no limit)"
    return f"{mib(used)} of {mib(bound)}" + (f" ({percent:.1f}%)" if percent is not None else "")


def refuse_unusable(values: dict) -> None:
    """At deploy, before any change: the bound and the quantities OPS reads must read, so a
    typo is one line now, not a failed check after the deploy."""
    max_home_percent(values)
    home_capacity(values)
    memory_limits(values)
