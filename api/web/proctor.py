"""The proctors' and operators' pages: the live list of open attempts (learner by name
and masked ID, seconds left, last save, integrity events), refreshed every few seconds
by its script, with forms to give an attempt more time, end it, or (operators) grant a
learner another attempt; and one attempt's log (``/proctor/attempts/{id}``): its events
and answer steps in order, times labelled with the display zone, linked to the attempt's
risk checks (``/proctor/risk/attempts/{id}``, which holds the flags and the evidence
bundle: not repeated here).

The list is rendered from ``api.services.attempts.live``, the same use case as the JSON
live list its script polls; the log from ``attempts.step_log``, the same as
``GET /api/operator/attempts/{id}/steps``. Every action goes through the operator API
(``api.http.attempts.OperatorAttemptsController``), which records who acted and why.
On a phone the list's rows become cards (staff.css, "proctor" section).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.response import Template
from sqlmodel import select

from api.http.params import AttemptId, Filter
from api.services import attempts, exams
from api.services.attempts import AttemptNotFoundError
from api.store.db import Uow
from api.store.tables import User
from api.web import i18n
from api.web.common import PAGE_EXCEPTION_HANDLERS, lang_of, page_principal, render
from examengine.ids import masked

#: Who may use the page (the same roles as the operator API).
ROLES = ("proctor", "operator")
#: How often the page refreshes the list, in milliseconds.
REFRESH_MS = 5000
#: A saved answer in the attempt's log is cut after this many characters.
ANSWER_CHARS = 80

i18n.register(
    {
        "proctor.nav.live": ("考试监控", "Live attempts"),
        "proctor.title": ("正在进行的考试", "Attempts in progress"),
        "proctor.intro": (
            "列表每 {seconds} 秒自动刷新；剩余时间以服务器时钟为准。",
            "The list refreshes every {seconds} seconds; time left follows the server's clock.",
        ),
        "proctor.filter": ("考试", "Exam"),
        "proctor.filter_all": ("全部考试", "Every exam"),
        "proctor.apply": ("筛选", "Filter"),
        "proctor.learner": ("学员", "Learner"),
        "proctor.exam": ("考试", "Exam"),
        "proctor.kind": ("类型", "Kind"),
        "proctor.formal": ("正式", "formal"),
        "proctor.practice": ("模拟", "practice"),
        "proctor.state": ("状态", "State"),
        "proctor.seconds_left": ("剩余时间", "Time left"),
        "proctor.last_save": ("最近保存", "Last save"),
        "proctor.events": ("异常事件", "Integrity events"),
        "proctor.actions": ("操作", "Actions"),
        "proctor.none": ("目前没有正在进行的考试。", "No attempt is in progress."),
        "proctor.extend": ("延长时间", "Extend time"),
        "proctor.terminate": ("终止考试", "End attempt"),
        "proctor.extend_title": ("延长考试时间", "Give more time"),
        "proctor.terminate_title": ("终止考试", "End the attempt"),
        "proctor.terminate_warning": (
            "终止后本次考试按不合格记录，且不能撤销。",
            "An ended attempt is recorded as failed; this cannot be undone.",
        ),
        "proctor.minutes": ("延长分钟数", "Extra minutes"),
        "proctor.reason": ("原因（必填，将记录在案）", "Reason (required, recorded)"),
        "proctor.confirm": ("我已确认要终止这次考试", "I confirm ending this attempt"),
        "proctor.cancel": ("取消", "Cancel"),
        "proctor.do_extend": ("确认延长", "Extend"),
        "proctor.do_terminate": ("确认终止", "End the attempt"),
        "proctor.grant_title": ("增加考试机会或时间", "Grant an attempt or time"),
        "proctor.grant_intro": (
            "为学员本学习周期增加考试机会，或为其之后的考试增加时间（仅运维人员）。",
            "Give a learner more attempts in this study cycle, or more time on later "
            "attempts (operators only).",
        ),
        "proctor.grant_login": ("学员账号（身份证号或手机号）", "Learner login (ID or phone)"),
        "proctor.grant_exam": ("考试编号", "Exam key"),
        "proctor.grant_attempts": ("增加考试次数", "Extra attempts"),
        "proctor.grant_minutes": ("之后每次考试增加的分钟数", "Extra minutes on later attempts"),
        "proctor.do_grant": ("确认增加", "Grant"),
        "proctor.grant_operator_only": (
            "增加考试机会需要运维人员权限。",
            "Granting attempts needs the operator role.",
        ),
        "proctor.updated": ("更新于", "Updated"),
        "js.proctor.refresh_failed": (
            "刷新失败，将自动重试：{error}",
            "Refresh failed, retrying: {error}",
        ),
        "js.proctor.updated": ("已更新 {time}", "Updated {time}"),
        "js.proctor.count.one": ("共 {n} 场考试进行中", "{n} attempt in progress"),
        "js.proctor.count.other": ("共 {n} 场考试进行中", "{n} attempts in progress"),
        "js.proctor.never": ("尚未保存", "not yet"),
        "js.proctor.ago": ("{s} 秒前", "{s} s ago"),
        "js.proctor.ago_min": ("{m} 分钟前", "{m} min ago"),
        "js.proctor.extended": (
            "已为 {learner} 延长时间，剩余 {left}。",
            "{learner} now has {left} left.",
        ),
        "js.proctor.terminated": ("已终止 {learner} 的考试。", "{learner}'s attempt was ended."),
        "js.proctor.granted": (
            "已为 {learner} 增加：本周期共可考 {allowed} 次。",
            "Granted to {learner}: {allowed} attempts allowed this cycle.",
        ),
        "js.proctor.need_reason": ("请填写原因。", "Enter a reason."),
        "js.proctor.need_confirm": ("请勾选确认。", "Tick the confirmation."),
        "js.proctor.extend_label": ("延长时间：{learner}", "Extend time: {learner}"),
        "js.proctor.terminate_label": ("终止考试：{learner}", "End attempt: {learner}"),
        "js.proctor.formal": ("正式", "formal"),
        "js.proctor.practice": ("模拟", "practice"),
        "js.proctor.state.in_progress": ("进行中", "in progress"),
        "js.proctor.state.overdue": ("已到时（宽限期）", "time up (grace period)"),
        "js.proctor.extend": ("延长时间", "Extend time"),
        "js.proctor.terminate": ("终止考试", "End attempt"),
        "js.proctor.log": ("记录", "Log"),
        "js.proctor.log_label": ("记录：{learner}", "Log: {learner}"),
        "js.proctor.seconds_left": ("剩余时间", "Time left"),
        "js.proctor.last_save": ("最近保存", "Last save"),
        "js.proctor.events": ("异常事件", "Integrity events"),
        "js.proctor.kind": ("类型", "Kind"),
        "js.proctor.state": ("状态", "State"),
        "js.proctor.exam": ("考试", "Exam"),
        "proctor.log": ("记录", "Log"),
        # The attempt's log.
        "proctor.log.title": ("考试记录：{learner}", "Attempt log: {learner}"),
        "proctor.log.back": ("返回考试监控", "Back to live attempts"),
        "proctor.log.not_found": ("没有这场考试。", "There is no such attempt."),
        "proctor.log.facts": ("概况", "Summary"),
        "proctor.log.id": ("身份证号", "ID number"),
        "proctor.log.attempt": ("考试编号", "Attempt"),
        "proctor.log.risk": (
            "风险检查与证据包",
            "Risk checks and evidence bundle",
        ),
        "proctor.log.timeline": ("事件与作答记录（按时间先后）", "Events and answers, in order"),
        "proctor.log.time": ("时间（{zone}）", "Time ({zone})"),
        "proctor.log.what": ("事件", "Event"),
        "proctor.log.detail": ("详情", "Detail"),
        "proctor.log.empty": ("还没有任何记录。", "Nothing recorded yet."),
        "proctor.log.events.one": ("{n} 个事件", "{n} event"),
        "proctor.log.events.other": ("{n} 个事件", "{n} events"),
        "proctor.log.steps.one": ("{n} 次作答保存", "{n} answer save"),
        "proctor.log.steps.other": ("{n} 次作答保存", "{n} answer saves"),
        "proctor.log.answer": ("作答", "Answer"),
        "proctor.log.step": ("保存作答", "Answer saved"),
        "proctor.log.step_detail": ("第 {seq} 步 · 题目 {item}", "step {seq} · item {item}"),
        "proctor.log.device": ("设备 {device}", "device {device}"),
        "proctor.log.extra": ("延长 {minutes} 分钟", "{minutes} more minutes"),
        "proctor.log.reason": ("原因：{reason}", "reason: {reason}"),
        "proctor.log.score": ("得分 {score} / {max}", "score {score} of {max}"),
        "proctor.log.saved": ("{count} 个答案，至第 {seq} 步", "{count} answers, up to step {seq}"),
        "proctor.event.attempt_started": ("开始考试", "Attempt started"),
        "proctor.event.attempt_resumed": ("继续考试", "Attempt resumed"),
        "proctor.event.device_taken_over": ("被其他设备接管", "Taken over by another device"),
        "proctor.event.answers_saved": ("答案已保存", "Answers saved"),
        "proctor.event.attempt_submitted": ("交卷", "Submitted"),
        "proctor.event.attempt_overdue": ("时间已到（宽限期）", "Time up (grace period)"),
        "proctor.event.attempt_expired": ("到时结束", "Closed at the deadline"),
        "proctor.event.attempt_terminated": ("被终止", "Ended by staff"),
        "proctor.event.time_extended": ("延长时间", "Time extended"),
        "proctor.event.attempt_regraded": ("重新评分", "Regraded"),
        "proctor.event.attempts_granted": ("增加考试机会", "Attempts granted"),
        "proctor.event.integrity": ("异常事件", "Integrity event"),
        "proctor.event.other": ("其他事件：{kind}", "Other event: {kind}"),
    }
)


class ProctorPages(Controller):
    """The live list under ``/proctor``."""

    path = "/proctor"
    include_in_schema = False
    exception_handlers = PAGE_EXCEPTION_HANDLERS

    @get("/", sync_to_thread=True)
    def live(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        state: State,
        exam: Filter = "",
    ) -> Template:
        with uow() as db:
            principal = page_principal(request, *ROLES)
            now = int(state.clock.now_ms())
            listing = attempts.live(db, now=now, open_only=True, exam=exam or None)
            return render(
                request,
                "proctor/live.html",
                listing=listing,
                exam=exam,
                exams=[e.exam for e in exams.list_exams(db)],
                can_grant="operator" in principal.roles,
                refresh_s=REFRESH_MS // 1000,
                data={
                    "live": msgspec.to_builtins(listing),
                    "exam": exam,
                    "refresh_ms": REFRESH_MS,
                    "can_grant": "operator" in principal.roles,
                },
            )

    @get("/attempts/{attempt_id:str}", sync_to_thread=True)
    def attempt_log(
        self, request: Request[Any, Any, Any], uow: Uow, attempt_id: AttemptId
    ) -> Template:
        """One attempt's events and answer steps, in order (the step-log API's data)."""
        with uow() as db:
            page_principal(request, *ROLES)
            try:
                log = attempts.step_log(db, attempt_id=attempt_id)
            except AttemptNotFoundError:
                return render(request, "proctor/attempt.html", status_code=404, log=None)
            name = db.exec(select(User.display_name).where(User.login == log.learner)).first()
            lang = lang_of(request)
            return render(
                request,
                "proctor/attempt.html",
                log=log,
                name=name or masked(log.learner),
                login=masked(log.learner),
                lines=timeline(log, lang),
            )


@dataclass(frozen=True)
class Line:
    """One row of an attempt's log: when, what (in the page's language), details."""

    at_ms: int
    what: str
    detail: str
    #: "event", "integrity" or "step": the row's look.
    kind: str
    #: A step's response as saved (the learner's words: shown as content, shortened).
    answer: str = ""


def _event_detail(kind: str, data: dict[str, Any], lang: i18n.Lang) -> str:
    parts: list[str] = []
    if kind == "time_extended" and isinstance(data.get("extra_ms"), int):
        parts.append(i18n.t("proctor.log.extra", lang, minutes=round(data["extra_ms"] / 60000)))
    if kind in ("attempt_submitted", "attempt_regraded") and "score" in data:
        parts.append(
            i18n.t("proctor.log.score", lang, score=data["score"], max=data.get("max_score", ""))
        )
    if kind == "answers_saved" and "count" in data:
        parts.append(
            i18n.t("proctor.log.saved", lang, count=data["count"], seq=data.get("last_seq", ""))
        )
    if data.get("reason"):
        parts.append(i18n.t("proctor.log.reason", lang, reason=data["reason"]))
    device = data.get("device") or data.get("new_device")
    if device:
        parts.append(i18n.t("proctor.log.device", lang, device=str(device)[:8]))
    return " · ".join(parts)


def timeline(log: attempts.StepLog, lang: i18n.Lang) -> list[Line]:
    """The attempt's events and answer steps as one list, oldest first (a step and an
    event at the same millisecond: the event first)."""
    lines: list[tuple[int, int, int, Line]] = []
    for index, e in enumerate(log.events):
        if e.kind == "integrity":
            what = i18n.t(f"risk.what.{e.data.get('kind', '')}", lang)
            if what.startswith("risk.what."):
                what = i18n.t("proctor.event.integrity", lang)
            line = Line(e.at_ms, what, _event_detail(e.kind, e.data, lang), "integrity")
        else:
            key = f"proctor.event.{e.kind}"
            if i18n.known(key):
                what = i18n.t(key, lang)
            else:
                what = i18n.t("proctor.event.other", lang, kind=e.kind)
            line = Line(e.at_ms, what, _event_detail(e.kind, e.data, lang), "event")
        lines.append((e.at_ms, 0, index, line))
    for index, s in enumerate(log.steps):
        detail = i18n.t("proctor.log.step_detail", lang, seq=s.seq, item=s.item)
        answer = msgspec.json.encode(s.response).decode()
        answer = answer if len(answer) <= ANSWER_CHARS else answer[: ANSWER_CHARS - 1] + "…"
        step = Line(s.saved_ms, i18n.t("proctor.log.step", lang), detail, "step", answer)
        lines.append((s.saved_ms, 1, index, step))
    return [line for *_, line in sorted(lines, key=lambda x: x[:3])]
