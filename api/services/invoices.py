"""Electronic invoices (电子发票) for orders: asked for with the order or after its payment,
in the payment's year; corrected once within 15 days (``examengine.commerce`` holds the
rules); issued by the finance system from the export, its number written back by an
operator. Every request, correction and issue is an ``OrderEvent`` with what changed.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct
from sqlmodel import Session, col, select

from api.services.orders import OrderView, order_named, record_event, view, visible_order
from api.services.payments import Providers
from api.services.sheets import workbook
from api.store.tables import Invoice, PurchaseOrder, User
from api.store.tables import Plan as PlanRow
from examengine.clock import BEIJING, year_of
from examengine.commerce import (
    CommerceError,
    OrderState,
    check_invoice_correction,
    check_invoice_request,
    normal_tax_id,
    yuan,
)

_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class InvoiceRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The invoice's title (抬头: the employer's name, or 个人 and the person's name), the
    taxpayer number (required for an employer's title), and where to send it."""

    title: Annotated[str, Meta(min_length=1, max_length=100)]
    tax_id: Annotated[str, Meta(min_length=1, max_length=40)] | None = None
    email: Annotated[str, Meta(max_length=254, pattern=_EMAIL)] | None = None


class ExportRow(Struct, frozen=True, kw_only=True):
    order: str
    paid: str
    buyer: str
    employer: str
    plan: str
    title: str
    tax_id: str
    email: str
    amount: str
    state: str
    number: str
    requested: str
    corrections: int


def _clean(data: InvoiceRequest, *, group: bool) -> tuple[str, str | None, str | None]:
    # As typed, spaces tidied: a registered name keeps its full-width brackets (（本部）),
    # which the tax system matches exactly.
    title = " ".join(data.title.split())
    if not title:
        raise CommerceError("invoice_title", "the invoice needs a title (抬头)", "请填写发票抬头")
    tax_id = normal_tax_id(data.tax_id) if data.tax_id else None
    if group and tax_id is None:
        raise CommerceError(
            "tax_id",
            "an employer's invoice needs its taxpayer number (the unified social credit code)",
            "单位发票须填写纳税人识别号（统一社会信用代码）",
        )
    return title, tax_id, data.email


def _invoice_of(session: Session, order: PurchaseOrder) -> Invoice:
    invoice = session.exec(select(Invoice).where(Invoice.order_id == order.id)).first()
    if invoice is None:
        raise CommerceError(
            "invoice_not_found", "no invoice has been asked for this order", "该订单尚未申请发票"
        )
    return invoice


def request_invoice(
    session: Session,
    *,
    number: str,
    actor: User,
    data: InvoiceRequest,
    now: int,
    providers: Providers,
) -> OrderView:
    """Ask for the invoice of order ``number`` (its buyer, its employer's administrator,
    an operator): with the order while it waits for payment, or after, in the year of
    the payment."""
    order = visible_order(session, number, actor, lock=True)
    assert order.id is not None
    if order.state not in {OrderState.PENDING, OrderState.PAID}:
        raise CommerceError(
            "order_state",
            f"the order is {order.state}: it has nothing to invoice",
            "订单已取消或已退款，不能开具发票",
        )
    if session.exec(select(Invoice).where(Invoice.order_id == order.id)).first() is not None:
        raise CommerceError(
            "invoice_exists",
            "an invoice has been asked for already: correct it instead",
            "该订单已申请发票，如需更改请修改发票",
        )
    check_invoice_request(paid_ms=order.paid_ms, now_ms=now)
    title, tax_id, email = _clean(data, group=order.kind == "group")
    session.add(
        Invoice(
            order_id=order.id,
            title=title,
            tax_id=tax_id,
            email=email,
            amount_fen=order.amount_fen,
            requested_ms=now,
        )
    )
    record_event(
        session,
        order,
        "invoice_requested",
        actor_id=actor.id,
        now=now,
        detail={"title": title, "tax_id": tax_id, "email": email},
    )
    session.flush()
    return view(session, order, providers=providers)


def correct_invoice(
    session: Session,
    *,
    number: str,
    actor: User,
    data: InvoiceRequest,
    now: int,
    providers: Providers,
) -> OrderView:
    """Correct the invoice of order ``number``: once, within 15 days of the request, in
    its year. An invoice issued already goes back to the finance system to be issued
    again (the old one is reversed there); the event keeps what it was."""
    order = visible_order(session, number, actor, lock=True)
    invoice = _invoice_of(session, order)
    check_invoice_correction(
        requested_ms=invoice.requested_ms, corrections=invoice.corrections, now_ms=now
    )
    title, tax_id, email = _clean(data, group=order.kind == "group")
    before = {
        "title": invoice.title,
        "tax_id": invoice.tax_id,
        "email": invoice.email,
        "state": invoice.state,
        "number": invoice.number,
    }
    invoice.title, invoice.tax_id, invoice.email = title, tax_id, email
    invoice.corrections += 1
    invoice.state, invoice.number, invoice.issued_ms = "requested", None, None
    session.add(invoice)
    record_event(
        session,
        order,
        "invoice_corrected",
        actor_id=actor.id,
        now=now,
        detail={"before": before, "title": title, "tax_id": tax_id, "email": email},
    )
    session.flush()
    return view(session, order, providers=providers)


def issue_invoice(
    session: Session,
    *,
    number: str,
    invoice_number: str,
    actor_id: int,
    now: int,
    providers: Providers,
) -> OrderView:
    """Record the number the finance system gave the invoice of a paid order."""
    order = order_named(session, number, lock=True)
    invoice = _invoice_of(session, order)
    if order.state != OrderState.PAID:
        raise CommerceError(
            "order_state", "only a paid order's invoice is issued", "订单支付后才能开具发票"
        )
    if invoice.state == "issued":
        if invoice.number == invoice_number:
            return view(session, order, providers=providers)  # told twice
        raise CommerceError(
            "invoice_issued",
            f"invoice {invoice.number} is issued already",
            f"发票已开具（号码 {invoice.number}）",
        )
    invoice.state, invoice.number, invoice.issued_ms = "issued", invoice_number, now
    session.add(invoice)
    record_event(
        session,
        order,
        "invoice_issued",
        actor_id=actor_id,
        now=now,
        detail={"number": invoice_number},
    )
    session.flush()
    return view(session, order, providers=providers)


def _day(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def export(
    session: Session, *, year: int, state: Literal["requested", "issued"] | None = None
) -> list[ExportRow]:
    """The invoices of orders paid in ``year`` (China's calendar), for the finance
    system: oldest payment first."""
    query = (
        select(Invoice, PurchaseOrder, PlanRow.title, User.display_name)
        .join(PurchaseOrder, col(PurchaseOrder.id) == Invoice.order_id)
        .join(PlanRow, col(PlanRow.id) == PurchaseOrder.plan_id)
        .join(User, col(User.id) == PurchaseOrder.buyer_id, isouter=True)
        .where(PurchaseOrder.state == OrderState.PAID.value)
        .order_by(col(PurchaseOrder.paid_ms), col(PurchaseOrder.id))
    )
    if state is not None:
        query = query.where(Invoice.state == state)
    return [
        ExportRow(
            order=o.number,
            paid=_day(o.paid_ms),
            buyer=buyer or "",
            employer=o.employer or "",
            plan=plan,
            title=i.title,
            tax_id=i.tax_id or "",
            email=i.email or "",
            amount=yuan(i.amount_fen),
            state=i.state,
            number=i.number or "",
            requested=_day(i.requested_ms),
            corrections=i.corrections,
        )
        for i, o, plan, buyer in session.exec(query)
        if o.paid_ms is not None and year_of(o.paid_ms) == year
    ]


_HEADER = [
    "订单号 Order",
    "支付时间 Paid",
    "下单人 Buyer",
    "单位 Employer",
    "学习计划 Plan",
    "发票抬头 Title",
    "纳税人识别号 Tax ID",
    "邮箱 E-mail",
    "金额（元）Amount (yuan)",
    "状态 State",
    "发票号码 Invoice number",
    "申请时间 Requested",
    "修改次数 Corrections",
]


def _cells(rows: list[ExportRow]) -> list[list[str | int]]:
    return [
        [
            r.order,
            r.paid,
            r.buyer,
            r.employer,
            r.plan,
            r.title,
            r.tax_id,
            r.email,
            r.amount,
            r.state,
            r.number,
            r.requested,
            r.corrections,
        ]
        for r in rows
    ]


def export_xlsx(rows: list[ExportRow]) -> bytes:
    return workbook([_HEADER, *_cells(rows)], title="invoices")


def export_csv(rows: list[ExportRow]) -> bytes:
    """UTF-8 with a byte-order mark, so Excel on a Chinese Windows reads it right; a
    cell that a spreadsheet would run as a formula is quoted with a leading '."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_HEADER)
    for row in _cells(rows):
        writer.writerow([_safe(cell) for cell in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _safe(cell: str | int) -> str | int:
    if isinstance(cell, str) and re.match(r"^[=+\-@\t\r]", cell):
        return "'" + cell
    return cell
