"""Item-bank file formats: each module reads a file into items and writes items back.

Every format module offers the same two functions:

``parse(data: bytes, *, source: str = "") -> ParseResult``
    Read a whole file. Never raises on bad input: what cannot be read becomes a
    ``Problem`` with its line (or sheet/row/column), and constructs the engine does not
    import are reported as ``unsupported`` problems, never dropped silently. Items are
    built as written; judging them (missing key, duplicate options …) is the lint's job.

``dump(items: Sequence[Item]) -> bytes``
    Write items in this format. Where the format cannot express part of an item, the
    writer keeps what it can and documents the loss in its module docstring.

``FORMATS`` maps a format's name to its module; ``detect`` picks one from a file name.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from types import ModuleType
from typing import Protocol

from msgspec import Struct

from itembank.media import Media
from itembank.model import Item
from itembank.problems import Location, Problem


class ParsedItem(Struct, frozen=True, kw_only=True):
    item: Item
    location: Location


class ParseResult(Struct, frozen=True, kw_only=True):
    """What a parser read. ``unread`` counts the questions the parser saw in the file but
    could not build (each has its problem); None when the parser does not count them, in
    which case the lint counts its ``unsupported`` problems (one per question left out).
    """

    items: tuple[ParsedItem, ...] = ()
    problems: tuple[Problem, ...] = ()
    unread: int | None = None
    #: The images the file carries; its items refer to them as ``media:<sha256>``
    #: (``itembank.media``).
    media: tuple[Media, ...] = ()

    @property
    def items_seen(self) -> int:
        """Questions in the file: those read and those that could not be."""
        if self.unread is not None:
            return len(self.items) + self.unread
        left_out = sum(1 for p in self.problems if p.code == "unsupported")
        return len(self.items) + left_out

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


class Format(Protocol):
    def parse(self, data: bytes, *, source: str = "") -> ParseResult: ...

    def dump(self, items: Sequence[Item]) -> bytes: ...


class ImageFormat(Format, Protocol):
    """A format whose writer carries images (Moodle XML, QTI): ``media`` by hash."""

    def dump(self, items: Sequence[Item], media: Mapping[str, Media] | None = None) -> bytes: ...


#: format name -> (module, file extensions it claims)
_REGISTRY: dict[str, tuple[str, tuple[str, ...]]] = {
    "native": ("itembank.formats.native", (".yaml", ".yml", ".json")),
    "gift": ("itembank.formats.gift", (".gift", ".txt")),
    "aiken": ("itembank.formats.aiken", (".aiken",)),
    "moodle": ("itembank.formats.moodle_xml", (".xml",)),
    "qti": ("itembank.formats.qti", (".qti", ".zip")),
    "excel": ("itembank.formats.excel", (".xlsx",)),
    "csv": ("itembank.formats.csv_table", (".csv",)),
}

FORMAT_NAMES: tuple[str, ...] = tuple(_REGISTRY)


class UnknownFormatError(ValueError):
    """No format was named and none can be told from the file name, or the name is not
    one of ``FORMAT_NAMES``."""

    code = "unknown_format"


def get(name: str) -> Format:
    """The format module called ``name``."""
    try:
        module_name, _ = _REGISTRY[name]
    except KeyError:
        known = ", ".join(FORMAT_NAMES)
        raise UnknownFormatError(f"unknown format {name!r}; known formats: {known}") from None
    module: ModuleType = importlib.import_module(module_name)
    return module


def detect(filename: str, data: bytes = b"") -> str:
    """The format of a file from its name and, where the extension is shared, its start.

    ``.xml`` is Moodle XML unless the root is a QTI ``assessmentItem``; ``.txt`` is GIFT
    unless it looks like Aiken (an ``ANSWER:`` line and no braces).
    """
    suffix = PurePath(filename).suffix.lower()
    head = data[:4096]
    if suffix == ".xml" and (b"assessmentItem" in head or b"qti-assessment-item" in head):
        return "qti"
    if suffix == ".txt" and b"ANSWER:" in data and b"{" not in data:
        return "aiken"
    for name, (_, suffixes) in _REGISTRY.items():
        if suffix in suffixes:
            return name
    known = ", ".join(s for _, sx in _REGISTRY.values() for s in sx)
    raise UnknownFormatError(
        f"cannot tell the format of {filename!r} from its extension; use one of {known} "
        "or name the format"
    )
