"""Credited study with a manual clock: time accrues only as it passes, becomes credit
only when a challenge is passed, is voided by a miss, and one session takes over
another; chapters, courses and plans complete; the re-study rule."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from examengine import credit
from examengine.challenges import OnMiss
from examengine.credit import SessionState, StudyError

RULES = credit.StudyRules(max_gap_ms=45_000)
CH = credit.Chapter(key="c1", title="第一章", duration_ms=600_000, credit_hours=1.0)


def started(now: int = 100, credited: int = 0) -> credit.StudySession:
    session, events = credit.begin(
        learner=7, chapter=CH, cycle=1, credited_ms=credited, position_ms=0, now=now
    )
    assert [type(e) for e in events] == [credit.SessionStarted]
    return session


def beat(
    session: credit.StudySession, now: int, position: int, playing: bool = True
) -> credit.StudySession:
    return credit.heartbeat(session, position_ms=position, playing=playing, now=now, rules=RULES)[0]


def test_time_accrues_as_it_passes_and_becomes_credit_only_when_a_challenge_is_passed():
    s = started(100)
    s = beat(s, 100, 0)  # playing from 100
    s = beat(s, 15_100, 15_000)
    s = beat(s, 30_100, 30_000)
    assert (s.open_ms, s.credited_ms) == (30_000, 0)
    s, events = credit.challenge_passed(s, seq=1, closing=False, at=30_100)
    assert s.credited_ms == 30_000 and s.open_ms == 0
    assert [type(e) for e in events] == [credit.ChallengePassed, credit.SegmentVerified]
    assert s.segment_from_ms == 30_100


def test_no_credit_faster_than_real_time_whatever_the_position_says():
    s = beat(started(100), 100, 0)
    s = beat(s, 10_100, 500_000)  # the player claims 500 s in 10 s of wall time
    assert s.open_ms == 10_000


def test_a_paused_player_a_stuck_position_or_a_long_silence_accrues_nothing():
    s = beat(started(100), 100, 0, playing=False)
    s = beat(s, 15_100, 0, playing=True)  # was paused before this beat
    assert s.open_ms == 0
    s = beat(s, 30_100, 0)  # playing, but the position did not move
    assert s.open_ms == 0
    s = beat(s, 200_100, 170_000)  # 170 s of silence: the browser was away
    assert s.open_ms == 0
    s = beat(s, 215_100, 185_000)
    assert s.open_ms == 15_000


def test_a_missed_challenge_voids_the_open_segment_and_nothing_accrues_after_it():
    s = beat(started(100), 100, 0)
    s = beat(s, 15_100, 15_000)
    s, _ = credit.challenge_passed(s, seq=1, closing=False, at=15_100)
    s = beat(s, 30_100, 30_000)
    s = beat(s, 45_100, 45_000)
    s, events = credit.challenge_missed(s, seq=2, closing=False, at=45_100)
    assert s.state is SessionState.PAUSED
    assert (s.credited_ms, s.open_ms) == (15_000, 0)
    voided = [e for e in events if isinstance(e, credit.SegmentVoided)]
    assert voided[0].voided_ms == 30_000 and voided[0].reason == "challenge_missed"
    for t in range(60_100, 300_100, 15_000):
        s = beat(s, t, t)
    assert (s.credited_ms, s.open_ms) == (15_000, 0)
    s, _ = credit.challenge_passed(s, seq=3, closing=False, at=300_100)
    assert s.credited_ms == 15_000  # a pass does not resume a paused chapter


def test_a_gentler_plan_voids_the_segment_on_a_miss_but_plays_on():
    s = beat(started(100), 100, 0)
    s = beat(s, 15_100, 15_000)
    s, events = credit.challenge_missed(s, seq=1, closing=False, at=20_100, on_miss=OnMiss.VOID)
    assert s.state is SessionState.ACTIVE
    assert (s.credited_ms, s.open_ms) == (0, 0)
    assert [e.reason for e in events if isinstance(e, credit.SegmentVoided)] == ["challenge_missed"]
    s = beat(s, 30_100, 30_000)  # only the time since the miss accrues
    assert s.open_ms == 10_000
    s, _ = credit.challenge_passed(s, seq=2, closing=False, at=30_100)
    assert s.credited_ms == 10_000


def test_time_accrued_after_the_answer_arrived_stays_in_the_next_segment():
    s = beat(started(100), 100, 0)
    s = beat(s, 15_100, 15_000)
    s = beat(s, 30_100, 30_000)
    # the answer arrived at 25_100; the tick applies it after the beat at 30_100
    s, _ = credit.challenge_passed(s, seq=1, closing=False, at=25_100)
    assert s.credited_ms == 25_000 and s.open_ms == 5_000
    assert s.segment_from_ms == 25_100


def test_the_last_segment_needs_a_closing_check_and_its_pass_completes_the_chapter():
    short = credit.Chapter(key="c2", title="短", duration_ms=30_000, credit_hours=0.5)
    s, _ = credit.begin(learner=7, chapter=short, cycle=1, credited_ms=0, position_ms=0, now=0)
    s = beat(s, 0, 0)
    s = beat(s, 15_000, 15_000)
    s, events = credit.heartbeat(s, position_ms=40_000, playing=True, now=40_000, rules=RULES)
    assert s.state is SessionState.CLOSING and s.open_ms == 30_000
    assert [type(e) for e in events] == [credit.ClosingCheckDue]
    s = beat(s, 55_000, 55_000)
    assert s.open_ms == 30_000  # nothing accrues past the duration
    s, events = credit.challenge_passed(s, seq=1, closing=True, at=41_000)
    assert s.state is SessionState.COMPLETE and s.complete
    assert isinstance(events[-1], credit.ChapterCompleted)


def test_a_second_tab_or_chapter_takes_over_and_the_unverified_segment_is_voided():
    s = beat(started(100), 100, 0)
    s = beat(s, 15_100, 15_000)
    s, _ = credit.challenge_passed(s, seq=1, closing=False, at=15_100)
    s = beat(s, 30_100, 30_000)
    ended, events = credit.take_over(s, by_chapter="c9", now=31_000)
    assert ended.state is SessionState.ENDED
    assert (ended.credited_ms, ended.open_ms) == (15_000, 0)
    assert [type(e) for e in events] == [credit.SegmentVoided, credit.SessionTakenOver]
    with pytest.raises(StudyError) as refused:
        beat(ended, 45_100, 45_000)
    assert refused.value.code == "session_ended"
    passed, _ = credit.challenge_passed(ended, seq=2, closing=False, at=32_000)
    assert passed.credited_ms == 15_000


def test_a_chapter_already_complete_starts_complete():
    s = started(100, credited=600_000)
    assert s.state is SessionState.COMPLETE


# ----------------------------------------------------------------------- property

Op = st.one_of(
    st.tuples(st.just("beat"), st.integers(0, 60_000), st.integers(-5_000, 40_000), st.booleans()),
    st.tuples(st.just("pass"), st.integers(0, 60_000), st.integers(0, 20_000), st.booleans()),
    st.tuples(st.just("miss"), st.integers(0, 60_000), st.just(0), st.booleans()),
    st.tuples(st.just("resume"), st.integers(0, 60_000), st.just(0), st.booleans()),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(Op, max_size=60))
def test_credit_never_exceeds_the_wall_time_of_verified_segments(ops):
    """Credit ≤ the wall-clock length of the verified segments; nothing accrues or is
    credited between a miss and the next start; credit never exceeds wall time."""
    now = 1_000
    chapter = credit.Chapter(key="p", title="p", duration_ms=400_000, credit_hours=1)
    s, _ = credit.begin(learner=1, chapter=chapter, cycle=1, credited_ms=0, position_ms=0, now=now)
    start = now
    verified_wall = 0
    position = 0
    for kind, dt, arg, flag in ops:
        now += dt
        if kind == "beat":
            position = max(0, position + arg)
            s, _ = credit.heartbeat(s, position_ms=position, playing=flag, now=now, rules=RULES)
        elif kind == "pass":
            at = max(s.segment_from_ms, now - arg)
            before = s
            s, _ = credit.challenge_passed(s, seq=1, closing=flag, at=at)
            if before.state in credit.LIVE:
                verified_wall += at - before.segment_from_ms
            else:
                assert s.credited_ms == before.credited_ms
        elif kind == "miss":
            before = s
            s, _ = credit.challenge_missed(s, seq=1, closing=flag, at=now)
            assert s.credited_ms == before.credited_ms
            assert s.open_ms == 0
        else:  # the learner starts the chapter again (a takeover, then a new session)
            ended, _ = credit.take_over(s, by_chapter="p", now=now)
            kept = ended.credited_ms
            s, _ = credit.begin(
                learner=1, chapter=chapter, cycle=1, credited_ms=kept, position_ms=position, now=now
            )
        if s.state is SessionState.PAUSED:
            assert s.open_ms == 0
        assert 0 <= s.credited_ms <= min(verified_wall, chapter.duration_ms)
        assert s.credited_ms + s.open_ms <= now - start
        assert s.open_ms <= now - s.segment_from_ms


# ------------------------------------------------------------------ plans and credit


def course(key: str, hours: float, chapters: int = 2) -> credit.Course:
    return credit.Course(
        key=key,
        title=key,
        chapters=tuple(
            credit.Chapter(
                key=f"{key}-{n}",
                title=f"{key} {n}",
                duration_ms=60_000,
                credit_hours=hours / chapters,
            )
            for n in range(chapters)
        ),
    )


PLAN = credit.Plan(
    key="2026-公需",
    title="2026 公需科目",
    year=2026,
    category="public",
    required_hours=2,
    elective_hours=1,
    exam="公需-2026",
    courses=(
        credit.PlanCourse(course=course("r1", 1), required=True),
        credit.PlanCourse(course=course("r2", 1), required=True),
        credit.PlanCourse(course=course("e1", 1), required=False),
        credit.PlanCourse(course=course("e2", 1), required=False),
    ),
)


def done(*chapters: str, cycle: int = 1) -> list[credit.ChapterCredit]:
    return [credit.ChapterCredit(chapter=c, cycle=cycle, credited_ms=60_000) for c in chapters]


def test_a_course_is_credited_only_when_every_chapter_is_complete():
    progress = credit.plan_progress(PLAN, done("r1-0"), cycle=1)
    r1 = progress.courses[0]
    assert (r1.complete, r1.credited_hours, r1.percent) == (False, 0.0, 50.0)
    progress = credit.plan_progress(PLAN, done("r1-0", "r1-1"), cycle=1)
    assert progress.courses[0].credited_hours == 1.0
    assert progress.credit_required == 3 and progress.percent == pytest.approx(33.3)


def test_the_study_requirement_needs_both_required_and_elective_hours():
    required = done("r1-0", "r1-1", "r2-0", "r2-1")
    assert not credit.study_met(credit.plan_progress(PLAN, required, cycle=1))
    progress = credit.plan_progress(PLAN, [*required, *done("e2-0", "e2-1")], cycle=1)
    assert credit.study_met(progress) and progress.percent == 100.0


def test_electives_wait_until_the_required_hours_are_done():
    progress = credit.plan_progress(PLAN, done("r1-0", "r1-1"), cycle=1)
    with pytest.raises(StudyError) as refused:
        credit.may_study(PLAN, progress, "e1-0")
    assert refused.value.code == "required_first"
    assert credit.may_study(PLAN, progress, "r2-0").key == "r2-0"
    with pytest.raises(StudyError):
        credit.may_study(PLAN, progress, "nowhere")


def test_a_restudy_repeats_the_required_courses_and_carries_the_electives_over():
    cycle1 = done("r1-0", "r1-1", "r2-0", "r2-1", "e1-0", "e1-1")
    assert credit.study_met(credit.plan_progress(PLAN, cycle1, cycle=1))
    assert credit.restudy_due(exam_locked=True, plan_cycle=1, exam_cycle=1)
    assert not credit.restudy_due(exam_locked=False, plan_cycle=1, exam_cycle=1)
    assert not credit.restudy_due(exam_locked=True, plan_cycle=2, exam_cycle=1)
    cycle2 = credit.plan_progress(PLAN, cycle1, cycle=2)
    assert (cycle2.required_done, cycle2.elective_done, cycle2.met) == (0, 1.0, False)
    again = credit.plan_progress(PLAN, [*cycle1, *done("r1-0", "r1-1", "r2-0", "r2-1", cycle=2)],
                                 cycle=2)  # fmt: skip
    assert again.met
    everything = credit.Plan(**{**_fields(PLAN), "restudy": credit.RestudyScope.ALL})
    assert credit.plan_progress(everything, cycle1, cycle=2).elective_done == 0


def _fields(plan: credit.Plan) -> dict[str, object]:
    return {f: getattr(plan, f) for f in plan.__struct_fields__}


def test_a_plan_lists_required_courses_first_and_offers_enough_hours():
    with pytest.raises(ValueError, match="required courses come before"):
        credit.Plan(**{**_fields(PLAN), "courses": tuple(reversed(PLAN.courses))})
    with pytest.raises(ValueError, match="offer 2 h, less than 5 h"):
        credit.Plan(**{**_fields(PLAN), "required_hours": 5})
