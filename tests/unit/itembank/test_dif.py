"""Differential item functioning by Mantel–Haenszel (itembank/dif.py)."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from itembank.dif import mantel_haenszel, strata

Floats = npt.NDArray[np.float64]


def responses(
    seed: int,
    focal: int,
    reference: int,
    *,
    items: int = 20,
    harder: float = 1.0,
    seen: int | None = None,
) -> tuple[Floats, list[str | None], list[str]]:
    """Focal learners of lower ability (N(−0.5, 1)) and reference learners (N(0, 1));
    item 0 is ``harder`` logits harder for the focal group at the same ability, every
    other item the same for both."""
    rng = np.random.default_rng(seed)
    a = np.exp(rng.normal(0.0, 0.25, items))
    b = rng.normal(0.0, 0.8, items)
    theta = np.concatenate([rng.normal(-0.5, 1.0, focal), rng.normal(0.0, 1.0, reference)])
    shift = np.zeros((theta.size, items))
    shift[:focal, 0] = harder
    p = 1.0 / (1.0 + np.exp(-a * (theta[:, None] - b - shift)))
    x = (rng.random(p.shape) < p).astype(np.float64)
    if seen is not None:
        hidden = np.argsort(rng.random(x.shape), axis=1)[:, seen:]
        np.put_along_axis(x, hidden, np.nan, axis=1)
    groups: list[str | None] = [*(["women"] * focal), *(["men"] * reference)]
    return x, groups, [f"q{j}" for j in range(items)]


def test_a_planted_item_is_c_and_the_clean_items_are_a() -> None:
    """Focal learners are weaker overall (impact, not DIF): matching on the paper score
    keeps the clean items A and unbiased; the item one logit harder for them is C, its
    delta negative."""
    x, groups, keys = responses(1, 1_000, 1_000)
    result = mantel_haenszel(x, keys, groups, focal="women")
    planted = result[0]
    assert planted.ets == "C" and planted.key == "q0"
    assert planted.delta_mh is not None and planted.delta_mh < -1.5
    assert planted.alpha_mh is not None and planted.alpha_mh > 1.0
    assert planted.p_value is not None and planted.p_value < 1e-6
    assert (planted.focal, planted.reference) == (1_000, 1_000)
    assert [item.ets for item in result[1:]] == ["A"] * 19
    clean = np.array([item.delta_mh for item in result[1:]], dtype=np.float64)
    assert np.all(np.abs(clean) < 1.0) and abs(float(np.mean(clean))) < 0.15


def test_sparse_papers_are_matched_on_the_share_of_points_on_the_paper() -> None:
    x, groups, keys = responses(2, 3_000, 3_000, items=30, seen=20)
    result = mantel_haenszel(x, keys, groups, focal="women", reference="men")
    assert result[0].ets == "C"
    assert sum(item.ets == "A" for item in result[1:]) >= 28  # at most one chance B
    assert all(item.ets != "C" for item in result[1:])
    assert 1_500 < result[0].focal < 2_500


def test_a_moderate_difference_is_b() -> None:
    x, groups, keys = responses(3, 4_000, 4_000, harder=0.25)
    planted = mantel_haenszel(x, keys, groups, focal="women")[0]
    assert planted.ets == "B"
    assert planted.delta_mh is not None and -1.5 < planted.delta_mh <= -1.0


def test_too_small_a_group_is_not_judged() -> None:
    x, groups, keys = responses(4, 60, 1_000)
    result = mantel_haenszel(x, keys, groups, focal="women")
    assert all(item.ets is None and item.alpha_mh is None for item in result)
    assert result[0].focal == 60 and result[0].reference == 1_000
    assert mantel_haenszel(x, keys, groups, focal="women", min_group=50)[0].ets == "C"


def test_unlabelled_and_other_groups_are_left_out_of_an_explicit_reference() -> None:
    x, groups, keys = responses(5, 500, 500)
    labelled: list[str | None] = [*groups[:400], *([None] * 100), *groups[500:900], *(["x"] * 100)]
    result = mantel_haenszel(x, keys, labelled, focal="women", reference="men")
    assert (result[0].focal, result[0].reference) == (400, 400)
    everyone_else = mantel_haenszel(x, keys, labelled, focal="women")
    assert (everyone_else[0].focal, everyone_else[0].reference) == (400, 500)


def test_an_item_everybody_got_right_holds_no_evidence() -> None:
    x, groups, keys = responses(6, 300, 300)
    x[:, 3] = 1.0
    item = mantel_haenszel(x, keys, groups, focal="women")[3]
    assert item.ets is None and item.chi2 is None and item.focal == 300


def test_the_statistics_match_a_hand_computed_table() -> None:
    """One stratum: α = AD/BC, the chi-square by hand. Item 0 on every paper; the
    others make every paper's share 0.5 (right on item 0, wrong on item 1, or the other
    way round, with item 2 then right: a paper of two items either way)."""
    reference = [[1.0, 0.0, np.nan]] * 30 + [[0.0, np.nan, 1.0]] * 10  # A = 30, B = 10
    focal = [[1.0, 0.0, np.nan]] * 20 + [[0.0, np.nan, 1.0]] * 20  # C = 20, D = 20
    x = np.array(reference + focal)
    groups: list[str | None] = [*(["r"] * 40), *(["f"] * 40)]
    item = mantel_haenszel(x, ["q0", "q1", "q2"], groups, focal="f", min_group=10)[0]
    assert item.alpha_mh == pytest.approx(30 * 20 / (10 * 20))
    assert item.delta_mh == pytest.approx(-2.35 * math.log(3.0))
    expected, variance = 40 * 50 / 80, 40 * 40 * 50 * 30 / (80 * 80 * 79)
    assert item.chi2 == pytest.approx((abs(30 - expected) - 0.5) ** 2 / variance)
    assert item.chi2 is not None
    assert item.p_value == pytest.approx(math.erfc(math.sqrt(item.chi2 / 2)))


def test_strata_are_deciles_and_ties_stay_together() -> None:
    rest = np.linspace(0, 1, 1_000)
    assert np.bincount(strata(rest)).tolist() == [100] * 10
    assert len(set(strata(np.array([0.5] * 50 + [1.0] * 50)).tolist())) == 2


def test_scores_groups_and_keys_must_agree() -> None:
    with pytest.raises(ValueError, match="one row per group label"):
        mantel_haenszel(np.zeros((3, 2)), ["a", "b"], ["f", "r"], focal="f")
