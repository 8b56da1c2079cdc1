"""Attempt rules that the other unit tests left free to change (found by breaking them,
docs/testing.md): the grace period's edges, what an operator may still do, what a
regrade keeps, and a submit sent in time while a grace attempt is overdue."""

from __future__ import annotations

import pytest

from examengine.attempt import (
    Attempt,
    AttemptError,
    Grade,
    State,
    check_deadline,
    extend,
    regrade,
    start,
    submit,
    terminate,
)
from examengine.blueprint import ExpiryPolicy

DEADLINE = 100 + 60_000
GRACE_END = DEADLINE + 30_000


def grade(score: float = 3.0) -> Grade:
    return Grade(score=score, max_score=4.0, passed=score >= 2.4)


def begun(policy: ExpiryPolicy = ExpiryPolicy.GRACE) -> Attempt:
    attempt, _ = start(
        attempt_id="a", learner="7", exam="e", number=1, cycle=1, practice=False,
        duration_ms=60_000, extra_ms=0, policy=policy, grace_ms=30_000, device="d", now=100,
    )  # fmt: skip
    return attempt


def test_a_new_attempt_belongs_to_its_learner_and_exam_and_counts_from_now():
    attempt = begun()
    assert (attempt.learner, attempt.exam, attempt.number, attempt.cycle) == ("7", "e", 1, 1)
    assert (attempt.started_ms, attempt.deadline_ms, attempt.device) == (100, DEADLINE, "d")


def test_a_submit_sent_in_time_never_reopens_an_attempt_a_proctor_ended():
    # Ended at the very deadline (a grace attempt may be ended until its grace is over):
    # a submit the browser sent before it is refused with the proctor's reason.
    ended, _ = terminate(begun(), by="p", reason="替考", now=DEADLINE)
    assert ended.finished_ms == DEADLINE
    with pytest.raises(AttemptError) as refused:
        submit(ended, now=DEADLINE + 1, sent_ms=DEADLINE - 1, network_grace_ms=5_000, grade=grade)
    assert refused.value.code == "attempt_terminated"


def test_a_submit_sent_in_time_finishes_at_the_deadline_whether_or_not_the_attempt_went_overdue():
    fresh = begun()
    overdue, _ = check_deadline(fresh, now=DEADLINE + 1, grade=grade)
    assert overdue.state is State.OVERDUE
    for before in (fresh, overdue):
        after, events = submit(
            before, now=DEADLINE + 1, sent_ms=DEADLINE - 1, network_grace_ms=5_000, grade=grade
        )
        assert (after.state, after.finished_ms, after.score) == (State.SUBMITTED, DEADLINE, 3.0)
        assert events[-1].at_ms == DEADLINE


def test_a_grace_attempt_is_overdue_up_to_the_last_millisecond_and_graded_at_its_end():
    attempt, events = check_deadline(begun(), now=DEADLINE, grade=grade)
    assert attempt.state is State.OVERDUE and attempt.next_check_ms == GRACE_END
    assert events[0].at_ms == DEADLINE
    assert check_deadline(attempt, now=GRACE_END - 1, grade=grade) == (attempt, [])
    closed, _ = check_deadline(attempt, now=GRACE_END, grade=grade)
    assert (closed.state, closed.finished_ms) == (State.SUBMITTED, GRACE_END)


@pytest.mark.parametrize("policy", list(ExpiryPolicy))
def test_an_operator_may_act_until_the_attempt_is_due_to_close_and_not_a_millisecond_after(
    policy: ExpiryPolicy,
) -> None:
    attempt = begun(policy)
    due = GRACE_END if policy is ExpiryPolicy.GRACE else DEADLINE
    ended, _ = terminate(attempt, by="p", reason="替考", now=due - 1)
    assert (ended.state, ended.finished_ms, ended.passed) == (State.TERMINATED, due - 1, False)
    for act in (
        lambda: terminate(attempt, by="p", reason="替考", now=due),
        lambda: extend(attempt, extra_ms=1_000, by="p", reason="断网", now=due),
    ):
        with pytest.raises(AttemptError) as refused:
            act()
        assert refused.value.code == "deadline_passed"


def test_an_extension_past_the_deadline_brings_an_overdue_attempt_back_only_when_it_reaches_now():
    overdue, _ = check_deadline(begun(), now=DEADLINE + 10_000, grade=grade)
    for extra in (5_000, 10_000):  # a deadline not after now leaves it overdue
        short, _ = extend(overdue, extra_ms=extra, by="p", reason="断网", now=DEADLINE + 10_000)
        assert (short.state, short.deadline_ms) == (State.OVERDUE, DEADLINE + extra)
    back, events = extend(overdue, extra_ms=10_001, by="p", reason="断网", now=DEADLINE + 10_000)
    assert (back.state, back.deadline_ms) == (State.IN_PROGRESS, DEADLINE + 10_001)
    assert (events[0].extra_ms, events[0].deadline_ms) == (10_001, DEADLINE + 10_001)


def test_a_regrade_keeps_the_finish_time_and_records_the_old_and_new_score():
    submitted, _ = submit(begun(), now=1_000, sent_ms=None, network_grace_ms=0, grade=grade)
    corrected = Grade(score=4.0, max_score=5.0, passed=True)  # an item was added to the key
    again, events = regrade(
        submitted, by="op", reason="答案更正", now=9_000, grade=lambda: corrected
    )
    assert (again.state, again.finished_ms, again.score, again.max_score, again.passed) == (
        State.SUBMITTED, 1_000, 4.0, 5.0, True,
    )  # fmt: skip
    event = events[0]
    assert (event.old_score, event.score, event.by, event.reason, event.at_ms) == (
        3.0, 4.0, "op", "答案更正", 9_000,
    )  # fmt: skip
    for blank in ("", "  "):
        with pytest.raises(AttemptError) as refused:
            regrade(submitted, by="op", reason=blank, now=9_000, grade=grade)
        assert refused.value.code == "reason_required"


def test_a_submit_sent_before_the_deadline_arriving_exactly_at_it_counts() -> None:
    after, _ = submit(
        begun(ExpiryPolicy.EXPIRE_FAIL), now=DEADLINE, sent_ms=DEADLINE - 1, network_grace_ms=5_000,
        grade=grade,
    )  # fmt: skip
    assert (after.state, after.finished_ms, after.score) == (State.SUBMITTED, DEADLINE, 3.0)
