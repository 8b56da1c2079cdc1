"""The registration card (继续教育登记卡, docs/decisions/0029): what one study of a learner
records, and a year's total against the yearly requirement.

This module owns the card's rules; it reads nothing and stores nothing. The shell
gathers a learner's plans, their progress (``examengine.credit.plan_progress``, the one
rule of what is credited), formal attempts and certificates, and hands them here:

- **Which year.** A study counts for its plan's year, not for the year it was studied
  in: a 2024 plan studied in 2026 is catch-up study (补学) for 2024.
- **The result** of a study (``result_of``): ``passed`` (a formal attempt passed: its
  score and date, the first pass), ``failed`` (formal attempts closed, none passed),
  ``not_taken`` (the study is met, the exam not sat), ``studying`` (the study is not
  met yet and no attempt closed), or, for a plan without an exam, ``credited`` once its
  study is met. Practice attempts never count; an attempt still open is not a result.
- **Recorded hours** (登记学时, ``recorded_hours``): a study enters the year's total only
  when it is finished — its required and elective hours credited and, if the plan has
  an exam, the exam passed (the sources: the employer records the hours against the
  pass slip, 002; "学满规定学时……并且通过测试", 004). It then records the plan's hours
  (required + elective); electives studied beyond them do not swell the year.
- **The year** (``card_year``): the recorded hours by category (public 公需科目,
  professional 专业科目, anything else), their total against the year's requirement
  (the employer's region's, chosen by the shell), the shortfall, whether it is met.
  Only the total is judged: the public/professional split is shown, not enforced (no
  setting names a minimum per category).
- **When the study was met** (``met_at``): the earliest completion time at which the
  plan's progress is met, by ``plan_progress`` over the chapters completed by then.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum

from msgspec import Struct

from examengine.clock import BEIJING
from examengine.credit import ChapterCredit, Plan, PlanProgress, plan_progress

#: Float noise in sums of hours (0.5 + 0.5 + … ) is below this.
_EPS = 1e-9


class Category(StrEnum):
    """A plan's kind of subject, as plans name it (``Plan.category``)."""

    PUBLIC = "public"
    PROFESSIONAL = "professional"
    #: Any other word a plan file used: shown as written, totalled apart.
    OTHER = "other"


def category_of(text: str) -> Category:
    """``public`` → PUBLIC, ``professional`` → PROFESSIONAL, anything else → OTHER."""
    try:
        return Category(text)
    except ValueError:
        return Category.OTHER


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_TAKEN = "not_taken"
    STUDYING = "studying"
    CREDITED = "credited"


class FormalAttempt(Struct, frozen=True, kw_only=True):
    """A formal (not practice) attempt at the plan's exam: ``passed`` and ``finished_ms``
    are None while it is open."""

    passed: bool | None
    score: float | None
    max_score: float | None
    finished_ms: int | None


class StudyResult(Struct, frozen=True, kw_only=True):
    """What the card's result column says. ``score`` and ``at_ms``: the first passing
    attempt's, or for ``failed`` the best score and the last attempt's finish;
    ``attempts``: formal attempts closed; ``certificate``: the current certificate's
    number, when one was issued."""

    outcome: Outcome
    score: float | None = None
    max_score: float | None = None
    at_ms: int | None = None
    attempts: int = 0
    certificate: str | None = None


def result_of(
    *, met: bool, has_exam: bool, attempts: Iterable[FormalAttempt], certificate: str | None
) -> StudyResult:
    """The result of a study whose progress is ``met`` (or not), of a plan with an exam
    or without, given the formal attempts at that exam and the current certificate."""
    if not has_exam:
        outcome = Outcome.CREDITED if met else Outcome.STUDYING
        return StudyResult(outcome=outcome, certificate=certificate)
    closed = sorted(
        (a for a in attempts if a.passed is not None and a.finished_ms is not None),
        key=lambda a: a.finished_ms or 0,
    )
    passing = [a for a in closed if a.passed]
    if passing:
        first = passing[0]
        return StudyResult(
            outcome=Outcome.PASSED, score=first.score, max_score=first.max_score,
            at_ms=first.finished_ms, attempts=len(closed), certificate=certificate,
        )  # fmt: skip
    if closed:
        best = max(closed, key=lambda a: a.score if a.score is not None else -1.0)
        return StudyResult(
            outcome=Outcome.FAILED, score=best.score, max_score=best.max_score,
            at_ms=closed[-1].finished_ms, attempts=len(closed), certificate=certificate,
        )  # fmt: skip
    outcome = Outcome.NOT_TAKEN if met else Outcome.STUDYING
    return StudyResult(outcome=outcome, certificate=certificate)


def recorded_hours(progress: PlanProgress, result: StudyResult) -> float:
    """The hours the study enters in its year: the plan's hours (required + elective)
    once its study is met and its exam, if any, passed; else 0."""
    finished = result.outcome in (Outcome.PASSED, Outcome.CREDITED)
    return progress.credit_required if progress.met and finished else 0.0


class Completion(Struct, frozen=True, kw_only=True):
    """A chapter completed in study cycle ``cycle`` at ``completed_ms``."""

    chapter: str
    cycle: int
    credited_ms: int
    completed_ms: int


def met_at(plan: Plan, completions: Iterable[Completion], *, cycle: int) -> int | None:
    """When the plan's study (cycle ``cycle``) was met: the earliest completion time at
    which ``plan_progress`` over the chapters completed by then is met; None when it is
    not met, or was met by no completion (a plan of no hours)."""
    done = sorted(completions, key=lambda c: c.completed_ms)
    times = sorted({c.completed_ms for c in done})

    def met_by(at: int) -> bool:
        credits = [
            ChapterCredit(chapter=c.chapter, cycle=c.cycle, credited_ms=c.credited_ms)
            for c in done
            if c.completed_ms <= at
        ]
        return plan_progress(plan, credits, cycle=cycle).met

    if not times or not met_by(times[-1]):
        return None
    # More completions never unmeet a plan: the first time it is met is a bisection.
    first = bisect.bisect_left(range(len(times)), True, key=lambda i: met_by(times[i]))
    return times[first]


class CardStudy(Struct, frozen=True, kw_only=True):
    """One line of the card: a plan the learner studies, in its year."""

    plan: str
    title: str
    year: int
    category: Category
    #: The category as the plan wrote it (the card shows an unknown word as it is).
    category_text: str
    credit_required: float
    credited_hours: float
    recorded_hours: float
    #: The first study of the plan, and when its study was met (UTC ms; None: not yet).
    studied_from_ms: int | None
    met_ms: int | None
    result: StudyResult


def card_study(
    plan: Plan,
    progress: PlanProgress,
    result: StudyResult,
    *,
    studied_from_ms: int | None,
    met_ms: int | None,
) -> CardStudy:
    """The card's line for ``plan`` from its progress and result."""
    return CardStudy(
        plan=plan.key, title=plan.title, year=plan.year, category=category_of(plan.category),
        category_text=plan.category, credit_required=progress.credit_required,
        credited_hours=progress.credited_hours, recorded_hours=recorded_hours(progress, result),
        studied_from_ms=studied_from_ms, met_ms=met_ms if progress.met else None, result=result,
    )  # fmt: skip


class CardYear(Struct, frozen=True, kw_only=True):
    """One year of the card: its studies, the recorded hours by category and in all,
    against ``required_hours``; ``employer``: the learner's employer that year."""

    year: int
    employer: str | None
    required_hours: float
    public_hours: float
    professional_hours: float
    other_hours: float
    recorded_hours: float
    shortfall_hours: float
    met: bool
    studies: tuple[CardStudy, ...]


def card_year(
    year: int, studies: Sequence[CardStudy], *, required: float, employer: str | None
) -> CardYear:
    """The card's year ``year`` from the studies of that year's plans (others are left
    out): public first, then professional, then the rest, each by title."""
    mine = sorted(
        (s for s in studies if s.year == year),
        key=lambda s: (list(Category).index(s.category), s.title, s.plan),
    )

    def total(category: Category | None) -> float:
        return round(
            sum(s.recorded_hours for s in mine if category is None or s.category is category), 1
        )

    recorded = total(None)
    return CardYear(
        year=year, employer=employer, required_hours=required,
        public_hours=total(Category.PUBLIC), professional_hours=total(Category.PROFESSIONAL),
        other_hours=total(Category.OTHER), recorded_hours=recorded,
        shortfall_hours=max(0.0, round(required - recorded, 1)),
        met=recorded + _EPS >= required, studies=tuple(mine),
    )  # fmt: skip


def year_end_ms(year: int) -> int:
    """When ``year`` ends in China: the first moment of the next year in Beijing (UTC ms)."""
    return int(datetime(year + 1, 1, 1, tzinfo=BEIJING).timestamp() * 1000)


def card_years(studies: Iterable[CardStudy], *, also: Iterable[int] = ()) -> list[int]:
    """The years a card shows, newest first: those of the studies, and ``also`` (the
    current year, which a card shows even before any study of it)."""
    return sorted({s.year for s in studies} | set(also), reverse=True)
