"""Item analysis: how items behaved once learners answered them (classical test theory).

Input is a response matrix, one row per learner and one column per item, holding the
fraction of the item earned (0–1) or NaN where the item was not on that learner's paper
(every learner gets a different paper, so the matrix has holes by design). For choice
items a second matrix holds the options chosen as a bit mask (bit i = option i), which
gives the distractor counts. An optional third matrix says which presented items the
learner actually answered: a blank scores 0 in the facility but is not a response, and
is counted apart.

Everything is vectorised over the whole matrix; 100,000 learners × 100 items take well
under a second (benchmarks/itembank.py). Statistics per item:

- facility: mean fraction earned by the learners who had the item;
- point-biserial: correlation of the item with the rest of the learner's paper (the
  learner's share of points on the *other* items they had), so the item does not
  correlate with itself;
- upper–lower discrimination: facility among the top 27 % of learners by paper score
  minus facility among the bottom 27 %;
- distractor counts: how many learners chose each option.

An item is judged (too easy, too hard, low or negative discrimination, an unused
distractor) only when at least ``Thresholds.min_responses`` learners answered it; below
that it carries the one flag ``few_responses`` and nothing else (one learner's answer
says nothing about an item).

For the exam: Cronbach's alpha from the available-case covariance matrix of the items
(reduces to the usual formula when every learner had every item), reported as KR-20
too when every score is 0 or 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
from msgspec import Struct

Flag = Literal[
    "too_easy",
    "too_hard",
    "negative_discrimination",
    "low_discrimination",
    "unused_distractor",
    "few_responses",
]


class Thresholds(Struct, frozen=True, kw_only=True):
    """Where an item gets a flag. Defaults follow common CTT practice; ``min_responses``
    is the fewest answers an item is judged on (the one place that number lives)."""

    too_easy: float = 0.90
    too_hard: float = 0.20
    low_discrimination: float = 0.20
    min_responses: int = 30


class ItemStats(Struct, frozen=True, kw_only=True):
    """One item. ``responses``: learners who answered it; ``blanks``: learners who had it
    and left it blank (scored 0 in ``facility``, not counted as responses)."""

    key: str
    responses: int
    facility: float | None
    point_biserial: float | None
    discrimination_27: float | None
    option_counts: tuple[int, ...] = ()
    flags: tuple[Flag, ...] = ()
    unused_options: tuple[int, ...] = ()
    blanks: int = 0


class ExamStats(Struct, frozen=True, kw_only=True):
    learners: int
    items: int
    mean_score: float | None
    sd_score: float | None
    alpha: float | None
    kr20: float | None
    item_stats: tuple[ItemStats, ...]
    #: The fewest responses an item is judged on (``Thresholds.min_responses``).
    min_responses: int = Thresholds().min_responses


FloatMatrix = npt.NDArray[np.floating]
IntMatrix = npt.NDArray[np.integer]


def analyse(
    scores: FloatMatrix,
    keys: Sequence[str],
    *,
    choices: IntMatrix | None = None,
    correct_masks: Sequence[int] | None = None,
    option_counts: Sequence[int] | None = None,
    answered: npt.NDArray[np.bool_] | None = None,
    thresholds: Thresholds | None = None,
) -> ExamStats:
    """Statistics for every item and the exam.

    ``scores`` is learners × items (NaN = not presented). ``choices`` (same shape, bit
    masks, 0 = nothing chosen), ``correct_masks`` (per item, the bits of its correct
    options) and ``option_counts`` (per item, how many options it has; 0 for items that
    are not choice items) enable distractor counts and the unused-distractor flag.
    ``answered`` (same shape) marks the presented items that were answered, not left
    blank; without it every presented item counts as answered.
    Raises ``ValueError`` when the shapes disagree.
    """
    t = thresholds or Thresholds()
    x = np.asarray(scores, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(keys):
        raise ValueError(f"scores must be learners × {len(keys)} items, got shape {x.shape}")
    seen = ~np.isnan(x)
    x0 = np.where(seen, x, 0.0)
    n = seen.sum(axis=0)
    replied = (seen & np.asarray(answered, dtype=bool)).sum(axis=0) if answered is not None else n
    facility = _safe_div(x0.sum(axis=0), n)
    total, had = x0.sum(axis=1), seen.sum(axis=1)
    rpb = _point_biserial(x0, seen, total, had)
    d27 = _upper_lower(x0, seen, _safe_div(total, had))
    counts = _option_counts(choices, seen, option_counts) if choices is not None else None
    stats = [
        _item_stats(
            j,
            keys[j],
            n=int(n[j]),
            replied=int(replied[j]),
            facility=facility[j],
            rpb=rpb[j],
            d27=d27[j],
            counts=counts,
            correct_masks=correct_masks,
            option_counts=option_counts,
            t=t,
        )
        for j in range(len(keys))
    ]
    paper = _safe_div(total, had)[had > 0]
    alpha = _alpha(x0, seen)
    dichotomous = bool(np.all((x0 == 0) | (x0 == 1)))
    return ExamStats(
        learners=int((had > 0).sum()),
        items=len(keys),
        mean_score=_num(paper.mean()) if paper.size else None,
        sd_score=_num(paper.std(ddof=1)) if paper.size > 1 else None,
        alpha=alpha,
        kr20=alpha if dichotomous else None,
        item_stats=tuple(stats),
        min_responses=t.min_responses,
    )


def _item_stats(
    j: int,
    key: str,
    *,
    n: int,
    replied: int,
    facility: float,
    rpb: float,
    d27: float,
    counts: IntMatrix | None,
    correct_masks: Sequence[int] | None,
    option_counts: Sequence[int] | None,
    t: Thresholds,
) -> ItemStats:
    flags: list[Flag] = []
    unused: tuple[int, ...] = ()
    judged = replied >= t.min_responses
    if not judged:
        flags.append("few_responses")
    if judged and facility > t.too_easy:
        flags.append("too_easy")
    if judged and facility < t.too_hard:
        flags.append("too_hard")
    if judged and not np.isnan(rpb) and rpb < 0:
        flags.append("negative_discrimination")
    elif judged and not np.isnan(rpb) and rpb < t.low_discrimination:
        flags.append("low_discrimination")
    item_counts: tuple[int, ...] = ()
    if counts is not None and option_counts is not None and option_counts[j]:
        item_counts = tuple(int(c) for c in counts[j, : option_counts[j]])
        correct = correct_masks[j] if correct_masks is not None else 0
        unused = tuple(i for i, c in enumerate(item_counts) if c == 0 and not (correct >> i) & 1)
        if unused and judged:
            flags.append("unused_distractor")
    return ItemStats(
        key=key,
        responses=replied,
        blanks=n - replied,
        facility=_num(facility) if n else None,
        point_biserial=_num(rpb),
        discrimination_27=_num(d27),
        option_counts=item_counts,
        flags=tuple(flags),
        unused_options=unused if judged else (),
    )


def _num(value: float | np.floating) -> float | None:
    v = float(value)
    return None if np.isnan(v) else round(v, 4)


def _safe_div(a: FloatMatrix, b: FloatMatrix) -> FloatMatrix:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.maximum(b, 1), np.nan)


def _point_biserial(
    x0: FloatMatrix, seen: npt.NDArray[np.bool_], total: FloatMatrix, had: FloatMatrix
) -> FloatMatrix:
    """Item–rest correlation per column, over the learners who had the item."""
    with np.errstate(invalid="ignore", divide="ignore"):
        rest = (total[:, None] - x0) / (had[:, None] - 1)
    w = seen & (had[:, None] > 1)
    rest = np.where(w, rest, 0.0)
    xi = np.where(w, x0, 0.0)
    n = w.sum(axis=0)
    mx, mr = _safe_div(xi.sum(axis=0), n), _safe_div(rest.sum(axis=0), n)
    sxx = (xi * xi).sum(axis=0) - n * mx * mx
    srr = (rest * rest).sum(axis=0) - n * mr * mr
    sxr = (xi * rest).sum(axis=0) - n * mx * mr
    with np.errstate(invalid="ignore", divide="ignore"):
        r = sxr / np.sqrt(sxx * srr)
    return np.where((sxx > 1e-12) & (srr > 1e-12), r, np.nan)


def _upper_lower(x0: FloatMatrix, seen: npt.NDArray[np.bool_], paper: FloatMatrix) -> FloatMatrix:
    """Facility in the top 27 % of learners by paper score minus the bottom 27 %."""
    valid = ~np.isnan(paper)
    if valid.sum() < 4:
        return np.full(x0.shape[1], np.nan)
    lo, hi = np.quantile(paper[valid], [0.27, 0.73])
    upper = (valid & (paper >= hi))[:, None] & seen
    lower = (valid & (paper <= lo))[:, None] & seen
    up = _safe_div(np.where(upper, x0, 0).sum(axis=0), upper.sum(axis=0))
    down = _safe_div(np.where(lower, x0, 0).sum(axis=0), lower.sum(axis=0))
    return up - down


def _option_counts(
    choices: IntMatrix, seen: npt.NDArray[np.bool_], option_counts: Sequence[int] | None
) -> IntMatrix:
    c = np.where(seen, np.asarray(choices, dtype=np.int64), 0)
    width = max(option_counts) if option_counts else 8
    out = np.zeros((c.shape[1], max(width, 1)), dtype=np.int64)
    for bit in range(width):
        out[:, bit] = ((c >> bit) & 1).sum(axis=0)
    return out


def _alpha(x0: FloatMatrix, seen: npt.NDArray[np.bool_]) -> float | None:
    """Cronbach's alpha from the available-case item covariance matrix."""
    k = x0.shape[1]
    if k < 2:
        return None
    xf = x0.astype(np.float32)
    wf = seen.astype(np.float32)
    pairs = (wf.T @ wf).astype(np.float64)
    sums = (xf.T @ wf).astype(np.float64)  # sums[i, j]: Σ x_i over learners who had i and j
    cross = (xf.T @ xf).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = (cross - sums * sums.T / pairs) / (pairs - 1)
    if np.isnan(cov).any() or (pairs < 2).any():
        cov = np.where(pairs >= 2, cov, 0.0)
    variance_sum = float(np.trace(cov))
    total_variance = float(cov.sum())
    if total_variance <= 0:
        return None
    return _num(k / (k - 1) * (1 - variance_sum / total_variance))
