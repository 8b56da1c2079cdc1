"""What an item is: the kinds, their keys, and the bank that holds them.

This module owns the shape of an item and nothing else. Parsers (``itembank.formats``)
build items from files without judging them; ``itembank.lint`` says what is wrong with
them; ``itembank.scoring`` says what a response is worth. Items are therefore allowed to
be wrong here (a single-choice item with no correct option is a valid *value*): the
lint, not the constructor, is where problems are found and reported with their lines.
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from enum import StrEnum
from typing import Annotated, Literal, TypeAlias

import msgspec
from msgspec import Meta, Struct

#: An author key: stable across versions, what enemy groups and diffs refer to.
ItemKey: TypeAlias = Annotated[str, Meta(min_length=1, max_length=120)]


class Status(StrEnum):
    """Where an item is in its life: only active items go on papers."""

    DRAFT = "draft"
    ACTIVE = "active"
    RETIRED = "retired"


class Option(Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One choice of a single- or multiple-choice item.

    ``fraction`` is the share of the item's points this option is worth when chosen,
    as in Moodle (1.0 for a fully correct option, 0 for a wrong one, negative for a
    penalised wrong one in partial-credit multiple choice). ``fixed`` keeps the option
    in place when options are shuffled ("all of the above").
    """

    id: str
    text: str
    fraction: float = 0.0
    feedback: str = ""
    fixed: bool = False

    @property
    def correct(self) -> bool:
        return self.fraction > 0


class SingleChoice(Struct, frozen=True, kw_only=True, tag="single", omit_defaults=True):
    options: tuple[Option, ...] = ()


MultipleScoring = Literal["all_or_nothing", "partial"]


class MultipleChoice(Struct, frozen=True, kw_only=True, tag="multiple", omit_defaults=True):
    """Choose every correct option.

    ``all_or_nothing`` gives full credit only for exactly the correct set;
    ``partial`` adds the fractions of the chosen options (wrong ones may subtract),
    clamped to [0, 1].
    """

    options: tuple[Option, ...] = ()
    scoring: MultipleScoring = "all_or_nothing"


class TrueFalse(Struct, frozen=True, kw_only=True, tag="true_false", omit_defaults=True):
    answer: bool | None = None
    feedback_true: str = ""
    feedback_false: str = ""


class AcceptedText(Struct, frozen=True, kw_only=True, omit_defaults=True):
    text: str
    fraction: float = 1.0
    feedback: str = ""


class FillBlank(Struct, frozen=True, kw_only=True, tag="fill_blank", omit_defaults=True):
    """One blank with several accepted answers.

    Matching ignores surrounding spaces, full-width vs half-width forms and (unless
    ``case_sensitive``) case: see ``normalize_text``.
    """

    answers: tuple[AcceptedText, ...] = ()
    case_sensitive: bool = False


class NumericAnswer(Struct, frozen=True, kw_only=True, omit_defaults=True):
    value: float
    tolerance: float = 0.0
    fraction: float = 1.0
    feedback: str = ""


class Numerical(Struct, frozen=True, kw_only=True, tag="numerical", omit_defaults=True):
    answers: tuple[NumericAnswer, ...] = ()


class Pair(Struct, frozen=True, kw_only=True):
    prompt: str
    answer: str


class Matching(Struct, frozen=True, kw_only=True, tag="matching", omit_defaults=True):
    """Match each prompt to its answer; ``distractors`` are extra answers that match
    nothing. Scored per pair (the share of pairs matched)."""

    pairs: tuple[Pair, ...] = ()
    distractors: tuple[str, ...] = ()


Body: TypeAlias = SingleChoice | MultipleChoice | TrueFalse | FillBlank | Numerical | Matching


class ItemKind(StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"
    TRUE_FALSE = "true_false"
    FILL_BLANK = "fill_blank"
    NUMERICAL = "numerical"
    MATCHING = "matching"


class Difficulty(Struct, frozen=True, kw_only=True, omit_defaults=True):
    """How hard an item is, in whichever terms the author has.

    ``facility`` is the classical share of learners who answer correctly (0–1, higher is
    easier); ``band`` is the 1–5 band Chinese item banks use (1 easiest); ``irt_a`` and
    ``irt_b`` are optional 2PL parameters. ``logit`` turns whichever is present into one
    scale for assembly.
    """

    facility: float | None = None
    band: int | None = None
    irt_a: float | None = None
    irt_b: float | None = None


class Item(Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One item of a bank. ``stem`` and ``explanation`` are Markdown (CJK text welcome)."""

    key: str
    stem: str
    body: Body
    explanation: str = ""
    topic: str = ""
    difficulty: Difficulty = Difficulty()
    tags: tuple[str, ...] = ()
    enemy_group: str | None = None
    points: float = 1.0
    status: Status = Status.ACTIVE

    @property
    def kind(self) -> ItemKind:
        return _KIND_OF_BODY[type(self.body)]


_KIND_OF_BODY: dict[type, ItemKind] = {
    SingleChoice: ItemKind.SINGLE,
    MultipleChoice: ItemKind.MULTIPLE,
    TrueFalse: ItemKind.TRUE_FALSE,
    FillBlank: ItemKind.FILL_BLANK,
    Numerical: ItemKind.NUMERICAL,
    Matching: ItemKind.MATCHING,
}


class Bank(Struct, frozen=True, kw_only=True):
    """A named, versioned collection of items. A published version never changes."""

    name: str
    version: int = 1
    items: tuple[Item, ...] = ()


#: Logit of each 1–5 band: band 3 is average (0), each band one logit apart.
BAND_LOGITS = {1: -2.0, 2: -1.0, 3: 0.0, 4: 1.0, 5: 2.0}


def difficulty_logit(d: Difficulty) -> float:
    """One difficulty scale for every item: a logit, higher is harder.

    IRT ``b`` when given (it is already on this scale); else the logit of the facility
    (``ln((1 - p) / p)``, clipped to 0.01–0.99); else the band's logit; else 0 (average).
    """
    if d.irt_b is not None:
        return d.irt_b
    if d.facility is not None:
        p = min(0.99, max(0.01, d.facility))
        return math.log((1 - p) / p)
    if d.band is not None:
        return BAND_LOGITS.get(d.band, 0.0)
    return 0.0


def difficulty_band(d: Difficulty) -> int:
    """The 1–5 band of an item: the band given, else the nearest band to its logit."""
    if d.band is not None and d.band in BAND_LOGITS:
        return d.band
    logit = difficulty_logit(d)
    return min(BAND_LOGITS, key=lambda band: abs(BAND_LOGITS[band] - logit))


def option_id(index: int) -> str:
    """The letter of the ``index``-th option: A, B, … Z, then AA, AB …"""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def normalize_text(text: str, *, case_sensitive: bool = False) -> str:
    """The form in which typed answers are compared.

    NFKC folds full-width letters, digits and punctuation (ＡＢＣ１２３，) to their
    half-width forms and the ideographic space to a space; runs of white space become
    one space; surrounding space goes; case is folded unless asked not to.
    """
    if not text.isascii():  # NFKC leaves ASCII as it is; skip the call on the common path
        text = unicodedata.normalize("NFKC", text)
    folded = " ".join(text.split())
    return folded if case_sensitive else folded.casefold()


def derive_key(stem: str, *, prefix: str = "q") -> str:
    """A stable key for an item whose format has none (Aiken, untitled GIFT).

    The same stem always gives the same key, so re-importing a file keeps its items'
    identities and a diff between versions lines up.
    """
    digest = hashlib.blake2b(normalize_text(stem).encode(), digest_size=6).hexdigest()
    return f"{prefix}-{digest}"


def encode_item(item: Item) -> bytes:
    return msgspec.json.encode(item)


def decode_item(data: bytes | str) -> Item:
    return msgspec.json.decode(data, type=Item)
