"""An employer's side (单位): its staff with their plans, credited hours against the
yearly requirement and exam status; enrolling staff in a plan.

An employer administrator sees and acts on the learners of their own employer only
(``User.employer``); an operator names the employer. Names and masked identifiers, never
whole ID numbers: the list is what an HR office screen shows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

import sqlalchemy as sa
from msgspec import Struct
from sqlmodel import Session, col, select

from api.services import attempts, study
from api.services.accounts import NO_PASSWORD, AccountInvalidError, FieldProblem, find_account
from api.store.tables import Plan as PlanRow
from api.store.tables import PlanEnrollment, User
from examengine.ids import masked

#: Staff per page of the list, and the most one page may ask for.
PAGE_SIZE, MAX_PAGE_SIZE = 50, 500
#: Logins one enrollment request may name (a pasted list of ID numbers).
MAX_ENROLL = 10_000


class StaffPlan(Struct, frozen=True, kw_only=True):
    plan: str
    title: str
    year: int
    credited_hours: float
    credit_required: float
    percent: float
    met: bool


class StaffExam(Struct, frozen=True, kw_only=True):
    exam: str
    title: str
    #: ``passed``, ``locked`` (attempts used up: a re-study is due), ``open`` (may or may
    #: not start yet, attempts left).
    status: Literal["passed", "locked", "open"]
    attempts_used: int
    attempts_allowed: int


class StaffMember(Struct, frozen=True, kw_only=True):
    name: str
    #: The login as a screen shows it (110105********002X).
    login: str
    #: The login whole, to act on the account (``/api/accounts/{account}/…``); never shown.
    account: str
    phone: str
    #: False while the account's activation link has not been used.
    activated: bool
    #: Credited hours this year, over every plan of this year, and the requirement.
    year_hours: float
    year_required: float
    plans: tuple[StaffPlan, ...]
    exams: tuple[StaffExam, ...]


class StaffPage(Struct, frozen=True, kw_only=True):
    employer: str
    year: int
    total: int
    page: int
    page_size: int
    staff: tuple[StaffMember, ...]


class EnrollLine(Struct, frozen=True, kw_only=True):
    line: int
    login: str
    status: Literal["enrolled", "already", "failed"]
    reason: str = ""
    reason_zh: str = ""


class EnrollReport(Struct, frozen=True, kw_only=True):
    plan: str
    enrolled: int
    already: int
    failed: int
    #: Every line that was not newly enrolled, in order.
    lines: tuple[EnrollLine, ...]


def staff_of(
    session: Session, *, employer: str, year: int, year_required: float, now: int,
    query: str = "", page: int = 1, page_size: int | None = PAGE_SIZE,
) -> StaffPage:  # fmt: skip
    """One page of ``employer``'s learners by name (every one with ``page_size=None``),
    those whose name or identifiers contain ``query``: their plans' progress, their hours
    of ``year`` against ``year_required``, their exams."""
    learners = sa.cast(col(User.roles), sa.String).like('%"learner"%')
    where = [col(User.employer) == employer, learners]
    if query.strip():
        term = f"%{query.strip()}%"
        where.append(sa.or_(col(User.display_name).like(term), col(User.login).like(term),
                            col(User.phone).like(term)))  # fmt: skip
    total = session.exec(select(sa.func.count()).select_from(User).where(*where)).one()
    ordered = select(User).where(*where).order_by(col(User.display_name), col(User.id))
    if page_size is not None:
        ordered = ordered.offset((page - 1) * page_size).limit(page_size)
    users = session.exec(ordered).all()
    # The year of every plan, read once for the page (plans are few; staff many).
    years = dict(session.exec(select(PlanRow.key, PlanRow.year)).all())
    return StaffPage(
        employer=employer, year=year, total=total, page=page, page_size=page_size or total,
        staff=tuple(
            _member(session, u, years=years, year=year, year_required=year_required, now=now)
            for u in users
        ),
    )  # fmt: skip


def _member(
    session: Session,
    user: User,
    *,
    years: dict[str, int],
    year: int,
    year_required: float,
    now: int,
) -> StaffMember:
    assert user.id is not None
    plans = study.my_plans(session, learner_id=user.id, now=now).plans
    staff_plans = tuple(
        StaffPlan(
            plan=p.progress.plan, title=p.progress.title, year=years.get(p.progress.plan, 0),
            credited_hours=p.progress.credited_hours, credit_required=p.progress.credit_required,
            percent=p.progress.percent, met=p.progress.met,
        )
        for p in plans
    )  # fmt: skip
    exams = attempts.my_exams(session, learner_id=user.id, now=now).exams
    return StaffMember(
        name=user.display_name, login=masked(user.login), account=user.login,
        phone=masked(user.phone or ""),
        activated=user.password_hash != NO_PASSWORD,
        year_hours=round(sum(p.credited_hours for p in staff_plans if p.year == year), 1),
        year_required=year_required, plans=staff_plans,
        exams=tuple(
            StaffExam(
                exam=e.exam, title=e.title,
                status="passed" if e.passed else "locked" if e.locked else "open",
                attempts_used=e.attempts_used, attempts_allowed=e.attempts_allowed,
            )
            for e in exams
        ),
    )  # fmt: skip


_SEPARATORS = re.compile(r"[\s,，;；]+")


def parse_logins(text: str) -> list[str]:
    """ID numbers or phones pasted one per line (or separated by commas or spaces)."""
    return [part for part in _SEPARATORS.split(text) if part]


def enroll_staff(
    session: Session, *, employer: str | None, plan: str, logins: Sequence[str], now: int
) -> EnrollReport:
    """Enroll each of ``logins`` (ID numbers, phones or logins) in ``plan``: each must be
    a learner of ``employer`` (any learner when ``employer`` is None: an operator). A
    line that is not one is reported and the others are enrolled (idempotent: a learner
    enrolled already is reported as such). Refuses an unknown plan
    or too many lines (``AccountInvalidError`` naming the field), and a priced plan for
    an employer (``StudyError('purchase_required')``: it is bought, ``api.services.orders``)."""
    if len(logins) > MAX_ENROLL:
        raise AccountInvalidError([FieldProblem(
            field="logins", code="too_many",
            message=f"at most {MAX_ENROLL:,} per request, this has {len(logins):,}",
            message_zh=f"每次最多 {MAX_ENROLL:,} 人，当前为 {len(logins):,} 人",
        )])  # fmt: skip
    row = plan_named(session, plan)
    assert row.id is not None
    if employer is not None:
        study.require_free(row)  # an operator may enrol anyone; an employer buys
    enrolled, lines, seen = 0, [], set()
    already_in = _enrolled_ids(session, row.id)
    for n, login in enumerate(logins, start=1):
        user = find_account(session, login)
        mine = (
            user is not None
            and "learner" in user.roles
            and (employer is None or user.employer == employer)
        )
        if not mine or user is None or user.id is None:
            lines.append(EnrollLine(
                line=n, login=masked(login), status="failed",
                reason="no learner of this employer has this ID number or phone",
                reason_zh="本单位没有使用该身份证号或手机号的学员",
            ))  # fmt: skip
        elif user.id in already_in or user.id in seen:
            lines.append(EnrollLine(line=n, login=masked(user.login), status="already",
                                    reason="enrolled already", reason_zh="已报名"))  # fmt: skip
        else:
            study.enroll(session, learner_id=user.id, plan=plan, now=now)
            seen.add(user.id)
            enrolled += 1
    return EnrollReport(
        plan=plan, enrolled=enrolled, already=sum(1 for x in lines if x.status == "already"),
        failed=sum(1 for x in lines if x.status == "failed"), lines=tuple(lines),
    )  # fmt: skip


def plan_named(session: Session, plan: str) -> PlanRow:
    """The plan ``plan``, or ``AccountInvalidError`` naming the field ``plan``."""
    row = session.exec(select(PlanRow).where(PlanRow.key == plan)).first()
    if row is None or row.id is None:
        raise AccountInvalidError([FieldProblem(
            field="plan", code="plan_not_found", message=f"there is no plan {plan!r}",
            message_zh=f"学习计划 {plan!r} 不存在",
        )])  # fmt: skip
    return row


def _enrolled_ids(session: Session, plan_id: int) -> set[int]:
    return set(
        session.exec(
            select(PlanEnrollment.learner_id).where(PlanEnrollment.plan_id == plan_id)
        ).all()
    )
