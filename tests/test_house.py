"""The habits that keep the house in order, enforced: lint, format, types, the import
layers of pyproject.toml, and the few rules those tools do not know."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import PROJECT_ROOT

BIN = Path(sys.executable).parent
PACKAGE = PROJECT_ROOT / "hubharness"
TOOL_TIMEOUT = 300
# Imports inside a function, of our own modules, that are there on purpose (not to dodge
# a circle): the registry loads the kubernetes target only when a context is not ours.
# commands imports what one task needs (pytest, aiohttp) in that task: every deploy, remove
# or status would pay for it otherwise.
LAZY_ON_PURPOSE = {
    ("hubharness/targets/__init__.py", "kube"),
    *(("hubharness/commands.py", m) for m in ("verify", "selftest", "load", "load.hub", "watch", "watch.history")),
    ("hubharness/commands.py", "watch.journey"),
}


def run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.mark.parametrize(
    "tool",
    [
        ("ruff", "check", "."),
        ("ruff", "format", "--check", "."),
        ("mypy",),
        ("lint-imports",),
    ],
    ids=["ruff-check", "ruff-format", "mypy", "import-layers"],
)
def test_the_project_passes(tool):
    done = run(str(BIN / tool[0]), *tool[1:])
    assert done.returncode == 0, f"{' '.join(tool)} failed:\n{done.stdout[-4000:]}{done.stderr[-2000:]}"


def _function_imports(path: Path) -> list[str]:
    """Our own modules imported inside a function body."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom) and (inner.level or (inner.module or "").startswith("hubharness")):
                found.append(inner.module or ".")
            elif isinstance(inner, ast.Import):
                found += [a.name for a in inner.names if a.name.startswith("hubharness")]
    return found


def test_no_module_of_ours_is_imported_inside_a_function():
    hidden = [
        f"{path.relative_to(PROJECT_ROOT)}: {module}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for module in _function_imports(path)
        if (str(path.relative_to(PROJECT_ROOT)), module) not in LAZY_ON_PURPOSE
    ]
    assert not hidden, f"imports inside functions (a circle dodged?): {hidden}"


def test_tasks_reach_the_library_through_commands():
    """tasks.py stays thin: it may read the catalogue and the chart's defaults for its
    help, and calls commands for everything else."""
    tree = ast.parse((PROJECT_ROOT / "tasks.py").read_text())
    ours = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hubharness"):
            ours |= {f"{node.module}.{a.name}" if node.module == "hubharness" else node.module for a in node.names}
        elif isinstance(node, ast.Import):
            ours |= {a.name for a in node.names if a.name.startswith("hubharness")}
    assert ours <= {"hubharness.commands", "hubharness.chart", "hubharness.checks"}, ours


def test_deploy_and_remove_load_neither_pytest_nor_aiohttp():
    """What only verify, load, watch and selftest use is imported by their tasks."""
    code = (
        "import sys, tasks; "
        "print(sorted(m for m in ('pytest', 'aiohttp', 'hubharness.selftest', 'prometheus_client') if m in sys.modules))"
    )
    done = run(sys.executable, "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout


def test_local_commands_load_neither_the_kubernetes_client_nor_selenium_nor_testinfra():
    """A local deploy or verify report imports what it uses: the kubernetes client (3 s)
    only for a kube context, selenium only in the browser check, and testinfra (a pytest
    plugin: imported before verify starts pytest, pytest warns it cannot rewrite it) only
    when a check runs a command."""
    code = (
        "import sys; from hubharness import commands, report; from hubharness.targets import target_for; "
        "from hubharness.targets.local import LocalDeployment; target_for('local', 'house'); "
        "print(sorted(m for m in ('kubernetes', 'selenium', 'pytest_kind', 'testinfra') if m in sys.modules))"
    )
    done = run(sys.executable, "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"loaded for local: {done.stdout.strip()}"
