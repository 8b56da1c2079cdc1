"""Credited study in a real browser: my plans, the study page's player and credit
counter, the anti-idle challenge dialog (pause, answer, resume with credit) and a missed
challenge (the open segment voided, the chapter paused — on the page and in the API).

A server of this module's own (``e2e_server`` overridden here) makes challenges fast:
the next one 2–3 s after the last, 5 s to answer; the page heartbeats every second.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.async_api import expect
from sqlmodel import select

from api.cli.demo import DEMO_PLAN
from api.services import study
from api.store.db import standalone_transaction
from api.store.tables import StudyEvent
from tests.e2e.conftest import SCALED_TOO, SCREENSHOTS, Learner, Server, server_for, sign_in

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
    """The demo app as in conftest, with a fast anti-idle policy (this module only)."""
    with server_for(request, tmp_path_factory.mktemp("e2e-study"), **FAST_STUDY) as app:
        yield app


@pytest.fixture
def studying_learner(e2e_server: Server, new_learner: Callable[..., Learner]) -> Learner:
    """A learner of the test's own, enrolled in the demo plan."""
    learner = new_learner()
    with standalone_transaction(e2e_server.database) as session:
        study.enroll(session, learner_id=learner.id, plan=DEMO_PLAN, now=e2e_server.now_ms())
    return learner


#: The dialog closed (the answer was taken) or says the answer was wrong.
ANSWERED = """() => {
  const dialog = document.getElementById("challenge-dialog");
  return !dialog.open || document.getElementById("challenge-alert").textContent !== "";
}"""


async def open_chapter(page: Any, learner: Learner) -> None:
    """Sign in, my plans, the first required chapter; play."""
    await sign_in(page, learner.login, learner.password)
    await page.get_by_role("link", name="我的学习计划").click()
    await expect(page).to_have_url(re.compile(r"/learner/plans$"))
    plan = page.locator("section.plan")
    await expect(plan.locator(".credit-required")).to_have_text("应修学时：3 学时")
    await expect(plan.locator(".kind-progress[data-kind=required]")).to_contain_text("0 / 2 学时")
    await expect(plan.locator(".kind-progress[data-kind=elective]")).to_contain_text("0 / 1 学时")
    await expect(plan.locator(".percent")).to_have_attribute("data-percent", "0.0")
    await page.screenshot(path=str(SCREENSHOTS / "study-00-plans.png"), full_page=True)
    await page.goto(STUDY_URL)
    study_root = page.locator("#study")
    await expect(study_root).to_have_attribute("data-state", "active")
    await page.get_by_role("button", name="播放").click()
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
