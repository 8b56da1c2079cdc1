"""Calibration (itembank/calibration.py): parameter recovery on simulated responses,
determinism, provisional items, item fit, and the link to a previous scale."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from itembank.calibration import (
    DEFAULT_MIN_RESPONSES,
    Calibration,
    FitResult,
    MirtFitter,
    Model,
    ReferenceFitter,
    calibrate,
    dichotomise,
    item_rest_correlation,
    mean_sigma,
    parameters,
    stocking_lord,
)
from itembank.irt import ItemParameters

Floats = npt.NDArray[np.float64]


def simulate(
    seed: int,
    a: Floats,
    b: Floats,
    learners: int,
    *,
    seen: int | None = None,
    mean: float = 0.0,
    sd: float = 1.0,
) -> Floats:
    """0/1 responses of ``learners`` of ability N(mean, sd²) to items (a, b); each
    learner sees ``seen`` items drawn at random (NaN elsewhere), or all of them."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(mean, sd, learners)
    p = 1.0 / (1.0 + np.exp(-a * (theta[:, None] - b)))
    x = (rng.random(p.shape) < p).astype(np.float64)
    if seen is not None:
        hidden = np.argsort(rng.random(x.shape), axis=1)[:, seen:]
        np.put_along_axis(x, hidden, np.nan, axis=1)
    return x


def bank(seed: int, items: int) -> tuple[Floats, Floats, list[str]]:
    rng = np.random.default_rng(seed)
    a = np.exp(rng.normal(0.0, 0.3, items))
    b = np.clip(rng.normal(0.0, 1.0, items), -2.5, 2.5)
    return a, b, [f"item-{j:03d}" for j in range(items)]


def estimates(calibration: Calibration) -> tuple[Floats, Floats]:
    return (
        np.array([item.a for item in calibration.items]),
        np.array([item.b for item in calibration.items]),
    )


def rmse(x: Floats, y: Floats) -> float:
    return float(np.sqrt(np.mean((x - y) ** 2)))


def test_half_credit_or_more_counts_as_right_and_missing_stays_missing() -> None:
    scores = np.array([[0.0, 0.25, 0.49, 0.5, 0.75, 1.0, np.nan]])
    assert dichotomise(scores).tolist()[0][:6] == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    assert math.isnan(dichotomise(scores)[0, 6])


def test_2pl_recovers_the_simulated_parameters_from_sparse_papers() -> None:
    """5,000 learners, 60 items, each learner saw 30: RMSE of a and b below 0.15."""
    a, b, keys = bank(1, 60)
    x = simulate(2, a, b, 5_000, seen=30)
    calibration = calibrate(x, keys, [0.0] * 60)
    est_a, est_b = estimates(calibration)
    assert rmse(est_a, a) < 0.15
    assert rmse(est_b, b) < 0.15
    assert calibration.converged and calibration.model == "2pl"
    assert calibration.learners == 5_000 and calibration.link.method == "none"
    assert [item.key for item in calibration.items] == keys
    assert not any(item.provisional or item.flags for item in calibration.items)
    # standard errors of the right size: the errors are within ~3 SE, and SEs are small
    se_b = np.array([item.se_b or 0.0 for item in calibration.items])
    assert np.all(se_b > 0.01) and np.all(se_b < 0.2)
    assert np.mean(np.abs(est_b - b) / se_b) < 1.5
    # well-fitting items have mean squares near 1
    infit = np.array([item.infit or 0.0 for item in calibration.items])
    outfit = np.array([item.outfit or 0.0 for item in calibration.items])
    assert np.all(np.abs(infit - 1.0) < 0.15) and np.all(np.abs(outfit - 1.0) < 0.2)
    assert parameters(calibration)["item-007"] == ItemParameters(
        a=calibration.items[7].a, b=calibration.items[7].b, provisional=False
    )


def test_rasch_recovers_difficulties_and_the_spread_of_ability() -> None:
    _, b, keys = bank(3, 40)
    x = simulate(4, np.ones(40), b, 4_000, seen=25, sd=1.4)
    calibration = calibrate(x, keys, [0.0] * 40, model="rasch")
    est_a, est_b = estimates(calibration)
    assert rmse(est_b, b) < 0.1
    assert np.all(est_a == 1.0)
    assert all(item.se_a is None and item.se_b is not None for item in calibration.items)
    assert any("SD 1.4" in note or "SD 1.3" in note for note in calibration.notes)


def test_the_same_responses_give_the_same_calibration() -> None:
    a, b, keys = bank(5, 30)
    x = simulate(6, a, b, 1_500, seen=20)
    previous = {key: ItemParameters(a=float(a[j]), b=float(b[j])) for j, key in enumerate(keys)}
    first = calibrate(x, keys, [0.0] * 30, previous=previous, previous_number=1)
    second = calibrate(x.copy(), keys, [0.0] * 30, previous=previous, previous_number=1)
    assert first == second


def test_a_planted_misfitting_item_is_flagged_and_fitting_ones_are_not() -> None:
    """Under the Rasch model an item that barely discriminates (a = 0.25) misfits."""
    rng = np.random.default_rng(7)
    b = rng.normal(0.0, 0.8, 25)
    a = np.ones(25)
    a[0] = 0.25
    x = simulate(8, a, b, 3_000)
    keys = [f"q{j}" for j in range(25)]
    calibration = calibrate(x, keys, [0.0] * 25, model="rasch")
    assert "misfit" in calibration.items[0].flags
    assert (calibration.items[0].outfit or 0.0) > 1.3
    assert [item.key for item in calibration.items if "misfit" in item.flags] == ["q0"]


def test_items_with_few_responses_keep_their_authored_label() -> None:
    a, b, keys = bank(9, 20)
    x = simulate(10, a, b, 1_000)
    x[50:, 3] = np.nan  # only 50 learners had item 3
    x[:, 4] = 1.0  # everybody got item 4 right
    authored = [j / 8 for j in range(20)]
    calibration = calibrate(x, keys, authored, min_responses=100)
    few, easy = calibration.items[3], calibration.items[4]
    assert (few.provisional, few.a, few.b, few.responses) == (True, 1.0, 0.375, 50)
    assert few.flags == ("few_responses",) and few.se_b is None and few.infit is None
    assert (easy.provisional, easy.a, easy.b, easy.p_value) == (True, 1.0, 0.5, 1.0)
    assert easy.flags == ("extreme",)
    assert sum(item.provisional for item in calibration.items) == 2
    assert any("below 100 responses" in note for note in calibration.notes)
    assert any("all right or all wrong" in note for note in calibration.notes)


@pytest.mark.parametrize("learners", [0, 1, 40])
def test_a_bank_with_too_few_responses_keeps_every_authored_label_with_a_note(
    learners: int,
) -> None:
    a, b, keys = bank(11, 10)
    x = simulate(12, a, b, learners) if learners else np.empty((0, 10))
    authored = [-1.0 + j / 4 for j in range(10)]
    calibration = calibrate(x, keys, authored)
    assert calibration.fitter == "none" and calibration.learners == learners
    assert [item.b for item in calibration.items] == authored
    assert all(item.provisional and item.a == 1.0 for item in calibration.items)
    assert calibration.notes[0].startswith("too few responses: authored labels kept")
    assert calibration.min_responses == DEFAULT_MIN_RESPONSES
    assert parameters(calibration)["item-000"] == ItemParameters(a=1.0, b=-1.0, provisional=True)


def test_scores_and_keys_must_agree() -> None:
    with pytest.raises(ValueError, match="one column per key"):
        calibrate(np.zeros((5, 3)), ["a", "b"], [0.0, 0.0])


def test_a_shifted_recalibration_maps_back_onto_the_previous_scale() -> None:
    """The same responses, linked to a previous calibration on a scale stretched by 1.5
    and moved by 0.7: the link finds A = 1.5, B = 0.7 and every item lands on the
    previous parameters."""
    a, b, keys = bank(13, 30)
    x = simulate(14, a, b, 2_000, seen=20)
    first = calibrate(x, keys, [0.0] * 30)
    previous = {
        item.key: ItemParameters(a=item.a / 1.5, b=1.5 * item.b + 0.7) for item in first.items
    }
    linked = calibrate(x, keys, [0.0] * 30, previous=previous, previous_number=4)
    assert linked.link.method == "stocking_lord" and linked.link.previous == 4
    assert pytest.approx(1.5, abs=1e-4) == linked.link.A
    assert pytest.approx(0.7, abs=1e-4) == linked.link.B
    assert linked.link.anchors == 30
    for item in linked.items:
        assert item.b == pytest.approx(previous[item.key].b, abs=1e-3)
        assert item.a == pytest.approx(previous[item.key].a, abs=1e-3)
        assert item.anchor and item.flags == ()
        assert item.drift_b == pytest.approx(0.0, abs=1e-3)


@pytest.mark.parametrize("model", ["2pl", "rasch"])
def test_anchors_keep_the_scale_of_a_cohort_of_other_ability(model: Model) -> None:
    """Cohort 1 (ability N(0, 1)) saw items 0–39; cohort 2 (N(0.6, 1.3²)) saw items 20–59.
    Linked through the 20 common items, cohort 2's parameters, new items included, are on
    cohort 1's scale: the truth's. An anchor whose difficulty really moved is flagged as
    drift and left out of the link."""
    a, b, keys = bank(15, 60)
    if model == "rasch":
        a = np.ones(60)
    first = calibrate(
        simulate(16, a[:40], b[:40], 3_000, seen=25), keys[:40], [0.0] * 40, model=model
    )
    moved = b.copy()
    moved[25] += 1.5  # item 25 became harder between the two cohorts
    x2 = simulate(17, a[20:], moved[20:], 3_000, seen=25, mean=0.6, sd=1.3)
    second = calibrate(
        x2, keys[20:], [0.0] * 40, model=model, previous=parameters(first), previous_number=1
    )
    assert second.link.method == "stocking_lord" and second.link.anchors == 19
    assert pytest.approx(1.0 if model == "rasch" else 1.3, abs=0.1) == second.link.A
    assert pytest.approx(0.6, abs=0.1) == second.link.B
    est_a, est_b = estimates(second)
    clean = np.arange(40) != 5  # item 25 is column 5 of the second cohort
    assert rmse(est_b[clean], b[20:][clean]) < 0.15
    assert rmse(est_a[clean], a[20:][clean]) < 0.15
    by_key = {item.key: item for item in second.items}
    old = parameters(first)
    common = [k for k in keys[20:40] if k != "item-025"]
    # two estimates, each with its own error (SE ≈ 0.05–0.15): they agree within 0.2
    assert rmse(np.array([by_key[k].b for k in common]), np.array([old[k].b for k in common])) < 0.2
    drifted = by_key["item-025"]
    assert "drift" in drifted.flags and not drifted.anchor
    assert drifted.drift_b is not None and drifted.drift_b > 1.0
    assert all(by_key[k].anchor and "drift" not in by_key[k].flags for k in common)
    assert all(by_key[k].drift_b is None and not by_key[k].anchor for k in keys[40:])
    assert any("item-025 drifted" in note for note in second.notes)


def test_too_few_common_items_leave_the_calibration_unlinked_with_a_note() -> None:
    a, b, keys = bank(18, 20)
    x = simulate(19, a, b, 1_000)
    previous = {keys[0]: ItemParameters(a=1.0, b=0.0), "gone": ItemParameters(a=1.0, b=0.0)}
    calibration = calibrate(x, keys, [0.0] * 20, previous=previous, previous_number=2)
    assert calibration.link.method == "none" and calibration.link.anchors == 0
    assert any(note.startswith("not linked to calibration 2") for note in calibration.notes)


class ConstantFitter:
    """A stand-in fitter: the interface is all calibrate needs."""

    name = "constant"

    def fit(self, x: Floats, model: Model) -> FitResult:
        n = x.shape[1]
        return FitResult(
            a=np.full(n, 1.2),
            b=np.linspace(-1, 1, n),
            se_a=np.full(n, 0.1),
            se_b=np.full(n, 0.1),
            converged=False,
            iterations=7,
            log_likelihood=-1.0,
        )


def test_any_fitter_can_stand_in_and_an_unconverged_fit_is_flagged() -> None:
    a, b, keys = bank(20, 5)
    calibration = calibrate(
        simulate(21, a, b, 500), keys, [0.0] * 5, min_responses=100, fitter=ConstantFitter()
    )
    assert calibration.fitter == "constant" and calibration.iterations == 7
    assert not calibration.converged
    assert [item.b for item in calibration.items] == pytest.approx([-1.0, -0.5, 0.0, 0.5, 1.0])
    assert all("not_converged" in item.flags for item in calibration.items)
    assert any("did not converge" in note for note in calibration.notes)


def test_the_reference_fitter_stops_at_its_iteration_limit() -> None:
    a, b, _ = bank(22, 10)
    result = ReferenceFitter(max_iterations=2).fit(simulate(23, a, b, 500), "2pl")
    assert result.iterations == 2 and not result.converged


def test_the_mirt_library_agrees_with_the_reference_fitter() -> None:
    """The second implementation (decision 0037) behind the same interface: mirt's EM
    finds the same 2PL parameters (its 21 nodes against our 31: within 0.1)."""
    a, b, keys = bank(30, 20)
    x = simulate(31, a, b, 2_000, seen=15)
    ours = calibrate(x, keys, [0.0] * 20)
    theirs = calibrate(x, keys, [0.0] * 20, fitter=MirtFitter())
    assert theirs.fitter.startswith("mirt 1.2.0 EM") and theirs.converged
    our_a, our_b = estimates(ours)
    their_a, their_b = estimates(theirs)
    assert np.max(np.abs(our_a - their_a)) < 0.1
    assert np.max(np.abs(our_b - their_b)) < 0.1
    # standard errors: ours (Louis, item blocks) within 25 % of mirt's (Oakes, full)
    pairs = zip(ours.items, theirs.items, strict=True)
    ratio = np.array([(o.se_b or 0.0) / (t.se_b or 1.0) for o, t in pairs])
    assert np.all((ratio > 0.75) & (ratio < 1.25))


def test_items_too_sparse_to_recalibrate_keep_their_previous_parameters() -> None:
    """A new bank version starts with few responses: its items that an earlier
    calibration did calibrate keep those parameters (already on the bank's scale), not
    their authored labels; a brand-new item keeps its authored label, provisional."""
    a, b, keys = bank(24, 6)
    x = simulate(25, a, b, 30)  # 30 learners: nothing can be calibrated
    previous = {
        keys[0]: ItemParameters(a=1.4, b=-0.3),
        keys[1]: ItemParameters(a=0.8, b=0.9),
        keys[2]: ItemParameters(a=1.0, b=2.0, provisional=True),
    }
    authored = [0.5] * 6
    calibration = calibrate(x, keys, authored, previous=previous, previous_number=3)
    first, second, third = calibration.items[:3]
    assert (first.a, first.b, first.provisional) == (1.4, -0.3, False)
    assert (second.a, second.b, second.provisional) == (0.8, 0.9, False)
    assert (third.a, third.b, third.provisional) == (1.0, 0.5, True)
    assert first.flags == ("few_responses", "carried") and not first.anchor
    assert third.flags == ("few_responses",)  # provisional before: nothing to carry
    assert all(item.provisional and item.b == 0.5 for item in calibration.items[2:])
    assert calibration.notes[0].startswith("too few responses: nothing calibrated")
    assert (
        "2 item(s) with too few usable responses here keep their parameters from "
        "calibration 3" in calibration.notes
    )
    assert parameters(calibration)[keys[0]] == ItemParameters(a=1.4, b=-0.3, provisional=False)


def test_one_sparse_item_keeps_its_previous_parameters_beside_a_linked_fit() -> None:
    a, b, keys = bank(26, 20)
    x = simulate(27, a, b, 1_000)
    x[40:, 0] = np.nan  # item 0: 40 responses this time
    previous = {key: ItemParameters(a=float(a[j]), b=float(b[j])) for j, key in enumerate(keys)}
    previous[keys[0]] = ItemParameters(a=1.7, b=1.1)
    calibration = calibrate(
        x, keys, [0.0] * 20, min_responses=100, previous=previous, previous_number=1
    )
    item = calibration.items[0]
    assert (item.a, item.b, item.provisional, item.responses) == (1.7, 1.1, False, 40)
    assert item.flags == ("few_responses", "carried") and item.drift_b is None
    assert calibration.link.method == "stocking_lord" and calibration.link.anchors == 19
    assert not any("provisional" in note for note in calibration.notes)


def test_nothing_is_carried_onto_a_scale_the_previous_calibration_is_not_linked_to() -> None:
    """With too few common items to link, this calibration stays on its own cohort's
    scale: an earlier item's parameters would be on another, so it stays provisional."""
    a, b, keys = bank(26, 20)
    x = simulate(27, a, b, 1_000)
    x[40:, 0] = np.nan  # item 0: 40 responses this time
    previous = {keys[j]: ItemParameters(a=float(a[j]), b=float(b[j]) + 2.0) for j in range(3)}
    calibration = calibrate(
        x, keys, [0.5] * 20, min_responses=100, previous=previous, previous_number=1
    )
    item = calibration.items[0]
    assert calibration.link.method == "none"
    assert (item.b, item.provisional, item.flags) == (0.5, True, ("few_responses",))
    assert not any("keep their parameters" in note for note in calibration.notes)


def test_both_links_recover_an_exact_transformation() -> None:
    rng = np.random.default_rng(28)
    a_new = np.exp(rng.normal(0.0, 0.3, 12))
    b_new = rng.normal(0.0, 1.0, 12)
    a_old, b_old = a_new / 1.3, 1.3 * b_new - 0.4
    assert mean_sigma(b_new, b_old) == pytest.approx((1.3, -0.4))
    scale, shift, ok = stocking_lord(a_new, b_new, a_old, b_old)
    assert ok and (scale, shift) == pytest.approx((1.3, -0.4), abs=1e-4)
    assert stocking_lord(np.ones(12), b_new, np.ones(12), b_new + 0.25, fixed_scale=True)[
        :2
    ] == pytest.approx((1.0, 0.25), abs=1e-6)


def test_partial_credit_is_dichotomised_before_the_fit() -> None:
    a, b, keys = bank(29, 10)
    x = simulate(30, a, b, 400)
    x[:200, 0] = 0.5  # half credit: right
    x[200:, 0] = 0.4  # less than half: wrong
    item = calibrate(x, keys, [0.0] * 10).items[0]
    assert item.p_value == 0.5


@pytest.mark.parametrize("model", ["2pl", "rasch"])
def test_a_miskeyed_item_is_left_out_of_the_fit_and_does_not_spoil_it(model: Model) -> None:
    """An item the better learners get wrong (a wrong key: a = −1) cannot be fitted by a
    2PL (a would run to 0, b away, and the fit never converge): it is screened out by its
    item–rest correlation, flagged misfit, and the other items calibrate as usual."""
    a, b, keys = bank(40, 20)
    a[0] = -1.0
    calibration = calibrate(simulate(41, a, b, 2_000), keys, [0.25] * 20, model=model)
    miskeyed = calibration.items[0]
    assert (miskeyed.provisional, miskeyed.a, miskeyed.b, miskeyed.flags) == (
        True,
        1.0,
        0.25,
        ("misfit",),
    )
    assert calibration.converged and calibration.iterations < 100
    assert not any(item.flags for item in calibration.items[1:])
    assert any("item–rest correlation ≤ 0; check the key" in n for n in calibration.notes)
    assert item_rest_correlation(simulate(41, a, b, 2_000))[0] < -0.2
