"""Orders over HTTP (docs/decisions/0026): a learner buys a plan (``/api/me/orders``); an
employer buys it for its staff, ID numbers pasted one per line, checked first if they
like, the failures as a workbook (``/api/employer/orders``); whoever may see an order
reads it, cancels it while unpaid and asks for or corrects its invoice
(``/api/orders/{number}``); an operator confirms bank transfers, refunds, writes back
invoice numbers and exports the invoices for the finance system (``/api/operator``).
A payment provider's callback (``/api/payments/{provider}/callback``) carries no login
session: the provider's signature is what authenticates it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import State
from litestar.params import FromQuery, JSONBody, RawBody
from msgspec import Meta, Struct
from sqlmodel import Session

from api.http.auth import principal_of, requires_role
from api.http.employer import XLSX, EmployerName, acting_employer
from api.http.errors import RAISES, NotFound
from api.http.params import (
    Filter,
    Limit,
    OptionalFilter,
    OrderNumber,
    PageNumber,
    ProviderName,
    Year,
)
from api.http.schema import replying_in
from api.services import invoices, orders
from api.services.accounts import AccountError
from api.services.employer import MAX_ENROLL, parse_logins
from api.services.invoices import InvoiceRequest
from api.services.payments import OFFLINE, Providers
from api.store.db import Uow
from api.store.tables import User
from examengine.commerce import MAX_PRICE_FEN, CommerceError
from examengine.credit import StudyError

CSV = "text/csv; charset=utf-8"
PlanRef = Annotated[str, Meta(min_length=1, max_length=120)]
Provider = Annotated[str, Meta(min_length=1, max_length=32)]
#: A payment's reference as a bank statement or a provider writes it.
Reference = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_\-./:]+$")]
#: The largest amount one order can come to (10,000 places at the highest price).
MAX_AMOUNT_FEN = MAX_ENROLL * MAX_PRICE_FEN
#: The most a provider's callback body may hold.
MAX_CALLBACK_BYTES = 64 * 1024
OrderState = Literal["pending", "paid", "cancelled", "refunded"]


class MyOrderRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    plan: PlanRef
    provider: Provider = OFFLINE
    #: Ask for the invoice now (it waits for the payment); or later.
    invoice: InvoiceRequest | None = None


class GroupRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    plan: PlanRef
    #: ID numbers (or mobile numbers), one per line.
    logins: Annotated[str, Meta(max_length=orders.MAX_GROUP * 24)]
    #: Operators only: for whose staff (an administrator's is their own).
    employer: EmployerName | None = None
    provider: Provider = OFFLINE
    invoice: InvoiceRequest | None = None


class CheckRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    plan: PlanRef
    logins: Annotated[str, Meta(max_length=orders.MAX_GROUP * 24)]
    employer: EmployerName | None = None


class PaymentRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A payment as the bank statement shows it: its serial and the amount in fen."""

    reference: Reference
    amount_fen: Annotated[int, Meta(ge=1, le=MAX_AMOUNT_FEN)]
    provider: Provider = OFFLINE


class RefundRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, Meta(min_length=2, max_length=500)]
    #: The refund's own reference (the outgoing transfer's serial).
    reference: Reference


class IssueRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: The number the finance system gave the invoice.
    number: Annotated[str, Meta(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z\-]+$")]


def _now(state: State) -> int:
    return int(state.clock.now_ms())


def _providers(state: State) -> Providers:
    providers: Providers = state.providers
    return providers


def _actor(request: Request[Any, Any, Any], db: Session) -> User:
    user = db.get(User, principal_of(request).user_id)
    if user is None:  # deleted while signed in
        raise NotFound()
    return user


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": "attachment; filename*=UTF-8''" + quote(name)}


class MyOrdersController(Controller):
    """``/api/me/orders``: a learner's own orders."""

    path = "/api/me/orders"
    tags = ["orders"]
    guards = [requires_role("learner")]
    opt = {RAISES: (CommerceError, AccountError)}

    @post("", status_code=201, sync_to_thread=True, summary="Buy a plan for myself")
    def place(
        self, request: Request[Any, Any, Any], uow: Uow, state: State,
        data: JSONBody[MyOrderRequest],
    ) -> orders.OrderView:  # fmt: skip
        """My pending order for the plan if one waits, else a new one; with how to pay.
        409 ``bought`` / ``studying`` / ``on_order`` (the employer's order holds it)."""
        with uow() as db:
            me = _actor(request, db)
            assert me.id is not None
            order = orders.place_individual(
                db, learner_id=me.id, plan=data.plan, providers=_providers(state),
                provider=data.provider, now=_now(state),
            )  # fmt: skip
            if data.invoice is not None and order.invoice is None:
                order = invoices.request_invoice(
                    db, number=order.number, actor=me, data=data.invoice, now=_now(state),
                    providers=_providers(state),
                )  # fmt: skip
            return order

    @get("", sync_to_thread=True, summary="My orders, newest first")
    def mine(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, page: PageNumber = 1,
        size: Limit = orders.PAGE_SIZE,
    ) -> orders.OrderPage:  # fmt: skip
        with uow() as db:
            return orders.orders(
                db, providers=_providers(state), buyer_id=principal_of(request).user_id,
                page=page, page_size=size,
            )  # fmt: skip


class EmployerOrdersController(Controller):
    """``/api/employer/orders``: group purchases for an employer's staff."""

    path = "/api/employer/orders"
    tags = ["orders"]
    guards = [requires_role("employer_admin", "operator")]
    opt = {RAISES: (CommerceError, AccountError, StudyError)}

    @post("", status_code=201, sync_to_thread=True,
          summary="Group purchase: one order for the staff whose IDs are pasted")  # fmt: skip
    def place(
        self, request: Request[Any, Any, Any], uow: Uow, state: State,
        data: JSONBody[GroupRequest],
    ) -> orders.Placed:  # fmt: skip
        """Each line is checked (an account, this employer's learner, listed once, the
        plan not bought nor on another order); the others make one order and the
        failures are reported line by line in both languages (``/check?format=xlsx``
        gives them as a workbook). 422 ``nothing_to_buy`` when no line can be bought."""
        with uow() as db:
            whose = acting_employer(request, db, data.employer)
            actor = _actor(request, db)
            assert actor.id is not None
            placed = orders.place_group(
                db, employer=whose, plan=data.plan, logins=parse_logins(data.logins),
                buyer_id=actor.id, providers=_providers(state), provider=data.provider,
                now=_now(state),
            )  # fmt: skip
            if data.invoice is not None:
                order = invoices.request_invoice(
                    db, number=placed.order.number, actor=actor, data=data.invoice,
                    now=_now(state), providers=_providers(state),
                )  # fmt: skip
                placed = orders.Placed(order=order, check=placed.check)
            return placed

    @post("/check", status_code=200, sync_to_thread=True,
          operation_class=replying_in("application/json", XLSX),
          summary="Check a group purchase's ID numbers without buying")  # fmt: skip
    def check(
        self, request: Request[Any, Any, Any], uow: Uow, data: JSONBody[CheckRequest],
        format: FromQuery[Literal["json", "xlsx"]] = "json",
    ) -> Response[Any]:  # fmt: skip
        """What an order would hold and cost, and every line that cannot be bought;
        ``?format=xlsx``: those lines as the error file to fix and paste again."""
        with uow() as db:
            whose = acting_employer(request, db, data.employer)
            checked, _ = orders.check_group(
                db, employer=whose, plan=data.plan, logins=parse_logins(data.logins)
            )
        if format == "json":
            return Response(checked)
        return Response(orders.check_xlsx(checked), media_type=XLSX,
                        headers=_attachment(f"{checked.plan}-errors.xlsx"))  # fmt: skip

    @get("", sync_to_thread=True, summary="The employer's orders, newest first")
    def list_(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, *, q: Filter = "",
        status: FromQuery[OrderState | None] = None, page: PageNumber = 1,
        size: Limit = orders.PAGE_SIZE, employer: OptionalFilter = None,
    ) -> orders.OrderPage:  # fmt: skip
        with uow() as db:
            whose = acting_employer(request, db, employer)
            return orders.orders(
                db, providers=_providers(state), employer=whose, state=status, query=q,
                page=page, page_size=size,
            )  # fmt: skip


class OrderController(Controller):
    """``/api/orders/{number}``: one order, for whoever may see it (its buyer, its
    employer's administrators, operators; anyone else gets the 404 of no such order)."""

    path = "/api/orders"
    tags = ["orders"]
    guards = [requires_role("learner", "employer_admin", "operator")]
    opt = {RAISES: (CommerceError,)}

    @get("/{number:str}", sync_to_thread=True, summary="An order: its lines and its history")
    def read(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, number: OrderNumber
    ) -> orders.OrderDetail:
        with uow() as db:
            return orders.detail(
                db, number=number, actor=_actor(request, db), providers=_providers(state)
            )

    @post("/{number:str}/cancel", status_code=200, sync_to_thread=True,
          summary="Cancel an unpaid order")  # fmt: skip
    def cancel(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, number: OrderNumber
    ) -> orders.OrderView:
        with uow() as db:
            return orders.cancel(
                db, number=number, actor=_actor(request, db), now=_now(state),
                providers=_providers(state),
            )  # fmt: skip

    @post("/{number:str}/invoice", status_code=201, sync_to_thread=True,
          summary="Ask for the order's invoice (in the year of payment)")  # fmt: skip
    def request_invoice(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, number: OrderNumber,
        data: JSONBody[InvoiceRequest],
    ) -> orders.OrderView:  # fmt: skip
        with uow() as db:
            return invoices.request_invoice(
                db, number=number, actor=_actor(request, db), data=data, now=_now(state),
                providers=_providers(state),
            )  # fmt: skip

    @put("/{number:str}/invoice", sync_to_thread=True,
         summary="Correct the invoice: once, within 15 days of the request")  # fmt: skip
    def correct_invoice(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, number: OrderNumber,
        data: JSONBody[InvoiceRequest],
    ) -> orders.OrderView:  # fmt: skip
        with uow() as db:
            return invoices.correct_invoice(
                db, number=number, actor=_actor(request, db), data=data, now=_now(state),
                providers=_providers(state),
            )  # fmt: skip


class OperatorOrdersController(Controller):
    """``/api/operator``: payments, refunds and invoices, for operators."""

    path = "/api/operator"
    tags = ["orders"]
    guards = [requires_role("operator")]
    opt = {RAISES: (CommerceError, StudyError)}

    @get("/orders", sync_to_thread=True, summary="Every order, newest first")
    def list_(
        self, uow: Uow, state: State, *, q: Filter = "",
        status: FromQuery[OrderState | None] = None,
        employer: OptionalFilter = None, page: PageNumber = 1, size: Limit = orders.PAGE_SIZE,
    ) -> orders.OrderPage:  # fmt: skip
        with uow() as db:
            return orders.orders(
                db, providers=_providers(state), employer=employer or None, state=status,
                query=q, page=page, page_size=size,
            )  # fmt: skip

    @post("/orders/{number:str}/payments", status_code=200, sync_to_thread=True,
          summary="Confirm a payment (a bank transfer matched on the statement)")  # fmt: skip
    def pay(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, number: OrderNumber,
        data: JSONBody[PaymentRequest],
    ) -> orders.OrderView:  # fmt: skip
        """The whole amount, under the statement's serial: the order is paid and its
        learners enrolled. The same serial again for the same order changes nothing;
        409 ``amount_mismatch``, ``reference_used``, ``order_state``."""
        with uow() as db:
            return orders.confirm_payment(
                db, number=number, provider=data.provider, reference=data.reference,
                amount_fen=data.amount_fen, actor_id=principal_of(request).user_id,
                now=_now(state), providers=_providers(state),
            )  # fmt: skip

    @post("/orders/{number:str}/refund", status_code=200, sync_to_thread=True,
          summary="Refund a paid order in full, with the reason")  # fmt: skip
    def refund(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, number: OrderNumber,
        data: JSONBody[RefundRequest],
    ) -> orders.OrderView:  # fmt: skip
        """409 ``plan_used`` while any of its learners has studied the plan or sat its
        exam."""
        with uow() as db:
            return orders.refund(
                db, number=number, reference=data.reference, reason=data.reason,
                actor_id=principal_of(request).user_id, now=_now(state),
                providers=_providers(state),
            )  # fmt: skip

    @post("/orders/{number:str}/invoice/issue", status_code=200, sync_to_thread=True,
          summary="Record the number the finance system gave the invoice")  # fmt: skip
    def issue(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, number: OrderNumber,
        data: JSONBody[IssueRequest],
    ) -> orders.OrderView:  # fmt: skip
        with uow() as db:
            return invoices.issue_invoice(
                db, number=number, invoice_number=data.number,
                actor_id=principal_of(request).user_id, now=_now(state),
                providers=_providers(state),
            )  # fmt: skip

    @get("/invoices", sync_to_thread=True,
         operation_class=replying_in("application/json", XLSX, CSV),
         summary="Invoices of a year's payments, for the finance system")  # fmt: skip
    def export(
        self, year: Year,
        uow: Uow, status: FromQuery[Literal["requested", "issued"] | None] = None,
        format: FromQuery[Literal["json", "xlsx", "csv"]] = "json",
    ) -> Response[Any]:  # fmt: skip
        with uow() as db:
            rows = invoices.export(db, year=year, state=status)
        if format == "json":
            return Response(rows)
        if format == "csv":
            return Response(invoices.export_csv(rows), media_type=CSV,
                            headers=_attachment(f"invoices-{year}.csv"))  # fmt: skip
        return Response(invoices.export_xlsx(rows), media_type=XLSX,
                        headers=_attachment(f"invoices-{year}.xlsx"))  # fmt: skip


class CallbackReply(Struct, frozen=True, kw_only=True):
    order: str
    state: str


@post("/api/payments/{provider:str}/callback", status_code=200, sync_to_thread=True,
      tags=["orders"], opt={RAISES: (CommerceError, StudyError)},
      summary="A payment provider's notice (its signature authenticates it)")  # fmt: skip
def payment_callback(
    request: Request[Any, Any, Any], uow: Uow, state: State, provider: ProviderName,
    body: RawBody,
) -> CallbackReply:  # fmt: skip
    """Booked once however often the provider repeats it. 403 ``callback_refused`` when
    the signature does not hold (or the provider takes no callbacks); 404
    ``provider_unknown``."""
    if len(body) > MAX_CALLBACK_BYTES:
        raise CommerceError("callback_refused", "the notice is too long", "回调内容过长")
    chosen = _providers(state).get(provider)
    notice = chosen.notice(body, dict(request.headers))
    with uow() as db:
        order = orders.book_notice(
            db, provider=chosen.name, notice=notice, now=_now(state), providers=_providers(state)
        )
    return CallbackReply(order=order.number, state=order.state)
