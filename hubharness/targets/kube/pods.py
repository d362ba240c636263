"""Commands in pods, for backup and restore on kubernetes: `exec` over the API server's
websocket stream (bytes both ways, no kubectl), and short-lived helper pods that mount a
volume nobody else is using.

The kubernetes client's `stream()` swaps its ApiClient's request method while it opens
the socket: a thread that execs needs its own client.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import json
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream
from websocket import WebSocketBadStatusException, WebSocketException

from ...errors import HarnessError, WaitTimeout
from ...waiting import wait_until
from .api import HELPER_COMPONENT, RELEASE, fail_if_stuck, validated

EXEC_TIMEOUT = 600
HELPER_TIMEOUT = 120  # schedule, bind a volume, start (the image is the chart's, pulled already)
HELPER_GONE_TIMEOUT = 120
# A helper is deleted gracefully: a forced deletion (0) removes the pod object at once while
# its container may still run with the volume mounted. Its `sleep` ignores SIGTERM, so the
# kubelet kills it after this; the object goes once the kubelet has unmounted its volumes.
HELPER_GRACE_SECONDS = 1
PARALLEL_PODS = 3  # helper pods at once: each mostly waits on scheduling, a volume and exec
STDIN_CHUNK = 64 << 10  # bytes per websocket frame: small, like kubectl's own (32 KiB)


def _without_docs(source: str) -> str:
    """The script without comments and docstrings: it travels in the exec URL's query,
    which proxies in front of an API server may cap at 8 KiB."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if (
            isinstance(node, (ast.Module, ast.FunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
            and isinstance(node.body[0].value.value, str)
        ):
            node.body = node.body[1:] or [ast.Pass()]
    return ast.unparse(tree)


# inpod.py with what it reads homes by ahead of it (hubharness/stable.py, standard library
# too), packed: exec's command travels in the request line, which proxies cap at 8 KiB
_INPOD_SOURCE = _without_docs(
    (Path(__file__).parents[2] / "stable.py").read_text() + Path(__file__).with_name("inpod.py").read_text()
)
INPOD = (
    "import base64, zlib; exec(zlib.decompress(base64.b64decode("
    f"'{base64.b64encode(zlib.compress(_INPOD_SOURCE.encode(), 9)).decode()}')))"
)


def inpod(mode: str, *args: str | int) -> list[str]:
    """The command line that runs inpod.py's `mode` with python3 in a pod."""
    return ["python3", "-c", INPOD, mode, *(str(a) for a in args)]


def last_line(data: bytes | str) -> str:
    """The last line a command wrote: an exec stream's bytes, or a CommandResult's text."""
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    lines = text.strip().splitlines()
    return lines[-1] if lines else "no output"


def _refusal(error: ApiException) -> str:
    """Why the server refused to open an exec stream. The client wraps the failed websocket
    handshake in an ApiException of status 0; the response is in the exception it caught:
    a Status from the API server, or the kubelet's plain text."""
    handshake = error.__context__
    if isinstance(handshake, WebSocketBadStatusException):
        body = (handshake.resp_body or b"").decode(errors="replace").strip()
        try:
            body = json.loads(body).get("message") or body
        except (ValueError, AttributeError):
            pass
        return f"{handshake.status_code} {body[:300]}".strip()
    return f"{error.status} {error.reason}"[:300]


def exec_in(
    core, namespace: str, pod: str, container: str, command: list[str], stdout: BinaryIO, stdin: BinaryIO | None = None
) -> tuple[int | None, bytes]:
    """Run a command in a pod, `stdin` (a file) sent first, its output written to `stdout`
    as it comes (a home can be larger than memory). (exit code, stderr); the exit code
    is None when the pod closed the stream without one. Bounded by EXEC_TIMEOUT. An exec
    the server refuses (a container the pod has not, a pod not on a node or not running)
    is a HarnessError saying why."""
    try:
        ws = stream(
            core.connect_get_namespaced_pod_exec,
            pod,
            namespace,
            command=command,
            container=container,
            stderr=True,
            stdin=stdin is not None,
            stdout=True,
            tty=False,
            _preload_content=False,
            binary=True,
        )
    except ApiException as e:
        raise HarnessError(f"exec in pod {pod} ({container}) was refused: {_refusal(e)}") from None
    err = bytearray()
    deadline = time.monotonic() + EXEC_TIMEOUT
    try:
        if stdin is not None:
            try:
                while chunk := stdin.read(STDIN_CHUNK):
                    ws.write_stdin(chunk)
                ws.close_channel(0)  # v5 only; the commands we send know their input's size anyway
            except (WebSocketException, OSError):
                pass  # the command ended early: its stderr and exit code say why
        ended = False
        while not ended and time.monotonic() < deadline:
            try:
                ws.update(timeout=1)
                ended = not ws.is_open()
            except (WebSocketException, OSError):  # the pod's side closed first: answering its close failed
                ended = True
            # timeout=0: a read must not pull more frames in (into the other channel)
            stdout.write(ws.read_stdout(timeout=0) or b"")
            err += ws.read_stderr(timeout=0) or b""
        if not ended:
            raise HarnessError(f"`{command[0]}` in pod {pod} did not finish within {EXEC_TIMEOUT}s")
        stdout.write(ws.read_stdout(timeout=0) or b"")  # what the last update buffered
        err += ws.read_stderr(timeout=0) or b""
        return _exit_code(ws), bytes(err)
    finally:
        ws.close()


def _exit_code(ws) -> int | None:
    """The exit code the stream's error channel gives; None when it closed with none (the
    container ended under the command), which the client reads as a TypeError."""
    try:
        return ws.returncode
    except (TypeError, KeyError, IndexError, ValueError):
        return None


def _pod_gone(core, name: str, namespace: str) -> bool:
    try:
        core.read_namespaced_pod(name, namespace)
    except ApiException as e:
        if e.status == 404:
            return True
        raise
    return False


@contextlib.contextmanager
def helper_pod(
    core,
    namespace: str,
    name: str,
    container: dict,
    claim: str,
    mount_path: str,
    read_only: bool,
    security: dict | None = None,
    placement: dict | None = None,
) -> Iterator[str]:
    """A pod of one sleeping `container` that mounts `claim`; deleted afterwards, and
    waited for, so that the volume is free for the pod that owns it. `placement`: more of
    the pod's spec (pull secrets, node selector, tolerations, affinity)."""
    name = name[:63].rstrip("-.")
    body = validated(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            # of the release (a verify during a backup sees nothing foreign), not of a component it runs
            "metadata": {
                "name": name,
                "labels": {
                    "app.kubernetes.io/managed-by": "hubharness",
                    "release": RELEASE,
                    "component": HELPER_COMPONENT,
                },
            },
            "spec": {
                "restartPolicy": "Never",
                **({"securityContext": security} if security else {}),
                **(placement or {}),
                "containers": [
                    {
                        **container,
                        "command": ["sleep", str(EXEC_TIMEOUT)],
                        "volumeMounts": [{"name": "data", "mountPath": mount_path}],
                    }
                ],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim, "readOnly": read_only}}],
            },
        }
    )
    try:
        core.create_namespaced_pod(namespace, body)
    except ApiException as e:
        if e.status != 409:
            raise
        _delete(core, name, namespace)  # left by an interrupted run
        core.create_namespaced_pod(namespace, body)
    try:

        def running():
            pod = core.read_namespaced_pod(name, namespace)
            fail_if_stuck(pod, f"helper pod {name}")
            phase = pod.status.phase if pod.status else None
            if phase in ("Failed", "Succeeded"):
                raise HarnessError(
                    f"helper pod {name} ended ({phase}) before it could be used "
                    f"(kubectl -n {namespace} describe pod {name})"
                )
            return phase == "Running"

        try:
            wait_until(f"helper pod {name} to run", running, HELPER_TIMEOUT)
        except WaitTimeout as e:  # why it did not run (a Multi-Attach names the pod holding the volume)
            raise WaitTimeout(f"{e}: {_warnings(core, name, namespace)}") from None
        yield name
    finally:
        _delete(core, name, namespace)


def _warnings(core, name: str, namespace: str) -> str:
    """The pod's last warning events, or that there were none."""
    try:
        events = core.list_namespaced_event(namespace).items
    except ApiException as e:
        return f"its events could not be read ({e.status} {e.reason})"
    said = [
        f"{e.reason}: {e.message}"
        for e in events
        if e.type == "Warning" and e.involved_object and e.involved_object.name == name
    ]
    return "; ".join(dict.fromkeys(said[-3:])) or f"no warning events (kubectl -n {namespace} describe pod {name})"


def _delete(core, name: str, namespace: str) -> None:
    try:
        core.delete_namespaced_pod(name, namespace, grace_period_seconds=HELPER_GRACE_SECONDS)
    except ApiException as e:
        if e.status != 404:  # 404: gone meanwhile (one left terminating by an earlier run)
            raise
    wait_until(f"helper pod {name} to be deleted", lambda: _pod_gone(core, name, namespace), HELPER_GONE_TIMEOUT)
