"""The registration card's pages (docs/decisions/0029): the learner's own
(``/learner/card``), an employer administrator's view of one of their staff
(``/employer/staff/{login}/card``, linked from the staff list) and an operator's lookup
by ID number or phone (``/operator/card``).

One template shows a card of every year or of one (``?year=``): each year's recorded
hours against the requirement, the split by category, and the studies with their
results; the PDF and the workbook are the API's (``api.http.card``). Rendered from
``api.services.card``, the use case the API answers from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import msgspec
from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.response import Template
from sqlmodel import Session

from api.http.card import CardYear
from api.http.params import Filter, LoginRef
from api.services import card as cards
from api.services.accounts import AccountNotFoundError
from api.settings import Settings
from api.store.db import Uow
from api.web import i18n
from api.web.common import PAGE_EXCEPTION_HANDLERS, lang_of, page_principal, render
from api.web.plans import category_text
from examengine import card as rules

i18n.register(
    {
        "nav.my_card": ("学时登记卡", "Registration card"),
        "card.title": ("学时登记卡", "Registration card"),
        "card.staff_title": ("{name}的学时登记卡", "{name}'s registration card"),
        "card.operator_title": ("查询学时登记卡", "Look up a registration card"),
        "card.intro": (
            "专业技术人员继续教育登记卡：逐年记载学习的类别、内容、学时和成绩，"
            "可下载 PDF 交单位或人事部门审验。",
            "The continuing-education registration card: each year's studies — kind, "
            "content, hours and result. Download the PDF for your employer or the "
            "personnel office to verify.",
        ),
        "card.intro_staff": (
            "专业技术人员继续教育登记卡：逐年记载学习的类别、内容、学时和成绩。下载 PDF "
            "打印后存入本人业务档案，并在“考核验证意见”栏签署意见、加盖公章。",
            "The continuing-education registration card: each year's studies — kind, "
            "content, hours and result. Print the PDF for the personal file, write the "
            "verification and stamp it with the employer's seal.",
        ),
        "card.name": ("姓名", "Name"),
        "card.login": ("身份证号", "ID number"),
        "card.employer": ("工作单位", "Employer"),
        "card.no_employer": ("未登记", "None recorded"),
        "card.year": ("年度", "Year"),
        "card.all_years": ("全部年度", "All years"),
        "card.show": ("查看", "Show"),
        "card.download_pdf": ("下载 PDF", "Download PDF"),
        "card.download_xlsx": ("下载 Excel", "Download Excel"),
        "card.download_label": (
            "{label}（{what}的学时登记卡）",
            "{label} (the registration card of {what})",
        ),
        "card.every_year": ("全部年度", "every year"),
        "card.one_year": ("{year} 年度", "{year}"),
        "card.year_title": ("{year} 年度", "Year {year}"),
        "card.year_employer": ("该年度工作单位：{employer}", "Employer that year: {employer}"),
        "card.recorded": ("登记学时", "Hours recorded"),
        "card.recorded_of": (
            "{recorded} / {required} 学时",
            "{recorded} of {required} hours",
        ),
        "card.met": ("已达到年度要求", "Yearly requirement met"),
        "card.short": ("尚差 {hours} 学时", "{hours} hours short"),
        "card.split": (
            "公需科目 {public} 学时 · 专业科目 {professional} 学时",
            "Public subjects {public} h · professional subjects {professional} h",
        ),
        "card.split_other": (" · 其他 {other} 学时", " · other {other} h"),
        "card.none": ("本年度还没有学习记录。", "No study recorded for this year yet."),
        "card.col.category": ("类别", "Category"),
        "card.col.content": ("学习内容", "Content"),
        "card.col.period": ("学习时间", "Studied"),
        "card.col.credited": ("已获 / 应修学时", "Credited / required"),
        "card.col.recorded": ("登记学时", "Recorded"),
        "card.col.result": ("学习成绩", "Result"),
        "card.hours": ("{hours} 学时", "{hours} h"),
        "card.credited": ("{credited} / {required} 学时", "{credited} of {required} h"),
        "card.period.both": ("{start} 至 {end}", "{start} to {end}"),
        "card.period.from": ("{start} 起，学习中", "since {start}, in progress"),
        "card.period.to": ("至 {end}", "until {end}"),
        "card.outcome.passed": ("合格", "Passed"),
        "card.outcome.failed": ("不合格", "Failed"),
        "card.outcome.not_taken": ("未参加考试", "Exam not taken"),
        "card.outcome.studying": ("学习中", "In progress"),
        "card.outcome.credited": ("学时已认定", "Hours credited"),
        "card.score": ("{score} 分（满分 {max}）", "{score} of {max} points"),
        "card.score_failed": (
            "最高 {score} 分（满分 {max}），已考 {n} 次",
            "best {score} of {max} points, {n} attempts",
        ),
        "card.on": ("{date}", "on {date}"),
        "card.certificate": ("证书编号：{number}", "Certificate no. {number}"),
        "card.rules": (
            "说明：学时按学习计划所属年度登记（补学计入原年度）。学习计划的学时学满"
            "且考试合格后（无考试的计划学满即可），方计入当年登记学时。日期为北京时间。",
            "How hours are recorded: a study counts for its plan's year (catch-up study for "
            "the year it catches up). Its hours are recorded once all of them are credited "
            "and its exam, if it has one, is passed. Dates are Beijing time.",
        ),
        "card.back": ("返回本单位学员", "Back to our staff"),
        "card.not_found": (
            "本单位没有使用该身份证号或手机号的学员。",
            "No learner of your employer has this ID number or phone.",
        ),
        "card.lookup": ("身份证号或手机号", "ID number or phone"),
        "card.lookup_submit": ("查询", "Look up"),
        "card.lookup_missing": (
            "没有使用该身份证号或手机号的账号。",
            "No account has this ID number or phone.",
        ),
        "card.staff_link": ("查看 {name} 的学时登记卡", "{name}'s registration card"),
    }
)


@dataclass(frozen=True)
class Line:
    """A study as a row of the page's table, in the page's language."""

    title: str
    category: str
    period: str
    credited: str
    recorded: str
    outcome: str
    #: ``badge--ok`` …: how the outcome's badge looks.
    tone: str
    details: tuple[str, ...]


_TONES = {
    rules.Outcome.PASSED: "badge--ok",
    rules.Outcome.CREDITED: "badge--ok",
    rules.Outcome.FAILED: "badge--error",
    rules.Outcome.NOT_TAKEN: "badge--warn",
    rules.Outcome.STUDYING: "badge--info",
}


def _line(study: rules.CardStudy, lang: str) -> Line:
    def t(key: str, **values: object) -> str:
        return i18n.t(key, lang, **values)

    start, end = cards.date_of(study.studied_from_ms), cards.date_of(study.met_ms)
    if start and end:
        period = start if start == end else t("card.period.both", start=start, end=end)
    elif end:
        period = t("card.period.to", end=end)
    else:
        period = t("card.period.from", start=start) if start else "—"
    r = study.result
    details = []
    if r.score is not None:
        score, most = cards.hours(r.score), cards.hours(r.max_score or 0)
        failed = r.outcome is rules.Outcome.FAILED
        details.append(
            t("card.score_failed", score=score, max=most, n=r.attempts)
            if failed
            else t("card.score", score=score, max=most)
        )
        if r.at_ms is not None:
            details.append(t("card.on", date=cards.date_of(r.at_ms)))
    if r.certificate:
        details.append(t("card.certificate", number=r.certificate))
    return Line(
        title=study.title,
        category=category_text(study.category_text, lang),
        period=period,
        credited=t(
            "card.credited",
            credited=cards.hours(study.credited_hours),
            required=cards.hours(study.credit_required),
        ),
        recorded=t("card.hours", hours=cards.hours(study.recorded_hours)),
        outcome=t(f"card.outcome.{r.outcome.value}"),
        tone=_TONES[r.outcome],
        details=tuple(details),
    )


def _shown(
    request: Request[Any, Any, Any], card: cards.Card | None, *, year: int | None,
    years: list[int], downloads: str, **context: Any,
) -> Template:  # fmt: skip
    """The card page: ``downloads`` is the API path of this card's documents."""
    lang = lang_of(request)
    lines = {y.year: [_line(s, lang) for s in y.studies] for y in card.years} if card else {}
    query = {"year": year} if year is not None else {}
    return render(
        request, "card/card.html", card=card, lines=lines, year=year, years=years,
        hours=cards.hours, gender=cards.GENDER_ZH,
        pdf_url=f"{downloads}?" + urlencode({**query, "format": "pdf"}),
        xlsx_url=f"{downloads}?" + urlencode({**query, "format": "xlsx"}),
        **context,
    )  # fmt: skip


def _years_and_card(db: Session, fetch: Any, year: int | None) -> tuple[cards.Card, list[int]]:
    """The card of ``year`` (every year: None) and the years the selector offers."""
    every = fetch(db, None)
    years = [y.year for y in every.years]
    if year is None:
        return every, years
    if year in years:
        return msgspec.structs.replace(
            every, years=tuple(y for y in every.years if y.year == year)
        ), years
    return fetch(db, year), sorted({*years, year}, reverse=True)


class CardPages(Controller):
    """``/learner/card``, ``/employer/staff/{login}/card`` and ``/operator/card``."""

    include_in_schema = False
    exception_handlers = PAGE_EXCEPTION_HANDLERS

    @get("/learner/card", sync_to_thread=True)
    def mine(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, year: CardYear = None
    ) -> Template:
        settings: Settings = state.settings
        now = int(state.clock.now_ms())
        with uow() as db:
            principal = page_principal(request, "learner")

            def fetch(session: Session, chosen: int | None) -> cards.Card:
                return cards.my_card(
                    session, learner_id=principal.user_id, year=chosen, now=now,
                    study_settings=settings.study, issuer=settings.records.issuer,
                )  # fmt: skip

            card, years = _years_and_card(db, fetch, year)
        return _shown(request, card, year=year, years=years, downloads="/api/me/card",
                      mode="learner", action="/learner/card")  # fmt: skip

    @get("/employer/staff/{login:str}/card", sync_to_thread=True)
    def staff(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, login: LoginRef,
        year: CardYear = None,
    ) -> Template:  # fmt: skip
        settings: Settings = state.settings
        now = int(state.clock.now_ms())
        path = f"/employer/staff/{quote(login)}/card"
        with uow() as db:
            principal = page_principal(request, "employer_admin")

            def fetch(session: Session, chosen: int | None) -> cards.Card:
                return cards.account_card(
                    session, login=login, actor_id=principal.user_id, year=chosen, now=now,
                    study_settings=settings.study, issuer=settings.records.issuer,
                )  # fmt: skip

            try:
                card, years = _years_and_card(db, fetch, year)
            except AccountNotFoundError:
                return render(request, "card/card.html", card=None, mode="employer",
                              missing=True, status_code=404)  # fmt: skip
        return _shown(request, card, year=year, years=years,
                      downloads=f"/api/accounts/{quote(login)}/card", mode="employer",
                      action=path)  # fmt: skip

    @get("/operator/card", sync_to_thread=True)
    def lookup(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, login: Filter = "",
        year: CardYear = None,
    ) -> Template:  # fmt: skip
        settings: Settings = state.settings
        now = int(state.clock.now_ms())
        with uow() as db:
            principal = page_principal(request, "operator")
            if not login.strip():
                return render(request, "card/card.html", card=None, mode="operator", login="")

            def fetch(session: Session, chosen: int | None) -> cards.Card:
                return cards.account_card(
                    session, login=login.strip(), actor_id=principal.user_id, year=chosen,
                    now=now, study_settings=settings.study, issuer=settings.records.issuer,
                )  # fmt: skip

            try:
                card, years = _years_and_card(db, fetch, year)
            except AccountNotFoundError:
                return render(request, "card/card.html", card=None, mode="operator",
                              login=login, missing=True, status_code=404)  # fmt: skip
        return _shown(request, card, year=year, years=years,
                      downloads=f"/api/accounts/{quote(login.strip())}/card", mode="operator",
                      action="/operator/card", login=login.strip())  # fmt: skip
