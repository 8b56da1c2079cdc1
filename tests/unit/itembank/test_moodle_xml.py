"""Moodle XML: what each question type reads as, what is refused, and round trips."""

from __future__ import annotations

import pytest

from itembank.formats import moodle_xml
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
    Status,
    TrueFalse,
)
from itembank.scoring import score


def quiz(*questions: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<quiz>\n' + "\n".join(questions) + "\n</quiz>\n"
    ).encode()


def question(
    kind: str, body: str, *, name: str = "Q1", stem: str = "Stem?", extra: str = ""
) -> str:
    return (
        f'<question type="{kind}">\n'
        f"<name><text>{name}</text></name>\n"
        f'<questiontext format="html"><text><![CDATA[{stem}]]></text></questiontext>\n'
        f"{extra}{body}\n</question>"
    )


def only_item(data: bytes) -> Item:
    result = moodle_xml.parse(data)
    assert result.problems == ()
    assert len(result.items) == 1
    return result.items[0].item


MULTICHOICE_SINGLE = """
<single>true</single>
<shuffleanswers>true</shuffleanswers>
<answernumbering>abc</answernumbering>
<answer fraction="100" format="html"><text><![CDATA[<p>Paris</p>]]></text>
  <feedback format="html"><text>Right.</text></feedback></answer>
<answer fraction="0" format="html"><text>Lyon</text><feedback><text></text></feedback></answer>
"""


def test_single_answer_multichoice_reads_as_single_choice_with_html_kept():
    item = only_item(quiz(question("multichoice", MULTICHOICE_SINGLE, stem="<p>Capital?</p>")))
    assert item.key == "Q1"
    assert item.stem == "<p>Capital?</p>"
    assert item.body == SingleChoice(
        options=(
            Option(id="A", text="<p>Paris</p>", fraction=1.0, feedback="Right."),
            Option(id="B", text="Lyon", fraction=0.0),
        )
    )


def test_multichoice_with_split_fractions_reads_as_partial_multiple_choice():
    body = """<single>false</single><shuffleanswers>1</shuffleanswers>
<answer fraction="50"><text>2</text></answer>
<answer fraction="50"><text>3</text></answer>
<answer fraction="-100"><text>4</text></answer>"""
    item = only_item(quiz(question("multichoice", body)))
    assert isinstance(item.body, MultipleChoice)
    assert item.body.scoring == "partial"
    assert [o.fraction for o in item.body.options] == [0.5, 0.5, -1.0]


def test_multichoice_with_every_correct_option_at_full_marks_reads_as_all_or_nothing():
    body = """<single>false</single>
<answer fraction="100"><text>2</text></answer>
<answer fraction="100"><text>3</text></answer>
<answer fraction="0"><text>4</text></answer>"""
    item = only_item(quiz(question("multichoice", body)))
    assert isinstance(item.body, MultipleChoice)
    assert item.body.scoring == "all_or_nothing"


def test_shuffleanswers_false_or_missing_fixes_every_option():
    body = '<single>true</single><answer fraction="100"><text>x</text></answer>'
    item = only_item(quiz(question("multichoice", body)))
    assert isinstance(item.body, SingleChoice)
    assert all(o.fixed for o in item.body.options)


def test_truefalse_reads_the_answer_and_both_feedbacks():
    body = """<answer fraction="0" format="moodle_auto_format"><text>true</text>
<feedback><text>No.</text></feedback></answer>
<answer fraction="100" format="moodle_auto_format"><text>false</text>
<feedback><text>Yes.</text></feedback></answer>"""
    item = only_item(quiz(question("truefalse", body)))
    assert item.body == TrueFalse(answer=False, feedback_true="No.", feedback_false="Yes.")


def test_shortanswer_reads_as_fill_blank_with_usecase_as_case_sensitivity():
    body = """<usecase>1</usecase>
<answer fraction="100"><text>北京</text></answer>
<answer fraction="50"><text>Beijing</text><feedback><text>英文也可</text></feedback></answer>"""
    item = only_item(quiz(question("shortanswer", body, stem="中国的首都是？")))
    assert item.stem == "中国的首都是？"
    assert item.body == FillBlank(
        answers=(
            AcceptedText(text="北京", fraction=1.0),
            AcceptedText(text="Beijing", fraction=0.5, feedback="英文也可"),
        ),
        case_sensitive=True,
    )


def test_numerical_reads_values_and_tolerances():
    body = """<answer fraction="100"><text>3.14</text><tolerance>0.01</tolerance></answer>
<answer fraction="50"><text>3</text><tolerance>0</tolerance></answer>"""
    item = only_item(quiz(question("numerical", body)))
    assert item.body == Numerical(
        answers=(
            NumericAnswer(value=3.14, tolerance=0.01, fraction=1.0),
            NumericAnswer(value=3.0, tolerance=0.0, fraction=0.5),
        )
    )


def test_matching_subquestions_with_empty_text_are_distractors():
    body = """<shuffleanswers>true</shuffleanswers>
<subquestion format="html"><text>Cat</text><answer><text>Mammal</text></answer></subquestion>
<subquestion format="html"><text>Eagle</text><answer><text>Bird</text></answer></subquestion>
<subquestion format="html"><text></text><answer><text>Fish</text></answer></subquestion>"""
    item = only_item(quiz(question("matching", body)))
    assert item.body == Matching(
        pairs=(Pair(prompt="Cat", answer="Mammal"), Pair(prompt="Eagle", answer="Bird")),
        distractors=("Fish",),
    )


@pytest.mark.parametrize(
    ("path", "topic"),
    [
        ("$course$/top/Algebra/Linear", "Algebra/Linear"),
        ("$system$/top/Geometry", "Geometry"),
        ("$course$/Default for C1", "Default for C1"),
        ("top/Physics", "Physics"),
        ("$course$/top", ""),
    ],
)
def test_category_sets_the_topic_of_following_questions_without_prefixes(path, topic):
    category = f'<question type="category"><category><text>{path}</text></category></question>'
    body = '<answer fraction="100"><text>true</text></answer>'
    item = only_item(quiz(category, question("truefalse", body)))
    assert item.topic == topic


def test_header_fields_map_to_key_points_explanation_tags_and_status():
    extra = """<generalfeedback format="html"><text>Because.</text></generalfeedback>
<defaultgrade>2.5000000</defaultgrade>
<hidden>1</hidden>
<idnumber>ALG-7</idnumber>
<tags><tag><text>algebra</text></tag><tag><text>期中</text></tag></tags>
"""
    body = '<answer fraction="100"><text>true</text></answer>'
    item = only_item(quiz(question("truefalse", body, name="Some name", extra=extra)))
    assert item.key == "ALG-7"
    assert item.points == 2.5
    assert item.explanation == "Because."
    assert item.tags == ("algebra", "期中")
    assert item.status == Status.RETIRED


def test_item_location_is_the_line_of_its_question_element():
    data = quiz(question("truefalse", '<answer fraction="100"><text>true</text></answer>'))
    assert moodle_xml.parse(data).items[0].location.line == 3


@pytest.mark.parametrize(
    "kind", ["essay", "description", "calculated", "ddwtos", "gapselect", "multianswer", "random"]
)
def test_unsupported_question_types_are_reported_with_the_line_of_their_question(kind):
    data = quiz(
        question("truefalse", '<answer fraction="100"><text>true</text></answer>'),
        question(kind, ""),
    )
    result = moodle_xml.parse(data, source="bank.xml")
    assert [i.item.key for i in result.items] == ["Q1"]
    (problem,) = result.problems
    assert problem.code == "unsupported"
    assert problem.message == (
        f"the Moodle question type '{kind}' is not supported; the item was not imported"
    )
    assert (problem.file, problem.line, problem.col) == ("bank.xml", 8, 1)


def test_malformed_xml_is_a_syntax_problem_at_expats_place():
    data = b"<quiz>\n  <question type='truefalse'>\n    <name><text>x</name>\n</quiz>"
    (problem,) = moodle_xml.parse(data).problems
    assert problem.code == "syntax"
    assert problem.message == "the XML is not well-formed: mismatched tag"
    assert problem.message_zh == "XML 格式错误：标签不匹配"
    assert (problem.line, problem.col) == (3, 20)  # at the name in </name>


def test_empty_file_is_a_syntax_problem():
    (problem,) = moodle_xml.parse(b"").problems
    assert problem.message == "the XML is not well-formed: no element found"
    assert (problem.line, problem.col) == (1, 1)


def test_doctype_is_refused_so_no_entity_is_expanded():
    data = b'<?xml version="1.0"?>\n<!DOCTYPE quiz [<!ENTITY a "aaaa">]>\n<quiz>&a;</quiz>'
    (problem,) = moodle_xml.parse(data).problems
    assert problem.message == "a DOCTYPE is not allowed: DTDs and entity declarations are refused"
    assert (problem.line, problem.col) == (2, 1)


def test_a_root_other_than_quiz_is_reported():
    (problem,) = moodle_xml.parse(b"<questions/>").problems
    assert (
        problem.message == "the root element is <questions>; a Moodle XML file starts with <quiz>"
    )
    assert (problem.line, problem.col) == (1, 1)


def test_a_fraction_that_is_not_a_number_is_reported_at_its_answer():
    body = '<single>true</single>\n<answer fraction="lots"><text>x</text></answer>'
    result = moodle_xml.parse(quiz(question("multichoice", body)))
    (problem,) = result.problems
    assert problem.message == "fraction 'lots' is not a number"
    assert (problem.line, problem.col) == (7, 1)


def test_wildcard_numerical_answers_are_left_out_and_embedded_files_read_as_images():
    """An embedded file is read as an image (tests/unit/itembank/test_media.py): "AAAA"
    is none, and is refused naming it."""
    body = """<answer fraction="100"><text>1</text></answer>
<answer fraction="0"><text>*</text></answer>"""
    data = quiz(
        '<question type="numerical"><name><text>N</text></name>'
        f'<questiontext format="html"><text>x</text><file name="a.png">AAAA</file></questiontext>'
        f"{body}</question>"
    )
    result = moodle_xml.parse(data)
    assert [p.code for p in result.problems] == ["unsupported-part", "media_type"]
    assert result.problems[0].message.startswith("the '*' (any other answer) numerical answer")
    assert result.problems[1].message == "'a.png' is not a PNG, JPEG, GIF or WebP image"


ITEMS = (
    Item(
        key="mc-1",
        stem="**Which** is prime? 哪个是质数？",
        body=SingleChoice(
            options=(
                Option(id="A", text="4", feedback="4 = 2 × 2"),
                Option(id="B", text="5 < 6 & 7", fraction=1.0),
            )
        ),
        explanation="Only 5.",
        topic="Maths/Primes",
        tags=("primes", "数学"),
        points=2.0,
    ),
    Item(
        key="mr-1",
        stem="Pick the evens",
        body=MultipleChoice(
            options=(
                Option(id="A", text="2", fraction=0.5, fixed=True),
                Option(id="B", text="4", fraction=0.5, fixed=True),
                Option(id="C", text="5", fraction=-1.0, fixed=True),
            ),
            scoring="partial",
        ),
        topic="Maths/Primes",
    ),
    Item(
        key="mr-2",
        stem="Both",
        body=MultipleChoice(
            scoring="partial",
            options=(
                Option(id="A", text="x", fraction=0.5),
                Option(id="B", text="y", fraction=0.5),
                Option(id="C", text="z", fraction=-0.5),
            ),
        ),
    ),
    Item(key="tf-1", stem="Sky is blue", body=TrueFalse(answer=True, feedback_false="Look up.")),
    Item(
        key="sa-1",
        stem="Capital of 中国",
        body=FillBlank(
            answers=(AcceptedText(text="北京"), AcceptedText(text="Peking", fraction=0.5))
        ),
        topic="Geo",
        status=Status.RETIRED,
    ),
    Item(
        key="nu-1",
        stem="π to 2 places",
        body=Numerical(answers=(NumericAnswer(value=3.14, tolerance=0.005),)),
    ),
    Item(
        key="ma-1",
        stem="Match",
        body=Matching(
            pairs=(Pair(prompt="a", answer="1"), Pair(prompt="b", answer="2")), distractors=("3",)
        ),
    ),
)


def test_dump_then_parse_gives_the_same_items():
    result = moodle_xml.parse(moodle_xml.dump(ITEMS))
    assert result.problems == ()
    assert tuple(p.item for p in result.items) == ITEMS


def test_all_or_nothing_multiple_choice_is_written_so_core_moodle_cannot_be_gamed():
    item = Item(
        key="aon",
        stem="Pick both",
        body=MultipleChoice(
            options=(
                Option(id="A", text="x", fraction=1.0),
                Option(id="B", text="y", fraction=1.0),
                Option(id="C", text="z"),
            ),
        ),
    )
    text = moodle_xml.dump([item]).decode()
    assert '<answer fraction="50"' in text
    assert '<answer fraction="-50"' in text
    (read,) = moodle_xml.parse(text.encode()).items
    body = read.item.body
    assert isinstance(body, MultipleChoice)
    assert body.scoring == "partial"
    assert score(read.item, ["A", "B"]).fraction == 1.0
    assert score(read.item, ["A"]).fraction == 0.5
    assert score(read.item, ["A", "B", "C"]).fraction == 0.5


def test_dump_writes_categories_and_percent_fractions_as_moodle_does():
    text = moodle_xml.dump(ITEMS[:2]).decode()
    assert "<category><text>$course$/top/Maths/Primes</text></category>" in text
    assert '<answer fraction="50" format="markdown">' in text
    assert '<answer fraction="-100" format="markdown">' in text
    assert "<defaultgrade>2</defaultgrade>" in text
    assert "<text>5 &lt; 6 &amp; 7</text>" in text
