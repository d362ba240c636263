"""Drive a Jupyter kernel through the proxy with the kernel messaging protocol (v5).

REST to start and stop the kernel, a websocket on /api/kernels/<id>/channels for
execute_request and iopub, the path every notebook in a browser takes. Cells can
be submitted ahead and collected later: the kernel runs them in order while the
caller does other work.
"""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests
import websocket

from . import connections
from .errors import HarnessError, WaitTimeout

TIMEOUT = 10


@dataclass
class Execution:
    stdout: str = ""
    stderr: str = ""
    result: str | None = None
    error: str | None = None
    traceback: list[str] = field(default_factory=list)
    _replied: bool = False
    _idle: bool = False

    def last_json(self):
        """The last stdout line parsed as JSON: how cells hand structured results back."""
        if self.error:
            raise HarnessError(f"cell failed with {self.error}")
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        if not lines:
            raise HarnessError(f"cell printed nothing; stderr: {self.stderr[-300:]}")
        return json.loads(lines[-1])


class Kernel:
    def __init__(self, server_url: str, token: str):
        self.server_url = server_url.rstrip("/")
        self.token = token
        self.session_id = uuid.uuid4().hex
        self.http = connections.session()
        self.http.headers["Authorization"] = f"token {token}"
        self.kernel_id: str | None = None
        self.ws: websocket.WebSocket | None = None
        self._pending: dict[str, tuple[Execution, Future]] = {}
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None

    def start(self, name: str = "python3") -> Kernel:
        response = self.http.post(f"{self.server_url}/api/kernels", json={"name": name}, timeout=TIMEOUT)
        if response.status_code != 201:
            raise HarnessError(f"kernel start refused: {response.status_code} {response.text[:200]}")
        return self.attach(response.json()["id"])

    def attach(self, kernel_id: str) -> Kernel:
        """Connect to a kernel that runs already, as a browser reloading a notebook does."""
        self.kernel_id = kernel_id
        ws_url = self.server_url.replace("http", "ws", 1)
        self.ws = websocket.create_connection(
            f"{ws_url}/api/kernels/{self.kernel_id}/channels?session_id={self.session_id}",
            header=[f"Authorization: token {self.token}"],
            timeout=TIMEOUT,
        )
        self.ws.settimeout(None)
        self._reader = threading.Thread(target=self._read, args=(self.ws,), name="kernel-reader", daemon=True)
        self._reader.start()
        return self

    def _read(self, ws: websocket.WebSocket) -> None:
        """Route every message to the cell it answers; fail all cells if the socket dies."""
        try:
            while True:
                msg = json.loads(ws.recv())
                parent = msg.get("parent_header", {}).get("msg_id")
                with self._lock:
                    entry = self._pending.get(parent)
                if entry is None:
                    continue
                out, future = entry
                kind, content = msg["header"]["msg_type"], msg["content"]
                if kind == "stream":
                    if content["name"] == "stdout":
                        out.stdout += content["text"]
                    else:
                        out.stderr += content["text"]
                elif kind == "execute_result":
                    out.result = content["data"].get("text/plain")
                elif kind == "error":
                    out.error = f"{content['ename']}: {content['evalue']}"
                    out.traceback = content.get("traceback", [])
                elif kind == "execute_reply":
                    out._replied = True
                    if content.get("status") == "aborted":
                        out.error = out.error or "aborted"
                elif kind == "status" and content["execution_state"] == "idle":
                    out._idle = True
                if out._replied and out._idle:
                    with self._lock:
                        self._pending.pop(parent, None)
                    future.set_result(out)
        except Exception as e:  # noqa: BLE001 — socket closed or broken: nothing more will arrive
            with self._lock:
                pending, self._pending = self._pending, {}
            for _, future in pending.values():
                if not future.done():
                    future.set_exception(HarnessError(f"kernel connection lost: {type(e).__name__}: {e}"))

    def submit(self, code: str) -> Future:
        """Queue a cell; the kernel runs cells in the order they were submitted."""
        if self.ws is None:
            raise HarnessError("kernel not started")
        msg_id = uuid.uuid4().hex
        future: Future = Future()
        with self._lock:
            self._pending[msg_id] = (Execution(), future)
        self.ws.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "username": "hubharness",
                        "session": self.session_id,
                        "version": "5.3",
                        "date": datetime.now(UTC).isoformat(),
                    },
                    "parent_header": {},
                    "metadata": {},
                    "buffers": [],
                    "channel": "shell",
                    # stop_on_error off: one failed check must not abort the cells queued after it
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": False,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": False,
                    },
                }
            )
        )
        return future

    @staticmethod
    def collect(future: Future, timeout: float, what: str) -> Execution:
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            raise WaitTimeout(f"timed out after {timeout:g}s waiting for the kernel to run {what}") from None

    def execute(self, code: str, timeout: float = 60) -> Execution:
        return self.collect(self.submit(code), timeout, code.splitlines()[0][:60])

    def run(self, code: str, timeout: float = 60) -> Execution:
        """execute(), raising with the kernel's error if the cell failed."""
        result = self.execute(code, timeout)
        if result.error:
            raise HarnessError(f"cell failed with {result.error}")
        return result

    def disconnect(self) -> None:
        """Close the websocket and leave the kernel running (a closed browser tab)."""
        if self.ws is not None:
            self.ws.close()
            self.ws = None

    def shutdown(self) -> None:
        self.disconnect()
        if self.kernel_id:
            try:
                self.http.delete(f"{self.server_url}/api/kernels/{self.kernel_id}", timeout=TIMEOUT)
            except requests.RequestException:
                pass
            self.kernel_id = None
