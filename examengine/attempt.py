"""The attempt state machine: start, resume, save, submit, expire — pure, with time passed in.

This module owns the rules of one attempt at an exam and of the attempts a learner may
make (``eligibility``). It reads no clock and stores nothing: every transition takes
``now`` (UTC milliseconds, keyword-only) and returns the new ``Attempt`` and the events
it produced; the shell (api/services/attempts/) loads, calls, and stores the result in
one transaction. The answer log is the shell's to keep; the rules of what may be added
to it are here (``save_answers``).

States (``TRANSITIONS`` is the whole table, tested over every pair)::

    in_progress ──submit──────────────▶ submitted
        │  └─────check_deadline (auto_submit)──▶ submitted
        ├──check_deadline (expire_fail)──▶ expired      (no score, counts as failed)
        ├──check_deadline (grace)──▶ overdue ──submit / check_deadline──▶ submitted
        └──terminate──▶ terminated                     (by a proctor, with a reason)

Time: deadline = start + duration + the learner's extra time (+ any extension). The
server's clock is the only clock. An open attempt past its deadline is closed by
``check_deadline`` with the deadline as its finish time — whoever calls it, whenever
(the sweeper calls it for every attempt whose ``next_check_ms`` has passed). Under a
deadline wave the sweeper splits it: ``close_due`` closes (an auto-submitted attempt
becomes ``submitted`` awaiting its grade), ``grade_closed`` grades, once; whoever reads
the attempt first in between grades it (decision 0021).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any

import msgspec
from msgspec import Struct

from examengine.blueprint import ExpiryPolicy
from examengine.errors import EngineError


class State(StrEnum):
    IN_PROGRESS = "in_progress"
    OVERDUE = "overdue"
    SUBMITTED = "submitted"
    EXPIRED = "expired"
    TERMINATED = "terminated"


#: Every allowed transition. Anything else is refused with ``IllegalTransition``.
TRANSITIONS: Mapping[State, frozenset[State]] = {
    State.IN_PROGRESS: frozenset(
        {State.IN_PROGRESS, State.OVERDUE, State.SUBMITTED, State.EXPIRED, State.TERMINATED}
    ),
    # back to in_progress when an operator extends the time during the grace period
    State.OVERDUE: frozenset({State.IN_PROGRESS, State.OVERDUE, State.SUBMITTED, State.TERMINATED}),
    State.SUBMITTED: frozenset(),
    # a submit sent before the deadline that arrives, within the network grace, after
    # the sweeper closed the attempt by time
    State.EXPIRED: frozenset({State.SUBMITTED}),
    State.TERMINATED: frozenset(),
}
OPEN = frozenset({State.IN_PROGRESS, State.OVERDUE})


class Attempt(Struct, frozen=True, kw_only=True):
    """One attempt. Times are UTC milliseconds. ``last_seq`` is the highest client
    sequence number accepted; ``device`` the device (session) that holds the attempt."""

    id: str
    learner: str
    exam: str
    number: int
    cycle: int
    practice: bool
    state: State
    started_ms: int
    deadline_ms: int
    device: str
    policy: ExpiryPolicy = ExpiryPolicy.EXPIRE_FAIL
    grace_ms: int = 0
    last_seq: int = 0
    finished_ms: int | None = None
    score: float | None = None
    max_score: float | None = None
    passed: bool | None = None
    reason: str = ""

    @property
    def open(self) -> bool:
        return self.state in OPEN

    @property
    def awaiting_grade(self) -> bool:
        """Closed by time (``close_due``) and not graded yet (``grade_closed``)."""
        return self.state is State.SUBMITTED and self.max_score is None

    @property
    def next_check_ms(self) -> int | None:
        """When the sweeper must look at this attempt: its deadline (or the end of its
        grace) while open, its finish while it awaits its grade, None once done."""
        if self.state is State.IN_PROGRESS:
            return self.deadline_ms
        if self.state is State.OVERDUE:
            return self.deadline_ms + self.grace_ms
        if self.awaiting_grade:
            return self.finished_ms
        return None

    def seconds_left(self, *, now: int) -> int:
        """Seconds until the deadline, rounded up (0 only when the time is up or the
        attempt closed); what every reply carries so the browser's countdown follows the
        server's clock."""
        if not self.open:
            return 0
        return max(0, -(-(self.deadline_ms - now) // 1000))


class Grade(Struct, frozen=True, kw_only=True):
    score: float
    max_score: float
    passed: bool


# -------------------------------------------------------------------------- events


class Event(Struct, frozen=True, kw_only=True, tag_field="event"):
    attempt: str
    at_ms: int


class AttemptStarted(Event, frozen=True, kw_only=True, tag="attempt_started"):
    deadline_ms: int
    practice: bool


class AttemptResumed(Event, frozen=True, kw_only=True, tag="attempt_resumed"):
    device: str


class DeviceTakenOver(Event, frozen=True, kw_only=True, tag="device_taken_over"):
    """Integrity: a second device took the attempt over; the first is told it moved."""

    old_device: str
    new_device: str


class AnswersSaved(Event, frozen=True, kw_only=True, tag="answers_saved"):
    count: int
    last_seq: int


class AttemptSubmitted(Event, frozen=True, kw_only=True, tag="attempt_submitted"):
    score: float
    max_score: float
    passed: bool
    late: bool = False


class AttemptOverdue(Event, frozen=True, kw_only=True, tag="attempt_overdue"):
    grace_until_ms: int


class AttemptExpired(Event, frozen=True, kw_only=True, tag="attempt_expired"):
    """Closed at its deadline by policy; ``graded`` tells auto_submit from expire_fail."""

    graded: bool


class AttemptTerminated(Event, frozen=True, kw_only=True, tag="attempt_terminated"):
    by: str
    reason: str


class TimeExtended(Event, frozen=True, kw_only=True, tag="time_extended"):
    by: str
    reason: str
    extra_ms: int
    deadline_ms: int


class AttemptRegraded(Event, frozen=True, kw_only=True, tag="attempt_regraded"):
    """The stored answers were graded again (after a key fix), with who and why."""

    by: str
    reason: str
    old_score: float | None
    score: float
    max_score: float
    passed: bool


AnyEvent = (
    AttemptStarted
    | AttemptResumed
    | DeviceTakenOver
    | AnswersSaved
    | AttemptSubmitted
    | AttemptOverdue
    | AttemptExpired
    | AttemptTerminated
    | TimeExtended
    | AttemptRegraded
)

Events = list[AnyEvent]


# -------------------------------------------------------------------------- errors


class AttemptError(EngineError):
    """A transition was refused; ``code`` says why.

    When the attempt was closed on the way (a save or resume after the deadline closes
    it first), ``attempt`` and ``events`` carry the close, which the shell stores even
    though the request is refused.
    """

    code = "attempt_refused"

    def __init__(
        self,
        code: str,
        message: str,
        message_zh: str,
        *,
        attempt: Attempt | None = None,
        events: Sequence[AnyEvent] = (),
    ) -> None:
        super().__init__(message, message_zh)
        self.code = code
        self.attempt = attempt
        self.events = list(events)


class IllegalTransition(AttemptError):
    def __init__(self, source: State, target: State) -> None:
        super().__init__(
            "illegal_transition",
            f"an attempt that is {source.value} cannot become {target.value}",
            f"考试状态不能从“{_STATE_ZH[source]}”变为“{_STATE_ZH[target]}”",
        )
        self.source = source
        self.target = target


_STATE_ZH = {
    State.IN_PROGRESS: "进行中",
    State.OVERDUE: "超时宽限中",
    State.SUBMITTED: "已交卷",
    State.EXPIRED: "已超时",
    State.TERMINATED: "已终止",
}


def _move(attempt: Attempt, target: State, **changes: Any) -> Attempt:
    if target not in TRANSITIONS[attempt.state]:
        raise IllegalTransition(attempt.state, target)
    return msgspec.structs.replace(attempt, state=target, **changes)


def closed_error(attempt: Attempt, events: Sequence[AnyEvent] = ()) -> AttemptError:
    """Why a closed attempt refuses a save or a resume, in the learner's words.

    ``events`` are those of the close that just happened, if any: an attempt graded
    because its time ran out is "time is up", not "you submitted".
    """
    by_time = attempt.state is State.SUBMITTED and any(
        isinstance(e, AttemptExpired) for e in events
    )
    if attempt.state is State.EXPIRED:
        words = (
            "attempt_expired",
            "the time for this attempt ran out; it was recorded as failed",
            "本次考试时间已到，按规定记为不合格",
        )
    elif attempt.state is State.TERMINATED:
        words = (
            "attempt_terminated",
            f"this attempt was ended by a proctor: {attempt.reason}",
            f"本次考试已被监考人员终止：{attempt.reason}",
        )
    elif by_time or attempt.open:
        words = (
            "deadline_passed",
            "the time for this attempt is up; answers can no longer be saved",
            "本次考试时间已到，不能再保存答案",
        )
    else:
        words = ("attempt_closed", "this attempt has been submitted", "本次考试已交卷")
    return AttemptError(*words, attempt=attempt, events=events)


# -------------------------------------------------------------------- transitions


def start(
    *,
    attempt_id: str,
    learner: str,
    exam: str,
    number: int,
    cycle: int,
    practice: bool,
    duration_ms: int,
    extra_ms: int,
    policy: ExpiryPolicy,
    grace_ms: int,
    device: str,
    now: int,
) -> tuple[Attempt, Events]:
    """A new attempt, counting from ``now``. Whether the learner may start it is
    ``eligibility``'s to say, before calling this."""
    deadline = now + duration_ms + extra_ms
    attempt = Attempt(
        id=attempt_id,
        learner=learner,
        exam=exam,
        number=number,
        cycle=cycle,
        practice=practice,
        state=State.IN_PROGRESS,
        started_ms=now,
        deadline_ms=deadline,
        device=device,
        policy=policy,
        grace_ms=grace_ms,
    )
    return attempt, [
        AttemptStarted(attempt=attempt_id, at_ms=now, deadline_ms=deadline, practice=practice)
    ]


def resume(
    attempt: Attempt, *, device: str, now: int, grade: Callable[[], Grade]
) -> tuple[Attempt, Events]:
    """The learner is back (same or another device) before the deadline: the same
    attempt, the clock still running. A new device takes over; the old one is told.

    Past the deadline the attempt is closed first (``check_deadline``) and the resume
    refused with the reason.
    """
    attempt, events = check_deadline(attempt, now=now, grade=grade)
    if not attempt.open:
        raise closed_error(attempt, events)
    events.append(AttemptResumed(attempt=attempt.id, at_ms=now, device=device))
    if device != attempt.device:
        events.append(
            DeviceTakenOver(
                attempt=attempt.id, at_ms=now, old_device=attempt.device, new_device=device
            )
        )
        attempt = _move(attempt, attempt.state, device=device)
    return attempt, events


class Save(Struct, frozen=True, kw_only=True):
    """One answer change from the browser: ``seq`` is the client's sequence number,
    increasing with every change it makes in this attempt."""

    item: str
    seq: int
    response: Any = None


class SaveOutcome(Struct, frozen=True, kw_only=True):
    """Which saves go into the log (``accepted``), which were already there
    (``repeated``: the same seq again, a no-op) and which are older than the newest
    change of their item (``stale``: never overwrite a newer answer)."""

    accepted: tuple[Save, ...] = ()
    repeated: tuple[Save, ...] = ()
    stale: tuple[Save, ...] = ()


def save_answers(
    attempt: Attempt,
    saves: Sequence[Save],
    *,
    latest_seq: Mapping[str, int],
    items: frozenset[str],
    device: str,
    now: int,
    grade: Callable[[], Grade],
) -> tuple[Attempt, SaveOutcome, Events]:
    """Which of ``saves`` join the answer log.

    ``latest_seq`` maps each item to the seq of its newest logged change. A batch is
    applied in seq order. Refused whole (``AttemptError``) when the attempt is closed or
    past its deadline (closing it first), when another device holds it, or when a save
    names an item not on the paper.
    """
    attempt, events = check_deadline(attempt, now=now, grade=grade)
    if not attempt.open:
        raise closed_error(attempt, events)
    if device != attempt.device:
        raise AttemptError(
            "device_moved",
            "this attempt was continued on another device; this one can no longer save",
            "本次考试已在另一台设备上继续，当前设备不能再保存答案",
        )
    unknown = sorted({s.item for s in saves} - items)
    if unknown:
        raise AttemptError(
            "unknown_item",
            f"not on this paper: {', '.join(unknown)}",
            f"以下题目不在本试卷中：{'、'.join(unknown)}",
        )
    accepted, repeated, stale = [], [], []
    newest = dict(latest_seq)
    for save in sorted(saves, key=lambda s: s.seq):
        current = newest.get(save.item, 0)
        if save.seq == current:
            repeated.append(save)
        elif save.seq < current:
            stale.append(save)
        else:
            accepted.append(save)
            newest[save.item] = save.seq
    if accepted:
        last = max(attempt.last_seq, accepted[-1].seq)
        attempt = _move(attempt, attempt.state, last_seq=last)
        events.append(
            AnswersSaved(attempt=attempt.id, at_ms=now, count=len(accepted), last_seq=last)
        )
    outcome = SaveOutcome(accepted=tuple(accepted), repeated=tuple(repeated), stale=tuple(stale))
    return attempt, outcome, events


def submit(
    attempt: Attempt,
    *,
    now: int,
    sent_ms: int | None,
    network_grace_ms: int,
    grade: Callable[[], Grade],
) -> tuple[Attempt, Events]:
    """Close and grade. Idempotent: a submitted attempt returns itself and no events;
    an expired or terminated one refuses with the reason (``AttemptError``).

    A submit arriving after the deadline still counts if it arrives within
    ``network_grace_ms`` and the browser says it sent it before the deadline
    (``sent_ms``, its estimate of the server's clock) — even if the sweeper closed the
    attempt by time in between; it is then finished at the deadline. Otherwise a submit
    past the deadline closes the attempt by its policy, exactly as the sweeper would.
    """
    sent_in_time = (
        sent_ms is not None
        and sent_ms < attempt.deadline_ms <= now < attempt.deadline_ms + network_grace_ms
    )
    swept = attempt.state is State.EXPIRED and attempt.finished_ms == attempt.deadline_ms
    if attempt.state is State.SUBMITTED:  # graded now if it was closed awaiting a grade
        return grade_closed(attempt, grade=grade)
    if not attempt.open and not (swept and sent_in_time):
        raise closed_error(attempt)
    events: Events = []
    if not sent_in_time:
        attempt, events = check_deadline(attempt, now=now, grade=grade)
        if attempt.state is State.SUBMITTED:  # graded at its deadline by policy
            return attempt, events
        if not attempt.open:
            raise closed_error(attempt, events)
    result = grade()
    finished = attempt.deadline_ms if sent_in_time else now
    attempt = _move(
        attempt,
        State.SUBMITTED,
        finished_ms=finished,
        score=result.score,
        max_score=result.max_score,
        passed=result.passed,
    )
    events.append(
        AttemptSubmitted(
            attempt=attempt.id,
            at_ms=finished,
            score=result.score,
            max_score=result.max_score,
            passed=result.passed,
            late=sent_in_time,
        )
    )
    return attempt, events


def check_deadline(
    attempt: Attempt, *, now: int, grade: Callable[[], Grade]
) -> tuple[Attempt, Events]:
    """The one time-driven transition: close an open attempt whose time is up, and grade
    it if its policy grades (``close_due``, then ``grade_closed``).

    ``expire_fail`` (the source rule): no score, recorded as failed, finished at the
    deadline. ``auto_submit``: graded from what was saved, finished at the deadline.
    ``grace``: overdue until ``deadline + grace``, then graded, finished then. An
    attempt closed earlier and not yet graded (``awaiting_grade``) is graded now.
    ``grade`` is only called when the attempt is graded now.
    """
    attempt, events = close_due(attempt, now=now)
    if attempt.awaiting_grade:
        attempt, graded = grade_closed(attempt, grade=grade)
        events = [*events, *graded]
    return attempt, events


def close_due(attempt: Attempt, *, now: int) -> tuple[Attempt, Events]:
    """The close alone (decision 0021): ``check_deadline``'s transition without the
    grading, so a deadline wave is closed — state and finish time — in one pass, and
    graded after. A graded policy's attempt closes ``submitted`` with no score yet
    (``awaiting_grade``; its ``next_check_ms`` is its finish, so it stays due) and
    ``grade_closed`` grades it once."""
    if not attempt.open:
        return attempt, []
    if attempt.state is State.IN_PROGRESS and now < attempt.deadline_ms:
        return attempt, []
    if attempt.policy is ExpiryPolicy.GRACE:
        grace_end = attempt.deadline_ms + attempt.grace_ms
        if now < grace_end:
            if attempt.state is State.OVERDUE:
                return attempt, []
            return _move(attempt, State.OVERDUE), [
                AttemptOverdue(
                    attempt=attempt.id, at_ms=attempt.deadline_ms, grace_until_ms=grace_end
                )
            ]
        return _closed_for_grading(attempt, grace_end)
    if attempt.policy is ExpiryPolicy.AUTO_SUBMIT:
        return _closed_for_grading(attempt, attempt.deadline_ms)
    closed = _move(attempt, State.EXPIRED, finished_ms=attempt.deadline_ms, passed=False)
    return closed, [AttemptExpired(attempt=attempt.id, at_ms=attempt.deadline_ms, graded=False)]


def _closed_for_grading(attempt: Attempt, at: int) -> tuple[Attempt, Events]:
    closed = _move(attempt, State.SUBMITTED, finished_ms=at)
    return closed, [AttemptExpired(attempt=attempt.id, at_ms=at, graded=True)]


def grade_closed(attempt: Attempt, *, grade: Callable[[], Grade]) -> tuple[Attempt, Events]:
    """Grade an attempt ``close_due`` closed without a score: exactly once, as an
    attempt already graded (or not awaiting a grade) returns itself and no events. The
    ``attempt_submitted`` event carries the finish time, not the grading time."""
    if not attempt.awaiting_grade:
        return attempt, []
    result = grade()
    graded = msgspec.structs.replace(
        attempt, score=result.score, max_score=result.max_score, passed=result.passed
    )
    at = attempt.finished_ms if attempt.finished_ms is not None else attempt.deadline_ms
    return graded, [
        AttemptSubmitted(
            attempt=attempt.id,
            at_ms=at,
            score=result.score,
            max_score=result.max_score,
            passed=result.passed,
        )
    ]


def terminate(attempt: Attempt, *, by: str, reason: str, now: int) -> tuple[Attempt, Events]:
    """A proctor ends an open attempt; it counts as failed. A reason is required."""
    if not reason.strip():
        raise AttemptError("reason_required", "give a reason", "请填写原因")
    _refuse_if_closed_or_due(attempt, now)
    closed = _move(attempt, State.TERMINATED, finished_ms=now, passed=False, reason=reason)
    return closed, [AttemptTerminated(attempt=attempt.id, at_ms=now, by=by, reason=reason)]


def _refuse_if_closed_or_due(attempt: Attempt, now: int) -> None:
    """An operator acts only on an attempt that is open and not yet due to be closed by
    time, so the outcome never depends on whether the sweeper got there first."""
    if not attempt.open:
        raise closed_error(attempt)
    grace = attempt.grace_ms if attempt.policy is ExpiryPolicy.GRACE else 0
    if now >= attempt.deadline_ms + grace:
        raise AttemptError(
            "deadline_passed",
            "the time for this attempt is up and it is being closed; grant another attempt instead",
            "本次考试时间已到，正在按规定结束；如需补考，请增加考试次数",
        )


def extend(
    attempt: Attempt, *, extra_ms: int, by: str, reason: str, now: int
) -> tuple[Attempt, Events]:
    """An operator gives an open attempt more time (recorded with who and why)."""
    if extra_ms <= 0:
        raise AttemptError("bad_extension", "the extra time must be positive", "延长时间必须为正数")
    if not reason.strip():
        raise AttemptError("reason_required", "give a reason", "请填写原因")
    _refuse_if_closed_or_due(attempt, now)
    deadline = attempt.deadline_ms + extra_ms
    state = State.IN_PROGRESS if now < deadline else attempt.state
    moved = _move(attempt, state, deadline_ms=deadline)
    return moved, [
        TimeExtended(
            attempt=attempt.id,
            at_ms=now,
            by=by,
            reason=reason,
            extra_ms=extra_ms,
            deadline_ms=deadline,
        )
    ]


def regrade(
    attempt: Attempt, *, by: str, reason: str, now: int, grade: Callable[[], Grade]
) -> tuple[Attempt, Events]:
    """Grade a submitted attempt again from its stored answers (``grade`` replays the
    answer log against the corrected items). Expired and terminated attempts have no
    score to correct; open ones are graded when they close."""
    if not reason.strip():
        raise AttemptError("reason_required", "give a reason", "请填写原因")
    if attempt.state is not State.SUBMITTED:
        raise AttemptError(
            "not_gradable",
            f"only submitted attempts can be regraded; this one is {attempt.state.value}",
            f"只有已交卷的考试可以重新评分，本次考试状态为“{_STATE_ZH[attempt.state]}”",
        )
    result = grade()
    regraded = msgspec.structs.replace(
        attempt, score=result.score, max_score=result.max_score, passed=result.passed
    )
    return regraded, [
        AttemptRegraded(
            attempt=attempt.id,
            at_ms=now,
            by=by,
            reason=reason,
            old_score=attempt.score,
            score=result.score,
            max_score=result.max_score,
            passed=result.passed,
        )
    ]
