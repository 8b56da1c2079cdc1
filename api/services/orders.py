"""Orders (订单) for plans: a learner's own, or an employer's group purchase for its staff
(ID numbers pasted one per line, each checked, the failures in a downloadable error
file, the rest one order); paid through a provider (``api.services.payments``: the bank
transfer an operator confirms is built in); cancelled while unpaid; refunded with a
reason. Every step is an ``OrderEvent``; amounts are integer fen (docs/decisions/0026).

A learner's place on a plan is held by one *active* order line at a time (the order
pending or paid), which a partial unique index enforces: two administrators buying the
same plan for the same person at the same moment make one order, and the other is told
who is taken. A priced plan is studied once its order is paid (or a code is redeemed);
a free plan is enrolled in directly (``api.services.employer.enroll_staff``).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import sqlalchemy as sa
from msgspec import Struct
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.services import study
from api.services.accounts import FieldProblem
from api.services.employer import plan_named
from api.services.payments import PayInstructions, PaymentNotice, Providers
from api.services.sheets import workbook
from api.store.db import in_chunks
from api.store.tables import (
    Attempt,
    Chapter,
    ChapterProgress,
    Enrollment,
    Invoice,
    OrderEvent,
    OrderLine,
    Payment,
    PlanCourse,
    PlanEnrollment,
    PurchaseOrder,
    User,
)
from api.store.tables import Plan as PlanRow
from examengine.commerce import (
    HOLDS_PLACES,
    CommerceError,
    OrderState,
    check_amount,
    move,
    order_number,
    unit_fen,
    yuan,
)
from examengine.ids import InvalidIdentifier, identify, masked

#: ID numbers one group purchase may list (the source platforms' largest employers).
MAX_GROUP = 10_000
#: Orders per page of a list, and the most a page may ask for.
PAGE_SIZE, MAX_PAGE_SIZE = 50, 500
log = logging.getLogger(__name__)


# ------------------------------------------------------------------------ shapes
class CheckedLine(Struct, frozen=True, kw_only=True):
    """A pasted line that cannot be bought, and why (both languages)."""

    line: int
    #: The line as it was pasted (the buyer's own list: whole, to fix it in place).
    login: str
    name: str = ""
    code: str
    reason: str
    reason_zh: str


class Checked(Struct, frozen=True, kw_only=True):
    plan: str
    plan_title: str
    year: int
    unit_fen: int
    ok: int
    failed: int
    amount_fen: int
    #: Every line that cannot be bought, in order.
    lines: tuple[CheckedLine, ...]


class InvoiceView(Struct, frozen=True, kw_only=True):
    title: str
    tax_id: str | None
    email: str | None
    amount_fen: int
    state: Literal["requested", "issued"]
    number: str | None
    requested_ms: int
    issued_ms: int | None
    corrections: int


class OrderView(Struct, frozen=True, kw_only=True):
    number: str
    kind: Literal["individual", "group"]
    state: Literal["pending", "paid", "cancelled", "refunded"]
    plan: str
    plan_title: str
    year: int
    employer: str | None
    #: Who placed it (their name).
    buyer: str
    learners: int
    unit_fen: int
    amount_fen: int
    #: The amount in yuan, as people read it ("1,234.50" without the comma: "1234.50").
    amount: str
    provider: str
    created_ms: int
    paid_ms: int | None
    closed_ms: int | None
    invoice: InvoiceView | None = None
    #: How to pay, while the order waits for its payment.
    pay: PayInstructions | None = None


class OrderLineView(Struct, frozen=True, kw_only=True):
    name: str
    login: str
    active: bool


class OrderEventView(Struct, frozen=True, kw_only=True):
    kind: str
    at_ms: int
    actor: str
    detail: dict[str, Any]


class OrderDetail(Struct, frozen=True, kw_only=True):
    order: OrderView
    lines: tuple[OrderLineView, ...]
    events: tuple[OrderEventView, ...]


class Placed(Struct, frozen=True, kw_only=True):
    order: OrderView
    #: The lines left out of the order, and why.
    check: Checked


class OrderPage(Struct, frozen=True, kw_only=True):
    total: int
    page: int
    page_size: int
    orders: tuple[OrderView, ...]


class PurchaseRefusedError(CommerceError):
    """Not one line of a group purchase can be bought; ``lines`` says why for each."""

    def __init__(self, lines: Sequence[CheckedLine]) -> None:
        super().__init__(
            "nothing_to_buy",
            f"none of the {len(lines)} lines can be bought: see each line's reason",
            f"{len(lines)} 行均无法购买，请查看每行的原因",
        )
        self.problems = tuple(
            FieldProblem(
                field=f"logins[{x.line}]", code=x.code, message=x.reason, message_zh=x.reason_zh
            )
            for x in lines
        )


def _not_found(number: str) -> CommerceError:
    return CommerceError(
        "order_not_found", f"there is no order {number!r}", f"订单 {number!r} 不存在"
    )


# ---------------------------------------------------------------------- checking
def check_group(
    session: Session, *, employer: str | None, plan: str, logins: Sequence[str]
) -> tuple[Checked, list[int]]:
    """Check each pasted line for a group purchase of ``plan`` for ``employer``'s staff
    (any learner's when None: an operator): an ID number or mobile number, of an
    account, a learner of this employer, listed once, without the plan bought, on an
    order or being studied. Returns the report and the learners that can be bought."""
    if len(logins) > MAX_GROUP:
        raise CommerceError(
            "too_many",
            f"at most {MAX_GROUP:,} ID numbers per purchase, this has {len(logins):,}",
            f"每次最多购买 {MAX_GROUP:,} 人，当前为 {len(logins):,} 人",
        )
    row = _priced_plan(session, plan)
    assert row.id is not None
    parsed: list[tuple[int, str, tuple[str, str] | InvalidIdentifier]] = []
    for n, raw in enumerate(logins, start=1):
        try:
            parsed.append((n, raw, identify(raw)))
        except InvalidIdentifier as error:
            parsed.append((n, raw, error))
    users = _users_by_identifier(session, [p for _, _, p in parsed if isinstance(p, tuple)])
    ids = [u.id for u in users.values() if u.id is not None]
    taken = _places_taken(session, row.id, ids)
    studying = _studying(session, row.id, ids)

    failed: list[CheckedLine] = []
    chosen: list[int] = []
    seen: dict[int, int] = {}  # learner → the line that named them first
    for n, raw, found in parsed:
        why = _why_not(
            found, users=users, seen=seen, taken=taken, studying=studying, employer=employer
        )
        if why is None:
            assert isinstance(found, tuple)
            learner = users[found].id
            assert learner is not None
            seen[learner] = n
            chosen.append(learner)
            continue
        code, reason, reason_zh, name = why
        failed.append(
            CheckedLine(
                line=n, login=raw.strip(), name=name, code=code, reason=reason, reason_zh=reason_zh
            )
        )
        if isinstance(found, tuple) and found in users:
            seen.setdefault(users[found].id or 0, n)
    unit = _unit(row)
    return Checked(
        plan=row.key,
        plan_title=row.title,
        year=row.year,
        unit_fen=unit,
        ok=len(chosen),
        failed=len(failed),
        amount_fen=unit * len(chosen),
        lines=tuple(failed),
    ), chosen


def _priced_plan(session: Session, plan: str) -> PlanRow:
    """Plan ``plan``, which must have a price: a free plan is enrolled in, not bought."""
    row = plan_named(session, plan)
    if row.price_fen == 0:
        raise CommerceError(
            "plan_free",
            f"plan {plan!r} is free: enroll in it instead of buying it",
            f"学习计划 {plan!r} 免费，请直接报名，无需购买",
        )
    return row


def _why_not(
    found: tuple[str, str] | InvalidIdentifier,
    *,
    users: dict[tuple[str, str], User],
    seen: dict[int, int],
    taken: dict[int, tuple[str, str]],
    studying: set[int],
    employer: str | None,
) -> tuple[str, str, str, str] | None:
    """Why a line cannot be bought (code, reason, reason in Chinese, the person's name),
    or None."""
    if isinstance(found, InvalidIdentifier):
        return found.code, found.message, found.message_zh, ""
    user = users.get(found)
    if user is None or user.id is None:
        return (
            "no_account",
            "no account has this ID number or mobile number: import the staff roster first",
            "没有使用该身份证号或手机号的账号，请先导入人员名单",
            "",
        )
    name = user.display_name
    if "learner" not in user.roles or (employer is not None and user.employer != employer):
        return (
            "not_your_staff",
            "this person is not a learner of this employer",
            "该人员不是本单位的学员",
            name,
        )
    if user.id in seen:
        line = seen[user.id]
        return "listed_twice", f"listed already on line {line}", f"与第 {line} 行重复", name
    if user.id in taken:
        number, state = taken[user.id]
        if state == OrderState.PAID:
            return "bought", f"bought already (order {number})", f"已购买（订单 {number}）", name
        return (
            "on_order",
            f"on order {number}, waiting for its payment",
            f"已在待支付订单 {number} 中",
            name,
        )
    if user.id in studying:
        return "studying", "studies this plan already", "已在学习该计划", name
    return None


def _unit(row: PlanRow) -> int:
    return unit_fen(row.price_fen, row.price_basis, row.required_hours + row.elective_hours)


def _users_by_identifier(
    session: Session, found: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], User]:
    """The accounts of ``(kind, value)`` identifiers, read in chunks."""
    wanted = {"resident_id": set(), "mobile": set()}  # type: dict[str, set[str]]
    for kind, value in found:
        wanted[kind].add(value)
    out: dict[tuple[str, str], User] = {}
    for kind, column in (("resident_id", User.resident_id), ("mobile", User.phone)):
        values = sorted(wanted[kind])
        for chunk in in_chunks(values):
            for user in session.exec(select(User).where(col(column).in_(chunk))):
                key = user.resident_id if kind == "resident_id" else user.phone
                assert key is not None
                out[(kind, key)] = user
    return out


def _places_taken(session: Session, plan_id: int, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """Of ``ids``, those whose place on the plan an active line holds: its order's number
    and state."""
    taken: dict[int, tuple[str, str]] = {}
    for chunk in in_chunks(ids):
        rows = session.exec(
            select(OrderLine.learner_id, PurchaseOrder.number, PurchaseOrder.state)
            .join(PurchaseOrder, col(PurchaseOrder.id) == OrderLine.order_id)
            .where(
                OrderLine.plan_id == plan_id,
                col(OrderLine.active),
                col(OrderLine.learner_id).in_(chunk),
            )
        )
        taken.update({learner: (number, state) for learner, number, state in rows})
    return taken


def _studying(session: Session, plan_id: int, ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for chunk in in_chunks(ids):
        found.update(
            session.exec(
                select(PlanEnrollment.learner_id).where(
                    PlanEnrollment.plan_id == plan_id,
                    col(PlanEnrollment.learner_id).in_(chunk),
                )
            )
        )
    return found


# ----------------------------------------------------------------------- placing
def place_group(
    session: Session,
    *,
    employer: str | None,
    plan: str,
    logins: Sequence[str],
    buyer_id: int,
    providers: Providers,
    provider: str,
    now: int,
) -> Placed:
    """One order for every line of ``logins`` that can be bought (``check_group``); the
    others are reported. ``PurchaseRefusedError`` when none can be.

    If another order takes some of the same learners at the same moment, this order is
    made of the rest: the unique index refuses the second insert, the lines are checked
    again, and the taken learners are reported like any other line."""
    pay = providers.get(provider)
    _take_write_lock(session)
    for _ in range(3):
        checked, chosen = check_group(session, employer=employer, plan=plan, logins=logins)
        if not chosen:
            raise PurchaseRefusedError(checked.lines)
        try:
            with session.begin_nested():
                order = _insert_order(
                    session,
                    kind="group",
                    employer=employer,
                    plan=plan,
                    learners=chosen,
                    unit=checked.unit_fen,
                    buyer_id=buyer_id,
                    provider=pay.name,
                    now=now,
                    detail={"lines": len(logins), "failed": checked.failed},
                )
        except IntegrityError:
            log.info(
                "group order for plan %s: some places were taken meanwhile; checking again", plan
            )
            continue  # someone took some of them meanwhile: check again
        return Placed(order=view(session, order, providers=providers), check=checked)
    raise CommerceError(
        "busy",
        "others are buying for the same people right now: please try again",
        "其他人正在为同一批人员下单，请稍后重试",
    )


def place_individual(
    session: Session,
    *,
    learner_id: int,
    plan: str,
    providers: Providers,
    provider: str,
    now: int,
) -> OrderView:
    """A learner's own order for ``plan``; their pending order for it if one waits."""
    pay = providers.get(provider)
    _take_write_lock(session)
    row = _priced_plan(session, plan)
    assert row.id is not None
    taken = _places_taken(session, row.id, [learner_id]).get(learner_id)
    if taken is not None:
        number, state = taken
        if state == OrderState.PAID:
            raise CommerceError(
                "bought",
                f"you have bought this plan (order {number})",
                f"您已购买该计划（订单 {number}）",
            )
        order = order_named(session, number)
        if order.buyer_id == learner_id:
            return view(session, order, providers=providers)
        raise CommerceError(
            "on_order",
            f"your employer's order {number} holds this plan for you: it waits for their payment",
            f"单位订单 {number} 已为您购买该计划，正在等待付款",
        )
    if _studying(session, row.id, [learner_id]):
        raise CommerceError("studying", "you study this plan already", "您已在学习该计划")
    try:
        with session.begin_nested():
            order = _insert_order(
                session,
                kind="individual",
                employer=None,
                plan=plan,
                learners=[learner_id],
                unit=_unit(row),
                buyer_id=learner_id,
                provider=pay.name,
                now=now,
                detail={},
            )
    except IntegrityError:
        raise CommerceError(
            "busy",
            "this plan is being bought for you right now: look at your orders",
            "正在为您购买该计划，请查看我的订单",
        ) from None
    return view(session, order, providers=providers)


def _insert_order(
    session: Session,
    *,
    kind: str,
    employer: str | None,
    plan: str,
    learners: Sequence[int],
    unit: int,
    buyer_id: int,
    provider: str,
    now: int,
    detail: dict[str, Any],
) -> PurchaseOrder:
    row = plan_named(session, plan)
    assert row.id is not None
    order = PurchaseOrder(
        number=f"new-{secrets.token_hex(8)}",
        kind=kind,
        buyer_id=buyer_id,
        employer=employer,
        plan_id=row.id,
        unit_fen=unit,
        amount_fen=unit * len(learners),
        state="pending",
        provider=provider,
        created_ms=now,
    )
    session.add(order)
    session.flush()
    assert order.id is not None
    order.number = order_number(now, order.id)
    session.execute(
        sa.insert(OrderLine),
        [
            {
                "order_id": order.id,
                "learner_id": learner,
                "plan_id": row.id,
                "amount_fen": unit,
                "active": True,
            }
            for learner in learners
        ],
    )
    record_event(
        session,
        order,
        "created",
        actor_id=buyer_id,
        now=now,
        detail={**detail, "learners": len(learners), "amount_fen": order.amount_fen},
    )
    session.flush()
    return order


def _take_write_lock(session: Session) -> None:
    """On SQLite, take the database's one write lock before reading (as ``BEGIN
    IMMEDIATE`` would), so what is checked is still true when the order is written.
    PostgreSQL relies on the unique index instead."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            sa.update(PurchaseOrder)
            .where(col(PurchaseOrder.id) == -1)
            .values(state=PurchaseOrder.state)
        )


def record_event(
    session: Session,
    order: PurchaseOrder,
    kind: str,
    *,
    actor_id: int | None,
    now: int,
    detail: dict[str, Any],
) -> None:
    assert order.id is not None
    session.add(
        OrderEvent(order_id=order.id, kind=kind, actor_id=actor_id, detail=detail, at_ms=now)
    )


# ------------------------------------------------------------------ paying, refunding
def confirm_payment(
    session: Session,
    *,
    number: str,
    provider: str,
    reference: str,
    amount_fen: int,
    actor_id: int | None,
    now: int,
    providers: Providers,
) -> OrderView:
    """Book a payment of order ``number``: the whole amount, under the provider's unique
    ``reference`` (a bank statement's serial). The order is paid and its learners are
    enrolled in the plan and its exam. The same payment told again (a repeated callback,
    a double click) changes nothing and answers the order as it is."""
    providers.get(provider)
    order = order_named(session, number, lock=True)
    booked = session.exec(
        select(Payment).where(
            Payment.provider == provider, Payment.reference == reference, Payment.kind == "payment"
        )
    ).first()
    if booked is not None:
        if booked.order_id != order.id:
            raise CommerceError(
                "reference_used",
                f"payment {reference!r} is booked for another order",
                f"付款流水 {reference!r} 已用于其他订单",
            )
        return view(session, order, providers=providers)
    move(order.state, OrderState.PAID)
    check_amount(order.amount_fen, amount_fen)
    assert order.id is not None
    session.add(
        Payment(
            order_id=order.id,
            kind="payment",
            provider=provider,
            reference=reference,
            amount_fen=amount_fen,
            at_ms=now,
            actor_id=actor_id,
        )
    )
    order.state, order.paid_ms = OrderState.PAID.value, now
    session.add(order)
    plan = session.get(PlanRow, order.plan_id)
    assert plan is not None
    study.enroll_many(
        session, learner_ids=_active_learners(session, order.id), plan=plan.key, now=now
    )
    record_event(
        session,
        order,
        "paid",
        actor_id=actor_id,
        now=now,
        detail={"provider": provider, "reference": reference, "amount_fen": amount_fen},
    )
    session.flush()
    return view(session, order, providers=providers)


def book_notice(
    session: Session, *, provider: str, notice: PaymentNotice, now: int, providers: Providers
) -> OrderView:
    """What a provider's callback reported: a payment, or a refund it made."""
    if notice.kind == "payment":
        return confirm_payment(
            session,
            number=notice.order,
            provider=provider,
            reference=notice.reference,
            amount_fen=notice.amount_fen,
            actor_id=None,
            now=now,
            providers=providers,
        )
    return refund(
        session,
        number=notice.order,
        provider=provider,
        reference=notice.reference,
        reason="refunded by the provider",
        actor_id=None,
        now=now,
        providers=providers,
    )


def cancel(
    session: Session, *, number: str, actor: User, now: int, providers: Providers
) -> OrderView:
    """Cancel an unpaid order (its buyer, its employer's administrator, an operator):
    its learners' places are free again."""
    order = visible_order(session, number, actor, lock=True)
    move(order.state, OrderState.CANCELLED)
    _close(session, order, OrderState.CANCELLED, now)
    record_event(session, order, "cancelled", actor_id=actor.id, now=now, detail={})
    session.flush()
    return view(session, order, providers=providers)


def refund(
    session: Session,
    *,
    number: str,
    provider: str | None = None,
    reference: str,
    reason: str,
    actor_id: int | None,
    now: int,
    providers: Providers,
) -> OrderView:
    """Refund a paid order in full, with the reason and the refund's reference: its
    learners leave the plan (and the exam it unlocked). Refused while any of them has
    credited study or an exam attempt on it: what was used is not refunded here."""
    order = order_named(session, number, lock=True)
    assert order.id is not None
    provider = provider or order.provider
    booked = session.exec(
        select(Payment).where(
            Payment.provider == provider, Payment.reference == reference, Payment.kind == "refund"
        )
    ).first()
    if booked is not None and booked.order_id == order.id:
        return view(session, order, providers=providers)  # told twice
    move(order.state, OrderState.REFUNDED)
    plan = session.get(PlanRow, order.plan_id)
    assert plan is not None and plan.id is not None
    learners = _active_learners(session, order.id)
    used = _used(session, plan, learners)
    if used:
        raise CommerceError(
            "plan_used",
            f"{len(used)} of the order's learners have studied the plan or sat its exam "
            f"({', '.join(used[:5])}{' …' if len(used) > 5 else ''}): it cannot be refunded "
            "here",
            f"订单中有 {len(used)} 人已开始学习或参加考试（{'、'.join(used[:5])}"
            f"{' 等' if len(used) > 5 else ''}），不能在此退款",
        )
    session.add(
        Payment(
            order_id=order.id,
            kind="refund",
            provider=provider,
            reference=reference,
            amount_fen=order.amount_fen,
            at_ms=now,
            actor_id=actor_id,
        )
    )
    _withdraw(session, plan, learners)
    _close(session, order, OrderState.REFUNDED, now)
    record_event(
        session,
        order,
        "refunded",
        actor_id=actor_id,
        now=now,
        detail={"reason": reason, "reference": reference, "amount_fen": order.amount_fen},
    )
    session.flush()
    return view(session, order, providers=providers)


def _close(session: Session, order: PurchaseOrder, state: OrderState, now: int) -> None:
    assert state not in HOLDS_PLACES
    order.state, order.closed_ms = state.value, now
    session.add(order)
    session.execute(
        sa.update(OrderLine).where(col(OrderLine.order_id) == order.id).values(active=False)
    )


def _active_learners(session: Session, order_id: int) -> list[int]:
    return list(
        session.exec(
            select(OrderLine.learner_id)
            .where(OrderLine.order_id == order_id, col(OrderLine.active))
            .order_by(col(OrderLine.id))
        )
    )


def _used(session: Session, plan: PlanRow, learners: Sequence[int]) -> list[str]:
    """The names of ``learners`` with credited study on ``plan`` or an attempt at its exam."""
    chapters = (
        select(Chapter.id)
        .join(PlanCourse, col(PlanCourse.course_id) == Chapter.course_id)
        .where(PlanCourse.plan_id == plan.id)
    )
    used: set[int] = set()
    for chunk in in_chunks(learners):
        used.update(
            session.exec(
                select(ChapterProgress.learner_id).where(
                    col(ChapterProgress.learner_id).in_(chunk),
                    col(ChapterProgress.chapter_id).in_(chapters),
                    col(ChapterProgress.credited_ms) > 0,
                )
            )
        )
        if plan.exam_key:
            used.update(
                session.exec(
                    select(Attempt.learner_id).where(
                        col(Attempt.learner_id).in_(chunk), Attempt.exam_key == plan.exam_key
                    )
                )
            )
    if not used:
        return []
    names = session.exec(select(User.display_name).where(col(User.id).in_(sorted(used))))
    return sorted(names)


def _withdraw(session: Session, plan: PlanRow, learners: Sequence[int]) -> None:
    """``learners`` leave ``plan``, and its exam unless another plan of theirs unlocks it."""
    for chunk in in_chunks(learners):
        session.execute(
            sa.delete(PlanEnrollment).where(
                col(PlanEnrollment.plan_id) == plan.id, col(PlanEnrollment.learner_id).in_(chunk)
            )
        )
        if not plan.exam_key:
            continue
        keep = (
            select(PlanEnrollment.learner_id)
            .join(PlanRow, col(PlanRow.id) == PlanEnrollment.plan_id)
            .where(PlanRow.exam_key == plan.exam_key, col(PlanEnrollment.learner_id).in_(chunk))
        )
        session.execute(
            sa.delete(Enrollment).where(
                col(Enrollment.exam_key) == plan.exam_key,
                col(Enrollment.learner_id).in_(chunk),
                col(Enrollment.learner_id).not_in(keep),
            )
        )


# ----------------------------------------------------------------------- enrolling
def require_purchase(session: Session, *, plan: PlanRow, learner_ids: Sequence[int]) -> None:
    """A priced plan is entered by buying it (or redeeming a code), not by enrolling:
    ``CommerceError('purchase_required')``. A free plan passes."""
    if plan.price_fen > 0:
        raise CommerceError(
            "purchase_required",
            f"plan {plan.key!r} costs {yuan(_unit(plan))} yuan a person: buy it (a group "
            "purchase for staff) or redeem an activation code",
            f"学习计划 {plan.key!r} 每人 {yuan(_unit(plan))} 元，请购买（单位可团购）或使用激活码",
        )


# ------------------------------------------------------------------------ reading
def order_named(session: Session, number: str, *, lock: bool = False) -> PurchaseOrder:
    query = select(PurchaseOrder).where(PurchaseOrder.number == number)
    if lock:
        _take_write_lock(session)
        query = query.with_for_update()
    order = session.exec(query).first()
    if order is None:
        raise _not_found(number)
    return order


def visible_order(
    session: Session, number: str, actor: User, *, lock: bool = False
) -> PurchaseOrder:
    """Order ``number`` if ``actor`` may see it — its buyer, an administrator of the
    employer it was for, an operator — else the same 404 as for no such order."""
    order = order_named(session, number, lock=lock)
    if (
        "operator" in actor.roles
        or order.buyer_id == actor.id
        or ("employer_admin" in actor.roles and actor.employer and order.employer == actor.employer)
    ):
        return order
    raise _not_found(number)


def detail(session: Session, *, number: str, actor: User, providers: Providers) -> OrderDetail:
    order = visible_order(session, number, actor)
    lines = session.exec(
        select(User.display_name, User.login, OrderLine.active)
        .join(User, col(User.id) == OrderLine.learner_id)
        .where(OrderLine.order_id == order.id)
        .order_by(col(OrderLine.id))
    ).all()
    events = session.exec(
        select(OrderEvent, User.display_name)
        .join(User, col(User.id) == OrderEvent.actor_id, isouter=True)
        .where(OrderEvent.order_id == order.id)
        .order_by(col(OrderEvent.id))
    ).all()
    return OrderDetail(
        order=view(session, order, providers=providers),
        lines=tuple(OrderLineView(name=n, login=masked(login), active=a) for n, login, a in lines),
        events=tuple(
            OrderEventView(kind=e.kind, at_ms=e.at_ms, actor=name or "", detail=e.detail)
            for e, name in events
        ),
    )


def orders(
    session: Session,
    *,
    providers: Providers,
    buyer_id: int | None = None,
    employer: str | None = None,
    state: str | None = None,
    query: str = "",
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> OrderPage:
    """Orders newest first: a buyer's, an employer's, or (neither) every one; of one
    state; whose number or plan contains ``query``."""
    where: list[Any] = []
    if buyer_id is not None:
        where.append(col(PurchaseOrder.buyer_id) == buyer_id)
    if employer is not None:
        where.append(col(PurchaseOrder.employer) == employer)
    if state:
        where.append(col(PurchaseOrder.state) == state)
    if query.strip():
        term = f"%{query.strip()}%"
        where.append(
            sa.or_(
                col(PurchaseOrder.number).like(term),
                col(PlanRow.key).like(term),
                col(PlanRow.title).like(term),
            )
        )
    base = (
        select(PurchaseOrder).join(PlanRow, col(PlanRow.id) == PurchaseOrder.plan_id).where(*where)
    )
    total = session.exec(select(sa.func.count()).select_from(base.subquery())).one()
    rows = session.exec(
        base.order_by(col(PurchaseOrder.id).desc()).offset((page - 1) * page_size).limit(page_size)
    ).all()
    return OrderPage(
        total=total,
        page=page,
        page_size=page_size,
        orders=tuple(view(session, o, providers=providers) for o in rows),
    )


def view(session: Session, order: PurchaseOrder, *, providers: Providers) -> OrderView:
    assert order.id is not None
    plan = session.get(PlanRow, order.plan_id)
    assert plan is not None
    buyer = session.get(User, order.buyer_id) if order.buyer_id is not None else None
    learners = session.exec(
        select(sa.func.count()).select_from(OrderLine).where(OrderLine.order_id == order.id)
    ).one()
    invoice = session.exec(select(Invoice).where(Invoice.order_id == order.id)).first()
    pending = order.state == OrderState.PENDING
    provider = providers.by_name.get(order.provider)
    return OrderView(
        number=order.number,
        kind=order.kind,  # type: ignore[arg-type]
        state=order.state,  # type: ignore[arg-type]
        plan=plan.key,
        plan_title=plan.title,
        year=plan.year,
        employer=order.employer,
        buyer=buyer.display_name if buyer else "",
        learners=learners,
        unit_fen=order.unit_fen,
        amount_fen=order.amount_fen,
        amount=yuan(order.amount_fen),
        provider=order.provider,
        created_ms=order.created_ms,
        paid_ms=order.paid_ms,
        closed_ms=order.closed_ms,
        invoice=None if invoice is None else invoice_view(invoice),
        pay=provider.instructions(order=order.number, amount_fen=order.amount_fen)
        if pending and provider is not None
        else None,
    )


def invoice_view(invoice: Invoice) -> InvoiceView:
    return InvoiceView(
        title=invoice.title,
        tax_id=invoice.tax_id,
        email=invoice.email,
        amount_fen=invoice.amount_fen,
        state=invoice.state,  # type: ignore[arg-type]
        number=invoice.number,
        requested_ms=invoice.requested_ms,
        issued_ms=invoice.issued_ms,
        corrections=invoice.corrections,
    )


def check_xlsx(checked: Checked) -> bytes:
    """The lines that cannot be bought as a workbook the buyer fixes and pastes again."""
    header = ["行号 Line", "身份证号/手机号 ID or mobile", "姓名 Name", "错误原因 Reason"]
    rows = ([x.line, x.login, x.name, f"{x.reason_zh} / {x.reason}"] for x in checked.lines)
    return workbook([[f"{checked.plan_title}（{checked.year}）"], header, *rows], title="errors")
