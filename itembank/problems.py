"""Problems found in an item bank, with where they are and what to do about them.

Every parser and the lint report problems as ``Problem`` values; nothing in this package
raises on bad input from a file. A problem names its place (file, line and column for
text formats; sheet, row and column for spreadsheets), a stable code authors can look up
in docs/authoring.md, and a message in English and in Chinese.

The catalogue of codes is here, in one place, so the CLI, the API and the browser all
print the same words.
"""

from __future__ import annotations

import re
from typing import Literal

from msgspec import Struct

Severity = Literal["error", "warning"]
SEVERITY_ZH: dict[str, str] = {"error": "错误", "warning": "警告"}


class Problem(Struct, frozen=True, kw_only=True, omit_defaults=True):
    code: str
    message: str
    message_zh: str
    line: int = 0
    col: int = 0
    severity: Severity = "error"
    file: str = ""
    sheet: str = ""
    item_key: str = ""

    def where(self) -> str:
        """``file:line:col`` for text formats, ``file[sheet]:row:col`` for sheets."""
        name = self.file or "<input>"
        if self.sheet:
            name = f"{name}[{self.sheet}]"
        return f"{name}:{self.line}:{self.col}"

    def format(self, *, lang: Literal["en", "zh"] = "en") -> str:
        """The lint line: ``file:line:col: severity code message``; in Chinese the severity
        is 错误 or 警告 (the code stays as it is: it is what docs/authoring.md lists)."""
        if lang == "zh":
            return f"{self.where()}: {SEVERITY_ZH[self.severity]} {self.code} {self.message_zh}"
        return f"{self.where()}: {self.severity} {self.code} {self.message}"


class Location(Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Where an item starts in its source (row for a spreadsheet)."""

    line: int
    col: int = 1
    sheet: str = ""


def syntax(message: str, message_zh: str, *, line: int, col: int = 1, sheet: str = "") -> Problem:
    """The file cannot be read at this place (format-specific wording)."""
    return Problem(
        code="syntax", message=message, message_zh=message_zh, line=line, col=col, sheet=sheet
    )


#: The Chinese of the constructs parsers name in English (``construct_zh``).
_CONSTRUCTS_ZH: dict[str, str] = {
    "a GIFT description (a question with no answer block)": "GIFT 说明文字（没有答案块的题目）",
    "a GIFT essay question (empty braces)": "GIFT 问答题（空的花括号）",
    "GIFT's feedback for any other numerical answer (~#…)": "GIFT 数值题“其他答案”的反馈（~#…）",
    "a <question> with no type": "未注明题型的 <question>",
    "the '*' (any other answer) numerical answer": "数值题的“*”（任意其他答案）",
    "numerical units": "数值题的单位",
    "an embedded file in the question text": "题干中嵌入的文件",
    "template processing (cloned items)": "模板处理（克隆试题）",
    "an item with no interaction": "没有交互的试题",
    "an item with several interactions": "含多个交互的试题",
    "custom response processing": "自定义评分处理",
    "a matchInteraction without exactly two match sets": "匹配集不是恰好两组的 matchInteraction",
    "the assessment test (its items are read on their own)": (
        "测验（assessmentTest；其中的试题单独读取）"
    ),
}
_PATTERNS_ZH: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^the Moodle question type (.+)$"), r"Moodle 题型 \1"),
    (re.compile(r"^the QTI (\w+)$"), r"QTI 的 \1 元素"),
    (re.compile(r"^the response template (.+)$"), r"评分模板 \1"),
    (
        re.compile(r"^a true/false answer (.+) \(expected 'true' or 'false'\)$"),
        r"判断题答案 \1（应为 true 或 false）",
    ),
)


def construct_zh(construct: str) -> str:
    """The Chinese name of a construct a parser names in English (as it is, if unknown)."""
    if construct in _CONSTRUCTS_ZH:
        return _CONSTRUCTS_ZH[construct]
    for pattern, replacement in _PATTERNS_ZH:
        if pattern.match(construct):
            return pattern.sub(replacement, construct)
    return construct


def unsupported(construct: str, *, line: int, col: int = 1, sheet: str = "") -> Problem:
    """A construct this engine does not import; it is reported, never dropped silently."""
    return Problem(
        code="unsupported",
        message=f"{construct} is not supported; the item was not imported",
        message_zh=f"不支持{construct_zh(construct)}，该题未导入",
        line=line,
        col=col,
        sheet=sheet,
    )


def unsupported_part(construct: str, *, line: int, col: int = 1, sheet: str = "") -> Problem:
    """A part of an item (feedback kind, attribute) that the import leaves out."""
    return Problem(
        code="unsupported-part",
        message=f"{construct} is not supported and was left out of the item",
        message_zh=f"不支持{construct_zh(construct)}，已从该题中略去",
        line=line,
        col=col,
        sheet=sheet,
        severity="warning",
    )


def at(problem: Problem, *, file: str) -> Problem:
    """The same problem, placed in ``file``."""
    return Problem(
        code=problem.code,
        message=problem.message,
        message_zh=problem.message_zh,
        line=problem.line,
        col=problem.col,
        severity=problem.severity,
        file=file,
        sheet=problem.sheet,
        item_key=problem.item_key,
    )
