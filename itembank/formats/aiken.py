"""Moodle's Aiken format: single-choice items as plain text.

::

    中国的首都是哪座城市？
    A. 北京
    B. 上海
    ANSWER: A

The question is one or more lines; options are ``A.`` or ``A)`` lines; ``ANSWER: A``
ends the item; blank lines separate items. As an extension Moodle does not have, an
option may also be marked ``A、``, ``A．`` or ``A）`` and its letter may be full-width
(``Ａ．``), ``ANSWER`` may be in any case or written ``答案``, and its colon may be
full-width, as Chinese word processors write them.

Aiken carries only the stem and the options of a single-choice item with one correct
answer. Keys are derived from the stem (``derive_key``); explanation, topic, difficulty,
tags, points, status, option feedback and partial fractions are lost on export, and
``dump`` leaves out items of other kinds, single-choice items without exactly one
correct option, and items with a stem line that would read as an option or an ANSWER
line (Aiken cannot write them). Line breaks inside an option become spaces.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from itembank.formats import ParsedItem, ParseResult
from itembank.formats._table import choice_options
from itembank.model import Item, SingleChoice, derive_key, option_id
from itembank.problems import Location, Problem, at, syntax

_OPTION = re.compile(r"^\s*([A-Za-zＡ-Ｚａ-ｚ])\s*[.)、．）]\s*(.*)$")
_ANSWER = re.compile(r"^\s*(?:ANSWER|答案)\s*[:：]\s*(.*?)\s*$", re.IGNORECASE)


class _Block:
    """The item being read: its question lines and options so far."""

    def __init__(self, line: int) -> None:
        self.line = line
        self.question: list[str] = []
        self.options: list[tuple[str, str]] = []


class _Reader:
    """Reads lines one at a time, keeping items and problems."""

    def __init__(self) -> None:
        self.items: list[ParsedItem] = []
        self.problems: list[Problem] = []
        self.block: _Block | None = None
        self.skipping = False  # after an error, until the next ANSWER line or blank line

    def feed(self, number: int, line: str) -> None:
        if not line.strip():
            self._blank()
            return
        answer = _ANSWER.match(line)
        if answer:
            self._answer(number, line, answer)
        elif self.skipping:
            return
        elif option := _OPTION.match(line):
            self._option(number, option)
        else:
            self._text(number, line)

    def finish(self) -> None:
        if self.block is not None and not self.skipping:
            self.problems.append(_missing_answer(self.block.line))

    def _blank(self) -> None:
        # A blank line inside a question (before its options) is a paragraph break;
        # once options have started, the item must end with ANSWER.
        if self.block is not None and self.block.question and not self.block.options:
            self.block.question.append("")
        self.skipping = False

    def _text(self, number: int, line: str) -> None:
        block = self.block
        if block is not None and block.options:
            self.problems.append(_missing_answer(block.line))
            block = None
        if block is None:
            block = self.block = _Block(number)
        block.question.append(line.strip())

    def _option(self, number: int, option: re.Match[str]) -> None:
        if self.block is None:
            self.problems.append(
                syntax(
                    "option line before any question text",
                    "选项行之前没有题干",
                    line=number,
                    col=option.start(1) + 1,
                )
            )
            self.skipping = True
            return
        letter = unicodedata.normalize("NFKC", option.group(1)).upper()
        self.block.options.append((letter, option.group(2).strip()))

    def _answer(self, number: int, line: str, answer: re.Match[str]) -> None:
        block, self.block = self.block, None
        if self.skipping:
            self.skipping = False
            return
        col = answer.start(1) + 1
        if block is None or not block.options:
            self.problems.append(
                syntax("ANSWER line without options before it", "答案行之前没有选项", line=number)
            )
            return
        letter = unicodedata.normalize("NFKC", answer.group(1)).upper()
        problem = _answer_problem(letter, answer.group(1), block, line=number, col=col)
        if problem is not None:
            self.problems.append(problem)
            return
        self.items.append(_item(block, letter))


def _answer_problem(
    letter: str, written: str, block: _Block, *, line: int, col: int
) -> Problem | None:
    letters = "".join(oid for oid, _ in block.options)
    if not letter:
        return syntax("ANSWER line names no option", "答案行没有给出选项字母", line=line, col=col)
    if len(letter) != 1:
        return syntax(
            f'ANSWER "{written}" must be one letter: Aiken items have a single answer',
            f"答案“{written}”应为单个字母：Aiken 格式只支持单选题",
            line=line,
            col=col,
        )
    if letter not in letters:
        return syntax(
            f'ANSWER "{written}" is not one of the options ({letters})',
            f"答案“{written}”不在选项（{letters}）之中",
            line=line,
            col=col,
        )
    return None


def _missing_answer(line: int) -> Problem:
    return syntax(
        "the question has no ANSWER line (e.g. ANSWER: B) before the next question or the "
        "end of the file",
        "该题在下一题或文件结束之前缺少答案行（如 ANSWER: B）",
        line=line,
    )


def _item(block: _Block, answer: str) -> ParsedItem:
    stem = "\n".join(block.question).strip()
    body = SingleChoice(options=choice_options(block.options, [answer]))
    item = Item(key=derive_key(stem), stem=stem, body=body)
    return ParsedItem(item=item, location=Location(line=block.line))


def parse(data: bytes, *, source: str = "") -> ParseResult:
    """The items of an Aiken file (UTF-8, BOM allowed); never raises."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        problem = syntax(
            "the file is not UTF-8 text; save it as UTF-8",
            "文件不是 UTF-8 编码的文本，请另存为 UTF-8",
            line=data.count(b"\n", 0, error.start) + 1,
        )
        return ParseResult(problems=(at(problem, file=source),))
    reader = _Reader()
    for number, line in enumerate(text.splitlines(), start=1):
        reader.feed(number, line)
    reader.finish()
    return ParseResult(
        items=tuple(reader.items),
        problems=tuple(at(p, file=source) for p in reader.problems),
        unread=len(reader.problems),  # each problem stops one question
    )


def dump(items: Sequence[Item]) -> bytes:
    """The single-choice items with one correct option as Aiken text (others left out)."""
    blocks = [_block_text(item) for item in items]
    return "\n".join(b for b in blocks if b).encode("utf-8")


def _block_text(item: Item) -> str:
    if not isinstance(item.body, SingleChoice):
        return ""
    correct = [i for i, o in enumerate(item.body.options) if o.correct]
    stem = [line.strip() for line in item.stem.strip().splitlines()]
    if len(correct) != 1 or any(_OPTION.match(ln) or _ANSWER.match(ln) for ln in stem):
        return ""
    options = [
        f"{option_id(i)}. {' '.join(o.text.split())}" for i, o in enumerate(item.body.options)
    ]
    return "\n".join([*stem, *options, f"ANSWER: {option_id(correct[0])}"]) + "\n"
