"""The learner's exam in a real browser: sign-in to result, reload, offline, expiry,
practice, the forced password change and bilingual errors (see conftest.py)."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import msgspec
from playwright.async_api import expect

from api.cli.demo import DEMO_LEARNER
from api.http.errors import overloaded
from api.services import accounts, attempts
from api.store.db import standalone_transaction
from examengine.ids import check_character
from tests.e2e.conftest import SCALED_TOO, Server, move_deadline, sign_in

DESKTOP = {"width": 1280, "height": 900}
ATTEMPT_URL = re.compile(r"/learner/attempts/([0-9a-f]{32})$")


async def start_exam(page: Any, *, practice: bool = False) -> str:
    """From my exams, through the rules, into a new attempt; returns its id."""
    await page.goto("/learner/exams")
    if practice:
        await page.get_by_role("link", name="模拟练习（不计成绩）").click()
        await page.get_by_role("button", name="开始模拟练习").click()
    else:
        await page.get_by_role("link", name="查看考试须知并开始").click()
        await page.get_by_role("button", name="开始考试").click()
    await page.wait_for_url(ATTEMPT_URL)
    match = ATTEMPT_URL.search(page.url)
    assert match is not None
    return match.group(1)


async def answer(page: Any, position: int, choice: int = 0) -> Any:
    """Answer question ``position`` (the ``choice``-th option, or a typed answer); returns
    the response the server should end up with."""
    question = page.locator(f"#q-{position}")
    kind = await question.get_attribute("data-kind")
    if kind in ("single", "true_false"):
        radio = question.locator("input[type=radio]").nth(choice)
        await radio.check()
        value = await radio.get_attribute("value")
        return value == "true" if kind == "true_false" else value
    if kind == "multiple":
        boxes = question.locator("input[type=checkbox][name^='a-']")
        await boxes.nth(choice).check()
        return [await boxes.nth(choice).get_attribute("value")]
    if kind in ("fill_blank", "numerical"):
        text = f"答案{choice}" if kind == "fill_blank" else str(choice + 1)
        field = question.locator("input[type=text]")
        await field.fill(text)
        await field.blur()
        return text
    selects = question.locator("select")
    values = []
    for n in range(await selects.count()):
        await selects.nth(n).select_option(index=1)
        values.append(await selects.nth(n).input_value())
    return values


async def saved_answers(page: Any, attempt: str) -> dict[str, Any]:
    reply = await page.request.get(f"/api/attempts/{attempt}/paper")
    assert reply.ok, await reply.text()
    paper = await reply.json()
    return {a["item"]: a["response"] for a in paper["answers"]}


async def item_of(page: Any, position: int) -> str:
    item = await page.locator(f"#q-{position}").get_attribute("data-item")
    assert item is not None
    return item


async def wait_saved(page: Any) -> None:
    await expect(page.locator("#save-state")).to_have_attribute("data-state", "saved")
    await page.wait_for_function(
        "localStorage.length === 0 || Object.keys(localStorage)"
        ".filter(k => k.startsWith('examengine.saves.'))"
        ".every(k => JSON.parse(localStorage[k]).pending.length === 0)"
    )


@SCALED_TOO
async def test_a_whole_exam_from_sign_in_to_result(page: Any, shot: Any) -> None:
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/login"))
    await shot(page, "01-login")
    await sign_in(page, DEMO_LEARNER, "learner-demo-1")
    await expect(page).to_have_url(re.compile(r"/learner/exams$"))
    await expect(page.get_by_text("已用 0 次，共 2 次，剩余 2 次")).to_be_visible()
    await shot(page, "02-my-exams")

    await page.get_by_role("link", name="查看考试须知并开始").click()
    await expect(page.get_by_role("heading", name="考试须知")).to_be_visible()
    await expect(page.get_by_text("考试时长 120 分钟")).to_be_visible()
    await expect(page.get_by_text("超时未交卷的，本次考试无成绩，按不合格记录")).to_be_visible()
    await shot(page, "03-rules")
    await page.get_by_role("button", name="开始考试").click()
    await page.wait_for_url(ATTEMPT_URL)
    attempt = ATTEMPT_URL.search(page.url).group(1)  # type: ignore[union-attr]

    count = await page.locator("fieldset.question").count()
    assert count == 20
    for position in range(1, count):
        await answer(page, position)
    await wait_saved(page)
    await expect(page.locator(".nav-item[data-answered=true]")).to_have_count(count - 1)
    await shot(page, "04-exam", full_page=False)

    await page.locator("#submit-button").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text(f"第 {count} 题")
    await shot(page, "05-confirm-unanswered", full_page=False)
    await dialog.get_by_role("button", name="继续作答").click()
    await answer(page, count)
    await wait_saved(page)
    await page.locator("#submit-button").click()
    await expect(dialog).to_contain_text("所有题目均已作答")
    await dialog.get_by_role("button", name="确认交卷").click()

    await page.wait_for_url(re.compile(rf"/learner/attempts/{attempt}/result$"))
    result = await (await page.request.get(f"/api/attempts/{attempt}/result")).json()
    assert result["state"] == "submitted"
    assert len(await saved_answers(page, attempt)) == count
    outcome = page.locator("#outcome")
    await expect(outcome).to_have_text("合格" if result["passed"] else "不合格")
    await expect(page.locator("#score")).to_contain_text(f"/ {result['max_score']:g}")
    await shot(page, "06-result")

    await page.get_by_role("link", name="返回我的考试").click()
    expected = "已通过" if result["passed"] else "已用 1 次，共 2 次，剩余 1 次"
    await expect(page.get_by_text(expected).first).to_be_visible()


@SCALED_TOO
async def test_a_reload_resumes_with_the_answers_and_the_server_clock(
    page: Any, new_learner: Any, e2e_server: Server, shot: Any
) -> None:
    learner = new_learner()
    await sign_in(page, learner.login, learner.password)
    attempt = await start_exam(page)
    given = {await item_of(page, n): await answer(page, n, choice=1) for n in (1, 2, 7, 17)}
    await wait_saved(page)

    # the navigator is keyboard operable: arrows move, Enter goes to the question
    first = page.locator(".nav-item").first
    await first.focus()
    await page.keyboard.press("ArrowRight")
    await expect(page.locator(".nav-item").nth(1)).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#q-2 input:checked")).to_be_focused()

    # a copy during a formal exam is recorded as an integrity event
    await page.evaluate("document.dispatchEvent(new Event('copy'))")

    # 10 minutes left on the server's clock: a reload must show that, not a fresh 120
    move_deadline(e2e_server, attempt, seconds_from_now=600)
    await page.reload()
    await expect(page).to_have_url(re.compile(rf"/learner/attempts/{attempt}$"))
    seconds = int(await page.locator("#timer").get_attribute("data-seconds") or "0")
    assert 590 <= seconds <= 600, seconds
    await expect(page.locator("#timer")).to_have_text(re.compile(r"^0:(09|10):\d\d$"))
    assert await saved_answers(page, attempt) == given
    await expect(page.locator("#q-1 input:checked")).to_have_count(1)
    await expect(page.locator("#q-17 input[type=text]")).to_have_value(
        given[await item_of(page, 17)]
    )
    await expect(page.locator(".nav-item[data-answered=true]")).to_have_count(len(given))
    await shot(page, "07-resumed-after-reload", full_page=False)

    with standalone_transaction(e2e_server.database) as session:
        log = attempts.step_log(session, attempt_id=attempt)
    kinds = [event.kind for event in log.events]
    assert "integrity" in kinds
    assert any(e.data.get("kind") == "copy" for e in log.events if e.kind == "integrity")
    assert kinds.count("attempt_resumed") >= 1


async def test_offline_changes_are_queued_and_none_is_lost(
    browser: Any, e2e_server: Server, new_learner: Any, shot: Any
) -> None:
    learner = new_learner()
    context = await browser.new_context(base_url=e2e_server.url, viewport=DESKTOP)
    context.set_default_timeout(10_000)
    try:
        page = await context.new_page()
        await sign_in(page, learner.login, learner.password)
        attempt = await start_exam(page)
        expected = {await item_of(page, 1): await answer(page, 1)}
        await wait_saved(page)

        await context.set_offline(True)
        for position in (2, 3, 8, 12, 13, 17, 18):
            expected[await item_of(page, position)] = await answer(page, position)
        # a later change of the same question while offline: the newest must win
        expected[await item_of(page, 2)] = await answer(page, 2, choice=2)
        await expect(page.locator("#save-state")).to_have_attribute("data-state", "offline")
        pending = await page.evaluate(
            f"JSON.parse(localStorage.getItem('examengine.saves.{attempt}')).pending.length"
        )
        assert pending == 8
        await shot(page, "08-offline", full_page=False)

        await context.set_offline(False)
        await wait_saved(page)
        assert await saved_answers(page, attempt) == expected
        await shot(page, "09-back-online")
        with standalone_transaction(e2e_server.database) as session:
            steps = attempts.step_log(session, attempt_id=attempt).steps
        seqs = [step.seq for step in steps]
        assert len(steps) == 9 and seqs == sorted(seqs)  # every change, in order
    finally:
        await context.close()


async def test_an_attempt_whose_time_ran_out_while_away_is_shown_expired(
    page: Any, new_learner: Any, e2e_server: Server, shot: Any
) -> None:
    learner = new_learner()
    await sign_in(page, learner.login, learner.password)
    attempt = await start_exam(page)
    await answer(page, 1)
    await wait_saved(page)
    await page.goto("about:blank")  # the learner is away (crash, network …)

    move_deadline(e2e_server, attempt, seconds_from_now=-1)
    await page.goto(f"/learner/attempts/{attempt}")  # comes back: too late
    await expect(page).to_have_url(re.compile(rf"/learner/attempts/{attempt}/result$"))
    await expect(page.locator("#outcome")).to_have_text("不合格")
    await expect(page.locator("#expired-note")).to_contain_text("无成绩，按不合格记录")
    await expect(page.locator("#score")).to_have_text("无成绩")
    await shot(page, "10-expired")
    result = await (await page.request.get(f"/api/attempts/{attempt}/result")).json()
    assert (result["state"], result["passed"], result["score"]) == ("expired", False, None)

    await page.goto("/learner/exams")
    await expect(page.get_by_text("已用 1 次，共 2 次，剩余 1 次")).to_be_visible()
    await expect(page.get_by_text("超时未交卷")).to_be_visible()


async def test_the_countdown_follows_the_server_and_ends_the_exam_at_zero(
    page: Any, new_learner: Any, e2e_server: Server
) -> None:
    learner = new_learner()
    await sign_in(page, learner.login, learner.password)
    attempt = await start_exam(page)
    move_deadline(e2e_server, attempt, seconds_from_now=3)
    await answer(page, 1)  # the save's reply carries the seconds left: the clock resyncs
    await expect(page.locator("#exam-alert")).to_contain_text("1 分钟")
    await page.wait_for_url(re.compile(rf"/learner/attempts/{attempt}/result$"), timeout=15_000)
    await expect(page.locator("#expired-note")).to_be_visible()


async def test_practice_from_my_exams(page: Any, new_learner: Any, shot: Any) -> None:
    learner = new_learner()
    await sign_in(page, learner.login, learner.password)
    await start_exam(page, practice=True)
    await expect(page.get_by_text("模拟练习", exact=True)).to_be_visible()
    await page.locator("#submit-button").click()
    await expect(page.get_by_role("dialog")).to_contain_text("以下 20 道题尚未作答")
    await page.get_by_role("button", name="确认交卷").click()
    await page.wait_for_url(re.compile(r"/result$"))
    await expect(page.get_by_text("模拟练习不计入考试成绩")).to_be_visible()
    # A formal paper still lies ahead: no key, and the page says when it will come
    await expect(page.locator("#key-held")).to_contain_text("通过本考试后提供")
    await expect(page.locator(".review-item")).to_have_count(0)
    await shot(page, "11-practice-result")
    await page.goto("/learner/exams")
    await expect(page.get_by_text("已用 0 次，共 2 次，剩余 2 次")).to_be_visible()
    # The cool-down: no practice button, and when practice is possible again
    waiting = page.locator('[data-practice-reason="practice_cooldown"]')
    await expect(waiting).to_contain_text("后可再次练习")
    await expect(page.get_by_role("link", name="模拟练习（不计成绩）")).to_have_count(0)


async def test_sign_in_errors_in_both_languages_and_the_forced_password_change(
    page: Any, new_learner: Any, shot: Any
) -> None:
    learner = new_learner(must_change=True)
    await sign_in(page, learner.login, "wrong password", expect_success=False)
    await expect(page.get_by_role("alert").first).to_have_text(
        "账号或密码错误。单位为您开通的账号，需先通过收到的激活链接设置密码后才能登录。"
    )
    await page.get_by_role("link", name="Switch to English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await page.get_by_label("ID number or phone number").fill(learner.login)
    await page.get_by_label("Password", exact=True).fill("wrong again")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert").first).to_have_text(
        "The login or the password is wrong. An account your employer made has no password "
        "until you follow the activation link you were sent."
    )
    await shot(page, "12-login-error-en")

    await page.get_by_label("Password", exact=True).fill(learner.password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/password$"))
    await expect(page.get_by_text("please set a new password")).to_be_visible()
    await shot(page, "13-password-change-en")
    await page.get_by_label("Current password").fill(learner.password)
    await page.get_by_label("New password", exact=True).fill("Fresh-Password-42")
    await page.get_by_label("New password again").fill("Fresh-Password-42")
    await page.get_by_role("button", name="Save the new password").click()
    await expect(page).to_have_url(re.compile(r"/learner/exams$"))
    await expect(page.get_by_role("heading", name="My exams")).to_be_visible()
    # the language choice is remembered
    await page.get_by_role("link", name="切换到中文").click()
    await expect(page.get_by_role("heading", name="我的考试")).to_be_visible()
    assert json.loads(await page.evaluate("JSON.stringify(document.documentElement.lang)")) == (
        "zh-CN"
    )


async def test_an_imported_learner_chooses_a_password_from_the_activation_link(
    page: Any, e2e_server: Server, shot: Any
) -> None:
    """A roster line becomes an account with no password; its link (as the notifier
    sends it) opens the page, the learner chooses a password and is signed in; the
    link then works no more, and the page says so in the learner's language."""
    first17 = f"110101198{secrets.randbelow(10)}0101{secrets.randbelow(900) + 100}"
    rid = first17 + check_character(first17)
    roster = accounts.read_roster(f"姓名,身份证号\n李四,{rid}\n".encode(), source="r.csv")
    with standalone_transaction(e2e_server.database) as session:
        _, [notice] = accounts.import_roster(
            session, roster, now=datetime.now(UTC),
            links=accounts.Links(origin=e2e_server.url, ttl_h=1),
        )  # fmt: skip
    await page.goto(notice.link)
    await expect(page.get_by_role("heading", name="设置密码")).to_be_visible()
    assert "#" not in page.url  # the token left the address bar
    await page.get_by_label("新密码", exact=True).fill("Fresh-Password-42")
    await page.get_by_label("再次输入新密码").fill("Fresh-Password-42")
    await shot(page, "14-activate-zh")
    await page.get_by_role("button", name="设置密码并登录").click()
    await expect(page).to_have_url(re.compile(r"/learner/exams$"))
    await page.context.clear_cookies()
    await page.goto(notice.link.replace("/activate#", "/activate?lang=en#"))
    await page.get_by_label("New password", exact=True).fill("Another-Password-42")
    await page.get_by_label("New password again").fill("Another-Password-42")
    await page.get_by_role("button", name="Set the password and sign in").click()
    await expect(page.get_by_role("alert").first).to_contain_text("This link cannot be used")


async def test_a_refused_save_waits_for_retry_after_with_jitter_and_none_is_lost(
    browser: Any, e2e_server: Server, new_learner: Any
) -> None:
    """The server refuses the first save of an answer (503 overloaded, Retry-After: 2,
    as a full server answers): the page keeps the change queued, waits at least the
    Retry-After (at most half as long again) and sends it again; it is stored."""
    learner = new_learner()
    context = await browser.new_context(base_url=e2e_server.url, viewport=DESKTOP)
    context.set_default_timeout(10_000)
    try:
        page = await context.new_page()
        await sign_in(page, learner.login, learner.password)
        attempt = await start_exam(page)
        sent: list[float] = []
        problem = {
            "type": "urn:examengine:problem:overloaded", "title": "Service Unavailable",
            "status": 503, "code": "overloaded", "detail": "The server is busy.",
            "detail_zh": "服务器繁忙。",
        }  # fmt: skip

        async def refuse_the_first(route: Any) -> None:
            sent.append(time.monotonic())
            if len(sent) == 1:
                await route.fulfill(
                    status=503,
                    headers={"Retry-After": "2", "Content-Type": "application/problem+json"},
                    body=json.dumps(problem),
                )
            else:
                await route.continue_()

        await page.route(f"**/api/attempts/{attempt}/answers", refuse_the_first)
        expected = {await item_of(page, 1): await answer(page, 1)}
        await expect(page.locator("#save-state")).to_have_attribute("data-state", "saving")
        await wait_saved(page)
        assert len(sent) == 2
        assert 2.0 <= sent[1] - sent[0] <= 3.5
        assert await saved_answers(page, attempt) == expected
    finally:
        await context.close()


async def test_a_refused_start_is_tried_again_and_the_page_says_the_clock_has_not_started(
    browser: Any, e2e_server: Server, new_learner: Any, shot: Any
) -> None:
    """At 09:00 the server refuses the starts (503 overloaded, Retry-After: 1) until the
    test has read the page — at least twice: the rules page says the server is busy,
    that it will try again and that the exam time has not started; it tries again by
    itself, never sooner than Retry-After, and opens the exam once a start is let through
    (refusing until the message was read keeps a busy machine from racing the check)."""
    learner = new_learner()
    context = await browser.new_context(base_url=e2e_server.url, viewport=DESKTOP)
    context.set_default_timeout(10_000)
    try:
        page = await context.new_page()
        await sign_in(page, learner.login, learner.password)
        sent: list[float] = []
        read = asyncio.Event()
        problem = msgspec.json.encode(overloaded(1).content)  # as the full server says it

        async def refuse_two(route: Any) -> None:
            sent.append(time.monotonic())
            if len(sent) <= 2 or not read.is_set():
                await route.fulfill(
                    status=503,
                    headers={"Retry-After": "1", "Content-Type": "application/problem+json"},
                    body=problem,
                )
            else:
                await route.continue_()

        await page.route("**/api/exams/*/attempts", refuse_two)
        await page.goto("/learner/exams")
        await page.get_by_role("link", name="查看考试须知并开始").click()
        await page.get_by_role("button", name="开始考试").click()
        status = page.locator("#start-status")
        await expect(status).to_contain_text("考试计时尚未开始", timeout=10_000)
        await expect(status).to_have_attribute("role", "status")
        await shot(page, "rules-refused-start")
        read.set()
        await page.wait_for_url(ATTEMPT_URL)
        gaps = [later - earlier for earlier, later in itertools.pairwise(sent)]
        assert len(sent) >= 3, sent
        assert all(1.0 <= gap <= 3.0 for gap in gaps), gaps
    finally:
        await context.close()
