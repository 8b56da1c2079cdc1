"""The proctors' live list in a real browser: an open attempt appears with the learner's
name and masked ID, seconds left, last save and events; a proctor extends it and ends
another with a reason; an operator grants a learner another attempt; the attempt's log
lists its events and answer steps in order with labelled times; on a phone every row
is a card with nothing off to the right (see conftest.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.async_api import expect

from api.cli.demo import DEMO_EXAM
from tests.e2e.conftest import PASSWORD, Learner, Server, sign_in

PROCTOR = ("13800000002", "proctor-demo-1")
OPERATOR = ("13800000003", "operator-demo-1")


async def open_attempt(browser: Any, server: Server, learner: Learner) -> str:
    """The learner starts the demo exam in a browser context of their own."""
    context = await browser.new_context(base_url=server.url)
    try:
        signed = await context.request.post(
            "/auth/login", data={"login": learner.login, "password": learner.password}
        )
        assert signed.ok, await signed.text()
        started = await context.request.post(f"/api/exams/{DEMO_EXAM}/attempts", data={})
        assert started.status == 201, await started.text()
        return str((await started.json())["attempt"])
    finally:
        await context.close()


def seconds(text: str) -> int:
    h, m, s = (int(part) for part in text.split(":"))
    return h * 3600 + m * 60 + s


async def test_a_proctor_extends_one_attempt_and_ends_another_with_a_reason(
    page: Any, browser: Any, e2e_server: Server, new_learner: Callable[..., Learner], shot: Any
) -> None:
    first, second = new_learner(), new_learner()
    await open_attempt(browser, e2e_server, first)
    await open_attempt(browser, e2e_server, second)
    await sign_in(page, *PROCTOR)
    await page.wait_for_url("**/proctor")
    row = page.locator("#live-rows tr", has=page.get_by_role("rowheader", name=first.login))
    await expect(row).to_contain_text("正式")
    await expect(row).to_contain_text("尚未保存")
    before = seconds(await row.locator(".seconds-left").inner_text())
    assert 7000 < before <= 7200
    await shot(page, "proctor-live-list")

    # The row names the learner (display name, then the masked login).
    await expect(row.get_by_role("link", name=f"学员 {first.login}", exact=True)).to_be_visible()
    await page.get_by_role("button", name=f"延长时间：学员 {first.login} · {first.login}").click()
    dialog = page.locator("#extend-dialog")
    await expect(dialog).to_be_visible()
    await dialog.get_by_label("延长分钟数").fill("15")
    await dialog.get_by_role("button", name="确认延长").click()
    await expect(dialog.locator(".dialog-error")).to_have_text("请填写原因。")
    await dialog.get_by_label("原因（必填，将记录在案）").fill("考生电脑故障，重启耗时")
    await dialog.get_by_role("button", name="确认延长").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#action-status")).to_contain_text(
        f"已为 学员 {first.login} · {first.login} 延长时间"
    )
    await expect(row.locator(".seconds-left")).to_have_text(re.compile(r"^2:(1[0-5]|09):"))

    await page.get_by_role("button", name=f"终止考试：学员 {second.login} · {second.login}").click()
    dialog = page.locator("#terminate-dialog")
    await dialog.get_by_label("原因（必填，将记录在案）").fill("替考")
    await dialog.get_by_role("button", name="确认终止").click()
    await expect(dialog.locator(".dialog-error")).to_have_text("请勾选确认。")
    await shot(page, "proctor-terminate-dialog")
    await dialog.get_by_label("我已确认要终止这次考试").check()
    await dialog.get_by_role("button", name="确认终止").click()
    await expect(page.locator("#action-status")).to_have_text(
        f"已终止 学员 {second.login} · {second.login} 的考试。"
    )
    await expect(page.get_by_role("rowheader", name=second.login)).to_have_count(0)
    await expect(page.get_by_role("rowheader", name=first.login)).to_have_count(1)


async def test_the_live_list_refreshes_by_itself_and_an_operator_grants_an_attempt(
    page: Any, browser: Any, e2e_server: Server, new_learner: Callable[..., Learner], shot: Any
) -> None:
    await sign_in(page, *OPERATOR)
    await page.wait_for_url("**/proctor")
    learner = new_learner()
    await open_attempt(browser, e2e_server, learner)
    # Not there when the page was drawn: the next refresh (every 5 s) brings it.
    await expect(page.get_by_role("rowheader", name=learner.login)).to_have_count(1, timeout=8000)
    await expect(page.locator("#live-status")).to_contain_text("已更新")

    await page.get_by_label("学员账号（身份证号或手机号）").fill(learner.login)
    await page.get_by_label("考试编号").fill(DEMO_EXAM)
    await page.get_by_label("增加考试次数").fill("1")
    await page.get_by_label("原因（必填，将记录在案）").first.fill("因系统故障补考一次")
    await page.get_by_role("button", name="确认增加").click()
    await expect(page.locator("#grant-status")).to_have_text(
        f"已为 {learner.login} 增加：本周期共可考 3 次。"
    )
    await shot(page, "proctor-grant")


async def test_the_log_of_an_attempt_lists_its_events_and_answers_in_order(
    page: Any, browser: Any, e2e_server: Server, new_learner: Callable[..., Learner], shot: Any
) -> None:
    learner = new_learner()
    context = await browser.new_context(base_url=e2e_server.url)
    try:  # the learner starts, answers one item, and the page reports a focus loss
        await context.request.post(
            "/auth/login", data={"login": learner.login, "password": PASSWORD}
        )
        started = await context.request.post(f"/api/exams/{DEMO_EXAM}/attempts", data={})
        paper = await started.json()
        attempt = str(paper["attempt"])
        item = next(i for i in paper["items"] if i["kind"] == "single")
        save = [{"item": item["item"], "seq": 1, "response": item["options"][0]["id"]}]
        saved = await context.request.post(f"/api/attempts/{attempt}/answers", data=save)
        assert saved.ok, await saved.text()
        reported = await context.request.post(
            f"/api/attempts/{attempt}/integrity", data={"kind": "focus_lost"}
        )
        assert reported.ok, await reported.text()
    finally:
        await context.close()

    await sign_in(page, *PROCTOR)
    await page.goto("/proctor?lang=en")
    row = page.locator("#live-rows tr", has=page.get_by_role("rowheader", name=learner.login))
    who = f"学员 {learner.login} · {learner.login}"
    await row.get_by_role("link", name=f"Log: {who}").click()
    await page.wait_for_url(f"**/proctor/attempts/{attempt}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Attempt log: 学员 {learner.login}"
    )
    log = page.locator("#attempt-log")
    await expect(log.locator("thead")).to_contain_text("Time (China Standard Time, UTC+8)")
    events = await log.locator("tbody th").all_inner_texts()
    assert events[0] == "Attempt started", events
    assert "Focus lost" in events, events
    times = await log.locator("tbody td.nowrap").all_inner_texts()
    assert times == sorted(times) and all(
        re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", x) for x in times
    )
    await expect(
        page.get_by_role("link", name="Risk checks and evidence bundle")
    ).to_have_attribute("href", f"/proctor/risk/attempts/{attempt}")
    await shot(page, "proctor-attempt-log-en")


async def test_on_a_phone_each_attempt_is_a_card_with_names_and_masked_ids(
    page: Any, browser: Any, e2e_server: Server, new_learner: Callable[..., Learner], shot: Any
) -> None:
    await open_attempt(browser, e2e_server, new_learner())
    await sign_in(page, *PROCTOR)
    await page.wait_for_url("**/proctor")
    width = await page.evaluate("document.documentElement.clientWidth")
    assert width <= 400
    for card in await page.locator("#live-rows tr").all():
        for cell in ("th", ".seconds-left", ".events", "button[data-action=terminate]"):
            box = await card.locator(cell).first.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, cell
    # Labels come with the values on a card.
    await expect(page.locator("#live-rows tr").first.locator(".seconds-left")).to_have_attribute(
        "data-label", "剩余时间"
    )
    assert await page.evaluate("document.documentElement.scrollWidth") <= width
    # No whole resident ID number anywhere on the page (the header shows names too).
    text = await page.locator("body").inner_text()
    assert not re.search(r"\d{17}[\dX]", text), text
    assert "演示监考员" in await page.locator(".who").inner_text()
    await shot(page, "proctor-live-phone")
