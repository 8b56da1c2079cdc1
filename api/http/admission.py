"""Admission: how many requests one process takes at once, and an honest, fast refusal
of the rest (docs/decisions/0012-never-wedge.md).

Requests take turns in one of two lanes. The **work** lane lets ``threads`` requests run
at once — each may hold a worker thread and a pool connection, and the pool has one for
each. The **password** lane is for the requests that hash a password (sign-in, password
change): argon2 takes a core for ~45 ms by design, so a start wave of sign-ins would
otherwise fill every thread with hashing and starve the event loop and the saves of the
learners already writing; it lets ``password_slots`` run at once. In each lane up to
``queue_depth`` more wait for a turn, first come first served, each at most
``queue_wait_s``. A request beyond the queue, or one whose wait runs out, is answered at
once: 503 ``overloaded`` with Retry-After, in both languages, and nothing of it was done.
So under any load a request is either served or refused within about a second, never
left waiting on a thread, a connection or a lock behind work that is itself waiting.

The Retry-After grows with the pressure: the base when few are refused, up to
``retry_after_max_s`` when most are (refused ÷ admitted over the last two seconds), so
that clients, which wait Retry-After plus jitter, spread their retries instead of coming
back all at once into a full process.

Probes, metrics, static files, the API description and the study hot path (heartbeats,
acks and the event stream run on the event loop against in-memory state: they hold no
thread and no connection) are not counted.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable

import msgspec
from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    Scope,
    Send,
)
from prometheus_client import Counter, Gauge

from api.http.errors import PROBLEM_JSON, overloaded

#: Paths that never wait for a turn.
EXEMPT = re.compile(r"^/(health|ready|metrics|static/|schema|api/study/(heartbeat|ack|events)$)")
#: Route ``opt`` flag: the route hashes a password (sign-in, password change,
#: registration) and takes its turn in the password lane.
HASHES_PASSWORD = "hashes_password"

REFUSED = Counter(
    "examengine_requests_refused_total",
    "Requests refused with 503 because the process was full",
    ["lane", "reason"],
)
RUNNING = Gauge("examengine_requests_running", "Requests holding a turn", ["lane"])
WAITING = Gauge("examengine_requests_waiting", "Requests waiting for a turn", ["lane"])
RETRY_AFTER = Gauge("examengine_retry_after_seconds", "Retry-After of the latest refusal")


class Lane:
    """``running`` turns and a queue of at most ``waiting`` for one kind of request."""

    def __init__(self, name: str, *, running: int, waiting: int) -> None:
        self.name = name
        self.turns = asyncio.Semaphore(running)  # FIFO: waiters are woken in order
        self.waiting_limit = waiting
        self.waiting = 0

    async def enter(self, wait_s: float) -> str | None:
        """Take a turn; None when taken, else why not (``queue_full``, ``queue_wait``)."""
        if not self.turns.locked():
            await self.turns.acquire()  # free: returns without yielding
            return None
        if self.waiting >= self.waiting_limit:
            return "queue_full"
        self.waiting += 1
        WAITING.labels(self.name).inc()
        try:
            await asyncio.wait_for(self.turns.acquire(), wait_s)
        except TimeoutError:
            return "queue_wait"
        finally:
            self.waiting -= 1
            WAITING.labels(self.name).dec()
        return None

    def leave(self) -> None:
        self.turns.release()


class Pressure:
    """Requests admitted and refused in the current and the previous second, and the
    Retry-After they call for: ``base_s × (1 + refused ÷ admitted)``, within
    [``base_s``, ``max_s``]."""

    def __init__(
        self, base_s: int, max_s: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.base_s = base_s
        self.max_s = max(base_s, max_s)
        self.clock = clock
        self.second = math.floor(clock())
        self.now = [0, 0]  # admitted, refused in this second
        self.before = [0, 0]  # in the one before

    def _roll(self) -> None:
        second = math.floor(self.clock())
        if second != self.second:
            self.before = self.now if second == self.second + 1 else [0, 0]
            self.now = [0, 0]
            self.second = second

    def admitted(self) -> None:
        self._roll()
        self.now[0] += 1

    def refused(self) -> int:
        """Count a refusal; the Retry-After (seconds) to send with it."""
        self._roll()
        self.now[1] += 1
        admitted = self.now[0] + self.before[0]
        refused = self.now[1] + self.before[1]
        seconds = round(self.base_s * (1 + refused / max(admitted, 1)))
        return min(self.max_s, max(self.base_s, seconds))


class Admission:
    """ASGI middleware: the work and the password lanes, a queue each, ``wait_s`` at most."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        running: int,
        waiting: int,
        wait_s: float,
        retry_after_s: int,
        password_slots: int = 1,
        retry_after_max_s: int | None = None,
    ) -> None:
        self.app = app
        self.work = Lane("work", running=running, waiting=waiting)
        self.password = Lane("password", running=password_slots, waiting=waiting)
        self.wait_s = wait_s
        self.pressure = Pressure(retry_after_s, retry_after_max_s or retry_after_s)

    @property
    def waiting(self) -> int:
        """Requests waiting for a turn, both lanes."""
        return self.work.waiting + self.password.waiting

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or EXEMPT.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        handler = scope.get("route_handler")
        hashing = handler is not None and handler.opt.get(HASHES_PASSWORD)
        lane = self.password if hashing else self.work
        refusal = await lane.enter(self.wait_s)
        if refusal is not None:
            await self._refuse(lane, refusal, send)
            return
        self.pressure.admitted()
        RUNNING.labels(lane.name).inc()
        try:
            await self.app(scope, receive, send)
        finally:
            RUNNING.labels(lane.name).dec()
            lane.leave()

    async def _refuse(self, lane: Lane, reason: str, send: Send) -> None:
        REFUSED.labels(lane.name, reason).inc()
        retry_after_s = self.pressure.refused()
        RETRY_AFTER.set(retry_after_s)
        reply = overloaded(retry_after_s)
        body = msgspec.json.encode(reply.content)
        headers: list[tuple[bytes, bytes]] = [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            *((k.lower().encode(), v.encode()) for k, v in reply.headers.items()),
        ]
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": 503,
            "headers": headers,
        }
        await send(start)
        end: HTTPResponseBodyEvent = {
            "type": "http.response.body",
            "body": body,
            "more_body": False,
        }
        await send(end)
