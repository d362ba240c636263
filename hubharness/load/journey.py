"""Simulated users, each doing what a person does, all driven by one asyncio loop.

A user GETs the login page, logs in through the form (its _xsrf cookie and token), takes
an API token as JupyterLab's page would be given one, asks the hub for a server and
follows the hub's progress event-stream until it is ready, starts a kernel and opens its
websocket through the proxy, runs a cell with a known answer (with `spark`: a small
SparkSession job), holds for a while with the kernel open, and stops the server. Users
start spread over the ramp. No thread per user: 100 users are 100 coroutines.

Every phase is timed; a phase that fails records its cause (login refused, spawn
timeout, spawn failed, kernel error, wrong answer, ...) and ends that user's journey,
after stopping any server it started. The users are made beforehand through the admin
API (so a hub that lists its allowed users lets them in) and deleted afterwards: a load
leaves the deployment as it found it.
"""

from __future__ import annotations

import asyncio
import json
import resource
import ssl
import time
import uuid
from collections.abc import Awaitable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from .. import connections
from ..errors import HarnessError
from . import figures
from .hub import Hub, Options

REQUEST_TIMEOUT = 30  # one HTTP request (the hub may hold a spawn request up to 10 s)
KERNEL_TIMEOUT = 60  # kernel start: POST, websocket, kernel_info_reply
RESULT_TIMEOUT = 60
SPARK_RESULT_TIMEOUT = 240  # a JVM per user, on a small machine
STOP_TIMEOUT = 60
SAMPLE_INTERVAL = 1.0

PLAIN_CELL = ("print(sum(range(1, 1001)))", "500500")
# As a notebook runs Spark: the deployment's master (local mode, or the cluster the users
# share, where a user's job waits for cores the others hold), stopped when done. Before
# the answer it prints Spark's own view as JSON: its master, the session's start, how long
# the application waited for its first executor (the cluster's queue for cores, and that
# executor's start; none in local mode) and the job's own time.
SPARK_CELL = (
    (
        "import json, time\n"
        "from pyspark.sql import SparkSession\n"
        "_t0 = time.monotonic()\n"
        "spark = SparkSession.builder.appName('hubharness-load')"
        ".config('spark.ui.enabled', 'false').config('spark.sql.shuffle.partitions', '1').getOrCreate()\n"
        "_sc, _t1 = spark.sparkContext, time.monotonic()\n"
        "while (not _sc.master.startswith('local') and _sc._jsc.sc().getExecutorMemoryStatus().size() < 2\n"
        "       and time.monotonic() - _t1 < 200):\n"
        "    time.sleep(0.05)\n"
        "_t2 = time.monotonic()\n"
        "_answer = spark.range(1, 1001).selectExpr('sum(id)').first()[0]\n"
        "_seen = {'master': _sc.master, 'session': _t1 - _t0, 'queued': _t2 - _t1, 'job': time.monotonic() - _t2}\n"
        "spark.stop()\n"
        "print(json.dumps(_seen))\n"
        "print(_answer)"
    ),
    "500500",
)


def _trusting() -> aiohttp.TCPConnector:
    """TLS as the ssl module trusts it (SSL_CERT_FILE: a private CA the remote target adds),
    where aiohttp alone would take certifi's bundle; connections reused only while fresh
    (hubharness.connections), where aiohttp keeps them 15 s."""
    return aiohttp.TCPConnector(ssl=ssl.create_default_context(), keepalive_timeout=connections.IDLE)


class Failed(Exception):
    """A phase did not get through: `cause` is what the figures count by."""

    def __init__(self, cause: str, detail: str = ""):
        super().__init__(f"{cause}: {detail}" if detail else cause)
        self.cause, self.detail = cause, detail


@dataclass
class Phase:
    phase: str
    start: float
    end: float = 0.0
    cause: str | None = None
    detail: str = ""

    @property
    def seconds(self) -> float:
        return round(self.end - self.start, 3)


@dataclass
class User:
    name: str
    planned_start: float
    phases: list[Phase] = field(default_factory=list)
    failure: str | None = None
    token: str = ""
    server_url: str = ""
    spawn_requested: bool = False
    spark: dict | None = None  # what the Spark cell printed of its master and times (--spark)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "planned_start": round(self.planned_start, 3),
            "failure": self.failure,
            "spark": self.spark,
            "phases": [
                {**{k: v for k, v in asdict(p).items() if k != "detail"}, "seconds": p.seconds, "detail": p.detail}
                for p in self.phases
            ],
        }


class Load:
    def __init__(self, hub: Hub, options: Options):
        self.hub, self.options = hub, options
        self.url = hub.public_url.rstrip("/")
        self.t0 = 0.0
        self.users = [
            User(f"{options.prefix}{n}", options.ramp * (n - 1) / max(1, options.users - 1) if options.users > 1 else 0)
            for n in range(1, options.users + 1)
        ]
        self.samples: list[dict] = []
        self.resources_note = ""
        self.cell, self.answer = SPARK_CELL if options.spark else PLAIN_CELL
        self.result_timeout = SPARK_RESULT_TIMEOUT if options.spark else RESULT_TIMEOUT

    def now(self) -> float:
        return round(time.monotonic() - self.t0, 3)

    # ---- the run -------------------------------------------------------------------
    async def run(self) -> dict:
        started = datetime.now(UTC)
        cpu0, wall0 = time.process_time(), time.monotonic()
        admin = aiohttp.ClientSession(
            headers={"Authorization": f"token {self.hub.admin_token}"},
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
            connector=_trusting(),
        )
        async with admin:
            await self._make_users(admin)
            self.t0 = time.monotonic()
            sampler = asyncio.create_task(self._sample())
            try:
                await asyncio.gather(*(self._journey(user) for user in self.users))
            finally:
                sampler.cancel()
                await asyncio.gather(sampler, return_exceptions=True)
                duration = time.monotonic() - self.t0
                cleanup = await self._remove_users(admin)
        cpu = time.process_time() - cpu0
        return self._report(started, duration, time.monotonic() - wall0, cpu, cleanup)

    async def _journey(self, user: User) -> None:
        await asyncio.sleep(user.planned_start)
        jar = aiohttp.CookieJar(unsafe=True)  # unsafe: the hub may be on an IP address (127.0.0.1)
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        async with aiohttp.ClientSession(cookie_jar=jar, timeout=timeout, connector=_trusting()) as http:
            try:
                await self._phase(user, "login", self._login(http, user), REQUEST_TIMEOUT * 2)
                http.headers["Authorization"] = f"token {user.token}"
                await self._phase(user, "spawn", self._spawn(http, user), self.hub.spawn_timeout)
                ws = await self._phase(user, "kernel", self._kernel(http, user), KERNEL_TIMEOUT)
                try:
                    await self._phase(user, "result", self._result(ws, user), self.result_timeout)
                    await asyncio.sleep(self.options.hold)
                finally:
                    await ws.close()
            except Failed:
                pass
            finally:
                if user.server_url:  # its server came up: the person stops it, and that is timed
                    try:
                        await self._phase(user, "stop", self._stop(http, user), STOP_TIMEOUT)
                    except Failed:
                        pass
                elif user.spawn_requested:  # a spawn that failed or timed out may still be under way
                    try:
                        await asyncio.wait_for(self._stop(http, user), STOP_TIMEOUT)
                    except (Failed, TimeoutError, aiohttp.ClientError):
                        pass  # the users' deletion afterwards stops what is left, or says it could not

    async def _phase(self, user: User, name: str, work: Awaitable[Any], timeout: float) -> Any:
        record = Phase(name, self.now())
        user.phases.append(record)
        try:
            return await asyncio.wait_for(work, timeout)
        except Failed as e:
            record.cause, record.detail = e.cause, e.detail
        except TimeoutError:
            record.cause, record.detail = f"{name} timeout", f"not done in {timeout:g}s"
        except aiohttp.ClientError as e:
            record.cause, record.detail = f"{name}: connection error", f"{type(e).__name__}: {e}"[:300]
        except Exception as e:  # noqa: BLE001 — an answer we could not read (not JSON, a key missing) is this user's failure
            record.cause, record.detail = f"{name}: unreadable answer", f"{type(e).__name__}: {e}"[:300]
        finally:
            record.end = self.now()
        user.failure = user.failure or record.cause
        raise Failed(record.cause or name, record.detail)

    # ---- the phases ----------------------------------------------------------------
    async def _login(self, http: aiohttp.ClientSession, user: User) -> None:
        async with http.get(f"{self.url}/hub/login") as page:
            if page.status != 200:
                raise Failed("login page unavailable", f"GET /hub/login answered {page.status}")
            await page.read()
        xsrf = http.cookie_jar.filter_cookies(URL(f"{self.url}/hub/login")).get("_xsrf")
        if xsrf is None:
            raise Failed("login refused", "the login page set no _xsrf cookie")
        form = {"username": user.name, "password": str(self.hub.password), "_xsrf": xsrf.value}
        async with http.post(f"{self.url}/hub/login", data=form, allow_redirects=False) as answer:
            location = answer.headers.get("Location", "")
            if answer.status != 302 or "/hub/login" in location:
                raise Failed("login refused", f"POST /hub/login answered {answer.status} {location}".strip())
        # The hub ties its XSRF token to the login session: the page's token gave way to a new
        # one, set at login by JupyterHub 5.5, by the next page of the hub by 5.3 (a browser
        # shows one); /hub/home starts nothing.
        async with http.get(f"{self.url}/hub/home", allow_redirects=False):
            pass
        xsrf = http.cookie_jar.filter_cookies(URL(f"{self.url}/hub/api/")).get("_xsrf") or xsrf
        async with http.post(
            f"{self.url}/hub/api/users/{quote(user.name)}/tokens",
            json={"note": "hubharness load", "expires_in": 3600},
            headers={"X-XSRFToken": xsrf.value},
        ) as answer:
            if answer.status != 201:
                raise Failed("token refused", f"{answer.status} {(await answer.text())[:200]}")
            user.token = (await answer.json())["token"]

    async def _spawn(self, http: aiohttp.ClientSession, user: User) -> None:
        api = f"{self.url}/hub/api/users/{quote(user.name)}/server"
        user.spawn_requested = True
        async with http.post(api) as answer:
            if answer.status not in (201, 202):
                # 4xx: the hub would not spawn (429: too many spawns at once); 5xx: it tried and the spawn failed
                cause = "spawn failed" if answer.status >= 500 else "spawn refused"
                raise Failed(cause, f"{answer.status} {(await answer.text())[:200]}")
        no_limit = aiohttp.ClientTimeout(total=None, sock_read=None)  # the phase's own timeout bounds it
        async with http.get(f"{api}/progress", timeout=no_limit) as stream:
            if stream.status != 200:
                raise Failed("spawn failed", f"progress answered {stream.status}")
            async for line in stream.content:
                if not line.startswith(b"data:"):
                    continue
                event = json.loads(line[5:])
                if event.get("failed"):
                    raise Failed("spawn failed", str(event.get("message", ""))[:300])
                if event.get("ready"):
                    user.server_url = f"{self.url}{event['url']}".rstrip("/")
                    return
        raise Failed("spawn failed", "the progress stream ended before the server was ready")

    async def _kernel(self, http: aiohttp.ClientSession, user: User) -> aiohttp.ClientWebSocketResponse:
        async with http.post(f"{user.server_url}/api/kernels", json={"name": "python3"}) as answer:
            if answer.status != 201:
                raise Failed("kernel refused", f"{answer.status} {(await answer.text())[:200]}")
            kernel_id = (await answer.json())["id"]
        session = uuid.uuid4().hex
        ws_url = user.server_url.replace("http", "ws", 1) + f"/api/kernels/{kernel_id}/channels?session_id={session}"
        ws = await http.ws_connect(ws_url, max_msg_size=0)
        try:
            await self._request(ws, session, "kernel_info_request", {}, "kernel")
        except BaseException:
            await ws.close()
            raise
        return ws

    async def _result(self, ws: aiohttp.ClientWebSocketResponse, user: User) -> None:
        content = {"code": self.cell, "silent": False, "store_history": False, "user_expressions": {}}
        stdout = await self._request(ws, uuid.uuid4().hex, "execute_request", content, "result")
        lines = [line.strip() for line in stdout.splitlines() if line.strip()]
        if not lines or lines[-1] != self.answer:
            raise Failed("wrong answer", f"expected {self.answer}, printed {stdout[-200:]!r}")
        if self.options.spark and len(lines) > 1:
            user.spark = figures.spark_seen(lines[-2])

    async def _request(
        self, ws: aiohttp.ClientWebSocketResponse, session: str, kind: str, content: dict, phase: str
    ) -> str:
        """Send one shell request; return its stdout once the reply and the kernel's idle
        status for it have both come (kernel messaging protocol 5.3)."""
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": kind, "username": "hubharness", "session": session}
        header |= {"version": "5.3", "date": datetime.now(UTC).isoformat()}
        await ws.send_str(
            json.dumps(
                {"header": header, "parent_header": {}, "metadata": {}, "buffers": [], "channel": "shell"}
                | {"content": content}
            )
        )
        stdout, replied, idle, error = "", False, False, ""
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            msg = json.loads(message.data)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            msg_type, body = msg["header"]["msg_type"], msg["content"]
            if msg_type == "stream" and body.get("name") == "stdout":
                stdout += body["text"]
            elif msg_type == "error":
                error = f"{body['ename']}: {body['evalue']}"
            elif msg_type.endswith("_reply"):
                replied = True
                error = error or ("" if body.get("status") == "ok" else f"reply status {body.get('status')}")
            elif msg_type == "status" and body.get("execution_state") == "idle":
                idle = True
            if replied and (idle or kind == "kernel_info_request"):
                if error:
                    raise Failed("kernel error", error[:300])
                return stdout
        raise Failed("kernel error", f"the kernel's websocket closed during {phase} ({ws.close_code})")

    async def _stop(self, http: aiohttp.ClientSession, user: User) -> None:
        api = f"{self.url}/hub/api/users/{quote(user.name)}"
        async with http.delete(f"{api}/server") as answer:
            if answer.status == 204:
                return
            if answer.status != 202:
                raise Failed("stop refused", f"{answer.status} {(await answer.text())[:200]}")
        for _ in range(int(STOP_TIMEOUT / 0.25)):  # 202: the stop goes on; the hub says when it is done
            async with http.get(api) as answer:
                if answer.status != 200:
                    raise Failed("stop refused", f"GET user answered {answer.status}")
                if "" not in ((await answer.json()).get("servers") or {}):
                    return
            await asyncio.sleep(0.25)

    # ---- users, before and after ----------------------------------------------------
    async def _make_users(self, admin: aiohttp.ClientSession) -> None:
        """Fresh users: a leftover of an interrupted load (ours by its prefix) goes first."""
        await self._remove_users(admin)
        names = [u.name for u in self.users]
        async with admin.post(f"{self.url}/hub/api/users", json={"usernames": names}) as answer:
            if answer.status != 201:
                raise HarnessError(
                    f"the load's users could not be made: POST /hub/api/users answered {answer.status}: "
                    f"{(await answer.text())[:200]} (is the hub up? invoke status)"
                )

    async def _remove_users(self, admin: aiohttp.ClientSession) -> list[str]:
        """Delete the load's users (the hub stops a running server first); what could not
        be deleted, with why."""

        async def remove(name: str) -> str | None:
            why = ""
            for _ in range(40):  # a spawn or stop still pending: 400 until it settles (bounded, ~20 s)
                async with admin.delete(f"{self.url}/hub/api/users/{quote(name)}") as answer:
                    if answer.status in (204, 404):
                        return None
                    why = f"{name}: {answer.status} {(await answer.text())[:120]}"
                await asyncio.sleep(0.5)
            return why

        left = await asyncio.gather(*(remove(u.name) for u in self.users))
        return [why for why in left if why]

    # ---- the hub's and proxy's resources ------------------------------------------------
    async def _sample(self) -> None:
        while True:
            usage = await asyncio.to_thread(self.hub.usage)
            t = self.now()
            if isinstance(usage, str):
                self.resources_note = usage
                return
            for name, u in usage.items():
                self.samples.append({"t": t, "component": name, **asdict(u)})
            await asyncio.sleep(SAMPLE_INTERVAL)

    def _report(self, started: datetime, duration: float, wall: float, cpu: float, cleanup: list[str]) -> dict:
        users = [u.to_json() for u in self.users]
        phase_figures = figures.phase_figures(users)
        failures = figures.failures_by_cause(users)
        failed = sum(failures.values())
        options = asdict(self.options)
        return {
            "version": 1,
            "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration": round(duration, 3),
            "public_url": self.url,
            "options": options,
            "cell": self.cell,
            "users": users,
            "completed": len(users) - failed,
            "failed": failed,
            "failures": failures,
            "phases": phase_figures,
            "spark": figures.spark_figures(users) if self.options.spark else None,
            "resources": {
                "source": self.resources_note or (self.hub.usage_source if self.samples else "not available"),
                "samples": self.samples,
                "summary": figures.resource_summary(self.samples),
            },
            "generator": {
                "cpu_seconds": round(cpu, 3),
                "cpu_seconds_per_user": round(cpu / max(1, len(users)), 4),
                "wall_seconds": round(wall, 3),
                "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            },
            "cleanup": cleanup,
            "thresholds": figures.thresholds(
                phase_figures, failed, self.options.max_failures, self.options.max_p95_spawn
            ),
        }


def run(hub: Hub, options: Options) -> dict:
    """Run a load and return what load.json holds."""
    return asyncio.run(Load(hub, options).run())
