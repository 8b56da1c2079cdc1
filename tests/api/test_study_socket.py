"""The study socket (decision 0022): heartbeats and answers over one WebSocket, the
challenges pushed down it, against real uvicorn servers with a real WebSocket client —
one process, and two workers over Redis (the socket on one, the session on the other).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from litestar import Litestar
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from api.app import create_app
from api.services import attempts, exams
from api.settings import Settings
from api.store.db import migrate
from examengine.clock import ManualClock
from tests.api.test_study import (  # the study world: a learner, a plan, a manual clock
    LEARNER,
    Workers,
    app_settings,  # noqa: F401 (fixtures)
    clock,  # noqa: F401
    played_15_s,
    sign_in_again,
    start,
    tick,
    workers,  # noqa: F401
    world,  # noqa: F401
)

Served = tuple[Litestar, httpx.AsyncClient]


@pytest.fixture
async def served(app_settings: Settings, clock: ManualClock, world: int) -> AsyncIterator[Served]:  # noqa: F811
    """The app (embedded settings) under a real uvicorn server on this event loop, and a
    client signed in as the learner."""
    migrate(app_settings.database.url)
    exams.COMPILED.clear()
    attempts.ITEMS.clear()
    app = create_app(app_settings, clock=clock)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            reply = await client.post(
                "/auth/login", json={"login": LEARNER, "password": "correct horse"}
            )
            assert reply.status_code == 200, reply.text
            yield app, client
    finally:
        server.should_exit = True
        await task


def socket_url(client: httpx.AsyncClient, token: str) -> str:
    return f"ws://{client.base_url.host}:{client.base_url.port}/api/study/socket?token={token}"


def open_socket(
    client: httpx.AsyncClient, token: str, *, cookies: httpx.Cookies | None = None, **headers: str
) -> Any:
    jar = client.cookies if cookies is None else cookies
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    return connect(
        socket_url(client, token), additional_headers={"Cookie": cookie, **headers} if cookie
        else headers,
    )  # fmt: skip


async def receive(socket: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), 5))
    return message


async def closed_with(socket: ClientConnection) -> tuple[int, list[str]]:
    """Read until the server closes: the close code and the ops received before it."""
    ops = []
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ops.append((await receive(socket))["op"])
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, ops


async def test_heartbeats_answers_and_challenges_go_over_one_socket(
    served: Served,
    clock: ManualClock,  # noqa: F811
) -> None:
    app, client = served
    token = await start(client, "法规-1")
    async with open_socket(client, token) as socket:
        await socket.send(json.dumps({"op": "beat", "position_ms": 0, "playing": True}))
        status = await receive(socket)
        assert status["op"] == "status" and status["body"]["token"] == token
        clock.advance(15_000)
        await socket.send(json.dumps({"op": "beat", "position_ms": 15_000, "playing": True}))
        assert (await receive(socket))["body"]["credited_s"] == 0  # open segment: pending
        clock.advance(5_000)
        assert tick(app).issued == 1
        pushed = await receive(socket)  # at once, not at the next heartbeat
        assert pushed["op"] == "challenge" and pushed["body"]["seq"] == 1
        await socket.send(json.dumps({"op": "beat", "position_ms": 20_000, "playing": False}))
        assert (await receive(socket))["body"]["challenge"]["seq"] == 1
        await socket.send(json.dumps({"op": "ack", "seq": 1, "answer": "B"}))
        wrong = await receive(socket)
        assert (wrong["op"], wrong["body"]["code"]) == ("error", "wrong_answer")
        assert "回答不正确" in wrong["body"]["detail_zh"]
        await socket.send(json.dumps({"op": "ack", "seq": 1, "answer": "A"}))
        assert (await receive(socket))["op"] == "ack"
        assert tick(app).passed == 1
        await socket.send(json.dumps({"op": "beat", "position_ms": 20_000, "playing": True}))
        assert (await receive(socket))["body"]["credited_s"] == 20
        assert (await client.post("/auth/logout")).status_code == 204
        assert await closed_with(socket) == (4000, ["ended"]), "signing out ends it at once"


async def test_a_socket_refuses_what_the_heartbeat_refuses_and_says_why(
    served: Served,
    clock: ManualClock,  # noqa: F811
) -> None:
    _, client = served
    token = await start(client, "法规-1")
    async with open_socket(client, token, cookies=httpx.Cookies()) as socket:
        code, ops = await closed_with(socket)
        assert (code, ops) == (4401, ["error"])
    async with open_socket(client, token, Origin="https://evil.example") as socket:
        assert (await closed_with(socket))[0] == 4403
    async with open_socket(client, token) as socket:
        await socket.send("{not json")
        bad = await receive(socket)
        assert (bad["op"], bad["body"]["code"]) == ("error", "bad_message")
        await socket.send(json.dumps({"op": "beat", "position_ms": 0, "playing": True,
                                      "pad": "x" * 2000}))  # fmt: skip
        assert (await receive(socket))["body"]["code"] == "message_too_long"
        await socket.send(json.dumps({"op": "beat", "position_ms": 0, "playing": True}))
        assert (await receive(socket))["op"] == "status", "the socket stays after a bad message"
    here = await sign_in_again(client)
    async with open_socket(client, token) as socket:  # the same learner, another sign-in
        first = await receive(socket)
        assert first["body"]["code"] == "not_your_session"
        assert (await closed_with(socket))[0] == 4000
    async with open_socket(client, token, cookies=here) as socket:
        await start(client, "伦理-1")  # the new sign-in takes the learner's session over
        assert await closed_with(socket) == (4000, ["ended"])


@pytest.mark.redis
async def test_a_socket_on_another_worker_is_relayed_and_pushed_to(
    workers: Workers,  # noqa: F811
    clock: ManualClock,  # noqa: F811
) -> None:
    a, on_a, b, on_b = workers
    token = await played_15_s(on_a, clock)
    async with open_socket(on_b, token) as socket:  # on B; the session is A's
        await socket.send(json.dumps({"op": "beat", "position_ms": 15_000, "playing": True}))
        assert (await receive(socket))["op"] == "status"
        clock.advance(5_000)
        assert tick(b).issued == 0 and tick(a).issued == 1
        pushed = await receive(socket)
        assert pushed["op"] == "challenge" and pushed["body"]["seq"] == 1
        await socket.send(json.dumps({"op": "ack", "seq": 1, "answer": "A"}))
        assert (await receive(socket))["op"] == "ack"
        assert tick(a).passed == 1
