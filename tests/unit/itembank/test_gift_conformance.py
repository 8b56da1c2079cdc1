"""The GIFT reader against public samples with the parse another parser gives them.

The samples (``NAME.gift`` with ``NAME.json``) come from fuhrmanator/GIFT-grammar-PEG.js;
see the README beside them. Its JSON and our items are both mapped onto the same facts
(kind, title/key, stem, answers with their weights and feedback, general feedback, tags)
and compared. Where that parser and Moodle's importer (question/format/gift/format.php)
disagree, Moodle wins: ``MOODLE_WINS`` below patches the JSON facts per sample, saying why.
Essays and descriptions, which the engine does not import, must be reported
``unsupported`` at the line given in ``UNSUPPORTED_AT``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from itembank.formats import ParseResult, gift
from itembank.model import (
    FillBlank,
    Item,
    Matching,
    MultipleChoice,
    Numerical,
    SingleChoice,
    TrueFalse,
    derive_key,
)

Facts = dict[str, Any]


#: Vendored with their MIT licence and provenance (README.md and LICENSE in the folder).
FOLDER = Path(__file__).parents[2] / "data" / "conformance" / "gift"
SAMPLES = sorted(p.stem for p in FOLDER.glob("*.gift"))

# Moodle trims every line and joins the lines of a question with "\n"; the PEG parser
# joins them with a space (and keeps trailing spaces in Markdown). "\n" renders as a space
# in Markdown and HTML, so nothing changes for learners, but the text differs.
# Moodle also replaces a mid-text answer block by exactly "_____" where the PEG parser
# writes "_____ " before following punctuation.
MOODLE_WINS: dict[str, dict[int, Facts]] = {
    "TFTwoFeedback": {
        # {TRUE#a}: Moodle's first feedback is for a *wrong* answer, i.e. for False.
        1: {"feedback_true": "", "feedback_false": "feedback for true"},
        # {TRUE# #b}: the second feedback is for the right answer, i.e. for True.
        2: {"feedback_true": "feedback for false", "feedback_false": ""},
    },
    "escapeAll": {
        0: {
            "option_feedback": {
                6: "Correct! \\ (backslash) is not a control character. BUT,\n"
                "it is used to escape the control characters."
            }
        }
    },
    "giftFormatPhpExamples": {
        5: {"stem": "Match the following countries with their corresponding\ncapitals."},
        8: {"stem": "Jesus Christ was from _____."},
        9: {
            "option_feedback": {
                1: "He was born in 1822.\nYou get 50% credit for being close.",
            }
        },
    },
    "multiLineFeedback1": {
        0: {
            "option_feedback": {1: "feedback comment on this wrong answer\non multiple lines"},
            "explanation": "Global feedback split\non multiple lines",
        },
    },
    "numerical1": {
        2: {"stem": "What is the value of pi (to 3 decimal places)? _____."},
        3: {"stem": "What is the value of pi times -1 (to 3 decimal places)? _____."},
        4: {"stem": "What is the value of pi (to 3 decimal places)? _____."},
        5: {"stem": "What is the value of pi times -1 (to 3 decimal places)? _____."},
        6: {"stem": "Give me a number from 1 to 5. _____."},
        7: {"stem": "Pick a number from -5 to 5. _____."},
    },
    "options1": {
        1: {"stem": "Japanese characters originally\ncame from what country?"},
        2: {
            "stem": "The American holiday of Thanksgiving is\n"
            "celebrated on the _____ Thursday of November."
        },
        8: {"stem": "Jesus Christ was from _____."},
        13: {
            "option_feedback": {
                5: "Correct! \\ (backslash) is not a control character. BUT,\n"
                "it is used to escape the control characters. So, to specify\n"
                "a literal backslash, you must escape it with a backslash\n"
                "(as shown in this example)."
            }
        },
    },
    "shortAnswer1": {1: {"stem": "Two plus two equals _____."}},
    "symbolsAll": {
        0: {
            "stem": "Here's a question that has symbols inside,\n"
            "such as `-=[];',./~!@#$%^&*()_+{}|:\"<>?"
        }
    },
    "totara_moodle_numerical": {
        # Moodle stores "~#Completely wrong" as a catch-all "*" answer worth 0; a numerical
        # answer here is a number, so it is left out with a warning (see WARNINGS_AT).
        0: {"drop_answers": [1]},
    },
    "type_inferred_multiline_markdown": {
        # Moodle trims each line, so the Markdown hard break (two trailing spaces) is lost.
        0: {
            "stem": "stem line1\nstem line2",
            "option_texts": {0: "answer1 line1\nanswer1 line2", 1: "answer2 line1\nanswer2 line2"},
        }
    },
}

#: Essays point at their "{}", descriptions at their first line.
UNSUPPORTED_AT: dict[str, list[int]] = {
    "description1": [1],
    "descriptionTitleEscapedColon": [1],
    "descriptionWithID": [2],
    "essay1": [1],
    "markdown": [1, 3, 6, 11],
    "newlineAndLaTeX": [1],
    "tag_id": [2],
    "tag_id_and_two_tags": [3],
    "tag_two_tags": [2],
    "totara_moodle_backslash": [4],
    "totara_moodle_essay": [4],
    "totara_moodle_pre_content": [11],
}

#: Warnings (unsupported parts) expected per sample, by line.
WARNINGS_AT: dict[str, list[int]] = {"totara_moodle_numerical": [14]}


def _text(value: dict[str, str] | None) -> str:
    return value["text"] if value else ""


def _json_choices(question: Facts) -> list[Facts]:
    def fraction(choice: Facts, default_correct: float) -> float:
        if choice["weight"] is not None:
            return float(choice["weight"]) / 100
        return default_correct if choice["isCorrect"] else 0.0

    return [
        {
            "text": _text(c["text"]),
            "fraction": fraction(c, 1.0),
            "feedback": _text(c["feedback"]),
        }
        for c in question["choices"]
    ]


def _json_numbers(question: Facts) -> list[Facts]:
    choices = question["choices"]
    if isinstance(choices, dict):
        choices = [{"text": choices, "isCorrect": True, "weight": None, "feedback": None}]
    answers = []
    for choice in choices:
        number = choice["text"]
        if number.get("type") == "high-low":
            value = (number["numberHigh"] + number["numberLow"]) / 2
            tolerance = number["numberHigh"] - value
        else:
            value, tolerance = number.get("number"), number.get("range", 0)
        weight = choice["weight"]
        answers.append(
            {
                "value": value,
                "tolerance": tolerance,
                "fraction": 1.0 if weight is None else weight / 100,
                "feedback": _text(choice["feedback"]),
            }
        )
    return answers


def _json_body(question: Facts) -> Facts:
    kind = question["type"]
    if kind == "TF":
        return {
            "kind": "true_false",
            "answer": question["isTrue"],
            "feedback_true": _text(question["trueFeedback"]),
            "feedback_false": _text(question["falseFeedback"]),
        }
    if kind == "MC":
        # Moodle: single choice when some answer is marked "=" (isCorrect here).
        single = any(c["isCorrect"] for c in question["choices"])
        return {"kind": "single" if single else "multiple", "answers": _json_choices(question)}
    if kind == "Short":
        return {"kind": "fill_blank", "answers": _json_choices(question)}
    if kind == "Numerical":
        return {"kind": "numerical", "answers": _json_numbers(question)}
    assert kind == "Matching", kind
    pairs = [(_text(p["subquestion"]), p["subanswer"]) for p in question["matchPairs"]]
    return {
        "kind": "matching",
        "pairs": [p for p in pairs if p[0]],
        "distractors": [a for q, a in pairs if not q],
    }


def _patch(facts: Facts, patch: Facts) -> Facts:
    facts = {**facts}
    for field, value in patch.items():
        if field == "option_feedback":
            for index, text in value.items():
                facts["answers"][index]["feedback"] = text
        elif field == "option_texts":
            for index, text in value.items():
                facts["answers"][index]["text"] = text
        elif field == "drop_answers":
            facts["answers"] = [a for i, a in enumerate(facts["answers"]) if i not in value]
        else:
            facts[field] = value
    return facts


def _expected(name: str) -> list[Facts]:
    questions = json.loads((FOLDER / f"{name}.json").read_text(encoding="utf-8"))
    unsupported = iter(UNSUPPORTED_AT.get(name, []))
    expected: list[Facts] = []
    for question in questions:
        if question["type"] == "Category":
            continue
        if question["type"] in ("Essay", "Description"):
            expected.append({"kind": "unsupported", "line": next(unsupported)})
            continue
        facts = {
            "title": question["title"],
            "id": question.get("id"),
            "tags": question.get("tags") or [],
            "stem": _text(question["stem"]),
            "explanation": _text(question["globalFeedback"]),
            **_json_body(question),
        }
        patch = MOODLE_WINS.get(name, {}).get(len(expected))
        expected.append(_patch(facts, patch) if patch else facts)
    return expected


def _item_body(item: Item) -> Facts:
    match item.body:
        case TrueFalse(answer=answer, feedback_true=if_true, feedback_false=if_false):
            return {"answer": answer, "feedback_true": if_true, "feedback_false": if_false}
        case SingleChoice(options=options) | MultipleChoice(options=options):
            return {
                "answers": [
                    {"text": o.text, "fraction": o.fraction, "feedback": o.feedback}
                    for o in options
                ]
            }
        case FillBlank(answers=answers):
            return {
                "answers": [
                    {"text": a.text, "fraction": a.fraction, "feedback": a.feedback}
                    for a in answers
                ]
            }
        case Numerical(answers=numbers):
            return {
                "answers": [
                    {
                        "value": n.value,
                        "tolerance": n.tolerance,
                        "fraction": n.fraction,
                        "feedback": n.feedback,
                    }
                    for n in numbers
                ]
            }
        case Matching(pairs=pairs, distractors=distractors):
            return {
                "pairs": [(p.prompt, p.answer) for p in pairs],
                "distractors": list(distractors),
            }
    raise AssertionError(item.body)


def _actual(result: ParseResult) -> list[tuple[int, Facts]]:
    facts: list[tuple[int, Facts]] = []
    for parsed in result.items:
        item = parsed.item
        facts.append(
            (
                parsed.location.line,
                {
                    "key": item.key,
                    "tags": list(item.tags),
                    "stem": item.stem,
                    "explanation": item.explanation,
                    "kind": item.kind.value,
                    **_item_body(item),
                },
            )
        )
    for problem in result.problems:
        if problem.code == "unsupported":
            facts.append((problem.line, {"kind": "unsupported", "line": problem.line}))
    return sorted(facts, key=lambda pair: pair[0])


def _key_of(facts: Facts) -> str:
    """The key Moodle's title, else the id, else the stem gives."""
    return facts["title"] or facts["id"] or derive_key(facts["stem"])


def _compare(actual: Facts, expected: Facts) -> None:
    if expected["kind"] == "unsupported":
        assert actual == expected
        return
    assert actual["key"] == _key_of(expected)
    for field in ("kind", "tags", "stem", "explanation"):
        assert actual[field] == expected[field], field
    for field in ("answer", "feedback_true", "feedback_false", "pairs", "distractors"):
        if field in expected:
            assert actual[field] == expected[field], field
    if "answers" in expected:
        assert len(actual["answers"]) == len(expected["answers"])
        for mine, theirs in zip(actual["answers"], expected["answers"], strict=True):
            assert mine == pytest.approx(theirs)


def test_the_vendored_conformance_samples_are_all_there() -> None:
    # Every sample has its expected parse, and the licence travels with them.
    assert len(SAMPLES) >= 40, f"GIFT conformance samples missing in {FOLDER}"
    assert all((FOLDER / f"{name}.json").is_file() for name in SAMPLES)
    assert "MIT License" in (FOLDER / "LICENSE").read_text()


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_parses_as_moodle_imports_it(name: str) -> None:
    result = gift.parse((FOLDER / f"{name}.gift").read_bytes(), source=f"{name}.gift")

    actual = [facts for _, facts in _actual(result)]
    expected = _expected(name)
    assert len(actual) == len(expected), [a.get("stem") for a in actual]
    for index, (mine, theirs) in enumerate(zip(actual, expected, strict=True)):
        try:
            _compare(mine, theirs)
        except AssertionError as error:
            raise AssertionError(f"question {index}: {mine} != {theirs}") from error
    warnings = [p.line for p in result.problems if p.code == "unsupported-part"]
    assert warnings == WARNINGS_AT.get(name, [])
    errors = [p for p in result.problems if p.code not in ("unsupported", "unsupported-part")]
    assert errors == []


def test_every_sample_has_its_expected_parse() -> None:
    missing: Callable[[str], bool] = lambda name: not (FOLDER / f"{name}.json").exists()  # noqa: E731
    assert [name for name in SAMPLES if missing(name)] == []
