"""The proctors' and operators' risk pages (docs/decisions/0030): ``/proctor/risk`` lists
the flagged formal attempts and study cycles (filters: exam, employer, since; the
learner's name, masked ID number and employer; the flags as labelled badges; the
workbook to download), and ``/proctor/risk/attempts/{id}`` shows one attempt's checks,
flags and the evidence behind each.

Rendered from ``api.services.risk``, the use cases of the JSON API
(``api.http.risk``); no script of their own. Rule and evidence names come from the
service's ``RULE_NAMES`` / ``WHAT_NAMES`` (the workbook says the same), the rest of the
wording is registered here. A bad filter is shown on the page, naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.response import Template
from sqlmodel import col, select

from api.http.params import AttemptId, Filter
from api.services import exams, risk
from api.services.attempts import AttemptNotFoundError
from api.store.db import Uow
from api.store.tables import Employer
from api.web import i18n
from api.web.common import (
    PAGE_EXCEPTION_HANDLERS,
    display_zone,
    fmt_ms,
    lang_of,
    page_principal,
    render,
    zone_of,
)
from examengine.risk import RULES, Evidence, Flag, RiskPolicy

ROLES = ("proctor", "operator")

i18n.register(
    {
        **{f"risk.rule.{rule}": names for rule, names in risk.RULE_NAMES.items()},
        **{f"risk.what.{what}": names for what, names in risk.WHAT_NAMES.items()},
        "proctor.nav.risk": ("风险提示", "Risk flags"),
        "risk.title": ("风险提示", "Risk flags"),
        "risk.not_verdict": (
            "提示只是请人复核的理由，不是结论：每条提示写明所用规则、阈值、观察到的数值和证据"
            "（时间、事件、题目），请据此查看原始记录后再作判断。",
            "A flag is a reason for a person to look, never a verdict: each one names its rule, "
            "threshold, the value observed and the evidence (times, events, items). Check the "
            "record before deciding anything.",
        ),
        "risk.evidence": ("下载签名证据包", "Download the signed evidence bundle"),
        "risk.evidence_hint": (
            "该学员完整的防篡改事件链（含本次考试），带签名；审核人可离线运行 "
            "examengine audit verify 文件名 核验。",
            "The learner's whole tamper-evident event chain (this attempt included), signed; a "
            "reviewer checks it offline with examengine audit verify FILE.",
        ),
        "risk.filter.exam": ("考试", "Exam"),
        "risk.filter.all_exams": ("全部考试", "Every exam"),
        "risk.filter.employer": ("单位（全称）", "Employer (registered name)"),
        "risk.filter.since": ("起始日期（{zone}）", "Since (date, {zone})"),
        "risk.filter.apply": ("筛选", "Filter"),
        "risk.export": ("导出 Excel（每条提示一行）", "Export to Excel (one row per flag)"),
        "risk.scanned": (
            "自 {since} 起最近的 {scanned} 场正式考试中，{n} 场有提示。",
            "Attempts flagged: {n} of the {scanned} most recent formal attempts since {since}.",
        ),
        "risk.truncated": (
            "只检查了最近的 {limit} 场考试：请按考试、单位或日期缩小范围，以查看其余的考试。",
            "Only the most recent {limit} attempts were checked: narrow the list by exam, "
            "employer or date to check the rest.",
        ),
        "risk.groups_cut": (
            "有 {n} 组（同一单位、同一考试）超过 {bound} 场考试，只比较了每组最近的 {bound} 场。",
            "{n} groups (one employer, one exam) hold more than {bound} attempts; only the "
            "most recent {bound} of each were compared.",
        ),
        "risk.attempts": ("考试", "Attempts"),
        "risk.cycles": ("学习周期", "Study cycles"),
        "risk.cycles_scanned": (
            "自 {since} 起的 {scanned} 条未通过验证与章节接管记录中，{n} 个学习周期有提示。",
            "Study cycles flagged: {n}, from the {scanned} missed challenges and take-overs "
            "since {since}.",
        ),
        "risk.cycles_truncated": (
            "只检查了最近的 {limit} 条学习记录：请缩小范围。",
            "Only the most recent {limit} study events were checked: narrow the list.",
        ),
        "risk.none": ("没有考试触发提示。", "No attempt is flagged."),
        "risk.cycles_none": ("没有学习周期触发提示。", "No study cycle is flagged."),
        "risk.col.learner": ("学员", "Learner"),
        "risk.col.id": ("身份证号", "ID number"),
        "risk.col.employer": ("单位", "Employer"),
        "risk.col.exam": ("考试", "Exam"),
        "risk.col.started": ("开始时间（{zone}）", "Started ({zone})"),
        "risk.col.state": ("状态", "State"),
        "risk.col.flags": ("提示", "Flags"),
        "risk.col.evidence": ("证据", "Evidence"),
        "risk.col.cycle": ("学习周期", "Study cycle"),
        "risk.cycle_n": ("第 {n} 周期", "Cycle {n}"),
        "risk.no_employer": ("未填单位", "No employer"),
        "risk.open": ("查看证据", "See the evidence"),
        "risk.open_label": ("查看证据：{learner}", "See the evidence: {learner}"),
        "risk.show_evidence": ("展开证据（{n} 条）", "Show the evidence ({n} rows)"),
        "risk.badge.count": ("{name}：{n} 次", "{name}: {n}"),
        "risk.badge.run": ("{name}：连续 {n} 题", "{name}: {n} in a row"),
        "risk.badge.similar": ("{name}：{share}%（{other}）", "{name}: {share}% ({other})"),
        "risk.state.in_progress": ("进行中", "in progress"),
        "risk.state.overdue": ("已到时（宽限期）", "time up (grace period)"),
        "risk.state.submitted": ("已交卷", "submitted"),
        "risk.state.expired": ("超时未交", "expired"),
        "risk.state.terminated": ("已终止", "ended by a proctor"),
        "risk.rules": ("规则与阈值", "Rules and thresholds"),
        "risk.col.rule": ("规则", "Rule"),
        "risk.col.test": ("判定条件", "Test"),
        "risk.col.threshold": ("阈值", "Threshold"),
        "risk.col.observed": ("观察值", "Observed"),
        "risk.col.result": ("结果", "Result"),
        "risk.flagged": ("有提示", "flagged"),
        "risk.not_flagged": ("未达到", "below"),
        "risk.similarity_title": ("相似度指数", "The similarity index"),
        "risk.similarity_bound": (
            "只比较同一单位、同一考试的已评分正式考试，每组最多最近的 {bound} 场。",
            "Only graded formal attempts of one employer at one exam are compared, at most "
            "the most recent {bound} of each group.",
        ),
        "risk.back": ("返回风险提示列表", "Back to the risk flags"),
        "risk.detail_title": ("风险提示：{learner}", "Risk flags: {learner}"),
        "risk.facts.number": ("考试次数", "Attempt"),
        "risk.facts.number_n": ("第 {n} 次正式考试", "formal attempt {n}"),
        "risk.facts.finished": ("结束时间（{zone}）", "Finished ({zone})"),
        "risk.facts.attempt": ("考试记录编号", "Attempt id"),
        "risk.checks": ("已检查的规则", "Rules checked"),
        "risk.compared": (
            "已与同一单位、同一考试的 {n} 场已评分正式考试比较错误答案。",
            "Graded formal attempts of the same employer at the same exam its wrong answers "
            "were compared with: {n}.",
        ),
        "risk.not_compared": (
            "未比较错误答案：只比较有单位的学员已评分的正式考试。",
            "Wrong answers were not compared: only graded formal attempts of learners with an "
            "employer are.",
        ),
        "risk.no_flags": (
            "本次考试没有触发任何提示。",
            "This attempt raised no flag.",
        ),
        "risk.flag.summary": (
            "阈值 {threshold}，观察值 {observed}。",
            "Threshold {threshold}; observed {observed}.",
        ),
        "risk.flag.basis": (
            "依据：两人都答错的 {basis} 道题（至少需 {minimum} 道），其中 {same} 道错误答案相同。",
            "Basis: {basis} items both answered wrongly (at least {minimum} needed), {same} "
            "with the same wrong answer.",
        ),
        "risk.flag.other": ("对照：{learner}（{login}）", "Compared with: {learner} ({login})"),
        "risk.flag.other_link": ("查看对方的提示", "See their flags"),
        "risk.col.time": ("时间（{zone}）", "Time ({zone})"),
        "risk.col.event": ("事件", "Event"),
        "risk.col.item": ("题目", "Item"),
        "risk.col.detail": ("说明", "Detail"),
        "risk.item_position": ("第 {n} 题", "Item {n}"),
        "risk.fast_detail": (
            "自 {since} 起 {elapsed} 秒作答；读完至少需 {needed} 秒（{chars} 字）",
            "answered {elapsed} s after {since}; reading takes at least {needed} s "
            "({chars} characters)",
        ),
        "risk.fast_batch": (
            "；与另外 {n} 题同一次保存，合计计算",
            "; saved in one request with {n} other items, judged together",
        ),
        "risk.answers": (
            "本人：{mine}；对方：{theirs}",
            "This learner: {mine}; the other: {theirs}",
        ),
        "risk.devices": ("设备 {detail}", "devices {detail}"),
        "risk.not_found": ("没有这场考试。", "There is no such attempt."),
    }
)


def _answer(text: str, options: Mapping[str, str], lang: str) -> str:
    """A compared answer (JSON text) as people read it: a choice by its text (its id
    is no letter the learner saw: options are shuffled on each paper), several
    joined, typed text as typed."""
    if not text:
        return "—"
    value = msgspec.json.decode(text)
    values = value if isinstance(value, list) else [value]
    shown = []
    for raw in values:
        v = int(raw) if isinstance(raw, float) and raw.is_integer() else raw
        shown.append(options.get(str(v), str(v)))
    return ("、" if lang == "zh" else "; ").join(shown) or "—"


def _seconds(ms: int | None) -> str:
    """Milliseconds as seconds to the hundredth: ``0.04``, ``3.8``, ``12``."""
    return f"{(ms or 0) / 1000:.2f}".rstrip("0").rstrip(".")


def _badge(flag: Flag, lang: str, peers: Sequence[risk.Peer]) -> str:
    """A flag as a labelled badge: the rule's name and what was observed."""
    name = i18n.t(f"risk.rule.{flag.rule}", lang)
    if flag.rule == "similar_answers":
        peer = next((p for p in peers if p.attempt == flag.other), None)
        other = peer.learner if peer is not None else flag.other
        share = f"{flag.observed * 100:.0f}"
        return i18n.t("risk.badge.similar", lang, name=name, share=share, other=other)
    if flag.rule == "fast_answers":
        return i18n.t("risk.badge.run", lang, name=name, n=f"{flag.observed:g}")
    return i18n.t("risk.badge.count", lang, name=name, n=f"{flag.observed:g}")


def _value(rule: str, value: float) -> str:
    return f"{value * 100:.0f}%" if rule == "similar_answers" else f"{value:g}"


def _detail(
    row: Evidence,
    lang: str,
    zone: str,
    chapters: Sequence[risk.ChapterRef],
    items: Mapping[str, risk.ItemRef],
) -> str:
    """The evidence row's ``Detail`` cell."""
    if row.what == "fast_answer":
        text = i18n.t(
            "risk.fast_detail", lang, since=fmt_ms(row.from_ms, zone, seconds=True)[11:],
            chars=row.chars or 0, elapsed=_seconds(row.elapsed_ms),
            needed=_seconds(row.needed_ms),
        )  # fmt: skip
        if (row.batch or 1) > 1:
            text += i18n.t("risk.fast_batch", lang, n=(row.batch or 1) - 1)
        return text
    if row.what in ("same_wrong_answer", "different_wrong_answer"):
        item = items.get(row.item)
        options = item.options if item is not None else {}
        mine = _answer(row.response, options, lang)
        theirs = _answer(row.other_response, options, lang)
        return i18n.t("risk.answers", lang, mine=mine, theirs=theirs)
    if row.chapter:
        return next((c.title for c in chapters if c.key == row.chapter), row.chapter)
    if row.detail:
        return i18n.t("risk.devices", lang, detail=row.detail)
    return ""


def _helpers(request: Request[Any, Any, Any], policy: RiskPolicy) -> dict[str, Any]:
    lang, zone = lang_of(request), zone_of(request)
    index = 0 if lang == "zh" else 1
    return {
        "rules": RULES,
        "rule_test": lambda rule: risk.rule_test(rule, policy, index),
        "badge": lambda flag, peers=(): _badge(flag, lang, peers),
        "value": _value,
        "detail": lambda row, chapters=(), items=None: _detail(
            row, lang, zone, chapters, items or {}
        ),
        "similarity_explained": risk.SIMILARITY_EXPLAINED[index],
        "policy": policy,
    }


class RiskPages(Controller):
    """``/proctor/risk``: the flagged list and one attempt's evidence."""

    path = "/proctor/risk"
    include_in_schema = False
    exception_handlers = PAGE_EXCEPTION_HANDLERS

    @get("/", sync_to_thread=True)
    def flagged(
        self,
        *,
        request: Request[Any, Any, Any],
        uow: Uow,
        state: State,
        exam: Filter = "",
        employer: Filter = "",
        since: Filter = "",
    ) -> Template:
        now = int(state.clock.now_ms())
        local = display_zone(zone_of(request))
        with uow() as db:
            page_principal(request, *ROLES)
            error: risk.FilterError | None = None
            try:
                found = risk.filters(
                    db, exam=exam, employer=employer, since=since, now=now, zone=local
                )
            except risk.FilterError as exc:
                error = exc
                found = risk.filters(db, exam=None, employer=None, since=None, now=now)
            listed = risk.attempt_list(db, filters=found, now=now)
            cycles = risk.cycle_list(db, filters=found, now=now)
            exam_keys = [e.exam for e in exams.list_exams(db)]
            employers = db.exec(select(Employer.name).order_by(col(Employer.name))).all()
        query = {"exam": found.exam or "", "employer": found.employer or "",
                 "since": fmt_ms(found.since_ms, zone_of(request))[:10]}  # fmt: skip
        return render(
            request,
            "proctor/risk.html",
            listed=listed,
            cycles=cycles,
            error=error,
            exam=exam,
            employer=employer,
            since=since or query["since"],
            since_shown=query["since"],
            exams=exam_keys,
            employers=employers,
            export_url="/api/operator/risk/export?" + urlencode(query),
            **_helpers(request, listed.policy),
        )

    @get("/attempts/{attempt_id:str}", sync_to_thread=True)
    def attempt(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, attempt_id: AttemptId
    ) -> Template:
        now = int(state.clock.now_ms())
        with uow() as db:
            page_principal(request, *ROLES)
            try:
                found = risk.attempt_risk(db, attempt_id=attempt_id, now=now)
            except AttemptNotFoundError:
                found = None
        if found is None:
            return render(request, "proctor/risk_attempt.html", status_code=404, found=None,
                          **_helpers(request, risk.POLICY))  # fmt: skip
        same = {
            f.other: sum(1 for e in f.evidence if e.what == "same_wrong_answer")
            for f in found.attempt.flags
            if f.rule == "similar_answers"
        }
        return render(
            request,
            "proctor/risk_attempt.html",
            found=found,
            a=found.attempt,
            peers={p.attempt: p for p in found.attempt.peers},
            items={i.key: i for i in found.items},
            same=same,
            **_helpers(request, found.policy),
        )
