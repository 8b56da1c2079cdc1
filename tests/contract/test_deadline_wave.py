"""A deadline wave against each database (decision 0021): two sweepers at once over a
wave of attempts due together close every one (state and finish time at its deadline)
and grade each auto-submitted one exactly once (one ``attempt_submitted`` event), none
left open and none done twice; a result read between the close and the grading is
graded by the read, still once."""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from api.services import attempts
from api.store.tables import AnswerStep, AttemptEvent
from api.store.tables import Attempt as AttemptRow
from api.workers.sweeper import Sweeper
from examengine.clock import ManualClock
from tests.contract.test_attempt_service import AUTO, EXAM, T0, World, answers, right, world

__all__ = ["world"]  # the fixture, imported for pytest

WAVE = 240  # per policy; batches of 50, so each sweeper takes several


def wave(w: World, template: attempts.PaperView, *, exam: str, policy: str, deadline: int,
         count: int, first: int) -> list[str]:  # fmt: skip
    """``count`` open practice attempts on ``template``'s paper, all due at ``deadline``,
    each with the template's right answers saved (bulk-inserted, as a peak leaves them)."""
    base = w.row(template.attempt)
    ids = [secrets.token_hex(16) for _ in range(count)]
    saves = answers(template, right)
    with w.sessions.begin() as s:
        s.execute(sa.insert(AttemptRow), [
            {"id": i, "learner_id": w.learner, "exam_key": exam,
             "exam_version_id": base.exam_version_id, "paper_id": base.paper_id,
             "number": first + n, "cycle": 1, "practice": True, "state": "in_progress",
             "policy": policy, "grace_ms": 0, "started_ms": deadline - 60_000,
             "deadline_ms": deadline, "next_check_ms": deadline, "device": "d1",
             "last_seq": len(saves), "reason": ""}
            for n, i in enumerate(ids)
        ])  # fmt: skip
        s.execute(sa.insert(AnswerStep), [
            {"attempt_id": i, "item_key": save.item, "seq": save.seq, "response": '"A"'
             if save.response == "A" else "true", "saved_ms": deadline - 1_000, "device": "d1"}
            for i in ids for save in saves
        ])  # fmt: skip
    return ids


def kinds(w: World, ids: list[str]) -> dict[str, Counter[str]]:
    found: dict[str, Counter[str]] = {i: Counter() for i in ids}
    with w.sessions() as s:
        for attempt_id, kind in s.execute(
            sa.select(col(AttemptEvent.attempt_id), col(AttemptEvent.kind))
        ):
            if attempt_id in found:
                found[attempt_id][kind] += 1
    return found


def test_two_sweepers_at_once_close_and_grade_every_attempt_of_a_wave_exactly_once(
    world: World,
) -> None:
    template = world.start(exam=AUTO, practice=True)
    world.submit(template.attempt, now=T0 + 1)
    deadline = T0 + 100_000
    auto = wave(world, template, exam=AUTO, policy="auto_submit", deadline=deadline,
                count=WAVE, first=100)  # fmt: skip
    expire = wave(world, template, exam=EXAM, policy="expire_fail", deadline=deadline,
                  count=WAVE, first=1000)  # fmt: skip
    clock = ManualClock(deadline + 500)
    sweepers = [Sweeper(world.sessions, clock, interval_ms=500, batch=50) for _ in range(2)]
    barrier = threading.Barrier(2)
    changed: list[Any] = [None, None]

    def run(n: int) -> None:
        barrier.wait()
        try:
            changed[n] = sweepers[n].run_once()
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            changed[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(isinstance(c, int) for c in changed), changed
    assert sum(changed) == 2 * WAVE  # every close done once, by one of them

    with world.sessions() as s:
        rows = {r.id: r for r in s.execute(sa.select(AttemptRow)).scalars()}
    for attempt_id in auto:
        row = rows[attempt_id]
        assert (row.state, row.finished_ms, row.score, row.next_check_ms) == (
            "submitted", deadline, 10.0, None,
        )  # fmt: skip
        assert row.closed_ms == deadline + 500
    for attempt_id in expire:
        row = rows[attempt_id]
        assert (row.state, row.finished_ms, row.score, row.next_check_ms) == (
            "expired", deadline, None, None,
        )  # fmt: skip
    events = kinds(world, auto + expire)
    assert all(events[i] == Counter(attempt_expired=1, attempt_submitted=1) for i in auto)
    assert all(events[i] == Counter(attempt_expired=1) for i in expire)
    assert world.sweep(deadline + 10_000).checked == 0  # nothing left for a third


def test_a_result_read_between_the_close_and_the_grading_is_graded_by_the_read_once(
    world: World,
) -> None:
    template = world.start(exam=AUTO, practice=True)
    world.submit(template.attempt, now=T0 + 1)
    deadline = T0 + 100_000
    [attempt_id] = wave(world, template, exam=AUTO, policy="auto_submit", deadline=deadline,
                        count=1, first=100)  # fmt: skip
    closed = world.run(lambda s: attempts.close_due(s, now=deadline + 100))
    assert closed.changed == 1
    row = world.row(attempt_id)
    assert (row.state, row.score, row.next_check_ms) == ("submitted", None, deadline)

    result = world.result(attempt_id, now=deadline + 200)  # the learner looks at once
    assert (result.state, result.score, result.finished_ms) == ("submitted", 10.0, deadline)
    assert world.run(lambda s: attempts.grade_due(s, now=deadline + 300)).checked == 0
    assert kinds(world, [attempt_id])[attempt_id] == Counter(attempt_expired=1, attempt_submitted=1)


class SteppingClock:
    """A clock that reads ``first`` once, then ``later`` (time passing during a tick)."""

    def __init__(self, first: int, later: int) -> None:
        self.reads = [first]
        self.later = later

    def now_ms(self) -> int:
        return self.reads.pop() if self.reads else self.later


def test_deadlines_that_fall_while_a_sweeper_grades_are_closed_before_its_grading_ends(
    world: World,
) -> None:
    template = world.start(exam=AUTO, practice=True)
    world.submit(template.attempt, now=T0 + 1)
    deadline = T0 + 100_000
    auto = wave(world, template, exam=AUTO, policy="auto_submit", deadline=deadline,
                count=6, first=100)  # fmt: skip
    later = wave(world, template, exam=EXAM, policy="expire_fail", deadline=deadline + 1_000,
                 count=3, first=1000)  # fmt: skip
    clock = SteppingClock(deadline + 500, deadline + 1_200)
    Sweeper(world.sessions, clock, interval_ms=500, batch=2).run_once()
    for attempt_id in later:  # due after the tick began, closed during its grading
        row = world.row(attempt_id)
        assert (row.state, row.finished_ms, row.closed_ms) == (
            "expired", deadline + 1_000, deadline + 1_200,
        )  # fmt: skip
    assert all(world.row(i).score == 10.0 for i in auto)
