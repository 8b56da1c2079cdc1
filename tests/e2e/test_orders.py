"""Buying plans in a real browser (see conftest.py): an employer administrator checks a
pasted list with a bad line, downloads the error file and places the order; an operator
confirms the bank transfer (a wrong amount refused first) and later writes back the
invoice number and exports the year's invoices; the administrator sees the order paid
and asks for its invoice; a learner buys a priced plan, asks for an invoice, and cancels.

The plan bought is one of this module's own, priced, so that the demo plan stays free
for the other browser tests that enroll in it."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from openpyxl import load_workbook
from playwright.async_api import expect

from api.cli.demo import DEMO_EMPLOYER, demo_plan
from api.services import study
from api.store.db import standalone_transaction
from api.store.tables import User
from tests.e2e.conftest import PASSWORD, Server, sign_in
from tests.e2e.test_employer import ADMIN, OPERATOR, new_id

PLAN, TITLE = "2026-专业科目-团购演示", "2026 年专业科目（团购演示）"
BAD_ID = "110101199003071234"  # its check character should be 3
TAX_ID = "12500000MA5U3K5R7B"


@pytest.fixture
def priced_plan(e2e_server: Server) -> Iterator[str]:
    """A plan of 33 yuan a person, like the demo plan otherwise."""
    plan = msgspec.structs.replace(demo_plan(), key=PLAN, title=TITLE, price_fen=3300)
    with standalone_transaction(e2e_server.database) as session:
        study.save_plan(session, plan, now=e2e_server.now_ms())
    yield PLAN


def staff_of_the_demo_employer(server: Server, *names: str) -> list[str]:
    """Learners of the demo employer (the administrator's), by name: their ID numbers."""
    made = []
    with standalone_transaction(server.database) as session:
        for name in names:
            login = new_id()
            session.add(User(login=login, display_name=name, password_hash="", roles=["learner"],
                             must_change_password=False, resident_id=login,
                             employer=DEMO_EMPLOYER, created_at=datetime.now(UTC)))  # fmt: skip
            made.append(login)
    return made


def masked(login: str) -> str:
    return login[:6] + "*" * 8 + login[-4:]


async def test_a_group_purchase_checked_ordered_paid_and_invoiced(
    browser: Any, page: Any, e2e_server: Server, priced_plan: str, tmp_path: Path, shot: Any
) -> None:
    suffix = secrets.token_hex(2)
    first, second = staff_of_the_demo_employer(e2e_server, f"钱{suffix}", f"孙{suffix}")
    await sign_in(page, *ADMIN)
    await page.get_by_role("navigation").get_by_role("link", name="团购与订单").click()
    await expect(page.get_by_role("heading", name="团购学习计划")).to_be_visible()
    await page.get_by_label("学习计划", exact=True).select_option(priced_plan)
    await expect(page.get_by_label("学习计划", exact=True)).to_contain_text("每人 ¥33.00")
    await page.get_by_label("身份证号或手机号，每行一个").fill(f"{first}\n{second}\n{BAD_ID}")

    # Checked: two can be bought, the bad line says why, in Chinese; its error file.
    await page.get_by_role("button", name="核对名单").click()
    result = page.locator("#purchase-result")
    await expect(result).to_contain_text("可购买 2 人，合计 ¥66.00（每人 ¥33.00）；1 行无法购买")
    await expect(result).to_contain_text(f"第 3 行（{BAD_ID}）：校验位应为 3，而不是 4")
    async with page.expect_download() as waiting:
        await result.get_by_role("link", name="下载错误文件").click()
    saved = tmp_path / "errors.xlsx"
    await (await waiting.value).save_as(str(saved))
    rows = list(load_workbook(saved).worksheets[0].iter_rows(values_only=True))
    assert rows[1][0] == "行号 Line" and (str(rows[2][0]), rows[2][1]) == ("3", BAD_ID)
    await shot(page, "17-group-purchase-checked")

    # Ordered: the number, the amount and how to pay; the order heads the list.
    await page.get_by_role("button", name="下单", exact=True).click()
    await expect(result).to_contain_text("已提交：2 人，金额 ¥66.00。")
    await expect(result).to_contain_text("请在转账附言中填写订单号")
    found = re.search(r"订单 (\d{16}) 已提交", await result.inner_text())
    assert found is not None
    number = found.group(1)
    row = page.locator(f'tr[data-order="{number}"]')
    await expect(row).to_contain_text("待支付")
    await expect(row).to_contain_text("¥66.00")
    await shot(page, "18-group-purchase-placed")

    # The operator matches the transfer: a wrong amount is refused with the API's words.
    operator = await browser.new_context(
        base_url=e2e_server.url, viewport={"width": 1280, "height": 900}, locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )  # fmt: skip
    try:
        desk = await operator.new_page()
        await sign_in(desk, *OPERATOR)
        await desk.get_by_role("navigation").get_by_role("link", name="订单管理").click()
        await desk.get_by_label("单位", exact=True).fill(DEMO_EMPLOYER)
        await desk.get_by_role("button", name="筛选").click()
        await desk.get_by_role("button", name=f"确认订单 {number} 到账").click()
        dialog = desk.locator("#pay-dialog")
        await expect(dialog).to_contain_text(f"订单 {number} · 应付 ¥66.00")
        reference = f"E2E-{secrets.token_hex(4)}"
        await dialog.get_by_label("银行流水号").fill(reference)
        await dialog.get_by_label("到账金额（元）").fill("65")
        await dialog.get_by_role("button", name="确认到账").click()
        await expect(dialog).to_contain_text("付款金额 65.00 元与订单金额 66.00 元不符")
        await dialog.get_by_label("到账金额（元）").fill("66.00")
        await dialog.get_by_role("button", name="确认到账").click()
        await expect(desk.locator("#action-status")).to_contain_text(f"订单 {number} 已确认到账")
        await expect(desk.locator(f'tr[data-order="{number}"]')).to_contain_text("已支付")

        # The administrator sees it paid and asks for the invoice.
        await page.reload()
        await expect(row).to_contain_text("已支付")
        await row.get_by_role("button", name=f"申请发票 · {number}").click()
        invoice = page.locator("#invoice-dialog")
        await expect(invoice.get_by_label("发票抬头")).to_have_value(DEMO_EMPLOYER)
        await expect(invoice).to_contain_text("申请后 15 日内可修改 1 次")
        await invoice.get_by_role("button", name="提交").click()  # no taxpayer number
        await expect(invoice).to_contain_text("单位发票须填写纳税人识别号")
        await invoice.get_by_label("纳税人识别号（统一社会信用代码）").fill(TAX_ID.lower())
        await invoice.get_by_label("接收发票的邮箱（选填）").fill("hr@example.cn")
        await invoice.get_by_role("button", name="提交").click()
        await expect(page.locator("#action-status")).to_contain_text(f"已为订单 {number} 申请发票")
        await expect(row).to_contain_text("已申请，待开具")
        await row.get_by_role("link", name=number).click()
        await expect(page.get_by_role("heading", name=f"订单 {number}")).to_be_visible()
        lines = page.locator("#lines-table")
        await expect(lines).to_contain_text(f"钱{suffix}")
        await expect(lines).to_contain_text(masked(first))
        assert first not in await page.content()
        history = page.locator("#history-table")
        await expect(history).to_contain_text(f"流水号 {reference}，金额 ¥66.00")
        await expect(history).to_contain_text(f"纳税人识别号：{TAX_ID}")
        await shot(page, "19-group-order-detail")

        # The operator writes the invoice number back and exports the year's invoices.
        await desk.reload()
        await desk.get_by_role("button", name=f"回填订单 {number} 的发票号码").click()
        issue = desk.locator("#issue-dialog")
        await issue.get_by_label("发票号码").fill(f"INV-{suffix}")
        await issue.get_by_role("button", name="保存").click()
        await expect(desk.locator(f'tr[data-order="{number}"]')).to_contain_text(
            f"已开具（号码 INV-{suffix}）"
        )
        async with desk.expect_download() as waiting:
            await desk.get_by_role("link", name="下载 CSV").click()
        exported = tmp_path / "invoices.csv"
        await (await waiting.value).save_as(str(exported))
        assert f"{number}," in exported.read_text(encoding="utf-8-sig")
        await shot(desk, "20-operator-orders")
    finally:
        await operator.close()


async def test_a_learner_buys_a_priced_plan_asks_for_the_invoice_and_cancels(
    page: Any, new_learner: Any, priced_plan: str, shot: Any
) -> None:
    learner = new_learner()
    await sign_in(page, learner.login, PASSWORD)
    await page.goto("/learner/plans")
    offer = page.locator(f'li.offer[data-plan="{priced_plan}"]')
    await expect(offer).to_contain_text("价格：¥33.00")
    await offer.get_by_role("button", name=f"购买“{TITLE}”（¥33.00）").click()
    status = page.locator("#action-status")
    await expect(status).to_contain_text("已提交，金额 ¥33.00")
    found = re.search(r"订单 (\d{16}) 已提交", await status.inner_text())
    assert found is not None
    number = found.group(1)
    mine = page.locator(f"#order-{number}")
    await expect(mine).to_contain_text("待支付")
    await expect(mine).to_contain_text(f"请在转账附言中填写订单号 {number}。")
    await expect(offer).to_contain_text(f"已下单，待付款（订单 {number}）")

    await mine.get_by_role("button", name=f"申请发票 · {number}").click()
    invoice = page.locator("#invoice-dialog")
    await expect(invoice.get_by_label("发票抬头")).to_have_value(f"个人 学员 {learner.login}")
    await invoice.get_by_role("button", name="提交").click()
    await expect(mine).to_contain_text("已申请，待开具")
    await shot(page, "21-learner-bought")

    page.once("dialog", lambda dialog: dialog.accept())
    await mine.get_by_role("button", name=f"取消订单 {number}").click()
    await expect(status).to_contain_text(f"订单 {number} 已取消。")
    await expect(page.locator(f"#order-{number}")).to_contain_text("已取消")
    await expect(offer.get_by_role("button", name=f"购买“{TITLE}”（¥33.00）")).to_be_visible()
