"""itembank: what an item is, how a response to it is scored, and item-bank files.

The bottom layer of examengine. It imports only the standard library, numpy and msgspec.
"""

from itembank.model import (
    AcceptedText,
    Bank,
    Body,
    Difficulty,
    FillBlank,
    Item,
    ItemKind,
    Matching,
    MultipleChoice,
    Numerical,
    NumericAnswer,
    Option,
    Pair,
    SingleChoice,
    Status,
    TrueFalse,
    derive_key,
    normalize_text,
    option_id,
)
from itembank.problems import Location, Problem

__all__ = [
    "AcceptedText",
    "Bank",
    "Body",
    "Difficulty",
    "FillBlank",
    "Item",
    "ItemKind",
    "Location",
    "Matching",
    "MultipleChoice",
    "NumericAnswer",
    "Numerical",
    "Option",
    "Pair",
    "Problem",
    "SingleChoice",
    "Status",
    "TrueFalse",
    "derive_key",
    "normalize_text",
    "option_id",
]
