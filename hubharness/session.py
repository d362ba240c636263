"""What verify, its pytest plugins and selftest share about one verify run: the keys of
pytest's stash and the names of environment variables, in one place, so that no plugin
reaches back into the runner for them."""

from __future__ import annotations

import pytest

from .targets.base import Deployment

# The deployment under test: verify builds it once, before pytest starts, and hands it
# over (the suites' `deployment` fixture, the report's diagnostics and summary read it).
DEPLOYMENT_KEY = pytest.StashKey[Deployment]()
# Set only by `invoke selftest`: the name of a harness fault (hubharness.mutants) to
# plant in this verify run, so the checks of the harness's own operations can be shown
# to fail. summary.json records it.
MUTANT_ENV = "HUBHARNESS_MUTANT"
