"""Orders in the browser (docs/decisions/0026): an employer administrator's group purchase
and orders (``/employer/orders``), and the operators' orders page (``/operator/orders``:
confirm a bank transfer, refund, write back an invoice number, export the year's
invoices). A learner buys a plan on "My study plans" (``api.web.study``), which shares
the order rows, the invoice dialog and the words here.

Lists and an order's detail (``?order=`` on either page: its people, masked, and its
history) are rendered from ``api.services.orders``, the use cases of the JSON API; every
action goes through that API from ``/static/js/orders.js`` and ``/static/js/purchase.js``,
which then redraw the page's ``[data-refresh]`` parts from the server. Money is shown
as ``¥66.00``; times are Beijing time, labelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.response import Template
from sqlmodel import Session, col, select

from api.http.params import Filter, PageNumber
from api.services import orders
from api.services.orders import InvoiceView, OrderDetail, OrderPage, OrderView
from api.services.payments import Providers
from api.store.db import Uow
from api.store.tables import Plan as PlanRow
from api.store.tables import PurchaseOrder, User
from api.web import i18n
from api.web.common import PAGE_EXCEPTION_HANDLERS, page_principal, render
from examengine.clock import BEIJING
from examengine.commerce import (
    INVOICE_CORRECTION_DAYS,
    CommerceError,
    check_invoice_correction,
    check_invoice_request,
    unit_fen,
)

STATES = ("pending", "paid", "cancelled", "refunded")
#: The badge of each order state (colours of app.css).
STATE_BADGE = {
    "pending": "badge--warn",
    "paid": "badge--ok",
    "cancelled": "",
    "refunded": "badge--info",
}

i18n.register(
    {
        # ------------------------------------------------------------- shared words
        "orders.state.pending": ("待支付", "Awaiting payment"),
        "orders.state.paid": ("已支付", "Paid"),
        "orders.state.cancelled": ("已取消", "Cancelled"),
        "orders.state.refunded": ("已退款", "Refunded"),
        "orders.kind.group": ("单位团购", "Group purchase"),
        "orders.kind.individual": ("个人购买", "Individual"),
        "orders.invoice.none": ("未申请", "Not asked for"),
        "orders.invoice.requested": ("已申请，待开具", "Asked for, not yet issued"),
        "orders.invoice.issued": ("已开具（号码 {number}）", "Issued (no. {number})"),
        "orders.invoice.corrected": ("已修改 {n} 次", "corrected {n}×"),
        "orders.col.number": ("订单号", "Order"),
        "orders.col.plan": ("学习计划", "Plan"),
        "orders.col.people": ("人数", "People"),
        "orders.col.amount": ("金额", "Amount"),
        "orders.col.state": ("状态", "State"),
        "orders.col.placed": ("下单时间（{zone}）", "Placed at ({zone})"),
        "orders.col.invoice": ("发票", "Invoice"),
        "orders.col.actions": ("操作", "Actions"),
        "orders.col.buyer": ("下单人", "Placed by"),
        "orders.col.employer": ("单位", "Employer"),
        "orders.filter.state": ("订单状态", "Order state"),
        "orders.filter.all": ("全部", "All"),
        "orders.filter.q": ("订单号或学习计划", "Order number or plan"),
        "orders.filter.apply": ("筛选", "Filter"),
        "orders.count": ("共 {n} 个订单", "{n} orders"),
        "orders.none": ("没有符合条件的订单。", "No order matches."),
        "orders.prev": ("上一页", "Previous"),
        "orders.next": ("下一页", "Next"),
        "orders.page": ("第 {page} / {pages} 页", "Page {page} of {pages}"),
        "orders.people": ("{n} 人", "{n}"),
        "orders.cancel": ("取消订单", "Cancel the order"),
        "orders.cancel_label": ("取消订单 {number}", "Cancel order {number}"),
        "orders.invoice_request": ("申请发票", "Ask for the invoice"),
        "orders.invoice_correct": ("修改发票", "Correct the invoice"),
        "orders.invoice_label": ("订单 {number} 的发票", "The invoice of order {number}"),
        "orders.invoice_rules": (
            "发票须在缴费当年申请，不能跨年补开；申请后 {days} 日内可修改 1 次，跨年不可修改。",
            "An invoice is asked for in the year of payment only (not in a later year); it "
            "may be corrected once, within {days} days of the request, and not across the year.",
        ),
        "orders.invoice_no_more": (
            "已不能修改（已修改过、已超过 {days} 日或已跨年）",
            "can no longer be corrected (corrected already, over {days} days, or a new year)",
        ),
        "orders.pay_title": ("付款方式：{title}", "How to pay: {title}"),
        # --------------------------------------------------------------- the detail
        "orders.detail.title": ("订单 {number}", "Order {number}"),
        "orders.detail.back": ("返回订单列表", "Back to the orders"),
        "orders.detail.missing": (
            "没有找到订单 {number}，或您无权查看。",
            "There is no order {number} that you may see.",
        ),
        "orders.detail.kind": ("类型", "Kind"),
        "orders.detail.unit": ("单价（每人）", "Price a person"),
        "orders.detail.placed": ("下单时间", "Placed at"),
        "orders.detail.paid": ("支付时间", "Paid at"),
        "orders.detail.closed": ("关闭时间", "Closed at"),
        "orders.detail.lines": ("订单人员（{n} 人）", "People on the order ({n})"),
        "orders.detail.name": ("姓名", "Name"),
        "orders.detail.login": ("身份证号 / 手机号", "ID number / phone"),
        "orders.detail.history": ("订单记录", "History"),
        "orders.detail.when": ("时间（{zone}）", "Time ({zone})"),
        "orders.detail.what": ("事项", "What"),
        "orders.detail.who": ("操作人", "By"),
        "orders.detail.details": ("详情", "Details"),
        "orders.detail.system": ("系统（支付通知）", "System (payment notice)"),
        "orders.detail.invoice": ("发票", "Invoice"),
        "orders.detail.invoice_title": ("发票抬头", "Title"),
        "orders.detail.tax_id": ("纳税人识别号", "Taxpayer number"),
        "orders.detail.email": ("接收邮箱", "E-mail"),
        "orders.detail.requested": ("申请时间", "Asked for at"),
        "orders.detail.issued": ("开具时间", "Issued at"),
        "orders.ev.created": ("下单", "Order placed"),
        "orders.ev.paid": ("确认到账", "Payment confirmed"),
        "orders.ev.cancelled": ("取消订单", "Order cancelled"),
        "orders.ev.refunded": ("退款", "Refunded"),
        "orders.ev.invoice_requested": ("申请发票", "Invoice asked for"),
        "orders.ev.invoice_corrected": ("修改发票", "Invoice corrected"),
        "orders.ev.invoice_issued": ("开具发票", "Invoice issued"),
        "orders.evd.created": ("{n} 人，金额 {amount}", "people: {n}; amount: {amount}"),
        "orders.evd.left_out": ("；另有 {n} 行未能购买", "; lines not bought: {n}"),
        "orders.evd.paid": ("流水号 {reference}，金额 {amount}", "Serial {reference}, {amount}"),
        "orders.evd.refunded": (
            "原因：{reason}；退款流水号 {reference}；金额 {amount}",
            "Reason: {reason}; refund serial {reference}; {amount}",
        ),
        "orders.evd.invoice": (
            "抬头：{title}；纳税人识别号：{tax_id}；邮箱：{email}",
            "Title: {title}; taxpayer number: {tax_id}; e-mail: {email}",
        ),
        "orders.evd.issued": ("发票号码 {number}", "Invoice number {number}"),
        "orders.none_value": ("无", "none"),
        # ----------------------------------------------------------- the dialogs
        "orders.dialog.invoice_request": ("申请发票", "Ask for the invoice"),
        "orders.dialog.invoice_correct": ("修改发票", "Correct the invoice"),
        "orders.field.title": ("发票抬头", "Invoice title"),
        "orders.field.title_hint": (
            "单位全称；个人请填写“个人”及姓名",
            "The employer's full name; for yourself, the Chinese word for “personal” and your "
            "name (filled in for you)",
        ),
        "orders.field.tax_id": (
            "纳税人识别号（统一社会信用代码）",
            "Taxpayer number (unified social credit code)",
        ),
        "orders.field.tax_id_group": (
            "单位发票必填，18 位",
            "Required for an employer: 18 characters",
        ),
        "orders.field.tax_id_individual": ("个人发票可不填", "May stay empty for a person"),
        "orders.field.email": ("接收发票的邮箱（选填）", "E-mail to send it to (optional)"),
        "orders.submit": ("提交", "Submit"),
        "orders.close": ("关闭", "Close"),
        # ----------------------------------------------------- the script's words
        "js.orders.busy": ("正在处理…", "Working…"),
        "js.orders.confirm_cancel": (
            "取消订单 {number}？取消后订单中的人员可重新购买，此操作不能撤销。",
            "Cancel order {number}? Its people can be bought again; this cannot be undone.",
        ),
        "js.orders.cancelled": ("订单 {number} 已取消。", "Order {number} is cancelled."),
        "js.orders.invoice_requested": (
            "已为订单 {number} 申请发票。",
            "The invoice of order {number} has been asked for.",
        ),
        "js.orders.invoice_corrected": (
            "已修改订单 {number} 的发票。",
            "The invoice of order {number} has been corrected.",
        ),
        "js.orders.need_title": ("请填写发票抬头。", "Enter the invoice's title."),
        "js.orders.order": ("订单 {number}", "Order {number}"),
        "js.orders.pay_due": ("订单 {number} · 应付 {amount}", "Order {number} · due {amount}"),
        "js.orders.order_amount": ("订单 {number} · 金额 {amount}", "Order {number} · {amount}"),
        "js.orders.pay_title": ("付款方式：{title}", "How to pay: {title}"),
        "js.orders.bad_amount": (
            "请按“66.00”的格式填写到账金额（元）。",
            "Enter the amount received in yuan, as in 66.00.",
        ),
        "js.orders.need_reference": (
            "请填写流水号（字母、数字及 - _ . / :）。",
            "Enter the serial number (letters, digits and - _ . / :).",
        ),
        "js.orders.need_reason": (
            "请填写原因（至少 2 个字）。",
            "Enter the reason (2 characters at least).",
        ),
        "js.orders.need_confirm": ("请勾选确认。", "Tick the confirmation."),
        "js.orders.need_number": (
            "请填写发票号码（字母、数字及 -）。",
            "Enter the invoice number (letters, digits and -).",
        ),
        "js.orders.paid": (
            "订单 {number} 已确认到账，学员已开通学习。",
            "Order {number} is paid; its people may study.",
        ),
        "js.orders.refunded": ("订单 {number} 已退款。", "Order {number} is refunded."),
        "js.orders.issued": (
            "已记录订单 {number} 的发票号码。",
            "The invoice number of order {number} is recorded.",
        ),
        # ------------------------------------------------ the employer's purchase
        "employer.nav.orders": ("团购与订单", "Purchases and orders"),
        "purchase.title": ("团购与订单", "Group purchases and orders"),
        "purchase.section": ("团购学习计划", "Group purchase"),
        "purchase.intro": (
            "为本单位学员购买学习计划：每行粘贴一个身份证号（或手机号），先核对名单，再下单。"
            "银行转账到账并经平台确认后，学员即可开始学习。",
            "Buy a plan for your staff: paste one ID number (or mobile number) per line, "
            "check the list, then place the order. Once the bank transfer is confirmed, "
            "they can start studying.",
        ),
        "purchase.plan": ("学习计划", "Plan"),
        "purchase.plan_option": (
            "{title}（{year} 年度）· 每人 {price}",
            "{title} ({year}) · {price} a person",
        ),
        "purchase.plan_option_hour": (
            "{title}（{year} 年度）· 每人 {price}（每学时 {hour_price}）",
            "{title} ({year}) · {price} a person ({hour_price} a credit hour)",
        ),
        "purchase.no_plans": (
            "目前没有需要购买的学习计划；免费的学习计划请在“本单位学员”页直接报名。",
            "No plan is for sale now; enroll staff in a free plan on the “Our staff” page.",
        ),
        "purchase.logins": (
            "身份证号或手机号，每行一个",
            "ID numbers or mobile numbers, one per line",
        ),
        "purchase.check": ("核对名单", "Check the list"),
        "purchase.place": ("下单", "Place the order"),
        "purchase.want_invoice": ("同时申请发票", "Ask for the invoice now"),
        "purchase.orders": ("本单位订单", "Our orders"),
        "js.purchase.need_logins": (
            "请粘贴至少一个身份证号或手机号。",
            "Paste at least one ID number or mobile number.",
        ),
        "js.purchase.checked": (
            "可购买 {ok} 人，合计 {amount}（每人 {unit}）；{failed} 行无法购买：",
            "Can be bought: {ok}, {amount} in all ({unit} a person). Lines that cannot: {failed}.",
        ),
        "js.purchase.all_ok": (
            "全部 {ok} 人均可购买，合计 {amount}（每人 {unit}）。",
            "Every line can be bought: {ok}, {amount} in all ({unit} a person).",
        ),
        "js.purchase.error_file": ("下载错误文件", "Download the error file"),
        "js.purchase.placed": (
            "订单 {number} 已提交：{people} 人，金额 {amount}。",
            "Order {number} is placed: {amount} for {people} on the list.",
        ),
        "js.purchase.left_out": (
            "以下 {n} 行未包含在订单中：",
            "Lines left out of the order ({n}):",
        ),
        "js.purchase.invoice_too": (
            "发票已一并申请，付款后开具。",
            "The invoice is asked for; it is issued after the payment.",
        ),
        "js.purchase.view_order": ("查看订单详情", "View the order"),
        "js.purchase.nothing": ("没有可以购买的人员：", "No one on the list can be bought:"),
        "js.purchase.error_line": ("第 {line} 行：{reason}", "Line {line}: {reason}"),
        # --------------------------------------------------------- the operators
        "operator.nav.orders": ("订单管理", "Orders"),
        "operator.title": ("订单管理", "Orders"),
        "operator.intro": (
            "核对银行到账、办理退款、回填发票号码，并导出发票交财务系统开具。",
            "Confirm bank transfers, refund, write back invoice numbers, and export the "
            "invoices for the finance system.",
        ),
        "operator.filter.employer": ("单位", "Employer"),
        "operator.individual": ("个人", "individual"),
        "operator.pay": ("确认到账", "Confirm payment"),
        "operator.pay_label": ("确认订单 {number} 到账", "Confirm the payment of order {number}"),
        "operator.refund": ("退款", "Refund"),
        "operator.refund_label": ("订单 {number} 退款", "Refund order {number}"),
        "operator.issue": ("回填发票号", "Invoice number"),
        "operator.issue_label": (
            "回填订单 {number} 的发票号码",
            "Record the invoice number of order {number}",
        ),
        "operator.pay_title": ("确认银行到账", "Confirm a bank transfer"),
        "operator.reference": ("银行流水号", "Bank statement serial"),
        "operator.amount": ("到账金额（元）", "Amount received (yuan)"),
        "operator.amount_hint": (
            "按银行流水填写，须与订单金额一致",
            "As the statement shows it: it must match the order's amount",
        ),
        "operator.refund_title": ("订单退款", "Refund the order"),
        "operator.refund_warning": (
            "退款后订单中的人员将退出该学习计划及其考试，不能撤销；已有人开始学习或考试的订单不能在此退款。",
            "After a refund the order's people leave the plan and its exam; this cannot be "
            "undone. An order whose plan has been studied or examined cannot be refunded here.",
        ),
        "operator.reason": ("退款原因（必填，将记录在案）", "Reason (required, recorded)"),
        "operator.refund_reference": ("退款转账流水号", "Refund transfer serial"),
        "operator.refund_confirm": (
            "我已确认要为该订单全额退款",
            "I confirm refunding this order in full",
        ),
        "operator.issue_title": ("回填发票号码", "Record the invoice number"),
        "operator.invoice_number": ("发票号码", "Invoice number"),
        "operator.save": ("保存", "Save"),
        "operator.export_title": ("导出发票", "Export invoices"),
        "operator.export_intro": (
            "导出某年度已支付订单的发票申请（按北京时间的支付年度），交财务系统开具后再回填号码。",
            "The invoices of a year's paid orders (by the payment's year in Beijing time), "
            "for the finance system; write the numbers back here once issued.",
        ),
        "operator.export_year": ("年度", "Year"),
        "operator.export_state": ("发票状态", "Invoice state"),
        "operator.export_all": ("全部", "All"),
        "operator.export_requested": ("待开具", "Not yet issued"),
        "operator.export_issued": ("已开具", "Issued"),
        "operator.export_xlsx": ("下载 Excel", "Download Excel"),
        "operator.export_csv": ("下载 CSV", "Download CSV"),
    }
)


# ------------------------------------------------------------------------ helpers
def money(fen: int) -> str:
    """``660050`` → ``¥6,600.50``."""
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


def now_ms(state: State) -> int:
    return int(state.clock.now_ms())


def beijing_year(ms: int) -> int:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(BEIJING).year


def plan_unit_fen(plan: PlanRow) -> int:
    """What one person's place on ``plan`` costs."""
    return unit_fen(plan.price_fen, plan.price_basis, plan.required_hours + plan.elective_hours)


def plan_price(plan: PlanRow) -> str:
    """What one person's place on a priced plan costs, as a buyer reads it (``¥33.00``;
    a plan priced by the credit hour: its price an hour times its hours)."""
    return money(plan_unit_fen(plan))


@dataclass(frozen=True)
class OrderRow:
    """An order as a row of a page, with what the viewer may do with it."""

    order: OrderView
    may_cancel: bool
    may_ask_invoice: bool
    may_correct_invoice: bool
    #: Operators: confirm the payment, refund, write back the invoice number.
    may_pay: bool = False
    may_refund: bool = False
    may_issue: bool = False


def invoice_open(invoice: InvoiceView | None, order: OrderView, now: int) -> tuple[bool, bool]:
    """(may ask for the invoice, may correct it) under the rules of
    ``examengine.commerce``."""
    if order.state not in ("pending", "paid"):
        return False, False
    if invoice is None:
        try:
            check_invoice_request(paid_ms=order.paid_ms, now_ms=now)
        except CommerceError:
            return False, False
        return True, False
    try:
        check_invoice_correction(
            requested_ms=invoice.requested_ms, corrections=invoice.corrections, now_ms=now
        )
    except CommerceError:
        return False, False
    return False, True


def row_of(order: OrderView, now: int, *, operator: bool = False) -> OrderRow:
    ask, correct = invoice_open(order.invoice, order, now)
    return OrderRow(
        order=order,
        may_cancel=order.state == "pending",
        may_ask_invoice=ask,
        may_correct_invoice=correct,
        may_pay=operator and order.state == "pending",
        may_refund=operator and order.state == "paid",
        may_issue=operator
        and order.state == "paid"
        and order.invoice is not None
        and order.invoice.state == "requested",
    )


def pages_of(listed: OrderPage) -> int:
    return max(1, -(-listed.total // listed.page_size))


def event_text(kind: str, detail: dict[str, Any], lang: str) -> str:
    """An event's detail in words (the stored detail is the API's, in codes and fen)."""

    def fen(key: str) -> str:
        value = detail.get(key)
        return money(value) if isinstance(value, int) else ""

    none = i18n.t("orders.none_value", lang)
    match kind:
        case "created":
            text = i18n.t(
                "orders.evd.created", lang, n=detail.get("learners", ""), amount=fen("amount_fen")
            )
            if detail.get("failed"):
                text += i18n.t("orders.evd.left_out", lang, n=detail["failed"])
            return text
        case "paid":
            return i18n.t(
                "orders.evd.paid", lang, reference=detail.get("reference", ""),
                amount=fen("amount_fen"),
            )  # fmt: skip
        case "refunded":
            return i18n.t(
                "orders.evd.refunded", lang, reason=detail.get("reason", ""),
                reference=detail.get("reference", ""), amount=fen("amount_fen"),
            )  # fmt: skip
        case "invoice_requested" | "invoice_corrected":
            return i18n.t(
                "orders.evd.invoice", lang, title=detail.get("title") or none,
                tax_id=detail.get("tax_id") or none, email=detail.get("email") or none,
            )  # fmt: skip
        case "invoice_issued":
            return i18n.t("orders.evd.issued", lang, number=detail.get("number", ""))
    return ""


def _providers(state: State) -> Providers:
    providers: Providers = state.providers
    return providers


def _detail(db: Session, number: str, actor: User, state: State) -> OrderDetail | None:
    if not number:
        return None
    try:
        return orders.detail(db, number=number, actor=actor, providers=_providers(state))
    except CommerceError:
        return None


def _status(raw: str) -> str | None:
    return raw if raw in STATES else None


def order_context() -> dict[str, Any]:
    """What every page with orders on it needs in its template."""
    return {
        "money": money,
        "state_badge": STATE_BADGE,
        "event_text": event_text,
        "correction_days": INVOICE_CORRECTION_DAYS,
    }


# -------------------------------------------------------------------- employer
class EmployerOrderPages(Controller):
    """``/employer/orders``: the administrator's group purchase and their employer's
    orders (``?order=`` one order)."""

    path = "/employer/orders"
    include_in_schema = False
    exception_handlers = PAGE_EXCEPTION_HANDLERS

    @get("/", sync_to_thread=True)
    def orders_page(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, *, q: Filter = "",
        status: Filter = "", page: PageNumber = 1, order: Filter = "",
    ) -> Template:  # fmt: skip
        now = now_ms(state)
        with uow() as db:
            principal = page_principal(request, "employer_admin")
            admin = db.get(User, principal.user_id)
            whose = (admin.employer if admin is not None else None) or ""
            detail = _detail(db, order, admin, state) if admin is not None else None
            listed = orders.orders(
                db, providers=_providers(state), employer=whose, state=_status(status), query=q,
                page=page,
            )  # fmt: skip
            plans = db.exec(
                select(PlanRow)
                .where(col(PlanRow.price_fen) > 0)
                .order_by(col(PlanRow.year).desc(), col(PlanRow.key))
            ).all()
            offered = [
                {"key": p.key, "title": p.title, "year": p.year, "price": plan_price(p),
                 "hour_price": money(p.price_fen) if p.price_basis == "hour" else None}
                for p in plans
            ]  # fmt: skip
        query = {"q": q, "status": status}
        return render(
            request, "employer/orders.html", employer=whose, listed=listed,
            rows=[row_of(o, now) for o in listed.orders], pages=pages_of(listed), q=q,
            status=_status(status) or "", states=STATES, plans=offered, order=order,
            detail=detail, detail_row=row_of(detail.order, now) if detail else None,
            page_url=lambda n: "/employer/orders?" + urlencode({**query, "page": n}),
            **order_context(),
        )  # fmt: skip


# -------------------------------------------------------------------- operator
class OperatorPages(Controller):
    """``/operator/orders``: every order, for operators."""

    path = "/operator"
    include_in_schema = False
    exception_handlers = PAGE_EXCEPTION_HANDLERS

    @get("/orders", sync_to_thread=True)
    def orders_page(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, *, q: Filter = "",
        status: Filter = "", employer: Filter = "", page: PageNumber = 1, order: Filter = "",
    ) -> Template:  # fmt: skip
        now = now_ms(state)
        with uow() as db:
            principal = page_principal(request, "operator")
            me = db.get(User, principal.user_id)
            detail = _detail(db, order, me, state) if me is not None else None
            listed = orders.orders(
                db, providers=_providers(state), employer=employer.strip() or None,
                state=_status(status), query=q, page=page,
            )  # fmt: skip
            employers = sorted(
                e
                for e in db.exec(select(PurchaseOrder.employer).distinct())
                if e  # individual orders have none
            )
        query = {"q": q, "status": status, "employer": employer}
        year = beijing_year(now)
        return render(
            request, "operator/orders.html", listed=listed, pages=pages_of(listed),
            rows=[row_of(o, now, operator=True) for o in listed.orders], q=q,
            status=_status(status) or "", employer=employer, employers=employers,
            states=STATES, order=order, detail=detail,
            detail_row=row_of(detail.order, now, operator=True) if detail else None,
            years=list(range(year, year - 3, -1)), year=year,
            page_url=lambda n: "/operator/orders?" + urlencode({**query, "page": n}),
            **order_context(),
        )  # fmt: skip
