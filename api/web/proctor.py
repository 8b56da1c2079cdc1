"""The proctors' and operators' page: the live list of open attempts (seconds left, last
save, integrity events), refreshed every few seconds by its script, with forms to give
an attempt more time, end it, or (operators) grant a learner another attempt.

The page is rendered from ``api.services.attempts.live``, the same use case as the JSON
live list its script polls; every action goes through the operator API
(``api.http.attempts.OperatorAttemptsController``), which records who acted and why.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.response import Template

from api.http.params import Filter
from api.services import attempts, exams
from api.store.db import Uow
from api.web import i18n
from api.web.common import PAGE_EXCEPTION_HANDLERS, page_principal, render

#: Who may use the page (the same roles as the operator API).
ROLES = ("proctor", "operator")
#: How often the page refreshes the list, in milliseconds.
REFRESH_MS = 5000

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
        "js.proctor.count": ("共 {n} 场考试进行中", "{n} attempts in progress"),
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
        "js.proctor.extend_label": ("为 {learner} 延长时间", "Extend time for {learner}"),
        "js.proctor.terminate_label": ("终止 {learner} 的考试", "End {learner}'s attempt"),
        "js.proctor.formal": ("正式", "formal"),
        "js.proctor.practice": ("模拟", "practice"),
        "js.proctor.state.in_progress": ("进行中", "in progress"),
        "js.proctor.state.overdue": ("已到时（宽限期）", "time up (grace period)"),
        "js.proctor.extend": ("延长时间", "Extend time"),
        "js.proctor.terminate": ("终止考试", "End attempt"),
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
