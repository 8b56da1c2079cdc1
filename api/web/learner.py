"""The learner's pages: sign-in, the forced password change, my exams, the rules before
an attempt, the exam itself and the result.

Server-rendered from the same use cases the JSON API calls (``api.services.attempts``);
what happens after the page is shown (saving answers, the countdown, submitting) is the
JavaScript modules' work, against the JSON API. The exam page *resumes* the attempt when
it is opened (this login session becomes the device holding it), so a reload or a crash
continues where it was: the server's saved answers and its clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.response import Redirect, Template
from markupsafe import Markup, escape

from api.http.auth import device_of
from api.http.params import AttemptId, ExamKey
from api.services import attempts
from api.store.db import Uow
from api.web import i18n
from api.web.common import (
    PAGE_EXCEPTION_HANDLERS,
    current_principal,
    fmt_score,
    home_of,
    lang_of,
    page_principal,
    render,
    safe_next,
)
from api.web.i18n import t, tn
from api.web.study import exam_study
from examengine.attempt import AttemptError


def _now(state: State) -> int:
    return int(state.clock.now_ms())


@get("/", include_in_schema=False, sync_to_thread=False)
def home(request: Request[Any, Any, Any]) -> Redirect:
    """The front door: the sign-in page, or the signed-in user's home by role."""
    return Redirect(home_of(current_principal(request)))


class AccountPages(Controller):
    """Sign-in, the password change and activation links (no role needed)."""

    include_in_schema = False

    @get("/login", sync_to_thread=False)
    def login(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        principal = current_principal(request)
        next_url = safe_next(request.query_params.get("next"))
        no_pages = False
        if principal is not None and not principal.must_change_password:
            home = home_of(principal)
            no_pages = home == "/login"  # a role with no pages: show why, never loop
            if not no_pages:
                return Redirect(next_url if next_url != "/" else home)
        return render(request, "login.html", next_url=next_url, no_pages=no_pages)

    @get("/password", sync_to_thread=False)
    def password(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        principal = current_principal(request)
        if principal is None:
            return Redirect("/login?next=/password")
        return render(request, "password.html", forced=principal.must_change_password)

    @get("/activate", sync_to_thread=False)
    def activate(self, request: Request[Any, Any, Any]) -> Template:
        """Choose a password from an activation or reset link (``/activate#token``: the
        token stays in the browser, out of every server log and Referer)."""
        return render(request, "activate.html")


def _same_lang(request: Request[Any, Any, Any], url: str) -> str:
    """``url`` keeping the ``?lang=`` switch a redirected page was asked with."""
    chosen = request.query_params.get("lang")
    return f"{url}?lang={chosen}" if chosen in i18n.LANGS else url


def _entry(exams: attempts.MyExams, key: str) -> attempts.ExamEntry | None:
    return next((e for e in exams.exams if e.exam == key), None)


#: A section title an author numbered already, Chinese style: "一、单项选择题".
_ZH_NUMBERED = re.compile(r"^[一二三四五六七八九十]+[、.．]\s*")
_ZH_NUMERALS = "一二三四五六七八九十"


def _section_heading(number: int, title: str, kinds: set[str], lang: str) -> Markup:
    """A section's heading in the page's language. Chinese keeps the author's title
    ("一、单项选择题", numbered when it is not); English says "Section 1: Single choice"
    when the section holds one kind (the title is the author's Chinese), else the title
    without its Chinese numbering. The author's words are marked ``data-content``."""
    words = _ZH_NUMBERED.sub("", title).strip() or title
    name = Markup('<span data-content="">{}</span>').format(words)
    if lang == "en" and len(kinds) == 1:
        name = Markup(escape(t(f"exam.kind.{next(iter(kinds))}", "en")))
    numeral = _ZH_NUMERALS[number - 1] if number <= len(_ZH_NUMERALS) else str(number)
    return Markup(escape(t("exam.section", lang))).format(n=number, numeral=numeral, name=name)


def _points_text(lang: str) -> Callable[[float], str]:
    """Points as the page says them: "1 point", "2 points", "0.5 points"; "2 分"."""

    def text(points: float) -> str:
        return tn("exam.points_n", 1 if points == 1 else 2, lang, points=fmt_score(points))

    return text


class Section:
    """A section of the paper as the exam page shows it."""

    def __init__(self, number: int, heading: Markup, items: list[attempts.PaperItemView]) -> None:
        self.number = number
        self.heading = heading
        self.items = items
        self.points = sum(i.points for i in items)


def _sections(paper: attempts.PaperView, lang: str) -> list[Section]:
    groups: list[tuple[int, str, list[attempts.PaperItemView]]] = []
    for item in paper.items:
        if not groups or groups[-1][0] != item.section:
            groups.append((item.section, item.section_title, []))
        groups[-1][2].append(item)
    return [
        Section(n, _section_heading(n, title, {i.kind for i in items}, lang), items)
        for n, (_, title, items) in enumerate(groups, start=1)
    ]


class LearnerPages(Controller):
    """``/learner``: my exams, the rules, the exam, the result."""

    path = "/learner"
    include_in_schema = False
    exception_handlers = PAGE_EXCEPTION_HANDLERS

    @get("/exams", sync_to_thread=True)
    def my_exams(self, request: Request[Any, Any, Any], uow: Uow, state: State) -> Template:
        with uow() as db:
            principal = page_principal(request, "learner")
            now = _now(state)
            mine = attempts.my_exams(db, learner_id=principal.user_id, now=now)
            studied = exam_study(db, learner_id=principal.user_id, now=now)
            return render(request, "learner/exams.html", exams=mine.exams, studied=studied)

    @get("/exams/{key:str}/rules", sync_to_thread=True)
    def rules(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, key: ExamKey
    ) -> Template | Redirect:
        with uow() as db:
            principal = page_principal(request, "learner")
            practice = request.query_params.get("practice") in {"1", "true"}
            mine = attempts.my_exams(db, learner_id=principal.user_id, now=_now(state))
            entry = _entry(mine, key)
            if entry is None:
                return Redirect("/learner/exams")
            open_attempt = entry.open_practice if practice else entry.open_attempt
            if open_attempt is not None:
                return Redirect(_same_lang(request, f"/learner/attempts/{open_attempt.attempt}"))
            may_start = entry.practice_may_start if practice else entry.may_start
            return render(
                request,
                "learner/rules.html",
                entry=entry,
                practice=practice,
                may_start=may_start,
                minutes=entry.duration_s // 60,
            )

    @get("/attempts/{attempt_id:str}", sync_to_thread=True)
    def exam(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, attempt_id: AttemptId
    ) -> Template | Redirect:
        with uow() as db:
            principal = page_principal(request, "learner")
            try:
                paper = attempts.resume(
                    db,
                    learner_id=principal.user_id,
                    attempt_id=attempt_id,
                    device=device_of(request),
                    now=_now(state),
                )
            except AttemptError:
                # closed, or its time ran out (the close is stored): show the outcome
                return Redirect(_same_lang(request, f"/learner/attempts/{attempt_id}/result"))
            answers = {a.item: a.response for a in paper.answers}
            data = {
                "attempt": paper.attempt,
                "exam": paper.exam,
                "practice": paper.practice,
                "seconds_left": paper.seconds_left,
                "deadline_ms": paper.deadline_ms,
                "server_ms": paper.server_ms,
                "last_seq": paper.last_seq,
                "items": [
                    {"item": i.item, "position": i.position, "kind": i.kind} for i in paper.items
                ],
                "answers": answers,
                "flags": list(paper.flags),
                "result_url": f"/learner/attempts/{paper.attempt}/result",
            }
            return render(
                request,
                "learner/exam.html",
                paper=paper,
                sections=_sections(paper, lang_of(request)),
                answers=answers,
                flags=set(paper.flags),
                points_text=_points_text(lang_of(request)),
                exam_data=data,
            )

    @get("/attempts/{attempt_id:str}/result", sync_to_thread=True)
    def result(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, attempt_id: AttemptId
    ) -> Template:
        with uow() as db:
            principal = page_principal(request, "learner")
            now = _now(state)
            outcome = attempts.result(
                db, learner_id=principal.user_id, attempt_id=attempt_id, now=now
            )
            # where the learner stands with the exam now: attempts left, what to do next
            entry = _entry(
                attempts.my_exams(db, learner_id=principal.user_id, now=now), outcome.exam
            )
            # The equated standard names this paper's own pass mark in points; the raw one
            # is the exam's share of the maximum.
            pass_score = outcome.pass_score
            if pass_score is None and outcome.max_score is not None:
                pass_score = outcome.pass_mark * outcome.max_score
            return render(
                request,
                "learner/result.html",
                result=outcome,
                entry=entry,
                pass_score=pass_score,
                points_text=_points_text(lang_of(request)),
                is_open=outcome.state in attempts.OPEN_STATES,
            )
