"""The 2PL curves every psychometric part shares (itembank/irt.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from itembank import irt


def test_an_item_is_answered_half_the_time_at_its_difficulty_and_more_often_above_it() -> None:
    assert irt.probability(1.2, 1.7, 1.2) == pytest.approx(0.5)
    assert irt.probability(2.2, 1.0, 1.2) == pytest.approx(1 / (1 + math.exp(-1.0)))
    assert irt.probability(0.2, 2.0, 1.2) == pytest.approx(1 / (1 + math.exp(2.0)))


def test_probabilities_broadcast_abilities_against_items_and_never_overflow() -> None:
    a, b = np.array([1.0, 2.0, 0.5]), np.array([-1.0, 0.0, 3.0])
    p = irt.probability(np.array([-50.0, 0.0, 50.0, 800.0]), a, b)
    assert p.shape == (4, 3)
    assert np.all((p >= 0) & (p <= 1)) and np.all(np.isfinite(p))
    assert np.all(np.diff(p, axis=0) >= 0)  # rises with ability


def test_information_peaks_at_the_difficulty_at_a_squared_over_four() -> None:
    thetas = np.linspace(-4, 4, 801)
    info = irt.information(thetas, np.array([1.6]), np.array([0.7]))[:, 0]
    assert thetas[info.argmax()] == pytest.approx(0.7, abs=0.01)
    assert info.max() == pytest.approx(1.6**2 / 4)


def test_a_papers_information_and_true_score_are_the_sums_over_its_items() -> None:
    a, b, points = np.array([1.0, 1.5]), np.array([0.0, 1.0]), np.array([2.0, 3.0])
    p = 1 / (1 + np.exp(-a * (0.4 - b)))
    assert irt.paper_information(0.4, a, b) == pytest.approx(float(np.sum(a**2 * p * (1 - p))))
    assert irt.true_score(0.4, a, b, points) == pytest.approx(float(np.sum(points * p)))


@given(score=st.floats(0.5, 9.5), shift=st.floats(-2, 2))
def test_the_ability_for_a_true_score_gives_that_score_back(score: float, shift: float) -> None:
    a = np.array([0.8, 1.2, 1.0, 2.0, 0.6, 1.4, 1.1, 0.9, 1.3, 1.0])
    b = np.linspace(-2, 2, 10) + shift
    points = np.ones(10)
    theta = irt.theta_for_true_score(score, a, b, points)
    assert irt.true_score(theta, a, b, points) == pytest.approx(score, abs=1e-6)


def test_a_score_the_curve_cannot_reach_gives_the_end_of_the_range() -> None:
    a, b, points = np.array([1.0]), np.array([0.0]), np.array([1.0])
    assert irt.theta_for_true_score(1.0, a, b, points) == irt.THETA_RANGE[1]
    assert irt.theta_for_true_score(0.0, a, b, points) == irt.THETA_RANGE[0]
