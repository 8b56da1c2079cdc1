"""Admission: how many requests one process takes at once, and an honest, fast refusal
of the rest (docs/decisions/0012-never-wedge.md).

At most ``threads`` requests run at once — each may hold a worker thread and a pool
connection, and the pool has one for each. Up to ``queue_depth`` more wait for a turn,
first come first served, each at most ``queue_wait_s``. A request beyond the queue, or
one whose wait runs out, is answered at once: 503 ``overloaded`` with Retry-After, in
both languages, and nothing of it was done. So under any load a request is either
served or refused within about a second, never left waiting on a thread, a connection or
a lock behind work that is itself waiting.

Probes, metrics, static files, the API description and the study hot path (heartbeats,
acks and the event stream run on the event loop against in-memory state: they hold no
thread and no connection) are not counted.
"""

from __future__ import annotations

import asyncio
import re

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

REFUSED = Counter(
    "examengine_requests_refused_total",
    "Requests refused with 503 because the process was full",
    ["reason"],
)
RUNNING = Gauge("examengine_requests_running", "Requests holding a turn")
WAITING = Gauge("examengine_requests_waiting", "Requests waiting for a turn")


class Admission:
    """ASGI middleware: ``running`` turns, a queue of ``waiting``, ``wait_s`` at most."""

    def __init__(
        self, app: ASGIApp, *, running: int, waiting: int, wait_s: float, retry_after_s: int
    ) -> None:
        self.app = app
        self.turns = asyncio.Semaphore(running)  # FIFO: waiters are woken in order
        self.waiting_limit = waiting
        self.wait_s = wait_s
        self.retry_after_s = retry_after_s
        self.waiting = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or EXEMPT.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        if self.turns.locked():
            if self.waiting >= self.waiting_limit:
                await self._refuse("queue_full", scope, receive, send)
                return
            self.waiting += 1
            WAITING.inc()
            try:
                await asyncio.wait_for(self.turns.acquire(), self.wait_s)
            except TimeoutError:
                await self._refuse("queue_wait", scope, receive, send)
                return
            finally:
                self.waiting -= 1
                WAITING.dec()
        else:
            await self.turns.acquire()
        RUNNING.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            RUNNING.dec()
            self.turns.release()

    async def _refuse(self, reason: str, _scope: Scope, _receive: Receive, send: Send) -> None:
        REFUSED.labels(reason).inc()
        reply = overloaded(self.retry_after_s)
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
