"""The equated pass standard (decision 0038): the cut ability θ_c of a calibrated exam and
the pass mark, in points, of each paper — its expected score at θ_c.

True-score equating: a paper's test characteristic curve (TCC) gives the expected points
of a learner of ability θ on it; the pass mark of the paper is its TCC at θ_c, so a
learner at the cut expects exactly the pass mark on whichever paper they draw, and an
easier paper asks for more points than a harder one. θ_c is the spec's ``theta_cut`` when
set, else the θ at which the *expected paper* scores ``pass_mark`` of its maximum: every
item of stratum s appears on a paper with probability q_s / n_s, so the expected paper's
TCC is the sum of the items' TCCs weighted by those probabilities. The raw standard of an
uncalibrated exam asks ``pass_mark`` of the maximum on every paper; the equated standard
asks the same of the expected paper and carries that cut to every paper through θ.

Rounding: a pass mark is rounded *up* to the next 0.01 point, so nobody passes with less
than the expected score at θ_c; a score is compared with it as it stands.

Pure functions of the compiled exam's arrays; nothing here reads or writes anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
from msgspec import Struct

from itembank.irt import probability, theta_for_true_score, true_score

if TYPE_CHECKING:
    from examengine.assembly import CompiledExam, PaperItem

Floats = npt.NDArray[np.float64]

#: Pass marks are rounded up to this many points.
PASS_SCORE_STEP = 0.01


def expected_paper_cut(
    a: Floats, b: Floats, points: Floats, inclusion: Floats, pass_mark: float
) -> float:
    """The θ at which the expected paper — each item weighted by its ``inclusion``
    probability — scores ``pass_mark`` of its expected maximum."""
    weight = points * inclusion
    used = weight > 0
    if not used.any():
        return 0.0
    maximum = float(weight[used].sum())
    return theta_for_true_score(pass_mark * maximum, a[used], b[used], weight[used])


def round_up(points: float) -> float:
    """``points`` rounded up to ``PASS_SCORE_STEP`` (a float error of 1e-9 is forgiven,
    so 57.5 stays 57.5)."""
    steps = math.ceil(points / PASS_SCORE_STEP - 1e-9)
    return round(steps * PASS_SCORE_STEP, 2)


def cut_theta(exam: CompiledExam) -> float:
    """θ_c of a calibrated exam: ``spec.theta_cut``, else where the expected paper's TCC
    reaches ``pass_mark`` of its maximum. Raises ``ValueError`` for an exam compiled
    without item parameters."""
    if exam.theta_cut is None:
        raise ValueError(f"exam {exam.spec.key!r} was compiled without item parameters")
    return exam.theta_cut


def paper_pass_score(exam: CompiledExam, paper_items: Sequence[PaperItem]) -> float:
    """The points a paper needs under the equated standard: its TCC at θ_c (the
    expected points of a learner at the cut), rounded up to 0.01 point."""
    return round_up(expected_points(exam, paper_items))


def expected_points(exam: CompiledExam, paper_items: Sequence[PaperItem]) -> float:
    """The paper's TCC at θ_c, unrounded."""
    theta = cut_theta(exam)
    numbers = [exam.number[entry.key] for entry in paper_items]
    points = np.array([entry.points for entry in paper_items], dtype=np.float64)
    return float(true_score(theta, exam.a[numbers], exam.b[numbers], points))


class ExpectedItem(Struct, frozen=True, kw_only=True, array_like=True):
    """One item of a paper at θ_c: its parameters, points, P(correct) and expected points."""

    key: str
    a: float
    b: float
    provisional: bool
    points: float
    probability: float
    expected: float


class PassExplanation(Struct, frozen=True, kw_only=True):
    """How a paper's pass mark was set, for the audit and the learner's result page.

    ``derived_from`` "theta_cut": θ_c is the spec's; "pass_mark": the θ at which the
    expected paper (``reference_max`` points) scores ``pass_mark`` of its maximum
    (``reference_cut`` points). ``expected_points`` is the paper's TCC at θ_c (the sum
    of ``items``' expected points), ``pass_score`` that rounded up to 0.01 — the points
    this paper needs — and ``raw_pass_score`` what the raw standard (``pass_mark`` of
    the paper's ``max_score``) would have needed.
    """

    standard: Literal["raw", "equated"]
    calibration: int | None
    theta_cut: float
    derived_from: Literal["theta_cut", "pass_mark"]
    pass_mark: float
    reference_max: float
    reference_cut: float
    max_score: float
    expected_points: float
    pass_score: float
    raw_pass_score: float
    provisional_items: int
    items: tuple[ExpectedItem, ...]


def explain(exam: CompiledExam, paper_items: Sequence[PaperItem]) -> PassExplanation:
    """Every number behind a paper's pass mark under the exam's calibration."""
    theta = cut_theta(exam)
    spec = exam.spec
    entries = []
    for entry in paper_items:
        n = exam.number[entry.key]
        p = float(probability(theta, exam.a[n], exam.b[n]))
        entries.append(
            ExpectedItem(
                key=entry.key,
                a=float(exam.a[n]),
                b=float(exam.b[n]),
                provisional=bool(exam.provisional[n]),
                points=entry.points,
                probability=round(p, 6),
                expected=round(p * entry.points, 6),
            )
        )
    expected = expected_points(exam, paper_items)
    maximum = round(sum(entry.points for entry in paper_items), 6)
    weight = exam.item_points * exam.inclusion
    reference_max = float(weight.sum())
    return PassExplanation(
        standard=spec.pass_standard.value,
        calibration=spec.calibration,
        theta_cut=theta,
        derived_from="pass_mark" if spec.theta_cut is None else "theta_cut",
        pass_mark=spec.pass_mark,
        reference_max=round(reference_max, 6),
        reference_cut=round(
            float(true_score(theta, exam.a, exam.b, weight))
            if spec.theta_cut is not None
            else spec.pass_mark * reference_max,
            6,
        ),
        max_score=maximum,
        expected_points=round(expected, 6),
        pass_score=round_up(expected),
        raw_pass_score=round(spec.pass_mark * maximum, 6),
        provisional_items=sum(1 for e in entries if e.provisional),
        items=tuple(entries),
    )


def score_distribution(p: Floats, points: Sequence[int]) -> Floats:
    """The distribution of the total score on papers of dichotomous items, exactly (the
    Lord–Wingersky recursion): ``p`` is papers × items, P(correct) of each item at one
    θ, and ``points`` the whole points of each item position (the same on every
    paper). Returns papers × (total + 1): P(score = 0, 1, … total)."""
    probabilities = np.atleast_2d(np.asarray(p, dtype=np.float64))
    papers = probabilities.shape[0]
    dist = np.zeros((papers, int(sum(points)) + 1))
    dist[:, 0] = 1.0
    reached = 0
    for j, step in enumerate(points):
        pj = probabilities[:, j : j + 1]
        moved = np.zeros_like(dist[:, : reached + step + 1])
        moved[:, step : step + reached + 1] = dist[:, : reached + 1] * pj
        moved[:, : reached + 1] += dist[:, : reached + 1] * (1.0 - pj)
        reached += step
        dist[:, : reached + 1] = moved
    return dist


def pass_probability(p: Floats, points: Sequence[int], pass_score: Floats | float) -> Floats:
    """Per paper, the probability that a learner with item probabilities ``p`` scores
    at least ``pass_score`` (a float error of 1e-9 is forgiven, as in grading)."""
    dist = score_distribution(p, points)
    scores = np.arange(dist.shape[1], dtype=np.float64)
    needed = np.asarray(pass_score, dtype=np.float64).reshape(-1, 1)
    result: Floats = (dist * (scores[None, :] >= needed - 1e-9)).sum(axis=1)
    return result
