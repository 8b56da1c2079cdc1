"""What a response to an item is worth.

``score(item, response)`` is the one place that knows how each item kind is marked; the
exam engine grades whole papers by calling it. A response is the plain value the
learner gave, whose shape depends on the kind:

=============  ==============================================  ===================
kind           response                                        example
=============  ==============================================  ===================
single         the chosen option id                            ``"B"``
multiple       the chosen option ids, in any order             ``["A", "C"]``
true_false     the boolean chosen                              ``True``
fill_blank     the text typed                                  ``"北京"``
numerical      the number typed (a number, or text of one)     ``1822`` / ``"1,822"``
matching       one answer per prompt, in the prompts' order    ``["Ottawa", "Rome"]``
=============  ==============================================  ===================

``None`` is always "not answered" and scores 0. A response of the wrong shape raises
``ResponseShapeError`` naming what was expected; it is the API's job to refuse it
before it is stored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec
from msgspec import Struct

from itembank.errors import ItembankError
from itembank.model import (
    FillBlank,
    Item,
    Matching,
    MultipleChoice,
    Numerical,
    Option,
    SingleChoice,
    TrueFalse,
    normalize_text,
)

Response = str | bool | int | float | Sequence[str] | None


class ResponseShapeError(ItembankError):
    """A response does not have the shape the item's kind takes."""

    code = "bad_response"

    def __init__(self, item_key: str, expected: str, got: object) -> None:
        self.item_key = item_key
        self.expected = expected
        self.got = type(got).__name__
        super().__init__(
            f"item {item_key!r} takes {expected}, got {self.got}",
            f"试题 {item_key!r} 的作答格式不对：应为{_ZH_SHAPES.get(expected, expected)}",
        )


_ZH_SHAPES = {
    "one option id": "一个选项",
    "a list of option ids": "选项列表",
    "true or false": "对或错",
    "text": "文字",
    "a number": "数字",
    "one answer per prompt": "每个配对题目一个答案",
}


class Score(Struct, frozen=True, kw_only=True):
    """``fraction`` of the item earned (0–1) and the ``points`` that makes."""

    fraction: float
    points: float
    max_points: float

    @property
    def correct(self) -> bool:
        return self.fraction >= 1.0


def score(item: Item, response: Response) -> Score:
    """Mark ``response`` to ``item``. Raises ``ResponseShapeError`` on a wrong shape."""
    fraction = 0.0 if response is None else _fraction(item, response)
    fraction = min(1.0, max(0.0, fraction))
    return Score(fraction=fraction, points=fraction * item.points, max_points=item.points)


def _fraction(item: Item, response: object) -> float:
    match item.body:
        case SingleChoice(options=options):
            chosen = _expect_str(item, response, "one option id")
            return next((o.fraction for o in options if o.id == chosen), 0.0)
        case MultipleChoice(options=options, scoring=scoring):
            return _multiple(item, options, scoring, response)
        case TrueFalse(answer=answer):
            if not isinstance(response, bool):
                raise ResponseShapeError(item.key, "true or false", response)
            return 1.0 if answer is not None and response == answer else 0.0
        case FillBlank(answers=answers, case_sensitive=case_sensitive):
            typed = normalize_text(
                _expect_str(item, response, "text"), case_sensitive=case_sensitive
            )
            return max(
                (
                    a.fraction
                    for a in answers
                    if normalize_text(a.text, case_sensitive=case_sensitive) == typed
                ),
                default=0.0,
            )
        case Numerical(answers=answers):
            value = _number(item, response)
            if value is None:
                return 0.0
            return max(
                (a.fraction for a in answers if abs(value - a.value) <= a.tolerance + 1e-9),
                default=0.0,
            )
        case Matching(pairs=pairs):
            return _matching(item, [p.answer for p in pairs], response)
    raise AssertionError(f"unhandled item body {type(item.body).__name__}")  # pragma: no cover


def _expect_str(item: Item, response: object, expected: str) -> str:
    if not isinstance(response, str):
        raise ResponseShapeError(item.key, expected, response)
    return response


def _expect_strs(item: Item, response: object, expected: str) -> list[str]:
    if isinstance(response, str | bytes) or not isinstance(response, Sequence):
        raise ResponseShapeError(item.key, expected, response)
    if not all(isinstance(r, str) for r in response):
        raise ResponseShapeError(item.key, expected, response)
    return list(response)


def _multiple(item: Item, options: Sequence[Option], scoring: str, response: object) -> float:
    chosen = set(_expect_strs(item, response, "a list of option ids"))
    by_id = {o.id: o for o in options}
    if scoring == "all_or_nothing":
        correct = {oid for oid, o in by_id.items() if o.fraction > 0}
        return 1.0 if correct and chosen == correct else 0.0
    return sum(by_id[oid].fraction for oid in chosen if oid in by_id)


def _number(item: Item, response: object) -> float | None:
    if isinstance(response, bool):
        raise ResponseShapeError(item.key, "a number", response)
    if isinstance(response, int | float):
        try:
            value = float(response)
        except OverflowError:  # an int beyond any float: no answer is that large
            return None
    elif isinstance(response, str):
        text = normalize_text(response).replace(",", "").replace(" ", "")
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            return None  # typed text that is no number earns nothing; it is still stored
    else:
        raise ResponseShapeError(item.key, "a number", response)
    return value if math.isfinite(value) else None


def _matching(item: Item, answers: list[str], response: object) -> float:
    given = _expect_strs(item, response, "one answer per prompt")
    if not answers:
        return 0.0
    hits = sum(
        1
        for want, got in zip(answers, given, strict=False)
        if normalize_text(want) == normalize_text(got)
    )
    return hits / len(answers)


def additive_weights(options: Sequence[Option]) -> tuple[Option, ...]:
    """All-or-nothing multiple-choice options restated for formats that only add weights
    (GIFT, core Moodle): each correct option is worth an equal share of full credit and
    each wrong one takes the same share away, so a learner cannot gain by ticking extra
    options. Shares are rounded to Moodle's 7-digit grade fractions (1/3 → 0.3333333)."""
    correct = sum(1 for o in options if o.fraction > 0)
    if not correct:
        return tuple(options)
    share = round(1.0 / correct, 7)
    return tuple(
        msgspec.structs.replace(o, fraction=share if o.fraction > 0 else -share) for o in options
    )
