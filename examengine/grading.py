"""Grading a paper: each item through ``itembank.scoring``, the total against the pass mark:
``pass_mark`` of the paper's maximum (the raw standard), or the paper's own ``pass_score``
in points (the equated standard, ``examengine.equating``).

The one place a paper's score is computed; submit, the sweeper's auto-submit and a
regrade after a key fix all call ``grade`` with the paper and the latest answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from msgspec import Struct

from examengine.assembly import PaperItem
from itembank.errors import ItembankError
from itembank.model import Item
from itembank.scoring import score


class ItemResult(Struct, frozen=True, kw_only=True, array_like=True):
    key: str
    points: float
    max_points: float


class PaperResult(Struct, frozen=True, kw_only=True):
    score: float
    max_score: float
    passed: bool
    items: tuple[ItemResult, ...]
    #: The points this paper needed, whichever standard set them.
    pass_score: float

    @property
    def share(self) -> float:
        return self.score / self.max_score if self.max_score else 0.0


def grade(
    paper: Sequence[PaperItem],
    items: Mapping[str, Item],
    answers: Mapping[str, Any],
    *,
    pass_mark: float,
    pass_score: float | None = None,
) -> PaperResult:
    """Score every item of ``paper`` from ``answers`` (item key → response; missing is
    unanswered) with the paper's points, and compare the share with ``pass_mark`` — or,
    when the paper has one (the equated standard), the total with ``pass_score`` points.

    A stored response of the wrong shape (which the API refuses before storing) earns
    nothing rather than stopping the grading of the whole paper.
    """
    results = []
    for entry in paper:
        item = items[entry.key]
        try:
            fraction = score(item, answers.get(entry.key)).fraction
        except ItembankError:
            fraction = 0.0
        results.append(
            ItemResult(
                key=entry.key, points=round(fraction * entry.points, 6), max_points=entry.points
            )
        )
    total = round(sum(r.points for r in results), 6)
    maximum = round(sum(r.max_points for r in results), 6)
    needed = round(pass_mark * maximum, 6) if pass_score is None else pass_score
    if pass_score is None:
        passed = maximum > 0 and total >= pass_mark * maximum - 1e-9
    else:
        passed = maximum > 0 and total >= pass_score - 1e-9
    return PaperResult(
        score=total, max_score=maximum, passed=passed, items=tuple(results), pass_score=needed
    )
