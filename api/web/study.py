"""The learner's study pages: my plans (required and elective progress, credit required,
completion %) and studying a chapter (docs/decisions/0009-credited-study.md).

Server-rendered from ``api.services.study.my_plans``; the study page's behaviour — the
simulated player, heartbeats, the anti-idle challenge dialog fed by the heartbeat
replies and the Server-Sent Events stream — is ``/static/js/study.js`` against the study
API (``api.http.study``). The heartbeat interval is the page's ``data-heartbeat-ms``
(``?heartbeat_ms=`` may shorten it, 500–15000 ms: the browser's own pace, which the
server never relies on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.response import Redirect, Template
from sqlmodel import Session, col, select

from api.http.params import ChapterKey
from api.services import orders, study
from api.store.db import Uow
from api.store.tables import OrderLine, PurchaseOrder, User
from api.store.tables import Plan as PlanRow
from api.web import i18n
from api.web.common import PAGE_EXCEPTION_HANDLERS, page_principal, render
from api.web.orders import money, order_context, plan_unit_fen, row_of
from examengine import credit

#: The default heartbeat interval of the study page (the API's ``heartbeat_s``).
HEARTBEAT_MS = study.HEARTBEAT_S * 1000
_HEARTBEAT_RANGE = (500, HEARTBEAT_MS)

i18n.register(
    {
        "nav.my_exams": ("我的考试", "My exams"),
        "nav.my_plans": ("我的学习计划", "My study plans"),
        "plans.title": ("我的学习计划", "My study plans"),
        "plans.none": ("您目前没有学习计划。", "You have no study plan yet."),
        "plans.shop.title": ("可选学习计划", "Plans you can take"),
        "plans.shop.intro": (
            "购买后按说明银行转账，平台确认到账后即可开始学习；单位统一购买的，请等待单位付款或使用激活码。",
            "A plan you buy is paid by bank transfer as shown; once the platform confirms it, "
            "you can start studying. If your employer buys it for you, wait for their payment "
            "or use an activation code.",
        ),
        "plans.shop.year.one": ("{year} 年度 · {hours} 学时", "{year} · {hours} credit hour"),
        "plans.shop.year.other": ("{year} 年度 · {hours} 学时", "{year} · {hours} credit hours"),
        "plans.shop.price": ("价格：{price}", "Price: {price}"),
        "plans.shop.free": ("免费", "Free"),
        "plans.shop.buy": ("购买", "Buy"),
        "plans.shop.buy_label": ("购买“{title}”（{price}）", "Buy “{title}” ({price})"),
        "plans.shop.enroll": ("报名", "Enroll"),
        "plans.shop.enroll_label": ("报名“{title}”", "Enroll in “{title}”"),
        "plans.shop.pending": (
            "已下单，待付款（订单 {number}），付款方式见“我的订单”。",
            "Ordered, awaiting payment (order {number}): see “My orders” for how to pay.",
        ),
        "plans.shop.held": (
            "单位已为您下单（订单 {number}），正在等待单位付款。",
            "Your employer has ordered it for you (order {number}); it waits for their payment.",
        ),
        "plans.orders.title": ("我的订单", "My orders"),
        "plans.orders.number": ("订单号：{number}", "Order {number}"),
        "plans.orders.placed": ("下单时间：{time}", "Placed: {time}"),
        "plans.orders.paid": ("支付时间：{time}", "Paid: {time}"),
        "plans.orders.amount": ("金额：{amount}", "Amount: {amount}"),
        "plans.orders.invoice": ("发票：", "Invoice: "),
        "js.plans.bought": (
            "订单 {number} 已提交，金额 {amount}。请按“我的订单”中的说明转账。",
            "Order {number} is placed ({amount}): pay it as “My orders” shows.",
        ),
        "js.plans.enrolled": ("已报名“{title}”，正在刷新…", "Enrolled in “{title}”; refreshing…"),
        "plans.redeem_title": ("使用激活码", "Use an activation code"),
        "plans.redeem_intro": (
            "单位通过银行转账购买学习计划后，会发给您激活码；输入后即可开始学习。",
            "When your employer buys a plan by bank transfer, you get an activation code: "
            "enter it to start studying.",
        ),
        "plans.redeem_code": ("激活码", "Activation code"),
        "plans.redeem_submit": ("激活", "Activate"),
        "js.plans.redeemed": (
            "已开通“{title}”，正在刷新…",
            "“{title}” is yours; refreshing…",
        ),
        "plans.cycle": ("第 {n} 轮学习", "Study cycle {n}"),
        "plans.credit_required": ("应修学时：{hours} 学时", "Credit required: {hours} h"),
        "plans.credited": ("已获学时：{hours} 学时", "Credit earned: {hours} h"),
        "plans.percent": ("完成度", "Completion"),
        "plans.percent_value": ("{percent}%", "{percent}%"),
        "plans.met": ("已完成学习要求", "Study requirement met"),
        "plans.not_met": ("学习中", "In progress"),
        "plans.required": ("必修课程", "Required courses"),
        "plans.elective": ("选修课程", "Elective courses"),
        "plans.kind_progress": ("{done} / {needed} 学时", "{done} / {needed} h"),
        "plans.course_hours": ("{hours} 学时", "{hours} h"),
        "plans.course_done": ("已完成", "Complete"),
        "plans.chapter_progress": ("已学 {done} / {total}", "Studied {done} of {total}"),
        "plans.restudy_due": (
            "考试机会已用完，请重新学习后再参加考试。",
            "The exam's attempts are used up: study again before the next exam.",
        ),
        "plans.restudy": ("开始重新学习", "Start studying again"),
        "plans.restudy_label": ("开始重新学习“{title}”", "Start studying “{title}” again"),
        "js.plans.restudy_started": (
            "已开始新一轮学习，正在刷新…",
            "A new study cycle has begun; refreshing…",
        ),
        "plans.electives_later": (
            "选修课程尚未解锁：完成必修课程的 {needed} 学时后解锁（已完成 {done} 学时）。",
            "The electives are locked: they unlock once the required courses' {needed} h "
            "are credited ({done} h so far).",
        ),
        # A chapter's state, in words beside its icon (not only a colour).
        "plans.state.not_started": ("未开始", "Not started"),
        "plans.state.in_progress": ("学习中", "In progress"),
        "plans.state.complete": ("已完成", "Complete"),
        "plans.state.locked": ("未解锁", "Locked"),
        "plans.locked_reason": (
            "完成必修课程后解锁",
            "Unlocks when the required courses are done",
        ),
        "plans.study_chapter": ("学习", "Study"),
        "plans.continue_chapter": ("继续学习", "Continue"),
        "plans.review_chapter": ("回看", "Review"),
        # -------------------------------------------- my exams: why I may (not) sit it
        # ``.one`` when the plan asks for exactly 1 hour
        "study.exam.progress.one": (
            "学习要求：已完成 {done} / {needed} 学时",
            "Study requirement: {done} of {needed} credit hour done",
        ),
        "study.exam.progress.other": (
            "学习要求：已完成 {done} / {needed} 学时",
            "Study requirement: {done} of {needed} credit hours done",
        ),
        "study.exam.may_start": ("学习已完成，{reason}", "Study complete: {reason}"),
        # ``.one`` when exactly 1 hour is left (hours may be fractional: 0.5 hours)
        "study.exam.to_go.one": (
            "还需学习 {left} 学时，完成后才能考试。",
            "{left} more credit hour to study before you may take the exam.",
        ),
        "study.exam.to_go.other": (
            "还需学习 {left} 学时，完成后才能考试。",
            "{left} more credit hours to study before you may take the exam.",
        ),
        "study.exam.restudy.one": (
            "已用 {n} 次机会，请重新学习后再考。",
            "The only attempt is used: study the plan again, then the exam opens again.",
        ),
        "study.exam.restudy.other": (
            "已用 {n} 次机会，请重新学习后再考。",
            "All {n} attempts are used: study the plan again, then the exam opens again.",
        ),
        "study.exam.go_study": ("去学习", "Go to my study plans"),
        "study.exam.started_at": ("开始时间（{zone}）", "Started ({zone})"),
        "study.locked.title": ("本章尚未解锁", "This chapter is locked"),
        "study.title": ("课程学习", "Study"),
        "study.back": ("返回我的学习计划", "Back to my study plans"),
        "study.course_label": ("课程：", "Course: "),
        "study.content": ("课程内容", "Content"),
        "study.player": ("课程播放器", "Player"),
        "study.position": ("播放进度", "Position"),
        "study.credited": ("本章已认定学时", "Credited time (this chapter)"),
        "study.pending": ("待验证学时", "Awaiting verification"),
        "study.how": (
            "播放期间会随机弹出学习验证，请在限定时间内作答；"
            "只有通过验证的学习时间才计入学时，超时未答则本段时间作废并暂停本章。",
            "While the chapter plays, a check appears at random moments: answer it in time. "
            "Only verified study time is credited; a missed check voids the time since the "
            "last check and pauses the chapter.",
        ),
        "study.text.1": (
            "本章围绕“{title}”展开，介绍相关的基本概念、政策依据和工作要求。",
            "This chapter covers “{title}”: its basic notions, policy basis and duties.",
        ),
        "study.text.2": (
            "请结合本职工作认真学习，播放结束后可参加课程验证与结业考试。",
            "Relate it to your own work; after the chapter, the course checks and the final "
            "exam follow.",
        ),
        "js.study.play": ("播放", "Play"),
        "js.study.pause": ("暂停", "Pause"),
        "js.study.starting": ("正在进入学习…", "Starting…"),
        "js.study.playing": ("正在学习", "Studying"),
        "js.study.paused_by_user": ("已暂停播放", "Playback paused"),
        "js.study.challenge_title": ("学习验证", "Are you still studying?"),
        "js.study.challenge_left": ("剩余 {seconds} 秒作答", "{seconds} s left to answer"),
        "js.study.challenge_paused": (
            "播放已暂停，作答后继续。",
            "Playback is paused until you answer.",
        ),
        "js.study.passed": (
            "验证通过，本段学习时间已计入学时。",
            "Check passed: this stretch of study is credited.",
        ),
        "js.study.timeout": ("作答超时，正在确认…", "Time is up; confirming…"),
        "js.study.voided": (
            "验证超时：本段未验证的学习时间已作废，本章已暂停。请重新开始本章继续学习。",
            "The check was missed: the unverified study time was voided and the chapter "
            "paused. Start the chapter again to continue.",
        ),
        "js.study.restart": ("重新开始本章", "Start the chapter again"),
        "js.study.complete": (
            "本章学习已完成，学时已认定。",
            "Chapter complete: its credit is granted.",
        ),
        "js.study.ended": (
            "本次学习已结束（已在其他窗口学习或长时间未操作）。",
            "This study session has ended (studied elsewhere, or idle).",
        ),
        "js.study.state.active": ("学习中", "Studying"),
        "js.study.state.closing": ("等待本章结束验证", "Waiting for the closing check"),
        "js.study.state.paused": ("已暂停（验证超时）", "Paused (check missed)"),
        "js.study.state.complete": ("已完成", "Complete"),
        "js.study.state.ended": ("已结束", "Ended"),
        "js.study.state.refused": ("未能开始", "Could not start"),
        "js.study.state.not_started": ("未开始", "Not started"),
        "js.study.prompt": (
            "请点击“继续学习”确认您仍在学习",
            "Click “Continue studying” to confirm you are still studying",
        ),
        "js.study.continue": ("继续学习", "Continue studying"),
    }
)


def _heartbeat_ms(request: Request[Any, Any, Any]) -> int:
    raw = request.query_params.get("heartbeat_ms", "")
    if not raw.isdigit():
        return HEARTBEAT_MS
    low, high = _HEARTBEAT_RANGE
    return max(low, min(high, int(raw)))


def _hours(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _find(
    plans: study.MyPlans, chapter: str
) -> tuple[study.PlanEntry, credit.CourseProgress, credit.ChapterProgress] | None:
    for entry in plans.plans:
        for course in entry.progress.courses:
            for found in course.chapters:
                if found.chapter == chapter:
                    return entry, course, found
    return None


def chapter_state(
    entry: study.PlanEntry, course: credit.CourseProgress, chapter: credit.ChapterProgress
) -> str:
    """``locked`` (an elective waiting for the required hours), ``complete``,
    ``in_progress`` (some credit) or ``not_started`` — the ``plans.state.*`` words."""
    if not course.required and entry.electives_locked:
        return "locked"
    if chapter.complete:
        return "complete"
    return "in_progress" if chapter.credited_ms > 0 else "not_started"


def plan_started(progress: credit.PlanProgress) -> bool:
    """Whether any chapter of the plan has credit this cycle (学习中 rather than 未开始)."""
    return any(ch.credited_ms > 0 for c in progress.courses for ch in c.chapters)


@dataclass(frozen=True)
class ExamStudy:
    """The study behind an exam on "My exams": the plan that unlocks it and how far."""

    plan: str
    done: str
    needed: str
    #: Hours still to study (as shown), "" when met.
    left: str
    met: bool
    restudy_due: bool


def exam_study(session: Session, *, learner_id: int, now: int) -> dict[str, ExamStudy]:
    """For each exam a plan of the learner unlocks, that plan's study (the first plan,
    when several unlock one exam)."""
    found: dict[str, ExamStudy] = {}
    for entry in study.my_plans(session, learner_id=learner_id, now=now).plans:
        p = entry.progress
        if not entry.exam or entry.exam in found:
            continue
        earned = min(p.required_done, p.required_hours) + min(p.elective_done, p.elective_hours)
        found[entry.exam] = ExamStudy(
            plan=p.title,
            done=_hours(earned),
            needed=_hours(p.credit_required),
            left="" if p.met else _hours(max(0.0, p.credit_required - earned)),
            met=p.met,
            restudy_due=entry.restudy_due,
        )
    return found


def _mmss(ms: int) -> str:
    seconds = ms // 1000
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


@dataclass(frozen=True)
class Offer:
    """A plan the learner does not study, as "Plans you can take" shows it."""

    key: str
    title: str
    year: int
    hours: str
    #: The price of a place (``¥33.00``), or "" when free.
    price: str
    #: The learner's own order waiting for its payment, or their employer's.
    pending: str = ""
    held: str = ""


def _offers(
    session: Session, learner_id: int, studied: set[str], mine: orders.OrderPage
) -> list[Offer]:
    """Every plan the learner does not study, with whose order holds it if one does."""
    own = {o.plan: o.number for o in mine.orders if o.state == "pending"}
    held = dict(
        session.exec(
            select(OrderLine.plan_id, PurchaseOrder.number)
            .join(PurchaseOrder, col(PurchaseOrder.id) == OrderLine.order_id)
            .where(
                OrderLine.learner_id == learner_id,
                col(OrderLine.active),
                col(PurchaseOrder.buyer_id) != learner_id,
            )
        ).all()
    )
    rows = session.exec(select(PlanRow).order_by(col(PlanRow.year).desc(), col(PlanRow.key))).all()
    return [
        Offer(
            key=p.key,
            title=p.title,
            year=p.year,
            hours=_hours(p.required_hours + p.elective_hours),
            price=money(plan_unit_fen(p)) if p.price_fen > 0 else "",
            pending=own.get(p.key, ""),
            held=held.get(p.id or 0, ""),
        )
        for p in rows
        if p.key not in studied
    ]


class StudyPages(Controller):
    """``/learner/plans`` and ``/learner/study/{chapter}``."""

    path = "/learner"
    include_in_schema = False
    exception_handlers = PAGE_EXCEPTION_HANDLERS

    @get("/plans", sync_to_thread=True)
    def my_plans(self, request: Request[Any, Any, Any], uow: Uow, state: State) -> Template:
        with uow() as db:
            principal = page_principal(request, "learner")
            now = int(state.clock.now_ms())
            mine = study.my_plans(db, learner_id=principal.user_id, now=now)
            bought = orders.orders(db, providers=state.providers, buyer_id=principal.user_id)
            studied = {entry.progress.plan for entry in mine.plans}
            me = db.get(User, principal.user_id)
            return render(
                request, "learner/plans.html", plans=mine.plans, hours=_hours, mmss=_mmss,
                chapter_state=chapter_state, plan_started=plan_started,
                offers=_offers(db, principal.user_id, studied, bought),
                my_orders=[row_of(o, now) for o in bought.orders],
                invoice_title=f"个人 {me.display_name}" if me is not None else "个人",
                **order_context(),
            )  # fmt: skip

    @get("/study/{chapter:str}", sync_to_thread=True)
    def study_chapter(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, chapter: ChapterKey
    ) -> Template | Redirect:
        with uow() as db:
            principal = page_principal(request, "learner")
            mine = study.my_plans(db, learner_id=principal.user_id, now=int(state.clock.now_ms()))
            found = _find(mine, chapter)
            if found is None:
                return Redirect("/learner/plans")
            entry, course, progress = found
            p = entry.progress
            return render(
                request,
                "learner/study.html",
                course=course,
                chapter=progress,
                state=chapter_state(entry, course, progress),
                required_done=_hours(p.required_done),
                required_hours=_hours(p.required_hours),
                heartbeat_ms=_heartbeat_ms(request),
                mmss=_mmss,
            )
