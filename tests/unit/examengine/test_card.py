"""The registration card's rules with tiny literal times: a study's result from its
formal attempts, the hours it records (only a finished study, only the plan's hours),
when its study was met, and a year's totals by category against the requirement."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from examengine import card, credit
from examengine.card import Category, Outcome


def chapter(key: str, hours: float) -> credit.Chapter:
    return credit.Chapter(key=key, title=key, duration_ms=1_000, credit_hours=hours)


def course(key: str, *chapters: credit.Chapter) -> credit.Course:
    return credit.Course(key=key, title=key, chapters=chapters)


#: 10 h required (two chapters), 20 h elective of the 30 h offered (two courses).
PLAN = credit.Plan(
    key="p", title="2026 公需科目", year=2026, category="public", required_hours=10,
    elective_hours=20, exam="e",
    courses=(
        credit.PlanCourse(course=course("r", chapter("r1", 5), chapter("r2", 5)), required=True),
        credit.PlanCourse(course=course("e1", chapter("e1", 20)), required=False),
        credit.PlanCourse(course=course("e2", chapter("e2", 10)), required=False),
    ),
)  # fmt: skip


def attempt(passed: bool | None, score: float | None, at: int | None) -> card.FormalAttempt:
    return card.FormalAttempt(passed=passed, score=score, max_score=100, finished_ms=at)


def progress(*chapters: str) -> credit.PlanProgress:
    credits = [credit.ChapterCredit(chapter=c, cycle=1, credited_ms=1_000) for c in chapters]
    return credit.plan_progress(PLAN, credits, cycle=1)


# ------------------------------------------------------------------------- results


def test_the_first_passing_attempt_is_the_result_with_its_score_date_and_certificate():
    result = card.result_of(
        met=True, has_exam=True, certificate="ZS-1",
        attempts=[attempt(True, 95, 300), attempt(False, 40, 100), attempt(True, 70, 200)],
    )  # fmt: skip
    assert result == card.StudyResult(
        outcome=Outcome.PASSED, score=70, max_score=100, at_ms=200, attempts=3,
        certificate="ZS-1",
    )  # fmt: skip


def test_closed_attempts_none_passed_fail_with_the_best_score_and_the_last_finish():
    result = card.result_of(
        met=True, has_exam=True, certificate=None,
        attempts=[attempt(False, 40, 100), attempt(False, 55, 200), attempt(None, None, None)],
    )  # fmt: skip
    assert (result.outcome, result.score, result.at_ms, result.attempts) == (
        Outcome.FAILED, 55, 200, 2,
    )  # fmt: skip


def test_an_expired_attempt_without_a_score_still_counts_as_failed():
    result = card.result_of(
        met=True, has_exam=True, certificate=None, attempts=[attempt(False, None, 100)]
    )
    assert (result.outcome, result.score, result.attempts) == (Outcome.FAILED, None, 1)


def test_an_open_attempt_is_no_result_yet_and_study_decides_between_not_taken_and_studying():
    running = [attempt(None, None, None)]
    met = card.result_of(met=True, has_exam=True, attempts=running, certificate=None)
    unmet = card.result_of(met=False, has_exam=True, attempts=[], certificate=None)
    assert (met.outcome, unmet.outcome) == (Outcome.NOT_TAKEN, Outcome.STUDYING)


def test_a_plan_without_an_exam_is_credited_once_its_study_is_met():
    done = card.result_of(met=True, has_exam=False, attempts=[], certificate="ZS-2")
    assert (done.outcome, done.certificate) == (Outcome.CREDITED, "ZS-2")
    assert card.result_of(met=False, has_exam=False, attempts=[], certificate=None).outcome is (
        Outcome.STUDYING
    )


# -------------------------------------------------------------------- recorded hours


def test_a_finished_study_records_the_plans_hours_not_the_electives_studied_beyond_them():
    everything = progress("r1", "r2", "e1", "e2")
    assert everything.credited_hours == 40  # 10 required + 30 elective studied
    passed = card.result_of(met=True, has_exam=True, attempts=[attempt(True, 80, 5)],
                            certificate=None)  # fmt: skip
    assert card.recorded_hours(everything, passed) == 30


def test_hours_are_recorded_only_when_the_study_is_met_and_the_exam_passed():
    met = progress("r1", "r2", "e1")
    unmet = progress("r1", "r2")
    passed = card.StudyResult(outcome=Outcome.PASSED)
    for result in (Outcome.FAILED, Outcome.NOT_TAKEN, Outcome.STUDYING):
        assert card.recorded_hours(met, card.StudyResult(outcome=result)) == 0
    assert card.recorded_hours(unmet, passed) == 0  # passed, but the hours are not studied
    assert card.recorded_hours(met, card.StudyResult(outcome=Outcome.CREDITED)) == 30


# ------------------------------------------------------------------------- met at


def completion(key: str, at: int, cycle: int = 1) -> card.Completion:
    return card.Completion(chapter=key, cycle=cycle, credited_ms=1_000, completed_ms=at)


def test_the_study_is_met_at_the_completion_that_meets_it_not_the_last_one():
    done = [completion("r1", 100), completion("e1", 200), completion("r2", 300),
            completion("e2", 900)]  # fmt: skip
    assert card.met_at(PLAN, done, cycle=1) == 300  # r2 completes the required course


def test_a_study_not_met_has_no_moment_and_an_earlier_cycle_counts_only_as_the_plan_says():
    assert card.met_at(PLAN, [completion("r1", 100), completion("e1", 200)], cycle=1) is None
    # Cycle 2 (a re-study): the required course starts again; the elective carries over.
    done = [completion("r1", 100), completion("r2", 110), completion("e1", 120),
            completion("r1", 500, cycle=2), completion("r2", 600, cycle=2)]  # fmt: skip
    assert card.met_at(PLAN, done, cycle=2) == 600
    assert card.met_at(PLAN, done[:3], cycle=2) is None


@given(st.permutations([100, 200, 300, 400]))
def test_the_moment_does_not_depend_on_the_order_rows_come_in(times: list[int]) -> None:
    keys = ["r1", "r2", "e1", "e2"]
    done = [completion(k, t) for k, t in zip(keys, times, strict=True)]
    # Both required chapters, and e1 (20 h): e2 alone (10 h) meets no elective hours.
    assert card.met_at(PLAN, reversed(done), cycle=1) == max(times[0], times[1], times[2])


# -------------------------------------------------------------------------- years


def study(plan: str, year: int, category: str, recorded: float) -> card.CardStudy:
    return card.CardStudy(
        plan=plan, title=plan, year=year, category=card.category_of(category),
        category_text=category, credit_required=recorded, credited_hours=recorded,
        recorded_hours=recorded, studied_from_ms=None, met_ms=None,
        result=card.StudyResult(outcome=Outcome.CREDITED),
    )  # fmt: skip


def test_a_year_totals_its_own_plans_by_category_against_the_requirement():
    studies = [study("b-prof", 2026, "professional", 60), study("a-pub", 2026, "public", 24.5),
               study("old", 2025, "public", 30), study("x", 2026, "管理科目", 5.5)]  # fmt: skip
    year = card.card_year(2026, studies, required=90, employer="一中")
    assert [s.plan for s in year.studies] == ["a-pub", "b-prof", "x"]  # public first
    assert (year.public_hours, year.professional_hours, year.other_hours) == (24.5, 60, 5.5)
    assert (year.recorded_hours, year.shortfall_hours, year.met) == (90, 0, True)
    assert year.employer == "一中"
    short = card.card_year(2025, studies, required=72, employer=None)
    assert (short.recorded_hours, short.shortfall_hours, short.met) == (30, 42, False)
    empty = card.card_year(2024, studies, required=90, employer=None)
    assert (empty.studies, empty.shortfall_hours, empty.met) == ((), 90, False)


def test_sums_of_halves_meet_the_requirement_without_float_noise():
    studies = [study(f"p{n}", 2026, "public", 0.1) for n in range(30)]
    year = card.card_year(2026, studies, required=3, employer=None)
    assert (year.recorded_hours, year.shortfall_hours, year.met) == (3.0, 0.0, True)


def test_categories_and_years_shown():
    assert card.category_of("public") is Category.PUBLIC
    assert card.category_of("professional") is Category.PROFESSIONAL
    assert card.category_of("继续教育") is Category.OTHER
    studies = [study("a", 2024, "public", 1), study("b", 2026, "public", 1)]
    assert card.card_years(studies, also=[2026, 2027]) == [2027, 2026, 2024]


def test_a_year_ends_at_midnight_in_beijing():
    end = card.year_end_ms(2025)
    assert end == 1_767_196_800_000  # 2026-01-01 00:00 +08:00 = 2025-12-31 16:00 UTC
