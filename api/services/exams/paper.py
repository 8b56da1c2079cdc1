"""Building the learners' papers from published versions: one paper on demand
(``build_or_get_paper``), or the missing papers of many learners at once, in vectorised
batches inserted in bulk (``preassemble``, before an exam peak).

A paper is stored once per (exam version, learner, attempt) and never rebuilt over: the
stored paper is the record, its seed lets an auditor rebuild it (``audit.show_paper``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from msgspec import Struct
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from api.services.exams._row import (
    _PAPER_DECODER,
    _PAPER_ENCODER,
    _check_request,
    _decode_spec,
    _exam,
    _latest,
    _seed,
    _seen_keys,
    _stored,
    _version,
)
from api.services.exams.cache import _compiled
from api.services.exams.error import ExamNotPublishedError
from api.store.db import in_chunks
from api.store.tables import Exam, ExamVersion
from api.store.tables import Paper as PaperRow
from examengine.assembly import Paper, assemble, build_paper, paper_from_batch

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` during long runs (the CLI's bar)."""

#: Papers assembled and inserted per batch in ``preassemble`` (bounds the arrays' memory).
PREASSEMBLE_CHUNK = 2000


class PaperRecord(Struct, frozen=True, kw_only=True):
    exam: str
    version: int
    learner: str
    attempt: int
    paper: Paper
    #: True when this call built and stored it; False when it was stored already.
    created: bool


class PreassembleOutcome(Struct, frozen=True, kw_only=True):
    exam: str
    version: int
    attempt: int
    #: Papers built and stored by this run.
    built: int
    #: Learners who had a stored paper for this attempt already.
    existing: int


def build_or_get_paper(
    session: Session,
    *,
    exam: str,
    learner: str,
    attempt: int,
    secret: bytes,
    now: datetime,
    version: int | None = None,
    exclude_seen_from_previous: bool = True,
) -> PaperRecord:
    """The learner's paper for ``attempt`` of a published version (the latest when
    ``version`` is None): the stored one if there is one, else built and stored.

    When the spec excludes seen items (and ``exclude_seen_from_previous``), the items of
    the learner's stored papers of earlier attempts of the same version are kept off it.
    Raises ``ExamNotFoundError`` or ``ExamNotPublishedError``.
    """
    _check_request(learner, attempt)
    exam_row, row = _published_version(session, exam, version)
    assert row.id is not None
    found = _stored(session, row.id, learner, attempt)
    if found is not None:
        return _record(exam_row, row, found, created=False)
    spec = _decode_spec(row.spec)
    compiled = _compiled(session, spec)
    seen: dict[str, set[str]] = {}
    if exclude_seen_from_previous and spec.exclude_seen:
        seen = _seen_keys(session, row.id, [learner], attempt)
    paper = build_paper(
        compiled, _seed(secret, spec, learner, attempt), exclude=seen.get(learner, set())
    )
    created = _insert_papers(session, row.id, attempt, [(learner, paper)], now) == 1
    # Whoever stored it first (a concurrent request may have), that is the record.
    stored = _stored(session, row.id, learner, attempt)
    assert stored is not None
    return _record(exam_row, row, stored, created=created)


def preassemble(
    session: Session,
    *,
    exam: str,
    learners: Iterable[str],
    attempt: int,
    secret: bytes,
    now: datetime,
    version: int | None = None,
    progress: Progress | None = None,
) -> PreassembleOutcome:
    """Build and store the missing papers of many learners at once (before an exam peak).

    Papers are assembled in vectorised batches of ``PREASSEMBLE_CHUNK`` and inserted in
    bulk; each equals the paper ``build_or_get_paper`` would build (a paper depends only
    on its own seed and exclusions). Learners with a stored paper are left alone.
    """
    wanted = list(dict.fromkeys(learners))
    for learner in wanted:
        _check_request(learner, attempt)
    exam_row, row = _published_version(session, exam, version)
    assert row.id is not None
    existing = _learners_with_paper(session, row.id, wanted, attempt)
    todo = [learner for learner in wanted if learner not in existing]
    if todo:
        spec = _decode_spec(row.spec)
        compiled = _compiled(session, spec)
        seen = _seen_keys(session, row.id, todo, attempt) if spec.exclude_seen else {}
        for start in range(0, len(todo), PREASSEMBLE_CHUNK):
            chunk = todo[start : start + PREASSEMBLE_CHUNK]
            seeds = np.array(
                [_seed(secret, spec, learner, attempt) for learner in chunk], dtype=np.uint64
            )
            batch = assemble(compiled, seeds, exclude=[seen.get(lr, set()) for lr in chunk])
            papers = [(lr, paper_from_batch(compiled, batch, n)) for n, lr in enumerate(chunk)]
            _insert_papers(session, row.id, attempt, papers, now)
            if progress:
                progress("assemble", start + len(chunk), len(todo))
    return PreassembleOutcome(
        exam=exam_row.key,
        version=row.version,
        attempt=attempt,
        built=len(todo),
        existing=len(existing),
    )


def _published_version(
    session: Session, exam: str, version: int | None
) -> tuple[Exam, ExamVersion]:
    exam_row = _exam(session, exam)
    if version is None:
        row = _latest(session, exam_row, published=True)
        if row is None:
            raise ExamNotPublishedError(exam)
        return exam_row, row
    row = _version(session, exam_row, version)
    if row.state != "published":
        raise ExamNotPublishedError(exam, version)
    return exam_row, row


def _record(exam_row: Exam, row: ExamVersion, stored: PaperRow, *, created: bool) -> PaperRecord:
    return PaperRecord(
        exam=exam_row.key,
        version=row.version,
        learner=stored.learner_ref,
        attempt=stored.attempt,
        paper=_PAPER_DECODER.decode(stored.content),
        created=created,
    )


def _learners_with_paper(
    session: Session, version_id: int, learners: Sequence[str], attempt: int
) -> set[str]:
    found: set[str] = set()
    for chunk in in_chunks(learners):
        found.update(
            session.exec(
                select(PaperRow.learner_ref).where(
                    PaperRow.exam_version_id == version_id,
                    PaperRow.attempt == attempt,
                    col(PaperRow.learner_ref).in_(chunk),
                )
            ).all()
        )
    return found


def _insert_papers(
    session: Session,
    version_id: int,
    attempt: int,
    papers: Sequence[tuple[str, Paper]],
    now: datetime,
) -> int:
    """Insert papers, skipping any (version, learner, attempt) stored meanwhile by a
    concurrent request; returns the rows inserted (-1 when the driver cannot tell)."""
    values = [
        {
            "exam_version_id": version_id,
            "learner_ref": learner,
            "attempt": attempt,
            "seed": paper.seed,
            "content": _PAPER_ENCODER.encode(paper).decode(),
            "created_at": now,
        }
        for learner, paper in papers
    ]
    if not values:
        return 0
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = PaperRow.metadata.tables[PaperRow.__tablename__]
    statement = insert(table).on_conflict_do_nothing()
    if len(values) == 1:  # RETURNING tells whether it went in (rowcount may be -1)
        inserted = session.execute(statement.values(**values[0]).returning(table.c.id))
        return len(inserted.all())
    session.execute(statement, values)
    return -1
