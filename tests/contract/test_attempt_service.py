"""The attempt service against each database: start, save, resume and submit; two
attempts then locked; practice never counts; the sweeper closes at the deadline; two
submits at once grade once; a save racing the sweeper is never acknowledged and lost."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import msgspec
import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from api.services import attempts, banks, exams
from api.settings import DatabaseSettings
from api.store.db import make_engine, migrate, session_factory, transaction
from api.store.tables import AnswerStep, AttemptEvent, User
from api.store.tables import Attempt as AttemptRow
from api.store.tables import Paper as PaperRow
from examengine.attempt import AttemptError

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
T0 = 1_000_000  # the tests' clock, in ms
SECRET = b"contract-test-paper-secret-0123456789abcdef"
BANK = "公需"
EXAM = "公需-2026"
AUTO = "公需-2026-自动交卷"
GRACE_MS = 30_000
#: An exam whose formal results show the key (as far as decision 0013 allows).
KEYED = "公需-2026-答案"
#: Past the default practice cool-down (600 s) after a close.
COOL = 700_000
T = TypeVar("T")


def bank_yaml(correct: str = "甲") -> bytes:
    """Single-choice (one correct option) and true/false items on two topics."""
    lines = ["format: examengine-bank", "items:"]
    for topic in ("政策法规", "信息安全"):
        for n in range(6):
            options = ", ".join(
                f"{{text: {t}, correct: true}}" if t == correct else f"{{text: {t}}}"
                for t in ("甲", "乙", "丙", "丁")
            )
            lines += [
                f"  - key: {topic}-s{n}",
                "    kind: single",
                f"    topic: {topic}",
                f"    difficulty: {{band: {n % 5 + 1}}}",
                f"    stem: {topic}单选题 {n}",
                f"    options: [{options}]",
                f"  - key: {topic}-t{n}",
                "    kind: true_false",
                f"    topic: {topic}",
                f"    stem: {topic}判断题 {n}",
                "    answer: true",
            ]
    return "\n".join(lines).encode()


def spec(key: str = EXAM, **changes: Any) -> exams.ExamSpec:
    body: dict[str, Any] = {
        "key": key,
        "title": "公需科目考试",
        "bank": BANK,
        "bank_version": 1,
        "duration_s": 60,
        "sections": [
            {"title": "单选", "kind": "single", "count": 4, "points": 2},
            {"title": "判断", "kind": "true_false", "count": 2, "points": 1},
        ],
    }
    return msgspec.convert({**body, **changes}, exams.ExamSpec)


@dataclass
class World:
    sessions: sessionmaker[Session]
    learner: int
    other: int

    def run(self, fn: Callable[[Session], T]) -> T:
        with transaction(self.sessions) as session:
            return fn(session)

    def start(self, *, now: int = T0, practice: bool = False, exam: str = EXAM,
              device: str = "d1") -> attempts.PaperView:  # fmt: skip
        return self.run(
            lambda s: attempts.start(
                s, learner_id=self.learner, exam=exam, practice=practice, device=device,
                now=now, secret=SECRET,
            )
        )  # fmt: skip

    def save(self, attempt: str, saves: list[attempts.Save], *, now: int,
             device: str = "d1") -> attempts.SaveResult:  # fmt: skip
        return self.run(
            lambda s: attempts.save_answers(
                s, learner_id=self.learner, attempt_id=attempt, saves=saves, device=device,
                now=now,
            )
        )  # fmt: skip

    def submit(self, attempt: str, *, now: int, sent_ms: int | None = None) -> attempts.ResultView:
        return self.run(
            lambda s: attempts.submit(
                s, learner_id=self.learner, attempt_id=attempt, sent_ms=sent_ms,
                network_grace_ms=GRACE_MS, now=now,
            )
        )  # fmt: skip

    def result(self, attempt: str, *, now: int) -> attempts.ResultView:
        return self.run(
            lambda s: attempts.result(s, learner_id=self.learner, attempt_id=attempt, now=now)
        )

    def sweep(self, now: int) -> attempts.SweepOutcome:
        return self.run(lambda s: attempts.sweep(s, now=now))

    def row(self, attempt: str) -> AttemptRow:
        found = self.run(lambda s: s.get(AttemptRow, attempt))
        assert found is not None
        return found

    def events(self, attempt: str) -> list[str]:
        return list(
            self.run(
                lambda s: s.exec(
                    select(AttemptEvent.kind)
                    .where(AttemptEvent.attempt_id == attempt)
                    .order_by(col(AttemptEvent.id))
                ).all()
            )
        )

    def steps(self, attempt: str) -> list[AnswerStep]:
        query = select(AnswerStep).where(AnswerStep.attempt_id == attempt)
        return list(self.run(lambda s: s.exec(query).all()))

    def my_exam(self, now: int = T0) -> attempts.ExamEntry:
        found = self.run(lambda s: attempts.my_exams(s, learner_id=self.learner, now=now))
        return next(e for e in found.exams if e.exam == EXAM)


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    migrate(db_url)
    exams.COMPILED.clear()
    attempts.ITEMS.clear()
    engine = make_engine(DatabaseSettings(url=db_url))
    factory = session_factory(engine)
    with transaction(factory) as s:
        banks.import_file(s, data=bank_yaml(), source="b.yaml", bank=BANK, now=NOW)
        banks.publish(s, bank=BANK, version=1, now=NOW)
        for exam_spec in (
            spec(),
            # (practice unthrottled: the race tests below repeat a practice attempt)
            spec(AUTO, expiry="auto_submit", practice={"per_day": 50, "cooldown_s": 0}),
            spec(KEYED, show_key_after_close=True, max_attempts=3),
        ):
            saved = exams.save_spec(s, exam_spec, now=NOW)
            exams.publish(s, exam=exam_spec.key, version=saved.version.version, now=NOW)
        users = [
            User(login=login, display_name=login, password_hash="x", roles=["learner"])
            for login in ("11010519491231002X", "13800000009")
        ]
        s.add_all(users)
        s.flush()
        ids = [u.id for u in users]
        assert ids[0] is not None and ids[1] is not None
        for exam in (EXAM, AUTO, KEYED):
            attempts.enroll(s, learner_id=ids[0], exam=exam, study_met=True, now=T0)
    yield World(sessions=factory, learner=ids[0], other=ids[1])
    engine.dispose()


def right(item: attempts.PaperItemView) -> Any:
    """The right answer of the test bank's items (甲 is option A; true/false: true)."""
    return "A" if item.kind == "single" else True


def wrong(item: attempts.PaperItemView) -> Any:
    return "B" if item.kind == "single" else False


def answers(paper: attempts.PaperView, pick: Callable[[attempts.PaperItemView], Any],
            seq: int = 1) -> list[attempts.Save]:  # fmt: skip
    return [
        attempts.Save(item=i.item, seq=seq + n, response=pick(i)) for n, i in enumerate(paper.items)
    ]


# ------------------------------------------------------------------------ the flow


def test_start_save_resume_and_submit_pass(world: World) -> None:
    paper = world.start()
    assert (paper.state, paper.number, paper.seconds_left, paper.practice) == (
        "in_progress", 1, 60, False,
    )  # fmt: skip
    assert len(paper.items) == 6 and paper.answers == ()
    assert all(len(i.options) == 4 for i in paper.items if i.kind == "single")
    saved = world.save(paper.attempt, answers(paper, right), now=T0 + 10_000)
    assert len(saved.accepted) == 6 and saved.seconds_left == 50 and saved.last_seq == 6

    back = world.run(
        lambda s: attempts.resume(
            s, learner_id=world.learner, attempt_id=paper.attempt, device="d1", now=T0 + 20_000
        )
    )
    assert [i.item for i in back.items] == [i.item for i in paper.items]
    assert {a.item: a.response for a in back.answers} == {i.item: right(i) for i in paper.items}
    assert back.seconds_left == 40 and back.last_seq == 6

    result = world.submit(paper.attempt, now=T0 + 30_000)
    assert (result.state, result.passed, result.score, result.max_score) == (
        "submitted", True, 10.0, 10.0,
    )  # fmt: skip
    assert result.finished_ms == T0 + 30_000 and not result.key_shown and result.items == ()
    assert world.events(paper.attempt) == [
        "attempt_started", "answers_saved", "attempt_resumed", "attempt_submitted",
    ]  # fmt: skip
    entry = world.my_exam()
    assert (entry.passed, entry.may_start, entry.code) == (True, False, "already_passed")


def test_a_failed_attempt_and_another_lock_the_exam_until_the_learner_studies_again(
    world: World,
) -> None:
    for number in (1, 2):
        paper = world.start(now=T0 + number * 100_000)
        assert paper.number == number
        world.save(paper.attempt, answers(paper, wrong), now=T0 + number * 100_000 + 1)
        result = world.submit(paper.attempt, now=T0 + number * 100_000 + 2)
        assert (result.passed, result.score) == (False, 0.0)
    entry = world.my_exam()
    assert (entry.locked, entry.attempts_left, entry.may_start) == (True, 0, False)
    assert entry.code == "attempts_exhausted" and len(entry.history) == 2
    with pytest.raises(attempts.NotEligibleError) as refused:
        world.start(now=T0 + 400_000)
    assert refused.value.code == "attempts_exhausted"
    assert refused.value.eligibility.attempts_used == 2

    cycle = world.run(lambda s: attempts.new_study_cycle(s, learner_id=world.learner, exam=EXAM))
    assert cycle == 2
    third = world.start(now=T0 + 500_000)
    assert third.number == 3  # a new paper (attempt numbers run on over the cycles)
    assert world.row(third.attempt).cycle == 2
    assert world.my_exam(T0 + 500_000).attempts_used == 1


def test_practice_attempts_never_count_and_have_their_own_papers(world: World) -> None:
    for n in range(3):
        practice = world.start(practice=True, now=T0 + n * COOL)
        assert practice.number == n + 1 and practice.practice
        result = world.submit(practice.attempt, now=T0 + n * COOL + 5)
        assert result.passed is False and result.score is not None
    entry = world.my_exam(T0 + 3 * COOL)
    assert (entry.attempts_used, entry.may_start, entry.practice_enabled) == (0, True, True)
    formal = world.start(now=T0 + 900_000)
    assert formal.number == 1
    refs = world.run(lambda s: set(s.exec(select(PaperRow.learner_ref)).all()))
    assert refs == {str(world.learner), f"{world.learner}/practice"}


def test_only_one_attempt_may_be_open_formal_or_practice(world: World) -> None:
    first = world.start()
    for practice in (False, True):
        with pytest.raises(attempts.NotEligibleError) as refused:
            world.start(now=T0 + 1, practice=practice)
        assert refused.value.code == "attempt_open"
        assert refused.value.eligibility.open_attempt == first.attempt


def test_an_attempt_past_its_deadline_is_closed_before_a_new_start(world: World) -> None:
    first = world.start()
    second = world.start(now=T0 + 60_000)  # the sweeper has not run: start closes it
    assert world.row(first.attempt).state == "expired"
    assert second.number == 2


def test_someone_elses_attempt_is_not_found(world: World) -> None:
    paper = world.start()
    with pytest.raises(attempts.AttemptNotFoundError):
        world.run(
            lambda s: attempts.heartbeat(
                s, learner_id=world.other, attempt_id=paper.attempt, device="d1", now=T0
            )
        )


def test_a_learner_not_enrolled_may_not_start(world: World) -> None:
    with pytest.raises(attempts.NotEligibleError) as refused:
        world.run(
            lambda s: attempts.start(
                s, learner_id=world.other, exam=EXAM, practice=False, device="x", now=T0,
                secret=SECRET,
            )
        )  # fmt: skip
    assert refused.value.code == "not_enrolled"


# ------------------------------------------------------------------------- answers


def test_saves_are_ordered_repeats_are_no_ops_and_older_saves_never_overwrite(
    world: World,
) -> None:
    paper = world.start()
    item = paper.items[0].item
    first = world.save(paper.attempt, [attempts.Save(item=item, seq=5, response="C")], now=T0 + 1)
    assert [r.seq for r in first.accepted] == [5]
    again = world.save(
        paper.attempt,
        [
            attempts.Save(item=item, seq=5, response="C"),
            attempts.Save(item=item, seq=3, response="D"),
        ],
        now=T0 + 2,
    )
    assert ([r.seq for r in again.repeated], [r.seq for r in again.stale]) == ([5], [3])
    latest = world.run(
        lambda s: attempts.paper_view(
            s, learner_id=world.learner, attempt_id=paper.attempt, device="d1", now=T0 + 3
        )
    )
    assert [(a.item, a.seq, a.response) for a in latest.answers] == [(item, 5, "C")]
    steps = world.run(lambda s: s.exec(select(AnswerStep)).all())
    assert len(steps) == 1


def test_each_item_of_a_batch_is_judged_against_its_own_newest_step(world: World) -> None:
    """The newest step is looked up per item of the batch (an index seek each): one
    item's long history neither hides nor lends a seq to another's."""
    paper = world.start()
    first, second, third = (i.item for i in paper.items[:3])
    for seq in range(1, 30):
        world.save(paper.attempt, [attempts.Save(item=first, seq=seq, response="A")], now=T0 + seq)
    world.save(paper.attempt, [attempts.Save(item=second, seq=40, response="B")], now=T0 + 40)
    batch = world.save(
        paper.attempt,
        [
            attempts.Save(item=first, seq=29, response="A"),  # its newest: repeated
            attempts.Save(item=first, seq=12, response="C"),  # older: stale
            attempts.Save(item=second, seq=35, response="C"),  # older than 40: stale
            attempts.Save(item=third, seq=3, response="D"),  # no step yet: accepted
            attempts.Save(item=first, seq=50, response="D"),  # newer: accepted
        ],
        now=T0 + 60,
    )
    assert sorted((r.item, r.seq) for r in batch.accepted) == sorted([(third, 3), (first, 50)])
    assert [(r.item, r.seq) for r in batch.repeated] == [(first, 29)]
    assert sorted((r.item, r.seq) for r in batch.stale) == sorted([(first, 12), (second, 35)])


def test_a_response_of_the_wrong_shape_is_refused_naming_the_item(world: World) -> None:
    paper = world.start()
    single = next(i for i in paper.items if i.kind == "single")
    with pytest.raises(attempts.BadAnswerError) as refused:
        world.save(paper.attempt, [attempts.Save(item=single.item, seq=1, response=True)], now=T0)
    assert refused.value.item == single.item and single.item in refused.value.message
    with pytest.raises(AttemptError) as unknown:
        world.save(paper.attempt, [attempts.Save(item="nope", seq=1, response="A")], now=T0)
    assert unknown.value.code == "unknown_item"


def test_a_new_device_takes_the_attempt_over_and_the_old_one_can_no_longer_save(
    world: World,
) -> None:
    paper = world.start(device="d1")
    world.run(
        lambda s: attempts.resume(
            s, learner_id=world.learner, attempt_id=paper.attempt, device="d2", now=T0 + 1
        )
    )
    assert world.events(paper.attempt)[-1] == "device_taken_over"
    with pytest.raises(AttemptError) as moved:
        world.save(paper.attempt, answers(paper, right), now=T0 + 2, device="d1")
    assert moved.value.code == "device_moved"
    beat = world.run(
        lambda s: attempts.heartbeat(
            s, learner_id=world.learner, attempt_id=paper.attempt, device="d1", now=T0 + 3
        )
    )
    assert beat.device_moved
    assert (
        len(world.save(paper.attempt, answers(paper, right), now=T0 + 4, device="d2").accepted) == 6
    )


def test_a_save_after_the_deadline_is_refused_and_the_close_it_caused_is_stored(
    world: World,
) -> None:
    paper = world.start()
    with pytest.raises(AttemptError) as refused:
        world.save(paper.attempt, answers(paper, right), now=T0 + 60_000)
    assert refused.value.code == "attempt_expired"
    row = world.row(paper.attempt)
    assert (row.state, row.finished_ms, row.next_check_ms) == ("expired", T0 + 60_000, None)
    assert world.events(paper.attempt) == ["attempt_started", "attempt_expired"]


def test_a_submit_sent_before_the_deadline_counts_within_the_network_grace(world: World) -> None:
    paper = world.start()
    world.save(paper.attempt, answers(paper, right), now=T0 + 1)
    late = world.submit(paper.attempt, now=T0 + 60_000 + 5_000, sent_ms=T0 + 59_000)
    assert (late.state, late.passed, late.finished_ms) == ("submitted", True, T0 + 60_000)


# ------------------------------------------------------------------------- sweeper


def test_the_sweeper_closes_expire_fail_attempts_at_their_deadline(world: World) -> None:
    paper = world.start()
    world.save(paper.attempt, answers(paper, right), now=T0 + 1)
    assert world.sweep(T0 + 59_999).checked == 0
    outcome = world.sweep(T0 + 60_000 + 700)
    assert (outcome.checked, outcome.changed) == (1, 1)
    row = world.row(paper.attempt)
    assert (row.state, row.finished_ms, row.passed, row.score) == (
        "expired", T0 + 60_000, False, None,
    )  # fmt: skip
    assert world.sweep(T0 + 120_000).checked == 0
    with pytest.raises(AttemptError) as refused:
        world.save(paper.attempt, answers(paper, right, seq=10), now=T0 + 120_000)
    assert refused.value.code == "attempt_expired"


def test_the_sweeper_grades_auto_submit_attempts_from_what_was_saved(world: World) -> None:
    paper = world.start(exam=AUTO)
    singles = [i for i in paper.items if i.kind == "single"]
    world.save(paper.attempt, [attempts.Save(item=i.item, seq=n + 1, response="A")
                               for n, i in enumerate(singles)], now=T0 + 1)  # fmt: skip
    world.sweep(T0 + 61_000)
    row = world.row(paper.attempt)
    assert (row.state, row.finished_ms, row.score, row.passed) == (
        "submitted", T0 + 60_000, 8.0, True,
    )  # fmt: skip
    assert world.events(paper.attempt)[-2:] == ["attempt_expired", "attempt_submitted"]


# --------------------------------------------------------------------- concurrency


def _together(*jobs: Callable[[], Any]) -> list[Any]:
    """Run ``jobs`` on threads released at the same moment; their results or errors."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(n: int, job: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[n] = job()
        except Exception as exc:
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n, job)) for n, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_two_submits_at_once_grade_once(world: World) -> None:
    for round_ in range(3):
        paper = world.start(now=T0 + round_ * COOL, practice=True)
        world.save(paper.attempt, answers(paper, right), now=T0 + round_ * COOL + 1)
        now = T0 + round_ * COOL + 2
        submit = partial(world.submit, paper.attempt, now=now)
        results = _together(submit, submit)
        assert all(isinstance(r, attempts.ResultView) for r in results), results
        assert [(r.state, r.score) for r in results] == [("submitted", 10.0)] * 2
        assert world.events(paper.attempt).count("attempt_submitted") == 1


def test_a_save_racing_the_sweeper_is_either_graded_or_refused_never_lost(world: World) -> None:
    outcomes = set()
    for round_ in range(6):
        start = T0 + round_ * 100_000
        paper = world.start(exam=AUTO, now=start, practice=True)
        deadline = start + 60_000
        saves = answers(paper, right)
        results = _together(
            partial(world.save, paper.attempt, saves, now=deadline - 1),
            partial(world.sweep, deadline),
        )
        save = results[0]
        assert not isinstance(results[1], Exception), results[1]
        world.sweep(deadline)  # PostgreSQL's sweeper skips a row the save holds: catch up
        row = world.row(paper.attempt)
        assert row.state == "submitted" and row.finished_ms == deadline
        steps = world.steps(paper.attempt)
        if isinstance(save, attempts.SaveResult):
            assert len(save.accepted) == 6
            assert len(steps) == 6 and row.score == 10.0  # acknowledged → logged and graded
            outcomes.add("saved")
        else:
            assert isinstance(save, AttemptError), save
            assert save.code in {"attempt_closed", "deadline_passed"}
            assert steps == [] and row.score == 0.0  # refused → nothing pretends otherwise
            outcomes.add("refused")
    assert outcomes  # which order won each round is the scheduler's business


# ------------------------------------------------------------------------ operator


def test_operators_extend_terminate_grant_and_every_action_is_recorded(world: World) -> None:
    paper = world.start()
    extended = world.run(
        lambda s: attempts.extend(
            s, attempt_id=paper.attempt, extra_ms=30_000, by_id=world.other, by="proctor",
            reason="断网", now=T0 + 1,
        )
    )  # fmt: skip
    assert extended.deadline_ms == T0 + 90_000 and extended.seconds_left == 90  # rounded up
    assert world.sweep(T0 + 60_000).checked == 0
    ended = world.run(
        lambda s: attempts.terminate(
            s, attempt_id=paper.attempt, by="proctor", reason="替考", now=T0 + 2
        )
    )
    assert (ended.state, ended.passed, ended.reason) == ("terminated", False, "替考")
    log = world.run(lambda s: attempts.step_log(s, attempt_id=paper.attempt))
    assert [e.kind for e in log.events] == [
        "attempt_started", "time_extended", "attempt_terminated",
    ]  # fmt: skip
    assert log.events[1].data["by"] == "proctor" and log.events[1].data["reason"] == "断网"

    second = world.start(now=T0 + 100_000)
    world.submit(second.attempt, now=T0 + 100_001)
    assert world.my_exam().locked
    granted = world.run(
        lambda s: attempts.grant(
            s, login="11010519491231002X", exam=EXAM, extra_attempts=1, extra_time_ms=0,
            by_id=world.other, reason="系统故障", now=T0 + 200_000,
        )
    )  # fmt: skip
    assert granted.attempts_allowed == 3
    assert world.my_exam().may_start
    with pytest.raises(attempts.LearnerNotFoundError):
        world.run(
            lambda s: attempts.grant(
                s, login="nobody", exam=EXAM, extra_attempts=1, extra_time_ms=0, by_id=1,
                reason="x", now=T0,
            )
        )  # fmt: skip


def test_a_regrade_replays_the_stored_answers_against_the_corrected_items(world: World) -> None:
    paper = world.start()
    world.save(paper.attempt, answers(paper, lambda i: "B" if i.kind == "single" else True),
               now=T0 + 1)  # fmt: skip
    first = world.submit(paper.attempt, now=T0 + 2)
    assert first.score == 2.0  # only the true/false items were right
    with transaction(world.sessions) as s:  # the key was wrong: 乙 (B) is right
        outcome = banks.import_file(s, data=bank_yaml("乙"), source="b.yaml", bank=BANK, now=NOW)
        banks.publish(s, bank=BANK, version=outcome.version.version, now=NOW)
    regraded = world.run(
        lambda s: attempts.regrade(s, attempt_id=paper.attempt, by="operator", reason="答案更正",
                                   now=T0 + 3)
    )  # fmt: skip
    assert (regraded.score, regraded.passed) == (10.0, True)
    log = world.run(lambda s: attempts.step_log(s, attempt_id=paper.attempt))
    assert log.events[-1].kind == "attempt_regraded"
    assert (log.events[-1].data["old_score"], log.events[-1].data["score"]) == (2.0, 10.0)


def test_the_live_list_shows_open_attempts_with_their_last_save(world: World) -> None:
    paper = world.start()
    world.save(paper.attempt, answers(paper, right), now=T0 + 5_000)
    listed = world.run(lambda s: attempts.live(s, now=T0 + 10_000))
    assert [(a.attempt, a.seconds_left, a.last_save_ms, a.events) for a in listed.attempts] == [
        (paper.attempt, 50, T0 + 5_000, 2)
    ]


def test_graded_formal_answers_feed_item_analysis_and_practice_does_not(world: World) -> None:
    practice = world.start(practice=True)
    world.save(practice.attempt, answers(practice, right), now=T0 + 1_000)
    world.submit(practice.attempt, now=T0 + 2_000)
    assert world.run(lambda s: banks.item_analysis(s, bank=BANK)).learners == 0

    paper = world.start(now=T0 + 10_000)
    world.save(paper.attempt, answers(paper, right), now=T0 + 11_000)
    world.submit(paper.attempt, now=T0 + 12_000)
    stats = world.run(lambda s: banks.item_analysis(s, bank=BANK))
    assert stats.learners == 1
    on_paper = {i.item for i in paper.items}
    answered = {s.key for s in stats.item_stats if s.responses == 1}
    assert answered == on_paper
    assert all(s.facility == 1.0 for s in stats.item_stats if s.key in on_paper)


# ------------------------------------------------ practice integrity (decision 0013)


def _sit(world: World, exam: str, *, now: int, practice: bool, pick: Callable[..., Any]) -> str:
    """Start, answer every item with ``pick`` and submit; the attempt's id."""
    paper = world.start(exam=exam, now=now, practice=practice)
    world.save(paper.attempt, answers(paper, pick), now=now + 1)
    world.submit(paper.attempt, now=now + 2)
    return paper.attempt


def test_no_result_shows_a_key_a_formal_paper_ahead_can_hold_until_the_learner_passes(
    world: World,
) -> None:
    practice = _sit(world, KEYED, now=T0, practice=True, pick=right)
    first = _sit(world, KEYED, now=T0 + COOL, practice=False, pick=wrong)
    for attempt in (practice, first):  # practice shows keys, formal too: both held back
        held = world.result(attempt, now=T0 + 2 * COOL)
        assert (held.key_shown, held.key_held, held.items) == (False, "formal_ahead", ())
        assert held.score is not None  # the score is still the learner's
    second = _sit(world, KEYED, now=T0 + 2 * COOL, practice=False, pick=right)
    passed = world.result(second, now=T0 + 3 * COOL)
    assert passed.passed and passed.key_shown and passed.key_held == ""
    assert len(passed.items) == 6 and all(r.correct in (["A"], True) for r in passed.items)
    for attempt in (practice, first):  # no formal paper lies ahead any more
        after = world.result(attempt, now=T0 + 3 * COOL)
        assert after.key_shown and after.key_held == "" and len(after.items) == 6


def test_a_spec_that_shows_no_formal_key_says_so_and_practice_is_held_back_the_same(
    world: World,
) -> None:
    practice = _sit(world, EXAM, now=T0, practice=True, pick=right)
    formal = _sit(world, EXAM, now=T0 + COOL, practice=False, pick=right)
    assert world.result(formal, now=T0 + 2 * COOL).key_held == "off"
    after = world.result(practice, now=T0 + 2 * COOL)  # passed: practice.show_key applies
    assert after.key_shown and len(after.items) == 6


def test_keys_of_items_no_formal_paper_can_hold_are_shown_and_unshared_only_holds_the_rest(
    world: World,
) -> None:
    POLICY = "政策法规"  # the one topic the narrower version keeps
    practice = _sit(world, KEYED, now=T0, practice=True, pick=right)
    narrower = spec(
        KEYED,
        show_key_after_close=True,
        key_release="unshared_only",
        sections=[
            {"title": "单选", "kind": "single", "count": 4, "points": 2, "topics": [POLICY]},
            {"title": "判断", "kind": "true_false", "count": 2, "points": 1, "topics": [POLICY]},
        ],
    )

    def republish(s: Session) -> None:
        saved = exams.save_spec(s, narrower, now=NOW)
        exams.publish(s, exam=KEYED, version=saved.version.version, now=NOW)

    world.run(republish)
    outside = world.result(practice, now=T0 + COOL)
    assert outside.key_shown and outside.key_held == "shared"
    assert outside.items and all(r.item.startswith("信息安全") for r in outside.items)
    formal = _sit(world, KEYED, now=T0 + COOL, practice=False, pick=right)
    done = world.result(formal, now=T0 + 2 * COOL)
    assert done.passed and (done.key_shown, done.key_held, done.items) == (False, "shared", ())
    again = world.result(practice, now=T0 + 2 * COOL)  # passed, yet shared keys stay in
    assert {r.item for r in again.items} == {r.item for r in outside.items}


def test_practice_waits_out_the_cool_down_and_stops_at_the_daily_cap_with_retry_after(
    world: World,
) -> None:
    _sit(world, EXAM, now=T0, practice=True, pick=wrong)  # closed at T0 + 2
    with pytest.raises(attempts.NotEligibleError) as cooling:
        world.start(now=T0 + 100_000, practice=True)
    assert cooling.value.code == "practice_cooldown"
    assert cooling.value.retry_after_s == 501  # ceil((T0 + 2 + 600 s - (T0 + 100 s)) / 1 s)
    assert cooling.value.eligibility.retry_at_ms == T0 + 600_002
    entry = world.my_exam(T0 + 100_000)
    assert (entry.practice_may_start, entry.practice_code) == (False, "practice_cooldown")
    assert entry.practice_retry_ms == T0 + 600_002
    assert "08:26" in entry.practice_message and "08:26" in entry.practice_message_zh

    _sit(world, EXAM, now=T0 + 600_002, practice=True, pick=wrong)
    _sit(world, EXAM, now=T0 + 600_002 + COOL, practice=True, pick=wrong)
    late = T0 + 600_002 + 2 * COOL
    with pytest.raises(attempts.NotEligibleError) as capped:
        world.start(now=late, practice=True)
    midnight = 16 * 3600 * 1000  # 1970-01-02 00:00 China Standard Time
    assert capped.value.code == "practice_daily_cap"
    assert capped.value.retry_after_s == (midnight - late) // 1000 + 1
    assert world.my_exam(late).practice_retry_ms == midnight

    formal = world.start(now=late)  # formal attempts are not throttled by practice
    world.submit(formal.attempt, now=late + 1)
    assert world.start(now=midnight, practice=True).number == 4
