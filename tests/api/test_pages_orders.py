"""The order pages without a browser (the browser journeys are tests/e2e/test_orders.py):
who may open them, and what they show — prices and amounts in yuan, states in words,
times labelled in Beijing time, names and masked ID numbers, never a whole ID number —
in Chinese and in English, every form control labelled."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import select

from api.cli.demo import DEMO_PLAN
from api.services.passwords import hash_password
from api.settings import PaymentSettings, Settings
from api.store.db import standalone_transaction
from api.store.tables import Plan as PlanRow
from api.store.tables import User
from tests.api.test_employer import LI, OTHER, PASSWORD, WANG, sign_in, world
from tests.api.test_pages_author import assert_labelled

Client = AsyncTestClient[Litestar]
PRICE = 3300
TAX_ID = "12500000MA5U3K5R7B"


@pytest.fixture
def app_settings(settings_sqlite: Settings) -> Settings:
    security = msgspec.structs.replace(settings_sqlite.security, login_attempts_per_minute=10_000)
    return settings_sqlite.replace(
        security=security,
        payments=PaymentSettings(transfer_payee="继续教育平台", transfer_bank="工商银行",
                                 transfer_account="3100 0000 0000"),
    )  # fmt: skip


def priced(settings: Settings, fen: int = PRICE, basis: str = "person") -> None:
    world(settings)
    with standalone_transaction(settings.database) as db:
        plan = db.exec(select(PlanRow).where(PlanRow.key == DEMO_PLAN)).one()
        plan.price_fen, plan.price_basis = fen, basis
        db.add(plan)


async def switch(client: Client, login: str) -> None:
    await client.post("/auth/logout")
    await sign_in(client, login)


async def html(client: Client, url: str) -> str:
    response = await client.get(url)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def whole(login: str) -> str:
    """A masked ID number as the pages show it."""
    return login[:6] + "*" * 8 + login[-4:]


async def group_order(client: Client, logins: str, **extra: Any) -> dict[str, Any]:
    placed = await client.post(
        "/api/employer/orders", json={"plan": DEMO_PLAN, "logins": logins, **extra}
    )
    assert placed.status_code == 201, placed.text
    order: dict[str, Any] = placed.json()["order"]
    return order


# --------------------------------------------------------------------------- guards
@pytest.mark.parametrize("url", ["/employer/orders", "/operator/orders"])
async def test_a_visitor_is_sent_to_sign_in_and_back(
    app_client: Client, app_settings: Settings, url: str
) -> None:
    world(app_settings)
    answer = await app_client.get(url, follow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["location"] == "/login?next=" + url.replace("/", "%2F")


async def test_each_order_page_is_for_its_own_role(
    app_client: Client, app_settings: Settings
) -> None:
    world(app_settings)
    for login, url, home in (
        (LI, "/employer/orders", "/learner/exams"),
        (LI, "/operator/orders", "/learner/exams"),
        ("operator1", "/employer/orders", "/proctor"),
        ("admin1", "/operator/orders", "/employer"),
    ):
        await switch(app_client, login)
        answer = await app_client.get(url, follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (302, home), (login, url)


# ------------------------------------------------------------------------- employer
async def test_the_group_purchase_offers_the_priced_plans_with_their_price(
    app_client: Client, app_settings: Settings
) -> None:
    priced(app_settings)
    await sign_in(app_client, "admin1")
    page = await html(app_client, "/employer/orders")
    assert "团购学习计划" in page and "2026 年公需科目（演示）（2026 年度）· 每人 ¥33.00" in page
    assert '<label for="purchase-logins">身份证号或手机号，每行一个</label>' in page
    assert "没有符合条件的订单。" in page
    assert_labelled(page)
    english = await html(app_client, "/employer/orders?lang=en")
    assert "2026 年公需科目（演示） (2026) · ¥33.00 a person" in english
    assert "Check the list" in english and "Place the order" in english
    # A priced plan is bought, not enrolled: the staff page's enrolment offers it no more.
    staff = await html(app_client, "/employer?lang=zh")
    enrol_section = staff[staff.index('id="enroll-title"') :]
    assert f'<option value="{DEMO_PLAN}">' not in enrol_section
    assert "目前没有免费的学习计划。" in staff
    assert 'href="/employer/orders"' in staff


async def test_a_plan_priced_by_the_hour_shows_a_persons_price_and_the_hourly_one(
    app_client: Client, app_settings: Settings
) -> None:
    priced(app_settings, fen=150, basis="hour")  # the demo plan: 3 credit hours
    await sign_in(app_client, "admin1")
    page = await html(app_client, "/employer/orders")
    assert "每人 ¥4.50（每学时 ¥1.50）" in page


async def test_the_employers_orders_list_their_state_amount_time_and_invoice(
    app_client: Client, app_settings: Settings
) -> None:
    priced(app_settings)
    await sign_in(app_client, "admin1")
    order = await group_order(app_client, f"{LI}\n{WANG}")
    page = await html(app_client, "/employer/orders")
    row = page.split(f'data-order="{order["number"]}"')[1].split("</tr>")[0]
    assert "2026 年公需科目（演示）" in row and "2 人" in row and "¥66.00" in row
    assert "待支付" in row and "未申请" in row
    assert "下单时间（北京时间）" in page
    assert f'aria-label="取消订单 {order["number"]}"' in row
    assert 'data-action="invoice"' in row and 'data-mode="request"' in row
    assert 'data-title="一中"' in row  # the employer's name as the invoice's first title
    assert "申请后 15 日内可修改 1 次" in page
    assert LI not in page and WANG not in page
    english = await html(app_client, "/employer/orders?lang=en")
    assert "Awaiting payment" in english and "Placed at (China Standard Time, UTC+8)" in english
    # Filtered by state, the pending order is not among the paid ones.
    paid = await html(app_client, "/employer/orders?status=paid&lang=zh")
    assert order["number"] not in paid and "没有符合条件的订单。" in paid
    # Another employer's administrator lists nothing of it, nor opens it.
    await switch(app_client, "admin2")
    other = await html(app_client, f"/employer/orders?order={order['number']}&lang=zh")
    assert f"没有找到订单 {order['number']}，或您无权查看。" in other
    assert "李四" not in other


async def test_an_order_shows_its_people_masked_its_history_and_how_to_pay(
    app_client: Client, app_settings: Settings
) -> None:
    priced(app_settings)
    await sign_in(app_client, "admin1")
    order = await group_order(
        app_client, f"{LI}\n{WANG}\n{OTHER}",
        invoice={"title": "重庆市第一中学", "tax_id": "12500000MA5U3K5R7B"},
    )  # fmt: skip
    page = await html(app_client, f"/employer/orders?order={order['number']}")
    assert f"订单 {order['number']}" in page
    assert "李四" in page and "王五" in page and "赵六" not in page
    assert whole(LI) in page and whole(WANG) in page and LI not in page
    assert (
        f"请在转账附言中填写订单号 {order['number']}。" in page and "账号：3100 0000 0000" in page
    )
    assert "下单时间" in page and "（北京时间）" in page
    assert "下单" in page and "2 人，金额 ¥66.00；另有 1 行未能购买" in page
    assert "申请发票" in page and "抬头：重庆市第一中学；纳税人识别号：12500000MA5U3K5R7B" in page
    assert "staff admin1" in page  # who did it, by name
    assert 'data-mode="correct"' in page  # asked with the order: it may be corrected once
    english = await html(app_client, f"/employer/orders?order={order['number']}&lang=en")
    assert f"Write the order number {order['number']} as the transfer" in english
    assert "People on the order (2)" in english and "Order placed" in english


# ------------------------------------------------------------------------- operator
async def test_operators_see_every_order_confirm_and_issue_and_export(
    app_client: Client, app_settings: Settings
) -> None:
    priced(app_settings)
    await sign_in(app_client, "admin1")
    order = await group_order(app_client, LI)
    await switch(app_client, OTHER)
    own = await app_client.post("/api/me/orders", json={"plan": DEMO_PLAN})
    assert own.status_code == 201, own.text
    await switch(app_client, "operator1")
    page = await html(app_client, "/operator/orders")
    assert order["number"] in page and own.json()["number"] in page
    assert "一中" in page and "个人" in page and "赵六" in page
    assert f'aria-label="确认订单 {order["number"]} 到账"' in page
    assert 'data-amount="¥33.00"' in page
    assert "/api/operator/invoices?year=" in page and "format=xlsx" in page and "format=csv" in page
    assert_labelled(page)
    only = await html(app_client, "/operator/orders?employer=一中")
    assert order["number"] in only and own.json()["number"] not in only
    # Paid, with an invoice asked for: the operator may refund it or write the number back.
    paid = await app_client.post(f"/api/operator/orders/{order['number']}/payments",
                                 json={"reference": "BANK-1", "amount_fen": PRICE})  # fmt: skip
    assert paid.status_code == 200, paid.text
    asked = await app_client.post(
        f"/api/orders/{order['number']}/invoice", json={"title": "一中", "tax_id": TAX_ID}
    )
    assert asked.status_code == 201, asked.text
    page = await html(app_client, "/operator/orders?status=paid")
    assert f'aria-label="回填订单 {order["number"]} 的发票号码"' in page
    assert f'aria-label="订单 {order["number"]} 退款"' in page
    detail = await html(app_client, f"/operator/orders?order={order['number']}")
    assert "确认到账" in detail and "流水号 BANK-1，金额 ¥33.00" in detail
    assert "支付时间" in detail
    proctor = await html(app_client, "/proctor")
    assert 'href="/operator/orders"' in proctor


async def test_a_proctor_has_no_orders_link(app_client: Client, app_settings: Settings) -> None:
    world(app_settings)
    with standalone_transaction(app_settings.database) as db:
        db.add(User(login="proctor1", display_name="监考", roles=["proctor"],
                    password_hash=hash_password(PASSWORD), must_change_password=False))  # fmt: skip
    await sign_in(app_client, "proctor1")
    assert 'href="/operator/orders"' not in await html(app_client, "/proctor")


# -------------------------------------------------------------------------- learner
async def test_a_learner_sees_a_priced_plans_price_buys_it_and_sees_how_to_pay(
    app_client: Client, app_settings: Settings
) -> None:
    priced(app_settings)
    await sign_in(app_client, LI)
    page = await html(app_client, "/learner/plans")
    offer = page.split(f'data-plan="{DEMO_PLAN}"')[1].split("</li>")[0]
    assert "价格：¥33.00" in offer and 'data-action="buy"' in offer
    assert "使用激活码" in page  # the code form stays
    assert "我的订单" not in page
    bought = await app_client.post("/api/me/orders", json={"plan": DEMO_PLAN})
    number = bought.json()["number"]
    page = await html(app_client, "/learner/plans")
    offer = page.split(f'data-plan="{DEMO_PLAN}"')[1].split("</li>")[0]
    assert f"已下单，待付款（订单 {number}）" in offer and 'data-action="buy"' not in offer
    mine = page.split(f'id="order-{number}"')[1].split("</li>\n  \n  </ul>")[0]
    assert "我的订单" in page and "待支付" in mine and "金额：¥33.00" in mine
    assert f"请在转账附言中填写订单号 {number}。" in mine
    assert "下单时间：" in mine and "（北京时间）" in mine
    assert 'data-title="个人 李四"' in mine  # the invoice's title for a person
    assert f'aria-label="取消订单 {number}"' in mine
    english = await html(app_client, "/learner/plans?lang=en")
    assert "My orders" in english and f"Ordered, awaiting payment (order {number})" in english
    assert "Awaiting payment" in english


async def test_a_free_plan_is_offered_for_enrolment_and_an_employers_order_is_shown(
    app_client: Client, app_settings: Settings
) -> None:
    world(app_settings)  # the demo plan is free
    await sign_in(app_client, LI)
    page = await html(app_client, "/learner/plans")
    offer = page.split(f'data-plan="{DEMO_PLAN}"')[1].split("</li>")[0]
    assert "免费" in offer and 'data-action="enroll"' in offer
    with standalone_transaction(app_settings.database) as db:
        plan = db.exec(select(PlanRow).where(PlanRow.key == DEMO_PLAN)).one()
        plan.price_fen = PRICE
        db.add(plan)
    await switch(app_client, "admin1")
    order = await group_order(app_client, LI)
    await switch(app_client, LI)
    page = await html(app_client, "/learner/plans")
    offer = page.split(f'data-plan="{DEMO_PLAN}"')[1].split("</li>")[0]
    assert f"单位已为您下单（订单 {order['number']}），正在等待单位付款。" in offer
    assert 'data-action="buy"' not in offer
