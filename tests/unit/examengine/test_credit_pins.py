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
