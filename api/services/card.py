"""The continuing-education registration card (继续教育登记卡, docs/decisions/0029): a
learner's studies year by year — kind, content, period, hours and result — and each
year's recorded hours against the requirement; as data, a PDF and a workbook; and an
employer's archive of its staff's cards (one PDF each and a summary workbook, zipped).

What a line and a year say is ``examengine.card``'s rule (recorded hours, results,
years, totals), over ``examengine.credit.plan_progress``'s credit. This module gathers
the rows — for many learners at once, a few ``IN (…)`` queries per 500 of them, so an
archive of hundreds costs the same handful of queries as one card — and writes the
documents. It reads the ``certificate`` table (the current certificate's number) and
writes nothing. Who may read whose card: the learner their own; an employer
administrator their own employer's learners (any other account is, to them, one that
does not exist: a 404); operators anyone — the rule of an account's employment record
(``accounts.employment_of``).

The documents are Chinese with English captions: they go into a personnel file. ID
numbers are masked on every one of them (110105********002X).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import sqlalchemy as sa
from msgspec import Struct
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table
from reportlab.platypus import TableStyle as Style
from sqlmodel import Session, col, select

from api.services import accounts, study
from api.services.accounts import AccountInvalidError, FieldProblem
from api.services.employer import AccountFilter, staff_where, yearly_requirement
from api.services.pdf import register_font
from api.settings import StudySettings
from api.store.db import in_chunks
from api.store.tables import Attempt, Certificate, ChapterProgress, PlanEnrollment, StudyEvent, User
from api.store.tables import Chapter as ChapterRow
from api.store.tables import Plan as PlanRow
from examengine import card as rules
from examengine import credit
from examengine.clock import BEIJING, year_of
from examengine.ids import masked

#: Staff one archive may hold. A card's PDF takes some 40 ms (reportlab breaking CJK
#: lines; the rows of all of them are read in a few bulk queries, ~1 s for 500): 200
#: make a reply of under ten seconds on one core; more are asked for in parts, by filter.
MAX_ARCHIVE = 200


class Card(Struct, frozen=True, kw_only=True):
    """A learner's registration card: who, and each year shown, newest first."""

    name: str
    #: The ID number (or login) as every screen and document shows it: masked.
    login: str
    #: ``male``, ``female`` or None (unknown).
    gender: str | None
    #: The learner's employer now (each year names its own).
    employer: str | None
    #: The body that issues the card (``EXAMENGINE_CERT_ISSUER``).
    issuer: str
    #: When this card was put together (UTC ms).
    generated_ms: int
    years: tuple[rules.CardYear, ...]


# ------------------------------------------------------------------------ use cases


def my_card(
    session: Session, *, learner_id: int, year: int | None, now: int,
    study_settings: StudySettings, issuer: str,
) -> Card:  # fmt: skip
    """The signed-in learner's card: ``year`` alone, or every year of their plans and
    the current one (None)."""
    user = session.get(User, learner_id)
    if user is None:
        raise accounts.AccountNotFoundError(str(learner_id))
    return cards_of(session, [user], year=year, now=now, study_settings=study_settings,
                    issuer=issuer)[0]  # fmt: skip


def account_card(
    session: Session, *, login: str, actor_id: int, year: int | None, now: int,
    study_settings: StudySettings, issuer: str,
) -> Card:  # fmt: skip
    """``login``'s card, for an operator or an administrator of the account's employer.
    Raises ``AccountNotFoundError`` (a 404) for an unknown account and, to an
    administrator, for anyone not of their employer."""
    accounts.employment_of(session, login=login, actor_id=actor_id)  # who may read it
    user = accounts.find_account(session, login)
    assert user is not None  # employment_of found it
    return cards_of(session, [user], year=year, now=now, study_settings=study_settings,
                    issuer=issuer)[0]  # fmt: skip


def archive_cards(
    session: Session, *, employer: str, year: int, now: int, study_settings: StudySettings,
    issuer: str, query: str = "", account: AccountFilter = "all", plan: str | None = None,
) -> list[Card]:  # fmt: skip
    """The cards of ``year`` of ``employer``'s learners the staff list's filters select
    (``query``, ``account``, ``plan``: ``api.services.employer.staff_of``), by name.
    Raises ``AccountInvalidError`` naming ``q`` when they are more than ``MAX_ARCHIVE``."""
    where = staff_where(employer=employer, query=query, account=account, plan=plan)
    total = session.exec(select(sa.func.count()).select_from(User).where(*where)).one()
    if total > MAX_ARCHIVE:
        raise AccountInvalidError(
            [FieldProblem(
                field="q", code="too_many_staff",
                message=f"one archive holds at most {MAX_ARCHIVE:,} people and these "
                f"filters select {total:,}: narrow them (a name, a plan, activated or "
                "not) and download the archive in parts",
                message_zh=f"每个压缩包最多 {MAX_ARCHIVE:,} 人，当前筛选结果为 {total:,} 人："
                "请按姓名、学习计划或激活状态缩小范围，分批下载",
            )],
            labels={"q": ("filter", "筛选条件")},
        )  # fmt: skip
    users = session.exec(
        select(User).where(*where).order_by(col(User.display_name), col(User.id))
    ).all()
    return cards_of(session, users, year=year, now=now, study_settings=study_settings,
                    issuer=issuer)  # fmt: skip


# ----------------------------------------------------------------- gathering rows


class _Rows:
    """What the cards of some learners are made of, read in bulk."""

    def __init__(self, session: Session, ids: Sequence[int], year: int | None) -> None:
        self.enrolled: dict[int, list[tuple[PlanEnrollment, PlanRow]]] = defaultdict(list)
        self.completions: dict[int, dict[str, list[rules.Completion]]] = defaultdict(dict)
        self.credits: dict[int, list[credit.ChapterCredit]] = defaultdict(list)
        self.attempts: dict[tuple[int, str], list[rules.FormalAttempt]] = defaultdict(list)
        self.certificates: dict[tuple[int, int], str] = {}
        self.first_study: dict[tuple[int, str], int] = {}
        # Every chapter's key by id: chapters are few (plans × courses), learners many.
        chapter_keys = {
            i: key for i, key in session.exec(select(ChapterRow.id, ChapterRow.key)).all() if i
        }
        for chunk in in_chunks(ids):
            self._read(session, chunk, year, chapter_keys)
        self.plans: dict[int, credit.Plan] = {}
        for rows in self.enrolled.values():
            for _, row in rows:
                if row.id is not None and row.id not in self.plans:
                    self.plans[row.id] = study.load_plan(session, row.key)

    def _read(
        self, session: Session, chunk: Sequence[int], year: int | None, keys: dict[int, str]
    ) -> None:
        plans = select(PlanEnrollment, PlanRow).join(
            PlanRow, col(PlanRow.id) == PlanEnrollment.plan_id
        ).where(col(PlanEnrollment.learner_id).in_(chunk))  # fmt: skip
        if year is not None:
            plans = plans.where(PlanRow.year == year)
        for enrollment, row in session.exec(plans).all():
            self.enrolled[enrollment.learner_id].append((enrollment, row))
        progress = session.exec(
            select(ChapterProgress).where(col(ChapterProgress.learner_id).in_(chunk))
        ).all()
        for p in progress:
            key = keys.get(p.chapter_id)
            if key is None:
                continue
            self.credits[p.learner_id].append(
                credit.ChapterCredit(chapter=key, cycle=p.cycle, credited_ms=p.credited_ms)
            )
            if p.completed_ms is not None:
                self.completions[p.learner_id].setdefault(key, []).append(rules.Completion(
                    chapter=key, cycle=p.cycle, credited_ms=p.credited_ms,
                    completed_ms=p.completed_ms,
                ))  # fmt: skip
        formal = session.execute(
            sa.select(col(Attempt.learner_id), col(Attempt.exam_key), col(Attempt.passed),
                      col(Attempt.score), col(Attempt.max_score), col(Attempt.finished_ms))
            .where(col(Attempt.learner_id).in_(chunk), sa.not_(col(Attempt.practice)))
        ).all()  # fmt: skip
        for learner, exam, passed, score, max_score, finished in formal:
            self.attempts[(learner, exam)].append(rules.FormalAttempt(
                passed=passed, score=score, max_score=max_score, finished_ms=finished
            ))  # fmt: skip
        current = session.exec(
            select(Certificate.learner_id, Certificate.plan_id, Certificate.number)
            .where(col(Certificate.learner_id).in_(chunk), Certificate.state == "current")
        ).all()  # fmt: skip
        for learner, plan_id, number in current:
            self.certificates[(learner, plan_id)] = number
        starts = session.execute(
            sa.select(col(StudyEvent.learner_id), col(StudyEvent.chapter_id),
                      sa.func.min(col(StudyEvent.at_ms)))
            .where(col(StudyEvent.learner_id).in_(chunk))
            .group_by(col(StudyEvent.learner_id), col(StudyEvent.chapter_id))
        ).all()  # fmt: skip
        for learner, chapter_id, first in starts:
            if (key := keys.get(chapter_id)) is not None:
                self.first_study[(learner, key)] = first

    def studies(self, learner: int) -> list[rules.CardStudy]:
        """The card's lines of ``learner``: one per plan they study."""
        lines = []
        for enrollment, row in self.enrolled.get(learner, []):
            assert row.id is not None
            plan = self.plans[row.id]
            chapters = [c.key for e in plan.courses for c in e.course.chapters]
            mine = set(chapters)
            progress = credit.plan_progress(
                plan, [c for c in self.credits.get(learner, []) if c.chapter in mine],
                cycle=enrollment.cycle,
            )  # fmt: skip
            result = rules.result_of(
                met=progress.met, has_exam=bool(plan.exam),
                attempts=self.attempts.get((learner, plan.exam or ""), []),
                certificate=self.certificates.get((learner, row.id)),
            )  # fmt: skip
            completed = self.completions.get(learner, {})
            met = rules.met_at(
                plan, [c for key in chapters for c in completed.get(key, [])],
                cycle=enrollment.cycle,
            )  # fmt: skip
            starts = [self.first_study[(learner, k)] for k in chapters
                      if (learner, k) in self.first_study]  # fmt: skip
            lines.append(rules.card_study(
                plan, progress, result, studied_from_ms=min(starts, default=None), met_ms=met
            ))  # fmt: skip
        return lines


def cards_of(
    session: Session, users: Sequence[User], *, year: int | None, now: int,
    study_settings: StudySettings, issuer: str,
) -> list[Card]:  # fmt: skip
    """The cards of ``users`` in order: ``year`` alone, or (None) every year of their
    plans and the current year. Each year names the employer the learner belonged to at
    its end (or now, for the current year; the current employer where no employment was
    recorded then) and that employer's region's requirement."""
    ids = [u.id for u in users if u.id is not None]
    rows = _Rows(session, ids, year)
    required: dict[str | None, int] = {}

    def requirement(employer: str | None) -> int:
        if employer not in required:
            required[employer] = (
                yearly_requirement(session, study_settings, employer)
                if employer
                else study_settings.yearly_hours_for(None)
            )
        return required[employer]

    cards = []
    for user in users:
        assert user.id is not None
        studies = rows.studies(user.id)
        years = [year] if year is not None else rules.card_years(studies, also=[year_of(now)])
        shown = []
        for y in years:
            at = min(now, rules.year_end_ms(y) - 1)
            employer = accounts.employer_at(session, user.id, at) or user.employer
            shown.append(rules.card_year(y, studies, required=requirement(employer),
                                         employer=employer))  # fmt: skip
        cards.append(Card(
            name=user.display_name, login=masked(user.resident_id or user.login),
            gender=user.gender, employer=user.employer, issuer=issuer, generated_ms=now,
            years=tuple(shown),
        ))  # fmt: skip
    return cards


# ------------------------------------------------------------------ words of record

#: A category in a document's words (any other is printed as the plan wrote it).
CATEGORY_ZH = {rules.Category.PUBLIC: "公需科目", rules.Category.PROFESSIONAL: "专业科目"}
OUTCOME_WORDS = {
    rules.Outcome.PASSED: ("合格", "Passed"),
    rules.Outcome.FAILED: ("不合格", "Failed"),
    rules.Outcome.NOT_TAKEN: ("未参加考试", "Exam not taken"),
    rules.Outcome.STUDYING: ("学习中", "In progress"),
    rules.Outcome.CREDITED: ("学时已认定", "Hours credited"),
}
GENDER_ZH = {"male": "男", "female": "女"}


def category_zh(study_line: rules.CardStudy) -> str:
    return CATEGORY_ZH.get(study_line.category, study_line.category_text)


def hours(value: float) -> str:
    """``3.0`` → ``3``, ``1.5`` → ``1.5``."""
    return f"{value:.1f}".removesuffix(".0")


def date_of(ms: int | None) -> str:
    """A day in Beijing, ``2026-05-20`` ("" for None)."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, BEIJING).strftime("%Y-%m-%d")


def time_of(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, BEIJING).strftime("%Y-%m-%d %H:%M")


def period_zh(line: rules.CardStudy) -> str:
    """``2026-03-01 至 2026-05-12``; an open end: ``2026-03-01 起``; nothing: ``—``."""
    start, end = date_of(line.studied_from_ms), date_of(line.met_ms)
    if start and end:
        return start if start == end else f"{start} 至 {end}"
    if end:
        return f"至 {end}"
    return f"{start} 起" if start else "—"


def result_lines(result: rules.StudyResult) -> list[str]:
    """The result column in the words of record: the outcome (Chinese, English), then
    the score and date, then the certificate's number."""
    zh, en = OUTCOME_WORDS[result.outcome]
    lines = [f"{zh} {en}"]
    if result.score is not None:
        score = f"{hours(result.score)} 分"
        if result.max_score:
            score += f"（满分 {hours(result.max_score)}）"
        if result.outcome is rules.Outcome.FAILED:
            score = f"最高 {score} · 已考 {result.attempts} 次"
        lines.append(" · ".join(x for x in (score, date_of(result.at_ms)) if x))
    if result.certificate:
        lines.append(f"证书编号 {result.certificate}")
    return lines


def year_verdict(y: rules.CardYear) -> tuple[str, str]:
    """The year's verdict in Chinese and in English."""
    if y.met:
        return (f"已达到年度要求 {hours(y.required_hours)} 学时",
                f"{hours(y.required_hours)} h required: met")  # fmt: skip
    return (
        f"年度要求 {hours(y.required_hours)} 学时，尚差 {hours(y.shortfall_hours)} 学时",
        f"{hours(y.required_hours)} h required: {hours(y.shortfall_hours)} h short",
    )


def card_filename(card: Card, *, year: int | None, ext: str) -> str:
    """``学时登记卡-张三-110105＊＊＊＊＊＊＊＊002X-2026.pdf``: safe on every file system
    (the mask's ``*`` as the full-width ``＊``, which Windows allows)."""
    parts = ["学时登记卡", card.name, card.login, *([str(year)] if year is not None else [])]
    return file_safe("-".join(parts)) + f".{ext}"


_UNSAFE = re.compile(r'[\\/:?"<>|\x00-\x1f]')


def file_safe(name: str) -> str:
    return _UNSAFE.sub("_", name.replace("*", "＊")).strip(" .") or "card"


# ------------------------------------------------------------------------------ PDF

_WIDTH = A4[0] - 30 * mm
#: Category, content, period, credited/required, recorded, result.
_COLUMNS = [17 * mm, 52 * mm, 27 * mm, 21 * mm, 17 * mm, 46 * mm]
_GRID = colors.HexColor("#333333")
_HEAD = colors.HexColor("#e8ebef")


def _styles(font: str) -> dict[str, ParagraphStyle]:
    body = ParagraphStyle("card", fontName=font, fontSize=9, leading=12.5, wordWrap="CJK")
    return {
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=7.5, leading=10,
                                textColor=colors.HexColor("#444444")),
        "head": ParagraphStyle("head", parent=body, fontSize=8.5, leading=11),
        "title": ParagraphStyle("title", parent=body, fontSize=17, leading=22,
                                alignment=TA_CENTER),
        "subtitle": ParagraphStyle("subtitle", parent=body, fontSize=9, leading=12,
                                   alignment=TA_CENTER, textColor=colors.HexColor("#444444")),
        "year": ParagraphStyle("year", parent=body, fontSize=12, leading=16, spaceBefore=4),
        "right": ParagraphStyle("right", parent=body, alignment=TA_RIGHT),
    }  # fmt: skip


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _label(zh: str, en: str, style: ParagraphStyle) -> Paragraph:
    """A caption: the Chinese words, the English beneath them in small grey type."""
    return Paragraph(
        f"{escape(zh)}<br/><font size='6.5' color='#555555'>{escape(en)}</font>", style
    )


def card_pdf(card: Card, *, font: Path | None = None) -> bytes:
    """The card as an A4 PDF with the CJK font embedded (``font``: the configured one,
    None: the bundled one): who, then each year — its studies, the total against the
    requirement and a box for the verifying employer's opinion and seal."""
    name = register_font(font)
    s = _styles(name)
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
        bottomMargin=18 * mm, title=f"继续教育学时登记卡 {card.name}", author=card.issuer,
        subject="专业技术人员继续教育学时登记卡 Continuing-education registration card",
        creator="examengine",
    )  # fmt: skip
    story: list[Any] = [
        _p("专业技术人员继续教育学时登记卡", s["title"]),
        _p("Continuing-education registration card", s["subtitle"]),
        Spacer(1, 4 * mm),
        _person(card, s),
    ]
    for y in card.years:
        story.append(KeepTogether(_year_block(y, s)))
    story += [Spacer(1, 3 * mm), _p(
        "说明：学时按学习计划所属年度登记（补学计入原年度）；学习计划的学时学满且考试合格"
        "（无考试的计划学满即可）后，方计入登记学时。身份证号已部分隐去。\n"
        "Hours count for the plan's year; a study's hours are recorded once its hours are "
        "complete and its exam, if any, is passed. The ID number is partly masked.",
        s["small"],
    )]  # fmt: skip

    def footer(canvas: Canvas, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(name, 7.5)
        canvas.setFillColor(colors.HexColor("#444444"))
        canvas.drawString(15 * mm, 10 * mm, f"{card.name} {card.login} · {card.issuer} · "
                          f"生成于 {time_of(card.generated_ms)}（北京时间）")  # fmt: skip
        canvas.drawRightString(A4[0] - 15 * mm, 10 * mm, f"第 {document.page} 页")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def _person(card: Card, s: dict[str, ParagraphStyle]) -> Table:
    gender = GENDER_ZH.get(card.gender or "", "—")
    #: (caption in Chinese, in English, the value) twice a row.
    cells = [
        [("姓名", "Name", card.name), ("性别", "Gender", gender)],
        [("身份证号", "ID number", card.login), ("工作单位", "Employer", card.employer or "—")],
        [("出具单位", "Issued by", card.issuer),
         ("生成时间", "Generated", f"{time_of(card.generated_ms)}（北京时间）")],
    ]  # fmt: skip
    table = Table(
        [[cell for zh, en, value in row
          for cell in (_label(zh, en, s["head"]), _p(value, s["body"]))]
         for row in cells],
        colWidths=[22 * mm, 68 * mm, 22 * mm, 68 * mm],
    )  # fmt: skip
    table.setStyle(Style([
        ("GRID", (0, 0), (-1, -1), 0.5, _GRID),
        ("BACKGROUND", (0, 0), (0, -1), _HEAD),
        ("BACKGROUND", (2, 0), (2, -1), _HEAD),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))  # fmt: skip
    return table


def _year_block(y: rules.CardYear, s: dict[str, ParagraphStyle]) -> list[Any]:
    head = [("类别", "Category"), ("学习内容", "Content"), ("学习时间", "Period"),
            ("已获/应修", "Credited/req."), ("登记学时", "Recorded"),
            ("学习成绩", "Result")]  # fmt: skip
    rows: list[list[Any]] = [[_label(zh, en, s["head"]) for zh, en in head]]
    for line in y.studies:
        rows.append([
            _p(category_zh(line), s["body"]), _p(line.title, s["body"]),
            _p(period_zh(line), s["body"]),
            _p(f"{hours(line.credited_hours)} / {hours(line.credit_required)}", s["body"]),
            _p(hours(line.recorded_hours), s["body"]),
            _p("\n".join(result_lines(line.result)), s["body"]),
        ])  # fmt: skip
    if not y.studies:
        rows.append([_p("本年度没有学习记录 No study this year", s["body"]), "", "", "", "", ""])
    split = (
        f"公需科目 {hours(y.public_hours)} 学时 · 专业科目 {hours(y.professional_hours)} 学时"
        + (f" · 其他 {hours(y.other_hours)} 学时" if y.other_hours else "")
    )
    verdict, verdict_en = year_verdict(y)
    rows.append([_label("合计", "Total", s["head"]), _p(split, s["body"]), "", "",
                 _p(hours(y.recorded_hours), s["head"]),
                 _label(verdict, verdict_en, s["body"])])  # fmt: skip
    last = len(rows) - 1
    style = [
        ("GRID", (0, 0), (-1, -1), 0.5, _GRID),
        ("BACKGROUND", (0, 0), (-1, 0), _HEAD),
        ("BACKGROUND", (0, last), (-1, last), _HEAD),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("SPAN", (1, last), (3, last)),
    ]
    if not y.studies:
        style.append(("SPAN", (0, 1), (-1, 1)))
    table = Table(rows, colWidths=_COLUMNS, repeatRows=1)
    table.setStyle(Style(style))
    verify = Table(
        [[_label("考核验证意见：", "Verification by the employer or the personnel office",
                 s["body"])],
         [Paragraph("（验证单位盖章 Seal）" + "&nbsp;" * 14 + "年" + "&nbsp;" * 8 + "月"
                    + "&nbsp;" * 8 + "日", s["right"])]],
        colWidths=[_WIDTH], rowHeights=[16 * mm, 8 * mm],
    )  # fmt: skip
    verify.setStyle(Style([("BOX", (0, 0), (-1, -1), 0.5, _GRID),
                           ("VALIGN", (0, 0), (-1, -1), "TOP")]))  # fmt: skip
    employer = y.employer or "—"
    return [
        Spacer(1, 5 * mm),
        _p(f"{y.year} 年度 · Year {y.year}", s["year"]),
        Paragraph(f"工作单位 Employer：{escape(employer)}" + "&nbsp;" * 6
                  + f"年度要求 Required：{hours(y.required_hours)} 学时", s["body"]),
        Spacer(1, 1.5 * mm), table, verify,
    ]  # fmt: skip


# ----------------------------------------------------------------------------- xlsx

STUDY_HEADER = [
    "年度 Year", "类别 Category", "学习内容 Content", "学习时间 Period", "应修学时 Required",
    "已获学时 Credited", "登记学时 Recorded", "学习成绩 Result", "成绩 Score",
    "证书编号 Certificate",
]  # fmt: skip
YEAR_HEADER = [
    "年度 Year", "工作单位 Employer", "公需科目学时 Public", "专业科目学时 Professional",
    "其他学时 Other", "登记学时合计 Recorded", "年度要求 Required", "尚差 Short",
    "达到要求 Met",
]  # fmt: skip


def card_xlsx(card: Card) -> bytes:
    """The card as a workbook: the sheet ``登记卡`` (who, then one row per study) and
    ``年度合计`` (one row per year: hours by category, total, requirement, shortfall)."""
    from openpyxl import Workbook  # noqa: PLC0415 (a heavy import, for downloads only)

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "登记卡"
    sheet.append(["专业技术人员继续教育学时登记卡 Continuing-education registration card"])
    sheet.append(["姓名 Name", card.name, "身份证号 ID number", card.login])
    sheet.append(["工作单位 Employer", card.employer or "", "性别 Gender",
                  GENDER_ZH.get(card.gender or "", "")])  # fmt: skip
    sheet.append(["出具单位 Issued by", card.issuer, "生成时间 Generated",
                  f"{time_of(card.generated_ms)}（北京时间）"])  # fmt: skip
    sheet.append([])
    sheet.append(STUDY_HEADER)
    for y in card.years:
        for line in y.studies:
            r = line.result
            sheet.append([
                y.year, category_zh(line), line.title, period_zh(line), line.credit_required,
                line.credited_hours, line.recorded_hours, result_lines(r)[0],
                r.score, r.certificate or "",
            ])  # fmt: skip
    _fit(sheet, [10, 12, 34, 26, 12, 12, 12, 22, 10, 22])
    totals = book.create_sheet("年度合计")
    totals.append(YEAR_HEADER)
    for y in card.years:
        totals.append([
            y.year, y.employer or "", y.public_hours, y.professional_hours, y.other_hours,
            y.recorded_hours, y.required_hours, y.shortfall_hours, "是 yes" if y.met else "否 no",
        ])  # fmt: skip
    _fit(totals, [10, 28, 14, 16, 12, 16, 12, 10, 12])
    return _saved(book)


def summary_xlsx(cards: Sequence[Card], *, year: int, files: Sequence[str]) -> bytes:
    """An archive's summary: one row per person of ``year``'s hours and results, and the
    PDF that holds their card."""
    from openpyxl import Workbook  # noqa: PLC0415

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = f"{year}"
    sheet.append(["姓名 Name", "身份证号 ID number", *YEAR_HEADER[1:], "学习计划与成绩 Plans",
                  "文件 File"])  # fmt: skip
    for card, file in zip(cards, files, strict=True):
        for y in card.years:
            plans = "；".join(
                f"{s.title} {hours(s.recorded_hours)} 学时 {OUTCOME_WORDS[s.result.outcome][0]}"
                for s in y.studies
            )
            sheet.append([
                card.name, card.login, y.employer or "", y.public_hours, y.professional_hours,
                y.other_hours, y.recorded_hours, y.required_hours, y.shortfall_hours,
                "是 yes" if y.met else "否 no", plans, file,
            ])  # fmt: skip
    _fit(sheet, [10, 22, 24, 14, 16, 12, 16, 12, 10, 12, 48, 44])
    return _saved(book)


def _fit(sheet: Any, widths: Sequence[int]) -> None:
    """Column widths; every text cell formatted as text (ID numbers, certificate numbers
    stay as written when the file is edited), the header row frozen."""
    from openpyxl.utils import get_column_letter  # noqa: PLC0415

    for n, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(n)].width = width
    for cells in sheet.iter_rows():
        for cell in cells:
            if isinstance(cell.value, str):
                cell.number_format = "@"


def _saved(book: Any) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# -------------------------------------------------------------------------- archive


def archive_zip(cards: Sequence[Card], *, year: int, now: int, font: Path | None = None) -> bytes:
    """One PDF per card (``card_filename``; a second person of the same name and masked
    number gets `` (2)``) and ``汇总-<year>.xlsx``, the summary, zipped; entries dated
    ``now`` in Beijing."""
    stamp = datetime.fromtimestamp(now / 1000, BEIJING).timetuple()[:6]
    files = _unique(card_filename(c, year=year, ext="pdf") for c in cards)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for card, file in zip(cards, files, strict=True):
            # A PDF's streams are compressed already: stored, not deflated again.
            archive.writestr(zipfile.ZipInfo(file, date_time=stamp), card_pdf(card, font=font),
                             compress_type=zipfile.ZIP_STORED)  # fmt: skip
        archive.writestr(
            zipfile.ZipInfo(f"汇总-{year}.xlsx", date_time=stamp),
            summary_xlsx(cards, year=year, files=files), compress_type=zipfile.ZIP_DEFLATED,
        )  # fmt: skip
    return out.getvalue()


def _unique(names: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in names:
        stem, dot, ext = name.rpartition(".")
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{stem} ({n}){dot}{ext}"
        seen.add(candidate)
        out.append(candidate)
    return out
