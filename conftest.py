"""Registers the fixtures that the conformance suites (suites/) run against."""

pytest_plugins = [
    "fixtures.deployment",
    "fixtures.users",
    "fixtures.browser",
    "fixtures.scratch",
    "fixtures.resilience",
    "fixtures.upgrade",
]
