"""Item analysis: facility, discrimination, distractors, reliability, flags."""

import numpy as np
import pytest

from itembank.analysis import analyse

NAN = np.nan


def simulated(n=2000, k=20, seed=7):
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=n)
    b = np.linspace(-2, 2, k)
    p = 1 / (1 + np.exp(-(theta[:, None] - b[None, :])))
    return (rng.random((n, k)) < p).astype(float)


def test_facility_is_the_mean_fraction_among_learners_who_had_the_item():
    x = np.array([[1, 0], [1, NAN], [0, 1], [1, 1]], dtype=float)
    stats = analyse(x, ["a", "b"])
    assert stats.item_stats[0].facility == 0.75
    assert stats.item_stats[1].facility == pytest.approx(2 / 3, abs=1e-4)
    assert stats.item_stats[1].responses == 3


def test_alpha_equals_the_textbook_formula_when_every_learner_had_every_item():
    x = simulated()
    k = x.shape[1]
    expected = k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / x.sum(axis=1).var(ddof=1))
    stats = analyse(x, [f"i{j}" for j in range(k)])
    assert stats.alpha == pytest.approx(expected, abs=1e-3)
    assert stats.kr20 == stats.alpha


def test_kr20_is_only_given_for_items_scored_zero_or_one():
    x = simulated() * 0.5
    assert analyse(x, [f"i{j}" for j in range(x.shape[1])]).kr20 is None


def test_point_biserial_matches_the_item_rest_correlation():
    x = simulated(n=500, k=10)
    stats = analyse(x, [f"i{j}" for j in range(10)])
    rest = (x.sum(axis=1) - x[:, 3]) / 9
    assert stats.item_stats[3].point_biserial == pytest.approx(
        np.corrcoef(x[:, 3], rest)[0, 1], abs=1e-3
    )


def test_items_that_work_against_the_test_are_flagged_negative():
    x = simulated(n=1000, k=10)
    x[:, 4] = 1 - x[:, 4]  # a mis-keyed item: the able get it "wrong"
    stats = analyse(x, [f"i{j}" for j in range(10)])
    assert "negative_discrimination" in stats.item_stats[4].flags
    assert stats.item_stats[4].discrimination_27 < 0
    assert "negative_discrimination" not in stats.item_stats[5].flags


def test_too_easy_and_too_hard_items_are_flagged():
    x = simulated(n=1000, k=10)
    x[:, 0] = 1.0
    x[:950, 1] = 0.0
    flags = {s.key: s.flags for s in analyse(x, [f"i{j}" for j in range(10)]).item_stats}
    assert "too_easy" in flags["i0"]
    assert "too_hard" in flags["i1"]


def test_distractor_counts_and_a_distractor_nobody_picks():
    n = 100
    rng = np.random.default_rng(3)
    chosen = rng.choice([0, 1, 2], size=n)  # option D (bit 3) is never chosen
    scores = np.stack([(chosen == 0).astype(float), rng.random(n).round()], axis=1)
    choices = np.stack([1 << chosen, np.zeros(n, dtype=int)], axis=1)
    stats = analyse(
        scores, ["q1", "q2"], choices=choices, correct_masks=[0b0001, 0], option_counts=[4, 0]
    )
    q1 = stats.item_stats[0]
    assert sum(q1.option_counts) == n
    assert q1.option_counts[3] == 0
    assert q1.unused_options == (3,)
    assert "unused_distractor" in q1.flags
    assert stats.item_stats[1].option_counts == ()


def test_few_responses_are_flagged_and_do_not_claim_unused_distractors():
    x = np.array([[1.0], [0.0], [1.0]])
    stats = analyse(
        x, ["q"], choices=np.array([[1], [2], [1]]), correct_masks=[1], option_counts=[3]
    )
    assert stats.item_stats[0].flags[0] == "few_responses"
    assert stats.item_stats[0].unused_options == ()


def test_a_score_matrix_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="learners × 3 items"):
        analyse(np.zeros((4, 2)), ["a", "b", "c"])
