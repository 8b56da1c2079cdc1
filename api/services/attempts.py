"""Attempt use cases: the learner's exams, start, resume, the paper, answer saves,
heartbeats, submit and results; the operators' extensions, grants, terminations, step
logs, regrades and live list; and ``sweep``, the time-driven close.

Each public function is one unit of work on a session the caller opened
(``api.store.db.transaction``) and takes the time as ``now`` (UTC milliseconds, read once by
the caller). The rules are examengine's (``attempt``, ``eligibility``, ``grading``); this
module loads rows, calls the core, and stores what it returns: the attempt row, the
accepted answer steps (append-only) and every event.

Concurrency (docs/decisions/0007): every use case that changes an attempt locks its row
first — ``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the transaction's first
statement is a write (``_lock_sqlite``), which takes the database's one write lock up
front, as ``BEGIN IMMEDIATE`` would, so the rows read next are the latest and no one
changes them before the commit. Starting an attempt locks the learner's enrollment row
the same way, so two starts at once cannot both pass the eligibility check.

A refused request that closed the attempt on the way (a save after the deadline) stores
the close and **commits it** before the refusal propagates: the caller's transaction
rolls back on the error, and the close must not be lost with it.

The answer key never leaves this module before the attempt is closed: the learner's
views (``PaperView``, ``SaveResult``, ``Heartbeat``, ``MyExams``) are built from stems,
option texts and prompts only; ``ResultView`` adds the key only when the attempt is
closed and the spec shows it.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
import sqlalchemy as sa
from msgspec import Struct
from sqlmodel import Session, col, select

from api.services import banks, exams
from api.store.tables import (
    AnswerStep,
    AttemptEvent,
    AttemptOverride,
    Bank,
    BankVersion,
    Enrollment,
    Exam,
    ExamVersion,
    ItemResponse,
    User,
)
from api.store.tables import Attempt as AttemptRow
from api.store.tables import Paper as PaperRow
from examengine import attempt as core
from examengine.assembly import Paper, PaperItem
from examengine.blueprint import ExamSpec, ExpiryPolicy
from examengine.eligibility import AttemptRecord, Eligibility, eligibility
from examengine.errors import EngineError
from examengine.grading import PaperResult, grade
from itembank.model import (
    FillBlank,
    Item,
    Matching,
    MultipleChoice,
    Numerical,
    SingleChoice,
    TrueFalse,
)
from itembank.scoring import ResponseShapeError, score

#: Saves per request, and the most characters a response may take as JSON.
MAX_SAVES = 200
MAX_RESPONSE_CHARS = 4000
#: Attempts the sweeper closes per transaction.
SWEEP_BATCH = 500
#: Rows of the operators' live list.
LIVE_LIMIT = 1000
OPEN_STATES = (core.State.IN_PROGRESS.value, core.State.OVERDUE.value)
T = TypeVar("T")


# --------------------------------------------------------------------------- errors


class AttemptServiceError(EngineError):
    """Root of this module's errors (the core's refusals are ``core.AttemptError``)."""

    code = "attempt_service_error"


class AttemptNotFoundError(AttemptServiceError):
    """No such attempt — or not this learner's (the same answer, so ids cannot be probed)."""

    code = "attempt_not_found"

    def __init__(self, attempt_id: str) -> None:
        self.attempt_id = attempt_id
        super().__init__(f"there is no attempt {attempt_id!r}", f"考试记录 {attempt_id!r} 不存在")


class LearnerNotFoundError(AttemptServiceError):
    code = "learner_not_found"

    def __init__(self, login: str) -> None:
        self.login = login
        super().__init__(f"there is no account {login!r}", f"账号 {login!r} 不存在")


class NotEligibleError(AttemptServiceError):
    """The learner may not start an attempt; ``code`` is eligibility's reason and
    ``problems`` holds the whole answer (attempts left, the open attempt …)."""

    def __init__(self, answer: Eligibility) -> None:
        self.code = answer.code
        self.eligibility = answer
        self.problems = (answer,)
        super().__init__(answer.message, answer.message_zh)


class BadAnswerError(AttemptServiceError):
    """A save names an item and carries a response the item cannot take."""

    code = "bad_response"

    def __init__(self, item: str, message: str, message_zh: str) -> None:
        self.item = item
        super().__init__(message, message_zh)


# ----------------------------------------------------------------------------- wire


class Save(Struct, frozen=True, kw_only=True):
    """One answer change: ``seq`` increases with every change the browser makes."""

    item: str
    seq: int
    response: Any = None


class SaveRef(Struct, frozen=True, kw_only=True, array_like=True):
    item: str
    seq: int


class OpenAttempt(Struct, frozen=True, kw_only=True):
    attempt: str
    practice: bool
    seconds_left: int
    deadline_ms: int


class AttemptSummary(Struct, frozen=True, kw_only=True):
    attempt: str
    number: int
    cycle: int
    practice: bool
    state: str
    started_ms: int
    finished_ms: int | None = None
    score: float | None = None
    max_score: float | None = None
    passed: bool | None = None


class ExamEntry(Struct, frozen=True, kw_only=True):
    """One enrolled exam as the learner sees it: may a formal attempt start, and why."""

    exam: str
    title: str
    duration_s: int
    may_start: bool
    code: str
    message: str
    message_zh: str
    cycle: int
    attempts_used: int
    attempts_allowed: int
    attempts_left: int
    locked: bool
    passed: bool
    practice_enabled: bool
    open_attempt: OpenAttempt | None = None
    open_practice: OpenAttempt | None = None
    history: tuple[AttemptSummary, ...] = ()


class MyExams(Struct, frozen=True, kw_only=True):
    server_ms: int
    exams: tuple[ExamEntry, ...]


class OptionView(Struct, frozen=True, kw_only=True):
    id: str
    text: str


class PaperItemView(Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An item as the learner sees it: no fractions, feedback, answers or explanation.
    ``options`` (single/multiple) are in the paper's order; a matching item shows its
    ``prompts`` in order and its ``answers`` (distractors included) shuffled."""

    position: int
    item: str
    kind: str
    section: int
    section_title: str
    stem: str
    points: float
    options: tuple[OptionView, ...] = ()
    prompts: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()


class AnswerView(Struct, frozen=True, kw_only=True):
    item: str
    seq: int
    response: Any = None


class PaperView(Struct, frozen=True, kw_only=True):
    """The learner's paper and their latest saved answers. ``last_seq`` is the highest
    sequence number accepted: a browser (or a new device) numbers its changes after it."""

    attempt: str
    exam: str
    title: str
    practice: bool
    number: int
    state: str
    seconds_left: int
    deadline_ms: int
    server_ms: int
    last_seq: int
    items: tuple[PaperItemView, ...]
    answers: tuple[AnswerView, ...]


class SaveResult(Struct, frozen=True, kw_only=True):
    attempt: str
    accepted: tuple[SaveRef, ...]
    repeated: tuple[SaveRef, ...]
    stale: tuple[SaveRef, ...]
    last_seq: int
    seconds_left: int
    server_ms: int


class Heartbeat(Struct, frozen=True, kw_only=True):
    """``device_moved``: another device took the attempt over; this one can no longer save."""

    attempt: str
    state: str
    seconds_left: int
    deadline_ms: int
    server_ms: int
    device_moved: bool


class ItemReview(Struct, frozen=True, kw_only=True):
    """One item after the close, when the spec shows the key."""

    position: int
    item: str
    points: float
    max_points: float
    response: Any
    correct: Any
    explanation: str = ""


class ResultView(Struct, frozen=True, kw_only=True):
    """An attempt's outcome. ``passed`` is None while it is open; an expired attempt has
    no score and ``passed`` false. ``items`` (the key) only when ``key_shown``."""

    attempt: str
    exam: str
    practice: bool
    number: int
    state: str
    seconds_left: int
    server_ms: int
    started_ms: int
    deadline_ms: int
    finished_ms: int | None
    score: float | None
    max_score: float | None
    passed: bool | None
    reason: str
    key_shown: bool
    items: tuple[ItemReview, ...] = ()


class OperatorAttempt(Struct, frozen=True, kw_only=True):
    """An attempt as an operator sees it after acting on it."""

    attempt: str
    learner: str
    exam: str
    state: str
    seconds_left: int
    deadline_ms: int
    server_ms: int
    score: float | None = None
    max_score: float | None = None
    passed: bool | None = None
    reason: str = ""


class GrantOutcome(Struct, frozen=True, kw_only=True):
    learner: str
    exam: str
    cycle: int
    extra_attempts: int
    extra_time_ms: int
    #: Attempts the learner may now make in this cycle, counting the grant.
    attempts_allowed: int


class StepView(Struct, frozen=True, kw_only=True):
    item: str
    seq: int
    response: Any
    saved_ms: int
    device: str


class EventView(Struct, frozen=True, kw_only=True):
    kind: str
    at_ms: int
    data: dict[str, Any]


class StepLog(Struct, frozen=True, kw_only=True):
    attempt: str
    learner: str
    exam: str
    state: str
    steps: tuple[StepView, ...]
    events: tuple[EventView, ...]


class LiveAttempt(Struct, frozen=True, kw_only=True):
    attempt: str
    learner: str
    exam: str
    practice: bool
    state: str
    seconds_left: int
    deadline_ms: int
    device: str
    last_save_ms: int | None
    events: int


class LiveList(Struct, frozen=True, kw_only=True):
    server_ms: int
    attempts: tuple[LiveAttempt, ...]


class SweepOutcome(Struct, frozen=True, kw_only=True):
    #: Attempts looked at (due) and attempts closed (or moved into their grace period).
    checked: int
    changed: int


# ------------------------------------------------------------------------ enrollment


def enroll(session: Session, *, learner_id: int, exam: str, study_met: bool, now: int) -> None:
    """Enroll the learner for ``exam`` (idempotent; ``study_met`` True is kept)."""
    row = session.exec(
        select(Enrollment).where(Enrollment.learner_id == learner_id, Enrollment.exam_key == exam)
    ).first()
    if row is None:
        session.add(
            Enrollment(
                learner_id=learner_id, exam_key=exam, study_met=study_met, created_at=_dt(now)
            )
        )
    elif study_met and not row.study_met:
        row.study_met = True
        session.add(row)
    session.flush()


def new_study_cycle(session: Session, *, learner_id: int, exam: str) -> int:
    """The learner studied again: a new cycle with its own attempts opens (what
    examengine.credit will decide; called by tests and operators until then)."""
    _lock_sqlite(session)
    row = _enrollment(session, learner_id, exam, for_update=True)
    if row is None:
        raise _not_enrolled(exam)
    row.study_cycle += 1
    row.study_met = True
    session.add(row)
    session.flush()
    return row.study_cycle


# --------------------------------------------------------------------------- learner


def my_exams(session: Session, *, learner_id: int, now: int) -> MyExams:
    """Every exam the learner is enrolled for: may they start, what is left, what is
    open (read-only: an attempt past its deadline shows 0 s until the sweeper closes it)."""
    entries = []
    enrollments = session.exec(
        select(Enrollment)
        .where(Enrollment.learner_id == learner_id)
        .order_by(col(Enrollment.exam_key))
    ).all()
    for enrollment in enrollments:
        found = _published_spec(session, enrollment.exam_key)
        if found is None:
            continue
        spec = found[1]
        rows = _history_rows(session, learner_id, enrollment.exam_key)
        answer = _eligibility(session, enrollment, spec, rows, practice=False)
        practice = _eligibility(session, enrollment, spec, rows, practice=True)
        entries.append(
            ExamEntry(
                exam=enrollment.exam_key,
                title=spec.title,
                duration_s=spec.duration_s,
                may_start=answer.may_start,
                code=answer.code,
                message=answer.message,
                message_zh=answer.message_zh,
                cycle=answer.cycle,
                attempts_used=answer.attempts_used,
                attempts_allowed=answer.attempts_allowed,
                attempts_left=answer.attempts_left,
                locked=answer.locked,
                passed=answer.passed,
                practice_enabled=spec.practice.enabled and practice.code != "practice_disabled",
                open_attempt=_open_of(rows, practice=False, now=now),
                open_practice=_open_of(rows, practice=True, now=now),
                history=tuple(_summary(r) for r in rows),
            )
        )
    return MyExams(server_ms=now, exams=tuple(entries))


def start(
    session: Session,
    *,
    learner_id: int,
    exam: str,
    practice: bool,
    device: str,
    now: int,
    secret: bytes,
) -> PaperView:
    """A new attempt: eligibility, the paper (built or the stored one), the core's start.

    Attempts of this exam past their deadline are closed first. Raises
    ``NotEligibleError`` (not enrolled, an attempt open, attempts used up, study
    required, passed, no practice) or the exams service's errors.
    """
    _lock_sqlite(session)
    enrollment = _enrollment(session, learner_id, exam, for_update=True)
    if enrollment is None:
        raise _not_enrolled(exam)
    found = _published_spec(session, exam)
    if found is None:
        raise exams.ExamNotPublishedError(exam)
    version_row, spec = found
    _close_due(session, learner_id, exam, now)
    rows = _history_rows(session, learner_id, exam)
    answer = _eligibility(session, enrollment, spec, rows, practice=practice)
    if not answer.may_start:
        raise NotEligibleError(answer)
    number = 1 + sum(1 for r in rows if r.practice == practice)
    learner_ref = _learner_ref(learner_id, practice=practice)
    record = exams.build_or_get_paper(
        session,
        exam=exam,
        learner=learner_ref,
        attempt=number,
        secret=secret,
        now=_dt(now),
        version=version_row.version,
    )
    paper_id = session.exec(
        select(PaperRow.id).where(
            PaperRow.exam_version_id == version_row.id,
            PaperRow.learner_ref == learner_ref,
            PaperRow.attempt == number,
        )
    ).one()
    attempt, events = core.start(
        attempt_id=uuid.uuid4().hex,
        learner=str(learner_id),
        exam=exam,
        number=number,
        cycle=enrollment.study_cycle,
        practice=practice,
        duration_ms=spec.duration_s * 1000,
        extra_ms=_standing_extra_ms(session, learner_id, exam),
        policy=spec.expiry,
        grace_ms=spec.grace_s * 1000,
        device=device,
        now=now,
    )
    assert version_row.id is not None and paper_id is not None
    row = AttemptRow(
        id=attempt.id,
        learner_id=learner_id,
        exam_key=exam,
        exam_version_id=version_row.id,
        paper_id=paper_id,
        number=number,
        cycle=attempt.cycle,
        practice=practice,
        state=attempt.state.value,
        policy=attempt.policy.value,
        grace_ms=attempt.grace_ms,
        started_ms=attempt.started_ms,
        deadline_ms=attempt.deadline_ms,
        next_check_ms=attempt.next_check_ms,
        device=device,
    )
    session.add(row)
    session.flush()
    _add_events(session, events)
    context = _Context(spec=spec, paper=record.paper, items=_items(session, version_row))
    return _paper_view(row, attempt, context, {}, now=now)


def resume(
    session: Session, *, learner_id: int, attempt_id: str, device: str, now: int
) -> PaperView:
    """Back before the deadline (this device or another, which takes over): the paper,
    the saved answers, the clock still running. Past the deadline the attempt is closed
    (and the close stored) and the resume refused with the reason (``core.AttemptError``)."""
    row = _locked(session, attempt_id, learner_id=learner_id)
    loader = _Loader(session, now=now)
    attempt = _domain(row)
    attempt, events = _call(
        session,
        row,
        lambda: core.resume(attempt, device=device, now=now, grade=loader.grader(row)),
    )
    _store(session, row, attempt, events)
    context = loader.context(row)
    return _paper_view(row, attempt, context, loader.latest(row.id), now=now)


def paper_view(
    session: Session, *, learner_id: int, attempt_id: str, device: str, now: int
) -> PaperView:
    """The learner's paper without its key, and their latest answers. An attempt whose
    time is up is closed first (the view then says so; the key stays out of it)."""
    row = _close_if_due(session, _owned(session, attempt_id, learner_id), now)
    loader = _Loader(session, now=now)
    return _paper_view(row, _domain(row), loader.context(row), loader.latest(row.id), now=now)


def save_answers(
    session: Session,
    *,
    learner_id: int,
    attempt_id: str,
    saves: Sequence[Save],
    device: str,
    now: int,
) -> SaveResult:
    """Store the accepted saves as answer steps (append-only) and say which were
    repeated or stale. Refused whole: a response of the wrong shape (``BadAnswerError``,
    naming the item), or the core's refusals (closed, past the deadline — the close is
    stored —, another device, an item not on the paper)."""
    row = _locked(session, attempt_id, learner_id=learner_id)
    loader = _Loader(session, now=now)
    context = loader.context(row)
    _check_shapes(saves, context.items, frozenset(context.keys))
    attempt = _domain(row)
    attempt, outcome, events = _call(
        session,
        row,
        lambda: core.save_answers(
            attempt,
            [core.Save(item=s.item, seq=s.seq, response=s.response) for s in saves],
            latest_seq=_latest_seqs(session, row.id),
            items=frozenset(context.keys),
            device=device,
            now=now,
            grade=loader.grader(row),
        ),
    )
    if outcome.accepted:
        session.execute(
            sa.insert(AnswerStep),
            [
                {
                    "attempt_id": row.id,
                    "item_key": s.item,
                    "seq": s.seq,
                    "response": _encode(s.response),
                    "saved_ms": now,
                    "device": device,
                }
                for s in outcome.accepted
            ],
        )
    _store(session, row, attempt, events)
    return SaveResult(
        attempt=row.id,
        accepted=_refs(outcome.accepted),
        repeated=_refs(outcome.repeated),
        stale=_refs(outcome.stale),
        last_seq=attempt.last_seq,
        seconds_left=attempt.seconds_left(now=now),
        server_ms=now,
    )


def heartbeat(
    session: Session, *, learner_id: int, attempt_id: str, device: str, now: int
) -> Heartbeat:
    """Seconds left (and whether another device took over); closes the attempt if its
    time is up. No lock unless it is due: heartbeats are the most frequent call."""
    row = _close_if_due(session, _owned(session, attempt_id, learner_id), now)
    attempt = _domain(row)
    return Heartbeat(
        attempt=row.id,
        state=row.state,
        seconds_left=attempt.seconds_left(now=now),
        deadline_ms=row.deadline_ms,
        server_ms=now,
        device_moved=attempt.open and row.device != device,
    )


def submit(
    session: Session,
    *,
    learner_id: int,
    attempt_id: str,
    sent_ms: int | None,
    network_grace_ms: int,
    now: int,
) -> ResultView:
    """Close and grade (idempotent: a submitted attempt answers its result again and
    records nothing). Late, outside the network grace, the attempt closes by its policy."""
    row = _locked(session, attempt_id, learner_id=learner_id)
    loader = _Loader(session, now=now)
    attempt = _domain(row)
    attempt, events = _call(
        session,
        row,
        lambda: core.submit(
            attempt,
            now=now,
            sent_ms=sent_ms,
            network_grace_ms=network_grace_ms,
            grade=loader.grader(row),
        ),
    )
    _store(session, row, attempt, events)
    return _result_view(row, attempt, loader, now=now)


def result(session: Session, *, learner_id: int, attempt_id: str, now: int) -> ResultView:
    """The outcome; the key and explanations only once closed and if the spec shows
    them (``practice.show_key`` for practice, ``show_key_after_close`` otherwise)."""
    row = _close_if_due(session, _owned(session, attempt_id, learner_id), now)
    return _result_view(row, _domain(row), _Loader(session, now=now), now=now)


# -------------------------------------------------------------------------- operator


def extend(
    session: Session,
    *,
    attempt_id: str,
    extra_ms: int,
    by_id: int,
    by: str,
    reason: str,
    now: int,
) -> OperatorAttempt:
    """Give a running attempt more time, recorded as an override with who and why."""
    row = _locked(session, attempt_id)
    attempt = _domain(row)
    attempt, events = _call(
        session,
        row,
        lambda: core.extend(attempt, extra_ms=extra_ms, by=by, reason=reason, now=now),
    )
    _store(session, row, attempt, events)
    session.add(
        AttemptOverride(
            learner_id=row.learner_id,
            exam_key=row.exam_key,
            cycle=row.cycle,
            attempt_id=row.id,
            extra_time_ms=extra_ms,
            by_id=by_id,
            reason=reason,
            at_ms=now,
        )
    )
    session.flush()
    return _operator_view(session, row, now=now)


def grant(
    session: Session,
    *,
    login: str,
    exam: str,
    extra_attempts: int,
    extra_time_ms: int,
    by_id: int,
    reason: str,
    now: int,
) -> GrantOutcome:
    """Grant extra attempts in the learner's current study cycle and/or extra time for
    every later attempt of ``exam`` (an individual allowance), with who and why."""
    if not reason.strip():
        raise core.AttemptError("reason_required", "give a reason", "请填写原因")
    if extra_attempts <= 0 and extra_time_ms <= 0:
        raise core.AttemptError(
            "empty_grant",
            "grant extra attempts, extra time, or both",
            "请填写增加的考试次数或考试时间",
        )
    learner = session.exec(select(User).where(User.login == login)).first()
    if learner is None or learner.id is None:
        raise LearnerNotFoundError(login)
    _lock_sqlite(session)
    enrollment = _enrollment(session, learner.id, exam, for_update=True)
    if enrollment is None:
        raise _not_enrolled(exam)
    session.add(
        AttemptOverride(
            learner_id=learner.id,
            exam_key=exam,
            cycle=enrollment.study_cycle,
            extra_time_ms=extra_time_ms,
            extra_attempts=extra_attempts,
            by_id=by_id,
            reason=reason,
            at_ms=now,
        )
    )
    session.flush()
    found = _published_spec(session, exam)
    base = found[1].max_attempts if found is not None else 0
    return GrantOutcome(
        learner=login,
        exam=exam,
        cycle=enrollment.study_cycle,
        extra_attempts=extra_attempts,
        extra_time_ms=extra_time_ms,
        attempts_allowed=base + _extra_attempts(session, learner.id, exam, enrollment.study_cycle),
    )


def terminate(
    session: Session, *, attempt_id: str, by: str, reason: str, now: int
) -> OperatorAttempt:
    """A proctor ends a running attempt; it counts as failed."""
    row = _locked(session, attempt_id)
    attempt = _domain(row)
    attempt, events = _call(
        session, row, lambda: core.terminate(attempt, by=by, reason=reason, now=now)
    )
    _store(session, row, attempt, events)
    return _operator_view(session, row, now=now)


def regrade(
    session: Session, *, attempt_id: str, by: str, reason: str, now: int
) -> OperatorAttempt:
    """Replay the stored answers against the newest published version of the bank's
    items (an item it lacks keeps its original version); records ``attempt_regraded``."""
    row = _locked(session, attempt_id)
    loader = _Loader(session, now=now)
    attempt = _domain(row)
    attempt, events = _call(
        session,
        row,
        lambda: core.regrade(
            attempt, by=by, reason=reason, now=now, grade=loader.grader(row, current=True)
        ),
    )
    _store(session, row, attempt, events)
    return _operator_view(session, row, now=now)


def step_log(session: Session, *, attempt_id: str) -> StepLog:
    """Every stored answer step and event of an attempt, in order."""
    row = session.get(AttemptRow, attempt_id)
    if row is None:
        raise AttemptNotFoundError(attempt_id)
    steps = session.exec(
        select(AnswerStep).where(AnswerStep.attempt_id == attempt_id).order_by(col(AnswerStep.id))
    ).all()
    events = session.exec(
        select(AttemptEvent)
        .where(AttemptEvent.attempt_id == attempt_id)
        .order_by(col(AttemptEvent.id))
    ).all()
    return StepLog(
        attempt=row.id,
        learner=_login(session, row.learner_id),
        exam=row.exam_key,
        state=row.state,
        steps=tuple(
            StepView(
                item=s.item_key,
                seq=s.seq,
                response=msgspec.json.decode(s.response),
                saved_ms=s.saved_ms,
                device=s.device,
            )
            for s in steps
        ),
        events=tuple(
            EventView(kind=e.kind, at_ms=e.at_ms, data=msgspec.json.decode(e.data)) for e in events
        ),
    )


def live(
    session: Session, *, now: int, open_only: bool = True, exam: str | None = None
) -> LiveList:
    """Attempts for the proctors' screen (open ones by default, the soonest deadline
    first): seconds left, the last save, how many events."""
    last_save = (
        select(sa.func.max(AnswerStep.saved_ms))
        .where(AnswerStep.attempt_id == AttemptRow.id)
        .scalar_subquery()
    )
    event_count = (
        select(sa.func.count(col(AttemptEvent.id)))
        .where(AttemptEvent.attempt_id == AttemptRow.id)
        .scalar_subquery()
    )
    query = sa.select(AttemptRow, col(User.login), last_save, event_count).join(
        User, col(User.id) == col(AttemptRow.learner_id)
    )
    if open_only:
        query = query.where(col(AttemptRow.state).in_(OPEN_STATES)).order_by(
            col(AttemptRow.deadline_ms)
        )
    else:
        query = query.order_by(col(AttemptRow.started_ms).desc())
    if exam is not None:
        query = query.where(col(AttemptRow.exam_key) == exam)
    out = []
    for row, login, saved, count in session.execute(query.limit(LIVE_LIMIT)):
        out.append(
            LiveAttempt(
                attempt=row.id,
                learner=login,
                exam=row.exam_key,
                practice=row.practice,
                state=row.state,
                seconds_left=_domain(row).seconds_left(now=now),
                deadline_ms=row.deadline_ms,
                device=row.device,
                last_save_ms=saved,
                events=count,
            )
        )
    return LiveList(server_ms=now, attempts=tuple(out))


# --------------------------------------------------------------------------- sweeper


def sweep(session: Session, *, now: int, limit: int = SWEEP_BATCH) -> SweepOutcome:
    """Close (through ``core.check_deadline``) up to ``limit`` open attempts whose
    ``next_check_ms`` has passed, oldest first; the finish time recorded is the deadline
    (or the end of the grace period).

    PostgreSQL: the rows are taken ``FOR UPDATE SKIP LOCKED``, so several sweepers (one
    per worker) share the work and a row a request holds is left to the next tick (or
    to the request, which closes it itself). SQLite: the write lock is taken first.
    """
    _lock_sqlite(session)
    table = _ATTEMPT
    query = (
        sa.select(table)
        .where(table.c.next_check_ms <= now)
        .order_by(table.c.next_check_ms)
        .limit(limit)
    )
    if _dialect(session) == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = session.execute(query).all()
    if not rows:
        return SweepOutcome(checked=0, changed=0)
    loader = _Loader(session, now=now)
    loader.prefetch([r for r in rows if r.policy != ExpiryPolicy.EXPIRE_FAIL.value])
    changes: list[dict[str, Any]] = []
    events: list[core.AnyEvent] = []
    for row in rows:
        attempt, produced = core.check_deadline(_domain(row), now=now, grade=loader.grader(row))
        if produced:
            changes.append({"b_id": row.id, **_changes(attempt)})
            events += produced
    if changes:
        # executemany: the SET clause is taken from the keys of the parameter sets
        session.execute(sa.update(table).where(table.c.id == sa.bindparam("b_id")), changes)
        _add_events(session, events)
    return SweepOutcome(checked=len(rows), changed=len(changes))


# ---------------------------------------------------------------------- the loading


_ATTEMPT = AttemptRow.metadata.tables[AttemptRow.__tablename__]
_PAPER_DECODER = msgspec.json.Decoder(Paper)
_SPEC_DECODER = msgspec.json.Decoder(ExamSpec)
_ENCODER = msgspec.json.Encoder()


class _Context(Struct, frozen=True, kw_only=True):
    """What an attempt's views and grading need: its spec, its paper, the items."""

    spec: ExamSpec
    paper: Paper
    items: Mapping[str, Item]

    @property
    def keys(self) -> list[str]:
        return [entry.key for entry in self.paper.items]


class _Loader:
    """Reads specs, papers, items and answers once per unit of work (the sweeper
    prefetches a whole batch)."""

    def __init__(self, session: Session, *, now: int) -> None:
        self.session = session
        self.now = now
        self._versions: dict[int, tuple[ExamVersion, ExamSpec]] = {}
        self._papers: dict[int, Paper] = {}
        self._items: dict[tuple[int, bool], Mapping[str, Item]] = {}
        self._latest: dict[str, dict[str, tuple[int, Any]]] = {}

    def prefetch(self, rows: Sequence[Any]) -> None:
        if not rows:
            return
        for chunk in _chunks([r.paper_id for r in rows]):
            for paper_id, content in self.session.execute(
                sa.select(col(PaperRow.id), col(PaperRow.content)).where(
                    col(PaperRow.id).in_(chunk)
                )
            ):
                self._papers[paper_id] = _PAPER_DECODER.decode(content)
        ids = [r.id for r in rows]
        texts: dict[str, dict[str, tuple[int, str]]] = {i: {} for i in ids}
        for chunk in _chunks(ids):
            steps = self.session.execute(
                sa.select(
                    col(AnswerStep.attempt_id),
                    col(AnswerStep.item_key),
                    col(AnswerStep.seq),
                    col(AnswerStep.response),
                )
                .where(col(AnswerStep.attempt_id).in_(chunk))
                .order_by(col(AnswerStep.attempt_id), col(AnswerStep.item_key), col(AnswerStep.seq))
            )
            for attempt_id, item_key, seq, text in steps:
                texts[attempt_id][item_key] = (seq, text)
        for attempt_id, latest in texts.items():
            self._latest[attempt_id] = {
                key: (seq, msgspec.json.decode(text)) for key, (seq, text) in latest.items()
            }

    def version(self, version_id: int) -> tuple[ExamVersion, ExamSpec]:
        if version_id not in self._versions:
            row = self.session.get(ExamVersion, version_id)
            assert row is not None, "an attempt's exam version is never deleted"
            self._versions[version_id] = (row, _SPEC_DECODER.decode(row.spec))
        return self._versions[version_id]

    def paper(self, paper_id: int) -> Paper:
        if paper_id not in self._papers:
            row = self.session.get(PaperRow, paper_id)
            assert row is not None, "an attempt's paper is never deleted"
            self._papers[paper_id] = _PAPER_DECODER.decode(row.content)
        return self._papers[paper_id]

    def context(self, row: Any, *, current: bool = False) -> _Context:
        version_row, spec = self.version(row.exam_version_id)
        key = (row.exam_version_id, current)
        if key not in self._items:
            items = _items(self.session, version_row)
            if current:
                items = {**items, **_current_items(self.session, spec)}
            self._items[key] = items
        return _Context(spec=spec, paper=self.paper(row.paper_id), items=self._items[key])

    def latest(self, attempt_id: str) -> dict[str, tuple[int, Any]]:
        """Per item, the seq and response of its newest step."""
        if attempt_id not in self._latest:
            self._latest[attempt_id] = _latest_steps(self.session, attempt_id)
        return self._latest[attempt_id]

    def answers(self, attempt_id: str) -> dict[str, Any]:
        """Per item, the learner's answer (the response of its newest step)."""
        return {key: response for key, (_, response) in self.latest(attempt_id).items()}

    def result(self, row: Any, *, current: bool = False) -> PaperResult:
        context = self.context(row, current=current)
        return grade(
            context.paper.items,
            context.items,
            self.answers(row.id),
            pass_mark=context.spec.pass_mark,
        )

    def grader(self, row: Any, *, current: bool = False) -> Callable[[], core.Grade]:
        """The core's ``grade``: the paper and the latest answers (against the items of
        the attempt's bank version, or the newest published ones when ``current``)."""

        def graded() -> core.Grade:
            outcome = self.result(row, current=current)
            if not row.practice:
                self._record_responses(row, outcome)
            return core.Grade(
                score=outcome.score, max_score=outcome.max_score, passed=outcome.passed
            )

        return graded

    def _record_responses(self, row: Any, outcome: PaperResult) -> None:
        """Every graded formal answer feeds item analysis (``bank stats``): one row per
        item of the paper, replaced when the attempt is regraded. The learner appears
        only as the attempt id."""
        version_row, _ = self.version(row.exam_version_id)
        answers = self.answers(row.id)
        self.session.execute(sa.delete(ItemResponse).where(col(ItemResponse.learner_ref) == row.id))
        self.session.execute(
            sa.insert(ItemResponse),
            [
                {
                    "bank_version_id": version_row.bank_version_id,
                    "item_key": item.key,
                    "learner_ref": row.id,
                    "response": answers.get(item.key),
                    "score": item.points,
                    "max_score": item.max_points,
                    "created_at": datetime.fromtimestamp(self.now / 1000, tz=UTC),
                }
                for item in outcome.items
            ],
        )


class _ItemsCache:
    """Items of published bank versions by (id, content hash): they never change, and
    the content hash makes a reused id (a new database) a miss, never a stale hit."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[int, str], Mapping[str, Item]] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, key: tuple[int, str], load: Callable[[], Mapping[str, Item]]
    ) -> Mapping[str, Item]:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        items = load()
        with self._lock:
            self._entries[key] = items
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return items

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


ITEMS = _ItemsCache(size=32)


def _items(session: Session, version_row: ExamVersion) -> Mapping[str, Item]:
    bank_row = session.get(BankVersion, version_row.bank_version_id)
    assert bank_row is not None and bank_row.id is not None
    bank = session.get(Bank, bank_row.bank_id)
    assert bank is not None

    def load() -> Mapping[str, Item]:
        items = banks.load_items(session, bank=bank.name, version=bank_row.version)
        return {item.key: item for item in items}

    return ITEMS.get((bank_row.id, bank_row.content_hash), load)


def _current_items(session: Session, spec: ExamSpec) -> Mapping[str, Item]:
    """The items of the newest published version of the spec's bank."""
    newest = session.exec(
        select(BankVersion)
        .join(Bank, col(Bank.id) == col(BankVersion.bank_id))
        .where(Bank.name == spec.bank, BankVersion.state == "published")
        .order_by(col(BankVersion.version).desc())
        .limit(1)
    ).first()
    if newest is None or newest.id is None:
        return {}
    version = newest.version

    def load() -> Mapping[str, Item]:
        return {i.key: i for i in banks.load_items(session, bank=spec.bank, version=version)}

    return ITEMS.get((newest.id, newest.content_hash), load)


def _published_spec(session: Session, exam: str) -> tuple[ExamVersion, ExamSpec] | None:
    row = session.exec(
        select(ExamVersion)
        .join(Exam, col(Exam.id) == col(ExamVersion.exam_id))
        .where(Exam.key == exam, ExamVersion.state == "published")
        .order_by(col(ExamVersion.version).desc())
        .limit(1)
    ).first()
    return None if row is None else (row, _SPEC_DECODER.decode(row.spec))


def _latest_steps(session: Session, attempt_id: str) -> dict[str, tuple[int, Any]]:
    """Per item, the newest step's seq and response."""
    latest: dict[str, tuple[int, Any]] = {}
    steps = session.execute(
        sa.select(col(AnswerStep.item_key), col(AnswerStep.seq), col(AnswerStep.response))
        .where(col(AnswerStep.attempt_id) == attempt_id)
        .order_by(col(AnswerStep.item_key), col(AnswerStep.seq))
    )
    for key, seq, text in steps:
        latest[key] = (seq, text)
    return {key: (seq, msgspec.json.decode(text)) for key, (seq, text) in latest.items()}


def _latest_seqs(session: Session, attempt_id: str) -> dict[str, int]:
    rows = session.execute(
        sa.select(col(AnswerStep.item_key), sa.func.max(col(AnswerStep.seq)))
        .where(col(AnswerStep.attempt_id) == attempt_id)
        .group_by(col(AnswerStep.item_key))
    )
    return {key: seq for key, seq in rows}


# ----------------------------------------------------------------- locks and storing


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _lock_sqlite(session: Session) -> None:
    """On SQLite, take the database's write lock now (waiting up to the busy timeout).

    Python's sqlite3 opens a transaction only before a write, so reads before it see
    whatever was committed at that moment and a write after them could be based on old
    data; a no-op UPDATE as the first statement opens the transaction *and* takes the
    write lock, so everything read afterwards is current until the commit. No effect
    on PostgreSQL (rows are locked with FOR UPDATE there).
    """
    if _dialect(session) == "sqlite":
        session.execute(
            sa.update(_ATTEMPT).where(_ATTEMPT.c.id == "").values(last_seq=_ATTEMPT.c.last_seq)
        )


def _locked(session: Session, attempt_id: str, *, learner_id: int | None = None) -> AttemptRow:
    """The attempt's row, locked until the commit; ``AttemptNotFoundError`` when there
    is none or (with ``learner_id``) it is someone else's."""
    _lock_sqlite(session)
    query = select(AttemptRow).where(AttemptRow.id == attempt_id)
    if _dialect(session) == "postgresql":
        query = query.with_for_update()
    row = session.exec(query.execution_options(populate_existing=True)).first()
    if row is None or (learner_id is not None and row.learner_id != learner_id):
        raise AttemptNotFoundError(attempt_id)
    return row


def _owned(session: Session, attempt_id: str, learner_id: int) -> AttemptRow:
    row = session.get(AttemptRow, attempt_id)
    if row is None or row.learner_id != learner_id:
        raise AttemptNotFoundError(attempt_id)
    return row


def _close_if_due(session: Session, row: AttemptRow, now: int) -> AttemptRow:
    """Read paths: if the attempt's time is up, close it now (locked) rather than wait
    for the sweeper; otherwise the row as read."""
    if row.next_check_ms is None or now < row.next_check_ms:
        return row
    locked = _locked(session, row.id)
    loader = _Loader(session, now=now)
    attempt, events = core.check_deadline(_domain(locked), now=now, grade=loader.grader(locked))
    _store(session, locked, attempt, events)
    return locked


def _close_due(session: Session, learner_id: int, exam: str, now: int) -> None:
    """Close the learner's attempts at ``exam`` whose time is up (before a start)."""
    due = session.exec(
        select(AttemptRow.id).where(
            AttemptRow.learner_id == learner_id,
            AttemptRow.exam_key == exam,
            col(AttemptRow.next_check_ms) <= now,
        )
    ).all()
    for attempt_id in due:
        _close_if_due(session, _locked(session, attempt_id), now)


def _call(session: Session, row: AttemptRow, transition: Callable[[], T]) -> T:
    """Run a core transition; if it refuses after closing the attempt on the way, store
    and commit the close, then let the refusal propagate."""
    try:
        return transition()
    except core.AttemptError as exc:
        if exc.attempt is not None and exc.events:
            _store(session, row, exc.attempt, exc.events)
            session.commit()
        raise


def _domain(row: Any) -> core.Attempt:
    """The core's Attempt from a row (an ORM object or a Core row): the one conversion."""
    return core.Attempt(
        id=row.id,
        learner=str(row.learner_id),
        exam=row.exam_key,
        number=row.number,
        cycle=row.cycle,
        practice=row.practice,
        state=core.State(row.state),
        started_ms=row.started_ms,
        deadline_ms=row.deadline_ms,
        device=row.device,
        policy=ExpiryPolicy(row.policy),
        grace_ms=row.grace_ms,
        last_seq=row.last_seq,
        finished_ms=row.finished_ms,
        score=row.score,
        max_score=row.max_score,
        passed=row.passed,
        reason=row.reason,
    )


def _changes(attempt: core.Attempt) -> dict[str, Any]:
    """What a transition may change in a row: the other direction of ``_domain``."""
    return {
        "state": attempt.state.value,
        "deadline_ms": attempt.deadline_ms,
        "next_check_ms": attempt.next_check_ms,
        "device": attempt.device,
        "last_seq": attempt.last_seq,
        "finished_ms": attempt.finished_ms,
        "score": attempt.score,
        "max_score": attempt.max_score,
        "passed": attempt.passed,
        "reason": attempt.reason[:500],
    }


def _store(
    session: Session, row: AttemptRow, attempt: core.Attempt, events: Sequence[core.AnyEvent]
) -> None:
    if not events and _changes(attempt) == _changes(_domain(row)):
        return
    for name, value in _changes(attempt).items():
        setattr(row, name, value)
    session.add(row)
    session.flush()
    _add_events(session, events)


def _add_events(session: Session, events: Sequence[core.AnyEvent]) -> None:
    if not events:
        return
    session.execute(
        sa.insert(AttemptEvent),
        [
            {
                "attempt_id": event.attempt,
                "kind": event.__struct_config__.tag,
                "at_ms": event.at_ms,
                "data": _ENCODER.encode(event).decode(),
            }
            for event in events
        ],
    )


# ----------------------------------------------------------------------- eligibility


def _enrollment(
    session: Session, learner_id: int, exam: str, *, for_update: bool = False
) -> Enrollment | None:
    query = select(Enrollment).where(
        Enrollment.learner_id == learner_id, Enrollment.exam_key == exam
    )
    if for_update and _dialect(session) == "postgresql":
        query = query.with_for_update()
    return session.exec(query.execution_options(populate_existing=True)).first()


def _not_enrolled(exam: str) -> NotEligibleError:
    answer = eligibility((), max_attempts=1, enrolled=False, study_met=False, cycle=1)
    return NotEligibleError(answer)


def _history_rows(session: Session, learner_id: int, exam: str) -> list[AttemptRow]:
    return list(
        session.exec(
            select(AttemptRow)
            .where(AttemptRow.learner_id == learner_id, AttemptRow.exam_key == exam)
            .order_by(col(AttemptRow.started_ms))
            .execution_options(populate_existing=True)
        ).all()
    )


def _extra_attempts(session: Session, learner_id: int, exam: str, cycle: int) -> int:
    total = session.exec(
        select(sa.func.coalesce(sa.func.sum(AttemptOverride.extra_attempts), 0)).where(
            AttemptOverride.learner_id == learner_id,
            AttemptOverride.exam_key == exam,
            AttemptOverride.cycle == cycle,
        )
    ).one()
    return int(total)


def _standing_extra_ms(session: Session, learner_id: int, exam: str) -> int:
    total = session.exec(
        select(sa.func.coalesce(sa.func.sum(AttemptOverride.extra_time_ms), 0)).where(
            AttemptOverride.learner_id == learner_id,
            AttemptOverride.exam_key == exam,
            col(AttemptOverride.attempt_id).is_(None),
        )
    ).one()
    return int(total)


def _eligibility(
    session: Session,
    enrollment: Enrollment,
    spec: ExamSpec,
    rows: Iterable[AttemptRow],
    *,
    practice: bool,
) -> Eligibility:
    history = [
        AttemptRecord(
            id=r.id, cycle=r.cycle, practice=r.practice, state=core.State(r.state), passed=r.passed
        )
        for r in rows
    ]
    return eligibility(
        history,
        max_attempts=spec.max_attempts,
        extra_attempts=_extra_attempts(
            session, enrollment.learner_id, enrollment.exam_key, enrollment.study_cycle
        ),
        enrolled=True,
        study_met=enrollment.study_met,
        cycle=enrollment.study_cycle,
        practice=practice,
        practice_enabled=spec.practice.enabled,
    )


def _learner_ref(learner_id: int, *, practice: bool) -> str:
    """Whose paper: the user id, or ``<id>/practice`` for practice attempts, so practice
    papers have their own attempt numbers (and seeds) and never take a formal paper."""
    return f"{learner_id}/practice" if practice else str(learner_id)


# -------------------------------------------------------------------------- answers


def _check_shapes(saves: Sequence[Save], items: Mapping[str, Item], keys: frozenset[str]) -> None:
    """Refuse a response the item cannot take (``itembank.scoring`` says so), before
    anything is stored. Items not on the paper are the core's to refuse."""
    for save in saves:
        if save.item not in keys:
            continue
        text = _encode(save.response)
        if len(text) > MAX_RESPONSE_CHARS:
            raise BadAnswerError(
                save.item,
                f"item {save.item!r}: the response is longer than {MAX_RESPONSE_CHARS} characters",
                f"试题 {save.item!r} 的作答超过 {MAX_RESPONSE_CHARS} 个字符",
            )
        try:
            score(items[save.item], save.response)
        except ResponseShapeError as exc:
            raise BadAnswerError(save.item, exc.message, exc.message_zh) from None


def _encode(value: Any) -> str:
    return _ENCODER.encode(value).decode()


def _refs(saves: Iterable[core.Save]) -> tuple[SaveRef, ...]:
    return tuple(SaveRef(item=s.item, seq=s.seq) for s in saves)


# ----------------------------------------------------------------------------- views


def _paper_view(
    row: AttemptRow,
    attempt: core.Attempt,
    context: _Context,
    latest: Mapping[str, tuple[int, Any]],
    *,
    now: int,
) -> PaperView:
    sections = context.spec.sections
    items = tuple(
        _item_view(n, entry, sections[entry.section].title, context.items[entry.key])
        for n, entry in enumerate(context.paper.items, start=1)
    )
    return PaperView(
        attempt=row.id,
        exam=row.exam_key,
        title=context.spec.title,
        practice=row.practice,
        number=row.number,
        state=attempt.state.value,
        seconds_left=attempt.seconds_left(now=now),
        deadline_ms=attempt.deadline_ms,
        server_ms=now,
        last_seq=attempt.last_seq,
        items=items,
        answers=tuple(
            AnswerView(item=key, seq=seq, response=response)
            for key, (seq, response) in latest.items()
        ),
    )


def _item_view(position: int, entry: PaperItem, section_title: str, item: Item) -> PaperItemView:
    """The item without its key — built field by field, never from the item whole."""
    options: tuple[OptionView, ...] = ()
    prompts: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()
    body = item.body
    if isinstance(body, SingleChoice | MultipleChoice):
        by_id = {o.id: o for o in body.options}
        ids = entry.order or [o.id for o in body.options]
        options = tuple(OptionView(id=i, text=by_id[i].text) for i in ids if i in by_id)
    elif isinstance(body, Matching):
        prompts = tuple(p.prompt for p in body.pairs)
        answers = entry.order or (*(p.answer for p in body.pairs), *body.distractors)
    return PaperItemView(
        position=position,
        item=entry.key,
        kind=item.kind.value,
        section=entry.section,
        section_title=section_title,
        stem=item.stem,
        points=entry.points,
        options=options,
        prompts=prompts,
        answers=answers,
    )


def _result_view(
    row: AttemptRow, attempt: core.Attempt, loader: _Loader, *, now: int
) -> ResultView:
    _, spec = loader.version(row.exam_version_id)
    shown = not attempt.open and (
        spec.practice.show_key if row.practice else spec.show_key_after_close
    )
    items: tuple[ItemReview, ...] = ()
    if shown:
        context = loader.context(row)
        answers = loader.answers(row.id)
        graded = {r.key: r for r in loader.result(row).items}
        items = tuple(
            ItemReview(
                position=n,
                item=entry.key,
                points=graded[entry.key].points,
                max_points=graded[entry.key].max_points,
                response=answers.get(entry.key),
                correct=_key_of(context.items[entry.key]),
                explanation=context.items[entry.key].explanation,
            )
            for n, entry in enumerate(context.paper.items, start=1)
        )
    return ResultView(
        attempt=row.id,
        exam=row.exam_key,
        practice=row.practice,
        number=row.number,
        state=attempt.state.value,
        seconds_left=attempt.seconds_left(now=now),
        server_ms=now,
        started_ms=attempt.started_ms,
        deadline_ms=attempt.deadline_ms,
        finished_ms=attempt.finished_ms,
        score=attempt.score,
        max_score=attempt.max_score,
        passed=attempt.passed,
        reason=attempt.reason,
        key_shown=shown,
        items=items,
    )


def _key_of(item: Item) -> Any:
    """The right answer in the shape of a response (for the review after the close)."""
    match item.body:
        case SingleChoice(options=options) | MultipleChoice(options=options):
            return [o.id for o in options if o.fraction > 0]
        case TrueFalse(answer=answer):
            return answer
        case FillBlank(answers=accepted):
            return [a.text for a in accepted if a.fraction >= 1.0]
        case Numerical(answers=numbers):
            return [
                {"value": a.value, "tolerance": a.tolerance} for a in numbers if a.fraction >= 1.0
            ]
        case Matching(pairs=pairs):
            return [p.answer for p in pairs]
    return None  # pragma: no cover


def _summary(row: AttemptRow) -> AttemptSummary:
    return AttemptSummary(
        attempt=row.id,
        number=row.number,
        cycle=row.cycle,
        practice=row.practice,
        state=row.state,
        started_ms=row.started_ms,
        finished_ms=row.finished_ms,
        score=row.score,
        max_score=row.max_score,
        passed=row.passed,
    )


def _open_of(rows: Iterable[AttemptRow], *, practice: bool, now: int) -> OpenAttempt | None:
    for row in rows:
        if row.practice == practice and row.state in OPEN_STATES:
            return OpenAttempt(
                attempt=row.id,
                practice=practice,
                seconds_left=_domain(row).seconds_left(now=now),
                deadline_ms=row.deadline_ms,
            )
    return None


def _operator_view(session: Session, row: AttemptRow, *, now: int) -> OperatorAttempt:
    attempt = _domain(row)
    return OperatorAttempt(
        attempt=row.id,
        learner=_login(session, row.learner_id),
        exam=row.exam_key,
        state=row.state,
        seconds_left=attempt.seconds_left(now=now),
        deadline_ms=row.deadline_ms,
        server_ms=now,
        score=row.score,
        max_score=row.max_score,
        passed=row.passed,
        reason=row.reason,
    )


def _login(session: Session, user_id: int) -> str:
    user = session.get(User, user_id)
    return user.login if user is not None else str(user_id)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _chunks(values: Sequence[Any], size: int = exams.IN_CHUNK) -> Iterable[Sequence[Any]]:
    for begin in range(0, len(values), size):
        yield values[begin : begin + size]
