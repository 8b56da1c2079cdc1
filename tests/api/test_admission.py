"""Saturation is an honest, fast refusal: past the running requests and the queue a
request is answered at once with 503 + Retry-After, in both languages; a queued request
that waits too long too; the database refusing a unit of work in time is a 503 as well.
"""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from litestar import Litestar, get
from litestar.testing import AsyncTestClient
from litestar.types import ControllerRouterHandler, Message, Receive, Scope, Send
from sqlalchemy import exc as sa_exc

from api.app import create_app
from api.http.admission import HASHES_PASSWORD, REFUSED, Admission, Pressure
from api.settings import ServerSettings, Settings
from api.store.db import make_engine
from api.store.writer import DatabaseBusy

Client = AsyncTestClient[Litestar]


@get("/probe/pool-timeout", sync_to_thread=False)
def pool_timeout() -> None:
    raise sa_exc.TimeoutError("QueuePool limit of size 16 overflow 0 reached")


@get("/probe/locked", sync_to_thread=False)
def locked() -> None:
    raise sa_exc.OperationalError("UPDATE x", {}, Exception("database is locked"))


@get("/probe/down", sync_to_thread=False)
def down() -> None:
    raise sa_exc.OperationalError("SELECT 1", {}, Exception("connection refused"))


@get("/probe/writer-busy", sync_to_thread=False)
def writer_busy() -> None:
    raise DatabaseBusy


@pytest.fixture
def extra_routes() -> list[ControllerRouterHandler]:
    return [pool_timeout, locked, down, writer_busy]


@pytest.fixture
def app_settings(settings_sqlite: Settings) -> Settings:
    server = ServerSettings(retry_after_s=3)
    return settings_sqlite.replace(server=server)


def assert_overloaded(response: object) -> None:
    assert response.status_code == 503  # type: ignore[attr-defined]
    assert response.headers["retry-after"] == "3"  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    problem = response.json()  # type: ignore[attr-defined]
    assert problem["code"] == "overloaded"
    assert "try again" in problem["detail"]
    assert "稍后重试" in problem["detail_zh"]


class Slow:
    """A downstream ASGI app whose requests finish when the test says so."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done", "more_body": False})


async def call(
    app: Admission, path: str = "/api/x", *, hashing: bool = False
) -> tuple[int, dict[bytes, bytes], bytes]:
    """One request through ``app`` (to a route that hashes a password when ``hashing``,
    as the router marks it in the scope): its status, headers and body."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    route = SimpleNamespace(opt={HASHES_PASSWORD: True} if hashing else {})
    scope = {"type": "http", "path": path, "method": "GET", "headers": [], "route_handler": route}
    await app(scope, receive, send)  # type: ignore[arg-type]
    start, body = sent[0], sent[1]
    return start["status"], dict(start["headers"]), body["body"]


def assert_refused(reply: tuple[int, dict[bytes, bytes], bytes]) -> None:
    status, headers, body = reply
    assert status == 503
    assert headers[b"retry-after"] == b"3"
    assert headers[b"content-type"] == b"application/problem+json"
    problem = json.loads(body)
    assert problem["code"] == "overloaded"
    assert "try again" in problem["detail"]
    assert "稍后重试" in problem["detail_zh"]


async def test_past_the_running_and_the_queue_a_request_is_refused_at_once() -> None:
    slow = Slow()
    gate = Admission(slow, running=1, waiting=1, wait_s=0.3, retry_after_s=3)
    running = asyncio.create_task(call(gate))
    await asyncio.sleep(0.01)  # it holds the one turn
    queued = asyncio.create_task(call(gate))
    await asyncio.sleep(0.01)  # it waits in the queue of one

    started = time.monotonic()
    assert_refused(await call(gate))
    assert time.monotonic() - started < 0.05

    # The queued one waited its 300 ms, no more, and was refused too.
    assert_refused(await queued)
    assert 0.25 < time.monotonic() - started < 0.6
    # Probes and the study hot path never wait for a turn, even when the process is full.
    for path in ("/health", "/ready", "/api/study/heartbeat"):
        exempt = asyncio.create_task(call(gate, path))
        await asyncio.sleep(0.01)
        assert not exempt.done()  # it reached the slow app: not refused
        exempt.cancel()
    slow.release.set()
    assert (await running)[0] == 200


async def test_a_queued_request_runs_when_a_turn_frees_in_time() -> None:
    slow = Slow()
    gate = Admission(slow, running=1, waiting=1, wait_s=2, retry_after_s=3)
    running = asyncio.create_task(call(gate))
    await asyncio.sleep(0.01)
    queued = asyncio.create_task(call(gate))
    await asyncio.sleep(0.05)
    slow.release.set()
    assert (await running)[0] == 200
    assert (await queued)[0] == 200
    assert gate.waiting == 0


async def test_in_a_standing_queue_a_request_waits_briefly_and_a_burst_waits_long() -> None:
    """Controlled delay: a queue that has not emptied for ``wait_s`` means the load is
    beyond what the process serves, and a long wait would only make a late refusal."""
    slow = Slow()
    gate = Admission(slow, running=1, waiting=8, wait_s=0.3, standing_wait_s=0.02, retry_after_s=3)
    running = asyncio.create_task(call(gate))
    await asyncio.sleep(0.01)
    first = asyncio.create_task(call(gate))  # a burst: it may wait the whole 300 ms
    await asyncio.sleep(0.2)
    second = asyncio.create_task(call(gate))  # the queue is 200 ms old: still a burst
    await asyncio.sleep(0.15)
    assert first.done() and not second.done()  # the first waited its 300 ms
    # The queue has not been empty for 350 ms now: a standing queue.
    started = time.monotonic()
    assert_refused(await call(gate))
    assert time.monotonic() - started < 0.15
    assert_refused(await second)
    # Once the queue has emptied, a request may wait the long way again.
    slow.release.set()
    assert (await running)[0] == 200
    assert gate.work.patience() == 0.3


async def test_when_the_event_loop_runs_late_a_request_is_not_queued() -> None:
    slow = Slow()
    gate = Admission(slow, running=1, waiting=8, wait_s=0.2, retry_after_s=3)
    running = asyncio.create_task(call(gate))  # it holds the turn and starts the watch
    await asyncio.sleep(0.01)
    time.sleep(0.35)  # the loop is blocked: its next tick comes ~0.25 s late
    await asyncio.sleep(0.01)
    assert gate.lag.seconds > 0.2
    before = REFUSED.labels("work", "loop_lag")._value.get()
    started = time.monotonic()
    assert_refused(await call(gate))
    assert time.monotonic() - started < 0.05
    assert REFUSED.labels("work", "loop_lag")._value.get() == before + 1
    await asyncio.sleep(0.7)  # the loop is on time again: requests queue as before
    assert gate.lag.seconds < 0.1
    queued = asyncio.create_task(call(gate))
    await asyncio.sleep(0.01)
    assert gate.waiting == 1
    slow.release.set()
    assert (await running)[0] == 200
    assert (await queued)[0] == 200


@pytest.mark.parametrize("path", ["/probe/pool-timeout", "/probe/locked", "/probe/writer-busy"])
async def test_a_unit_of_work_the_database_could_not_take_is_a_503_to_retry(
    app_client: Client, path: str
) -> None:
    assert_overloaded(await app_client.get(path))


async def test_an_unreachable_database_is_a_503_not_a_500(app_client: Client) -> None:
    response = await app_client.get("/probe/down")
    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert response.json()["detail_zh"] == "数据库暂时无法访问，请稍后重试。"
    assert "connection refused" not in response.text


def test_the_app_pool_holds_a_connection_per_thread_and_fails_fast(
    settings_sqlite: Settings,
) -> None:
    engine = make_engine(settings_sqlite.database, serving=2)
    try:
        first, second = engine.connect(), engine.connect()
        started = time.monotonic()
        with pytest.raises(sa_exc.TimeoutError):
            engine.connect()
        assert time.monotonic() - started < settings_sqlite.database.pool_timeout_ms / 1000 + 1
        first.close()
        with engine.connect() as third:
            assert third.execute(sa.text("SELECT 1")).scalar() == 1
        second.close()
    finally:
        engine.dispose()


async def test_sign_ins_take_their_own_lane_so_hashing_never_holds_up_the_saves() -> None:
    slow = Slow()
    gate = Admission(slow, running=1, waiting=1, wait_s=0.3, retry_after_s=3, password_slots=1)
    hashing = asyncio.create_task(call(gate, "/auth/login", hashing=True))
    await asyncio.sleep(0.01)  # it holds the one password slot
    # The work lane is untouched: a save still gets its turn.
    saving = asyncio.create_task(call(gate, "/api/attempts/1/answers"))
    await asyncio.sleep(0.01)
    assert not saving.done()  # it reached the app: not refused
    # A second sign-in queues in its lane, a third is refused at once.
    queued = asyncio.create_task(call(gate, "/auth/password", hashing=True))
    await asyncio.sleep(0.01)
    assert gate.password.waiting == 1
    assert_refused(await call(gate, "/auth/login", hashing=True))
    assert_refused(await queued)  # its 300 ms ran out behind the hashing one
    slow.release.set()
    assert (await hashing)[0] == 200
    assert (await saving)[0] == 200
    assert gate.waiting == 0


def test_the_retry_after_grows_with_the_share_refused_and_falls_back() -> None:
    now = [100.0]
    pressure = Pressure(2, 15, clock=lambda: now[0])
    for _ in range(20):
        pressure.admitted()
    assert pressure.refused() == 2  # one refused of twenty admitted: the base
    for _ in range(18):
        pressure.refused()
    assert pressure.refused() == 4  # as many refused as admitted: twice the base
    now[0] += 1  # the previous second still counts
    for _ in range(200):
        last = pressure.refused()
    assert last == 15  # ten times as many refused: the ceiling
    now[0] += 2  # two seconds later the window holds only what came since
    for _ in range(5):
        pressure.admitted()
    assert pressure.refused() == 2


def test_every_route_that_hashes_a_password_takes_the_password_lane(
    settings_sqlite: Settings,
) -> None:
    app = create_app(settings_sqlite)
    flagged = {
        (method, route.path)
        for route in app.routes
        for handler in getattr(route, "route_handlers", ())
        if handler.opt.get(HASHES_PASSWORD)
        for method in handler.http_methods
    }
    assert flagged == {
        ("POST", "/auth/activate"),
        ("POST", "/auth/login"),
        ("POST", "/auth/password"),
        ("POST", "/auth/register"),
    }
