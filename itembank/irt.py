"""Item response theory: the two-parameter logistic model's curves, shared by calibration,
paper assembly, equating and the author's pages.

An item with discrimination ``a`` and difficulty ``b`` (logits; θ and b on one scale) is
answered correctly by a learner of ability θ with probability

    P(θ) = 1 / (1 + exp(−a (θ − b)))

(the Rasch model is the case a = 1). Its Fisher information at θ is ``a² P (1 − P)``; a
paper's test information is the sum over its items, and its test characteristic curve
(the expected score in points) is ``Σ points · P(θ)``. No scaling constant D = 1.7: the
logistic metric throughout.

Everything takes and returns numpy arrays and broadcasts (θ against items); nothing here
reads or writes anything.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from msgspec import Struct

Floats = npt.NDArray[np.float64]
ArrayLike = float | Floats | npt.ArrayLike

#: Where ability is searched when a score is turned back into θ (logits).
THETA_RANGE = (-8.0, 8.0)


class ItemParameters(Struct, frozen=True, kw_only=True):
    """One item's 2PL parameters on the bank's scale. ``provisional``: not calibrated
    (too few responses), ``b`` is the authored difficulty as a logit and ``a`` the
    default discrimination."""

    a: float
    b: float
    provisional: bool = False


def probability(theta: ArrayLike, a: ArrayLike, b: ArrayLike) -> Floats:
    """P(correct) for every θ against every item: shape ``θ.shape + a.shape`` when θ is
    an array of abilities and a, b arrays of items (scalars broadcast)."""
    t = np.asarray(theta, dtype=np.float64)[..., None] if np.ndim(a) else np.asarray(theta)
    z = np.asarray(a, dtype=np.float64) * (t - np.asarray(b, dtype=np.float64))
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic, without overflow


def information(theta: ArrayLike, a: ArrayLike, b: ArrayLike) -> Floats:
    """Fisher information a²·P·(1 − P) of every item at every θ (shape as ``probability``)."""
    p = probability(theta, a, b)
    return np.asarray(a, dtype=np.float64) ** 2 * p * (1.0 - p)


def paper_information(theta: ArrayLike, a: ArrayLike, b: ArrayLike) -> Floats:
    """The information of a paper holding the items (a, b) at every θ: the items' sum."""
    info = information(theta, a, b)
    return info.sum(axis=-1) if np.ndim(a) else info


def true_score(theta: ArrayLike, a: ArrayLike, b: ArrayLike, points: ArrayLike) -> Floats:
    """The test characteristic curve: the expected points of a learner of ability θ on
    a paper of items (a, b) worth ``points`` each."""
    p = probability(theta, a, b)
    weighted = p * np.asarray(points, dtype=np.float64)
    return weighted.sum(axis=-1) if np.ndim(a) else weighted


def theta_for_true_score(
    score: float, a: ArrayLike, b: ArrayLike, points: ArrayLike, *, tolerance: float = 1e-10
) -> float:
    """The θ whose expected points on the paper (a, b, points) equal ``score``, by
    bisection (the curve rises monotonically when every a > 0). A score at or beyond
    what the curve reaches inside ``THETA_RANGE`` gives the range's end."""
    lo, hi = THETA_RANGE
    if true_score(lo, a, b, points) >= score:
        return lo
    if true_score(hi, a, b, points) <= score:
        return hi
    while hi - lo > tolerance:
        mid = 0.5 * (lo + hi)
        if true_score(mid, a, b, points) < score:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
