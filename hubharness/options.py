"""The numbers a user types on the command line, checked before anything starts.

Every numeric option of every task is in NUMBERS, so a bad one is refused in one line
(what is wrong, what to give instead) and never reaches a target as a traceback.
"""

from __future__ import annotations

import math
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


# option name as the task spells its parameter → its kind of number
NUMBERS: dict[str, Number] = {
    "port": Number("a port", whole=True, low=0, high=65535, hint="0 (any free port) or 1..65535"),
    "users": Number("a number of users", whole=True, low=1, high=10000),
    "ramp": Number("a ramp in seconds", whole=False, low=0, high=DAY),
    "hold": Number("a hold in seconds", whole=False, low=0, high=DAY),
    "max_failures": Number("a number of failed users", whole=True, low=0, high=10000),
    "max_p95_spawn": Number("a spawn time in seconds", whole=False, low=0, high=DAY),
    "jobs": Number("a number of namespaces at once", whole=True, low=1, high=64),
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
