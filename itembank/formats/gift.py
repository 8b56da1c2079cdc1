"""GIFT, Moodle's plain-text question format, read and written with Moodle's semantics.

The reader follows Moodle's own importer (question/format/gift/format.php) rule by rule:

* Questions are separated by blank lines; every line is trimmed (PHP ``trim``: space, tab,
  CR, LF, NUL, vertical tab) before the lines of a question are joined with ``\\n``, so a
  Markdown hard break made of trailing spaces does not survive, exactly as in Moodle.
  Lines starting with ``//`` are comments; ``[id:…]`` and ``[tag:…]`` are read from them
  (Moodle 3.6+), and nowhere else.
* Escapes are Moodle's: ``\\\\`` is a backslash, ``\\~ \\= \\# \\{ \\} \\:`` are the literal
  characters, ``\\n`` is a line break; any other backslash is kept as written.
* ``::title::`` becomes the item key; without a title the ``[id:…]`` from the comments is
  the key; without either, ``derive_key(stem)``. A title and an id together keep the title
  (the model has one key), so the id is not carried.
* ``$CATEGORY: path`` sets ``topic`` for the questions after it. The topic is the whole path
  with its context prefix (``$course$/``, ``$system$/`` …) and the ``top`` category
  removed: ``$course$/top/Algebra/Linear`` gives ``Algebra/Linear``. The path is taken
  verbatim, without escapes, because Moodle writes category lines unescaped.
* The type is chosen as Moodle chooses it: ``{}`` essay, ``{#…}`` numerical, any ``~``
  multiple choice (single choice if some answer is marked ``=``, else multiple response,
  read here as ``MultipleChoice`` with partial scoring), ``=`` with ``->`` matching,
  ``T``/``TRUE``/``F``/``FALSE`` true/false, anything else short answer (``FillBlank``).
  As in Moodle, ``=%50%x`` in a multiple-choice question is an answer ``%50%x`` worth 100%
  (weights follow ``~`` there), and ``#`` is literal inside matching pairs.
* True/false feedback is Moodle's: ``{TRUE#wrong#right}`` shows the first feedback to a
  learner who answers wrongly (here: False) and the second to one who answers rightly.
* An answer block in the middle of the text is replaced by ``_____``; one at the very end
  is removed. Text formats ``[html]``, ``[moodle]``, ``[plain]`` and ``[markdown]`` are
  dropped and the text is kept as written (HTML stays HTML inside the Markdown stem).
* Essays (``{}``) and descriptions (no answer block) are reported ``unsupported``; the
  numerical catch-all ``~#feedback`` (Moodle's ``*`` answer) is left out with an
  ``unsupported-part`` warning. Where Moodle would quietly import something odd, this
  reader reports a syntax error with its line and column instead: an unclosed ``{``, a
  stray ``}`` or a second answer block, an unclosed title, an empty answer, a weight
  outside -100 %…100 %, a matching answer without ``->``, a number that is not a number,
  a reversed range, a negative tolerance, too few answers, a question glued to its
  ``$CATEGORY`` line, and bytes that are not UTF-8.

The writer produces what Moodle's exporter produces, so ``parse(dump(items))`` gives the
items back, with these losses (GIFT has no way to say them): ``difficulty``,
``enemy_group``, ``points`` and ``status`` are not carried; neither are an option's
``fixed`` flag and id (options read back as A, B, C …), ``case_sensitive`` of a blank
or the scoring of a multiple-response item (read back as ``partial``); white space
around a text is trimmed, carriage returns are dropped and a line break in a topic
becomes a space. Stems are
written as ``[markdown]`` because stems are Markdown here. Some items cannot be written so
that they read back the same, and are not expected to: a single choice with no option
worth 100 % (read back as multiple response), a choice item with fewer than two options,
a matching prompt or short answer containing ``->``, a matching item with neither pairs
nor distractors, a pair with an empty prompt (read back as a distractor), a non-finite
number, a tag containing ``<``, ``>``, control characters or ending in a backslash. A
true/false item with no answer is written with empty braces, so that reading it back
reports it instead of inventing an answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from decimal import Decimal

from itembank import problems
from itembank.formats import ParsedItem, ParseResult
from itembank.model import (
    AcceptedText,
    Body,
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
    derive_key,
    option_id,
)
from itembank.problems import Location, Problem
from itembank.scoring import additive_weights

#: What PHP's ``trim`` removes, which is what Moodle trims with.
_WS = " \t\n\r\x00\x0b"

# Escapes become one placeholder character plus one filler, so that every offset in the
# escaped text is still the offset in the file (for columns). Both are Unicode
# noncharacters, which never occur in interchanged text.
_FILL = "\ufddf"
_ESCAPED = {":": "\ufdd0", "#": "\ufdd1", "=": "\ufdd2", "{": "\ufdd3", "}": "\ufdd4"}
_ESCAPED |= {"~": "\ufdd5", "n": "\ufdd6"}
_ESCAPE = re.compile(r"\\([\\:#={}~n])")
_UNESCAPE = str.maketrans(
    {_ESCAPED[c]: ("\n" if c == "n" else c) for c in _ESCAPED} | {_FILL: None}
)

_FORMAT = re.compile(r"\[(?:html|moodle|plain|markdown)\]")
_WEIGHT = re.compile(r"%(-?\d+(?:\.\d*)?)%")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_ID = re.compile(r"\[id:((?:\\\]|[^\]\x00-\x1f\x7f])+)\]")
_TAG = re.compile(r"\[tag:((?:\\\]|[^\]<>\x00-\x1f\x7f])+)\]")
_CONTEXT = re.compile(r"\$[a-z]+\$(?:/|$)")
_TRUE_FALSE = {"T": True, "TRUE": True, "F": False, "FALSE": False}
_BAD_BYTE = re.compile(r"[\udc80-\udcff]")


class _Rejected(Exception):
    """The question cannot be imported; ``problem`` says why and where."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class _Block:
    """One question's lines: trimmed, comments blanked, escapes replaced."""

    __slots__ = ("comments", "first", "lines", "raw", "source", "text")

    def __init__(self, source: list[str], first: int, lines: list[str], comments: str) -> None:
        self.source = source
        self.first = first
        self.lines = lines
        self.comments = comments
        self.raw = "\n".join(lines)
        self.text = _ESCAPE.sub(_escape, self.raw) if "\\" in self.raw else self.raw

    def where(self, offset: int) -> tuple[int, int]:
        """The 1-based (line, column) in the file of ``offset`` in ``text``."""
        index, start = 0, 0
        for index, line in enumerate(self.lines):  # noqa: B007 (index is used after)
            if offset <= start + len(line):
                break
            start += len(line) + 1
        original = self.source[self.first + index]
        lead = len(original) - len(original.lstrip(_WS))
        return self.first + index + 1, offset - start + lead + 1

    def syntax(self, offset: int, message: str, message_zh: str) -> _Rejected:
        """A rejection with a syntax problem at ``offset``."""
        line, col = self.where(offset)
        return _Rejected(problems.syntax(message, message_zh, line=line, col=col))


def _escape(match: re.Match[str]) -> str:
    """The length-preserving stand-in for one escape sequence."""
    char = match.group(1)
    return "\\" + _FILL if char == "\\" else _ESCAPED[char] + _FILL


def _unescape(text: str) -> str:
    """``text`` with escape stand-ins turned back into their characters, trimmed."""
    if _FILL in text:
        text = text.translate(_UNESCAPE)
    return text.strip(_WS)


def _plain(text: str) -> str:
    """A text as Moodle's ``parse_text_with_format`` leaves it: format marker dropped."""
    if not text:
        return text
    text = text.strip(_WS)
    if text.startswith("["):
        marker = _FORMAT.match(text)
        if marker:
            text = text[marker.end() :].strip(_WS)
    if _FILL in text:
        text = text.translate(_UNESCAPE).strip(_WS)
    return text


def _trim(text: str, lo: int, hi: int) -> tuple[int, int]:
    """The range ``lo:hi`` of ``text`` without surrounding white space."""
    while lo < hi and text[lo] in _WS:
        lo += 1
    while hi > lo and text[hi - 1] in _WS:
        hi -= 1
    return lo, hi


# --------------------------------------------------------------------------- reading


def parse(data: bytes, *, source: str = "") -> ParseResult:
    """The items of a GIFT file and the problems found reading it (never raises)."""
    text, bad_lines, found = _decode(data)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    items: list[ParsedItem] = []
    unread = 0  # questions seen but not read: not UTF-8, rejected or unsupported
    topic = ""
    for block in _blocks(lines):
        if bad_lines and any(block.first + i in bad_lines for i in range(len(block.lines))):
            unread += 1
            continue
        before = len(found)
        try:
            topic, parsed = _read_block(block, topic, found)
        except _Rejected as rejected:
            found.append(rejected.problem)
            unread += 1
            continue
        if parsed is not None:
            items.append(parsed)
        elif any(p.code == "unsupported" for p in found[before:]):
            unread += 1
    if source:
        found = [problems.at(p, file=source) for p in found]
    return ParseResult(items=tuple(items), problems=tuple(found), unread=unread)


def _decode(data: bytes) -> tuple[str, set[int], list[Problem]]:
    """The text, the 0-based indexes of lines with bytes that are not UTF-8, and a
    problem for each such line."""
    try:
        return data.decode("utf-8-sig"), set(), []
    except UnicodeDecodeError:
        text = data.decode("utf-8-sig", errors="surrogateescape")
    bad: set[int] = set()
    found: list[Problem] = []
    for index, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n")):
        match = _BAD_BYTE.search(line)
        if match:
            byte = ord(match.group()) - 0xDC00
            bad.add(index)
            found.append(
                problems.syntax(
                    f"byte 0x{byte:02x} is not UTF-8; save the file as UTF-8 "
                    "(the question on this line was not imported)",
                    f"字节 0x{byte:02x} 不是 UTF-8 编码；"
                    "请将文件另存为 UTF-8（此行所在的题目未导入）",
                    line=index + 1,
                    col=match.start() + 1,
                )
            )
    return text, bad, found


def _blocks(lines: list[str]) -> Iterator[_Block]:
    """The blank-line separated blocks of ``lines``, as Moodle's ``readquestions``."""
    current: list[str] = []
    comments: list[str] = []
    first = 0
    for index, line in enumerate(lines):
        stripped = line.strip(_WS)
        if not stripped:
            if current:
                yield _Block(lines, first, current, "\n".join(comments))
                current, comments = [], []
            continue
        if not current:
            first = index
        if stripped.startswith("//"):
            comments.append(stripped)
            stripped = " "
        current.append(stripped)
    if current:
        yield _Block(lines, first, current, "\n".join(comments))


def _read_block(block: _Block, topic: str, found: list[Problem]) -> tuple[str, ParsedItem | None]:
    """The topic after ``block`` and the item it holds (None for comments, a category
    line or an unsupported question, which goes to ``found`` with any warning).
    Raises _Rejected."""
    text = block.text
    lo, hi = _trim(text, 0, len(text))
    if lo == hi:
        return topic, None
    if text.startswith("$CATEGORY:", lo):
        return _category(block, lo + 10, hi), None
    line, col = block.where(lo)
    title, lo = _title(block, lo, hi)
    opening, closing = _braces(block, lo, hi)
    if opening < 0:
        found.append(
            problems.unsupported(
                "a GIFT description (a question with no answer block)", line=line, col=col
            )
        )
        return topic, None
    stem = _stem(text, lo, hi, opening, closing)
    a_lo, a_hi = _trim(text, opening + 1, closing)
    explanation = ""
    general = text.rfind("####", a_lo, a_hi)
    if general >= 0:
        explanation = _plain(text[general + 4 : a_hi])
        a_lo, a_hi = _trim(text, a_lo, general)
    if a_lo == a_hi:
        o_line, o_col = block.where(opening)
        found.append(
            problems.unsupported("a GIFT essay question (empty braces)", line=o_line, col=o_col)
        )
        return topic, None
    item = Item(
        key=title or _id(block.comments) or derive_key(stem),
        stem=stem,
        body=_body(block, a_lo, a_hi, opening, found),
        explanation=explanation,
        topic=topic,
        tags=_tags(block.comments),
    )
    return topic, ParsedItem(item=item, location=Location(line=line, col=col))


def _category(block: _Block, lo: int, hi: int) -> str:
    """The topic a ``$CATEGORY:`` block sets. Raises _Rejected if a question follows
    without a blank line (Moodle would swallow it into the category name)."""
    path, _, rest = block.raw[lo:hi].partition("\n")
    if rest.strip(_WS):
        start = lo + len(path) + 1
        start += len(rest) - len(rest.lstrip(_WS))
        raise block.syntax(
            start,
            "a $CATEGORY line must be followed by a blank line before the next question",
            "$CATEGORY 行与下一题之间必须空一行",
        )
    path = _CONTEXT.sub("", path.strip(_WS), count=1)
    if path == "top":
        return ""
    return path[4:] if path.startswith("top/") else path


def _title(block: _Block, lo: int, hi: int) -> tuple[str, int]:
    """The ``::title::`` at ``lo`` ("" if none) and where the question text starts."""
    text = block.text
    if not text.startswith("::", lo):
        return "", lo
    end = text.find("::", lo + 2, hi)
    if end < 0:
        raise block.syntax(
            lo,
            "the question title opened with '::' is not closed with '::'",
            "以“::”开始的题目标题没有用“::”结束",
        )
    return _unescape(text[lo + 2 : end]), _trim(text, end + 2, hi)[0]


def _braces(block: _Block, lo: int, hi: int) -> tuple[int, int]:
    """The offsets of the answer block's ``{`` and ``}`` (-1, -1 if there is none).
    Raises _Rejected for an unclosed, unopened, nested or second block."""
    text = block.text
    opening, closing = text.find("{", lo, hi), text.find("}", lo, hi)
    if opening < 0 and closing < 0:
        return -1, -1
    if closing < 0:
        raise block.syntax(
            opening,
            "'{' opens an answer block that is not closed with '}' before the blank line "
            "that ends the question",
            "“{”开始的答案块在题目结束（空行）之前没有用“}”闭合",
        )
    if opening < 0 or closing < opening:
        raise block.syntax(
            closing,
            "'}' closes an answer block that was never opened; write \\} for a literal brace",
            "“}”之前没有对应的“{”；字面的花括号请写作 \\}",
        )
    nested = text.find("{", opening + 1, closing)
    if nested >= 0:
        raise block.syntax(
            nested,
            "'{' inside an answer block; write \\{ for a literal brace",
            "答案块内出现“{”；字面的花括号请写作 \\{",
        )
    extra = text.find("{", closing, hi)
    stray = text.find("}", closing + 1, extra if extra >= 0 else hi)
    extra = stray if stray >= 0 else extra
    if extra >= 0:
        raise block.syntax(
            extra,
            "a question has one answer block {…}; write \\{ and \\} for literal braces",
            "一道题只能有一个答案块 {…}；字面的花括号请写作 \\{ 和 \\}",
        )
    return opening, closing


def _stem(text: str, lo: int, hi: int, opening: int, closing: int) -> str:
    """The question text with its answer block removed (``_____`` in the middle)."""
    if closing == hi - 1:
        return _plain(text[lo:opening])
    return _plain(text[lo:opening] + "_____" + text[closing + 1 : hi])


def _id(comments: str) -> str:
    """The ``[id:…]`` declared in the question's comments, or ""."""
    if "[id:" not in comments:
        return ""
    match = _ID.search(comments)
    return match.group(1).strip(_WS).replace("\\]", "]") if match else ""


def _tags(comments: str) -> tuple[str, ...]:
    """The ``[tag:…]`` tags declared in the question's comments."""
    if "[tag:" not in comments:
        return ()
    return tuple(m.group(1).strip(_WS).replace("\\]", "]") for m in _TAG.finditer(comments))


def _body(block: _Block, lo: int, hi: int, opening: int, found: list[Problem]) -> Body:
    """The body for the answers at ``lo:hi``, typed as Moodle types them."""
    text = block.text
    if text[lo] == "#":
        return _numerical(block, lo + 1, hi, found)
    if text.find("~", lo, hi) >= 0:
        return _choice(block, lo, hi, opening)
    if text.find("=", lo, hi) >= 0 and text.find("->", lo, hi) >= 0:
        return _matching(block, lo, hi, opening)
    hash_at = text.find("#", lo, hi)
    head = text[lo : hash_at if hash_at > lo else hi].strip(_WS)
    if head in _TRUE_FALSE:
        return _true_false(text[lo:hi], _TRUE_FALSE[head])
    return _short_answer(block, lo, hi)


class _Answer:
    """One answer of an answer block: its mark (``~``, ``=`` or "" for a leading
    unmarked answer), the offset of that mark, and the text after it, untrimmed."""

    __slots__ = ("at", "body", "mark")

    def __init__(self, mark: str, at: int, body: str) -> None:
        self.mark = mark
        self.at = at
        self.body = body

    def first_char(self) -> int:
        """The offset of the first non-blank character after the mark."""
        return self.at + len(self.mark) + len(self.body) - len(self.body.lstrip(_WS))


def _split(text: str, lo: int, hi: int, *, choice: bool) -> list[_Answer]:
    """The answers of ``lo:hi``, cut before each ``=`` (and ``~`` for a choice) as
    Moodle's ``explode`` cuts them; a leading unmarked piece is kept unless blank."""
    region = text[lo:hi]
    parts = region.replace("=", "~=").split("~") if choice else region.split("=")
    head = parts[0]
    answers = [_Answer("", lo, head)] if head.strip(_WS) else []
    cursor = lo + len(head)
    for part in parts[1:]:
        mark = "~" if choice else "="
        body = part
        if choice and part.startswith("="):
            mark, body = "=", part[1:]
        answers.append(_Answer(mark, cursor, body))
        cursor += 1 + len(body)
    return answers


def _weight(block: _Block, answer: _Answer, body: str, default: float) -> tuple[float, str]:
    """The ``%weight%`` starting ``body`` as a fraction (``default`` if none) and the
    rest of ``body``. Raises _Rejected for a weight beyond ±100 %."""
    match = _WEIGHT.match(body) if body.startswith("%") else None
    if not match:
        return default, body
    percent = Decimal(match.group(1))
    if abs(percent) > 100:
        raise block.syntax(
            answer.first_char(),
            f"answer weight {match.group()} is outside -100%…100%",
            f"答案权重 {match.group()} 超出 -100%…100% 的范围",
        )
    return float(percent / 100), body[match.end() :]


def _answer_text(block: _Block, answer: _Answer, body: str) -> tuple[str, str]:
    """The answer and its feedback (after ``#``) in ``body``. Raises _Rejected if the
    answer is empty."""
    text, _, feedback = body.partition("#")
    text = _plain(text)
    if not text:
        symbol = answer.mark or "{"
        raise block.syntax(
            answer.at, f"the answer after '{symbol}' is empty", f"“{symbol}”之后的答案为空"
        )
    return text, _plain(feedback)


_OPTION_IDS = tuple(option_id(i) for i in range(26))


def _option_id(index: int) -> str:
    """``option_id(index)``, from a table for the usual few options."""
    return _OPTION_IDS[index] if index < 26 else option_id(index)


def _too_few(block: _Block, opening: int, what: str, what_zh: str, count: int) -> _Rejected:
    """A rejection for a question with fewer answers than Moodle needs."""
    return block.syntax(
        opening,
        f"a {what} question needs at least two answers; this one has {count}",
        f"{what_zh}至少需要两个答案，本题只有 {count} 个",
    )


def _choice(block: _Block, lo: int, hi: int, opening: int) -> Body:
    """A single choice if some answer is marked ``=``, else a multiple response."""
    options: list[Option] = []
    single = False
    for answer in _split(block.text, lo, hi, choice=True):
        if answer.mark == "=":
            single = True
            fraction, body = 1.0, answer.body
        else:
            fraction, body = _weight(block, answer, answer.body.strip(_WS), 0.0)
        text, feedback = _answer_text(block, answer, body)
        options.append(
            Option(id=_option_id(len(options)), text=text, fraction=fraction, feedback=feedback)
        )
    if len(options) < 2:
        raise _too_few(block, opening, "multiple-choice", "选择题", len(options))
    if single:
        return SingleChoice(options=tuple(options))
    return MultipleChoice(options=tuple(options), scoring="partial")


def _true_false(answers: str, answer: bool) -> TrueFalse:
    """A true/false body; the first feedback is for a wrong answer, the second for a
    right one, as in Moodle."""
    bits = answers.split("#", 2)
    wrong = _plain(bits[1]) if len(bits) > 1 else ""
    right = _plain(bits[2]) if len(bits) > 2 else ""
    if answer:
        return TrueFalse(answer=True, feedback_true=right, feedback_false=wrong)
    return TrueFalse(answer=False, feedback_true=wrong, feedback_false=right)


def _short_answer(block: _Block, lo: int, hi: int) -> FillBlank:
    """A fill-in-the-blank body: every answer accepted, weighted 100 % unless given."""
    accepted: list[AcceptedText] = []
    for answer in _split(block.text, lo, hi, choice=False):
        fraction, body = _weight(block, answer, answer.body.strip(_WS), 1.0)
        text, feedback = _answer_text(block, answer, body)
        accepted.append(AcceptedText(text=text, fraction=fraction, feedback=feedback))
    return FillBlank(answers=tuple(accepted))


def _matching(block: _Block, lo: int, hi: int, opening: int) -> Matching:
    """A matching body; a pair with an empty prompt is a distractor, as in Moodle."""
    pairs: list[Pair] = []
    distractors: list[str] = []
    answers = _split(block.text, lo, hi, choice=False)
    if len(answers) < 2:
        raise _too_few(block, opening, "matching", "匹配题", len(answers))
    for answer in answers:
        prompt, arrow, match = answer.body.partition("->")
        if not arrow:
            raise block.syntax(
                answer.at,
                "a matching answer needs '->' between the prompt and its match",
                "匹配题的答案需要用“->”连接题干项与其匹配项",
            )
        if prompt := _plain(prompt):
            pairs.append(Pair(prompt=prompt, answer=_unescape(match)))
        else:
            distractors.append(_unescape(match))
    return Matching(pairs=tuple(pairs), distractors=tuple(distractors))


def _numerical(block: _Block, lo: int, hi: int, found: list[Problem]) -> Numerical:
    """A numerical body from the answers after ``#``; Moodle's catch-all wrong-answer
    feedback (``~#…``) is left out with a warning in ``found``."""
    text = block.text
    tilde = text.find("~", lo, hi)
    if tilde >= 0:
        line, col = block.where(tilde)
        found.append(
            problems.unsupported_part(
                "GIFT's feedback for any other numerical answer (~#…)", line=line, col=col
            )
        )
        hi = tilde
    answers = [_numeric_answer(block, a) for a in _split(text, lo, hi, choice=False)]
    if not answers:
        raise block.syntax(
            lo - 1,
            "a numerical question needs at least one answer after '#', such as {#1822:5}",
            "数值题在“#”之后至少需要一个答案，例如 {#1822:5}",
        )
    return Numerical(answers=tuple(answers))


def _numeric_answer(block: _Block, answer: _Answer) -> NumericAnswer:
    """One numerical answer: ``value``, ``value:tolerance`` or ``low..high``."""
    fraction, body = _weight(block, answer, answer.body.strip(_WS), 1.0)
    written, _, feedback = body.partition("#")
    value = _plain(written)
    dots, colon = value.find(".."), value.find(":")
    if dots > 0:
        low = _number(block, answer, value[:dots])
        high = _number(block, answer, value[dots + 2 :])
        if low > high:
            raise block.syntax(
                answer.first_char(),
                f"the range {value} has its lower end above its upper end",
                f"范围 {value} 的下限大于上限",
            )
        number = (low + high) / 2
        tolerance = high - number
    elif colon > 0:
        number = _number(block, answer, value[:colon])
        tolerance = _number(block, answer, value[colon + 1 :])
        if tolerance < 0:
            raise block.syntax(
                answer.first_char(),
                f"the tolerance in {value} is negative",
                f"{value} 中的误差范围为负数",
            )
    else:
        number, tolerance = _number(block, answer, value), 0.0
    return NumericAnswer(
        value=number, tolerance=tolerance, fraction=fraction, feedback=_plain(feedback)
    )


def _number(block: _Block, answer: _Answer, text: str) -> float:
    """``text`` as a number. Raises _Rejected if it is not one."""
    text = text.strip(_WS)
    if not _NUMBER.fullmatch(text):
        raise block.syntax(
            answer.first_char(),
            f"'{text}' is not a number; numerical answers are written like 1822, "
            "1822:5 (with a tolerance) or 1817..1827 (a range)",
            f"“{text}”不是数字；数值答案的写法如 1822、1822:5（带误差）或 1817..1827（范围）",
        )
    return float(text)


# --------------------------------------------------------------------------- writing

_ESCAPES = str.maketrans(
    {"\\": "\\\\", "#": "\\#", "=": "\\=", "~": "\\~", "{": "\\{", "}": "\\}", ":": "\\:"}
    | {"\n": "\\n", "\r": ""}
)


def dump(items: Sequence[Item]) -> bytes:
    """The items as a GIFT file (UTF-8), each followed by a blank line."""
    out: list[str] = []
    topic = ""
    for item in items:
        if item.topic != topic:
            topic = item.topic
            path = "$course$/top/" + topic if topic else "$course$/top"
            out.append(f"$CATEGORY: {' '.join(path.splitlines())}\n\n")
        out.append(_write_item(item))
    return "".join(out).encode()


def _write_item(item: Item) -> str:
    """One question: tag comments, title, ``[markdown]`` stem and answer block."""
    head = ""
    if item.tags:
        tags = " ".join("[tag:" + t.replace("]", "\\]") + "]" for t in item.tags)
        head = f"// {tags}\n"
    if item.key != derive_key(item.stem):
        head += f"::{_escape_text(item.key)}::"
    head += "[markdown]" + _escape_text(item.stem)
    if isinstance(item.body, TrueFalse) and item.body.answer is None:
        return f"// a true/false item without an answer\n{head}{{}}\n\n"
    answers = _write_body(item.body)
    if item.explanation:
        answers += f"\t####{_text(item.explanation)}\n"
    return f"{head}{{{answers}}}\n\n"


def _escape_text(text: str) -> str:
    """``text`` with GIFT's special characters escaped and line breaks as ``\\n``."""
    return text.translate(_ESCAPES)


def _text(text: str) -> str:
    """An escaped answer or feedback text, marked ``[markdown]`` if it starts with ``[``
    (so that a leading ``[html]`` of its own is not read as a format)."""
    escaped = _escape_text(text)
    return "[markdown]" + escaped if escaped.startswith("[") else escaped


def _decimal(number: float) -> str:
    """``number`` in plain decimals (no exponent, no trailing ``.0``): the shortest
    text that reads back as the same float."""
    written = format(Decimal(repr(number)), "f")
    return written.removesuffix(".0")


def _percent(fraction: float) -> str:
    """``%weight%`` for ``fraction``: the shortest decimal of the float, times 100, which
    reads back (as a decimal, divided by 100) to the same float."""
    weight = Decimal(repr(fraction)).scaleb(2).normalize()
    return f"%{format(weight, 'f')}%"


def _feedback(feedback: str) -> str:
    """``#feedback``, or "" when there is none."""
    return "#" + _text(feedback) if feedback else ""


def _write_body(body: Body) -> str:
    """What goes inside the answer block of ``body``, one answer a line."""
    return ("#" if isinstance(body, Numerical) else "") + "\n" + _write_answers(body)


def _write_answers(body: Body) -> str:
    """The answer lines of ``body``."""
    match body:
        case SingleChoice(options=options):
            return _write_single(options)
        case MultipleChoice(options=options, scoring=scoring):
            if scoring == "all_or_nothing":
                options = additive_weights(options)
            return "".join(f"\t~{_weighted(o)}{_feedback(o.feedback)}\n" for o in options)
        case TrueFalse(answer=answer, feedback_true=if_true, feedback_false=if_false):
            right, wrong = (if_true, if_false) if answer else (if_false, if_true)
            bits = "TRUE" if answer else "FALSE"
            if wrong or right:
                bits += "#" + _text(wrong) if wrong else "#"
            if right:
                bits += "#" + _text(right)
            return f"\t{bits}\n"
        case FillBlank(answers=accepted):
            return "".join(
                f"\t={_percent(a.fraction)}{_text(a.text)}{_feedback(a.feedback)}\n"
                for a in accepted
            )
        case Numerical(answers=numbers):
            return "".join(
                f"\t={_percent(n.fraction)}{_decimal(n.value)}:{_decimal(n.tolerance)}"
                f"{_feedback(n.feedback)}\n"
                for n in numbers
            )
        case Matching(pairs=pairs, distractors=distractors):
            lines = [f"\t={_text(p.prompt)} -> {_escape_text(p.answer)}\n" for p in pairs]
            lines += [f"\t= -> {_escape_text(d)}\n" for d in distractors]
            return "".join(lines)


def _weighted(option: Option) -> str:
    """An option's text after ``~``, with its weight unless it is worth nothing."""
    if option.fraction == 0 and not option.text.startswith("%"):
        return _text(option.text)
    return _percent(option.fraction) + _text(option.text)


def _write_single(options: Sequence[Option]) -> str:
    """Single-choice lines: ``=`` for full credit, ``~`` with weights otherwise. If every
    option is worth full credit, the first is written ``~%100%`` so that a ``~`` tells
    the reader this is a choice and not a short answer."""
    marks = ["=" if o.fraction == 1 else "~" for o in options]
    if "~" not in marks and marks:
        marks[0] = "~"
    lines = []
    for mark, option in zip(marks, options, strict=True):
        text = _text(option.text) if mark == "=" else _weighted(option)
        if mark == "~" and option.fraction == 1:
            text = _percent(1.0) + _text(option.text)
        lines.append(f"\t{mark}{text}{_feedback(option.feedback)}\n")
    return "".join(lines)
