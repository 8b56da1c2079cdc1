"""The employer's side over HTTP (``/api/employer``): the staff list (plans, credited hours
against the yearly requirement, exams), its xlsx export, and enrolling staff in a plan;
and the operators' registry of employers (``/api/operator/employers``).

An employer administrator works on their own employer's learners; an operator names the
employer (``?employer=``). The plans a learner may be enrolled in: ``GET /api/plans``.
Moving a learner to another employer, and their history: ``/api/accounts/{login}/…``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import State
from litestar.params import FromQuery, JSONBody
from msgspec import Meta, Struct
from sqlmodel import Session, col, select

from api.http.auth import principal_of, requires_role
from api.http.errors import RAISES
from api.http.params import EmployerRef, Filter, Limit, OptionalFilter, PageNumber
from api.http.schema import replying_in
from api.services import employer as employers
from api.services.accounts import AccountError, AccountInvalidError, FieldProblem
from api.services.sheets import workbook
from api.settings import Settings
from api.store.db import Uow
from api.store.tables import Plan as PlanRow
from api.store.tables import User
from examengine.clock import year_of
from examengine.commerce import unit_fen
from examengine.credit import StudyError

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EmployerName = Annotated[str, Meta(min_length=1, max_length=200)]


class PlanSummary(Struct, frozen=True, kw_only=True):
    plan: str
    title: str
    year: int
    category: str
    required_hours: float
    elective_hours: float
    exam: str | None
    #: The price in fen per ``price_basis`` (``person`` or ``hour``); 0: free.
    price_fen: int
    price_basis: str
    #: What one person's place costs, in fen.
    unit_fen: int


class EmployerRegistration(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: EmployerName
    #: 统一社会信用代码 (GB 32100, 18 characters; spaces and lower case forgiven).
    credit_code: Annotated[str, Meta(max_length=32)] | None = None
    region: Annotated[str, Meta(max_length=employers.MAX_REGION)] | None = None


class EmployerDetails(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An employer's details other than its name; None or empty clears one."""

    credit_code: Annotated[str, Meta(max_length=32)] | None = None
    region: Annotated[str, Meta(max_length=employers.MAX_REGION)] | None = None


class EnrollRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    plan: Annotated[str, Meta(min_length=1, max_length=120)]
    #: ID numbers or phones, one per line (or separated by commas or spaces).
    logins: Annotated[str, Meta(max_length=employers.MAX_ENROLL * 20)]
    #: Operators only: whose staff (an administrator's is their own).
    employer: EmployerName | None = None


def _now(state: State) -> int:
    return int(state.clock.now_ms())


def acting_employer(request: Request[Any, Any, Any], db: Session, asked: str | None) -> str:
    """The employer the caller acts for: an administrator's own, or the one an operator
    names (422 naming ``employer`` when an operator names none)."""
    user = db.get(User, principal_of(request).user_id)
    if user is not None and "operator" in user.roles:
        if not asked:
            raise AccountInvalidError([FieldProblem(
                field="employer", code="employer_required",
                message="an operator names the employer (?employer=…)",
                message_zh="运维人员须指明单位（?employer=…）",
            )])  # fmt: skip
        return asked
    if user is None or not user.employer:
        raise AccountInvalidError([FieldProblem(
            field="employer", code="no_employer",
            message="this administrator account belongs to no employer",
            message_zh="该管理员账号未关联单位",
        )])  # fmt: skip
    return user.employer


def _year(state: State) -> int:
    return year_of(_now(state))


@get("/api/plans", guards=[requires_role("learner", "employer_admin", "author", "operator")],
     sync_to_thread=True, tags=["study"], summary="The plans, with their prices")  # fmt: skip
def plans(uow: Uow) -> list[PlanSummary]:
    with uow() as db:
        rows = db.exec(select(PlanRow).order_by(col(PlanRow.year).desc(), col(PlanRow.key)))
        return [
            PlanSummary(
                plan=r.key, title=r.title, year=r.year, category=r.category,
                required_hours=r.required_hours, elective_hours=r.elective_hours,
                exam=r.exam_key, price_fen=r.price_fen, price_basis=r.price_basis,
                unit_fen=unit_fen(r.price_fen, r.price_basis, r.required_hours + r.elective_hours),
            )
            for r in rows
        ]  # fmt: skip


class EmployerController(Controller):
    """``/api/employer``: an employer's staff and their enrollment."""

    path = "/api/employer"
    tags = ["employer"]
    guards = [requires_role("employer_admin", "operator")]
    opt = {RAISES: (AccountError, StudyError)}

    @get("/staff", sync_to_thread=True, operation_class=replying_in("application/json", XLSX),
         summary="Staff: plans, credited hours against the yearly requirement, exams")  # fmt: skip
    def staff(
        self,
        *,
        request: Request[Any, Any, Any],
        uow: Uow,
        state: State,
        q: Filter = "",
        page: PageNumber = 1,
        size: Limit = employers.PAGE_SIZE,
        employer: OptionalFilter = None,
        account: FromQuery[employers.AccountFilter] = "all",
        plan: OptionalFilter = None,
        format: FromQuery[Literal["json", "xlsx"]] = "json",
    ) -> Response[Any]:
        """``account``: activated or not; ``plan``: who study that plan (``-``: no plan
        at all); ``format=xlsx``: every match as a workbook."""
        settings: Settings = state.settings
        with uow() as db:
            whose = acting_employer(request, db, employer)
            required = employers.yearly_requirement(db, settings.study, whose)
            listed = employers.staff_of(
                db, employer=whose, year=_year(state), year_required=required,
                now=_now(state), query=q, account=account, plan=plan,
                page=page if format == "json" else 1,
                page_size=size if format == "json" else None,  # the export: every match
            )  # fmt: skip
        if format == "json":
            return Response(listed)
        return Response(
            _staff_xlsx(listed), media_type=XLSX,
            headers={"Content-Disposition": "attachment; filename*=UTF-8''"
                     + quote(f"{whose}-staff-{listed.year}.xlsx")},
        )  # fmt: skip

    @post("/enrollments", status_code=200, sync_to_thread=True,
          summary="Enroll staff in a plan: ID numbers or phones, one per line")  # fmt: skip
    def enroll(
        self, request: Request[Any, Any, Any], uow: Uow, state: State,
        data: JSONBody[EnrollRequest],
    ) -> employers.EnrollReport:  # fmt: skip
        """Each line is one of this employer's learners or is reported (bilingual); the
        others are enrolled in the plan and in the exam it unlocks (idempotent)."""
        with uow() as db:
            whose = acting_employer(request, db, data.employer)
            return employers.enroll_staff(
                db, employer=whose, plan=data.plan, logins=employers.parse_logins(data.logins),
                now=_now(state),
            )  # fmt: skip


class EmployerRegistryController(Controller):
    """``/api/operator/employers``: the employers by name, and registering one."""

    path = "/api/operator/employers"
    tags = ["operator"]
    guards = [requires_role("operator")]
    opt = {RAISES: (AccountError,)}

    @get("/", sync_to_thread=True, summary="Employers by name, with their current staff counts")
    def registry(
        self, uow: Uow, q: Filter = "", page: PageNumber = 1, size: Limit = employers.PAGE_SIZE
    ) -> employers.EmployerPage:
        """Those whose name, credit code or region contains ``q``; ``staff``: the
        learners who belong to each now."""
        with uow() as db:
            return employers.employers_named(db, query=q, page=page, page_size=size)

    @post("/", sync_to_thread=True, summary="Register an employer: name, credit code, region")
    def register(
        self, uow: Uow, state: State, data: JSONBody[EmployerRegistration]
    ) -> employers.EmployerEntry:
        """201 with the employer; 422 naming each invalid field (the credit code is
        checked by GB 32100's check character), 409 when the name or the code is
        registered already. Employers a roster or a registration names are registered
        then, by name alone."""
        with uow() as db:
            return employers.register_employer(
                db, name=data.name, credit_code=data.credit_code, region=data.region,
                now_ms=_now(state),
            )  # fmt: skip

    @put("/{employer:str}", sync_to_thread=True,
         summary="Give a registered employer its credit code and region")  # fmt: skip
    def update(
        self, uow: Uow, employer: EmployerRef, data: JSONBody[EmployerDetails]
    ) -> employers.EmployerEntry:
        """404 ``employer_not_found``; 422 naming each invalid field; 409 when another
        employer has the code. The name itself is not changed here."""
        with uow() as db:
            return employers.update_employer(
                db, name=employer, credit_code=data.credit_code, region=data.region
            )


def _staff_xlsx(listed: employers.StaffPage) -> bytes:
    """The staff as a workbook, headed in Chinese and English."""
    header = ["姓名 Name", "账号 Login", "手机号 Mobile", "已激活 Activated",
              f"{listed.year} 年学时 Hours", "要求 Required", "学习计划 Plans",
              "考试 Exams"]  # fmt: skip
    rows = (
        [m.name, m.login, m.phone, "是 yes" if m.activated else "否 no", m.year_hours,
         m.year_required,
         "；".join(f"{p.title} {p.credited_hours:g}/{p.credit_required:g}" for p in m.plans),
         "；".join(f"{e.title} {e.status}" for e in m.exams)]
        for m in listed.staff
    )  # fmt: skip
    return workbook([header, *rows], title="staff")
