"""The attempt state machine, walked through as Moodle's question-engine tests do: a
manual clock with tiny literal times, one step at a time.

The exam starts at 100 and lasts 7_200_000 ms (120 minutes), so its deadline is
7_200_100. ``Shell`` does what api/services/attempts/ does around the pure core: it
keeps the answer log, stores every event, and grades from the log; it is the test's
model of the learner's answers. Every ``AttemptError`` message is checked in English
and Chinese.
"""

from __future__ import annotations

import itertools
from typing import Any

import msgspec
import pytest

from examengine import attempt as core
from examengine.assembly import PaperItem
from examengine.attempt import (
    OPEN,
    TRANSITIONS,
    AnswersSaved,
    Attempt,
    AttemptError,
    AttemptExpired,
    AttemptOverdue,
    AttemptRegraded,
    AttemptResumed,
    AttemptStarted,
    AttemptSubmitted,
    AttemptTerminated,
    DeviceTakenOver,
    Grade,
    IllegalTransition,
    Save,
    SaveOutcome,
    State,
    TimeExtended,
    check_deadline,
    closed_error,
    extend,
    regrade,
    resume,
    save_answers,
    start,
    submit,
    terminate,
)
from examengine.blueprint import ExpiryPolicy
from examengine.clock import ManualClock
from examengine.errors import EngineError
from examengine.grading import grade
from itembank.model import Item, TrueFalse

START = 100
DURATION = 7_200_000
DEADLINE = 7_200_100
GRACE = 30_000
NETWORK_GRACE = 5_000
PASS_MARK = 0.6

#: Five true/false items of one point each, every answer True: three right is a pass.
KEYS = ("q1", "q2", "q3", "q4", "q5")
ITEMS = {k: Item(key=k, stem=f"题 {k}", body=TrueFalse(answer=True)) for k in KEYS}
PAPER = tuple(PaperItem(key=k, section=0, points=1.0) for k in KEYS)
ON_PAPER = frozenset(KEYS)

STATE_ZH = {
    State.IN_PROGRESS: "进行中",
    State.OVERDUE: "超时宽限中",
    State.SUBMITTED: "已交卷",
    State.EXPIRED: "已超时",
    State.TERMINATED: "已终止",
}


class Shell:
    """The shell around the core, with a manual clock: load, call, store."""

    def __init__(
        self,
        *,
        policy: ExpiryPolicy = ExpiryPolicy.EXPIRE_FAIL,
        grace_ms: int = 0,
        extra_ms: int = 0,
        device: str = "laptop",
        practice: bool = False,
    ) -> None:
        self.clock = ManualClock(START)
        self.log: dict[str, tuple[int, Any]] = {}
        self.events: list[Any] = []
        self.graded = 0
        self.attempt, events = start(
            attempt_id="att-1",
            learner="11010519491231002X",
            exam="public-2024",
            number=1,
            cycle=1,
            practice=practice,
            duration_ms=DURATION,
            extra_ms=extra_ms,
            policy=policy,
            grace_ms=grace_ms,
            device=device,
            now=self.clock.now_ms(),
        )
        self.events.extend(events)

    # -- what the shell does

    @property
    def now(self) -> int:
        return self.clock.now_ms()

    def at(self, now_ms: int) -> Shell:
        self.clock.set(now_ms)
        return self

    def grade(self) -> Grade:
        self.graded += 1
        answers = {item: response for item, (_, response) in self.log.items()}
        result = grade(PAPER, ITEMS, answers, pass_mark=PASS_MARK)
        return Grade(score=result.score, max_score=result.max_score, passed=result.passed)

    def store(self, attempt: Attempt, events: list[Any]) -> list[Any]:
        self.attempt = attempt
        self.events.extend(events)
        return events

    def refused(self, error: AttemptError) -> AttemptError:
        """What the shell does with a refusal: store the close that came with it."""
        if error.attempt is not None:
            self.store(error.attempt, error.events)
        return error

    def save(self, *saves: Save, device: str = "laptop") -> SaveOutcome:
        latest = {item: seq for item, (seq, _) in self.log.items()}
        try:
            attempt, outcome, events = save_answers(
                self.attempt,
                saves,
                latest_seq=latest,
                items=ON_PAPER,
                device=device,
                now=self.now,
                grade=self.grade,
            )
        except AttemptError as error:
            raise self.refused(error) from None
        for s in outcome.accepted:
            self.log[s.item] = (s.seq, s.response)
        self.store(attempt, events)
        return outcome

    def resume(self, device: str = "laptop") -> list[Any]:
        try:
            attempt, events = resume(self.attempt, device=device, now=self.now, grade=self.grade)
        except AttemptError as error:
            raise self.refused(error) from None
        return self.store(attempt, events)

    def submit(self, sent_ms: int | None = None) -> list[Any]:
        try:
            attempt, events = submit(
                self.attempt,
                now=self.now,
                sent_ms=sent_ms,
                network_grace_ms=NETWORK_GRACE,
                grade=self.grade,
            )
        except AttemptError as error:
            raise self.refused(error) from None
        return self.store(attempt, events)

    def sweep(self) -> list[Any]:
        attempt, events = check_deadline(self.attempt, now=self.now, grade=self.grade)
        return self.store(attempt, events)

    def answer(self, right: int, *, seq: int = 1) -> None:
        """Answer the first ``right`` items right and the others wrong."""
        self.save(*(Save(item=k, seq=seq + i, response=i < right) for i, k in enumerate(KEYS)))


def an_attempt(state: State, **fields: Any) -> Attempt:
    values: dict[str, Any] = {
        "id": "att-1",
        "learner": "L",
        "exam": "E",
        "number": 1,
        "cycle": 1,
        "practice": False,
        "state": state,
        "started_ms": START,
        "deadline_ms": DEADLINE,
        "device": "laptop",
    }
    values.update(fields)
    return Attempt(**values)


def kinds(events: list[Any]) -> list[type]:
    return [type(e) for e in events]


def no_grade() -> Grade:
    raise AssertionError("grade must not be called here")


# ---------------------------------------------------------------- the transition table


def test_the_table_names_every_state_and_only_open_states_have_exits():
    assert set(TRANSITIONS) == set(State)
    for source, targets in TRANSITIONS.items():
        if source is State.EXPIRED:  # only the network-grace submit (below) leaves it
            assert targets == {State.SUBMITTED}
        else:
            assert bool(targets) is (source in OPEN)
    assert {State.IN_PROGRESS, State.OVERDUE} == OPEN


def test_the_table_allows_exactly_the_documented_transitions():
    assert {(s, t) for s, targets in TRANSITIONS.items() for t in targets} == {
        (State.IN_PROGRESS, State.IN_PROGRESS),
        (State.IN_PROGRESS, State.OVERDUE),
        (State.IN_PROGRESS, State.SUBMITTED),
        (State.IN_PROGRESS, State.EXPIRED),
        (State.IN_PROGRESS, State.TERMINATED),
        (State.OVERDUE, State.IN_PROGRESS),
        (State.OVERDUE, State.OVERDUE),
        (State.OVERDUE, State.SUBMITTED),
        (State.OVERDUE, State.TERMINATED),
        (State.EXPIRED, State.SUBMITTED),
    }


@pytest.mark.parametrize(
    ("source", "target"),
    list(itertools.product(State, State)),
    ids=lambda s: s.value,
)
def test_every_pair_of_states_is_allowed_exactly_when_the_table_says(source, target):
    attempt = an_attempt(source)
    if target in TRANSITIONS[source]:
        moved = core._move(attempt, target, last_seq=7)
        assert moved.state is target
        assert moved.last_seq == 7
        assert attempt.state is source  # frozen: the old value is unchanged
    else:
        with pytest.raises(IllegalTransition) as caught:
            core._move(attempt, target)
        error = caught.value
        assert (error.source, error.target) == (source, target)
        assert error.code == "illegal_transition"
        assert error.message == f"an attempt that is {source.value} cannot become {target.value}"
        assert error.message_zh == f"考试状态不能从“{STATE_ZH[source]}”变为“{STATE_ZH[target]}”"
        assert isinstance(error, AttemptError)
        assert isinstance(error, EngineError)
        assert str(error) == error.message


def test_an_illegal_transition_reads_well_in_both_languages():
    with pytest.raises(IllegalTransition) as caught:
        core._move(an_attempt(State.SUBMITTED), State.IN_PROGRESS)
    assert caught.value.message == "an attempt that is submitted cannot become in_progress"
    assert caught.value.message_zh == "考试状态不能从“已交卷”变为“进行中”"


@pytest.mark.parametrize("closed", [State.SUBMITTED, State.EXPIRED, State.TERMINATED])
def test_no_public_transition_reopens_a_closed_attempt(closed):
    graded = {"score": 0.0, "max_score": 10.0} if closed is State.SUBMITTED else {}
    attempt = an_attempt(closed, finished_ms=500, passed=False, reason="copying", **graded)
    late = DEADLINE + 10_000_000
    assert check_deadline(attempt, now=late, grade=no_grade) == (attempt, [])
    with pytest.raises(AttemptError):
        resume(attempt, device="laptop", now=200, grade=no_grade)
    with pytest.raises(AttemptError):
        save_answers(
            attempt,
            [Save(item="q1", seq=1, response=True)],
            latest_seq={},
            items=ON_PAPER,
            device="laptop",
            now=200,
            grade=no_grade,
        )
    with pytest.raises(AttemptError):
        extend(attempt, extra_ms=60_000, by="op", reason="network", now=200)
    with pytest.raises(AttemptError):
        terminate(attempt, by="proctor", reason="copying", now=200)
    if closed is State.SUBMITTED:
        assert submit(
            attempt, now=200, sent_ms=None, network_grace_ms=NETWORK_GRACE, grade=no_grade
        ) == (attempt, [])
    else:
        with pytest.raises(AttemptError):
            submit(attempt, now=200, sent_ms=None, network_grace_ms=NETWORK_GRACE, grade=no_grade)


# ---------------------------------------------------------------- the happy walk


def test_start_counts_120_minutes_from_now():
    shell = Shell()
    a = shell.attempt
    assert a.state is State.IN_PROGRESS
    assert (a.started_ms, a.deadline_ms) == (START, DEADLINE)
    assert a.open
    assert a.last_seq == 0
    assert (a.finished_ms, a.score, a.max_score, a.passed) == (None, None, None, None)
    assert shell.events == [
        AttemptStarted(attempt="att-1", at_ms=START, deadline_ms=DEADLINE, practice=False)
    ]


def test_a_learners_extra_time_moves_the_deadline():
    shell = Shell(extra_ms=1_800_000)
    assert shell.attempt.deadline_ms == DEADLINE + 1_800_000
    assert shell.events[0].deadline_ms == DEADLINE + 1_800_000


def test_a_practice_attempt_says_so_when_it_starts():
    shell = Shell(practice=True)
    assert shell.attempt.practice
    assert shell.events[0].practice


def test_walkthrough_save_resume_take_over_and_pass():
    shell = Shell()

    # 1. the learner answers two items
    outcome = shell.at(1_200).save(Save(item="q1", seq=1, response=True))
    assert outcome.accepted == (Save(item="q1", seq=1, response=True),)
    shell.at(1_300).save(Save(item="q2", seq=2, response=True))
    assert shell.attempt.last_seq == 2
    assert shell.events[-1] == AnswersSaved(attempt="att-1", at_ms=1_300, count=1, last_seq=2)

    # 2. the browser crashes; the learner comes back on the same laptop
    events = shell.at(600_000).resume("laptop")
    assert events == [AttemptResumed(attempt="att-1", at_ms=600_000, device="laptop")]
    assert shell.attempt.device == "laptop"
    assert shell.attempt.seconds_left(now=600_000) == -(-(DEADLINE - 600_000) // 1000)

    # 3. the laptop dies; the learner continues on a phone: the phone takes over
    events = shell.at(1_000_000).resume("phone")
    assert events == [
        AttemptResumed(attempt="att-1", at_ms=1_000_000, device="phone"),
        DeviceTakenOver(attempt="att-1", at_ms=1_000_000, old_device="laptop", new_device="phone"),
    ]
    assert shell.attempt.device == "phone"
    assert shell.attempt.state is State.IN_PROGRESS
    assert shell.attempt.deadline_ms == DEADLINE  # the clock did not stop

    # 4. the laptop wakes up and tries to save: refused, it moved
    with pytest.raises(AttemptError) as caught:
        shell.at(1_000_500).save(Save(item="q3", seq=3, response=False), device="laptop")
    assert caught.value.code == "device_moved"
    assert caught.value.message == (
        "this attempt was continued on another device; this one can no longer save"
    )
    assert caught.value.message_zh == "本次考试已在另一台设备上继续，当前设备不能再保存答案"
    assert caught.value.attempt is None
    assert "q3" not in shell.log

    # 5. the phone answers the rest and submits: 3 of 5 right is exactly 60 %, a pass
    shell.at(1_001_000).save(
        Save(item="q3", seq=3, response=True),
        Save(item="q4", seq=4, response=False),
        device="phone",
    )
    events = shell.at(2_000_000).submit()
    assert events == [
        AttemptSubmitted(
            attempt="att-1", at_ms=2_000_000, score=3.0, max_score=5.0, passed=True, late=False
        )
    ]
    a = shell.attempt
    assert a.state is State.SUBMITTED
    assert (a.finished_ms, a.score, a.max_score, a.passed) == (2_000_000, 3.0, 5.0, True)
    assert not a.open


def test_walkthrough_submit_and_fail():
    shell = Shell()
    shell.at(5_000).answer(right=2)
    shell.at(6_000).submit()
    assert shell.attempt.state is State.SUBMITTED
    assert (shell.attempt.score, shell.attempt.passed) == (2.0, False)


def test_submitting_twice_returns_the_same_attempt_and_no_events():
    shell = Shell()
    shell.at(5_000).answer(right=4)
    shell.at(6_000).submit()
    first = shell.attempt
    graded = shell.graded
    assert shell.at(9_000).submit() == []
    assert shell.attempt == first
    assert shell.graded == graded  # not graded again
    assert shell.at(DEADLINE + 10**9).submit() == []  # not even long after the deadline
    assert shell.attempt == first


def test_resuming_on_the_device_that_holds_it_is_no_take_over():
    shell = Shell(device="phone")
    events = shell.at(300).resume("phone")
    assert kinds(events) == [AttemptResumed]


def test_a_device_that_took_over_can_be_taken_over_back():
    shell = Shell()
    shell.at(300).resume("phone")
    events = shell.at(400).resume("laptop")
    assert events[-1] == DeviceTakenOver(
        attempt="att-1", at_ms=400, old_device="phone", new_device="laptop"
    )
    assert shell.save(Save(item="q1", seq=1, response=True), device="laptop").accepted
    with pytest.raises(AttemptError, match="another device"):
        shell.save(Save(item="q1", seq=2, response=False), device="phone")


# ---------------------------------------------------------------- saves


def test_saves_of_a_batch_are_applied_in_seq_order():
    shell = Shell()
    outcome = shell.at(1_000).save(
        Save(item="q1", seq=3, response=True),
        Save(item="q1", seq=1, response=False),
        Save(item="q1", seq=2, response=False),
    )
    assert [s.seq for s in outcome.accepted] == [1, 2, 3]
    assert shell.log["q1"] == (3, True)  # the newest change wins
    assert shell.attempt.last_seq == 3
    assert shell.events[-1] == AnswersSaved(attempt="att-1", at_ms=1_000, count=3, last_seq=3)


def test_a_repeated_seq_is_a_no_op():
    shell = Shell()
    shell.at(1_000).save(Save(item="q1", seq=5, response=True))
    stored = shell.attempt
    before = len(shell.events)
    outcome = shell.at(1_100).save(Save(item="q1", seq=5, response=True))
    assert outcome == SaveOutcome(repeated=(Save(item="q1", seq=5, response=True),))
    assert shell.attempt == stored
    assert len(shell.events) == before  # nothing saved, nothing said


def test_an_older_seq_never_overwrites_a_newer_answer():
    shell = Shell()
    shell.at(1_000).save(Save(item="q1", seq=7, response=True))
    outcome = shell.at(1_100).save(Save(item="q1", seq=6, response=False))
    assert outcome == SaveOutcome(stale=(Save(item="q1", seq=6, response=False),))
    assert shell.log["q1"] == (7, True)
    assert shell.attempt.last_seq == 7


def test_a_mixed_batch_is_sorted_into_accepted_repeated_and_stale():
    shell = Shell()
    shell.at(1_000).save(Save(item="q1", seq=4, response=True), Save(item="q2", seq=5))
    outcome = shell.at(2_000).save(
        Save(item="q1", seq=4, response=True),  # repeated
        Save(item="q2", seq=3, response=True),  # stale
        Save(item="q3", seq=6, response=True),  # new item
        Save(item="q2", seq=8, response=False),  # newer
        Save(item="q3", seq=6, response=True),  # the same save twice in one batch
    )
    assert [(s.item, s.seq) for s in outcome.accepted] == [("q3", 6), ("q2", 8)]
    assert [(s.item, s.seq) for s in outcome.repeated] == [("q1", 4), ("q3", 6)]
    assert [(s.item, s.seq) for s in outcome.stale] == [("q2", 3)]
    assert shell.attempt.last_seq == 8
    assert shell.events[-1] == AnswersSaved(attempt="att-1", at_ms=2_000, count=2, last_seq=8)


def test_last_seq_never_goes_down():
    shell = Shell()
    shell.at(1_000).save(Save(item="q1", seq=9, response=True))
    # a lower seq for another item is still that item's newest change
    outcome = shell.at(1_100).save(Save(item="q2", seq=4, response=True))
    assert outcome.accepted
    assert shell.attempt.last_seq == 9


def test_an_empty_batch_changes_nothing():
    shell = Shell()
    stored = shell.attempt
    assert shell.at(1_000).save() == SaveOutcome()
    assert shell.attempt == stored


def test_a_save_for_an_item_not_on_the_paper_refuses_the_whole_batch_naming_it():
    shell = Shell()
    with pytest.raises(AttemptError) as caught:
        shell.at(1_000).save(
            Save(item="q1", seq=1, response=True),
            Save(item="zz", seq=2, response=True),
            Save(item="aa", seq=3, response=True),
        )
    assert caught.value.code == "unknown_item"
    assert caught.value.message == "not on this paper: aa, zz"
    assert caught.value.message_zh == "以下题目不在本试卷中：aa、zz"
    assert shell.log == {}
    assert shell.attempt.last_seq == 0


def test_a_save_on_a_device_that_never_held_the_attempt_is_refused():
    shell = Shell()
    with pytest.raises(AttemptError) as caught:
        shell.at(1_000).save(Save(item="q1", seq=1, response=True), device="tablet")
    assert caught.value.code == "device_moved"


def test_a_save_just_before_the_deadline_is_accepted():
    shell = Shell()
    assert shell.at(DEADLINE - 1).save(Save(item="q1", seq=1, response=True)).accepted


# ---------------------------------------------------------------- time: expire_fail


def test_a_save_at_the_deadline_is_refused_and_the_attempt_expires_unscored():
    shell = Shell()
    shell.at(1_000).answer(right=5)
    with pytest.raises(AttemptError) as caught:
        shell.at(DEADLINE).save(Save(item="q1", seq=99, response=False))
    error = caught.value
    assert error.code == "attempt_expired"
    assert error.message == "the time for this attempt ran out; it was recorded as failed"
    assert error.message_zh == "本次考试时间已到，按规定记为不合格"
    assert error.events == [AttemptExpired(attempt="att-1", at_ms=DEADLINE, graded=False)]
    a = shell.attempt  # stored from the error
    assert a is error.attempt
    assert a.state is State.EXPIRED
    assert (a.finished_ms, a.passed, a.score, a.max_score) == (DEADLINE, False, None, None)
    assert shell.log["q1"] == (1, True)  # the late save did not join the log
    assert shell.graded == 0


def test_the_sweeper_expires_an_attempt_at_its_deadline_whenever_it_looks():
    shell = Shell()
    assert shell.at(DEADLINE - 1).sweep() == []
    events = shell.at(DEADLINE + 3_600_000).sweep()  # the sweeper was late by an hour
    assert events == [AttemptExpired(attempt="att-1", at_ms=DEADLINE, graded=False)]
    assert shell.attempt.finished_ms == DEADLINE
    assert shell.at(DEADLINE + 3_600_001).sweep() == []  # once


def test_resume_after_the_deadline_is_refused_and_carries_the_close():
    shell = Shell()
    with pytest.raises(AttemptError) as caught:
        shell.at(DEADLINE + 1).resume("laptop")
    error = caught.value
    assert error.code == "attempt_expired"
    assert error.message == "the time for this attempt ran out; it was recorded as failed"
    assert error.message_zh == "本次考试时间已到，按规定记为不合格"
    assert error.attempt is not None
    assert error.attempt.state is State.EXPIRED
    assert error.attempt.finished_ms == DEADLINE
    assert error.events == [AttemptExpired(attempt="att-1", at_ms=DEADLINE, graded=False)]


def test_resume_of_an_attempt_the_sweeper_already_expired_is_refused_without_new_events():
    shell = Shell()
    shell.at(DEADLINE).sweep()
    with pytest.raises(AttemptError) as caught:
        shell.at(DEADLINE + 50).resume("phone")
    assert caught.value.code == "attempt_expired"
    assert caught.value.events == []


def test_resume_one_millisecond_before_the_deadline_is_allowed():
    shell = Shell()
    assert kinds(shell.at(DEADLINE - 1).resume("phone")) == [AttemptResumed, DeviceTakenOver]
    assert shell.attempt.seconds_left(now=DEADLINE - 1) == 1  # rounded up: time remains


def test_submit_after_the_deadline_without_network_grace_expires_the_attempt():
    shell = Shell()
    shell.at(1_000).answer(right=5)
    with pytest.raises(AttemptError) as caught:
        shell.at(DEADLINE + NETWORK_GRACE).submit(sent_ms=DEADLINE - 1)
    assert caught.value.code == "attempt_expired"
    assert caught.value.events == [AttemptExpired(attempt="att-1", at_ms=DEADLINE, graded=False)]
    assert shell.attempt.state is State.EXPIRED
    assert shell.attempt.score is None
    assert shell.graded == 0


# ---------------------------------------------------------------- time: network grace


def test_a_submit_sent_before_the_deadline_counts_within_the_network_grace():
    shell = Shell()
    shell.at(1_000).answer(right=3)
    events = shell.at(DEADLINE + NETWORK_GRACE - 1).submit(sent_ms=DEADLINE - 1)
    assert events == [
        AttemptSubmitted(
            attempt="att-1", at_ms=DEADLINE, score=3.0, max_score=5.0, passed=True, late=True
        )
    ]
    assert shell.attempt.state is State.SUBMITTED
    assert shell.attempt.finished_ms == DEADLINE  # never later than the deadline


def test_a_submit_sent_at_the_deadline_does_not_count():
    shell = Shell()
    shell.at(1_000).answer(right=3)
    with pytest.raises(AttemptError):
        shell.at(DEADLINE + 1_000).submit(sent_ms=DEADLINE)
    assert shell.attempt.state is State.EXPIRED


def test_a_submit_without_a_sent_time_after_the_deadline_does_not_count():
    shell = Shell()
    with pytest.raises(AttemptError):
        shell.at(DEADLINE + 1_000).submit(sent_ms=None)
    assert shell.attempt.state is State.EXPIRED


def test_a_submit_before_the_deadline_is_not_late_whatever_it_says_it_sent():
    shell = Shell()
    shell.at(1_000).answer(right=3)
    events = shell.at(DEADLINE - 1).submit(sent_ms=DEADLINE + 500)
    assert events[0].late is False
    assert shell.attempt.finished_ms == DEADLINE - 1


# ---------------------------------------------------------------- time: auto_submit


def test_auto_submit_grades_what_was_saved_at_the_deadline():
    shell = Shell(policy=ExpiryPolicy.AUTO_SUBMIT)
    shell.at(1_000).answer(right=3)
    events = shell.at(DEADLINE + 777).sweep()
    assert events == [
        AttemptExpired(attempt="att-1", at_ms=DEADLINE, graded=True),
        AttemptSubmitted(attempt="att-1", at_ms=DEADLINE, score=3.0, max_score=5.0, passed=True),
    ]
    a = shell.attempt
    assert a.state is State.SUBMITTED
    assert (a.finished_ms, a.score, a.max_score, a.passed) == (DEADLINE, 3.0, 5.0, True)


def test_a_save_after_the_deadline_under_auto_submit_is_refused_because_time_is_up():
    shell = Shell(policy=ExpiryPolicy.AUTO_SUBMIT)
    shell.at(1_000).answer(right=2)
    with pytest.raises(AttemptError) as caught:
        shell.at(DEADLINE + 10).save(Save(item="q3", seq=50, response=True))
    error = caught.value
    # the attempt was closed by its time, not by the learner: say so
    assert error.code == "deadline_passed"
    assert error.message == "the time for this attempt is up; answers can no longer be saved"
    assert error.message_zh == "本次考试时间已到，不能再保存答案"
    assert kinds(error.events) == [AttemptExpired, AttemptSubmitted]
    assert error.attempt is not None
    assert error.attempt.state is State.SUBMITTED
    assert (error.attempt.finished_ms, error.attempt.score) == (DEADLINE, 2.0)
    assert shell.log["q3"] == (3, False)


def test_a_late_submit_under_auto_submit_grades_at_the_deadline():
    shell = Shell(policy=ExpiryPolicy.AUTO_SUBMIT)
    shell.at(1_000).answer(right=4)
    events = shell.at(DEADLINE + 60_000).submit()
    assert kinds(events) == [AttemptExpired, AttemptSubmitted]
    assert shell.attempt.finished_ms == DEADLINE
    assert shell.attempt.score == 4.0


def test_resume_after_an_auto_submit_is_refused_with_the_graded_attempt():
    shell = Shell(policy=ExpiryPolicy.AUTO_SUBMIT)
    with pytest.raises(AttemptError) as caught:
        shell.at(DEADLINE).resume("laptop")
    assert caught.value.attempt is not None
    assert caught.value.attempt.state is State.SUBMITTED
    assert caught.value.attempt.finished_ms == DEADLINE


# ---------------------------------------------------------------- time: grace


def test_grace_makes_the_attempt_overdue_at_the_deadline_and_accepts_saves():
    shell = Shell(policy=ExpiryPolicy.GRACE, grace_ms=GRACE)
    shell.at(1_000).answer(right=2)
    events = shell.at(DEADLINE).sweep()
    assert events == [
        AttemptOverdue(attempt="att-1", at_ms=DEADLINE, grace_until_ms=DEADLINE + GRACE)
    ]
    assert shell.attempt.state is State.OVERDUE
    assert shell.attempt.open
    assert shell.attempt.seconds_left(now=DEADLINE) == 0
    assert shell.attempt.next_check_ms == DEADLINE + GRACE

    # a save during the grace period is accepted
    outcome = shell.at(DEADLINE + GRACE - 1).save(Save(item="q3", seq=30, response=True))
    assert outcome.accepted
    assert shell.attempt.state is State.OVERDUE
    assert shell.at(DEADLINE + GRACE - 1).sweep() == []  # still overdue, nothing new

    # at the end of grace the sweeper grades what was saved, finished then
    events = shell.at(DEADLINE + GRACE + 5_000).sweep()
    assert events == [
        AttemptExpired(attempt="att-1", at_ms=DEADLINE + GRACE, graded=True),
        AttemptSubmitted(
            attempt="att-1", at_ms=DEADLINE + GRACE, score=3.0, max_score=5.0, passed=True
        ),
    ]
    assert shell.attempt.finished_ms == DEADLINE + GRACE


def test_a_save_first_past_the_deadline_under_grace_makes_the_attempt_overdue_and_counts():
    shell = Shell(policy=ExpiryPolicy.GRACE, grace_ms=GRACE)
    outcome = shell.at(DEADLINE + 10).save(Save(item="q1", seq=1, response=True))
    assert outcome.accepted
    assert shell.attempt.state is State.OVERDUE
    assert kinds(shell.events[-2:]) == [AttemptOverdue, AnswersSaved]


def test_a_save_after_the_grace_period_is_refused_because_time_is_up():
    shell = Shell(policy=ExpiryPolicy.GRACE, grace_ms=GRACE)
    shell.at(1_000).answer(right=1)
    with pytest.raises(AttemptError) as caught:
        shell.at(DEADLINE + GRACE).save(Save(item="q2", seq=40, response=True))
    assert caught.value.code == "deadline_passed"
    assert caught.value.message_zh == "本次考试时间已到，不能再保存答案"
    assert shell.attempt.state is State.SUBMITTED
    assert shell.attempt.finished_ms == DEADLINE + GRACE
    assert shell.attempt.score == 1.0


def test_an_attempt_untouched_until_after_the_grace_period_is_graded_at_its_end():
    shell = Shell(policy=ExpiryPolicy.GRACE, grace_ms=GRACE)
    events = shell.at(DEADLINE + GRACE + 1).sweep()
    assert kinds(events) == [AttemptExpired, AttemptSubmitted]
    assert shell.attempt.finished_ms == DEADLINE + GRACE


def test_a_submit_during_the_grace_period_counts_when_it_arrives():
    shell = Shell(policy=ExpiryPolicy.GRACE, grace_ms=GRACE)
    shell.at(1_000).answer(right=3)
    events = shell.at(DEADLINE + 12_000).submit()
    assert kinds(events) == [AttemptOverdue, AttemptSubmitted]
    assert shell.attempt.finished_ms == DEADLINE + 12_000
    assert shell.attempt.passed


def test_a_submit_to_an_overdue_attempt_after_its_grace_is_closed_at_the_grace_end():
    shell = Shell(policy=ExpiryPolicy.GRACE, grace_ms=GRACE)
    shell.at(1_000).answer(right=3)
    shell.at(DEADLINE + 1).sweep()
    assert shell.attempt.state is State.OVERDUE
    shell.at(DEADLINE + GRACE + 60_000).submit()
    # exactly what the sweeper would have done at the end of the grace period
    assert shell.attempt.state is State.SUBMITTED
    assert shell.attempt.finished_ms == DEADLINE + GRACE


def test_resume_during_the_grace_period_is_allowed():
    shell = Shell(policy=ExpiryPolicy.GRACE, grace_ms=GRACE)
    events = shell.at(DEADLINE + 1).resume("phone")
    assert kinds(events) == [AttemptOverdue, AttemptResumed, DeviceTakenOver]
    assert shell.attempt.state is State.OVERDUE
    assert shell.attempt.device == "phone"


def test_grace_of_zero_grades_at_the_deadline():
    shell = Shell(policy=ExpiryPolicy.GRACE, grace_ms=0)
    events = shell.at(DEADLINE).sweep()
    assert kinds(events) == [AttemptExpired, AttemptSubmitted]
    assert shell.attempt.finished_ms == DEADLINE


# ---------------------------------------------------------------- terminate


def test_a_proctor_terminates_an_attempt_with_a_reason_and_it_counts_as_failed():
    shell = Shell()
    shell.at(1_000).answer(right=5)
    attempt, events = terminate(shell.attempt, by="proctor-7", reason="替考", now=50_000)
    assert events == [
        AttemptTerminated(attempt="att-1", at_ms=50_000, by="proctor-7", reason="替考")
    ]
    assert attempt.state is State.TERMINATED
    assert (attempt.finished_ms, attempt.passed, attempt.score) == (50_000, False, None)
    assert attempt.reason == "替考"
    assert attempt.next_check_ms is None


def test_an_overdue_attempt_can_be_terminated():
    attempt = an_attempt(State.OVERDUE, policy=ExpiryPolicy.GRACE, grace_ms=GRACE)
    closed, _ = terminate(attempt, by="p", reason="copying", now=DEADLINE + 5)
    assert closed.state is State.TERMINATED


@pytest.mark.parametrize("reason", ["", "   ", "\n"])
def test_terminate_requires_a_reason(reason):
    with pytest.raises(AttemptError) as caught:
        terminate(an_attempt(State.IN_PROGRESS), by="p", reason=reason, now=500)
    assert caught.value.code == "reason_required"
    assert caught.value.message == "give a reason"
    assert caught.value.message_zh == "请填写原因"


def test_a_terminated_attempt_refuses_saves_naming_the_proctors_reason():
    shell = Shell()
    shell.store(*terminate(shell.attempt, by="p", reason="copying", now=2_000))
    with pytest.raises(AttemptError) as caught:
        shell.at(3_000).save(Save(item="q1", seq=1, response=True))
    assert caught.value.code == "attempt_terminated"
    assert caught.value.message == "this attempt was ended by a proctor: copying"
    assert caught.value.message_zh == "本次考试已被监考人员终止：copying"
    with pytest.raises(AttemptError) as caught:
        shell.submit()
    assert caught.value.code == "attempt_terminated"


def test_a_submitted_attempt_refuses_saves_resume_and_termination():
    shell = Shell()
    shell.at(1_000).submit()
    with pytest.raises(AttemptError) as caught:
        shell.at(2_000).save(Save(item="q1", seq=1, response=True))
    assert caught.value.code == "attempt_closed"
    assert caught.value.message == "this attempt has been submitted"
    assert caught.value.message_zh == "本次考试已交卷"
    with pytest.raises(AttemptError) as caught:
        shell.resume("laptop")
    assert caught.value.code == "attempt_closed"
    with pytest.raises(AttemptError) as caught:
        terminate(shell.attempt, by="p", reason="late report", now=3_000)
    assert caught.value.code == "attempt_closed"


def test_closed_error_of_an_open_attempt_says_the_time_is_up():
    for state in OPEN:
        error = closed_error(an_attempt(state))
        assert error.code == "deadline_passed"
        assert error.message == "the time for this attempt is up; answers can no longer be saved"
        assert error.message_zh == "本次考试时间已到，不能再保存答案"


# ---------------------------------------------------------------- extend


def test_an_operator_extends_the_time_of_an_attempt_in_progress():
    shell = Shell()
    attempt, events = extend(
        shell.attempt, extra_ms=600_000, by="op-1", reason="网络故障", now=3_000_000
    )
    assert attempt.deadline_ms == DEADLINE + 600_000
    assert attempt.state is State.IN_PROGRESS
    assert attempt.next_check_ms == DEADLINE + 600_000
    assert events == [
        TimeExtended(
            attempt="att-1",
            at_ms=3_000_000,
            by="op-1",
            reason="网络故障",
            extra_ms=600_000,
            deadline_ms=DEADLINE + 600_000,
        )
    ]
    shell.store(attempt, events)
    assert shell.at(DEADLINE + 1).save(Save(item="q1", seq=1, response=True)).accepted
    assert shell.at(DEADLINE + 600_000).sweep()[0].at_ms == DEADLINE + 600_000


def test_extending_an_overdue_attempt_brings_it_back_in_progress():
    shell = Shell(policy=ExpiryPolicy.GRACE, grace_ms=GRACE)
    shell.at(DEADLINE + 1_000).sweep()
    assert shell.attempt.state is State.OVERDUE
    attempt, _ = extend(shell.attempt, extra_ms=300_000, by="op", reason="断网", now=shell.now)
    assert attempt.state is State.IN_PROGRESS
    assert attempt.deadline_ms == DEADLINE + 300_000
    assert attempt.seconds_left(now=shell.now) == -(-(300_000 - 1_000) // 1000)


def test_an_extension_too_short_to_reach_now_leaves_the_attempt_overdue():
    shell = Shell(policy=ExpiryPolicy.GRACE, grace_ms=GRACE)
    shell.at(DEADLINE + 20_000).sweep()
    attempt, _ = extend(shell.attempt, extra_ms=10_000, by="op", reason="x", now=shell.now)
    assert attempt.state is State.OVERDUE
    assert attempt.deadline_ms == DEADLINE + 10_000
    assert attempt.next_check_ms == DEADLINE + 10_000 + GRACE


@pytest.mark.parametrize("extra", [0, -1, -600_000])
def test_an_extension_must_be_positive(extra):
    with pytest.raises(AttemptError) as caught:
        extend(an_attempt(State.IN_PROGRESS), extra_ms=extra, by="op", reason="x", now=500)
    assert caught.value.code == "bad_extension"
    assert caught.value.message == "the extra time must be positive"
    assert caught.value.message_zh == "延长时间必须为正数"


def test_an_extension_requires_a_reason():
    with pytest.raises(AttemptError) as caught:
        extend(an_attempt(State.IN_PROGRESS), extra_ms=60_000, by="op", reason=" ", now=500)
    assert caught.value.code == "reason_required"
    assert caught.value.message == "give a reason"
    assert caught.value.message_zh == "请填写原因"


@pytest.mark.parametrize(
    ("closed", "code"),
    [
        (State.SUBMITTED, "attempt_closed"),
        (State.EXPIRED, "attempt_expired"),
        (State.TERMINATED, "attempt_terminated"),
    ],
)
def test_a_closed_attempt_cannot_be_extended(closed, code):
    attempt = an_attempt(closed, finished_ms=DEADLINE, reason="r")
    with pytest.raises(AttemptError) as caught:
        extend(attempt, extra_ms=60_000, by="op", reason="x", now=DEADLINE + 1)
    assert caught.value.code == code


# ---------------------------------------------------------------- regrade


def test_a_regrade_records_the_old_and_the_new_score():
    shell = Shell()
    shell.at(1_000).answer(right=2)
    shell.at(2_000).submit()
    assert (shell.attempt.score, shell.attempt.passed) == (2.0, False)
    fixed = Grade(score=4.0, max_score=5.0, passed=True)  # the key of q3 and q4 was wrong
    attempt, events = regrade(
        shell.attempt, by="author-1", reason="key of q3, q4 fixed", now=9_000, grade=lambda: fixed
    )
    assert events == [
        AttemptRegraded(
            attempt="att-1",
            at_ms=9_000,
            by="author-1",
            reason="key of q3, q4 fixed",
            old_score=2.0,
            score=4.0,
            max_score=5.0,
            passed=True,
        )
    ]
    assert (attempt.score, attempt.max_score, attempt.passed) == (4.0, 5.0, True)
    assert attempt.state is State.SUBMITTED
    assert attempt.finished_ms == 2_000  # a regrade does not move the finish


@pytest.mark.parametrize(
    "state", [State.IN_PROGRESS, State.OVERDUE, State.EXPIRED, State.TERMINATED]
)
def test_only_submitted_attempts_can_be_regraded(state):
    with pytest.raises(AttemptError) as caught:
        regrade(an_attempt(state), by="a", reason="key fixed", now=9_000, grade=no_grade)
    assert caught.value.code == "not_gradable"
    assert caught.value.message == (
        f"only submitted attempts can be regraded; this one is {state.value}"
    )
    assert (
        caught.value.message_zh
        == f"只有已交卷的考试可以重新评分，本次考试状态为“{STATE_ZH[state]}”"
    )


def test_a_regrade_requires_a_reason():
    attempt = an_attempt(State.SUBMITTED, score=1.0, max_score=5.0, passed=False)
    with pytest.raises(AttemptError) as caught:
        regrade(attempt, by="a", reason="", now=9_000, grade=no_grade)
    assert caught.value.code == "reason_required"
    assert caught.value.message_zh == "请填写原因"


# ---------------------------------------------------------------- seconds_left, next check


def test_seconds_left_and_next_check_in_progress():
    shell = Shell()
    a = shell.attempt
    assert a.seconds_left(now=START) == 7_200
    assert a.seconds_left(now=DEADLINE - 1_000) == 1
    assert a.seconds_left(now=DEADLINE - 999) == 1
    assert a.seconds_left(now=DEADLINE - 1) == 1
    assert a.seconds_left(now=DEADLINE) == 0
    assert a.seconds_left(now=DEADLINE + 10**6) == 0
    assert a.next_check_ms == DEADLINE


def test_seconds_left_and_next_check_overdue():
    a = an_attempt(State.OVERDUE, policy=ExpiryPolicy.GRACE, grace_ms=GRACE)
    assert a.seconds_left(now=DEADLINE + 1) == 0
    assert a.next_check_ms == DEADLINE + GRACE


@pytest.mark.parametrize("closed", [State.SUBMITTED, State.EXPIRED, State.TERMINATED])
def test_seconds_left_and_next_check_of_a_closed_attempt(closed):
    graded = {"score": 0.0, "max_score": 10.0} if closed is State.SUBMITTED else {}
    a = an_attempt(closed, finished_ms=1_000, **graded)
    assert a.seconds_left(now=START) == 0
    assert a.next_check_ms is None


def test_check_deadline_does_not_grade_an_attempt_it_leaves_open():
    shell = Shell(policy=ExpiryPolicy.AUTO_SUBMIT)
    assert check_deadline(shell.attempt, now=DEADLINE - 1, grade=no_grade) == (shell.attempt, [])
    grace = Shell(policy=ExpiryPolicy.GRACE, grace_ms=GRACE)
    moved, _ = check_deadline(grace.attempt, now=DEADLINE, grade=no_grade)
    assert moved.state is State.OVERDUE


# ---------------------------------------------------------------- events on the wire


def test_events_round_trip_as_a_tagged_union():
    shell = Shell(policy=ExpiryPolicy.GRACE, grace_ms=GRACE)
    shell.at(1_000).answer(right=3)
    shell.at(2_000).resume("phone")
    shell.at(DEADLINE + 1).sweep()
    shell.at(DEADLINE + 2).submit()
    wire = msgspec.json.encode(shell.events)
    assert msgspec.json.decode(wire, type=list[core.AnyEvent]) == shell.events
    assert b'"event":"device_taken_over"' in wire


def test_a_submit_sent_in_time_counts_even_after_the_sweeper_closed_the_attempt():
    shell = Shell()
    shell.at(1_000).answer(right=5)
    shell.at(DEADLINE + 500).sweep()
    assert shell.attempt.state is State.EXPIRED
    events = shell.at(DEADLINE + 2_000).submit(sent_ms=DEADLINE - 100)
    assert shell.attempt.state is State.SUBMITTED
    assert shell.attempt.finished_ms == DEADLINE
    assert events[-1].late is True
    assert shell.attempt.passed is True


def test_an_operator_cannot_extend_an_attempt_whose_time_is_up_but_not_yet_swept():
    shell = Shell()
    with pytest.raises(AttemptError) as caught:
        extend(shell.attempt, extra_ms=60_000, by="op", reason="network", now=DEADLINE)
    assert caught.value.code == "deadline_passed"
    assert caught.value.message_zh == "本次考试时间已到，正在按规定结束；如需补考，请增加考试次数"
