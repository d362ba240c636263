"""Bad input: one clear line on stderr, a non-zero exit, and nothing deleted."""

import os
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from invoke import Collection

import tasks
from hubharness import options

from .helpers import chart_schemas_or_skip


@pytest.fixture
def existing(harness):
    """A namespace with state on disk that no bad command may touch."""
    state = harness.state_dir("keep")
    state.mkdir(parents=True)
    (state / "precious.txt").write_text("user data")
    return state


def assert_refused(ran, *words):
    assert ran.code != 0, f"exit code 0 for bad input; stdout: {ran.out}"
    assert len(ran.err_lines) == 1, f"expected one line on stderr, got: {ran.err_lines}"
    for word in words:
        assert word in ran.err_lines[0], ran.err_lines[0]


def assert_untouched(state):
    assert (state / "precious.txt").read_text() == "user data"


def test_unknown_context(harness, existing):
    assert_refused(
        harness.invoke("deploy", "--context", "nope", "--namespace", "keep"), "unknown context 'nope'", "local"
    )
    assert_untouched(existing)


def test_an_option_of_another_target_is_refused_not_ignored(harness, existing):
    assert_refused(
        harness.invoke("remove", "--namespace", "keep", "--purge", "--keep-cluster"),
        "--keep-cluster does not apply to context local",
    )
    assert_untouched(existing)


def test_kind_without_its_tools_says_what_is_missing(harness):
    ran = harness.invoke("deploy", "--context", "kind", env={"PATH": "/usr/bin:/bin"})
    assert_refused(ran, "not found")
    assert "helm" in ran.err or "kind" in ran.err or "docker" in ran.err


def test_malformed_yaml(harness, existing, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("hub:\n  config:\n    JupyterHub: {unclosed\n")
    assert_refused(harness.deploy("keep", "--values", str(bad)), "bad.yaml", "not valid YAML", "line")
    assert_untouched(existing)


def test_unknown_values_key(harness, existing, tmp_path):
    chart_schemas_or_skip()  # without a schema an unknown key is not detectable: deploy notes that and goes on
    bad = tmp_path / "typo.yaml"
    bad.write_text("singleuser:\n  extraEnvv:\n    A: b\n")
    assert_refused(harness.deploy("keep", "--values", str(bad)), "unknown values key singleuser.extraEnvv")
    assert_untouched(existing)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("custom:\n  hubharness:\n    storage:\n      maxPercent: ninety\n", "custom.hubharness.storage.maxPercent is"),
        ("singleuser:\n  storage:\n    capacity: ten gigs\n", "singleuser.storage.capacity is 'ten gigs'"),
        ("singleuser:\n  memory:\n    limit: 2 gigs\n", "singleuser.memory.limit is '2 gigs'"),
    ],
)
def test_a_day_two_setting_that_does_not_read_is_refused_at_deploy(harness, existing, tmp_path, text, says):
    bad = tmp_path / "ops.yaml"
    bad.write_text(text)
    assert_refused(harness.deploy("keep", "--values", str(bad)), says)
    assert_untouched(existing)


def test_missing_values_file(harness, existing):
    assert_refused(harness.deploy("keep", "--values", "/nonexistent/values.yaml"), "does not exist")
    assert_untouched(existing)


def _path_without(tmp_path, *commands):
    """A PATH with our virtualenv and everything on the current PATH except `commands`."""
    shadow = tmp_path / "bin"
    shadow.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep) + [str(Path(sys.executable).parent)]:
        if not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            target = shadow / name
            if name not in commands and not target.exists():
                target.symlink_to(os.path.join(directory, name))
    return str(shadow)


def test_java_missing(harness, existing, tmp_path):
    env = {"PATH": _path_without(tmp_path, "java"), "JAVA_HOME": ""}
    assert_refused(harness.deploy("keep", env=env), "Java not found", "apt-get install")
    assert_untouched(existing)


def test_node_missing(harness, existing, tmp_path):
    env = {"PATH": _path_without(tmp_path, "node", "nodejs")}
    assert_refused(harness.deploy("keep", env=env), "Node.js not found")
    assert_untouched(existing)


def test_port_in_use(harness):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        ran = harness.invoke("deploy", "--namespace", "busy", "--port", str(port))
    assert_refused(ran, f"port {port}", "in use", "--port")
    assert not harness.state_dir("busy").exists() or not (harness.state_dir("busy") / "state.json").exists()


def test_invalid_namespace(harness):
    assert_refused(harness.deploy("Not_Valid"), "not a valid name")


def test_verify_with_nothing_deployed(harness, existing):
    ran = harness.invoke("verify", "--namespace", "nothing-here")
    assert_refused(ran, "nothing deployed in namespace nothing-here", "invoke deploy")
    assert not harness.reports.exists() or not any(harness.reports.iterdir())


def test_status_with_nothing_deployed(harness):
    assert_refused(harness.invoke("status", "--namespace", "nothing-here"), "nothing deployed")


def test_remove_with_nothing_deployed_says_so(harness):
    ran = harness.invoke("remove", "--namespace", "nothing-here")
    assert ran.code == 0, ran.err
    assert "nothing deployed in namespace nothing-here" in ran.out


def test_a_chart_whose_jupyterhub_pip_cannot_install(harness, existing, tmp_path):
    """Another chart's JupyterHub comes from PyPI on first use: where pip cannot get it,
    one line says so, and nothing is left that would pass for installed."""
    cache = tmp_path / "cache"
    ran = harness.deploy("keep", "--chart-version", "4.2.0", env={"HUBHARNESS_CACHE": str(cache), "PIP_NO_INDEX": "1"})
    assert_refused(ran, "pip could not install JupyterHub 5.3.0")
    assert_untouched(existing)
    assert not (cache / "hubs" / "jupyterhub-5.3.0" / "installed.json").exists()


def test_unknown_chart_version(harness):
    assert_refused(harness.deploy("keep", "--chart-version", "9.9.9"), "unknown chart version")


# Every option of every task that is not a number, by its parameter's name: a new option
# is a number (hubharness.options.NUMBERS) or named here, or the test below says so.
TEXT_OPTIONS = {
    "context",
    "namespace",
    "values",
    "chart_version",
    "check",
    "skip",
    "k",
    "prefix",
    "dir",
    "to",
    "from_",
    "journey",
    "url",
    "http_url",
    "metrics_addr",
}
# what a required option gets while another is tried with a bad number
REQUIRED_TEXT = "/nonexistent/hubharness-bad-input"


def task_options():
    """(task, its invoke Arguments) for every task in tasks.py, as `invoke` sees them."""
    collection = Collection.from_module(tasks)
    return [(name, task.get_arguments()) for name, task in sorted(collection.tasks.items())]


def bad_numbers(number: options.Number) -> list[str]:
    """Not a number, negative, a fraction for a whole one, and one past the bound."""
    bad = ["abc", "-1"]
    bad.append("1.5" if number.whole else "nan")
    if number.high is not None:
        bad.append(str(int(number.high) + 1) if number.whole else f"{number.high * 10:g}")
    return bad


def test_every_option_of_every_task_is_a_number_or_text():
    unknown = [
        f"{task} --{arg.name}"
        for task, arguments in task_options()
        for arg in arguments
        if arg.kind is not bool and arg.name not in options.NUMBERS and arg.name not in TEXT_OPTIONS
    ]
    assert not unknown, f"options neither a number (hubharness.options.NUMBERS) nor text (TEXT_OPTIONS here): {unknown}"


def test_every_bad_number_of_every_task_is_one_line_and_exit_2(harness):
    """Each numeric option of each task with each bad value, run as a user runs it: one
    line naming the option and the value, exit 2, no traceback, nothing deployed."""
    cases = []
    for task, arguments in task_options():
        required = [a for a in arguments if a.default is None and a.positional]
        for arg in arguments:
            if arg.name not in options.NUMBERS:
                continue
            for value in bad_numbers(options.NUMBERS[arg.name]):
                given = [REQUIRED_TEXT for _ in required]
                cases.append((task, options.flag(arg.name), value, [task, *given, f"{options.flag(arg.name)}={value}"]))
    assert len(cases) >= 7 * 3, f"expected every numeric option to be tried: {cases}"

    with ThreadPoolExecutor(max_workers=2) as pool:
        ran = list(pool.map(lambda case: harness.invoke(*case[3], timeout=60), cases))
    wrong = []
    for (task, flag, value, argv), r in zip(cases, ran, strict=True):
        line = r.err_lines[0] if r.err_lines else ""
        if (
            r.code != 2
            or "Traceback" in r.err
            or len(r.err_lines) != 1
            or r.out.strip()
            or not line.startswith(f"hubharness: {flag} {value or repr(value)} is not ")
            or ": give " not in line
        ):
            wrong.append(f"invoke {' '.join(argv)!r}: exit {r.code}, stdout {r.out!r}, stderr {r.err[-600:]!r}")
    assert not wrong, "\n".join(wrong)
    assert not harness.home.exists(), f"a refused command made state: {sorted(harness.home.rglob('*'))}"
    assert not harness.reports.exists(), f"a refused command wrote reports: {sorted(harness.reports.rglob('*'))}"


def test_good_numbers_pass_the_check():
    assert options.numbers(port="0", users="3", ramp="1.5", jobs=None) == {
        "port": 0,
        "users": 3,
        "ramp": 1.5,
        "jobs": None,
    }
    assert options.number("port", " 65535 ") == 65535
