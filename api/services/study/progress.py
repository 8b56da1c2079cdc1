"""Progress and credit storage: ``persist`` (one batch from the ticker: credit,
positions, completions and integrity events), ``refresh_study_met`` (a completed plan
then meets the exam's study requirement, or a completed re-study opens its next cycle)
and ``stored_credit``, with the stored credit the use cases read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from api.services import attempts
from api.services.evidence import log
from api.services.study._shared import _ENCODER, _enrollments
from api.services.study.plan import _plan
from api.services.study.wire import Batch, Grant
from api.store.tables import Chapter as ChapterRow
from api.store.tables import ChapterProgress, Enrollment, StudyEvent
from examengine import credit


def persist(session: Session, batch: Batch) -> None:
    """Store one batch from the ticker: credit and positions (credit only grows, a
    completion is set once), the events, and — for learners who completed a chapter —
    the exam's study requirement when their plan is now met."""
    if batch.grants:
        _upsert_progress(session, batch.grants, batch.now)
    if batch.events:
        session.execute(
            sa.insert(StudyEvent),
            [
                {
                    "learner_id": e.learner,
                    "chapter_id": e.chapter_id,
                    "cycle": e.cycle,
                    "kind": e.event.__struct_config__.tag,
                    "seq": getattr(e.event, "seq", None),
                    "at_ms": e.event.at_ms,
                    "data": _ENCODER.encode(e.event).decode(),
                }
                for e in batch.events
            ],
        )
        log.append(
            session,
            [
                log.entry(
                    learner=e.learner,
                    at_ms=e.event.at_ms,
                    kind=str(e.event.__struct_config__.tag),
                    ref=f"chapter:{e.chapter_id}:{e.cycle}",
                    data=e.event,
                )
                for e in batch.events
            ],
        )
    for learner in sorted({g.learner for g in batch.grants if g.completed_ms is not None}):
        refresh_study_met(session, learner_id=learner, now=batch.now)


def refresh_study_met(session: Session, *, learner_id: int, now: int) -> None:
    """For each plan the learner has met in its current cycle, open the exam: cycle 1
    meets the study requirement; a completed re-study opens the exam's next cycle. A
    plan now complete whose certificate is due (no exam, or its exam passed) gets it."""
    for enrollment, row in _enrollments(session, learner_id):
        plan = _plan(session, row)
        if not plan.exam:
            continue
        progress = credit.plan_progress(
            plan, _credits(session, learner_id, plan), cycle=enrollment.cycle
        )
        if not credit.study_met(progress):
            continue
        exam = session.exec(
            select(Enrollment).where(
                Enrollment.learner_id == learner_id, Enrollment.exam_key == plan.exam
            )
        ).first()
        if exam is None or exam.study_cycle >= enrollment.cycle:
            attempts.enroll(session, learner_id=learner_id, exam=plan.exam, study_met=True, now=now)
        else:
            while exam.study_cycle < enrollment.cycle:
                exam.study_cycle = attempts.new_study_cycle(
                    session, learner_id=learner_id, exam=plan.exam
                )
    # (imported here: certificates read this module's credit)
    from api.services import certificates  # noqa: PLC0415

    certificates.hours_completed(session, learner_id=learner_id, now=now)


def stored_credit(session: Session, *, learner_id: int, chapter: str, cycle: int = 1) -> int:
    """The chapter's stored credit (ms) in ``cycle`` (0 when none)."""
    found = session.exec(
        select(ChapterProgress.credited_ms)
        .join(ChapterRow, col(ChapterRow.id) == ChapterProgress.chapter_id)
        .where(
            ChapterProgress.learner_id == learner_id,
            ChapterRow.key == chapter,
            ChapterProgress.cycle == cycle,
        )
    ).first()
    return int(found or 0)


def _credits(session: Session, learner_id: int, plan: credit.Plan) -> list[credit.ChapterCredit]:
    keys = [c.key for e in plan.courses for c in e.course.chapters]
    rows = session.exec(
        select(ChapterRow.key, ChapterProgress.cycle, ChapterProgress.credited_ms)
        .join(ChapterRow, col(ChapterRow.id) == ChapterProgress.chapter_id)
        .where(ChapterProgress.learner_id == learner_id, col(ChapterRow.key).in_(keys))
    ).all()
    return [credit.ChapterCredit(chapter=k, cycle=c, credited_ms=ms) for k, c, ms in rows]


def _upsert_progress(session: Session, grants: Sequence[Grant], now: int) -> None:
    """One INSERT … ON CONFLICT for the batch: credit and position kept at their
    highest, the first completion time kept."""
    target: Any = ChapterProgress.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert(target) if dialect == "postgresql" else sqlite.insert(target)
    excluded = insert.excluded
    statement = insert.on_conflict_do_update(
        index_elements=["learner_id", "chapter_id", "cycle"],
        set_={
            "credited_ms": sa.case(
                (excluded.credited_ms > target.c.credited_ms, excluded.credited_ms),
                else_=target.c.credited_ms,
            ),
            "position_ms": excluded.position_ms,
            "updated_ms": excluded.updated_ms,
            "completed_ms": sa.func.coalesce(target.c.completed_ms, excluded.completed_ms),
        },
    )
    session.execute(
        statement,
        [
            {
                "learner_id": g.learner,
                "chapter_id": g.chapter_id,
                "cycle": g.cycle,
                "credited_ms": g.credited_ms,
                "position_ms": g.position_ms,
                "updated_ms": now,
                "completed_ms": g.completed_ms,
            }
            for g in _last_per_key(grants)
        ],
    )


def _last_per_key(grants: Iterable[Grant]) -> list[Grant]:
    """One grant per (learner, chapter, cycle): the highest credit (a statement may not
    touch one row twice)."""
    best: dict[tuple[int, int, int], Grant] = {}
    for g in grants:
        key = (g.learner, g.chapter_id, g.cycle)
        old = best.get(key)
        if old is None or (g.credited_ms, g.position_ms) >= (old.credited_ms, old.position_ms):
            done = g.completed_ms if g.completed_ms is not None else (old and old.completed_ms)
            best[key] = msgspec.structs.replace(g, completed_ms=done)
    return list(best.values())
