"""Previews for authors: a paper of a spec, or of a stored version (draft or not), built
from a seed like a learner's but stored nowhere (``sample_paper``), and the same with
each item whole, the key included (``preview_paper``).
"""

from __future__ import annotations

from msgspec import Struct
from sqlmodel import Session

from api.services.exams._row import (
    _check_request,
    _decode_spec,
    _exam,
    _latest,
    _seed,
    _version,
)
from api.services.exams.cache import _compiled
from api.services.exams.error import ExamNotFoundError
from examengine.assembly import CompiledExam, Paper, build_paper
from examengine.blueprint import ExamSpec
from itembank.model import Item


class PreviewItem(Struct, frozen=True, kw_only=True):
    """One item of a preview paper, whole (the key included: previews are for authors)."""

    position: int
    section: int
    section_title: str
    points: float
    #: The order its options (or a matching item's answers) are shown in.
    order: tuple[str, ...]
    item: Item


class PaperPreview(Struct, frozen=True, kw_only=True):
    exam: str
    version: int
    learner: str
    attempt: int
    seed: str
    difficulty: float
    repeats: int
    items: tuple[PreviewItem, ...]


def sample_paper(
    session: Session,
    *,
    secret: bytes,
    spec: ExamSpec | None = None,
    exam: str | None = None,
    version: int | None = None,
    learner: str = "preview",
    attempt: int = 1,
) -> Paper:
    """A paper for a preview, stored nowhere: of ``spec`` as given, or of a stored version
    of ``exam`` (the latest, draft or not, when ``version`` is None).

    Raises ``SpecInvalidError`` when the spec cannot be assembled from its bank version.
    """
    return _sample(
        session, secret=secret, spec=spec, exam=exam, version=version, learner=learner,
        attempt=attempt,
    )[1]  # fmt: skip


def preview_paper(
    session: Session,
    *,
    secret: bytes,
    exam: str,
    version: int | None = None,
    learner: str = "preview",
    attempt: int = 1,
) -> PaperPreview:
    """``sample_paper`` of a stored version, with each item whole (for authors)."""
    spec, paper, compiled = _sample(
        session, secret=secret, spec=None, exam=exam, version=version, learner=learner,
        attempt=attempt,
    )  # fmt: skip
    by_key = dict(zip(compiled.keys, compiled.items, strict=True))
    items = tuple(
        PreviewItem(
            position=n,
            section=i.section,
            section_title=spec.sections[i.section].title,
            points=i.points,
            order=i.order,
            item=by_key[i.key],
        )
        for n, i in enumerate(paper.items, start=1)
    )
    return PaperPreview(
        exam=spec.key,
        version=spec.version,
        learner=learner,
        attempt=attempt,
        seed=paper.seed,
        difficulty=paper.difficulty,
        repeats=paper.repeats,
        items=items,
    )


def _sample(
    session: Session,
    *,
    secret: bytes,
    spec: ExamSpec | None,
    exam: str | None,
    version: int | None,
    learner: str,
    attempt: int,
) -> tuple[ExamSpec, Paper, CompiledExam]:
    _check_request(learner, attempt)
    if spec is None:
        if exam is None:
            raise TypeError("sample_paper needs a spec or an exam")
        exam_row = _exam(session, exam)
        row = (
            _version(session, exam_row, version)
            if version is not None
            else _latest(session, exam_row)
        )
        if row is None:
            raise ExamNotFoundError(exam)
        spec = _decode_spec(row.spec)
    compiled = _compiled(session, spec)
    return spec, build_paper(compiled, _seed(secret, spec, learner, attempt)), compiled
