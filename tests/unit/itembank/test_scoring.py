"""Scoring per item kind: what a response is worth."""

import pytest

from itembank.model import (
    AcceptedText,
    FillBlank,
    Item,
    Matching,
    MultipleChoice,
    Numerical,
    NumericAnswer,
    Option,
    Pair,
    SingleChoice,
    TrueFalse,
)
from itembank.scoring import ResponseShapeError, score


def item(body, points=2.0):
    return Item(key="k1", stem="题干", body=body, points=points)


ABCD = (
    Option(id="A", text="甲", fraction=1.0),
    Option(id="B", text="乙"),
    Option(id="C", text="丙"),
    Option(id="D", text="丁"),
)
MULTI = (
    Option(id="A", text="甲", fraction=0.5),
    Option(id="B", text="乙", fraction=-0.5),
    Option(id="C", text="丙", fraction=0.5),
    Option(id="D", text="丁", fraction=-0.5),
)


def test_single_choice_earns_the_chosen_options_credit():
    assert score(item(SingleChoice(options=ABCD)), "A").points == 2.0
    assert score(item(SingleChoice(options=ABCD)), "B").points == 0.0


def test_single_choice_with_an_unknown_option_id_earns_nothing():
    assert score(item(SingleChoice(options=ABCD)), "Z").fraction == 0.0


def test_an_unanswered_item_earns_nothing_whatever_its_kind():
    for body in (SingleChoice(options=ABCD), TrueFalse(answer=True), Numerical()):
        assert score(item(body), None).points == 0.0


def test_all_or_nothing_multiple_choice_needs_exactly_the_correct_set():
    body = MultipleChoice(options=MULTI, scoring="all_or_nothing")
    assert score(item(body), ["C", "A"]).fraction == 1.0
    assert score(item(body), ["A"]).fraction == 0.0
    assert score(item(body), ["A", "B", "C"]).fraction == 0.0


def test_partial_credit_multiple_choice_adds_fractions_and_never_goes_below_zero():
    body = MultipleChoice(options=MULTI, scoring="partial")
    assert score(item(body), ["A"]).fraction == 0.5
    assert score(item(body), ["A", "C"]).fraction == 1.0
    assert score(item(body), ["A", "B"]).fraction == 0.0
    assert score(item(body), ["B", "D"]).fraction == 0.0


def test_true_false_scores_the_matching_boolean():
    assert score(item(TrueFalse(answer=False)), False).fraction == 1.0
    assert score(item(TrueFalse(answer=False)), True).fraction == 0.0


def test_fill_blank_ignores_case_width_and_surrounding_spaces():
    body = FillBlank(answers=(AcceptedText(text="Beijing"), AcceptedText(text="北京")))
    for typed in ("  beijing ", "ＢＥＩＪＩＮＧ", "北京\u3000", "BEIJING"):
        assert score(item(body), typed).fraction == 1.0, typed
    assert score(item(body), "上海").fraction == 0.0


def test_fill_blank_can_be_case_sensitive_and_give_partial_credit():
    body = FillBlank(
        answers=(AcceptedText(text="NaCl"), AcceptedText(text="nacl", fraction=0.5)),
        case_sensitive=True,
    )
    assert score(item(body), "NaCl").fraction == 1.0
    assert score(item(body), "nacl").fraction == 0.5
    assert score(item(body), "NACL").fraction == 0.0


def test_numerical_accepts_within_tolerance_and_full_width_digits():
    body = Numerical(
        answers=(
            NumericAnswer(value=1822, tolerance=0),
            NumericAnswer(value=1822, tolerance=2, fraction=0.5),
        )
    )
    assert score(item(body), 1822).fraction == 1.0
    assert score(item(body), "１８２２").fraction == 1.0
    assert score(item(body), "1,821").fraction == 0.5
    assert score(item(body), 1830).fraction == 0.0
    assert score(item(body), "not a number").fraction == 0.0


def test_matching_earns_the_share_of_pairs_matched():
    body = Matching(
        pairs=(
            Pair(prompt="Canada", answer="Ottawa"),
            Pair(prompt="Italy", answer="Rome"),
            Pair(prompt="Japan", answer="Tokyo"),
            Pair(prompt="India", answer="New Delhi"),
        )
    )
    assert score(item(body), ["Ottawa", "Rome", "Tokyo", "New Delhi"]).fraction == 1.0
    assert score(item(body), ["Ottawa", "Tokyo", "Rome", "New Delhi"]).fraction == 0.5


@pytest.mark.parametrize(
    ("body", "response", "expected"),
    [
        (SingleChoice(options=ABCD), ["A"], "one option id"),
        (MultipleChoice(options=MULTI), "A", "a list of option ids"),
        (TrueFalse(answer=True), "true", "true or false"),
        (Numerical(), True, "a number"),
        (Matching(), "Ottawa", "one answer per prompt"),
    ],
)
def test_a_response_of_the_wrong_shape_is_refused_with_what_was_expected(body, response, expected):
    with pytest.raises(ResponseShapeError) as caught:
        score(item(body), response)
    assert caught.value.expected == expected
    assert "k1" in str(caught.value)
