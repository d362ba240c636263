"""The numbers a user types on the command line, checked before anything starts.

Every numeric option of every task is in NUMBERS, so a bad one is refused in one line
(what is wrong, what to give instead) and never reaches a target as a traceback.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .errors import HarnessError

DAY = 86400.0


@dataclass(frozen=True)
class Number:
    """An option's kind of number: whole or not, its range and what it is, for the message."""

    what: str  # "a port", "a number of users"
    whole: bool
    low: float
    high: float | None = None
    hint: str = ""  # the fix, when the range alone does not say it

    def parse(self, flag: str, text: object) -> int | float:
        given = str(text).strip()
        try:
            value: int | float = int(given) if self.whole else float(given)
        except ValueError:
            value = math.nan
        if math.isnan(value) or value < self.low or (self.high is not None and value > self.high):
            raise HarnessError(f"{flag} {given or repr(given)} is not {self.what}: give {self.expected()}")
        return value

    def expected(self) -> str:
        if self.hint:
            return self.hint
        kind = "a whole number" if self.whole else "a number"
        low = f"{self.low:g}"
        return f"{kind} from {low} to {self.high:g}" if self.high is not None else f"{kind} of at least {low}"


UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY}


@dataclass(frozen=True)
class Duration(Number):
    """A length of time as people type it: 30s, 5m, 1h, 1d, or plain seconds; in seconds."""

    def parse(self, flag: str, text: object) -> float:
        given = str(text).strip()
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd]?)", given.lower())
        value = float(match.group(1)) * UNITS[match.group(2)] if match else math.nan
        if math.isnan(value) or value < self.low or (self.high is not None and value > self.high):
            raise HarnessError(f"{flag} {given or repr(given)} is not {self.what}: give {self.expected()}")
        return value


PORT = Number("a port", whole=True, low=0, high=65535, hint="0 (any free port) or 1..65535")

# option name as the task spells its parameter → its kind of number
NUMBERS: dict[str, Number] = {
    "port": PORT,
    "users": Number("a number of users", whole=True, low=1, high=10000),
    "ramp": Number("a ramp in seconds", whole=False, low=0, high=DAY),
    "hold": Number("a hold in seconds", whole=False, low=0, high=DAY),
    "max_failures": Number("a number of failed users", whole=True, low=0, high=10000),
    "max_p95_spawn": Number("a spawn time in seconds", whole=False, low=0, high=DAY),
    "jobs": Number("a number of namespaces at once", whole=True, low=1, high=64),
    "every": Duration(
        "an interval", whole=False, low=1, high=DAY, hint="a duration from 1s to 1d, such as 30s, 5m or 1h"
    ),
    "for_": Duration(
        "a duration", whole=False, low=1, high=365 * DAY, hint="a duration from 1s to 365d, such as 90s, 10m or 2h"
    ),
    "metrics_port": PORT,
}


def flag(name: str) -> str:
    return "--" + name.strip("_").replace("_", "-")


def number(name: str, text: object) -> int | float | None:
    """The option `name` (a task's parameter) as its number; None when not given."""
    if text is None:
        return None
    return NUMBERS[name].parse(flag(name), text)


def numbers(**given: object) -> dict[str, int | float | None]:
    """Each given option as its number, all checked before any is used."""
    return {name: number(name, text) for name, text in given.items()}
