"""The study API with a manual clock and the ticker run by the test: a challenge in the
heartbeat reply, answered, closes the segment; a miss voids it and pauses; the closing
check completes the chapter; the completed plan makes the exam startable; Server-Sent
Events push a challenge the moment it is issued."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import redis.asyncio
import uvicorn
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY
from redis.cluster import RedisCluster
from sqlmodel import col, select

from api.app import create_app
from api.services import attempts, banks, exams, keys, study
from api.services.evidence import audit
from api.settings import ExamSettings, Settings, StudySettings
from api.store.db import migrate, standalone_transaction
from api.store.tables import IntegrityEntry, StudyEvent, User
from api.workers.study_relay import GONE_AFTER_S, StudyRelay
from examengine import credit
from examengine.clock import ManualClock
from tests.conftest import RedisTarget

Client = AsyncTestClient[Litestar]
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
T0 = 1_795_000_000_000
LEARNER = "11010519491231002X"
BANK = "学习题库"
EXAM = "公需-2026"
BANK_YAML = """format: examengine-bank
items:
  - key: s0
    kind: single
    topic: t
    stem: 单选题
    options: [{text: 甲, correct: true}, {text: 乙}]
"""
PLAN = credit.Plan(
    key="2026-公需",
    title="2026 公需科目",
    year=2026,
    category="public",
    required_hours=1,
    elective_hours=0,
    exam=EXAM,
    courses=(
        credit.PlanCourse(
            required=True,
            course=credit.Course(
                key="法规",
                title="法规",
                bank=BANK,
                chapters=(
                    credit.Chapter(key="法规-1", title="一", duration_ms=30_000, credit_hours=1),
                ),
            ),
        ),
        credit.PlanCourse(
            required=True,
            course=credit.Course(
                key="伦理",
                title="伦理",
                chapters=(credit.Chapter(key="伦理-1", title="一", duration_ms=600_000),),
            ),
        ),
    ),
)


@pytest.fixture
def app_settings(settings_sqlite: Settings) -> Settings:
    """No background tasks: the test ticks. A challenge 20 s after arming, 10 s to answer."""
    return settings_sqlite.replace(
        exam=ExamSettings(sweep_interval_ms=0),
        study=StudySettings(
            tick_interval_ms=0, challenge_min_s=20, challenge_max_s=20, challenge_window_s=10
        ),
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def world(app_settings: Settings, add_user: Callable[..., None]) -> int:
    add_user(LEARNER, "learner")
    with standalone_transaction(app_settings.database) as session:
        banks.import_file(session, data=BANK_YAML.encode(), source="b.yaml", bank=BANK, now=NOW)
        banks.publish(session, bank=BANK, version=1, now=NOW)
        section = {"title": "单选", "kind": "single", "count": 1, "points": 10}
        spec = {"key": EXAM, "title": "公需", "bank": BANK, "bank_version": 1,
                "duration_s": 600, "sections": [section]}  # fmt: skip
        saved = exams.save_spec(session, exams.convert_spec(spec, source="spec"), now=NOW)
        exams.publish(session, exam=EXAM, version=saved.version.version, now=NOW)
        study.save_plan(session, PLAN, now=T0)
        learner = session.exec(select(User).where(User.login == LEARNER)).one()
        assert learner.id is not None
        study.enroll(session, learner_id=learner.id, plan=PLAN.key, now=T0)
        return learner.id


@pytest.fixture
async def app(app_settings: Settings, clock: ManualClock, world: int) -> Litestar:
    migrate(app_settings.database.url)
    exams.COMPILED.clear()
    attempts.ITEMS.clear()
    return create_app(app_settings, clock=clock)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=app) as test_client:
        response = await test_client.post(
            "/auth/login", json={"login": LEARNER, "password": "correct horse"}
        )
        assert response.status_code == 200, response.text
        yield test_client


def tick(app: Litestar) -> study.TickOutcome:
    outcome: study.TickOutcome = app.state.study_ticker.run_once()
    return outcome


async def beat(
    client: Client | httpx.AsyncClient, token: str, position_ms: int, playing: bool = True
) -> Any:
    response = await client.post(
        "/api/study/heartbeat",
        json={"token": token, "position_ms": position_ms, "playing": playing},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def start(client: Client | httpx.AsyncClient, chapter: str) -> str:
    response = await client.post(f"/api/study/{chapter}/start")
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


async def played_15_s(
    on: Client | httpx.AsyncClient, clock: ManualClock, beat_on: Any = None
) -> str:
    """Start 法规-1 on ``on`` and play it 15 s (heartbeats through ``beat_on``, if given)."""
    token = await start(on, "法规-1")
    await beat(beat_on or on, token, 0)
    clock.advance(15_000)
    await beat(beat_on or on, token, 15_000)
    return token


async def play_to_first_challenge(client: Client, app: Litestar, clock: ManualClock) -> Any:
    token = await played_15_s(client, clock)
    clock.advance(5_000)
    assert tick(app).issued == 1
    return token, await beat(client, token, 20_000)


async def test_studying_a_plan_through_its_challenges_makes_the_exam_startable(
    client: Client, app: Litestar, clock: ManualClock
) -> None:
    exams_before = (await client.get("/api/me/exams")).json()["exams"][0]
    assert (exams_before["may_start"], exams_before["code"]) == (False, "study_required")
    plans = (await client.get("/api/me/plans")).json()["plans"][0]["progress"]
    assert (plans["credit_required"], plans["percent"], plans["met"]) == (1.0, 0.0, False)

    token, reply = await play_to_first_challenge(client, app, clock)
    challenge = reply["challenge"]
    assert (reply["credited_s"], reply["pending_s"]) == (0, 20)
    assert challenge["kind"] == "question" and challenge["prompt"] == "单选题"
    assert [o["text"] for o in challenge["options"]] == ["甲", "乙"]
    assert "correct" not in str(challenge)

    wrong = await client.post("/api/study/ack", json={"token": token, "seq": 1, "answer": "B"})
    assert (wrong.status_code, wrong.json()["code"]) == (422, "wrong_answer")
    ack = await client.post("/api/study/ack", json={"token": token, "seq": 1, "answer": "A"})
    assert ack.status_code == 200 and ack.json()["queued"] is True
    clock.advance(500)
    assert tick(app).passed == 1
    reply = await beat(client, token, 20_500)
    assert (reply["credited_s"], reply["challenge"]) == (20, None)

    clock.advance(14_500)
    reply = await beat(client, token, 35_000)  # 10 s more would complete it: a closing check
    assert reply["state"] == "closing"
    tick(app)
    clock.advance(1_000)
    assert tick(app).issued == 1
    reply = await beat(client, token, 36_000, playing=False)
    closing = reply["challenge"]
    assert closing["closing"] is True
    await client.post("/api/study/ack", json={"token": token, "seq": closing["seq"], "answer": "A"})
    assert tick(app).passed == 1
    reply = await beat(client, token, 36_000, playing=False)
    assert (reply["state"], reply["complete"], reply["credited_s"]) == ("complete", True, 30)

    plans = (await client.get("/api/me/plans")).json()["plans"][0]["progress"]
    assert (plans["required_done"], plans["percent"], plans["met"]) == (1.0, 100.0, True)
    exams_after = (await client.get("/api/me/exams")).json()["exams"][0]
    assert exams_after["may_start"] is True
    started = await client.post(f"/api/exams/{EXAM}/attempts", json={})
    assert started.status_code == 201, started.text


async def test_a_missed_challenge_voids_the_segment_and_pauses_the_chapter(
    client: Client, app: Litestar, clock: ManualClock, app_settings: Settings, world: int
) -> None:
    token, reply = await play_to_first_challenge(client, app, clock)
    assert reply["challenge"]["seq"] == 1
    clock.advance(10_001)
    assert tick(app).missed == 1
    reply = await beat(client, token, 30_000)
    assert (reply["state"], reply["credited_s"], reply["pending_s"]) == ("paused", 0, 0)
    for _ in range(4):
        clock.advance(15_000)
        reply = await beat(client, token, reply["position_ms"] + 15_000)
    assert (reply["credited_s"], reply["pending_s"]) == (0, 0)
    late = await client.post("/api/study/ack", json={"token": token, "seq": 1, "answer": "A"})
    assert late.json()["code"] == "no_challenge"
    with standalone_transaction(app_settings.database) as session:
        kinds = [e.kind for e in session.exec(select(StudyEvent).order_by(StudyEvent.id)).all()]
        chained = session.exec(select(IntegrityEntry).order_by(col(IntegrityEntry.seq))).all()
        report = audit.verify(session, keys.published(app_settings.records))
    assert kinds == [
        "session_started", "challenge_issued", "challenge_missed", "segment_voided",
    ]  # fmt: skip
    # the same events, in the same order, chained into the learner's integrity log
    assert [e.kind for e in chained] == kinds
    assert [e.seq for e in chained] == [1, 2, 3, 4]
    assert report.ok and report.entries == 4


async def test_a_second_tab_takes_over_and_the_first_is_told(
    client: Client, app: Litestar, clock: ManualClock
) -> None:
    first = await start(client, "法规-1")
    await beat(client, first, 0)
    second = await start(client, "伦理-1")
    response = await client.post(
        "/api/study/heartbeat", json={"token": first, "position_ms": 1000, "playing": True}
    )
    assert (response.status_code, response.json()["code"]) == (409, "session_ended")
    await beat(client, second, 0)
    forged = second[:-1] + ("0" if second[-1] != "0" else "1")
    response = await client.post(
        "/api/study/heartbeat", json={"token": forged, "position_ms": 0, "playing": True}
    )
    assert (response.status_code, response.json()["code"]) == (403, "bad_token")


async def sign_in_again(client: Client | httpx.AsyncClient) -> httpx.Cookies:
    """Sign the learner in afresh on ``client`` (as on another device); the cookies of
    the sign-in it had."""
    before = httpx.Cookies(client.cookies)
    client.cookies = httpx.Cookies()
    response = await client.post(
        "/auth/login", json={"login": LEARNER, "password": "correct horse"}
    )
    assert response.status_code == 200, response.text
    return before


async def refused(
    client: Client | httpx.AsyncClient, token: str, **request: Any
) -> tuple[int, str]:
    response = await client.post(
        "/api/study/heartbeat",
        json={"token": token, "position_ms": 1000, "playing": True},
        **request,
    )
    return response.status_code, response.json()["code"]


async def test_the_hot_path_needs_the_sign_in_that_began_the_session(
    client: Client, app: Litestar
) -> None:
    """Heartbeats and answers are authenticated by the token and the sign-in's cookie,
    without a session read (decision 0022): the same learner signed in elsewhere cannot
    drive this session, and neither can a caller with no session cookie."""
    token = await start(client, "法规-1")
    await beat(client, token, 0)
    first = await sign_in_again(client)
    assert await refused(client, token) == (403, "not_your_session")
    ack = await client.post("/api/study/ack", json={"token": token, "seq": 1, "answer": "A"})
    assert (ack.status_code, ack.json()["code"]) == (403, "not_your_session")
    assert "其他登录" in ack.json()["detail_zh"]
    client.cookies = httpx.Cookies()
    assert await refused(client, token) == (401, "not_authenticated")
    client.cookies = first
    await beat(client, token, 1000)


async def test_signing_out_ends_the_study_session_at_once_and_keeps_its_credit(
    client: Client, app: Litestar, clock: ManualClock
) -> None:
    token = await played_15_s(client, clock)
    cookie = client.cookies["examengine_session"]
    stream = app.state.study.subscribe(token, login=app.state.study_relay.login_of(cookie))
    response = await client.post("/auth/logout")
    assert response.status_code == 204
    assert app.state.study.open_sessions == 0
    assert stream.get_nowait() is None, "the event stream is told the session ended"
    replayed = {"headers": {"Cookie": f"examengine_session={cookie}"}}
    assert await refused(client, token, **replayed) == (409, "session_ended")
    tick(app)  # stores what the ended session verified
    await sign_in_again(client)
    again = await client.post("/api/study/法规-1/start")
    assert again.json()["position_ms"] == 15_000, "the 15 s played before signing out"


async def test_signing_out_elsewhere_leaves_this_session_running(
    client: Client, app: Litestar, clock: ManualClock
) -> None:
    token = await played_15_s(client, clock)
    here = await sign_in_again(client)
    assert (await client.post("/auth/logout")).status_code == 204
    client.cookies = here
    assert (await beat(client, token, 16_000))["state"] == "active"


async def test_a_password_change_elsewhere_ends_the_study_session(
    client: Client, app: Litestar, clock: ManualClock
) -> None:
    token = await played_15_s(client, clock)
    here = await sign_in_again(client)
    changed = await client.post(
        "/auth/password",
        json={"current_password": "correct horse", "new_password": "another horse 12"},
    )
    assert changed.status_code == 200, changed.text
    assert app.state.study.open_sessions == 0
    client.cookies = here
    assert await refused(client, token) == (409, "session_ended")


async def test_the_hot_path_counts_itself_in_the_metrics(client: Client, app: Litestar) -> None:
    """Heartbeats and answers bypass the per-request metrics middleware; their own
    counter says how many were served and refused, by code."""

    def counted(op: str, outcome: str) -> float:
        value = REGISTRY.get_sample_value(
            "examengine_study_requests_total", {"op": op, "outcome": outcome}
        )
        return value or 0.0

    before = counted("heartbeat", "ok"), counted("ack", "no_challenge")
    token = await start(client, "法规-1")
    await beat(client, token, 0)
    ack = await client.post("/api/study/ack", json={"token": token, "seq": 7, "answer": "A"})
    assert ack.status_code == 409
    assert (counted("heartbeat", "ok"), counted("ack", "no_challenge")) == (
        before[0] + 1,
        before[1] + 1,
    )


async def test_server_sent_events_push_a_challenge_the_moment_it_is_issued(
    client: Client, app: Litestar, clock: ManualClock
) -> None:
    token = await start(client, "法规-1")
    await beat(client, token, 0)
    clock.advance(20_000)
    received: list[bytes] = []
    got = asyncio.Event()

    requested: list[bool] = []

    async def receive() -> dict[str, Any]:
        if not requested:
            requested.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the browser keeps the stream open
        return {"type": "http.disconnect"}  # pragma: no cover

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            received.append(message.get("body", b""))
            if b"event: challenge" in b"".join(received):
                got.set()

    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/api/study/events", "raw_path": b"/api/study/events",
        "query_string": f"token={token}".encode(), "root_path": "",
        "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode())],
        "client": ("127.0.0.1", 1), "server": ("testserver", 80), "state": {},
    }  # fmt: skip
    stream = asyncio.create_task(app(scope, receive, send))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    assert not got.is_set()
    assert tick(app).issued == 1  # the tick issues it and the stream carries it at once
    await asyncio.wait_for(got.wait(), timeout=2)
    stream.cancel()
    body = b"".join(received).decode()
    assert '"seq":1' in body and '"kind":"question"' in body


# -- several workers: the session's worker serves it, whichever worker gets the request


@pytest.fixture
async def workers(
    app_settings: Settings, clock: ManualClock, world: int, redis_target: RedisTarget
) -> AsyncIterator[tuple[Litestar, httpx.AsyncClient, Litestar, httpx.AsyncClient]]:
    """Two API workers over one database and one Redis server or Redis Cluster (as
    docker-compose runs them), each a real uvicorn server on this event loop with its own
    live sessions; one login, valid on both."""
    settings = app_settings.replace(redis=redis_target.settings())
    migrate(settings.database.url)
    exams.COMPILED.clear()
    attempts.ITEMS.clear()
    apps = create_app(settings, clock=clock), create_app(settings, clock=clock)
    assert apps[0].state.study.worker != apps[1].state.study.worker
    servers = [
        uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None))
        for app in apps
    ]
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    try:
        while not all(server.started and app.state.study_relay.listening
                      for server, app in zip(servers, apps, strict=True)):  # fmt: skip
            await asyncio.sleep(0.01)
        on_a, on_b = (
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
            )
            for server in servers
        )
        async with on_a, on_b:
            response = await on_a.post(
                "/auth/login", json={"login": LEARNER, "password": "correct horse"}
            )
            assert response.status_code == 200, response.text
            on_b.cookies = on_a.cookies
            yield apps[0], on_a, apps[1], on_b
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks)


Workers = tuple[Litestar, httpx.AsyncClient, Litestar, httpx.AsyncClient]


@pytest.mark.redis
async def test_a_session_begun_on_one_worker_is_served_by_another(
    workers: Workers, clock: ManualClock
) -> None:
    a, on_a, b, on_b = workers
    token = await played_15_s(on_a, clock, beat_on=on_b)
    clock.advance(5_000)
    assert tick(b).issued == 0, "worker B holds no session"
    assert tick(a).issued == 1
    challenge = (await beat(on_b, token, 20_000))["challenge"]
    assert challenge["seq"] == 1
    wrong = await on_b.post("/api/study/ack", json={"token": token, "seq": 1, "answer": "B"})
    assert (wrong.status_code, wrong.json()["code"]) == (422, "wrong_answer")
    ack = await on_b.post("/api/study/ack", json={"token": token, "seq": 1, "answer": "A"})
    assert ack.status_code == 200, ack.text
    assert tick(a).passed == 1
    reply = await beat(on_b, token, 20_000)
    assert (reply["credited_s"], reply["challenge"], reply["token"]) == (20, None, token)


@pytest.mark.redis
async def test_a_start_on_another_worker_takes_the_session_over(
    workers: Workers, clock: ManualClock
) -> None:
    a, on_a, b, on_b = workers
    first = await played_15_s(on_a, clock)
    response = await on_b.post("/api/study/法规-1/start")
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["position_ms"] == 15_000, "the position carries over (not yet stored)"
    for client in (on_a, on_b):
        ended = await client.post(
            "/api/study/heartbeat", json={"token": first, "position_ms": 1, "playing": True}
        )
        assert (ended.status_code, ended.json()["code"]) == (409, "session_ended")
    assert a.state.study.open_sessions == 0 and b.state.study.open_sessions == 1
    third = await start(on_a, "伦理-1")  # and back: B's session ends, one session again
    assert (a.state.study.open_sessions, b.state.study.open_sessions) == (1, 0)
    await beat(on_b, third, 0)


@pytest.mark.redis
async def test_signing_out_on_another_worker_ends_the_session_at_once(
    workers: Workers, clock: ManualClock
) -> None:
    a, on_a, b, on_b = workers
    token = await played_15_s(on_a, clock)
    cookie = on_a.cookies["examengine_session"]
    assert (await on_b.post("/auth/logout")).status_code == 204
    assert (a.state.study.open_sessions, b.state.study.open_sessions) == (0, 0)
    replayed = {"headers": {"Cookie": f"examengine_session={cookie}"}}
    on_a.cookies = httpx.Cookies()
    for client in (on_a, on_b):
        assert await refused(client, token, **replayed) == (409, "session_ended")


@pytest.mark.redis
async def test_a_stream_on_another_worker_gets_the_challenge_at_once(
    workers: Workers, clock: ManualClock
) -> None:
    a, on_a, _b, on_b = workers
    token = await start(on_a, "法规-1")
    await beat(on_a, token, 0)
    clock.advance(20_000)
    subscribed = asyncio.Event()

    async def listen() -> list[str]:
        lines = []
        async with on_b.stream("GET", "/api/study/events", params={"token": token}) as stream:
            assert stream.status_code == 200
            subscribed.set()
            async for line in stream.aiter_lines():
                lines.append(line)
                if line.startswith("data:") and lines[-2] == "event: challenge":
                    return lines
        return lines

    listener = asyncio.create_task(listen())
    await asyncio.wait_for(subscribed.wait(), timeout=2)
    await asyncio.sleep(0.05)  # B has asked A to feed the stream
    assert tick(a).issued == 1
    lines = await asyncio.wait_for(listener, timeout=2)
    assert '"seq":1' in lines[-1] and '"kind":"question"' in lines[-1]


@pytest.mark.redis
async def test_a_session_whose_worker_stopped_is_reported_ended(
    workers: Workers,
) -> None:
    a, on_a, _b, on_b = workers
    token = await start(on_a, "法规-1")
    await a.state.study_relay.stop()  # the worker is gone (no one listens on its channel)
    began = asyncio.get_running_loop().time()
    response = await on_b.post(
        "/api/study/heartbeat", json={"token": token, "position_ms": 0, "playing": True}
    )
    assert (response.status_code, response.json()["code"]) == (409, "session_ended")
    assert "重新开始" in response.json()["detail_zh"]
    waited = asyncio.get_running_loop().time() - began
    assert GONE_AFTER_S <= waited < GONE_AFTER_S + 1, "nobody listens: no wait for a timeout"
    restarted = await on_b.post("/api/study/法规-1/start")  # and starting again works
    assert restarted.status_code == 200, restarted.text


@pytest.mark.redis
async def test_the_relay_listens_again_after_losing_redis(
    workers: Workers, redis_target: RedisTarget
) -> None:
    """Redis dropped the workers' subscriptions (a restart, a failover): relayed requests
    work again within seconds, with no restart of the workers."""
    a, on_a, _b, on_b = workers
    token = await start(on_a, "法规-1")
    await beat(on_b, token, 0)
    admin = redis_target.client()
    try:  # on a cluster, on every master (a worker's channel lives on its slot's)
        nodes = admin.get_primaries() if isinstance(admin, RedisCluster) else [None]
        killed = sum(
            (node.redis_connection if node else admin).client_kill_filter(_type="pubsub")  # type: ignore[union-attr]
            for node in nodes
        )
        assert killed >= 2
    finally:
        admin.close()
    # as the page does: heartbeat again after a refusal; a request caught in the drop
    # may be lost (503, try again), but the session is never reported ended
    deadline = asyncio.get_running_loop().time() + 8
    codes = []
    while asyncio.get_running_loop().time() < deadline:
        response = await on_b.post(
            "/api/study/heartbeat", json={"token": token, "position_ms": 0, "playing": True}
        )
        if response.status_code == 200:
            break
        codes.append(response.json()["code"])
        await asyncio.sleep(0.2)
    assert response.status_code == 200, response.text
    assert set(codes) <= {"study_unavailable"}, codes
    assert a.state.study_relay.listening


async def test_with_redis_away_a_start_is_refused_as_unavailable_not_an_error(
    app: Litestar, world: int, app_settings: Settings
) -> None:
    """Several workers and no Redis: a start cannot take over another worker's session,
    so it is refused as briefly unavailable (503, both languages), not a 500."""
    away = redis.asyncio.Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=1)
    relay = StudyRelay(app.state.study, away, prefix="away", secret=b"s")
    with standalone_transaction(app_settings.database) as db:
        info = study.prepare_start(db, learner_id=world, chapter="法规-1")
    with pytest.raises(credit.StudyError) as refused:
        await relay.begin(info, now=T0, login="")
    assert refused.value.code == "study_unavailable" and "稍后重试" in refused.value.message_zh
    assert app.state.study.open_sessions == 0
    await away.aclose()
