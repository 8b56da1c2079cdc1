"""Certificates (docs/decisions/0027). Being written: see issue 16."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session


def exam_results(session: Session, results: Sequence[tuple[int, str]], *, now: int) -> None:
    """A formal attempt of ``(learner, exam)`` passed, or was regraded, in this
    transaction: issue (or revoke) the certificates of the plans that exam closes."""
