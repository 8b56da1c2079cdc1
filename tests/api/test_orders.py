"""Orders over HTTP: an employer's group purchase (pasted ID numbers checked line by line,
the error file, one order), a learner's own order, a bank transfer confirmed by an
operator (idempotent), cancelling, refunding, a provider's signed callback, invoices
and their rules, and who may see which order."""

from __future__ import annotations

import hashlib
import hmac
import io
import threading
from collections.abc import Mapping
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from openpyxl import load_workbook
from sqlmodel import col, select

from api.cli.demo import DEMO_PLAN
from api.services import orders
from api.services.payments import PayInstructions, PaymentNotice, Providers, load_providers
from api.settings import PaymentSettings, Settings
from api.store.db import standalone_transaction
from api.store.tables import (
    Chapter,
    ChapterProgress,
    Invoice,
    OrderLine,
    Payment,
    PlanEnrollment,
    PurchaseOrder,
    User,
)
from api.store.tables import Plan as PlanRow
from examengine.clock import year_of
from examengine.commerce import CommerceError
from tests.api.test_employer import LI, OTHER, WANG, resident_id, sign_in, world

Client = AsyncTestClient[Litestar]
PRICE = 3300  # 33 yuan a person (source 000)
SECRET = b"provider test secret"


# ------------------------------------------------------- a provider with a signature
class SignedProvider:
    """An online provider as the interface expects one: it signs its notices with
    HMAC-SHA256 over the body (a real check, of the scheme most providers use)."""

    name, title, title_zh = "signed", "Signed test provider", "签名测试支付"

    def instructions(self, *, order: str, amount_fen: int) -> PayInstructions:
        return PayInstructions(
            provider=self.name,
            title=self.title,
            title_zh=self.title_zh,
            lines=(),
            lines_zh=(),
            url=f"https://pay.example/{order}",
        )

    def notice(self, body: bytes, headers: Mapping[str, str]) -> PaymentNotice:
        wanted = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(wanted, headers.get("x-signature", "")):
            raise CommerceError("callback_refused", "bad signature", "签名不符")
        return msgspec.json.decode(body, type=PaymentNotice)


def signed_provider(_settings: Settings) -> SignedProvider:
    return SignedProvider()


@pytest.fixture
def app_settings(settings_sqlite: Settings) -> Settings:
    security = msgspec.structs.replace(settings_sqlite.security, login_attempts_per_minute=10_000)
    return settings_sqlite.replace(
        security=security,
        payments=PaymentSettings(
            providers=("tests.api.test_orders:signed_provider",),
            transfer_payee="继续教育平台",
            transfer_bank="工商银行",
            transfer_account="3100 0000 0000",
        ),
    )


def priced(settings: Settings, fen: int = PRICE, basis: str = "person") -> None:
    """The world of test_employer, the demo plan priced."""
    world(settings)
    with standalone_transaction(settings.database) as db:
        plan = db.exec(select(PlanRow).where(PlanRow.key == DEMO_PLAN)).one()
        plan.price_fen, plan.price_basis = fen, basis
        db.add(plan)


async def buy(client: Client, logins: str, **extra: Any) -> Any:
    return await client.post(
        "/api/employer/orders", json={"plan": DEMO_PLAN, "logins": logins, **extra}
    )


async def confirm(client: Client, number: str, amount: int, reference: str = "BANK-001") -> Any:
    return await client.post(
        f"/api/operator/orders/{number}/payments",
        json={"reference": reference, "amount_fen": amount},
    )


async def switch(client: Client, login: str) -> None:
    await client.post("/auth/logout")
    await sign_in(client, login)


def enrolled(settings: Settings) -> set[str]:
    """Which of this test's learners study the plan (the demo's own learner aside)."""
    with standalone_transaction(settings.database) as db:
        return {LI, WANG, OTHER} & set(
            db.exec(
                select(User.login).join(PlanEnrollment, col(PlanEnrollment.learner_id) == User.id)
            )
        )


# ------------------------------------------------------------------- group purchase
async def test_a_group_purchase_orders_the_good_lines_and_reports_the_others(
    app_client: Client, app_settings: Settings
) -> None:
    priced(app_settings)
    await sign_in(app_client, "admin1")
    nobody = resident_id("11010119900101001")
    pasted = f"{LI}\n{WANG.lower()}\n{OTHER}\n110101199003071234\n{LI}\n{nobody}"
    placed = await buy(app_client, pasted)
    assert placed.status_code == 201, placed.text
    order, check = placed.json()["order"], placed.json()["check"]
    assert (order["kind"], order["state"], order["learners"]) == ("group", "pending", 2)
    assert (order["amount_fen"], order["amount"], order["employer"]) == (6600, "66.00", "一中")
    assert order["buyer"] == "staff admin1" and len(order["number"]) == 16
    assert order["pay"]["provider"] == "offline_transfer"
    assert f"请在转账附言中填写订单号 {order['number']}。" in order["pay"]["lines_zh"]
    assert "账号：3100 0000 0000" in order["pay"]["lines_zh"]
    by_line = {x["line"]: x for x in check["lines"]}
    assert (check["ok"], check["failed"]) == (2, 4)
    assert (
        by_line[3]["code"] == "not_your_staff"
        and by_line[3]["reason_zh"] == "该人员不是本单位的学员"
    )
    assert by_line[4]["code"] == "id_checksum"
    assert (by_line[5]["code"], by_line[5]["reason_zh"]) == ("listed_twice", "与第 1 行重复")
    assert by_line[6]["code"] == "no_account"
    assert by_line[6]["reason"].startswith("no account has this ID number")
    # The same people again: each is on the waiting order, and nothing is bought.
    again = await buy(app_client, f"{LI}\n{WANG}")
    assert (again.status_code, again.json()["code"]) == (422, "nothing_to_buy")
    assert [e["code"] for e in again.json()["errors"]] == ["on_order", "on_order"]
    assert again.json()["errors"][0]["message_zh"] == f"已在待支付订单 {order['number']} 中"
    # Unpaid, nobody studies yet: a priced plan is not entered by enrolling either.
    assert enrolled(app_settings) == set()
    refused = await app_client.post(
        "/api/employer/enrollments", json={"plan": DEMO_PLAN, "logins": LI}
    )
    assert (refused.status_code, refused.json()["code"]) == (402, "purchase_required")
    assert "每人 33.00 元" in refused.json()["detail_zh"]


async def test_the_error_file_lists_the_lines_to_fix_and_pastes_back_clean(
    app_client: Client, app_settings: Settings
) -> None:
    priced(app_settings)
    await sign_in(app_client, "admin1")
    checked = await app_client.post(
        "/api/employer/orders/check",
        params={"format": "xlsx"},
        json={"plan": DEMO_PLAN, "logins": f"{LI}\n{OTHER}\nabc"},
    )
    assert checked.status_code == 200, checked.text
    rows = list(
        load_workbook(io.BytesIO(checked.content)).worksheets[0].iter_rows(values_only=True)
    )
    assert rows[1] == ("行号 Line", "身份证号/手机号 ID or mobile", "姓名 Name", "错误原因 Reason")
    assert [(r[0], r[1]) for r in rows[2:]] == [(2, OTHER), (3, "abc")]
    assert str(rows[2][3]).startswith("该人员不是本单位的学员 / ")
    # Fixed (the wrong lines dropped), the list checks clean and is bought whole.
    clean = await app_client.post(
        "/api/employer/orders/check", json={"plan": DEMO_PLAN, "logins": f"{LI}\n{WANG}"}
    )
    assert (clean.json()["ok"], clean.json()["failed"], clean.json()["amount_fen"]) == (2, 0, 6600)


async def test_a_confirmed_transfer_pays_the_order_once_and_enrolls_its_staff(
    app_client: Client, app_settings: Settings
) -> None:
    priced(app_settings)
    await sign_in(app_client, "admin1")
    number = (await buy(app_client, f"{LI}\n{WANG}")).json()["order"]["number"]
    await switch(app_client, "operator1")
    short = await confirm(app_client, number, 6599)
    assert (short.status_code, short.json()["code"]) == (409, "amount_mismatch")
    assert short.json()["detail_zh"] == "付款金额 65.99 元与订单金额 66.00 元不符"
    paid = await confirm(app_client, number, 6600)
    assert (paid.status_code, paid.json()["state"], paid.json()["pay"]) == (200, "paid", None)
    assert enrolled(app_settings) == {LI, WANG}
    twice = await confirm(app_client, number, 6600)  # the same statement line again
    assert (twice.status_code, twice.json()["state"]) == (200, "paid")
    with standalone_transaction(app_settings.database) as db:
        assert len(db.exec(select(Payment)).all()) == 1
    cancel = await app_client.post(f"/api/orders/{number}/cancel")
    assert (cancel.status_code, cancel.json()["code"]) == (409, "order_state")
    # The staff list shows the plan; the order's history says who did what.
    await switch(app_client, "admin1")
    detail = (await app_client.get(f"/api/orders/{number}")).json()
    assert [e["kind"] for e in detail["events"]] == ["created", "paid"]
    assert detail["events"][1]["actor"] == "staff operator1"
    assert detail["events"][1]["detail"]["reference"] == "BANK-001"
    assert {x["login"] for x in detail["lines"]} == {
        LI[:6] + "*" * 8 + LI[-4:],
        WANG[:6] + "*" * 8 + WANG[-4:],
    }
    bought = await buy(app_client, LI)
    assert bought.json()["errors"][0]["code"] == "bought"


async def test_an_administrator_sees_only_their_own_employers_orders(
    app_client: Client, app_settings: Settings
) -> None:
    priced(app_settings)
    await sign_in(app_client, "admin1")
    number = (await buy(app_client, LI)).json()["order"]["number"]
    await switch(app_client, "admin2")
    assert (await app_client.get(f"/api/orders/{number}")).status_code == 404
    assert (await app_client.post(f"/api/orders/{number}/cancel")).status_code == 404
    listed = (await app_client.get("/api/employer/orders")).json()
    assert listed["total"] == 0
    await switch(app_client, OTHER)  # a learner of another employer
    assert (await app_client.get(f"/api/orders/{number}")).status_code == 404
    await switch(app_client, LI)  # the learner on it does not manage it either
    assert (await app_client.get(f"/api/orders/{number}")).status_code == 404
    await switch(app_client, "admin1")
    mine = (await app_client.get("/api/employer/orders", params={"status": "pending"})).json()
    assert [o["number"] for o in mine["orders"]] == [number]
    cancelled = await app_client.post(f"/api/orders/{number}/cancel")
    assert cancelled.json()["state"] == "cancelled"
    # Cancelled, the place is free: the person can be bought again.
    assert (await buy(app_client, LI)).status_code == 201


def test_two_administrators_buying_for_the_same_people_at_once_make_one_order(
    db_url: str, app_settings: Settings
) -> None:
    settings = app_settings.replace(
        database=msgspec.structs.replace(app_settings.database, url=db_url)
    )
    priced(settings)
    providers = load_providers(settings)
    with standalone_transaction(settings.database) as db:
        admins = [
            db.exec(select(User).where(User.login == a)).one().id for a in ("admin1", "operator1")
        ]
    barrier, outcomes = threading.Barrier(2), []  # type: ignore[var-annotated]

    def buy_at_once(buyer: int | None, employer: str | None) -> None:
        assert buyer is not None
        barrier.wait()
        try:
            with standalone_transaction(settings.database) as db:
                placed = orders.place_group(
                    db,
                    employer=employer,
                    plan=DEMO_PLAN,
                    logins=[LI, WANG],
                    buyer_id=buyer,
                    providers=providers,
                    provider="offline_transfer",
                    now=1_800_000_000_000,
                )
            outcomes.append(("ordered", placed.order.learners))
        except orders.PurchaseRefusedError as refused:
            outcomes.append(("refused", tuple(p.code for p in refused.problems)))

    threads = [
        threading.Thread(target=buy_at_once, args=(admins[0], "一中")),
        threading.Thread(target=buy_at_once, args=(admins[1], None)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == [("ordered", 2), ("refused", ("on_order", "on_order"))]
    with standalone_transaction(settings.database) as db:
        assert len(db.exec(select(PurchaseOrder)).all()) == 1
        assert len(db.exec(select(OrderLine).where(col(OrderLine.active))).all()) == 2


# -------------------------------------------------------------- a learner's own order
async def test_a_learner_buys_a_plan_cancels_buys_again_and_is_refunded(
    app_client: Client, app_settings: Settings
) -> None:
    priced(app_settings, fen=150, basis="hour")  # 1.5 yuan a credit hour (source 001)
    await sign_in(app_client, LI)
    free = await app_client.post(f"/api/me/plans/{DEMO_PLAN}")
    assert (free.status_code, free.json()["code"]) == (402, "purchase_required")
    placed = await app_client.post("/api/me/orders", json={"plan": DEMO_PLAN})
    assert placed.status_code == 201, placed.text
    order = placed.json()
    with standalone_transaction(app_settings.database) as db:
        plan = db.exec(select(PlanRow).where(PlanRow.key == DEMO_PLAN)).one()
        hours = plan.required_hours + plan.elective_hours
    assert order["amount_fen"] == round(150 * hours) and order["kind"] == "individual"
    same = await app_client.post("/api/me/orders", json={"plan": DEMO_PLAN})
    assert same.json()["number"] == order["number"]  # the waiting one, not a second
    assert (await app_client.post(f"/api/orders/{order['number']}/cancel")).json()[
        "state"
    ] == "cancelled"
    order = (await app_client.post("/api/me/orders", json={"plan": DEMO_PLAN})).json()
    mine = (await app_client.get("/api/me/orders")).json()
    assert [o["state"] for o in mine["orders"]] == ["pending", "cancelled"]
    await switch(app_client, "operator1")
    assert (await confirm(app_client, order["number"], order["amount_fen"])).json()[
        "state"
    ] == "paid"
    assert LI in enrolled(app_settings)
    refunded = await app_client.post(
        f"/api/operator/orders/{order['number']}/refund",
        json={"reason": "学员申请退款", "reference": "REFUND-1"},
    )
    assert refunded.json()["state"] == "refunded", refunded.text
    assert LI not in enrolled(app_settings)  # the plan and its exam are left
    again = await app_client.post(
        f"/api/operator/orders/{order['number']}/refund",
        json={"reason": "学员申请退款", "reference": "REFUND-1"},
    )
    assert again.json()["state"] == "refunded"  # told twice: nothing more happens


async def test_a_refund_is_refused_once_the_plan_has_been_studied(
    app_client: Client, app_settings: Settings
) -> None:
    priced(app_settings)
    await sign_in(app_client, "admin1")
    number = (await buy(app_client, f"{LI}\n{WANG}")).json()["order"]["number"]
    await switch(app_client, "operator1")
    await confirm(app_client, number, 2 * PRICE)
    with standalone_transaction(app_settings.database) as db:
        li = db.exec(select(User).where(User.login == LI)).one()
        chapter = db.exec(select(Chapter)).first()
        assert li.id is not None and chapter is not None and chapter.id is not None
        db.add(
            ChapterProgress(learner_id=li.id, chapter_id=chapter.id, cycle=1, credited_ms=60_000)
        )
    refused = await app_client.post(
        f"/api/operator/orders/{number}/refund", json={"reason": "单位申请退款", "reference": "R-2"}
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "plan_used")
    assert "李四" in refused.json()["detail_zh"]
    assert enrolled(app_settings) == {LI, WANG}


# --------------------------------------------------------------- provider callbacks
async def test_a_signed_callback_pays_once_and_a_forged_one_is_refused(
    app_client: Client, app_settings: Settings
) -> None:
    priced(app_settings)
    await sign_in(app_client, LI)
    order = (
        await app_client.post("/api/me/orders", json={"plan": DEMO_PLAN, "provider": "signed"})
    ).json()
    assert order["pay"]["url"] == f"https://pay.example/{order['number']}"
    app_client.cookies.clear()  # the provider's server has no session
    body = msgspec.json.encode({"order": order["number"], "reference": "TX-9", "amount_fen": PRICE})
    forged = await app_client.post(
        "/api/payments/signed/callback", content=body, headers={"x-signature": "0" * 64}
    )
    assert (forged.status_code, forged.json()["code"]) == (403, "callback_refused")
    signature = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    for _ in range(3):  # providers repeat a notice until they are answered
        told = await app_client.post(
            "/api/payments/signed/callback", content=body, headers={"x-signature": signature}
        )
        assert (told.status_code, told.json()) == (200, {"order": order["number"], "state": "paid"})
    with standalone_transaction(app_settings.database) as db:
        assert len(db.exec(select(Payment)).all()) == 1
    transfer = await app_client.post("/api/payments/offline_transfer/callback", content=body)
    assert (transfer.status_code, transfer.json()["code"]) == (403, "callback_refused")
    unknown = await app_client.post("/api/payments/nobody/callback", content=body)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "provider_unknown")


# ------------------------------------------------------------------------- invoices
async def test_invoices_asked_with_the_order_corrected_once_issued_and_exported(
    app_client: Client, app_settings: Settings
) -> None:
    priced(app_settings)
    await sign_in(app_client, "admin1")
    no_tax_id = await buy(app_client, LI, invoice={"title": "重庆市第一中学"})
    assert (no_tax_id.status_code, no_tax_id.json()["code"]) == (422, "tax_id")
    assert no_tax_id.json()["detail_zh"] == "单位发票须填写纳税人识别号（统一社会信用代码）"
    with standalone_transaction(app_settings.database) as db:  # refused whole: no order
        assert db.exec(select(PurchaseOrder)).all() == []
    placed = await buy(
        app_client, LI, invoice={"title": "重庆市第一中学", "tax_id": "12500000ma5u3k5r7b"}
    )
    order = placed.json()["order"]
    assert (order["invoice"]["tax_id"], order["invoice"]["state"]) == (
        "12500000MA5U3K5R7B",
        "requested",
    )
    number = order["number"]
    twice = await app_client.post(
        f"/api/orders/{number}/invoice", json={"title": "x", "tax_id": "12500000MA5U3K5R7B"}
    )
    assert (twice.status_code, twice.json()["code"]) == (409, "invoice_exists")
    fixed = await app_client.put(
        f"/api/orders/{number}/invoice",
        json={
            "title": "重庆市第一中学（本部）",
            "tax_id": "12500000MA5U3K5R7B",
            "email": "hr@example.cn",
        },
    )
    assert (fixed.status_code, fixed.json()["invoice"]["corrections"]) == (200, 1), fixed.text
    again = await app_client.put(
        f"/api/orders/{number}/invoice", json={"title": "又改", "tax_id": "12500000MA5U3K5R7B"}
    )
    assert (again.status_code, again.json()["code"]) == (409, "invoice_corrected_already")
    assert again.json()["detail_zh"] == "该发票已修改过一次，不能再次修改"
    await switch(app_client, "operator1")
    early = await app_client.post(
        f"/api/operator/orders/{number}/invoice/issue", json={"number": "INV-0001"}
    )
    assert (early.status_code, early.json()["code"]) == (409, "order_state")  # unpaid
    await confirm(app_client, number, PRICE)
    issued = await app_client.post(
        f"/api/operator/orders/{number}/invoice/issue", json={"number": "INV-0001"}
    )
    assert (
        issued.json()["invoice"]["state"] == "issued"
        and issued.json()["invoice"]["number"] == "INV-0001"
    )
    with standalone_transaction(app_settings.database) as db:
        paid_ms = db.exec(select(PurchaseOrder)).one().paid_ms
    assert paid_ms is not None
    year = year_of(paid_ms)
    exported = await app_client.get(
        "/api/operator/invoices", params={"year": year, "format": "csv"}
    )
    text = exported.content.decode("utf-8-sig")
    assert exported.headers["content-type"].startswith("text/csv")
    assert "重庆市第一中学（本部）,12500000MA5U3K5R7B,hr@example.cn,33.00,issued,INV-0001" in text
    workbook = await app_client.get(
        "/api/operator/invoices", params={"year": year, "format": "xlsx"}
    )
    rows = list(
        load_workbook(io.BytesIO(workbook.content)).worksheets[0].iter_rows(values_only=True)
    )
    assert rows[1][0] == number and rows[1][8] == "33.00"
    assert (await app_client.get("/api/operator/invoices", params={"year": year - 1})).json() == []
    detail = (await app_client.get(f"/api/orders/{number}")).json()
    assert [e["kind"] for e in detail["events"]] == [
        "created",
        "invoice_requested",
        "invoice_corrected",
        "paid",
        "invoice_issued",
    ]
    assert detail["events"][2]["detail"]["before"]["title"] == "重庆市第一中学"


async def test_an_invoice_is_not_asked_for_after_the_year_of_payment(
    app_client: Client, app_settings: Settings
) -> None:
    priced(app_settings)
    await sign_in(app_client, LI)
    number = (await app_client.post("/api/me/orders", json={"plan": DEMO_PLAN})).json()["number"]
    await switch(app_client, "operator1")
    await confirm(app_client, number, PRICE)
    with standalone_transaction(app_settings.database) as db:  # paid a year ago
        order = db.exec(select(PurchaseOrder)).one()
        assert order.paid_ms is not None
        order.paid_ms -= 366 * 86_400_000
        db.add(order)
    await switch(app_client, LI)
    late = await app_client.post(f"/api/orders/{number}/invoice", json={"title": "个人 李四"})
    assert (late.status_code, late.json()["code"]) == (409, "invoice_year_closed")
    assert "不能跨年补开" in late.json()["detail_zh"]
    bad = await app_client.post(
        f"/api/orders/{number}/invoice", json={"title": "个人", "email": "no"}
    )
    assert bad.status_code == 400 or bad.status_code == 422
    with standalone_transaction(app_settings.database) as db:
        assert db.exec(select(Invoice)).all() == []


def test_providers_are_the_transfer_and_the_configured_ones(app_settings: Settings) -> None:
    providers: Providers = load_providers(app_settings)
    assert providers.names() == ("offline_transfer", "signed")
    with pytest.raises(CommerceError) as unknown:
        providers.get("alipay")
    assert (
        unknown.value.message_zh == "没有名为 'alipay' 的支付方式（可用：offline_transfer, signed）"
    )
