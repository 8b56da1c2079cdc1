"""The attempt row, as every use case handles it: locks, the one conversion to and from
the core's ``Attempt``, storing a transition and its events, closing an attempt whose
time is up; and the shared reads (the enrollment row, extra attempts granted, the
operator's view of an attempt).

Concurrency (docs/decisions/0007): every use case that changes an attempt locks its row
first — ``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the transaction's first
statement is a write (``_lock_sqlite``), which takes the database's one write lock up
front, as ``BEGIN IMMEDIATE`` would, so the rows read next are the latest and no one
changes them before the commit. Starting an attempt locks the learner's enrollment row
the same way, so two starts at once cannot both pass the eligibility check.

A refused request that closed the attempt on the way (a save after the deadline) stores
the close and **commits it** before the refusal propagates (``_call``): the caller's
transaction rolls back on the error, and the close must not be lost with it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import msgspec
import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from api.services.attempts._errors import AttemptNotFoundError, NotEligibleError
from api.services.attempts._loading import _Loader
from api.services.attempts._wire import OperatorAttempt
from api.services.evidence import log
from api.store.tables import Attempt as AttemptRow
from api.store.tables import AttemptEvent, AttemptOverride, Enrollment, User
from examengine import attempt as core
from examengine.blueprint import ExpiryPolicy
from examengine.eligibility import AttemptRecord, eligibility

OPEN_STATES = (core.State.IN_PROGRESS.value, core.State.OVERDUE.value)
T = TypeVar("T")


_ATTEMPT = AttemptRow.metadata.tables[AttemptRow.__tablename__]
_EVENT = AttemptEvent.metadata.tables[AttemptEvent.__tablename__]
_INSERT_EVENT = sa.insert(_EVENT)
#: An attempt's row, read afresh (the current values, over what the session holds).
_SELECT_ATTEMPT = (
    select(AttemptRow)
    .where(col(AttemptRow.id) == sa.bindparam("attempt_id"))
    .execution_options(populate_existing=True)
)
_SELECT_FOR_UPDATE = _SELECT_ATTEMPT.with_for_update()
#: A write that changes nothing, to take SQLite's write lock (``_lock_sqlite``).
_TAKE_WRITE_LOCK = (
    sa.update(_ATTEMPT).where(_ATTEMPT.c.id == "").values(last_seq=_ATTEMPT.c.last_seq)
)
_ENCODER = msgspec.json.Encoder()


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
        session.execute(_TAKE_WRITE_LOCK)


def _locked(session: Session, attempt_id: str, *, learner_id: int | None = None) -> AttemptRow:
    """The attempt's row, locked until the commit; ``AttemptNotFoundError`` when there
    is none or (with ``learner_id``) it is someone else's."""
    _lock_sqlite(session)
    query = _SELECT_FOR_UPDATE if _dialect(session) == "postgresql" else _SELECT_ATTEMPT
    row = session.exec(query, params={"attempt_id": attempt_id}).first()
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
    _store(session, locked, attempt, events, now=now)
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


def _call(session: Session, row: AttemptRow, now: int, transition: Callable[[], T]) -> T:
    """Run a core transition; if it refuses after closing the attempt on the way, store
    and commit the close, then let the refusal propagate."""
    try:
        return transition()
    except core.AttemptError as exc:
        if exc.attempt is not None and exc.events:
            _store(session, row, exc.attempt, exc.events, now=now)
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
    session: Session,
    row: AttemptRow,
    attempt: core.Attempt,
    events: Sequence[core.AnyEvent],
    *,
    now: int,
) -> None:
    """Store a transition's result and events; an attempt that closes is stamped with
    ``now`` in ``closed_ms`` (its ``finished_ms`` is the rule's: the deadline, for one
    closed by the clock), so how late a close came can be read from the data."""
    changes = _changes(attempt)
    if not events and changes == _changes(_domain(row)):
        return
    if not attempt.open and row.closed_ms is None:
        changes["closed_ms"] = now
    # One UPDATE of the columns, and the ORM object told the stored values as its own
    # (nothing left for a flush to write again): the unit of work's bookkeeping cost
    # more than the statement on the save path.
    session.connection().execute(_update_of(frozenset(changes)), {"_id": row.id, **changes})
    for name, value in changes.items():
        set_committed_value(row, name, value)
    _add_events(session, events, (row,), now=now)


@functools.lru_cache(maxsize=8)
def _update_of(columns: frozenset[str]) -> sa.Update:
    """The UPDATE of ``columns`` of one attempt (by ``_id``), built once per set."""
    return (
        sa.update(_ATTEMPT)
        .where(_ATTEMPT.c.id == sa.bindparam("_id"))
        .values({name: sa.bindparam(name) for name in sorted(columns)})
    )


def _add_events(
    session: Session, events: Sequence[core.AnyEvent], rows: Iterable[Any], *, now: int
) -> None:
    """Store the events of the attempts ``rows``: every one in ``attempt_event``, every
    one but the answer saves chained into the learner's integrity log, and the formal
    results (a pass, a regrade) handed to the certificates in the same transaction."""
    if not events:
        return
    session.connection().execute(
        _INSERT_EVENT,
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
    by_id = {row.id: row for row in rows}
    log.append(
        session,
        [
            log.entry(
                learner=by_id[event.attempt].learner_id,
                at_ms=event.at_ms,
                kind=str(event.__struct_config__.tag),
                ref=f"attempt:{event.attempt}",
                data=event,
            )
            for event in events
            if not isinstance(event, core.AnswersSaved)
        ],
    )
    results = sorted(
        {
            (by_id[event.attempt].learner_id, by_id[event.attempt].exam_key)
            for event in events
            if (
                (isinstance(event, core.AttemptSubmitted) and event.passed)
                or isinstance(event, core.AttemptRegraded)
            )
            and not by_id[event.attempt].practice
        }
    )
    if results:
        # (imported here: certificates read plans and study, which import attempts)
        from api.services import certificates  # noqa: PLC0415

        certificates.exam_results(session, results, now=now)


def _encode(value: Any) -> str:
    return _ENCODER.encode(value).decode()


# ----------------------------------------------------------------------- eligibility


def _flags_of(row: Any) -> tuple[str, ...]:
    """The items the learner flagged (the row's JSON list; nothing for a bad value)."""
    try:
        flags = msgspec.json.decode(row.flags or "[]", type=tuple[str, ...])
    except msgspec.ValidationError:  # pragma: no cover - written by set_flags only
        return ()
    return flags


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
    answer = eligibility((), max_attempts=1, enrolled=False, study_met=False, cycle=1, now=0)
    return NotEligibleError(answer)


def _history_rows(session: Session, learner_id: int, exam: str) -> list[AttemptRow]:
    """The learner's attempts of ``exam``, formal and practice, oldest first."""
    return list(
        session.exec(
            select(AttemptRow)
            .where(AttemptRow.learner_id == learner_id, AttemptRow.exam_key == exam)
            .order_by(col(AttemptRow.started_ms))
            .execution_options(populate_existing=True)
        ).all()
    )


def _records(rows: Sequence[AttemptRow]) -> list[AttemptRecord]:
    """What eligibility and the key rule need of each attempt."""
    return [
        AttemptRecord(
            id=r.id,
            cycle=r.cycle,
            practice=r.practice,
            state=core.State(r.state),
            passed=r.passed,
            started_ms=r.started_ms,
            finished_ms=r.finished_ms,
        )
        for r in rows
    ]


def _extra_attempts(session: Session, learner_id: int, exam: str, cycle: int) -> int:
    total = session.exec(
        select(sa.func.coalesce(sa.func.sum(AttemptOverride.extra_attempts), 0)).where(
            AttemptOverride.learner_id == learner_id,
            AttemptOverride.exam_key == exam,
            AttemptOverride.cycle == cycle,
        )
    ).one()
    return int(total)


# ----------------------------------------------------------------------------- views


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
