"""An employer's side (单位): its staff with their plans, credited hours against the
yearly requirement and exam status; enrolling staff in a plan; and, for operators, the
registry of employers (names, unified social credit codes, regions, staff counts).

An employer administrator sees and acts on the learners of their own employer only
(``User.employer``); an operator names the employer. Names and masked identifiers, never
whole ID numbers: the list is what an HR office screen shows. Who belongs to which
employer is set in one place, ``api.services.accounts.employment`` (decision 0025).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from msgspec import Struct
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.services import attempts, study
from api.services.accounts import (
    NO_PASSWORD,
    AccountInvalidError,
    EmployerExistsError,
    EmployerNotFoundError,
    FieldProblem,
    check_employer,
    find_account,
)
from api.settings import StudySettings
from api.store.tables import Employer, Employment, PlanEnrollment, User
from api.store.tables import Plan as PlanRow
from examengine.ids import InvalidIdentifier, check_credit_code, masked

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


#: The staff list's account filter, and its plan filter's "in no plan".
AccountFilter = Literal["all", "activated", "not_activated"]
NO_PLAN = "-"


def staff_where(
    *, employer: str, query: str = "", account: AccountFilter = "all", plan: str | None = None
) -> list[Any]:
    """The staff list's filters as WHERE clauses: ``employer``'s learners whose name or
    identifiers contain ``query``, whose account is activated or not (``account``), who
    study ``plan`` (``NO_PLAN``: no plan at all). The list and the cards' archive use them."""
    learners = sa.cast(col(User.roles), sa.String).like('%"learner"%')
    where: list[Any] = [col(User.employer) == employer, learners]
    if query.strip():
        term = f"%{query.strip()}%"
        where.append(sa.or_(col(User.display_name).like(term), col(User.login).like(term),
                            col(User.phone).like(term)))  # fmt: skip
    if account != "all":
        unused = col(User.password_hash) == NO_PASSWORD
        where.append(unused if account == "not_activated" else sa.not_(unused))
    if plan == NO_PLAN:
        where.append(col(User.id).not_in(select(PlanEnrollment.learner_id)))
    elif plan:
        where.append(col(User.id).in_(
            select(PlanEnrollment.learner_id)
            .join(PlanRow, col(PlanRow.id) == PlanEnrollment.plan_id).where(PlanRow.key == plan)
        ))  # fmt: skip
    return where


def staff_of(
    session: Session, *, employer: str, year: int, year_required: float, now: int,
    query: str = "", account: AccountFilter = "all", plan: str | None = None, page: int = 1,
    page_size: int | None = PAGE_SIZE,
) -> StaffPage:  # fmt: skip
    """One page of ``employer``'s learners by name (every one with ``page_size=None``),
    those whose name or identifiers contain ``query``, whose account is activated or not
    (``account``), who study ``plan`` (``NO_PLAN``: no plan at all): their plans'
    progress, their hours of ``year`` against ``year_required``, their exams."""
    where = staff_where(employer=employer, query=query, account=account, plan=plan)
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


def yearly_requirement(session: Session, study: StudySettings, employer: str) -> int:
    """The hours a year ``employer``'s staff must earn: their region's where the
    settings name it (``EXAMENGINE_YEARLY_HOURS_BY_REGION``), else the national 90 (or
    ``EXAMENGINE_YEARLY_HOURS``)."""
    region = session.exec(select(Employer.region).where(Employer.name == employer)).first()
    return study.yearly_hours_for(region)


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


# ------------------------------------------------------------------- the registry

#: Longest region (``employer.region``).
MAX_REGION = 100
#: The registration's ``name`` is the employer's (``FIELD_LABELS`` has a person's 姓名).
REGISTRY_LABELS = {"name": ("employer's name", "单位名称")}


class EmployerEntry(Struct, frozen=True, kw_only=True):
    """An employer as operators list it: by name, with how many learners it has now."""

    name: str
    #: 统一社会信用代码, when known.
    credit_code: str | None
    region: str | None
    #: Learners whose current employer it is (an open employment).
    staff: int


class EmployerPage(Struct, frozen=True, kw_only=True):
    total: int
    page: int
    page_size: int
    employers: tuple[EmployerEntry, ...]


def employers_named(
    session: Session, *, query: str = "", page: int = 1, page_size: int = PAGE_SIZE
) -> EmployerPage:
    """One page of the employers, by name, whose name, credit code or region contains
    ``query``; each with its current learners, counted from the open employments of the
    page's employers alone (an index on the employer: no scan of every account)."""
    where = []
    if query.strip():
        term = f"%{unicodedata.normalize('NFKC', query).strip()}%"
        where.append(sa.or_(col(Employer.name).like(term), col(Employer.credit_code).like(term),
                            col(Employer.region).like(term)))  # fmt: skip
    total = session.exec(select(sa.func.count()).select_from(Employer).where(*where)).one()
    rows = session.exec(
        select(Employer).where(*where).order_by(col(Employer.name))
        .offset((page - 1) * page_size).limit(page_size)
    ).all()  # fmt: skip
    counts = _staff_counts(session, [r.id for r in rows if r.id is not None])
    return EmployerPage(
        total=total, page=page, page_size=page_size,
        employers=tuple(_entry(r, counts.get(r.id or 0, 0)) for r in rows),
    )  # fmt: skip


def register_employer(
    session: Session, *, name: str, credit_code: str | None, region: str | None, now_ms: int
) -> EmployerEntry:
    """Register an employer ahead of its staff, with its unified social credit code and
    region when known (an employer a roster or a registration names is registered then,
    by name alone).

    Raises ``AccountInvalidError`` naming each invalid field (``name``: the employer name
    rules; ``credit_code``: GB 32100; ``region``: one line of at most 100 characters),
    ``EmployerExistsError`` (a 409) when the name or the code is registered already.
    """
    problems: list[FieldProblem] = []
    checked = check_employer(name)
    if isinstance(checked, FieldProblem):  # the field is ``employer`` elsewhere
        problems.append(FieldProblem(field="name", code=checked.code, message=checked.message,
                                     message_zh=checked.message_zh))  # fmt: skip
    code, where = _details(credit_code, region, problems)
    if problems:
        raise AccountInvalidError(problems, labels=REGISTRY_LABELS)
    assert isinstance(checked, str)
    spellings = {checked, name.strip()}
    if session.exec(select(Employer.id).where(col(Employer.name).in_(spellings))).first():
        raise EmployerExistsError("name", checked)
    if code and session.exec(select(Employer.id).where(Employer.credit_code == code)).first():
        raise EmployerExistsError("credit_code", code)
    row = Employer(name=checked, credit_code=code, region=where,
                   created_at=datetime.fromtimestamp(now_ms / 1000, UTC))  # fmt: skip
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # registered by a concurrent request since the check
        raise EmployerExistsError("name", checked) from None
    return _entry(row, 0)


def update_employer(
    session: Session, *, name: str, credit_code: str | None, region: str | None
) -> EmployerEntry:
    """Give a registered employer its unified social credit code and region (an
    employer a roster named has neither), or correct them; None or empty clears one.
    The name is not changed here: it is on every account and order that carries it.

    Raises ``EmployerNotFoundError`` for an unknown employer (a 404),
    ``AccountInvalidError`` naming each invalid field, ``EmployerExistsError`` when
    another employer has the code."""
    row = session.exec(select(Employer).where(Employer.name == name).with_for_update()).first()
    if row is None or row.id is None:
        raise EmployerNotFoundError(name)
    problems: list[FieldProblem] = []
    code, where = _details(credit_code, region, problems)
    if problems:
        raise AccountInvalidError(problems, labels=REGISTRY_LABELS)
    other = session.exec(
        select(Employer.id).where(Employer.credit_code == code, Employer.id != row.id)
    ).first() if code else None  # fmt: skip
    if other is not None:
        assert code is not None
        raise EmployerExistsError("credit_code", code)
    row.credit_code, row.region = code, where
    session.add(row)
    session.flush()
    return _entry(row, _staff_counts(session, [row.id]).get(row.id, 0))


def _details(
    credit_code: str | None, region: str | None, problems: list[FieldProblem]
) -> tuple[str | None, str | None]:
    """The credit code (GB 32100) and the region, checked; what is wrong is appended to
    ``problems``."""
    code: str | None = None
    if credit_code is not None and credit_code.strip():
        try:
            code = check_credit_code(credit_code)
        except InvalidIdentifier as exc:
            problems.append(FieldProblem(
                field="credit_code", code=exc.code, message=exc.message,
                message_zh=exc.message_zh,
            ))  # fmt: skip
    where = unicodedata.normalize("NFKC", region or "").strip() or None
    if where is not None and (len(where) > MAX_REGION or not where.isprintable()):
        problems.append(FieldProblem(
            field="region", code="region_invalid",
            message=f"one line of at most {MAX_REGION} characters",
            message_zh=f"须在一行内，最多 {MAX_REGION} 个字",
        ))  # fmt: skip
    return code, where


def _entry(row: Employer, staff: int) -> EmployerEntry:
    return EmployerEntry(name=row.name, credit_code=row.credit_code, region=row.region, staff=staff)


def _staff_counts(session: Session, employer_ids: Sequence[int]) -> dict[int, int]:
    """Employer id → its learners now (open employments of accounts with the role)."""
    if not employer_ids:
        return {}
    learners = sa.cast(col(User.roles), sa.String).like('%"learner"%')
    rows = session.execute(
        sa.select(col(Employment.employer_id), sa.func.count())
        .join(User, col(User.id) == col(Employment.user_id))
        .where(col(Employment.employer_id).in_(employer_ids),
               col(Employment.end_ms).is_(None), learners)
        .group_by(col(Employment.employer_id))
    )  # fmt: skip
    return {employer_id: count for employer_id, count in rows}
