"""What the project's tests share besides fixtures: running `invoke` as a user does in
an isolated home, reading a verify summary, the chart schemas. Test modules import it;
conftest.py builds its fixtures on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from hubharness.paths import PROJECT_ROOT

__all__ = [
    "INVOKE",
    "PROJECT_ROOT",
    "Harness",
    "Ran",
    "chart_schemas_or_skip",
    "failed",
    "open_page",
    "outcomes",
    "run_invoke",
]

SHARED_SCHEMAS = PROJECT_ROOT.parent / "shared" / "z2jh"


def chart_schemas_or_skip() -> Path:
    """Where the chart's values schemas are for tests that need them; skip, saying so, if nowhere."""
    path = Path(os.environ.get("HUBHARNESS_VALUES_SCHEMA") or SHARED_SCHEMAS)
    if not path.exists():
        pytest.skip(
            f"no chart values schemas at {path}: set HUBHARNESS_VALUES_SCHEMA "
            "(or put ../shared/z2jh beside the checkout, as .ci/run has)"
        )
    return path


INVOKE = str(Path(sys.executable).parent / "invoke")
COMMAND_TIMEOUT = 300
VERIFY_TIMEOUT = 900


def run_invoke(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    """`invoke …` in this process's environment (plus `env`): for the kube tests, whose
    fixtures set KUBECONFIG, PATH and the harness's home in it."""
    return subprocess.run(
        [INVOKE, *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@dataclass
class Ran:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


class Harness:
    """Runs `invoke …` as a user does, in an isolated home."""

    def __init__(self, home: Path, reports: Path):
        self.home = home
        self.reports = reports
        self.env = {
            k: v for k, v in os.environ.items() if k not in ("JUPYTERHUB_AUTH_PASSWORD", "JUPYTERHUB_ADMIN_PASSWORD")
        }
        self.env.update(HUBHARNESS_HOME=str(home), HUBHARNESS_REPORTS=str(reports))
        if "HUBHARNESS_VALUES_SCHEMA" not in self.env and SHARED_SCHEMAS.is_dir():
            self.env["HUBHARNESS_VALUES_SCHEMA"] = str(SHARED_SCHEMAS)

    def invoke(self, *args: str, env: dict | None = None, timeout: float = COMMAND_TIMEOUT) -> Ran:
        done = subprocess.run(
            [INVOKE, *args],
            cwd=PROJECT_ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        return Ran(done.returncode, done.stdout, done.stderr)

    def deploy(self, namespace: str, *args: str, **kw) -> Ran:
        ran = self.invoke("deploy", "--namespace", namespace, "--port", "0", *args, **kw)
        return ran

    def verify(self, namespace: str, k: str | None = None, check: str | None = None) -> tuple[Ran, dict]:
        args = ["verify", "--namespace", namespace] + (["-k", k] if k else []) + (["--check", check] if check else [])
        # A whole verify: its scratch namespaces (BAK, RES, UPG, which may first install the
        # previous chart's JupyterHub) run beside the checks, on 2 cores shared with the selftest.
        ran = self.invoke(*args, timeout=VERIFY_TIMEOUT)
        summary_file = self.reports / "latest" / "summary.json"
        summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
        return ran, summary

    def status(self, namespace: str) -> dict:
        ran = self.invoke("status", "--namespace", namespace, "--json")
        assert ran.code == 0, ran.err
        return json.loads(ran.out)

    def state_dir(self, namespace: str) -> Path:
        return self.home / namespace

    def purge_all(self) -> None:
        if self.home.is_dir():
            for ns in sorted(p.name for p in self.home.iterdir() if p.is_dir()):
                self.invoke("remove", "--namespace", ns, "--purge")


def outcomes(summary: dict) -> dict[str, str]:
    return {c["id"]: c["outcome"] for c in summary.get("checks", [])}


def failed(summary: dict) -> set[str]:
    return {cid for cid, outcome in outcomes(summary).items() if outcome in ("failed", "timeout")}


# The stand-ins start as `python -I -S`: the standard library only, no site-packages to
# scan (hundreds of calls in an emulated selftest). Both ask the emulated cluster
# (tests/kube_emulator.py) with `call`.
_STAND_IN = """#!{python} -IS
import json, os, sys


def call(url, body=None, timeout=10):
    \"\"\"(status, JSON answer) of a GET, or of a POST of `body`; an HTTP error is an answer too.\"\"\"
    import urllib.error, urllib.request

    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={{"Content-Type": "application/json"}})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


"""

HELM = (
    _STAND_IN
    + """with open(os.environ["HELM_RECORD"], "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
if os.environ.get("HELM_EMULATOR"):  # the emulated cluster answers for the chart; its -f files are read there
    # as long as helm may take: an install can start the hub of another chart, installed once from PyPI
    status, done = call(os.environ["HELM_EMULATOR"], {{"args": sys.argv[1:]}}, timeout=900)
    if status >= 400:
        sys.exit(done["message"])
    print(done["stdout"], end="")
    sys.exit(0)
if sys.argv[1:2] == ["list"]:
    all_namespaces = "--all-namespaces" in sys.argv
    print(os.environ.get("HELM_ALL_RELEASES" if all_namespaces else "HELM_RELEASES", ""))
if sys.argv[1:2] == ["upgrade"] and os.environ.get("HELM_FAIL_UPGRADE"):
    sys.exit(os.environ["HELM_FAIL_UPGRADE"])
"""
)


KUBECTL = (
    _STAND_IN
    + """import socket, threading, time
# the emulated cluster's test answers. exec: the command's output and exit code.
# port-forward: the port of what stands for the Service's pod of the moment, and that pod;
# as kubectl, a relay on the asked local port (":80": a free one) that ends when the pod
# goes ("lost connection to pod"), and only then: a slow or failing API server is not a
# lost pod
status, done = call(os.environ["KUBECTL_EMULATOR"], {{"args": sys.argv[1:]}}, timeout=300)
if status >= 400:
    sys.exit(done["message"])
if "exit_code" in done:
    sys.stdout.write(done["stdout"]), sys.stderr.write(done["stderr"])
    sys.exit(done["exit_code"])
if "forward_to" not in done:
    print(done["stdout"], flush=True)
    sys.exit(0)


def pipe(source, sink):
    try:
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def relay(server):
    while True:
        conn, _ = server.accept()
        try:
            pod = socket.create_connection(("127.0.0.1", done["forward_to"]), timeout=10)
            pod.settimeout(None)
        except OSError as e:
            print(f"E portforward.go: an error occurred forwarding: {{e}}", flush=True)
            conn.close()
            continue
        threading.Thread(target=pipe, args=(conn, pod), daemon=True).start()
        threading.Thread(target=pipe, args=(pod, conn), daemon=True).start()


server = socket.create_server(("127.0.0.1", int(sys.argv[-1].split(":")[0] or 0)))
print(f"Forwarding from 127.0.0.1:{{server.getsockname()[1]}} -> 8000", flush=True)
threading.Thread(target=relay, args=(server,), daemon=True).start()
deadline = time.monotonic() + 3600  # an hour at most
while time.monotonic() < deadline:
    time.sleep(0.5)
    try:
        status, pod = call(done["pod_url"])
        gone = status == 404 or "deletionTimestamp" in pod["metadata"]
    except (OSError, ValueError, KeyError):
        continue  # no answer about the pod: it is still there as far as anyone knows
    if gone:
        print("E portforward.go: lost connection to pod", flush=True)
        sys.exit(1)
"""
)


def open_page(driver, path):
    """Load a page from disk; return (console messages, what was requested from the
    network, what the page itself requested)."""
    driver.get_log("browser"), driver.get_log("performance")  # drop what came before
    driver.get(path.as_uri())
    console = [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    network, by_page = [], []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if url.split(":", 1)[0] in ("http", "https", "ws", "wss", "ftp"):
                network.append(url)
            if message["params"].get("documentURL", "").startswith("file:"):
                by_page.append(url)
    return console, network, by_page
