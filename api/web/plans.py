"""Training plans (学习计划) in the browser, for the people who write them (``/author/plans``):
the stored plans as a table (title, year, category in words, hours, the exam each
unlocks, one person's price with its basis); a plan file checked and stored; and, for
operators, a plan's price changed (orders placed before keep theirs).

The table is rendered from the plan rows (``GET /api/plans`` is the enrolling roles' list
and carries no price); checking, storing and repricing go through the plan API
(``api.http.plans``) from ``/static/js/plans.js``, so a refusal is the API's, naming the
file and the field in the page's language. After a change the script redraws the
table from the server's rendering of this page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template
from sqlmodel import Session, col, select

from api.services import exams
from api.store.db import Uow
from api.store.tables import Plan as PlanRow
from api.web import i18n
from api.web.common import PAGE_EXCEPTION_HANDLERS, lang_of, page_principal, render
from api.web.orders import money
from examengine.commerce import MAX_PRICE_FEN, PriceBasis, unit_fen, yuan

#: Who may open the page (the plan API's roles); only operators change a price.
ROLES = ("author", "operator")
#: Categories with words of their own (any other is shown as stored).
CATEGORIES = ("public", "professional")

i18n.register(
    {
        "author.nav.plans": ("学习计划", "Training plans"),
        "author.plans.title": ("学习计划", "Training plans"),
        "author.plans.intro": (
            "学习计划规定课程、必修与选修学时、学完后解锁的考试和价格。"
            "上传计划文件（YAML 或 JSON）：先检查，没有问题再保存；编号相同的计划会被更新。",
            "A training plan sets its courses, required and elective credit hours, the exam "
            "its study unlocks, and its price. Upload a plan file (YAML or JSON): check it "
            "first, then store it; a plan with the same key is updated.",
        ),
        # ----------------------------------------------------------------- the table
        "author.plans.list": ("已有的学习计划", "Stored plans"),
        "author.plans.none": (
            "还没有学习计划。请上传一个计划文件。",
            "No plans yet: upload a plan file.",
        ),
        "author.plans.col.title": ("学习计划", "Plan"),
        "author.plans.col.year": ("年度", "Year"),
        "author.plans.col.category": ("类别", "Category"),
        "author.plans.col.hours": ("学时", "Credit hours"),
        "author.plans.col.exam": ("解锁的考试", "Exam it unlocks"),
        "author.plans.col.price": ("每人价格", "Price a person"),
        "author.plans.col.actions": ("操作", "Actions"),
        "author.plans.reprice": ("修改价格", "Change the price"),
        "author.plans.reprice_label": ("修改“{title}”的价格", "Change the price of “{title}”"),
        # ---------------------------------------------------------------- the upload
        "author.plans.upload": ("上传学习计划文件", "Upload a plan file"),
        "author.plans.file": ("学习计划文件", "Plan file"),
        "author.plans.file_hint": (
            "YAML 或 JSON 文件，格式见《出题与学习计划说明》（docs/authoring.md）。",
            "A YAML or JSON file, in the format of the authoring guide (docs/authoring.md).",
        ),
        "author.plans.check": ("检查", "Check"),
        "author.plans.store": ("保存", "Store"),
        "author.plans.summary": ("检查结果", "What the file holds"),
        # ----------------------------------------------------------------- the price
        "author.plans.price_title": ("修改价格", "Change the price"),
        "author.plans.price_yuan": ("价格（元）", "Price (yuan)"),
        "author.plans.price_hint": (
            "0 表示免费；最高 {max} 元。按学时计价时填写每学时的价格。",
            "0 is free; {max} yuan at most. Priced by the hour: the price of one credit hour.",
        ),
        "author.plans.basis": ("计价方式", "How it is priced"),
        "author.plans.basis.person": ("按人（每人一个价格）", "A person (one price)"),
        "author.plans.basis.hour": ("按学时", "By the credit hour"),
        "author.plans.basis_hint": (
            "按学时：每人价格 = 每学时价格 × 该计划的学时。",
            "By the credit hour: a place costs the price × the plan's hours.",
        ),
        "author.plans.price_note": (
            "新价格只用于此后的订单；此前已下的订单保持下单时的价格。",
            "The new price applies to orders placed from now on; orders placed before keep "
            "the price they were placed at.",
        ),
        "author.plans.save_price": ("保存价格", "Save the price"),
        "author.plans.close": ("关闭", "Close"),
        # ------------------------------------------- words the script and page share
        "js.author_plans.category.public": ("公需科目", "Public subjects"),
        "js.author_plans.category.professional": ("专业科目", "Professional subjects"),
        "js.author_plans.hours": (
            "必修 {required} + 选修 {elective} 学时",
            "{required} required + {elective} elective h",
        ),
        "js.author_plans.free": ("免费", "Free"),
        "js.author_plans.price.person": ("{unit}（按人计价）", "{unit} (a person)"),
        "js.author_plans.price.hour": (
            "{unit}（每学时 {price}）",
            "{unit} ({price} a credit hour)",
        ),
        "js.author_plans.no_exam": ("无", "none"),
        # ------------------------------------------------------ the script's words
        "js.author_plans.need_file": ("请选择一个学习计划文件。", "Choose a plan file."),
        "js.author_plans.checking": ("正在检查…", "Checking…"),
        "js.author_plans.storing": ("正在保存…", "Storing…"),
        "js.author_plans.refused": ("文件未通过检查：{reason}", "The file is refused: {reason}"),
        "js.author_plans.not_stored": ("未保存：{reason}", "Not stored: {reason}"),
        "js.author_plans.checked_replaces": (
            "文件没有问题，可以保存。已有编号为“{key}”的学习计划，保存后将更新它。",
            "The file is sound: it may be stored. A plan with the key “{key}” is stored "
            "already: storing updates it.",
        ),
        "js.author_plans.checked_new": (
            "文件没有问题，可以保存。这是一个新的学习计划（编号“{key}”）。",
            "The file is sound: it may be stored. This is a new plan (key “{key}”).",
        ),
        "js.author_plans.stored": (
            "已保存学习计划“{title}”，列表已更新。",
            "The plan “{title}” is stored; the list is updated.",
        ),
        "js.author_plans.s.plan": ("学习计划", "Plan"),
        "js.author_plans.s.key": ("编号", "Key"),
        "js.author_plans.s.year": ("年度", "Year"),
        "js.author_plans.s.category": ("类别", "Category"),
        "js.author_plans.s.hours": ("学时", "Credit hours"),
        "js.author_plans.s.courses": ("课程", "Courses"),
        "js.author_plans.s.chapters": ("章节", "Chapters"),
        "js.author_plans.s.exam": ("解锁的考试", "Exam it unlocks"),
        "js.author_plans.s.policy": ("防挂机策略", "Anti-idle policy"),
        "js.author_plans.s.price": ("每人价格", "Price a person"),
        "js.author_plans.n_courses": ("{n} 门", "{n}"),
        "js.author_plans.n_chapters": ("{n} 章", "{n}"),
        "js.author_plans.policy.own": ("文件自带的策略", "The file's own"),
        "js.author_plans.policy.default": ("系统默认策略", "The service's default"),
        "js.author_plans.exam_missing": ("{exam}（尚未建立）", "{exam} (not created yet)"),
        "js.author_plans.bad_yuan": (
            "请按“33”或“2.50”的格式填写价格（元）。",
            "Enter the price in yuan, as in 33 or 2.50.",
        ),
        "js.author_plans.repriced": (
            "“{title}”的价格已改为 {price}；此前的订单保持原价。",
            "The price of “{title}” is now {price}; orders placed before keep theirs.",
        ),
        "js.author_plans.price_preview": ("每人：{unit}", "A person: {unit}"),
    }
)


def hours_text(value: float) -> str:
    """``2.0`` → ``2``, ``1.5`` → ``1.5`` (as the script writes hours)."""
    return f"{value:g}"


def category_text(category: str, lang: str) -> str:
    """公需科目 / 专业科目 (or the stored word when it is neither)."""
    if category in CATEGORIES:
        return i18n.t(f"js.author_plans.category.{category}", lang)
    return category


def price_text(price_fen: int, basis: str, hours: float, lang: str) -> str:
    """One person's price with its basis: ``¥5.00（每学时 ¥2.50）``, ``¥33.00（按人计价）``,
    or 免费 / Free."""
    if price_fen <= 0:
        return i18n.t("js.author_plans.free", lang)
    unit = money(unit_fen(price_fen, basis, hours))
    if basis == PriceBasis.HOUR:
        return i18n.t("js.author_plans.price.hour", lang, unit=unit, price=money(price_fen))
    return i18n.t("js.author_plans.price.person", lang, unit=unit)


@dataclass(frozen=True)
class PlanLine:
    """A stored plan as a row of the table."""

    key: str
    title: str
    year: int
    category: str
    hours: str
    #: The hours of the plan (required + elective), as a number for the price dialog.
    total_hours: float
    #: The exam's title (its key when not created yet); None: the plan unlocks none.
    exam: str | None
    exam_key: str | None
    exam_exists: bool
    free: bool
    price: str
    price_basis: str
    #: ``price_fen`` in yuan, as the price dialog's field starts.
    price_yuan: str


def plan_lines(db: Session, lang: str, titles: dict[str, str]) -> list[PlanLine]:
    """Every stored plan, the newest year first; ``titles``: the exams' titles by key."""
    rows = db.exec(select(PlanRow).order_by(col(PlanRow.year).desc(), col(PlanRow.key))).all()
    lines = []
    for r in rows:
        total = r.required_hours + r.elective_hours
        lines.append(
            PlanLine(
                key=r.key, title=r.title, year=r.year, category=category_text(r.category, lang),
                hours=i18n.t("js.author_plans.hours", lang, required=hours_text(r.required_hours),
                             elective=hours_text(r.elective_hours)),
                total_hours=total,
                exam=titles.get(r.exam_key, r.exam_key) if r.exam_key else None,
                exam_key=r.exam_key, exam_exists=r.exam_key in titles,
                free=r.price_fen <= 0,
                price=price_text(r.price_fen, r.price_basis, total, lang),
                price_basis=r.price_basis, price_yuan=yuan(r.price_fen),
            )
        )  # fmt: skip
    return lines


class PlanPages(Controller):
    """``/author/plans``: the plans, a plan file checked and stored, prices changed."""

    path = "/author/plans"
    include_in_schema = False
    exception_handlers = PAGE_EXCEPTION_HANDLERS

    @get("/", sync_to_thread=True)
    def plans_page(self, request: Request[Any, Any, Any], uow: Uow) -> Template:
        lang = lang_of(request)
        with uow() as db:
            principal = page_principal(request, *ROLES)
            exam_titles = {e.exam: e.title for e in exams.list_exams(db)}
            lines = plan_lines(db, lang, exam_titles)
        operator = "operator" in principal.roles
        return render(
            request, "author/plans.html", plans=lines, operator=operator,
            max_yuan=f"{MAX_PRICE_FEN // 100:,}",
            data={"exams": exam_titles, "operator": operator, "max_fen": MAX_PRICE_FEN},
        )  # fmt: skip
