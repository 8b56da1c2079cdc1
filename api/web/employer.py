"""The employer administrator's page (``/employer``): their staff — plans, hours earned this
year against the yearly requirement, exams, whether each activated their account — with
a search, pages and an xlsx export; a roster upload with its summary and error file; and
enrolling staff in a free plan by pasting their ID numbers (a priced plan is bought:
``api.web.orders``).

The list is rendered from ``api.services.employer.staff_of``, the use case of the JSON
staff list; the upload and the enrolment go through the API (``/api/accounts/roster``,
``/api/employer/enrollments``) from the page's script.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.params import FromQuery
from litestar.response import Template
from sqlmodel import col, select

from api.http.params import Filter, PageNumber
from api.services import employer
from api.settings import Settings
from api.store.db import Uow
from api.store.tables import Plan as PlanRow
from api.store.tables import User
from api.web import i18n
from api.web.common import PAGE_EXCEPTION_HANDLERS, lang_of, page_principal, render
from examengine.clock import year_of

ROLES = ("employer_admin",)

i18n.register(
    {
        "employer.nav": ("本单位学员", "Our staff"),
        "employer.title": ("本单位学员", "Our staff"),
        "employer.intro": (
            "{employer} · {year} 年度 · 每人每年须完成 {hours} 学时",
            "{employer} · {year} · each person must earn {hours} hours a year",
        ),
        "employer.search": ("姓名、身份证号或手机号", "Name, ID number or phone"),
        "employer.apply": ("筛选", "Filter"),
        "employer.filter.account": ("账号", "Account"),
        "employer.filter.account.all": ("全部", "All"),
        "employer.filter.account.activated": ("已激活", "Activated"),
        "employer.filter.account.not_activated": ("未激活", "Not activated"),
        "employer.filter.plan": ("学习计划", "Plan"),
        "employer.filter.plan.any": ("全部", "All"),
        "employer.filter.plan.none": ("未报名任何计划", "In no plan"),
        "employer.export": ("导出 Excel", "Export to Excel"),
        "employer.count": ("共 {n} 人", "{n} people"),
        "employer.name": ("姓名", "Name"),
        "employer.login": ("身份证号", "ID number"),
        "employer.phone": ("手机号", "Phone"),
        "employer.hours": ("本年学时", "Hours this year"),
        "employer.plans": ("学习计划", "Plans"),
        "employer.exams": ("考试", "Exams"),
        "employer.account": ("账号", "Account"),
        "employer.activated": ("已激活", "activated"),
        "employer.not_activated": ("未激活", "not activated"),
        "employer.no_plans": ("未报名", "none"),
        "employer.exam.passed": ("已通过", "passed"),
        "employer.exam.locked": ("未通过，须重新学习", "failed: re-study due"),
        "employer.exam.open": (
            "未通过（已考 {used}/{allowed} 次）",
            "not passed ({used}/{allowed} attempts)",
        ),
        "employer.none": ("没有符合条件的学员。", "No staff member matches."),
        "employer.actions": ("操作", "Actions"),
        "employer.send_link": ("发送设置密码链接", "Send a password link"),
        "employer.send_link_label": ("发送设置密码链接：{name}", "Send a password link: {name}"),
        "employer.plan_option": ("{title}（{year}）", "{title} ({year})"),
        # Between a plan's or exam's title and its progress.
        "employer.sep": ("：", ": "),
        "js.employer.link_sent": (
            "已向 {name} 发送设置密码的链接（{hours} 小时内有效）；"
            "原密码已失效，其登录已全部退出。",
            "{name} was sent a link to choose a password (valid {hours} hours); the old "
            "password no longer works and their sign-ins have ended.",
        ),
        "js.employer.confirm_link": (
            "向 {name} 发送设置密码的链接？其原密码将立即失效。",
            "Send {name} a link to choose a password? Their current password stops working now.",
        ),
        "employer.prev": ("上一页", "Previous"),
        "employer.next": ("下一页", "Next"),
        "employer.page": ("第 {page} / {pages} 页", "Page {page} of {pages}"),
        "employer.roster_title": ("导入人员名单", "Import a staff roster"),
        "employer.roster_intro": (
            "上传平台提供的 Excel 模板（或 CSV）：可保留标题行。"
            "新账号将收到激活链接，自行设置密码。",
            "Upload the platform's Excel template (or CSV); title lines may stay. New "
            "accounts are sent an activation link to choose their own password.",
        ),
        "employer.roster_file": ("名单文件（.xlsx 或 .csv）", "Roster file (.xlsx or .csv)"),
        "employer.roster_block": (
            "有提示的行不导入（如性别与身份证号不符）",
            "Lines with warnings make no account (e.g. a gender the ID contradicts)",
        ),
        "employer.roster_all": ("任一行有错误则全部不导入", "Import nothing if any line fails"),
        "employer.roster_submit": ("导入", "Import"),
        "employer.enroll_title": ("为学员报名学习计划", "Enroll staff in a plan"),
        "employer.enroll_plan": ("学习计划", "Plan"),
        "employer.enroll_logins": (
            "身份证号或手机号，每行一个",
            "ID numbers or phones, one per line",
        ),
        "employer.enroll_submit": ("报名", "Enroll"),
        "employer.enroll_priced": (
            "此处只列出免费的学习计划；收费的学习计划请在“团购与订单”中购买。",
            "Only free plans are listed here; buy a priced plan under “Purchases and orders”.",
        ),
        "employer.enroll_none": (
            "目前没有免费的学习计划。",
            "There is no free plan at the moment.",
        ),
        "js.employer.roster_done": (
            "{header}。共 {lines} 行：新建 {created} 个账号（其中 {warned} 个有提示），"
            "跳过 {skipped} 个已注册，{failed} 行有错误。",
            "{header}. {lines} lines: {created} accounts made ({warned} with warnings), "
            "{skipped} registered already, {failed} failed.",
        ),
        "js.employer.held_back": (
            "有错误，按设定全部未导入（{n} 行本可导入）。",
            "Nothing was imported, as asked, because some lines failed ({n} were valid).",
        ),
        "js.employer.header_row": ("第 {n} 行为列名", "Row {n} was the header"),
        "js.employer.error_file": (
            "下载错误文件（修改后可直接重新上传）",
            "Download the error file (fix it and upload it again)",
        ),
        "js.employer.enroll_done": (
            "新报名 {enrolled} 人，{already} 人已报名，{failed} 行未能报名。",
            "{enrolled} enrolled, {already} enrolled already, {failed} lines not enrolled.",
        ),
        "js.employer.line": (
            "第 {line} 行（{login}）：{reason}",
            "Line {line} ({login}): {reason}",
        ),
        "js.employer.busy": ("正在处理…", "Working…"),
    }
)


class EmployerPages(Controller):
    """``/employer``: the administrator's staff, roster import and enrolment."""

    path = "/employer"
    include_in_schema = False
    exception_handlers = PAGE_EXCEPTION_HANDLERS

    @get("/", sync_to_thread=True)
    def staff(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, *, q: Filter = "",
        page: PageNumber = 1, account: FromQuery[employer.AccountFilter] = "all",
        plan: Filter = "",
    ) -> Template:  # fmt: skip
        settings: Settings = state.settings
        now = int(state.clock.now_ms())
        year = year_of(now)
        with uow() as db:
            principal = page_principal(request, *ROLES)
            admin = db.get(User, principal.user_id)
            whose = (admin.employer if admin is not None else None) or ""
            required = employer.yearly_requirement(db, settings.study, whose)
            listed = employer.staff_of(
                db, employer=whose, year=year, year_required=required,
                now=now, query=q, account=account, plan=plan or None, page=page,
            )  # fmt: skip
            every_plan = db.exec(select(PlanRow).order_by(col(PlanRow.year).desc())).all()
        plans = [p for p in every_plan if p.price_fen == 0]  # a priced plan is bought
        lang = lang_of(request)
        pages = max(1, -(-listed.total // listed.page_size))
        filters = {"q": q, "account": account, "plan": plan}
        return render(
            request, "employer/staff.html", listed=listed, q=q, pages=pages,
            year_required=required, account=account, plan=plan, no_plan=employer.NO_PLAN,
            plans=[(p.key, _plan_label(p, lang)) for p in plans],
            all_plans=[(p.key, _plan_label(p, lang)) for p in every_plan],
            export_url="/api/employer/staff?" + urlencode({**filters, "format": "xlsx"}),
            page_url=lambda n: "/employer?" + urlencode({**filters, "page": n}),
        )  # fmt: skip


def _plan_label(plan: PlanRow, lang: i18n.Lang) -> str:
    """A plan in the filter menus: its title and year, with the language's brackets."""
    return i18n.t("employer.plan_option", lang, title=plan.title, year=plan.year)
