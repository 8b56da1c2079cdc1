"""The attempts API as a learner, a proctor and an operator use it, with a manual clock:
the whole flow, every refusal's status and code, that no learner-facing reply ever
carries the answer key before the attempt is closed, and that none — practice and pages
included — carries a key a formal paper ahead can hold (decision 0013); the practice
cap and cool-down."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import select

from api.app import create_app
from api.http.errors import PROBLEM_JSON
from api.services import attempts, banks, exams
from api.settings import DatabaseSettings, ExamSettings, Settings
from api.store.db import migrate, standalone_transaction
from api.store.tables import User
from examengine.clock import ManualClock
from examengine.eligibility import CST

Client = AsyncTestClient[Litestar]
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
T0 = 1_795_000_000_000
LEARNER = "11010519491231002X"
OTHER = "13800000011"
PROCTOR = "13800000002"
OPERATOR = "13800000003"
AUTHOR = "13800000001"
EXAM = "公需-2026"
BANK = "标记题库"
#: Written into everything that is the key (feedback, accepted answers, explanations):
#: it must never reach a learner before the close.
MARK = "KEYLEAK7f3a"
NUMBER = "4242.4242"


def marked_bank() -> bytes:
    """Two items of every kind whose key parts all carry ``MARK``."""
    lines = ["format: examengine-bank", "items:"]
    for n in range(2):
        lines += [
            f"  - key: s{n}", "    kind: single", "    topic: t", f"    stem: 单选题 {n}",
            f"    explanation: 解析 {MARK}",
            "    options:",
            f"      - {{text: 甲, correct: true, feedback: 对 {MARK}}}",
            "      - {text: 乙, feedback: 错}", "      - {text: 丙}", "      - {text: 丁}",
            f"  - key: m{n}", "    kind: multiple", "    topic: t", f"    stem: 多选题 {n}",
            f"    explanation: 解析 {MARK}",
            "    options:",
            f"      - {{text: 子, correct: true, feedback: {MARK}}}",
            f"      - {{text: 丑, correct: true, feedback: {MARK}}}", "      - {text: 寅}",
            f"  - key: tf{n}", "    kind: true_false", "    topic: t", f"    stem: 判断题 {n}",
            "    answer: true", f"    feedback_true: {MARK}", f"    feedback_false: {MARK}",
            f"    explanation: 解析 {MARK}",
            f"  - key: f{n}", "    kind: fill_blank", "    topic: t", f"    stem: 填空题 {n} ____",
            f"    answers: [{MARK}答案]", f"    explanation: 解析 {MARK}",
            f"  - key: n{n}", "    kind: numerical", "    topic: t", f"    stem: 数值题 {n}",
            f"    answers: [{{value: {NUMBER}, feedback: {MARK}}}]",
            f"    explanation: 解析 {MARK}",
            f"  - key: p{n}", "    kind: matching", "    topic: t", f"    stem: 匹配题 {n}",
            "    pairs: [{prompt: 甲, answer: 一}, {prompt: 乙, answer: 二}]",
            "    distractors: [三]", f"    explanation: 解析 {MARK}",
        ]  # fmt: skip
    return "\n".join(lines).encode()


SPEC: dict[str, Any] = {
    "key": EXAM,
    "title": "公需科目考试",
    "bank": BANK,
    "bank_version": 1,
    "duration_s": 600,
    "show_key_after_close": True,
    "sections": [
        {"title": kind, "kind": kind, "count": 1, "points": 10}
        for kind in ("single", "multiple", "true_false", "fill_blank", "numerical", "matching")
    ],
}
RIGHT: dict[str, Any] = {
    "single": "A",
    "multiple": ["A", "B"],
    "true_false": True,
    "fill_blank": f"{MARK}答案",
    "numerical": float(NUMBER),
    "matching": ["一", "二"],
}
WRONG: dict[str, Any] = {
    "single": "B",
    "multiple": ["C"],
    "true_false": False,
    "fill_blank": "不对",
    "numerical": 1,
    "matching": ["二", "一"],
}


@pytest.fixture(params=["sqlite", "postgres"])
def app_settings(request: pytest.FixtureRequest, settings_sqlite: Settings) -> Settings:
    """The same suite on SQLite and on PostgreSQL. No sweeper here
    (tests/api/test_sweeper.py has it): these tests close by request."""
    settings = settings_sqlite.replace(exam=ExamSettings(sweep_interval_ms=0))
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        url = str(request.getfixturevalue("postgres_url"))
        settings = settings.replace(database=DatabaseSettings(url=url))
    return settings


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def world(app_settings: Settings, add_user: Callable[..., None]) -> None:
    add_user(LEARNER, "learner")
    add_user(OTHER, "learner")
    add_user(PROCTOR, "proctor")
    add_user(OPERATOR, "operator")
    add_user(AUTHOR, "author")
    exams.COMPILED.clear()
    attempts.ITEMS.clear()
    with standalone_transaction(app_settings.database) as session:
        banks.import_file(session, data=marked_bank(), source="b.yaml", bank=BANK, now=NOW)
        banks.publish(session, bank=BANK, version=1, now=NOW)
        saved = exams.save_spec(session, exams.convert_spec(SPEC, source="spec"), now=NOW)
        exams.publish(session, exam=EXAM, version=saved.version.version, now=NOW)
        learner = session.exec(select(User).where(User.login == LEARNER)).one()
        assert learner.id is not None
        attempts.enroll(session, learner_id=learner.id, exam=EXAM, study_met=True, now=T0)


@pytest.fixture
async def client(app_settings: Settings, clock: ManualClock, world: None) -> AsyncIterator[Client]:
    migrate(app_settings.database.url)
    async with AsyncTestClient(app=create_app(app_settings, clock=clock)) as test_client:
        yield test_client


async def sign_in(client: Client, login: str) -> dict[str, str]:
    """A new login session (a new device) for ``login``; returns its cookies."""
    client.cookies.clear()
    response = await client.post("/auth/login", json={"login": login, "password": "correct horse"})
    assert response.status_code == 200, response.text
    return dict(client.cookies)


def use(client: Client, cookies: dict[str, str]) -> None:
    client.cookies.clear()
    client.cookies.update(cookies)


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["detail"] and body["detail_zh"]
    return body


def saves(paper: dict[str, Any], answers: dict[str, Any], seq: int = 1) -> list[dict[str, Any]]:
    return [
        {"item": item["item"], "seq": seq + n, "response": answers[item["kind"]]}
        for n, item in enumerate(paper["items"])
    ]


async def start(client: Client, practice: bool = False) -> dict[str, Any]:
    response = await client.post(f"/api/exams/{EXAM}/attempts", json={"practice": practice})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


# ------------------------------------------------------------------------- the flow


async def test_a_learner_starts_saves_resumes_and_submits_and_sees_the_result(
    client: Client, clock: ManualClock
) -> None:
    await sign_in(client, LEARNER)
    mine = (await client.get("/api/me/exams")).json()
    assert mine["server_ms"] == T0
    [entry] = mine["exams"]
    assert (entry["exam"], entry["may_start"], entry["attempts_left"]) == (EXAM, True, 2)

    paper = await start(client)
    assert (paper["seconds_left"], paper["server_ms"], paper["number"]) == (600, T0, 1)
    kinds = [item["kind"] for item in paper["items"]]
    assert sorted(kinds) == sorted(RIGHT)
    single = next(i for i in paper["items"] if i["kind"] == "single")
    assert [o["text"] for o in single["options"]] and "fraction" not in str(single)
    matching = next(i for i in paper["items"] if i["kind"] == "matching")
    assert matching["prompts"] == ["甲", "乙"] and sorted(matching["answers"]) == ["一", "三", "二"]

    clock.advance(60_000)
    saved = await client.post(f"/api/attempts/{paper['attempt']}/answers", json=saves(paper, RIGHT))
    assert saved.status_code == 200, saved.text
    assert (len(saved.json()["accepted"]), saved.json()["seconds_left"]) == (6, 540)

    beat = await client.post(f"/api/attempts/{paper['attempt']}/heartbeat")
    assert beat.json()["seconds_left"] == 540 and beat.json()["device_moved"] is False
    clock.advance(60_000)
    again = await client.post(f"/api/attempts/{paper['attempt']}/resume")
    assert again.status_code == 200 and again.json()["seconds_left"] == 480
    assert len(again.json()["answers"]) == 6 and again.json()["last_seq"] == 6

    done = await client.post(f"/api/attempts/{paper['attempt']}/submit", json={})
    assert done.status_code == 200, done.text
    result = done.json()
    assert (result["state"], result["passed"], result["score"], result["max_score"]) == (
        "submitted", True, 60.0, 60.0,
    )  # fmt: skip
    assert result["seconds_left"] == 0 and result["server_ms"] == T0 + 120_000
    assert result["key_shown"] and len(result["items"]) == 6
    again_result = await client.get(f"/api/attempts/{paper['attempt']}/result")
    assert again_result.json()["score"] == 60.0
    assert (await client.post(f"/api/attempts/{paper['attempt']}/submit")).status_code == 200


async def test_no_learner_reply_carries_the_key_before_the_attempt_is_closed(
    client: Client, clock: ManualClock
) -> None:
    learner = await sign_in(client, LEARNER)
    bodies: list[str] = []
    # What the learner types comes back to them: keep the key out of their own answers.
    typed = {**RIGHT, "fill_blank": "我的答案", "numerical": 7}

    async def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = await client.request(method, url, **kwargs)
        bodies.append(response.text)
        return response

    await call("GET", "/api/me/exams")
    # A practice first (one attempt may be open at a time), closed without collecting its
    # result (practice results are the next test's).
    practice = (await call("POST", f"/api/exams/{EXAM}/attempts", json={"practice": True})).json()
    await call("GET", f"/api/attempts/{practice['attempt']}/paper")
    await call("POST", f"/api/attempts/{practice['attempt']}/answers", json=saves(practice, typed))
    await call("GET", f"/api/attempts/{practice['attempt']}/result")
    await client.post(f"/api/attempts/{practice['attempt']}/submit")
    paper = (await call("POST", f"/api/exams/{EXAM}/attempts", json={"practice": False})).json()
    attempt = paper["attempt"]
    await call("POST", f"/api/attempts/{attempt}/answers", json=saves(paper, typed))
    await call("POST", f"/api/attempts/{attempt}/answers", json=saves(paper, WRONG, seq=20))
    await call("POST", f"/api/attempts/{attempt}/answers", json=saves(paper, typed, seq=40))
    await call("POST", f"/api/attempts/{attempt}/heartbeat")
    await call("POST", f"/api/attempts/{attempt}/resume")
    await call("GET", f"/api/attempts/{attempt}/paper")
    await call("GET", f"/api/attempts/{attempt}/result")
    await call("GET", "/api/me/exams")
    await sign_in(client, LEARNER)  # another device takes over; the first is refused
    await call("POST", f"/api/attempts/{attempt}/resume")
    use(client, learner)
    await call("POST", f"/api/attempts/{attempt}/answers", json=saves(paper, typed, seq=60))
    await call("POST", f"/api/attempts/{attempt}/heartbeat")

    assert len(bodies) == 17
    for body in bodies:
        assert MARK not in body and NUMBER not in body
        for word in ("fraction", "feedback", "explanation", "correct"):
            assert f'"{word}"' not in body

    # The control: once closed, the result shows the key (so the marker was findable).
    await sign_in(client, LEARNER)
    closed = await client.post(f"/api/attempts/{attempt}/submit")
    assert MARK in closed.text and closed.json()["key_shown"]


async def test_the_clock_runs_while_the_learner_is_away_and_a_late_return_is_refused(
    client: Client, clock: ManualClock
) -> None:
    await sign_in(client, LEARNER)
    paper = await start(client)
    clock.advance(600_000)
    late = await client.post(f"/api/attempts/{paper['attempt']}/resume")
    problem(late, 409, "attempt_expired")
    result = (await client.get(f"/api/attempts/{paper['attempt']}/result")).json()
    assert (result["state"], result["passed"], result["score"]) == ("expired", False, None)
    assert result["finished_ms"] == T0 + 600_000
    mine = (await client.get("/api/me/exams")).json()["exams"][0]
    assert (mine["attempts_used"], mine["attempts_left"], mine["open_attempt"]) == (1, 1, None)


# ------------------------------------------------------------------------- refusals


async def test_every_refusal_has_its_status_and_code(client: Client, clock: ManualClock) -> None:
    problem(await client.get("/api/me/exams"), 401, "not_authenticated")
    await sign_in(client, AUTHOR)
    problem(await client.get("/api/me/exams"), 403, "forbidden")

    await sign_in(client, OTHER)
    problem(await client.post(f"/api/exams/{EXAM}/attempts", json={}), 403, "not_enrolled")

    first = await sign_in(client, LEARNER)
    paper = await start(client)
    attempt = paper["attempt"]
    opened = problem(await client.post(f"/api/exams/{EXAM}/attempts", json={}), 409, "attempt_open")
    assert opened["errors"][0]["open_attempt"] == attempt
    problem(await client.post("/api/exams/nope/attempts", json={}), 403, "not_enrolled")
    problem(await client.get("/api/attempts/0123/paper"), 404, "attempt_not_found")

    item = next(i for i in paper["items"] if i["kind"] == "single")["item"]
    url = f"/api/attempts/{attempt}/answers"
    bad = problem(await client.post(url, json=[{"item": item, "seq": 1, "response": True}]), 422,
                  "bad_response")  # fmt: skip
    assert item in bad["detail"]
    problem(await client.post(url, json=[{"item": "x", "seq": 1, "response": "A"}]), 422,
            "unknown_item")  # fmt: skip
    problem(await client.post(url, json=[{"item": item, "seq": 0, "response": "A"}]), 422,
            "validation_failed")  # fmt: skip

    await sign_in(client, OTHER)
    problem(await client.get(f"/api/attempts/{attempt}/paper"), 404, "attempt_not_found")
    problem(await client.post(f"/api/attempts/{attempt}/submit"), 404, "attempt_not_found")

    await sign_in(client, LEARNER)  # a second device takes over
    assert (await client.post(f"/api/attempts/{attempt}/resume")).status_code == 200
    use(client, first)
    problem(await client.post(url, json=[{"item": item, "seq": 1, "response": "A"}]), 409,
            "device_moved")  # fmt: skip
    assert (await client.post(f"/api/attempts/{attempt}/heartbeat")).json()["device_moved"]

    clock.advance(600_000)
    await sign_in(client, LEARNER)
    problem(await client.post(url, json=[{"item": item, "seq": 9, "response": "A"}]), 409,
            "attempt_expired")  # fmt: skip
    problem(await client.post(f"/api/attempts/{attempt}/submit"), 409, "attempt_expired")

    second = await start(client)
    await client.post(f"/api/attempts/{second['attempt']}/submit")
    exhausted = problem(await client.post(f"/api/exams/{EXAM}/attempts", json={}), 409,
                        "attempts_exhausted")  # fmt: skip
    assert exhausted["errors"][0]["attempts_used"] == 2
    problem(await client.post(f"/api/attempts/{second['attempt']}/answers", json=[]), 409,
            "attempt_closed")  # fmt: skip


# ------------------------------------------------------------------------- operators


async def test_proctors_and_operators_act_on_attempts_with_a_reason(
    client: Client, clock: ManualClock
) -> None:
    await sign_in(client, LEARNER)
    paper = await start(client)
    attempt = paper["attempt"]
    await client.post(f"/api/attempts/{attempt}/answers", json=saves(paper, WRONG))

    await sign_in(client, PROCTOR)
    live = (await client.get("/api/operator/attempts")).json()
    assert [(a["attempt"], a["learner"], a["seconds_left"]) for a in live["attempts"]] == [
        (attempt, LEARNER, 600)
    ]
    url = f"/api/operator/attempts/{attempt}"
    problem(await client.post(f"{url}/extend", json={"extra_s": 60, "reason": ""}), 422,
            "validation_failed")  # fmt: skip
    extended = await client.post(f"{url}/extend", json={"extra_s": 60, "reason": "停电"})
    assert extended.status_code == 200 and extended.json()["seconds_left"] == 660
    problem(await client.post(f"{url}/regrade", json={"reason": "x"}), 403, "forbidden")
    grant = f"/api/operator/learners/{LEARNER}/exams/{EXAM}/grant"
    problem(await client.post(grant, json={"extra_attempts": 1, "reason": "x"}), 403, "forbidden")
    ended = await client.post(f"{url}/terminate", json={"reason": "替考"})
    assert ended.json()["state"] == "terminated"
    problem(await client.post(f"{url}/terminate", json={"reason": "again"}), 409,
            "attempt_terminated")  # fmt: skip
    steps = (await client.get(f"{url}/steps")).json()
    assert len(steps["steps"]) == 6
    assert [e["kind"] for e in steps["events"]] == [
        "attempt_started", "answers_saved", "time_extended", "attempt_terminated",
    ]  # fmt: skip
    problem(await client.get("/api/operator/attempts/nope/steps"), 404, "attempt_not_found")

    await sign_in(client, OPERATOR)
    problem(await client.post(grant, json={"reason": "x"}), 422, "empty_grant")
    problem(await client.post("/api/operator/learners/nobody/exams/x/grant",
                              json={"extra_attempts": 1, "reason": "x"}), 404,
            "learner_not_found")  # fmt: skip
    granted = await client.post(grant, json={"extra_attempts": 1, "extra_s": 120, "reason": "故障"})
    assert granted.status_code == 200 and granted.json()["attempts_allowed"] == 3
    problem(await client.post(f"{url}/regrade", json={"reason": "x"}), 409, "not_gradable")

    await sign_in(client, LEARNER)
    second = await start(client)
    assert second["seconds_left"] == 720  # the standing extra time
    await client.post(f"/api/attempts/{second['attempt']}/submit")
    await sign_in(client, OPERATOR)
    regraded = await client.post(
        f"/api/operator/attempts/{second['attempt']}/regrade", json={"reason": "复核"}
    )
    assert regraded.status_code == 200 and regraded.json()["score"] == 0.0


# --------------------------------------------------- practice integrity (decision 0013)

#: Past the default practice cool-down (600 s).
COOL_MS = 601_000


async def test_no_learner_reply_carries_a_key_a_formal_paper_ahead_can_hold_practice_included(
    client: Client, clock: ManualClock
) -> None:
    await sign_in(client, LEARNER)
    bodies: list[tuple[str, str]] = []
    # What the learner types comes back to them: keep the key out of their own answers.
    typed = {**RIGHT, "fill_blank": "我的答案", "numerical": 7}

    async def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = await client.request(method, url, **kwargs)
        assert response.status_code < 500, response.text
        bodies.append((f"{method} {url}", response.text))
        return response

    async def pages() -> None:
        await call("GET", "/api/me/exams")
        await call("GET", "/learner/exams")
        await call("GET", f"/learner/exams/{EXAM}/rules")
        await call("GET", f"/learner/exams/{EXAM}/rules?practice=1")

    async def sit(practice: bool, answers: dict[str, Any]) -> str:
        started = await call("POST", f"/api/exams/{EXAM}/attempts", json={"practice": practice})
        paper = started.json()
        attempt: str = paper["attempt"]
        await call("GET", f"/learner/attempts/{attempt}")  # the exam page, its JSON inside
        await call("GET", f"/api/attempts/{attempt}/paper")
        await call("POST", f"/api/attempts/{attempt}/answers", json=saves(paper, answers))
        await call("POST", f"/api/attempts/{attempt}/heartbeat")
        await call("POST", f"/api/attempts/{attempt}/resume")
        await call("GET", f"/api/attempts/{attempt}/result")
        await call("GET", f"/learner/attempts/{attempt}/result")
        clock.advance(30_000)
        await call("POST", f"/api/attempts/{attempt}/submit", json={})
        await call("POST", f"/api/attempts/{attempt}/submit")  # again: idempotent
        await call("GET", f"/api/attempts/{attempt}/result")
        await call("GET", f"/learner/attempts/{attempt}/result")
        await call("GET", f"/learner/attempts/{attempt}")  # closed: sends to the result
        await pages()
        clock.advance(COOL_MS)
        return attempt

    await pages()
    first_practice = await sit(True, typed)  # every choice right: its key still held
    await sit(True, WRONG)
    await sit(True, typed)
    capped = await call("POST", f"/api/exams/{EXAM}/attempts", json={"practice": True})
    problem(capped, 409, "practice_daily_cap")
    formal = await sit(False, WRONG)  # attempt 1 failed: attempt 2 lies ahead
    for url in ("/api/operator/attempts", f"/api/operator/attempts/{formal}/steps"):
        problem(await call("GET", url), 403, "forbidden")

    assert len(bodies) == 4 + 4 * 17 + 1 + 2  # 75 replies
    for where, body in bodies:
        assert MARK not in body and NUMBER not in body and "review-item" not in body, where
        for word in ("fraction", "feedback", "explanation", "correct"):
            assert f'"{word}"' not in body, where
    results = [b for w, b in bodies if w.startswith("GET /api/attempts/") and "result" in w]
    assert sum('"key_held":"formal_ahead"' in b for b in results) == 4  # each, once closed
    held_pages = [b for w, b in bodies if w.endswith("/result") and w.startswith("GET /learner")]
    assert sum('data-key-held="formal_ahead"' in b for b in held_pages) == 4

    # The control: once the learner passes no formal paper lies ahead, and the keys —
    # of the formal attempts and of the practice ones — are shown (the marker was findable).
    clock.advance(COOL_MS)
    paper = await start(client)
    await client.post(f"/api/attempts/{paper['attempt']}/answers", json=saves(paper, RIGHT))
    passed = await client.post(f"/api/attempts/{paper['attempt']}/submit", json={})
    assert passed.json()["passed"] and passed.json()["key_shown"] and MARK in passed.text
    for attempt in (first_practice, formal):
        shown = await client.get(f"/api/attempts/{attempt}/result")
        assert shown.json()["key_shown"] and MARK in shown.text and NUMBER in shown.text
        page = await client.get(f"/learner/attempts/{attempt}/result")
        assert "review-item" in page.text and MARK in page.text


async def test_practice_waits_out_its_cool_down_with_retry_after_and_the_pages_say_until_when(
    client: Client, clock: ManualClock
) -> None:
    await sign_in(client, LEARNER)
    practice = await start(client, practice=True)
    clock.advance(60_000)
    await client.post(f"/api/attempts/{practice['attempt']}/submit")
    clock.advance(100_000)
    refused = await client.post(f"/api/exams/{EXAM}/attempts", json={"practice": True})
    body = problem(refused, 409, "practice_cooldown")
    assert refused.headers["retry-after"] == "500"
    assert "10 minute(s) apart" in body["detail"] and "间隔 10 分钟" in body["detail_zh"]
    assert "2026-11-18 19:17" in body["detail"]  # T0 is 19:06:40 China Standard Time
    assert body["errors"][0]["retry_at_ms"] == T0 + 660_000
    [entry] = (await client.get("/api/me/exams")).json()["exams"]
    assert (entry["practice_may_start"], entry["practice_code"]) == (False, "practice_cooldown")
    assert entry["practice_retry_ms"] == T0 + 660_000 and entry["may_start"]  # formal: yes

    overview = (await client.get("/learner/exams")).text
    assert 'data-practice-reason="practice_cooldown"' in overview and "19:17" in overview
    assert "rules?practice=1" not in overview  # no practice button while it waits
    rules = (await client.get(f"/learner/exams/{EXAM}/rules?practice=1")).text
    assert 'data-reason="practice_cooldown"' in rules and 'id="start-button"' not in rules
    english = (await client.get("/learner/exams?lang=en")).text
    assert "Practice is not possible now" in english and "19:17" in english

    clock.advance(500_000)
    rules = (await client.get(f"/learner/exams/{EXAM}/rules?practice=1&lang=zh")).text
    assert "每天最多可进行 3 次模拟练习，两次之间需间隔 10 分钟" in rules
    assert 'id="start-button"' in rules
    assert (await start(client, practice=True))["number"] == 2


async def test_an_answer_holding_a_nul_is_refused_naming_it_and_nothing_is_stored(
    client: Client,
) -> None:
    await sign_in(client, LEARNER)
    paper = await start(client)
    fill = next(item for item in paper["items"] if item["kind"] == "fill_blank")
    url = f"/api/attempts/{paper['attempt']}/answers"
    refused = await client.post(url, json=[{"item": fill["item"], "seq": 1, "response": "a\x00b"}])
    body = problem(refused, 422, "control_character")
    assert [e["field"] for e in body["errors"]] == ["[0].response"], body
    resumed = await client.post(f"/api/attempts/{paper['attempt']}/resume")
    assert resumed.json()["answers"] == []
    assert resumed.json()["last_seq"] == 0
    # Tab and newline are text: the same answer with them is stored as sent.
    kept = await client.post(url, json=[{"item": fill["item"], "seq": 1, "response": "a\tb\nc"}])
    assert kept.status_code == 200, kept.text
    resumed = await client.post(f"/api/attempts/{paper['attempt']}/resume")
    assert resumed.json()["answers"] == [{"item": fill["item"], "seq": 1, "response": "a\tb\nc"}]


async def test_a_staggered_start_is_refused_before_its_moment_and_the_pages_name_the_moment(
    app_settings: Settings, client: Client, clock: ManualClock
) -> None:
    with standalone_transaction(app_settings.database) as session:
        window = {"opens_at": "2026-11-18T19:10:00+08:00", "spread_s": 600}  # T0 + 200 s
        saved = exams.save_spec(
            session, exams.convert_spec({**SPEC, "start_window": window}, source="spec"), now=NOW
        )
        exams.publish(session, exam=EXAM, version=saved.version.version, now=NOW)
    await sign_in(client, LEARNER)
    [entry] = (await client.get("/api/me/exams")).json()["exams"]
    opens = entry["start_opens_ms"]
    assert T0 + 200_000 <= opens < T0 + 800_000 and opens % 1000 == 0
    assert (entry["may_start"], entry["code"]) == (False, "start_not_open")
    assert entry["practice_may_start"]  # practice is not held back

    refused = await client.post(f"/api/exams/{EXAM}/attempts", json={"practice": False})
    body = problem(refused, 409, "start_not_open")
    assert refused.headers["retry-after"] == str((opens - T0) // 1000)
    assert body["errors"][0]["retry_at_ms"] == opens
    shown = datetime.fromtimestamp(opens / 1000, tz=CST).strftime("%H:%M:%S")
    assert f"{shown} (China Standard Time)" in body["detail"]
    assert f"{shown}（北京时间）" in body["detail_zh"]

    overview = (await client.get("/learner/exams")).text
    assert f'data-start-opens-ms="{opens}"' in overview and shown in overview
    assert "尚未到您的开考时间" in overview
    english = (await client.get("/learner/exams?lang=en")).text
    assert "Your start is not open yet" in english and f"{shown} (China Standard Time)" in english

    clock.advance(opens - T0 - 1)
    problem(await client.post(f"/api/exams/{EXAM}/attempts", json={"practice": False}),
            409, "start_not_open")  # fmt: skip
    clock.advance(1)
    assert (await start(client))["number"] == 1
