"""Credit rules that no other test corners: each of the plan's totals must be met on
its own, and a miss on a session that is not live voids nothing."""

from __future__ import annotations

import pytest

from examengine import credit
from examengine.challenges import OnMiss
from examengine.credit import SessionState

RULES = credit.StudyRules(max_gap_ms=45_000)
CH = credit.Chapter(key="c1", title="第一章", duration_ms=600_000, credit_hours=1.0)


def course(key: str, hours: float) -> credit.Course:
    chapter = credit.Chapter(key=f"{key}-0", title=key, duration_ms=60_000, credit_hours=hours)
    return credit.Course(key=key, title=key, chapters=(chapter,))


# Required 2 h, elective 1 h; the electives offer 3 h, so electives alone reach 3 h.
PLAN = credit.Plan(
    key="p",
    title="p",
    year=2026,
    category="public",
    required_hours=2,
    elective_hours=1,
    required_first=False,
    courses=(
        credit.PlanCourse(course=course("r1", 1), required=True),
        credit.PlanCourse(course=course("r2", 1), required=True),
        credit.PlanCourse(course=course("e1", 1), required=False),
        credit.PlanCourse(course=course("e2", 1), required=False),
        credit.PlanCourse(course=course("e3", 1), required=False),
    ),
)


def done(*courses: str) -> list[credit.ChapterCredit]:
    return [credit.ChapterCredit(chapter=f"{c}-0", cycle=1, credited_ms=60_000) for c in courses]


def test_extra_elective_hours_never_make_up_for_missing_required_hours():
    progress = credit.plan_progress(PLAN, done("r1", "e1", "e2", "e3"), cycle=1)
    assert (progress.required_done, progress.elective_done) == (1.0, 3.0)
    assert progress.credited_hours == 4.0  # more than the 3 h the plan asks for in all
    assert not progress.met and not credit.study_met(progress)
    # What counts towards the percentage is capped per kind: 1 of 2 required + 1 elective.
    assert progress.percent == pytest.approx(66.7)


def test_extra_required_hours_never_make_up_for_missing_elective_hours():
    plan = credit.Plan(
        **{
            **{f: getattr(PLAN, f) for f in PLAN.__struct_fields__},
            "required_hours": 1,
            "elective_hours": 2,
        }
    )
    progress = credit.plan_progress(plan, done("r1", "r2", "e1"), cycle=1)
    assert (progress.required_done, progress.elective_done) == (2.0, 1.0)
    assert not progress.met
    assert credit.plan_progress(plan, done("r1", "e1", "e2"), cycle=1).met


def test_each_total_met_exactly_meets_the_plan():
    progress = credit.plan_progress(PLAN, done("r1", "r2", "e3"), cycle=1)
    assert progress.met and progress.percent == 100.0


# ------------------------------------------------------------- misses on dead sessions


def playing(credited: int = 0) -> credit.StudySession:
    session, _ = credit.begin(
        learner=7, chapter=CH, cycle=1, credited_ms=credited, position_ms=0, now=100
    )
    session, _ = credit.heartbeat(session, position_ms=0, playing=True, now=100, rules=RULES)
    session, _ = credit.heartbeat(
        session, position_ms=15_000, playing=True, now=15_100, rules=RULES
    )
    return session


def paused() -> credit.StudySession:
    session, _ = credit.challenge_passed(playing(), seq=1, closing=False, at=15_100)
    session, _ = credit.heartbeat(
        session, position_ms=30_000, playing=True, now=30_100, rules=RULES
    )
    session, _ = credit.challenge_missed(session, seq=2, closing=False, at=30_100)
    assert session.state is SessionState.PAUSED and session.credited_ms == 15_000
    return session


def complete() -> credit.StudySession:
    session = playing(credited=CH.duration_ms)
    assert session.state is SessionState.COMPLETE
    return session


def ended() -> credit.StudySession:
    session, _ = credit.take_over(playing(), by_chapter="c2", now=20_000)
    assert session.state is SessionState.ENDED
    return session


@pytest.mark.parametrize("on_miss", list(OnMiss))
@pytest.mark.parametrize("make", [paused, complete, ended], ids=["paused", "complete", "ended"])
def test_a_missed_challenge_on_a_session_that_is_not_live_voids_nothing(make, on_miss):
    session = make()
    after, events = credit.challenge_missed(
        session, seq=9, closing=False, at=50_000, on_miss=on_miss
    )
    assert after == session  # state, credit, open segment: all as they were
    assert [type(e) for e in events] == [credit.ChallengeMissed]


@pytest.mark.parametrize("make", [paused, complete, ended], ids=["paused", "complete", "ended"])
def test_a_passed_challenge_on_a_session_that_is_not_live_credits_nothing(make):
    session = make()
    after, events = credit.challenge_passed(session, seq=9, closing=False, at=50_000)
    assert after == session
    assert [type(e) for e in events] == [credit.ChallengePassed]


# ------------------------------------------------ what the mutation run found unpinned


def test_a_session_walk_produces_exactly_these_events():
    """Every field of every event (the shell stores them as the integrity log)."""
    s, events = credit.begin(learner=7, chapter=CH, cycle=2, credited_ms=0, position_ms=5, now=100)
    assert (s.learner, s.chapter, s.cycle, s.position_ms) == (7, "c1", 2, 5)
    log = list(events)
    s, _ = credit.heartbeat(s, position_ms=5, playing=True, now=100, rules=RULES)
    s, _ = credit.heartbeat(s, position_ms=15_005, playing=True, now=15_100, rules=RULES)
    for step in (
        credit.challenge_issued(s, seq=1, closing=False, at=15_100),
        credit.challenge_passed(s, seq=1, closing=False, at=15_100),
    ):
        s, events = step
        log += events
    s, _ = credit.heartbeat(s, position_ms=30_005, playing=True, now=30_100, rules=RULES)
    s, events = credit.challenge_missed(s, seq=2, closing=False, at=30_100, on_miss=OnMiss.VOID)
    log += events
    assert s.open_until_ms == 30_100 and s.state is SessionState.ACTIVE
    s, _ = credit.heartbeat(s, position_ms=45_005, playing=True, now=45_100, rules=RULES)
    s, events = credit.challenge_passed(s, seq=3, closing=False, at=45_100)
    log += events
    s, _ = credit.heartbeat(s, position_ms=50_005, playing=True, now=50_100, rules=RULES)
    s, events = credit.take_over(s, by_chapter="c2", now=50_100)
    log += events
    common = {"learner": 7, "chapter": "c1"}
    assert log == [
        credit.SessionStarted(**common, at_ms=100, cycle=2, credited_ms=0),
        credit.ChallengeIssued(**common, at_ms=15_100, seq=1, closing=False),
        credit.ChallengePassed(**common, at_ms=15_100, seq=1, closing=False),
        credit.SegmentVerified(
            **common, at_ms=15_100, from_ms=100, verified_ms=15_000, credited_ms=15_000
        ),
        credit.ChallengeMissed(**common, at_ms=30_100, seq=2, closing=False),
        credit.SegmentVoided(
            **common, at_ms=30_100, from_ms=15_100, voided_ms=15_000, reason="challenge_missed"
        ),
        credit.ChallengePassed(**common, at_ms=45_100, seq=3, closing=False),
        credit.SegmentVerified(
            **common, at_ms=45_100, from_ms=30_100, verified_ms=15_000, credited_ms=30_000
        ),
        credit.SegmentVoided(
            **common, at_ms=50_100, from_ms=45_100, voided_ms=5_000, reason="taken_over"
        ),
        credit.SessionTakenOver(**common, at_ms=50_100, by_chapter="c2"),
    ]


def test_the_closing_check_and_the_completion_carry_their_times_and_amounts():
    s = playing(credited=590_000)  # 10 s left; 15 s of playing would accrue
    assert (s.open_ms, s.state) == (10_000, SessionState.CLOSING)  # capped at what is left
    due = credit.heartbeat(
        playing(credited=590_000 - 15_000 + 1), position_ms=0, playing=True, now=15_200,
        rules=RULES,
    )  # fmt: skip
    assert due[1] == []  # a heartbeat that completes nothing new announces nothing
    s, events = credit.challenge_passed(s, seq=4, closing=True, at=15_100)
    assert s.state is SessionState.COMPLETE and s.credited_ms == 600_000
    assert events[-1] == credit.ChapterCompleted(
        learner=7, chapter="c1", at_ms=15_100, credited_ms=600_000
    )


def test_a_millisecond_of_play_accrues_and_a_gap_of_exactly_max_gap_still_counts():
    s = playing()
    s, _ = credit.heartbeat(s, position_ms=15_001, playing=True, now=15_101, rules=RULES)
    assert (s.open_ms, s.open_until_ms) == (15_001, 15_101)
    s, _ = credit.heartbeat(s, position_ms=60_101, playing=True, now=60_101, rules=RULES)
    assert s.open_ms == 15_001 + 45_000


def test_a_heartbeat_from_before_a_pass_accrues_nothing_into_the_next_segment():
    s = playing()  # 15 s open up to 15 100
    s, _ = credit.challenge_passed(s, seq=1, closing=False, at=20_000)
    assert (s.credited_ms, s.segment_from_ms) == (15_000, 20_000)
    s, _ = credit.heartbeat(s, position_ms=19_000, playing=True, now=19_000, rules=RULES)
    assert s.open_ms == 0


def test_taking_over_with_nothing_open_voids_nothing():
    s, _ = credit.challenge_passed(playing(), seq=1, closing=False, at=15_100)
    assert s.open_ms == 0
    _, events = credit.take_over(s, by_chapter="c2", now=16_000)
    assert [type(e) for e in events] == [credit.SessionTakenOver]


def test_electives_open_once_the_required_hours_are_met_exactly():
    plan = credit.Plan(**{**{f: getattr(PLAN, f) for f in PLAN.__struct_fields__},
                          "required_first": True})  # fmt: skip
    progress = credit.plan_progress(plan, done("r1", "r2"), cycle=1)
    assert progress.required_done == plan.required_hours
    assert credit.may_study(plan, progress, "e1-0").key == "e1-0"


def test_progress_counts_the_best_credit_of_a_chapter_and_rounds_to_a_tenth():
    course3 = credit.Course(
        key="t", title="三章", chapters=tuple(
            credit.Chapter(key=f"t-{n}", title=f"第{n}章", duration_ms=60_000, credit_hours=1)
            for n in range(3)
        ),
    )  # fmt: skip
    entry = credit.PlanCourse(course=course3, required=True)
    plan = credit.Plan(key="p", title="p", year=2026, category="public", required_hours=3,
                       elective_hours=0, courses=(entry,))  # fmt: skip
    rows = [
        credit.ChapterCredit(chapter="t-0", cycle=1, credited_ms=60_000),
        credit.ChapterCredit(chapter="t-0", cycle=1, credited_ms=20_000),  # an older row
    ]
    progress = credit.plan_progress(plan, rows, cycle=1)
    course = progress.courses[0]
    assert [c.credited_ms for c in course.chapters] == [60_000, 0, 0]
    assert [c.complete for c in course.chapters] == [True, False, False]
    assert (course.course, course.title, course.credit_hours, course.percent) == (
        "t",
        "三章",
        3,
        33.3,
    )
    assert (course.chapters[0].chapter, course.chapters[0].title) == ("t-0", "第0章")
    assert (progress.plan, progress.title, progress.cycle) == ("p", "p", 1)
    assert (progress.required_hours, progress.elective_hours) == (3, 0)


def test_an_elective_first_studied_in_a_later_cycle_counts_in_that_cycle():
    rows = [*done("r1", "r2"), credit.ChapterCredit(chapter="e1-0", cycle=2, credited_ms=60_000)]
    again = [
        credit.ChapterCredit(chapter=f"{c}-0", cycle=2, credited_ms=60_000) for c in ("r1", "r2")
    ]
    progress = credit.plan_progress(PLAN, [*rows, *again], cycle=2)
    assert (progress.required_done, progress.elective_done, progress.met) == (2.0, 1.0, True)


def test_a_plan_that_asks_for_no_hours_is_complete():
    plan = credit.Plan(key="p", title="p", year=2026, category="public", required_hours=0,
                       elective_hours=0, courses=())  # fmt: skip
    progress = credit.plan_progress(plan, [], cycle=1)
    assert (progress.percent, progress.met) == (100.0, True)


def test_a_plan_must_offer_enough_of_each_kind_of_hours_and_says_which():
    fields = {f: getattr(PLAN, f) for f in PLAN.__struct_fields__}
    with pytest.raises(ValueError, match=r"the elective courses offer 3 h, less than 3\.5 h"):
        credit.Plan(**{**fields, "elective_hours": 3.5})
    with pytest.raises(ValueError, match=r"the required courses offer 2 h, less than 2\.5 h"):
        credit.Plan(**{**fields, "required_hours": 2.5})
    assert credit.Plan(**{**fields, "required_hours": 2, "elective_hours": 3}).elective_hours == 3


def test_the_closing_check_is_announced_with_who_when_and_how_much() -> None:
    s = playing(credited=590_000 - 15_000)  # exactly 15 s left
    _, events = credit.heartbeat(s, position_ms=30_000, playing=True, now=30_100, rules=RULES)
    assert events == [credit.ClosingCheckDue(learner=7, chapter="c1", at_ms=30_100, open_ms=25_000)]


def test_a_millisecond_left_open_is_voided_on_a_take_over() -> None:
    s, _ = credit.begin(learner=7, chapter=CH, cycle=1, credited_ms=0, position_ms=0, now=100)
    s, _ = credit.heartbeat(s, position_ms=0, playing=True, now=100, rules=RULES)
    s, _ = credit.heartbeat(s, position_ms=1, playing=True, now=101, rules=RULES)
    _, events = credit.take_over(s, by_chapter="c2", now=200)
    assert [(type(e), getattr(e, "voided_ms", None)) for e in events] == [
        (credit.SegmentVoided, 1), (credit.SessionTakenOver, None),
    ]  # fmt: skip


def test_a_carried_over_chapter_keeps_its_best_credit_of_any_cycle_and_zero_is_zero() -> None:
    rows = [
        *done("r1", "r2"),
        credit.ChapterCredit(chapter="e1-0", cycle=1, credited_ms=60_000),
        credit.ChapterCredit(chapter="e1-0", cycle=2, credited_ms=20_000),  # studied again, less
        credit.ChapterCredit(chapter="e2-0", cycle=2, credited_ms=0),
    ]
    progress = credit.plan_progress(PLAN, rows, cycle=2)
    electives = {c.course: c.chapters[0].credited_ms for c in progress.courses if not c.required}
    assert electives == {"e1": 60_000, "e2": 0, "e3": 0}
    nothing = [credit.ChapterCredit(chapter="r1-0", cycle=1, credited_ms=0)]
    this_cycle = credit.plan_progress(PLAN, nothing, cycle=1)
    assert this_cycle.courses[0].chapters[0].credited_ms == 0
