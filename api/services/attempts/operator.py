"""What operators and proctors do to attempts: ``extend`` a running attempt, ``grant``
extra attempts or extra time (each an override recorded with who and why),
``terminate`` an attempt, read its ``step_log``, and the ``live`` list for the proctors'
screen. (``regrade`` is with the close, in ``closing``.)
"""

from __future__ import annotations

import msgspec
import sqlalchemy as sa
from sqlmodel import Session, col, select

from api.services.attempts._errors import AttemptNotFoundError, LearnerNotFoundError
from api.services.attempts._loading import _published_spec
from api.services.attempts._rows import (
    OPEN_STATES,
    _call,
    _domain,
    _enrollment,
    _extra_attempts,
    _lock_sqlite,
    _locked,
    _login,
    _not_enrolled,
    _operator_view,
    _store,
)
from api.services.attempts._wire import (
    EventView,
    GrantOutcome,
    LiveAttempt,
    LiveList,
    OperatorAttempt,
    StepLog,
    StepView,
)
from api.services.evidence import log
from api.store.tables import AnswerStep, AttemptEvent, AttemptOverride, User
from api.store.tables import Attempt as AttemptRow
from examengine import attempt as core

#: Rows of the operators' live list.
LIVE_LIMIT = 1000


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
        now,
        lambda: core.extend(attempt, extra_ms=extra_ms, by=by, reason=reason, now=now),
    )
    _store(session, row, attempt, events, now=now)
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
    log.append(
        session,
        [
            log.entry(
                learner=learner.id,
                at_ms=now,
                kind="attempts_granted",
                ref=f"exam:{exam}",
                data={
                    "exam": exam,
                    "cycle": enrollment.study_cycle,
                    "extra_attempts": extra_attempts,
                    "extra_time_ms": extra_time_ms,
                    "by_id": by_id,
                    "reason": reason,
                },
            )
        ],
    )
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
        session, row, now, lambda: core.terminate(attempt, by=by, reason=reason, now=now)
    )
    _store(session, row, attempt, events, now=now)
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
    query = sa.select(
        AttemptRow, col(User.login), last_save, event_count, col(User.display_name)
    ).join(User, col(User.id) == col(AttemptRow.learner_id))
    if open_only:
        query = query.where(col(AttemptRow.state).in_(OPEN_STATES)).order_by(
            col(AttemptRow.deadline_ms)
        )
    else:
        query = query.order_by(col(AttemptRow.started_ms).desc())
    if exam is not None:
        query = query.where(col(AttemptRow.exam_key) == exam)
    out = []
    for row, login, saved, count, name in session.execute(query.limit(LIVE_LIMIT)):
        out.append(
            LiveAttempt(
                attempt=row.id,
                learner=login,
                name=name,
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
