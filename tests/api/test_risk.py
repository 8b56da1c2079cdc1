"""Risk flags through the API, on SQLite and PostgreSQL, with a manual clock: real
attempts whose learners report integrity events, save answers and are taken over; two
learners of one employer with the same wrong answers (and one of another employer);
study events of a cycle. The flags carry their rule, threshold, observed value and
evidence; the workbook has one row per flag; learners and employer administrators are
refused; a bad filter is a 400 naming the field; the pages show names and masked IDs."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from openpyxl import load_workbook
from sqlmodel import select

from api.app import create_app
from api.http.errors import PROBLEM_JSON
from api.services import attempts, banks, exams
from api.services.passwords import hash_password
from api.settings import DatabaseSettings, ExamSettings, Settings
from api.store.db import migrate, standalone_transaction
from api.store.tables import Chapter, Course, StudyEvent, User
from examengine import credit
from examengine.clock import ManualClock
from examengine.ids import check_character

Client = AsyncTestClient[Litestar]
NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
T0 = int(NOW.timestamp() * 1000)
PASSWORD = "risk password 1"
EXAM = "风险-2026"
BANK = "风险题库"
EMPLOYER, OTHER_EMPLOYER = "重庆市第一中学", "成都市第二中学"


def resident_id(first17: str) -> str:
    return first17 + check_character(first17)


ZHANG, LI = resident_id("11010519491231002"), resident_id("50010119800101123")
WANG = "13800000031"
PROCTOR, OPERATOR, ADMIN = "13800000002", "13800000003", "13800000004"


def bank() -> bytes:
    """Six single-choice, two multiple-choice, two fill-in and two true/false items: a
    paper takes them all, so every learner is given every item."""
    lines = ["format: examengine-bank", "items:"]
    for n in range(6):
        lines += [
            f"  - key: s{n}", "    kind: single", "    topic: t",
            f"    stem: 第{n}题 下列关于继续教育学时登记的说法中正确的是哪一项",
            "    options:",
            "      - {text: 按年度登记, correct: true}", "      - {text: 按月登记}",
            "      - {text: 不必登记}", "      - {text: 由学员自行决定}",
        ]  # fmt: skip
    for n in range(2):
        lines += [
            f"  - key: m{n}", "    kind: multiple", "    topic: t",
            f"    stem: 第{n}题 下列哪些属于公需科目", "    options:",
            "      - {text: 职业道德, correct: true}", "      - {text: 法律法规, correct: true}",
            "      - {text: 烹饪}", "      - {text: 园艺}",
            f"  - key: f{n}", "    kind: fill_blank", "    topic: t",
            f"    stem: 第{n}题 每人每年须完成 ____ 学时", "    answers: [九十]",
            f"  - key: t{n}", "    kind: true_false", "    topic: t",
            f"    stem: 第{n}题 两次考试不合格须重新学习", "    answer: true",
        ]  # fmt: skip
    return "\n".join(lines).encode()


SPEC: dict[str, Any] = {
    "key": EXAM,
    "title": "风险提示测试考试",
    "bank": BANK,
    "bank_version": 1,
    "duration_s": 3600,
    "sections": [
        {"title": "单选", "kind": "single", "count": 6, "points": 5},
        {"title": "多选", "kind": "multiple", "count": 2, "points": 5},
        {"title": "填空", "kind": "fill_blank", "count": 2, "points": 5},
        {"title": "判断", "kind": "true_false", "count": 2, "points": 5},
    ],
}
#: The same wrong answer on every item (true/false too, which never counts).
WRONG: dict[str, Any] = {
    "single": "C",
    "multiple": ["C"],
    "fill_blank": "不知道",
    "true_false": False,
}


@pytest.fixture(params=["sqlite", "postgres"])
def app_settings(request: pytest.FixtureRequest, settings_sqlite: Settings) -> Settings:
    settings = settings_sqlite.replace(exam=ExamSettings(sweep_interval_ms=0))
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        url = str(request.getfixturevalue("postgres_url"))
        settings = settings.replace(database=DatabaseSettings(url=url))
    return settings


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def world(settings: Settings) -> None:
    """The bank and exam; 张三 and 李四 of one employer, 王五 of another, all enrolled;
    a proctor, an operator, and an administrator of the first employer."""
    migrate(settings.database.url)
    exams.COMPILED.clear()
    attempts.ITEMS.clear()
    with standalone_transaction(settings.database) as db:
        banks.import_file(db, data=bank(), source="b.yaml", bank=BANK, now=NOW)
        banks.publish(db, bank=BANK, version=1, now=NOW)
        saved = exams.save_spec(db, exams.convert_spec(SPEC, source="spec"), now=NOW)
        exams.publish(db, exam=EXAM, version=saved.version.version, now=NOW)
        people = (
            (ZHANG, "张三", ["learner"], EMPLOYER),
            (LI, "李四", ["learner"], EMPLOYER),
            (WANG, "王五", ["learner"], OTHER_EMPLOYER),
            (PROCTOR, "监考员", ["proctor"], None),
            (OPERATOR, "运维", ["operator"], None),
            (ADMIN, "单位管理员", ["employer_admin"], EMPLOYER),
        )
        for login, name, roles, employer in people:
            user = User(login=login, display_name=name, password_hash=hash_password(PASSWORD),
                        roles=roles, must_change_password=False, employer=employer)  # fmt: skip
            db.add(user)
            db.flush()
            assert user.id is not None
            if roles == ["learner"]:
                attempts.enroll(db, learner_id=user.id, exam=EXAM, study_met=True, now=T0)


@pytest.fixture
async def client(app_settings: Settings, clock: ManualClock) -> AsyncIterator[Client]:
    world(app_settings)
    async with AsyncTestClient(app=create_app(app_settings, clock=clock)) as test_client:
        yield test_client


async def sign_in(client: Client, login: str) -> None:
    client.cookies.clear()
    reply = await client.post("/auth/login", json={"login": login, "password": PASSWORD})
    assert reply.status_code == 200, reply.text


def ok(reply: httpx.Response, status: int = 200) -> Any:
    assert reply.status_code == status, reply.text
    return reply.json()


async def start(client: Client) -> dict[str, Any]:
    return dict(ok(await client.post(f"/api/exams/{EXAM}/attempts", json={}), 201))


async def save_one_by_one(
    client: Client, clock: ManualClock, paper: dict[str, Any], *, gap_ms: int, first_ms: int
) -> None:
    """Answer every item wrongly, one request each, ``gap_ms`` apart (the first after
    ``first_ms``)."""
    clock.advance(first_ms)
    for n, item in enumerate(paper["items"]):
        if n:
            clock.advance(gap_ms)
        save = [{"item": item["item"], "seq": n + 1, "response": WRONG[item["kind"]]}]
        reply = ok(await client.post(f"/api/attempts/{paper['attempt']}/answers", json=save))
        assert len(reply["accepted"]) == 1


async def sit_slowly(client: Client, clock: ManualClock, login: str) -> str:
    """``login`` sits the exam, one wrong answer a minute, and submits."""
    await sign_in(client, login)
    paper = await start(client)
    await save_one_by_one(client, clock, paper, gap_ms=60_000, first_ms=60_000)
    ok(await client.post(f"/api/attempts/{paper['attempt']}/submit", json={}))
    return str(paper["attempt"])


def problem(reply: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = reply.json()
    assert body["code"] == code and body["detail"] and body["detail_zh"]
    return body


def by_rule(flags: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f["rule"]: f for f in flags}


# ---------------------------------------------------------------------- attempts


async def test_integrity_reports_fast_answers_and_a_take_over_are_flagged_with_evidence(
    client: Client, clock: ManualClock
) -> None:
    await sign_in(client, ZHANG)
    paper = await start(client)
    attempt = paper["attempt"]
    reported = []
    for kind in ("focus_lost", "focus_lost", "fullscreen_exit", "focus_lost", "fullscreen_exit",
                 "copy"):  # fmt: skip
        clock.advance(1000)
        ok(await client.post(f"/api/attempts/{attempt}/integrity", json={"kind": kind}))
        reported.append((kind, clock.now_ms()))
    # 20 s to read the first item, then one every half second: faster than reading.
    await save_one_by_one(client, clock, paper, gap_ms=500, first_ms=14_000)
    clock.advance(5000)
    await sign_in(client, ZHANG)  # a new login session: another device
    ok(await client.post(f"/api/attempts/{attempt}/resume"))
    taken_at = clock.now_ms()

    await sign_in(client, PROCTOR)
    listed = ok(await client.get("/api/operator/risk/attempts"))
    assert (listed["scanned"], listed["truncated"]) == (1, False)
    [entry] = listed["attempts"]
    assert (entry["attempt"], entry["learner"], entry["employer"]) == (attempt, "张三", EMPLOYER)
    assert entry["login"] == ZHANG[:6] + "*" * 8 + ZHANG[-4:]
    assert entry["exam_title"] == "风险提示测试考试" and entry["state"] == "in_progress"
    flags = by_rule(entry["flags"])
    assert list(flags) == ["focus_loss", "copy_paste", "takeover", "fast_answers"]
    focus = flags["focus_loss"]
    assert (focus["threshold"], focus["observed"]) == (5, 5)
    assert [(e["what"], e["at_ms"]) for e in focus["evidence"]] == reported[:5]
    assert [(e["what"], e["at_ms"]) for e in flags["copy_paste"]["evidence"]] == [reported[5]]
    [taken] = flags["takeover"]["evidence"]
    assert taken["what"] == "device_taken_over" and taken["at_ms"] == taken_at
    assert "→" in taken["detail"]
    fast = flags["fast_answers"]
    # The first answer had 20 s; the other eleven came half a second apart.
    assert (fast["threshold"], fast["observed"]) == (5, 11)
    assert {e["elapsed_ms"] for e in fast["evidence"]} == {500}
    assert all(e["needed_ms"] == 2000 + e["chars"] * 40 for e in fast["evidence"])
    assert [e["item"] for e in fast["evidence"]] == [i["item"] for i in paper["items"]][1:]

    detail = ok(await client.get(f"/api/operator/risk/attempts/{attempt}"))
    checks = {c["rule"]: c for c in detail["checks"]}
    assert checks["focus_loss"] == {"rule": "focus_loss", "threshold": 5, "observed": 5,
                                    "flagged": True}  # fmt: skip
    assert "similar_answers" not in checks and detail["compared"] is None  # not graded yet
    positions = {i["key"]: i["position"] for i in detail["items"]}
    assert positions == {i["item"]: n + 1 for n, i in enumerate(paper["items"]) if n}
    assert all("第" in i["stem"] for i in detail["items"])


async def test_one_employers_learners_with_the_same_wrong_answers_are_paired(
    client: Client, clock: ManualClock
) -> None:
    zhang = await sit_slowly(client, clock, ZHANG)
    li = await sit_slowly(client, clock, LI)
    wang = await sit_slowly(client, clock, WANG)  # the same answers, another employer

    await sign_in(client, OPERATOR)
    listed = ok(await client.get("/api/operator/risk/attempts"))
    flagged = {a["attempt"]: a for a in listed["attempts"]}
    assert sorted(flagged) == sorted([zhang, li]) and wang not in flagged
    [similar] = flagged[zhang]["flags"]
    # 10 items both answered wrongly (true/false left out), every wrong answer the same.
    assert (similar["rule"], similar["other"], similar["observed"]) == ("similar_answers", li, 1)
    assert (similar["threshold"], similar["basis"], similar["basis_min"]) == (0.8, 10, 5)
    assert {e["what"] for e in similar["evidence"]} == {"same_wrong_answer"}
    assert not any(e["item"].startswith("t") for e in similar["evidence"])
    assert {(e["item"][0], e["response"]) for e in similar["evidence"]} == {
        ("s", '"C"'), ("m", '["C"]'), ("f", '"不知道"'),
    }  # fmt: skip
    assert flagged[zhang]["peers"] == [
        {"attempt": li, "learner": "李四", "login": LI[:6] + "*" * 8 + LI[-4:],
         "employer": EMPLOYER},
    ]  # fmt: skip
    assert flagged[li]["flags"][0]["other"] == zhang

    # One employer at a time: 王五's employer alone has no pair.
    other = ok(await client.get("/api/operator/risk/attempts", params={"employer": OTHER_EMPLOYER}))
    assert (other["scanned"], other["attempts"]) == (1, [])
    detail = ok(await client.get(f"/api/operator/risk/attempts/{zhang}"))
    assert detail["compared"] == 1
    checks = {c["rule"]: c for c in detail["checks"]}
    assert checks["similar_answers"]["observed"] == 1 and checks["similar_answers"]["flagged"]
    assert checks["fast_answers"] == {"rule": "fast_answers", "threshold": 5, "observed": 0,
                                      "flagged": False}  # fmt: skip
    assert {i["key"] for i in detail["items"]} == {e["item"] for e in similar["evidence"]}
    alone = ok(await client.get(f"/api/operator/risk/attempts/{wang}"))
    assert alone["attempt"]["flags"] == [] and alone["compared"] == 0


async def test_a_practice_attempt_is_not_listed_and_since_leaves_older_attempts_out(
    client: Client, clock: ManualClock
) -> None:
    await sign_in(client, ZHANG)
    practice = ok(await client.post(f"/api/exams/{EXAM}/attempts", json={"practice": True}), 201)
    for _ in range(6):
        await client.post(f"/api/attempts/{practice['attempt']}/integrity", json={"kind": "copy"})
    await sign_in(client, PROCTOR)
    assert ok(await client.get("/api/operator/risk/attempts"))["scanned"] == 0
    clock.advance(3 * 86_400_000)
    later = ok(await client.get("/api/operator/risk/attempts", params={"since": "2026-11-25"}))
    assert later["filters"]["since_ms"] == int(datetime(2026, 11, 24, 16, tzinfo=UTC).timestamp()
                                               * 1000)  # fmt: skip


# ------------------------------------------------------------------------- study


def study_events(settings: Settings) -> None:
    """张三's cycle 1: three missed challenges over two chapters, the same chapter opened
    elsewhere five times and moving on to another chapter twice; 李四: two misses."""
    with standalone_transaction(settings.database) as db:
        course = Course(key="c-risk", title="职业道德")
        db.add(course)
        db.flush()
        assert course.id is not None
        chapters = {}
        for n in (1, 2):
            chapter = Chapter(course_id=course.id, key=f"ch-{n}", title=f"第{n}章",
                              position=n, duration_ms=600_000)  # fmt: skip
            db.add(chapter)
            db.flush()
            chapters[chapter.key] = chapter.id
        ids = {u.login: u.id for u in db.exec(select(User)).all()}
        encoder = msgspec.json.Encoder()

        def add(login: str, event: credit.AnyEvent) -> None:
            db.add(StudyEvent(learner_id=ids[login], chapter_id=chapters[event.chapter], cycle=1,
                              kind=event.__struct_config__.tag, seq=getattr(event, "seq", None),
                              at_ms=event.at_ms, data=encoder.encode(event).decode()))  # fmt: skip

        for n, chapter in enumerate(("ch-1", "ch-2", "ch-1")):
            add(
                ZHANG,
                credit.ChallengeMissed(
                    learner=ids[ZHANG],
                    chapter=chapter,
                    at_ms=T0 + n * 60_000,
                    seq=n + 1,
                    closing=False,
                ),
            )
        for n in range(5):
            add(
                ZHANG,
                credit.SessionTakenOver(
                    learner=ids[ZHANG], chapter="ch-2", at_ms=T0 + 600_000 + n, by_chapter="ch-2"
                ),
            )
        for n in range(2):
            add(
                ZHANG,
                credit.SessionTakenOver(
                    learner=ids[ZHANG], chapter="ch-1", at_ms=T0 + 900_000 + n, by_chapter="ch-2"
                ),
            )
        for n in range(2):
            add(LI, credit.ChallengeMissed(learner=ids[LI], chapter="ch-1", at_ms=T0 + n,
                                           seq=n + 1, closing=False))  # fmt: skip


async def test_a_study_cycle_with_missed_challenges_and_a_chapter_opened_elsewhere(
    client: Client, app_settings: Settings, clock: ManualClock
) -> None:
    study_events(app_settings)
    clock.advance(3_600_000)
    await sign_in(client, PROCTOR)
    listed = ok(await client.get("/api/operator/risk/cycles"))
    assert listed["scanned"] == 12
    [cycle] = listed["cycles"]  # 李四 missed two: below the threshold
    assert (cycle["learner"], cycle["cycle"], cycle["employer"]) == ("张三", 1, EMPLOYER)
    flags = by_rule(cycle["flags"])
    assert (flags["missed_challenges"]["threshold"], flags["missed_challenges"]["observed"]) == (
        3, 3,
    )  # fmt: skip
    assert [(e["at_ms"], e["chapter"]) for e in flags["missed_challenges"]["evidence"]] == [
        (T0, "ch-1"), (T0 + 60_000, "ch-2"), (T0 + 120_000, "ch-1"),
    ]  # fmt: skip
    # Moving on to ch-2 ended two ch-1 sessions: not counted.
    assert flags["study_takeovers"]["observed"] == 5
    assert {c["key"]: c["title"] for c in cycle["chapters"]} == {
        "ch-1": "职业道德 · 第1章", "ch-2": "职业道德 · 第2章",
    }  # fmt: skip
    other = ok(await client.get("/api/operator/risk/cycles", params={"employer": OTHER_EMPLOYER}))
    assert (other["scanned"], other["cycles"]) == (0, [])


# ------------------------------------------------------------------------ export


async def test_the_workbook_has_one_row_per_flag_with_its_evidence(
    client: Client, app_settings: Settings, clock: ManualClock
) -> None:
    study_events(app_settings)
    zhang = await sit_slowly(client, clock, ZHANG)
    await sit_slowly(client, clock, LI)
    await sign_in(client, PROCTOR)
    reply = await client.get("/api/operator/risk/export", params={"employer": EMPLOYER})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in reply.headers["content-disposition"]
    rows = list(load_workbook(io.BytesIO(reply.content)).worksheets[0].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert header[0] == "对象 Subject" and header[-1] == "证据 Evidence"
    # Two similar-answer flags (one per side) and the cycle's two flags.
    assert sorted((r[0], r[7]) for r in body) == sorted([
        ("考试 attempt", "错误答案雷同 Same wrong answers"),
        ("考试 attempt", "错误答案雷同 Same wrong answers"),
        ("学习周期 study cycle", "多次未通过防挂机验证 Missed challenges"),
        ("学习周期 study cycle", "同一章节在别处打开 Chapter opened elsewhere"),
    ])  # fmt: skip
    mine = next(r for r in body if r[1] == zhang)
    assert (mine[2], mine[3], mine[4]) == ("张三", ZHANG[:6] + "*" * 8 + ZHANG[-4:], EMPLOYER)
    assert (mine[9], mine[10], mine[11]) == ("80%（≥ 5 题 items）", "100%", "10")
    assert "李四" in mine[12] and "错误答案相同 Same wrong answer" in mine[13]
    missed = next(r for r in body if r[7].startswith("多次未通过"))
    assert "2026-11-22 09:00:00" in missed[13] and "职业道德 · 第1章" in missed[13]
    assert ZHANG not in str(rows)  # masked everywhere


# ----------------------------------------------------------------- who and what

ENDPOINTS = (
    "/api/operator/risk/attempts",
    "/api/operator/risk/cycles",
    "/api/operator/risk/export",
    "/api/operator/risk/attempts/0123456789abcdef0123456789abcdef",
)


@pytest.mark.parametrize("login", [ZHANG, ADMIN])
async def test_learners_and_employer_administrators_are_refused(client: Client, login: str) -> None:
    await sign_in(client, login)
    for path in ENDPOINTS:
        problem(await client.get(path), 403, "forbidden")
    page = await client.get("/proctor/risk", follow_redirects=False)
    assert page.status_code == 302 and page.headers["location"] != "/proctor/risk"
    client.cookies.clear()
    for path in ENDPOINTS:
        assert (await client.get(path)).status_code == 401


async def test_an_unknown_attempt_is_a_404(client: Client) -> None:
    await sign_in(client, PROCTOR)
    problem(await client.get(ENDPOINTS[-1]), 404, "attempt_not_found")
    page = await client.get("/proctor/risk/attempts/0123456789abcdef0123456789abcdef")
    assert page.status_code == 404 and "没有这场考试" in page.text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-13-01"}, "since"),
        ({"since": "2999-01-01"}, "since"),
        ({"exam": "no-such-exam"}, "exam"),
        ({"employer": "没有这个单位"}, "employer"),
    ],
)
async def test_a_bad_filter_is_a_400_naming_the_field(
    client: Client, params: dict[str, str], field: str
) -> None:
    await sign_in(client, PROCTOR)
    for path in ENDPOINTS[:3]:
        body = problem(await client.get(path, params=params), 400, "bad_filter")
        assert body["detail"].startswith(f"{field}:") and body["detail_zh"].startswith(field)
        assert body["errors"][0]["field"] == field
    page = await client.get("/proctor/risk", params=params)
    assert page.status_code == 200 and 'role="alert"' in page.text and field in page.text


# -------------------------------------------------------------------------- pages


async def test_the_pages_show_names_masked_ids_badges_and_evidence_in_both_languages(
    client: Client, clock: ManualClock
) -> None:
    zhang = await sit_slowly(client, clock, ZHANG)
    await sit_slowly(client, clock, LI)
    await sign_in(client, PROCTOR)
    page = await client.get("/proctor/risk")
    assert page.status_code == 200
    assert "张三" in page.text and ZHANG[:6] + "*" * 8 + ZHANG[-4:] in page.text
    assert ZHANG not in page.text and "错误答案雷同：100%（李四）" in page.text
    assert "相似度指数" in page.text and "/api/operator/risk/export?" in page.text
    english = await client.get("/proctor/risk", params={"lang": "en"})
    assert "Same wrong answers: 100% (李四)" in english.text
    assert "The similarity index" in english.text
    detail = await client.get(f"/proctor/risk/attempts/{zhang}", params={"lang": "zh"})
    assert detail.status_code == 200
    assert "本人：不必登记；对方：不必登记" in detail.text and "第 1 题" in detail.text
    assert "开始时间（北京时间）" in detail.text and ZHANG not in detail.text
    live = await client.get("/proctor")
    assert 'href="/proctor/risk"' in live.text


async def test_the_pages_show_times_in_the_platform_s_display_zone_labelled(
    client: Client, clock: ManualClock, app_settings: Settings
) -> None:
    zhang = await sit_slowly(client, clock, ZHANG)
    started = datetime.fromtimestamp(T0 / 1000, tz=UTC)
    async with AsyncTestClient(
        app=create_app(app_settings.replace(display_timezone="Europe/London"), clock=clock)
    ) as london:
        await sign_in(london, PROCTOR)
        page = await london.get(f"/proctor/risk/attempts/{zhang}", params={"lang": "en"})
        assert page.status_code == 200
        assert "Started (London time, UTC+0)" in page.text
        assert started.strftime("%Y-%m-%d %H:%M") in page.text  # London is on UTC in November
        assert "Beijing" not in page.text and "China Standard Time" not in page.text
