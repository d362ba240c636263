"""What a load needs of a deployment, and how big a load to run: plain data, so that a
target can hand it over without importing the generator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .figures import Usage


@dataclass
class Hub:
    """What a load needs of a deployment: where users reach it, their password (never
    printed or stored), the harness's admin token, how long a spawn may take, and how to
    read the hub's and proxy's resources (a dict of Usage, or why they cannot be read)."""

    public_url: str
    password: str
    admin_token: str
    spawn_timeout: float
    usage: Callable[[], dict[str, Usage] | str]
    usage_source: str = "processes"  # where the figures come from: processes, the metrics API

    def __repr__(self) -> str:
        return f"Hub({self.public_url!r})"


# Users start at most one every this many seconds unless a ramp is given: JupyterLab
# servers starting all at once on a small host outlast the hub's http_timeout (measured:
# 20 users over 5 s on 2 cores, 16/20; over 60 s, 20/20), and hubtraf spreads over 60 s.
SECONDS_PER_USER = 3.0


@dataclass
class Options:
    users: int = 5
    ramp: float = 0.0  # given, from values, else SECONDS_PER_USER × users
    hold: float = 2.0
    spark: bool = False
    prefix: str = "load-"
    max_failures: int = 0
    max_p95_spawn: float = 60.0


# Where values give a load's defaults and thresholds (the chart's free-form `custom`
# section, which the chart passes to the hub untouched), by Options field.
VALUES_KEYS = {
    "users": "users",
    "ramp": "ramp",
    "hold": "hold",
    "spark": "spark",
    "max_failures": "maxFailures",
    "max_p95_spawn": "maxP95Spawn",
}


def options(values: dict, prefix: str, **given: object) -> Options:
    """Options from what was given (None: not given), else from the values'
    custom.hubharness.load, else the defaults (5 users over 3 s each, --max-failures 0,
    --max-p95-spawn 60)."""
    from_values = ((values.get("custom") or {}).get("hubharness") or {}).get("load") or {}
    chosen = Options(prefix=prefix)
    for name, key in VALUES_KEYS.items():
        value = given.get(name)
        if value is None:
            value = from_values.get(key)
        if value is not None:
            kind = type(getattr(chosen, name))
            setattr(chosen, name, kind(value))
    if given.get("ramp") is None and from_values.get("ramp") is None:
        chosen.ramp = SECONDS_PER_USER * chosen.users
    return chosen
