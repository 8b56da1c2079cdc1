"""The exam page as issue 17 asks (decision 0031), in a real browser: a proctor's
extension reaches the open page with the next reply and the learner is told; flags
follow the attempt to another browser and the navigator shows answered and flagged
together; the whole exam answered and submitted with the keyboard alone; the English
page in English (headings, punctuation, plurals)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import sign_in
from tests.e2e.test_learner_exam import DESKTOP, answer, item_of, start_exam
from tests.server import Server

PROCTOR = ("13800000002", "proctor-demo-1")


@pytest.mark.parametrize("viewport", [DESKTOP, {"width": 390, "height": 844}], ids=["1280", "390"])
async def test_a_proctors_extension_reaches_the_open_page_and_the_learner_is_told(
    browser: Any, page: Any, e2e_server: Server, new_learner: Any, viewport: Any, shot: Any
) -> None:
    learner = new_learner()
    await sign_in(page, learner.login, learner.password)
    attempt = await start_exam(page)
    timer = page.locator("#timer")
    before = int(await timer.get_attribute("data-seconds") or 0)
    notice = page.locator("#exam-notice")
    await expect(notice).to_be_hidden()
    assert await notice.get_attribute("aria-live") == "polite"

    await extend(browser, e2e_server, attempt, 600)

    await answer(page, 1)  # the save's reply carries the new deadline
    await expect(notice).to_have_text("监考老师为您延长了 10 分钟，剩余时间已更新。")
    after = int(await timer.get_attribute("data-seconds") or 0)
    assert 590 <= after - before <= 610, (before, after)
    await page.evaluate("window.scrollTo(0, 0)")
    await shot(page, f"exam-extended-{viewport['width']}-zh", full_page=False)

    # in English, and through the heartbeat's reply this time (sent when the page is
    # shown again: the learner back from another tab)
    await page.goto(page.url + "?lang=en")
    await expect(notice).to_be_hidden()
    await extend(browser, e2e_server, attempt, 60)
    await page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    await expect(notice).to_have_text(
        "The proctor gave you 1 more minute; the time left is updated."
    )
    await shot(page, f"exam-extended-{viewport['width']}-en", full_page=False)


async def test_flags_follow_the_attempt_to_another_browser_and_the_navigator_shows_both_states(
    browser: Any, page: Any, e2e_server: Server, new_learner: Any, shot: Any
) -> None:
    learner = new_learner()
    await sign_in(page, learner.login, learner.password)
    attempt = await start_exam(page)
    await answer(page, 2)
    await page.locator("#q-2 .flag").check()
    await page.locator("#q-5 .flag").check()
    two = page.locator(".nav-item").nth(1)
    await expect(two).to_have_attribute("data-answered", "true")
    await expect(two).to_have_attribute("data-flagged", "true")
    await expect(two).to_have_accessible_name("第 2 题，已答、已标记")
    five = page.locator(".nav-item").nth(4)
    await expect(five).to_have_attribute("data-answered", "false")
    await expect(five).to_have_accessible_name("第 5 题，未答、已标记")
    await shot(page, "exam-flagged-390-zh")
    flagged = [await item_of(page, 2), await item_of(page, 5)]  # the paper's order
    assert await eventually(lambda: paper_flags(page, attempt), flagged)

    other = await browser.new_context(base_url=e2e_server.url, viewport=DESKTOP)
    try:
        fresh = await other.new_page()  # another browser: nothing in its localStorage
        await sign_in(fresh, learner.login, learner.password)
        await fresh.goto(f"/learner/attempts/{attempt}")
        await expect(fresh.locator("#q-2 .flag")).to_be_checked()
        await expect(fresh.locator("#q-5 .flag")).to_be_checked()
        await expect(fresh.locator("#q-1 .flag")).not_to_be_checked()
        nav_two = fresh.locator(".nav-item").nth(1)
        await expect(nav_two).to_have_attribute("data-answered", "true")
        await expect(nav_two).to_have_attribute("data-flagged", "true")
        await fresh.locator("#q-5 .flag").uncheck()
        await expect(fresh.locator(".nav-item").nth(4)).to_have_attribute("data-flagged", "false")
        assert await eventually(lambda: paper_flags(fresh, attempt), [await item_of(fresh, 2)])
    finally:
        await other.close()


async def extend(browser: Any, server: Server, attempt: str, seconds: int) -> None:
    """The proctor, signed in in a browser of their own, gives ``attempt`` more time."""
    proctor = await browser.new_context(base_url=server.url)
    try:
        desk = await proctor.new_page()
        await sign_in(desk, *PROCTOR)
        reply = await desk.request.post(
            f"/api/operator/attempts/{attempt}/extend", data={"extra_s": seconds, "reason": "断网"}
        )
        assert reply.ok, await reply.text()
    finally:
        await proctor.close()


async def eventually(read: Any, wanted: Any, seconds: float = 5.0) -> bool:
    """Whether ``await read()`` equals ``wanted`` within ``seconds`` (polled)."""
    for _ in range(int(seconds * 10)):
        if await read() == wanted:
            return True
        await asyncio.sleep(0.1)
    return bool(await read() == wanted)


async def paper_flags(page: Any, attempt: str) -> list[str]:
    reply = await page.request.get(f"/api/attempts/{attempt}/paper")
    flags: list[str] = (await reply.json()).get("flags", [])
    return flags


async def test_a_whole_exam_with_the_keyboard_alone(
    page: Any, new_learner: Any, viewport: dict[str, int], shot: Any
) -> None:
    """Tab, Space, Enter, arrow keys and typing only, from the top of the exam page to
    the result: every option group, checkbox, text field and select; the navigator (one
    Tab stop, arrows inside, Enter goes to the question); a flag; the submit dialog."""
    learner = new_learner()
    await sign_in(page, learner.login, learner.password)
    attempt = await start_exam(page)
    count = await page.locator(".question").count()

    # the navigator: one Tab stop; the arrows move in it; Enter goes to the question
    await page.locator("#submit-button").focus()
    await page.keyboard.press("Tab")
    assert await focused(page, "el.classList.contains('nav-item') && el.textContent.trim()") == "1"
    await page.keyboard.press("ArrowRight")
    await page.keyboard.press("ArrowRight")
    assert await focused(page, "el.textContent.trim()") == "3"
    await page.keyboard.press("Enter")
    assert await focused(page, "el.closest('.question')?.id") == "q-3"
    await page.keyboard.press("Home")  # (a radio group: Home selects nothing new here)

    # from the top again: Tab through the whole paper, answering each control once
    await page.locator("#submit-button").focus()
    await page.keyboard.press("Tab")  # the navigator
    answered: set[str] = set()
    for _ in range(count * 8):
        await page.keyboard.press("Tab")
        info = await page.evaluate(
            """() => { const el = document.activeElement; const q = el.closest('.question');
                return { id: el.id, tag: el.tagName, type: el.type || '', q: q ? q.id : '',
                         flag: el.classList.contains('flag'), checked: !!el.checked }; }"""
        )
        if info["id"] == "submit-button-bottom":
            break
        if info["flag"]:
            if info["q"] == "q-2":
                await page.keyboard.press("Space")
            continue
        if not info["q"]:
            continue
        if info["type"] in ("radio", "checkbox") and not info["checked"]:
            await page.keyboard.press("Space")
        elif info["type"] == "text":
            await page.keyboard.type("答案")
        elif info["tag"] == "SELECT":
            await page.keyboard.press("ArrowDown")
        answered.add(info["q"])
    else:
        raise AssertionError("Tab never reached the submit button")
    assert len(answered) == count, sorted(answered)
    nav_two = page.locator(".nav-item").nth(1)
    await expect(nav_two).to_have_attribute("data-flagged", "true")
    await expect(page.locator(".nav-item[data-answered=false]")).to_have_count(0)
    await expect(page.locator("#save-state")).to_have_attribute("data-state", "saved")

    await page.keyboard.press("Enter")
    dialog = page.locator("#confirm-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("所有题目均已作答")
    await expect(dialog).to_contain_text("您标记了 1 道题：第 2 题")
    assert await focused(page, "el.id") == "confirm-no"  # the safe choice first
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    assert await focused(page, "el.id") == "submit-button-bottom"
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_visible()
    await page.keyboard.press("Shift+Tab")
    assert await focused(page, "el.id") == "confirm-yes"
    await shot(page, "exam-keyboard-submit-390-zh")
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(rf"/learner/attempts/{attempt}/result$"))
    await expect(page.locator("#outcome")).to_be_visible()


async def focused(page: Any, expression: str) -> Any:
    return await page.evaluate(
        f"() => {{ const el = document.activeElement; return {expression}; }}"
    )


async def test_the_english_exam_page_is_in_english(page: Any, new_learner: Any, shot: Any) -> None:
    learner = new_learner()
    await sign_in(page, learner.login, learner.password)
    await start_exam(page)
    await page.goto(page.url + "?lang=en")
    headings = await page.locator(".section-title").all_inner_texts()
    assert headings[0] == "Section 1: Single choice (6 questions, 30 points)", headings
    assert [h.split(" (")[0] for h in headings] == [
        "Section 1: Single choice", "Section 2: True or false",
        "Section 3: Multiple choice", "Section 4: Fill in the blank",
    ]  # fmt: skip
    # the page's own words, without what the author wrote (title, stems, option texts)
    ours = await page.evaluate(
        """() => { const main = document.querySelector('main').cloneNode(true);
            main.querySelectorAll('h1, .stem, .question:not([data-kind=true_false]) .choice span')
                .forEach((n) => n.remove());
            return main.innerText; }"""
    )
    for chinese in ("：", "（", "）", "，", "、", "题", "正确", "错误", "分"):
        assert chinese not in ours, (chinese, ours[:2000])
    await expect(page.locator("#q-1 legend")).to_contain_text(
        "Question 1 (Single choice, 5 points)"
    )
    tf = page.locator(".question[data-kind=true_false]").first
    await expect(tf).to_contain_text("True")
    await expect(tf).to_contain_text("False")
    await shot(page, "exam-390-en")
