"""Admission: how many requests one process takes at once, and an honest, fast refusal
of the rest (docs/decisions/0012-never-wedge.md).

Requests take turns in one of two lanes. The **work** lane lets ``threads`` requests run
at once — each may hold a worker thread and a pool connection, and the pool has one for
each. The **password** lane is for the requests that hash a password (sign-in, password
change): argon2 takes a core for ~45 ms by design, so a start wave of sign-ins would
otherwise fill every thread with hashing and starve the event loop and the saves of the
learners already writing; it lets ``password_slots`` run at once. In each lane up to
``queue_depth`` more wait for a turn, first come first served. A request beyond the
queue, or one whose wait runs out, is answered at once: 503 ``overloaded`` with
Retry-After, in both languages, and nothing of it was done. So under any load a request
is either served or refused within about a second, never left waiting on a thread, a
connection or a lock behind work that is itself waiting.

How long a request may wait is a controlled delay (CoDel, as in Maurer, "Fail at Scale",
ACM Queue 13(8), 2015): a queue that empties now and then absorbs a burst, so a request
waits up to ``queue_wait_s``; a queue that has not been empty for that long is a
standing queue — the load is beyond what the process serves, and waiting only turns a
refusal into a late refusal — so a request waits at most ``standing_wait_s``. And when
the event loop itself runs late by more than ``queue_wait_s`` (the process or the
machine is out of CPU: a request has already waited that long before it reaches this
gate), a request that finds no free turn is refused without queueing. The loop's lag is
a gauge for whoever is on call.

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
from collections import deque
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
# With several workers (api.http.metrics): turns and waits add up over the workers;
# the Retry-After is the latest given by any; the loop's lag is the worst worker's.
RUNNING = Gauge(
    "examengine_requests_running", "Requests holding a turn", ["lane"], multiprocess_mode="livesum"
)
WAITING = Gauge(
    "examengine_requests_waiting", "Requests waiting for a turn", ["lane"],
    multiprocess_mode="livesum",
)  # fmt: skip
RETRY_AFTER = Gauge(
    "examengine_retry_after_seconds", "Retry-After of the latest refusal",
    multiprocess_mode="livemostrecent",
)  # fmt: skip
LOOP_LAG = Gauge(
    "examengine_event_loop_lag_seconds", "How late the event loop ran its latest tick",
    multiprocess_mode="livemax",
)  # fmt: skip


class LoopLag:
    """How late the event loop runs: a tick every ``interval_s`` measures how much later
    than asked it came; ``seconds`` is the worst of the last ``ticks`` (half a second by
    default: a loop that just ran late has requests waiting unread behind it). A callback
    chain (no task), started on the first request of each loop, so it needs no start-up
    hook and leaves nothing pending when the loop closes."""

    def __init__(self, interval_s: float = 0.1, ticks: int = 5) -> None:
        self.interval_s = interval_s
        self.recent: deque[float] = deque(maxlen=ticks)
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def seconds(self) -> float:
        return max(self.recent, default=0.0)

    def watch(self) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self.recent.clear()
            self._tick(loop, loop.time())

    def _tick(self, loop: asyncio.AbstractEventLoop, asked: float) -> None:
        if loop is not self._loop or loop.is_closed():
            return
        late = max(0.0, loop.time() - asked)
        self.recent.append(late)
        LOOP_LAG.set(late)
        loop.call_later(self.interval_s, self._tick, loop, loop.time() + self.interval_s)


class Lane:
    """``running`` turns and a queue of at most ``waiting`` for one kind of request, with
    a controlled delay: ``wait_s`` while the queue empties now and then, ``standing_wait_s``
    once it has not been empty for ``wait_s``."""

    def __init__(
        self,
        name: str,
        *,
        running: int,
        waiting: int,
        wait_s: float,
        standing_wait_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.turns = asyncio.Semaphore(running)  # FIFO: waiters are woken in order
        self.waiting_limit = waiting
        self.waiting = 0
        self.wait_s = wait_s
        self.standing_wait_s = min(standing_wait_s, wait_s)
        self.clock = clock
        self.empty_at = clock()  # when the queue was last seen empty
        # the gauges' children, bound once (a label lookup is a few µs a request)
        self.running_gauge = RUNNING.labels(name)
        self.waiting_gauge = WAITING.labels(name)

    def patience(self) -> float:
        """How long a request that queues now may wait for its turn."""
        if self.waiting == 0:
            self.empty_at = self.clock()
            return self.wait_s
        if self.clock() - self.empty_at > self.wait_s:
            return self.standing_wait_s
        return self.wait_s

    async def enter(self, *, late: bool = False) -> str | None:
        """Take a turn; None when taken, else why not (``queue_full``, ``queue_wait``,
        ``loop_lag`` when ``late``: the event loop runs too late to queue)."""
        if not self.turns.locked():
            await self.turns.acquire()  # free: returns without yielding
            return None
        if late:
            return "loop_lag"
        if self.waiting >= self.waiting_limit:
            return "queue_full"
        wait_s = self.patience()
        self.waiting += 1
        self.waiting_gauge.inc()
        try:
            await asyncio.wait_for(self.turns.acquire(), wait_s)
        except TimeoutError:
            return "queue_wait"
        finally:
            self.waiting -= 1
            if self.waiting == 0:
                self.empty_at = self.clock()
            self.waiting_gauge.dec()
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
    """ASGI middleware: the work and the password lanes, a queue each, ``wait_s`` at most
    (``standing_wait_s`` in a standing queue; no queueing when the loop lags by more
    than ``wait_s``)."""

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
        standing_wait_s: float | None = None,
    ) -> None:
        self.app = app
        standing = wait_s if standing_wait_s is None else standing_wait_s
        self.work = Lane(
            "work", running=running, waiting=waiting, wait_s=wait_s, standing_wait_s=standing
        )
        # No controlled delay in the password lane: one turn there is a whole argon2 hash
        # (30–45 ms), so a queue of a few sign-ins is never empty for long, yet moves; a
        # 50 ms wait would refuse it (schemathesis' five concurrent roles found that).
        self.password = Lane(
            "password",
            running=password_slots,
            waiting=waiting,
            wait_s=wait_s,
            standing_wait_s=wait_s,
        )
        self.wait_s = wait_s
        self.lag = LoopLag()
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
        self.lag.watch()
        refusal = await lane.enter(late=self.lag.seconds > self.wait_s)
        if refusal is not None:
            await self._refuse(lane, refusal, send)
            return
        self.pressure.admitted()
        lane.running_gauge.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            lane.running_gauge.dec()
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
