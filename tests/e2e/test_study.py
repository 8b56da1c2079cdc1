"""Credited study in a real browser: my plans, the study page's player and credit
counter, the anti-idle challenge dialog (pause, answer, resume with credit) and a missed
challenge (the open segment voided, the chapter paused — on the page and in the API);
the credited time moving as soon as a check passes at the page's own heartbeat pace;
chapter states and locked electives on my plans and the study page; and on my exams,
why the learner may or may not sit the exam.

A server of this module's own (``e2e_server`` overridden here) makes challenges fast:
the demo plan's policy (and the service's default) the next one 2–3 s after the last,
5 s to answer; the page heartbeats every second unless a test says otherwise.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest
from playwright.async_api import expect
from sqlmodel import select

from api.cli.demo import DEMO_BANK, DEMO_EXAM, DEMO_PLAN, demo_plan
from api.services import study
from api.store.db import standalone_transaction
from api.store.tables import StudyEvent
from examengine import credit
from examengine.challenges import ChallengePolicy
from tests.e2e.conftest import (
    SCALED_TOO,
    SCREENSHOTS,
    Learner,
    server_for,
    sign_in,
)
from tests.server import Server

CHAPTER = "demo-law-1"
STUDY_URL = f"/learner/study/{CHAPTER}?heartbeat_ms=1000"
FAST_STUDY = {
    "EXAMENGINE_CHALLENGE_MIN_S": "2",
    "EXAMENGINE_CHALLENGE_MAX_S": "3",
    "EXAMENGINE_CHALLENGE_WINDOW_S": "5",
    "EXAMENGINE_STUDY_TICK_MS": "200",
}


@pytest.fixture(scope="module")
def e2e_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The demo app as in conftest, with a fast anti-idle policy (this module only): the
    service's default and the demo plan's own (the demo's is 20–50 s)."""
    with server_for(request, tmp_path_factory.mktemp("e2e-study"), **FAST_STUDY) as app:
        fast = ChallengePolicy(min_interval_ms=2_000, max_interval_ms=3_000, window_ms=5_000)
        with standalone_transaction(app.database) as session:
            plan = msgspec.structs.replace(demo_plan(), challenge=fast)
            study.save_plan(session, plan, now=app.now_ms())
        yield app


@pytest.fixture
def studying_learner(e2e_server: Server, new_learner: Callable[..., Learner]) -> Learner:
    """A learner of the test's own, enrolled in the demo plan."""
    learner = new_learner()
    with standalone_transaction(e2e_server.database) as session:
        study.enroll(session, learner_id=learner.id, plan=DEMO_PLAN, now=e2e_server.now_ms())
    return learner


@pytest.fixture
def plan_learner(e2e_server: Server, new_learner: Callable[..., Learner]) -> Learner:
    """A learner enrolled in the demo plan only: the exam waits for their study."""
    learner = new_learner(exam=False)
    with standalone_transaction(e2e_server.database) as session:
        study.enroll(session, learner_id=learner.id, plan=DEMO_PLAN, now=e2e_server.now_ms())
    return learner


#: The dialog closed (the answer was taken) or says the answer was wrong.
ANSWERED = """() => {
  const dialog = document.getElementById("challenge-dialog");
  return !dialog.open || document.getElementById("challenge-alert").textContent !== "";
}"""


async def open_chapter(page: Any, learner: Learner, url: str = STUDY_URL) -> None:
    """Sign in, my plans, the first required chapter (not started); play."""
    await sign_in(page, learner.login, learner.password)
    await page.get_by_role("link", name="我的学习计划").click()
    await expect(page).to_have_url(re.compile(r"/learner/plans$"))
    plan = page.locator("section.plan")
    await expect(plan.locator(".credit-required")).to_have_text("应修学时：3 学时")
    await expect(plan.locator(".kind-progress[data-kind=required]")).to_contain_text("0 / 2 学时")
    await expect(plan.locator(".kind-progress[data-kind=elective]")).to_contain_text("0 / 1 学时")
    await expect(plan.locator(".percent")).to_have_attribute("data-percent", "0.0")
    await page.screenshot(path=str(SCREENSHOTS / "study-00-plans.png"), full_page=True)
    await page.goto(url)
    study_root = page.locator("#study")
    await expect(study_root).to_have_attribute("data-state", "active")
    await expect(page.locator("#study-state")).to_have_text("未开始")
    await page.get_by_role("button", name="播放").click()
    await expect(page.locator("#study-state")).to_have_text("学习中")
    await expect(study_root).to_have_attribute("data-playing", "true")


async def chapter_credit(page: Any) -> int:
    reply = await page.request.get("/api/me/plans")
    assert reply.ok, await reply.text()
    for course in (await reply.json())["plans"][0]["progress"]["courses"]:
        for chapter in course["chapters"]:
            if chapter["chapter"] == CHAPTER:
                return int(chapter["credited_ms"])
    raise AssertionError(f"no chapter {CHAPTER} in my plans")


@SCALED_TOO
@pytest.mark.parametrize("transport", ["socket", "http"])
async def test_the_challenge_pauses_study_and_an_answer_resumes_it_with_credit(
    page: Any, studying_learner: Learner, shot: Any, transport: str
) -> None:
    """Over the study socket, and over HTTP and the event stream where a WebSocket
    cannot be opened (here: the browser has none)."""
    if transport == "http":
        await page.add_init_script("delete window.WebSocket")
    await open_chapter(page, studying_learner)
    study_root = page.locator("#study")
    await expect(study_root).to_have_attribute("data-transport", transport)
    dialog = page.get_by_role("dialog", name="学习验证")
    await expect(dialog).to_be_visible(timeout=8_000)
    await expect(study_root).to_have_attribute("data-playing", "false")
    await expect(page.locator("#challenge-left")).to_contain_text(re.compile(r"剩余 \d 秒作答"))
    assert await page.locator("#pending").get_attribute("data-seconds") != "0"
    await shot(page, "study-01-challenge", full_page=False)

    # Focus stays inside the modal dialog.
    for _ in range(4):
        await page.keyboard.press("Tab")
        inside = await page.evaluate(
            "document.getElementById('challenge-dialog').contains(document.activeElement)"
        )
        assert inside
    # Escape does not dismiss it.
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_visible()

    # The key stays on the server: try the options in turn (a wrong one is refused).
    options = dialog.locator("#challenge-options button")
    for n in range(await options.count()):
        if not await dialog.is_visible():
            break
        if await options.nth(n).is_enabled():
            await options.nth(n).click()
            await page.wait_for_function(ANSWERED)
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#study-status")).to_have_attribute("data-kind", "passed")
    await expect(study_root).to_have_attribute("data-playing", "true")
    await expect(page.locator("#credited")).not_to_have_attribute("data-seconds", "0")
    await shot(page, "study-02-credited", full_page=False)
    assert await chapter_credit(page) > 0


async def test_a_missed_challenge_voids_the_open_segment_and_pauses(
    page: Any, studying_learner: Learner, e2e_server: Server, shot: Any
) -> None:
    await open_chapter(page, studying_learner)
    study_root = page.locator("#study")
    dialog = page.get_by_role("dialog", name="学习验证")
    await expect(dialog).to_be_visible(timeout=8_000)
    # Not answered: the window (5 s) runs out.
    await expect(study_root).to_have_attribute("data-state", "paused", timeout=8_000)
    await expect(dialog).to_be_hidden()
    status = page.locator("#study-status")
    await expect(status).to_have_attribute("data-kind", "voided")
    await expect(status).to_contain_text("本段未验证的学习时间已作废，本章已暂停")
    await expect(page.locator("#pending")).to_have_attribute("data-seconds", "0")
    await expect(page.get_by_role("button", name="播放")).to_be_disabled()
    await expect(page.get_by_role("button", name="重新开始本章")).to_be_visible()
    await shot(page, "study-03-voided", full_page=False)

    # The API agrees: the session is paused, nothing credited, the segment voided.
    token = await study_root.get_attribute("data-token")
    reply = await page.request.post(
        "/api/study/heartbeat", data={"token": token, "position_ms": 60_000, "playing": True}
    )
    assert reply.ok, await reply.text()
    status_now = await reply.json()
    assert status_now["state"] == "paused"
    assert status_now["credited_s"] == 0 and status_now["pending_s"] == 0
    assert await chapter_credit(page) == 0
    with standalone_transaction(e2e_server.database) as session:
        kinds = set(
            session.exec(
                select(StudyEvent.kind).where(StudyEvent.learner_id == studying_learner.id)
            ).all()
        )
    assert {"challenge_missed", "segment_voided"} <= kinds

    # Starting the chapter again resumes study.
    await page.get_by_role("button", name="重新开始本章").click()
    await expect(study_root).to_have_attribute("data-state", "active")
    await expect(page.get_by_role("button", name="播放")).to_be_enabled()


async def test_the_credited_time_moves_when_a_check_passes_at_the_pages_own_pace(
    page: Any, e2e_server: Server, new_learner: Callable[..., Learner], shot: Any
) -> None:
    """The page's default heartbeat (15 s): the pass is applied by the server's next
    tick, after the ack's reply, so the page looks again shortly — the credited time
    must not wait for the next heartbeat or check (it stayed at 00:00 before). A plan of
    the test's own spaces its checks 6 s apart, so no next check shows the credit."""
    tag = secrets.token_hex(3)
    chapter = f"e2e-pace-{tag}-1"
    course = credit.Course(
        key=f"e2e-pace-{tag}", title="节奏课程", bank=DEMO_BANK,
        chapters=(credit.Chapter(key=chapter, title="第1章", duration_ms=120_000,
                                 credit_hours=0.5),),
    )  # fmt: skip
    plan = credit.Plan(
        key=f"e2e-pace-{tag}", title=f"节奏 {tag}", year=2026, category="public",
        required_hours=0.5, elective_hours=0,
        courses=(credit.PlanCourse(course=course, required=True),),
        challenge=ChallengePolicy(min_interval_ms=6_000, max_interval_ms=6_000, window_ms=10_000),
    )  # fmt: skip
    learner = new_learner()
    with standalone_transaction(e2e_server.database) as session:
        study.save_plan(session, plan, now=e2e_server.now_ms())
        study.enroll(session, learner_id=learner.id, plan=plan.key, now=e2e_server.now_ms())
    await sign_in(page, learner.login, learner.password)
    await page.goto(f"/learner/study/{chapter}")
    study_root = page.locator("#study")
    await expect(study_root).to_have_attribute("data-state", "active")
    assert await study_root.get_attribute("data-heartbeat-ms") == "15000"
    await page.get_by_role("button", name="播放").click()
    dialog = page.get_by_role("dialog", name="学习验证")
    await expect(dialog).to_be_visible(timeout=10_000)
    assert await page.locator("#credited").get_attribute("data-seconds") == "0"
    options = dialog.locator("#challenge-options button")
    for n in range(await options.count()):
        if not await dialog.is_visible():
            break
        if await options.nth(n).is_enabled():
            await options.nth(n).click()
            await page.wait_for_function(ANSWERED)
    await expect(page.locator("#study-status")).to_have_attribute("data-kind", "passed")
    # well before the next check (6 s) and the next heartbeat (15 s)
    credited = page.locator("#credited")
    await expect(credited).not_to_have_attribute("data-seconds", "0", timeout=3_500)
    await expect(dialog).to_be_hidden()
    assert not (await credited.text_content() or "").startswith("00:00")
    await shot(page, "study-04-credited-at-page-pace", full_page=False)


@pytest.mark.parametrize(
    "viewport", [{"width": 390, "height": 844}, {"width": 1280, "height": 900}]
)
async def test_locked_electives_are_shown_locked_with_what_unlocks_them(
    page: Any, plan_learner: Learner, shot: Any, viewport: dict[str, int]
) -> None:
    await sign_in(page, plan_learner.login, plan_learner.password)
    await page.goto("/learner/plans")
    plan = page.locator("section.plan")
    await expect(plan.locator(".badge").first).to_have_text("未开始")
    required = plan.locator('li.chapter[data-chapter="demo-law-1"]')
    await expect(required).to_have_attribute("data-state", "not_started")
    await expect(required.locator(".chapter-state")).to_have_text("未开始")
    await expect(required.get_by_role("link", name="法治建设 · 第1章")).to_be_visible()
    locked = plan.locator('li.chapter[data-chapter="demo-safety-1"]')
    await expect(locked).to_have_attribute("data-state", "locked")
    # a word and an icon, not only a colour; not a link; the reason beside it
    await expect(locked.locator(".chapter-state")).to_have_text("未解锁")
    await expect(locked.locator(".chapter-state svg")).to_have_attribute("aria-hidden", "true")
    await expect(locked.get_by_role("link")).to_have_count(0)
    await expect(locked).to_contain_text("完成必修课程后解锁")
    await expect(plan.locator(".electives-locked")).to_contain_text(
        "完成必修课程的 2 学时后解锁（已完成 0 学时）"
    )
    assert await plan.locator('li.chapter[data-state="locked"] a').count() == 0
    await shot(page, f"study-05-plans-locked-zh-{viewport['width']}")

    # The locked chapter's own address says so, without a player.
    await page.goto("/learner/study/demo-safety-1")
    await expect(page.get_by_role("heading", name="本章尚未解锁")).to_be_visible()
    await expect(page.locator("#study")).to_have_count(0)
    await expect(page.locator("#study-locked")).to_contain_text("完成必修课程的 2 学时后解锁")

    # In English: nothing Chinese but the course content (titles).
    await page.goto("/learner/plans?lang=en")
    await expect(locked.locator(".chapter-state")).to_have_text("Locked")
    await expect(locked).to_contain_text("Unlocks when the required courses are done")
    await expect(required.locator(".chapter-state")).to_have_text("Not started")
    await expect(plan.locator(".electives-locked")).to_contain_text(
        "they unlock once the required courses' 2 h are credited (0 h so far)"
    )
    text = await page.locator("section.plan").inner_text()
    content = (
        "2026 年公需科目（演示）",
        "法治建设",
        "职业道德",
        "数字经济",
        "信息安全",
        "第1章",
        "第2章",
    )
    for title in content:
        text = text.replace(title, "")
    assert not re.search(r"[\u4e00-\u9fff]", text), text
    await shot(page, f"study-06-plans-locked-en-{viewport['width']}")


async def test_my_exams_says_why_the_exam_is_closed_and_how_far_the_study_is(
    page: Any, plan_learner: Learner, shot: Any
) -> None:
    await sign_in(page, plan_learner.login, plan_learner.password)
    await page.goto("/learner/exams")
    card = page.locator("li.card[data-exam]")
    await expect(card.locator(".exam-study")).to_have_text(
        "学习要求：已完成 0 / 3 学时 · 2026 年公需科目（演示）"
    )
    reason = card.locator(".exam-reason")
    await expect(reason).to_have_attribute("data-reason", "study_required")
    await expect(reason).to_contain_text("还需学习 3 学时，完成后才能考试。")
    await expect(reason.get_by_role("link", name="去学习")).to_have_attribute(
        "href", "/learner/plans"
    )
    await expect(card.get_by_role("link", name="查看考试须知并开始")).to_have_count(0)
    await shot(page, "study-07-exams-study-required-zh")
    await page.goto("/learner/exams?lang=en")
    await expect(card.locator(".exam-study")).to_contain_text(
        "Study requirement: 0 of 3 credit hours done"
    )
    await expect(reason).to_contain_text(
        "3 more credit hours to study before you may take the exam."
    )
    await shot(page, "study-08-exams-study-required-en")


async def test_after_two_failed_attempts_the_learner_studies_again_from_the_plans_page(
    page: Any, studying_learner: Learner, shot: Any
) -> None:
    """Both attempts failed (nothing answered): my exams says why and where to go; my
    plans offers the new study cycle; after it, the required courses start from zero."""
    await sign_in(page, studying_learner.login, studying_learner.password)
    for _ in range(2):
        started = await page.request.post(f"/api/exams/{DEMO_EXAM}/attempts", data={})
        assert started.status == 201, await started.text()
        attempt = (await started.json())["attempt"]
        submitted = await page.request.post(f"/api/attempts/{attempt}/submit", data={})
        assert submitted.ok, await submitted.text()
    await page.goto("/learner/exams")
    reason = page.locator(".exam-reason")
    await expect(reason).to_have_attribute("data-reason", "attempts_exhausted")
    await expect(reason).to_contain_text("已用 2 次机会，请重新学习后再考。")
    await reason.get_by_role("link", name="去学习").click()
    await expect(page).to_have_url(re.compile(r"/learner/plans$"))
    again = page.get_by_role("button", name="开始重新学习“2026 年公需科目（演示）”")
    await expect(again).to_be_visible()
    await shot(page, "study-09-restudy-due")
    await again.click()
    plan = page.locator("section.plan")
    await expect(plan).to_contain_text("第 2 轮学习")
    await expect(page.get_by_role("button", name="开始重新学习")).to_have_count(0)
    await expect(plan.locator('li.chapter[data-chapter="demo-law-1"]')).to_have_attribute(
        "data-state", "not_started"
    )
    await page.goto("/learner/exams?lang=en")
    await expect(page.locator(".exam-reason")).to_contain_text("more credit hours to study")
