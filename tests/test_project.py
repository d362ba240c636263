"""The README's promises that CI relies on."""

import re

from hubharness.paths import PROJECT_ROOT


def quick_start_lines() -> list[str]:
    text = (PROJECT_ROOT / "README.md").read_text()
    block = re.search(r"## Quick start\s+```sh\n(.*?)```", text, re.DOTALL)
    assert block, "README has no Quick start shell block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quick_start_is_two_commands():
    lines = quick_start_lines()
    assert len(lines) == 2
    assert "invoke deploy verify" in lines[0]


def test_ci_runs_the_readmes_test_command():
    ci = (PROJECT_ROOT / ".ci" / "run").read_text().splitlines()
    assert quick_start_lines()[1] in ci, ".ci/run must run the README's test command"
