"""The audit of a stored paper: the learner's paper rebuilt from its seed (excluding
exactly what the original build could have excluded) and compared with the stored
record, item by item (``show_paper``); for a calibrated exam, how its pass mark was
computed (``examengine.equating.explain``).
"""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import Struct
from sqlmodel import Session, col, select

from api.services.exams._row import (
    _PAPER_DECODER,
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
from api.store.tables import Exam, ExamVersion
from api.store.tables import Paper as PaperRow
from examengine.assembly import Paper, build_paper
from examengine.equating import PassExplanation, explain

#: Most differences an audit lists one by one.
MAX_DIFFERENCES = 20


AuditStatus = Literal["identical", "differs", "none"]


class AuditResult(Struct, frozen=True, kw_only=True):
    """A paper rebuilt from its seed, compared with the stored record."""

    exam: str
    version: int
    learner: str
    attempt: int
    seed: str
    rebuilt: Paper
    #: The stored paper; None when there is none or it cannot be read.
    stored: Paper | None
    #: "none" when no paper is stored for this learner and attempt.
    status: AuditStatus
    identical: bool
    #: What differs, one line each (empty when identical).
    differences: tuple[str, ...] = ()
    #: The section titles, indexed by ``PaperItem.section``.
    sections: tuple[str, ...] = ()
    #: How the rebuilt paper's pass mark was computed (calibrated exams: θ_c, each
    #: item's expected points there, the points needed; decision 0038).
    pass_explanation: PassExplanation | None = None


def show_paper(
    session: Session,
    *,
    exam: str,
    learner: str,
    attempt: int,
    secret: bytes,
    version: int | None = None,
) -> AuditResult:
    """The audit: the learner's paper rebuilt from its seed, compared with the stored one.

    The version is the one holding the stored paper (the newest if several do), else the
    latest published one. The rebuild excludes exactly what the original build could
    have excluded: the items of this learner's papers of earlier attempts that were
    stored before this one.
    """
    _check_request(learner, attempt)
    exam_row = _exam(session, exam)
    if version is not None:
        row = _version(session, exam_row, version)
        assert row.id is not None
        found = _stored(session, row.id, learner, attempt)
    else:
        row, found = _newest_stored(session, exam_row, learner, attempt)
    assert row.id is not None
    spec = _decode_spec(row.spec)
    seen: dict[str, set[str]] = {}
    if spec.exclude_seen:
        before = found.id if found is not None else None
        seen = _seen_keys(session, row.id, [learner], attempt, before_id=before)
    seed = _seed(secret, spec, learner, attempt)
    compiled = _compiled(session, spec)
    rebuilt = build_paper(compiled, seed, exclude=seen.get(learner, set()))
    stored, differences = _compare(found, rebuilt)
    status: AuditStatus = "none" if found is None else ("differs" if differences else "identical")
    return AuditResult(
        exam=exam_row.key,
        version=row.version,
        learner=learner,
        attempt=attempt,
        seed=rebuilt.seed,
        rebuilt=rebuilt,
        stored=stored,
        status=status,
        identical=status == "identical",
        differences=tuple(differences),
        sections=tuple(s.title for s in spec.sections),
        pass_explanation=explain(compiled, rebuilt.items) if compiled.calibrated else None,
    )


def _newest_stored(
    session: Session, exam_row: Exam, learner: str, attempt: int
) -> tuple[ExamVersion, PaperRow | None]:
    """The newest version holding this learner's paper for ``attempt``, and the paper;
    else the latest published version and None."""
    found = session.exec(
        select(ExamVersion, PaperRow)
        .join(PaperRow, col(PaperRow.exam_version_id) == col(ExamVersion.id))
        .where(
            ExamVersion.exam_id == exam_row.id,
            PaperRow.learner_ref == learner,
            PaperRow.attempt == attempt,
        )
        .order_by(col(ExamVersion.version).desc())
        .limit(1)
    ).first()
    if found is not None:
        return found[0], found[1]
    latest = _latest(session, exam_row, published=True)
    if latest is None:
        raise ExamNotPublishedError(exam_row.key)
    return latest, None


def _compare(found: PaperRow | None, rebuilt: Paper) -> tuple[Paper | None, list[str]]:
    """The stored paper (if readable) and what differs from the rebuilt one."""
    if found is None:
        return None, []
    try:
        stored = _PAPER_DECODER.decode(found.content)
    except msgspec.MsgspecError as exc:
        return None, [f"the stored paper cannot be read ({' '.join(str(exc).split())})"]
    differences = []
    if found.seed != rebuilt.seed:
        differences.append(f"seed column {found.seed} ≠ {rebuilt.seed}")
    differences += _paper_differences(stored, rebuilt)
    if len(differences) > MAX_DIFFERENCES:
        more = len(differences) - MAX_DIFFERENCES
        differences = [*differences[:MAX_DIFFERENCES], f"… and {more} more"]
    return stored, differences


def _paper_differences(stored: Paper, rebuilt: Paper) -> list[str]:
    out = []
    if stored.seed != rebuilt.seed:
        out.append(f"seed {stored.seed} ≠ {rebuilt.seed}")
    if len(stored.items) != len(rebuilt.items):
        out.append(f"{len(stored.items)} items stored, {len(rebuilt.items)} rebuilt")
    for position, (a, b) in enumerate(zip(stored.items, rebuilt.items, strict=False), start=1):
        if a.key != b.key:
            out.append(f"position {position}: item {a.key} ≠ {b.key}")
        elif a.order != b.order:
            out.append(
                f"position {position} ({a.key}): option order "
                f"{' '.join(a.order)} ≠ {' '.join(b.order)}"
            )
        elif (a.section, a.points) != (b.section, b.points):
            out.append(
                f"position {position} ({a.key}): section/points {a.section}/{a.points} ≠ "
                f"{b.section}/{b.points}"
            )
    if stored.difficulty != rebuilt.difficulty:
        out.append(f"mean difficulty {stored.difficulty} ≠ {rebuilt.difficulty}")
    if stored.repeats != rebuilt.repeats:
        out.append(f"repeats {stored.repeats} ≠ {rebuilt.repeats}")
    if stored.pass_score != rebuilt.pass_score:
        out.append(f"pass score {stored.pass_score} ≠ {rebuilt.pass_score}")
    if stored.theta_cut != rebuilt.theta_cut:
        out.append(f"θ_c {stored.theta_cut} ≠ {rebuilt.theta_cut}")
    return out
