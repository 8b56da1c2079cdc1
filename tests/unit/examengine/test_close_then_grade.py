"""The deadline wave split (decision 0021): ``close_due`` closes an attempt whose time
is up without grading it (state and finish time only); an auto-submitted one waits,
``submitted`` with no score and still due, until ``grade_closed`` grades it — once;
``check_deadline``, ``submit`` and every other reader grade it if it still waits, so
the learner never sees a closed attempt without its result."""

from __future__ import annotations

from typing import Any

from examengine.attempt import (
    Attempt,
    AttemptExpired,
    AttemptSubmitted,
    Grade,
    State,
    check_deadline,
    close_due,
    grade_closed,
    submit,
)
from examengine.blueprint import ExpiryPolicy

DEADLINE = 7_200_100
GRADE = Grade(score=3.0, max_score=5.0, passed=True)


def an_attempt(policy: ExpiryPolicy, **fields: Any) -> Attempt:
    values: dict[str, Any] = {
        "id": "a", "learner": "L", "exam": "E", "number": 1, "cycle": 1, "practice": False,
        "state": State.IN_PROGRESS, "started_ms": 100, "deadline_ms": DEADLINE,
        "device": "d", "policy": policy,
    }  # fmt: skip
    return Attempt(**{**values, **fields})


def counted() -> tuple[list[int], Any]:
    calls: list[int] = []

    def grade() -> Grade:
        calls.append(1)
        return GRADE

    return calls, grade


def test_close_due_closes_an_auto_submit_attempt_awaiting_its_grade_and_keeps_it_due():
    closed, events = close_due(an_attempt(ExpiryPolicy.AUTO_SUBMIT), now=DEADLINE + 400)
    assert (closed.state, closed.finished_ms, closed.score) == (State.SUBMITTED, DEADLINE, None)
    assert closed.awaiting_grade and not closed.open
    assert closed.next_check_ms == DEADLINE  # still on the sweeper's index: to grade
    assert events == [AttemptExpired(attempt="a", at_ms=DEADLINE, graded=True)]


def test_close_due_expires_an_expire_fail_attempt_for_good():
    closed, _ = close_due(an_attempt(ExpiryPolicy.EXPIRE_FAIL), now=DEADLINE)
    assert (closed.state, closed.passed, closed.next_check_ms) == (State.EXPIRED, False, None)
    assert not closed.awaiting_grade


def test_close_due_before_the_deadline_changes_nothing():
    attempt = an_attempt(ExpiryPolicy.AUTO_SUBMIT)
    assert close_due(attempt, now=DEADLINE - 1) == (attempt, [])


def test_grade_closed_grades_once_with_the_finish_as_its_time():
    closed, _ = close_due(an_attempt(ExpiryPolicy.AUTO_SUBMIT), now=DEADLINE + 400)
    calls, grade = counted()
    graded, events = grade_closed(closed, grade=grade)
    assert (graded.score, graded.max_score, graded.passed) == (3.0, 5.0, True)
    assert graded.next_check_ms is None and not graded.awaiting_grade
    assert events == [
        AttemptSubmitted(attempt="a", at_ms=DEADLINE, score=3.0, max_score=5.0, passed=True)
    ]
    assert grade_closed(graded, grade=grade) == (graded, [])
    assert calls == [1]


def test_the_split_ends_where_check_deadline_ends_with_the_same_events():
    attempt = an_attempt(ExpiryPolicy.AUTO_SUBMIT)
    whole, whole_events = check_deadline(attempt, now=DEADLINE + 400, grade=lambda: GRADE)
    closed, first = close_due(attempt, now=DEADLINE + 400)
    graded, second = grade_closed(closed, grade=lambda: GRADE)
    assert graded == whole and [*first, *second] == whole_events


def test_a_reader_of_an_attempt_awaiting_its_grade_grades_it():
    closed, _ = close_due(an_attempt(ExpiryPolicy.AUTO_SUBMIT), now=DEADLINE + 400)
    graded, events = check_deadline(closed, now=DEADLINE + 900, grade=lambda: GRADE)
    assert graded.score == 3.0 and [type(e) for e in events] == [AttemptSubmitted]
    again, more = submit(closed, now=DEADLINE + 900, sent_ms=None, network_grace_ms=0,
                         grade=lambda: GRADE)  # fmt: skip
    assert again.score == 3.0 and [type(e) for e in more] == [AttemptSubmitted]


def test_a_grace_attempt_closes_at_the_end_of_its_grace_awaiting_its_grade():
    attempt = an_attempt(ExpiryPolicy.GRACE, grace_ms=30_000)
    overdue, _ = close_due(attempt, now=DEADLINE + 1)
    assert overdue.state is State.OVERDUE
    closed, _ = close_due(overdue, now=DEADLINE + 30_000)
    assert (closed.state, closed.finished_ms, closed.awaiting_grade) == (
        State.SUBMITTED, DEADLINE + 30_000, True,
    )  # fmt: skip
