"""Grading a paper: the paper's points (a section's points override the item's), every
kind of item, the pass mark at exactly 60 %, and answers that earn nothing."""

import pytest

from examengine.assembly import PaperItem
from examengine.grading import ItemResult, PaperResult, grade
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

PASS = 0.6

ITEMS = {
    item.key: item
    for item in (
        Item(
            key="single",
            stem="《专业技术人员继续教育规定》由哪个部门发布？",
            body=SingleChoice(
                options=(
                    Option(id="A", text="人力资源社会保障部", fraction=1.0),
                    Option(id="B", text="教育部"),
                    Option(id="C", text="科技部"),
                )
            ),
            points=5.0,  # overridden by the paper
        ),
        Item(
            key="multiple",
            stem="继续教育的内容包括？",
            body=MultipleChoice(
                options=(
                    Option(id="A", text="公需科目", fraction=0.5),
                    Option(id="B", text="娱乐节目"),
                    Option(id="C", text="专业科目", fraction=0.5),
                )
            ),
        ),
        Item(key="true_false", stem="每年应完成不少于 90 学时。", body=TrueFalse(answer=True)),
        Item(
            key="fill_blank",
            stem="中国的首都是____。",
            body=FillBlank(answers=(AcceptedText(text="北京"),)),
        ),
        Item(
            key="numerical",
            stem="公需科目至少多少学时？",
            body=Numerical(answers=(NumericAnswer(value=30, tolerance=0),)),
        ),
        Item(
            key="matching",
            stem="配对",
            body=Matching(
                pairs=(
                    Pair(prompt="公需科目", answer="30"),
                    Pair(prompt="专业科目", answer="60"),
                )
            ),
        ),
    )
}

RIGHT = {
    "single": "A",
    "multiple": ["C", "A"],
    "true_false": True,
    "fill_blank": " 北京 ",
    "numerical": "30",
    "matching": ["30", "60"],
}


def paper(**points):
    """A paper of the given items with the given (section) points, in that order."""
    return [PaperItem(key=key, section=0, points=p) for key, p in points.items()]


def results(result: PaperResult) -> dict[str, float]:
    return {r.key: r.points for r in result.items}


def test_every_kind_answered_right_earns_the_papers_points():
    the_paper = paper(single=2, multiple=2, true_false=1, fill_blank=1, numerical=2, matching=2)
    result = grade(the_paper, ITEMS, RIGHT, pass_mark=PASS)
    assert result.score == 10
    assert result.max_score == 10
    assert result.passed
    assert result.share == 1.0
    assert [r.key for r in result.items] == list(RIGHT)


def test_the_papers_points_override_the_items_own():
    # the item says 5 points; the section gives every item 2
    result = grade(paper(single=2), ITEMS, {"single": "A"}, pass_mark=PASS)
    assert result.items == (ItemResult(key="single", points=2, max_points=2),)
    assert (result.score, result.max_score) == (2, 2)


def test_mixed_kinds_with_partial_credit():
    answers = {
        "single": "B",  # wrong
        "multiple": ["A", "C"],  # right
        "true_false": False,  # wrong
        "fill_blank": "ＢＥＩＪＩＮＧ",  # not an accepted answer
        "numerical": 30.0,  # right
        "matching": ["30", "70"],  # half right
    }
    the_paper = paper(single=1, multiple=2, true_false=1, fill_blank=1, numerical=2, matching=4)
    result = grade(the_paper, ITEMS, answers, pass_mark=PASS)
    assert results(result) == {
        "single": 0,
        "multiple": 2,
        "true_false": 0,
        "fill_blank": 0,
        "numerical": 2,
        "matching": 2,
    }
    assert (result.score, result.max_score) == (6, 11)
    assert not result.passed


@pytest.mark.parametrize(
    ("points", "right", "passed"),
    [
        ((1, 1, 1, 1, 1), 3, True),  # 3 / 5 = 60 %
        ((1, 1, 1, 1, 1), 2, False),
        ((0.2, 0.2, 0.2, 0.2, 0.2), 3, True),  # 0.6000000000000001 against 0.6
        ((60, 40), 1, True),
        ((59, 41), 1, False),
        ((59.99, 40.01), 1, False),
        ((0.1,) * 10, 6, True),  # ten tenths: float sums must not lose the pass
        ((3, 2), 1, True),  # 0.6 × 5 is 3.0000000000000004 in floats
    ],
)
def test_the_pass_mark_is_reached_at_exactly_sixty_percent(points, right, passed):
    keys = [f"tf{i}" for i in range(len(points))]
    items = {k: Item(key=k, stem=k, body=TrueFalse(answer=True)) for k in keys}
    the_paper = [PaperItem(key=k, section=0, points=p) for k, p in zip(keys, points, strict=True)]
    answers = {k: i < right for i, k in enumerate(keys)}
    result = grade(the_paper, items, answers, pass_mark=PASS)
    assert result.passed is passed


def test_unanswered_items_earn_nothing():
    answers = {"single": "A", "true_false": None}  # the others are missing
    result = grade(paper(single=1, true_false=1, matching=1), ITEMS, answers, pass_mark=PASS)
    assert results(result) == {"single": 1, "true_false": 0, "matching": 0}
    assert (result.score, result.max_score) == (1, 3)


def test_a_stored_response_of_the_wrong_shape_earns_nothing_and_grading_goes_on():
    answers = {
        "single": ["A"],  # a list for a single choice
        "multiple": "A",  # text for a multiple choice
        "true_false": "yes",  # text for true/false
        "fill_blank": 42,  # a number for text
        "numerical": [30],  # a list for a number
        "matching": "30",  # text for one answer per prompt
    }
    the_paper = paper(single=1, multiple=1, true_false=1, fill_blank=1, numerical=1, matching=1)
    result = grade(the_paper, ITEMS, answers, pass_mark=PASS)
    assert set(results(result).values()) == {0}
    assert (result.score, result.max_score) == (0, 6)


def test_a_wrong_shape_next_to_right_answers_costs_only_its_own_points():
    answers = {**RIGHT, "true_false": "对"}
    the_paper = paper(single=1, true_false=1, numerical=1)
    result = grade(the_paper, ITEMS, answers, pass_mark=PASS)
    assert results(result) == {"single": 1, "true_false": 0, "numerical": 1}
    assert result.passed


def test_a_number_too_large_for_a_float_earns_nothing_and_grading_goes_on():
    # a JSON integer of 400 digits is "a number"; the paper must still be graded
    answers = {"numerical": 10**400, "single": "A"}
    result = grade(paper(numerical=1, single=1), ITEMS, answers, pass_mark=PASS)
    assert results(result) == {"numerical": 0, "single": 1}


def test_an_empty_paper_is_not_passed():
    result = grade([], ITEMS, {}, pass_mark=0.0)
    assert (result.score, result.max_score) == (0, 0)
    assert not result.passed
    assert result.share == 0.0


def test_a_paper_worth_nothing_is_not_passed_even_with_every_answer_right():
    result = grade(paper(single=0, true_false=0), ITEMS, RIGHT, pass_mark=0.0)
    assert result.max_score == 0
    assert not result.passed


def test_answers_to_items_not_on_the_paper_are_ignored():
    result = grade(paper(true_false=1), ITEMS, RIGHT, pass_mark=PASS)
    assert [r.key for r in result.items] == ["true_false"]
    assert result.score == 1


def test_points_are_rounded_to_six_places():
    result = grade(paper(matching=1 / 3), ITEMS, {"matching": ["30", "x"]}, pass_mark=PASS)
    assert result.items[0].points == round(1 / 6, 6)
    assert result.max_score == round(1 / 3, 6)


# ------------------------------------------------------------------------ the equated standard


def tf_paper(points: tuple[float, ...]) -> tuple[list[PaperItem], dict[str, Item]]:
    keys = [f"tf{i}" for i in range(len(points))]
    items = {k: Item(key=k, stem=k, body=TrueFalse(answer=True)) for k in keys}
    return [PaperItem(key=k, section=0, points=p) for k, p in zip(keys, points, strict=True)], items


@pytest.mark.parametrize(
    ("right", "pass_score", "passed"),
    [
        (6, 5.5, True),  # 60 % of 10 passes the raw mark and 5.5 points
        (6, 6.01, False),  # … but not an equated mark a hair above it
        (5, 4.97, True),  # 50 % fails the raw 60 % but passes an easier paper's 4.97
        (5, 5.0, True),  # exactly the pass score
        (4, 5.0, False),
    ],
)
def test_with_a_pass_score_the_total_is_compared_with_the_papers_points(right, pass_score, passed):
    the_paper, items = tf_paper((1,) * 10)
    answers = {f"tf{i}": i < right for i in range(10)}
    result = grade(the_paper, items, answers, pass_mark=PASS, pass_score=pass_score)
    assert (result.passed, result.pass_score) == (passed, pass_score)


def test_without_a_pass_score_the_result_names_the_raw_points_needed():
    the_paper, items = tf_paper((2, 2, 1))
    result = grade(the_paper, items, {"tf0": True}, pass_mark=PASS)
    assert result.pass_score == 3.0  # 60 % of 5
    assert not result.passed


def test_float_sums_do_not_lose_an_equated_pass():
    the_paper, items = tf_paper((0.1,) * 10)
    answers = {f"tf{i}": i < 7 for i in range(10)}  # 0.7 summed in floats
    assert grade(the_paper, items, answers, pass_mark=PASS, pass_score=0.7).passed


def test_an_empty_paper_is_not_passed_even_with_a_pass_score_of_zero():
    assert not grade([], {}, {}, pass_mark=PASS, pass_score=0.0).passed
