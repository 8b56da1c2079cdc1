"""Item analysis judges an item only on enough answers, and counts blanks apart from
answers (issue 17: one learner's answer flagged an item too hard)."""

import numpy as np

from itembank.analysis import Thresholds, analyse

NAN = np.nan


def test_an_item_answered_by_one_learner_is_not_called_too_hard_or_too_easy() -> None:
    x = np.array([[0.0, 1.0]] + [[NAN, 1.0]] * 40)
    stats = analyse(x, ["once", "often"])
    once, often = stats.item_stats
    assert (once.responses, once.flags) == (1, ("few_responses",))
    assert "too_easy" in often.flags
    assert stats.min_responses == Thresholds().min_responses == 30


def test_blanks_score_zero_in_the_facility_but_are_not_responses() -> None:
    n = 40
    x = np.zeros((n, 1))
    x[:20, 0] = 1.0
    answered = np.ones((n, 1), dtype=bool)
    answered[30:, 0] = False  # ten learners left it blank (scored 0)
    (item,) = analyse(x, ["q"], answered=answered).item_stats
    assert (item.responses, item.blanks) == (30, 10)
    assert item.facility == 0.5
    assert "few_responses" not in item.flags


def test_an_item_mostly_left_blank_is_judged_on_its_answers_only() -> None:
    x = np.zeros((40, 1))
    answered = np.zeros((40, 1), dtype=bool)
    answered[:5, 0] = True
    (item,) = analyse(x, ["q"], answered=answered).item_stats
    assert (item.responses, item.blanks) == (5, 35)
    assert item.flags == ("few_responses",)


def test_the_minimum_is_a_threshold_of_its_own() -> None:
    x = np.ones((5, 1))
    (item,) = analyse(x, ["q"], thresholds=Thresholds(min_responses=5)).item_stats
    assert item.flags == ("too_easy",)
