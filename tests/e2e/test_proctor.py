"""The proctors' live list in a real browser: an open attempt appears with its seconds
left, last save and events; a proctor extends it and ends another with a reason; an
operator grants a learner another attempt (see conftest.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.async_api import expect

from api.cli.demo import DEMO_EXAM
from tests.e2e.conftest import Learner, Server, sign_in

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

    await page.get_by_role("button", name=f"为 {first.login} 延长时间").click()
    dialog = page.locator("#extend-dialog")
    await expect(dialog).to_be_visible()
    await dialog.get_by_label("延长分钟数").fill("15")
    await dialog.get_by_role("button", name="确认延长").click()
    await expect(dialog.locator(".dialog-error")).to_have_text("请填写原因。")
    await dialog.get_by_label("原因（必填，将记录在案）").fill("考生电脑故障，重启耗时")
    await dialog.get_by_role("button", name="确认延长").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#action-status")).to_contain_text(f"已为 {first.login} 延长时间")
    await expect(row.locator(".seconds-left")).to_have_text(re.compile(r"^2:(1[0-5]|09):"))

    await page.get_by_role("button", name=f"终止 {second.login} 的考试").click()
    dialog = page.locator("#terminate-dialog")
    await dialog.get_by_label("原因（必填，将记录在案）").fill("替考")
    await dialog.get_by_role("button", name="确认终止").click()
    await expect(dialog.locator(".dialog-error")).to_have_text("请勾选确认。")
    await shot(page, "proctor-terminate-dialog")
    await dialog.get_by_label("我已确认要终止这次考试").check()
    await dialog.get_by_role("button", name="确认终止").click()
    await expect(page.locator("#action-status")).to_have_text(f"已终止 {second.login} 的考试。")
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
