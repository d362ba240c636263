"""Errors a user can act on: printed as one line, exit code 2, nothing deleted."""


class HarnessError(Exception):
    """Bad input or a broken prerequisite; the message says what and how to fix it."""


class WaitTimeout(HarnessError):
    """A bounded wait ran out; the message names what was waited for."""
