"""One attempt driven through random runs of steps by hypothesis: time moves (a little or
a lot), the browser saves batches (repeats and stale ones among them) from two devices,
the learner resumes and submits, the sweeper looks, an operator extends, a proctor
terminates. A model of the answer log and of what the clock should have done checks
every reply; the invariants hold after every step."""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from examengine.assembly import PaperItem
from examengine.attempt import (
    AnswersSaved,
    Attempt,
    AttemptError,
    AttemptExpired,
    AttemptOverdue,
    AttemptSubmitted,
    Grade,
    Save,
    State,
    check_deadline,
    extend,
    resume,
    save_answers,
    start,
    submit,
    terminate,
)
from examengine.blueprint import ExpiryPolicy
from examengine.clock import ManualClock
from examengine.grading import grade
from itembank.model import Item, TrueFalse

START = 100
DURATION = 7_200_000
#: A one-minute exam, so that short runs of steps reach its deadline and grace.
SHORT = 60_000
NETWORK_GRACE = 5_000
KEYS = ("q1", "q2", "q3", "q4")
ITEMS = {k: Item(key=k, stem=k, body=TrueFalse(answer=True)) for k in KEYS}
PAPER = tuple(PaperItem(key=k, section=0, points=1.0) for k in KEYS)
DEVICES = ("laptop", "phone")

SAVES = st.lists(
    st.builds(Save, item=st.sampled_from(KEYS), seq=st.integers(0, 12), response=st.booleans()),
    max_size=4,
)
#: Time passes: a moment, minutes, or hours.
JUMPS = st.one_of(
    st.integers(0, 2_000), st.integers(2_000, 120_000), st.integers(120_000, 4_000_000)
)
#: The edges of time an attempt cares about (one rule jumps onto them).
EDGES = st.sampled_from(
    ["deadline-1", "deadline", "deadline+1", "grace_end-1", "grace_end", "grace_end+1"]
)


def grace_end(attempt: Attempt) -> int:
    return attempt.deadline_ms + (attempt.grace_ms if attempt.policy is ExpiryPolicy.GRACE else 0)


def by_the_clock(attempt: Attempt, now: int) -> tuple[State, int | None]:
    """The model of what time alone makes of an attempt: its state and finish time."""
    if not attempt.open:
        return attempt.state, attempt.finished_ms
    if attempt.state is State.IN_PROGRESS and now < attempt.deadline_ms:
        return State.IN_PROGRESS, None
    if attempt.policy is ExpiryPolicy.GRACE:
        if now < grace_end(attempt):
            return State.OVERDUE, None
        return State.SUBMITTED, grace_end(attempt)
    if attempt.policy is ExpiryPolicy.AUTO_SUBMIT:
        return State.SUBMITTED, attempt.deadline_ms
    return State.EXPIRED, attempt.deadline_ms


class AttemptMachine(RuleBasedStateMachine):
    """The shell around one attempt, with a model to check it against."""

    @initialize(
        # grace has the most states to go through: twice as likely as the others
        policy=st.sampled_from([*ExpiryPolicy, ExpiryPolicy.GRACE]),
        duration_ms=st.sampled_from([SHORT, DURATION, SHORT]),
        grace_ms=st.sampled_from([30_000, 600_000, 0]),
        extra_ms=st.sampled_from([0, 20_000]),
        waits=st.booleans(),
        proctored=st.booleans(),
    )
    def begin(
        self,
        policy: ExpiryPolicy,
        duration_ms: int,
        grace_ms: int,
        extra_ms: int,
        waits: bool,
        proctored: bool,
    ) -> None:
        # some learners sit until the clock runs out (they never submit before the
        # deadline) and only some attempts have a proctor: so that many runs reach the
        # deadline and the grace period with the attempt still open
        self.waits = waits
        self.proctored = proctored
        self.clock = ManualClock(START)
        self.attempt, self.events = start(
            attempt_id="att",
            learner="L",
            exam="E",
            number=1,
            cycle=1,
            practice=False,
            duration_ms=duration_ms,
            extra_ms=extra_ms,
            policy=policy,
            grace_ms=grace_ms,
            device="laptop",
            now=START,
        )
        self.log: dict[str, tuple[int, bool]] = {}  # what the shell stores
        self.acknowledged: dict[str, int] = {}  # the model: newest accepted seq per item
        self.holder = "laptop"
        self.closed: Attempt | None = None
        self.last_seq = 0
        self.deadline = self.attempt.deadline_ms
        self.closed_by_time = False

    # ------------------------------------------------------------ the shell

    @property
    def now(self) -> int:
        return self.clock.now_ms()

    def grade(self) -> Grade:
        answers = {k: response for k, (_, response) in self.log.items()}
        result = grade(PAPER, ITEMS, answers, pass_mark=0.6)
        return Grade(score=result.score, max_score=result.max_score, passed=result.passed)

    def store(self, attempt: Attempt, events: list[Any]) -> None:
        self.attempt = attempt
        self.events.extend(events)
        for e in events:
            if isinstance(e, AttemptExpired | AttemptOverdue):
                assert e.at_ms >= attempt.deadline_ms, "closed by time before the deadline"
                assert e.at_ms <= self.now
                self.closed_by_time |= isinstance(e, AttemptExpired)

    def expect_refusal_closed_by_time(self, error: AttemptError) -> None:
        state, finished = by_the_clock(self.attempt, self.now)
        assert state not in (State.IN_PROGRESS, State.OVERDUE)
        if error.attempt is not None:
            assert error.attempt.state is state
            assert error.attempt.finished_ms == finished
            self.store(error.attempt, error.events)
        assert self.attempt.state is state

    # ------------------------------------------------------------ rules

    @rule(ms=JUMPS, sweeper_keeps_up=st.booleans())
    def time_passes(self, ms: int, sweeper_keeps_up: bool) -> None:
        """Time passes; the sweeper either looks at each time the attempt asks for
        (``next_check_ms``) on the way, or falls behind."""
        target = self.now + ms
        while sweeper_keeps_up and self.attempt.next_check_ms is not None:
            if self.attempt.next_check_ms > target:
                break
            self.clock.set(max(self.now, self.attempt.next_check_ms))
            self.sweeper_looks()
        self.clock.set(target)

    @rule(edge=EDGES)
    def the_clock_reaches_an_edge(self, edge: str) -> None:
        a = self.attempt
        at = grace_end(a) if edge.startswith("grace_end") else a.deadline_ms
        target = at + {"-1": -1, "+1": 1}.get(edge[-2:], 0)
        if target >= self.now:
            self.clock.set(target)

    @rule(saves=SAVES, device=st.sampled_from(DEVICES))
    def browser_saves(self, saves: list[Save], device: str) -> None:
        before = self.attempt
        expected_state, _ = by_the_clock(before, self.now)
        try:
            attempt, outcome, events = save_answers(
                before,
                saves,
                latest_seq={k: seq for k, (seq, _) in self.log.items()},
                items=frozenset(KEYS),
                device=device,
                now=self.now,
                grade=self.grade,
            )
        except AttemptError as error:
            if expected_state in (State.IN_PROGRESS, State.OVERDUE):
                assert error.code == "device_moved"
                assert device != self.holder
            else:
                self.expect_refusal_closed_by_time(error)
            return
        assert expected_state in (State.IN_PROGRESS, State.OVERDUE)
        assert device == self.holder
        # the model: in seq order, a save joins the log when newer than its item's newest
        newest = dict(self.acknowledged)
        accepted = []
        for s in sorted(saves, key=lambda s: s.seq):
            if s.seq > newest.get(s.item, 0):
                accepted.append(s)
                newest[s.item] = s.seq
        assert list(outcome.accepted) == accepted
        assert len(outcome.accepted) + len(outcome.repeated) + len(outcome.stale) == len(saves)
        if accepted:
            assert self.now < grace_end(before), "a save accepted after the time was up"
            if self.now >= before.deadline_ms:
                assert before.policy is ExpiryPolicy.GRACE
            assert isinstance(events[-1], AnswersSaved)
        for s in outcome.accepted:
            self.log[s.item] = (s.seq, s.response)
        self.acknowledged = newest
        self.store(attempt, events)
        assert attempt.state is expected_state

    @rule(device=st.sampled_from(DEVICES))
    def learner_resumes(self, device: str) -> None:
        expected_state, _ = by_the_clock(self.attempt, self.now)
        try:
            attempt, events = resume(self.attempt, device=device, now=self.now, grade=self.grade)
        except AttemptError as error:
            self.expect_refusal_closed_by_time(error)
            return
        assert expected_state in (State.IN_PROGRESS, State.OVERDUE)
        self.store(attempt, events)
        assert attempt.state is expected_state
        assert attempt.device == device
        self.holder = device

    @precondition(lambda self: not self.waits or self.now >= self.attempt.deadline_ms)
    @rule(
        sent=st.one_of(st.none(), st.integers(-3_000, 3_000)),
        delay=st.one_of(st.just(0), st.integers(0, 120_000)),
    )
    def learner_submits(self, sent: int | None, delay: int) -> None:
        """The browser sends a submit (``sent``: its time, relative to the deadline) that
        reaches the server ``delay`` ms later, the sweeper not looking meanwhile."""
        before = self.attempt
        sent_ms = None if sent is None else before.deadline_ms + sent
        self.clock.advance(delay)
        now = self.now
        deadline = before.deadline_ms
        sent_in_time = sent_ms is not None and sent_ms < deadline <= now < deadline + NETWORK_GRACE
        swept = before.state is State.EXPIRED and before.finished_ms == deadline
        try:
            attempt, events = submit(
                before, now=now, sent_ms=sent_ms, network_grace_ms=NETWORK_GRACE, grade=self.grade
            )
        except AttemptError as error:
            if before.open:  # closed unscored by its time on the way: the close comes along
                assert error.attempt is not None
                assert error.attempt.state is State.EXPIRED
                assert error.attempt.finished_ms == deadline
                self.store(error.attempt, error.events)
            else:
                assert before.state in (State.EXPIRED, State.TERMINATED)
                assert not (swept and sent_in_time)
            return
        if before.state is State.SUBMITTED:
            assert (attempt, events) == (before, [])
            return
        if swept and sent_in_time:  # the sweeper was first, the submit was sent in time
            assert (attempt.state, attempt.finished_ms) == (State.SUBMITTED, deadline)
            self.store(attempt, events)
            return
        assert before.open
        expected = self.expected_submit(before, now, sent_ms)
        assert (attempt.state, attempt.finished_ms) == expected
        self.store(attempt, events)
        # a second submit changes nothing
        assert submit(
            attempt, now=now, sent_ms=sent_ms, network_grace_ms=NETWORK_GRACE, grade=self.grade
        ) == (attempt, [])

    def expected_submit(self, before: Attempt, now: int, sent_ms: int | None) -> tuple:
        deadline = before.deadline_ms
        if before.state is State.IN_PROGRESS and now < deadline:
            return State.SUBMITTED, now
        if (  # sent in time: finished at the deadline, whether or not the sweeper has
            # moved a grace-policy attempt overdue meanwhile
            before.open
            and now < deadline + NETWORK_GRACE
            and sent_ms is not None
            and sent_ms < deadline
        ):
            return State.SUBMITTED, deadline
        state, finished = by_the_clock(before, now)
        if state is State.OVERDUE:  # a submit in the grace period counts when it arrives
            return State.SUBMITTED, now
        return state, finished

    @rule()
    def sweeper_looks(self) -> None:
        expected = by_the_clock(self.attempt, self.now)
        attempt, events = check_deadline(self.attempt, now=self.now, grade=self.grade)
        assert (attempt.state, attempt.finished_ms) == expected
        self.store(attempt, events)

    def in_time(self) -> bool:
        return by_the_clock(self.attempt, self.now)[0] in (State.IN_PROGRESS, State.OVERDUE)

    @precondition(lambda self: self.attempt.open and self.in_time())
    @rule(extra=st.sampled_from([1, 1_000, 10_000, 600_000]))
    def operator_extends(self, extra: int) -> None:
        attempt, events = extend(self.attempt, extra_ms=extra, by="op", reason="网络", now=self.now)
        assert attempt.deadline_ms == self.attempt.deadline_ms + extra
        if self.now < attempt.deadline_ms:
            assert attempt.state is State.IN_PROGRESS
        self.store(attempt, events)
        self.deadline = attempt.deadline_ms

    @precondition(lambda self: self.proctored and self.attempt.open and self.in_time())
    @rule()
    def proctor_terminates(self) -> None:
        attempt, events = terminate(self.attempt, by="proctor", reason="替考", now=self.now)
        assert (attempt.state, attempt.finished_ms, attempt.passed) == (
            State.TERMINATED,
            self.now,
            False,
        )
        self.store(attempt, events)

    # ------------------------------------------------------------ invariants

    @invariant()
    def closed_attempts_never_reopen(self) -> None:
        a = self.attempt
        if self.closed is not None and a != self.closed:
            # the one way a closed attempt changes: the sweeper's expire_fail close gives
            # way to a submit sent before the deadline (the network grace) — graded, and
            # still finished at the deadline
            assert self.closed.state is State.EXPIRED
            assert (a.state, a.finished_ms) == (State.SUBMITTED, self.closed.finished_ms)
            self.closed = a
        elif not a.open:
            self.closed = a

    @invariant()
    def only_submitted_attempts_have_a_score(self) -> None:
        a = self.attempt
        assert (a.score is not None) is (a.state is State.SUBMITTED)
        assert (a.passed is not None) is (not a.open)
        if a.state in (State.EXPIRED, State.TERMINATED):
            assert a.passed is False
        if a.state is State.SUBMITTED:
            g = self.grade()  # graded from the log as it was when it closed
            assert (a.score, a.max_score, a.passed) == (g.score, g.max_score, g.passed)

    @invariant()
    def finish_times_follow_the_clock(self) -> None:
        a = self.attempt
        assert (a.finished_ms is None) is a.open
        if a.open:
            return
        assert a.finished_ms <= self.now
        assert a.finished_ms <= grace_end(a) or a.state is State.TERMINATED
        if a.state is State.EXPIRED:
            assert a.finished_ms == a.deadline_ms
        if self.closed_by_time:
            assert a.finished_ms in (a.deadline_ms, grace_end(a))

    @invariant()
    def sequence_numbers_and_deadline_never_go_down(self) -> None:
        assert self.attempt.last_seq >= self.last_seq
        self.last_seq = self.attempt.last_seq
        assert self.attempt.deadline_ms >= self.deadline
        self.deadline = self.attempt.deadline_ms

    @invariant()
    def no_acknowledged_save_is_lost(self) -> None:
        assert {k: seq for k, (seq, _) in self.log.items()} == self.acknowledged
        assert self.attempt.last_seq == max(self.acknowledged.values(), default=0)

    @invariant()
    def the_events_agree_with_the_attempt(self) -> None:
        submitted = [e for e in self.events if isinstance(e, AttemptSubmitted)]
        assert len(submitted) == (1 if self.attempt.state is State.SUBMITTED else 0)
        if submitted:
            assert submitted[0].at_ms == self.attempt.finished_ms


AttemptMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)
TestAnyRunOfStepsKeepsTheRulesOfAnAttempt = AttemptMachine.TestCase
