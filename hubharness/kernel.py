"""Drive a Jupyter kernel through the proxy with the kernel messaging protocol (v5).

REST to start and stop the kernel, a websocket on /api/kernels/<id>/channels for
execute_request / iopub, the path every notebook in a browser takes.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import requests
import websocket

from .errors import HarnessError, WaitTimeout

TIMEOUT = 10


@dataclass
class Execution:
    stdout: str = ""
    stderr: str = ""
    result: str | None = None
    error: str | None = None
    traceback: list[str] = field(default_factory=list)

    def last_json(self):
        """The last stdout line parsed as JSON: how cells hand structured results back."""
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        if not lines:
            raise HarnessError(f"cell printed nothing; stderr: {self.stderr[-300:]}")
        return json.loads(lines[-1])


class Kernel:
    def __init__(self, server_url: str, token: str):
        self.server_url = server_url.rstrip("/")
        self.token = token
        self.session_id = uuid.uuid4().hex
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {token}"
        self.kernel_id: str | None = None
        self.ws: websocket.WebSocket | None = None

    def start(self, name: str = "python3") -> "Kernel":
        response = self.http.post(f"{self.server_url}/api/kernels", json={"name": name}, timeout=TIMEOUT)
        if response.status_code != 201:
            raise HarnessError(f"kernel start refused: {response.status_code} {response.text[:200]}")
        self.kernel_id = response.json()["id"]
        ws_url = self.server_url.replace("http", "ws", 1)
        self.ws = websocket.create_connection(
            f"{ws_url}/api/kernels/{self.kernel_id}/channels?session_id={self.session_id}",
            header=[f"Authorization: token {self.token}"],
            timeout=TIMEOUT,
        )
        return self

    def execute(self, code: str, timeout: float = 60) -> Execution:
        if self.ws is None:
            raise HarnessError("kernel not started")
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {
                "msg_id": msg_id, "msg_type": "execute_request", "username": "hubharness",
                "session": self.session_id, "version": "5.3",
                "date": datetime.now(timezone.utc).isoformat(),
            },
            "parent_header": {}, "metadata": {}, "buffers": [], "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        }))
        out = Execution()
        replied = idle = False
        deadline = time.monotonic() + timeout
        while not (replied and idle):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeout(f"timed out after {timeout:g}s waiting for the kernel to run: {code.splitlines()[0][:60]}")
            self.ws.settimeout(remaining)
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
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
                replied = True
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
        return out

    def run(self, code: str, timeout: float = 60) -> Execution:
        """execute(), raising with the kernel's error if the cell failed."""
        result = self.execute(code, timeout)
        if result.error:
            raise HarnessError(f"cell failed with {result.error}")
        return result

    def shutdown(self) -> None:
        if self.ws is not None:
            self.ws.close()
            self.ws = None
        if self.kernel_id:
            try:
                self.http.delete(f"{self.server_url}/api/kernels/{self.kernel_id}", timeout=TIMEOUT)
            except requests.RequestException:
                pass
            self.kernel_id = None
