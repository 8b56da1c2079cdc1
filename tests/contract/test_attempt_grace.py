"""The ``grace`` expiry policy through the attempt service, on each database: at the
deadline an open attempt goes overdue and still takes saves for the spec's ``grace_s``;
then it is graded from everything saved, finished at the end of the grace period —
whether the sweeper, a save, or the learner's submit gets there first. An operator may
still extend it during the grace period."""

from __future__ import annotations

import pytest

from api.services import attempts, exams
from api.store.db import transaction
from examengine.attempt import AttemptError
from tests.contract import test_attempt_service as service
from tests.contract.test_attempt_service import NOW, T0, World, answers, right, spec

GRACE = "公需-2026-宽限"
DEADLINE = T0 + 60_000
GRACE_END = DEADLINE + 20_000

world = service.world  # the service suite's fixture: its bank, exams and learners


@pytest.fixture
def grace(world: World) -> World:
    """``world`` (the service suite's fixture) with an exam of 60 s and a 20 s grace, the learner
    enrolled."""
    with transaction(world.sessions) as s:
        saved = exams.save_spec(s, spec(GRACE, expiry="grace", grace_s=20), now=NOW)
        exams.publish(s, exam=GRACE, version=saved.version.version, now=NOW)
        attempts.enroll(s, learner_id=world.learner, exam=GRACE, study_met=True, now=T0)
    return world


def points(paper: attempts.PaperView, saves: list[attempts.Save]) -> float:
    """What ``saves`` (all right) score on ``paper``: single choice 2, true/false 1."""
    kinds = {i.item: i.kind for i in paper.items}
    return sum(2.0 if kinds[s.item] == "single" else 1.0 for s in saves)


def halves(world: World) -> tuple[attempts.PaperView, list[attempts.Save], list[attempts.Save]]:
    """A started attempt with the first half of its right answers saved, and the rest."""
    paper = world.start(exam=GRACE)
    saves = answers(paper, right)
    world.save(paper.attempt, saves[:3], now=T0 + 10_000)
    return paper, saves[:3], saves[3:]


def test_the_sweeper_moves_the_attempt_overdue_at_the_deadline_and_grades_at_the_grace_end(
    grace: World,
) -> None:
    paper, _, rest = halves(grace)
    attempt = paper.attempt
    assert grace.row(attempt).next_check_ms == DEADLINE
    outcome = grace.sweep(DEADLINE)
    assert (outcome.checked, outcome.changed, outcome.lags_ms) == (1, 1, ())
    row = grace.row(attempt)
    assert (row.state, row.next_check_ms, row.grace_ms) == ("overdue", GRACE_END, 20_000)
    assert grace.sweep(DEADLINE + 5_000).checked == 0  # nothing to do until the grace ends

    late = grace.save(attempt, rest, now=DEADLINE + 15_000)  # within the grace: accepted
    assert len(late.accepted) == 3 and late.seconds_left == 0
    assert grace.sweep(GRACE_END - 1).checked == 0

    outcome = grace.sweep(GRACE_END + 500)
    assert (outcome.checked, outcome.changed, outcome.lags_ms) == (1, 1, (500,))
    row = grace.row(attempt)
    assert (row.state, row.finished_ms, row.score, row.passed, row.next_check_ms) == (
        "submitted", GRACE_END, 10.0, True, None,
    )  # fmt: skip
    assert grace.events(attempt) == [
        "attempt_started", "answers_saved", "attempt_overdue", "answers_saved",
        "attempt_expired", "attempt_submitted",
    ]  # fmt: skip


def test_a_save_after_the_grace_end_is_refused_and_what_was_saved_before_is_graded(
    grace: World,
) -> None:
    paper, first, rest = halves(grace)
    grace.save(paper.attempt, rest[:1], now=DEADLINE + 1)  # no sweeper yet: the save moves it
    assert grace.row(paper.attempt).state == "overdue"
    with pytest.raises(AttemptError) as refused:
        grace.save(paper.attempt, rest[1:], now=GRACE_END)
    assert refused.value.code == "deadline_passed"
    row = grace.row(paper.attempt)
    assert (row.state, row.finished_ms) == ("submitted", GRACE_END)
    assert row.score == points(paper, [*first, *rest[:1]]) < 10.0


def test_a_submit_during_the_grace_period_is_graded_then(grace: World) -> None:
    paper, _, rest = halves(grace)
    grace.sweep(DEADLINE)
    grace.save(paper.attempt, rest, now=DEADLINE + 2_000)
    result = grace.submit(paper.attempt, now=DEADLINE + 3_000)
    assert (result.state, result.finished_ms, result.score) == (
        "submitted", DEADLINE + 3_000, 10.0,
    )  # fmt: skip
    assert grace.events(paper.attempt)[-1] == "attempt_submitted"
    assert "attempt_expired" not in grace.events(paper.attempt)


def test_an_operator_extends_an_overdue_attempt_back_into_its_time_but_not_after_the_grace(
    grace: World,
) -> None:
    paper, _, _ = halves(grace)
    grace.sweep(DEADLINE)

    def extend(now: int) -> attempts.OperatorAttempt:
        return grace.run(
            lambda s: attempts.extend(
                s, attempt_id=paper.attempt, extra_ms=30_000, by_id=grace.other, by="proctor",
                reason="断网", now=now,
            )
        )  # fmt: skip

    extended = extend(DEADLINE + 10_000)
    assert (extended.state, extended.deadline_ms) == ("in_progress", DEADLINE + 30_000)
    row = grace.row(paper.attempt)
    assert (row.state, row.next_check_ms) == ("in_progress", DEADLINE + 30_000)
    grace.sweep(DEADLINE + 30_000)  # overdue again, with a new grace end
    assert grace.row(paper.attempt).next_check_ms == DEADLINE + 30_000 + 20_000
    with pytest.raises(AttemptError) as refused:
        extend(DEADLINE + 30_000 + 20_000)
    assert refused.value.code == "deadline_passed"
