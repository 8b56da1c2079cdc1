"""The item-bank table: one row per item, shared by the Excel and CSV formats.

This module owns the rule that turns a header row and data rows into items, and items
back into rows, so the spreadsheet and the CSV file read and write the same template.
Reading the cells out of a file (and its encoding or workbook structure) is left to
``excel`` and ``csv_table``.

Columns (Chinese header, English alias): 题型 kind, 题干 stem, 选项A … 选项Z
option_a … option_z, 答案 answer, 解析 explanation, 难度 difficulty, 知识点 topic and the
optional 分值 points, 标签 tags, 互斥组 enemy_group, 编号 key, 状态 status. 题型, 题干
and 答案 are required. Matching items put one ``prompt=answer`` pair in each option
column; an option cell without ``=`` is a distractor.

A choice item's answer cell is its letters (``ABD``: all or nothing for multiple
choice), or, for partial credit, each option's credit: ``A:50%,B:50%,C:-100%``
(multiple choice with partial scoring; a single choice with a part-credit option).

An accepted answer of a 填空题 or 数值题 may carry its credit the same way:
``新疆|Xinjiang:50%``, ``8848.86±1|8800±50:50%``.

A row cannot carry: option feedback, fixed options, the feedback of accepted answers,
case-sensitive blanks, true/false feedback, IRT parameters, and
option ids (options are lettered by column). An item with both a difficulty band and a
facility keeps the band. ``itembank.exporting`` reports each loss at export.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time
from typing import TypeAlias, TypeVar

from msgspec import Struct

from itembank.formats import ParsedItem
from itembank.model import (
    AcceptedText,
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
    option_id,
)
from itembank.problems import Location, Problem, syntax

Cell: TypeAlias = object
Row: TypeAlias = Sequence[Cell]
_T = TypeVar("_T")

#: How far down a sheet the header row may be (title rows above it are common).
HEADER_SEARCH_ROWS = 10

FIELDS: tuple[str, ...] = (
    "kind",
    "stem",
    "answer",
    "explanation",
    "difficulty",
    "topic",
    "points",
    "tags",
    "enemy_group",
    "key",
    "status",
)
REQUIRED: tuple[str, ...] = ("kind", "stem", "answer")

#: The header written on export, and the first name in each alias list.
HEADER_ZH: dict[str, str] = {
    "kind": "题型",
    "stem": "题干",
    "answer": "答案",
    "explanation": "解析",
    "difficulty": "难度",
    "topic": "知识点",
    "points": "分值",
    "tags": "标签",
    "enemy_group": "互斥组",
    "key": "编号",
    "status": "状态",
}

_ALIASES: dict[str, tuple[str, ...]] = {
    "kind": ("题型", "题目类型", "试题类型", "类型", "kind", "type", "question_type"),
    "stem": ("题干", "题目", "题目内容", "试题内容", "stem", "question"),
    "answer": ("答案", "正确答案", "参考答案", "answer", "correct_answer"),
    "explanation": ("解析", "答案解析", "试题解析", "explanation"),
    "difficulty": ("难度", "难易程度", "难度系数", "difficulty"),
    "topic": ("知识点", "topic"),
    "points": ("分值", "分数", "points", "score"),
    "tags": ("标签", "tags"),
    "enemy_group": ("互斥组", "enemy_group"),
    "key": ("编号", "试题编号", "key", "id"),
    "status": ("状态", "status"),
}

KIND_ZH: dict[ItemKind, str] = {
    ItemKind.SINGLE: "单选题",
    ItemKind.MULTIPLE: "多选题",
    ItemKind.TRUE_FALSE: "判断题",
    ItemKind.FILL_BLANK: "填空题",
    ItemKind.NUMERICAL: "数值题",
    ItemKind.MATCHING: "匹配题",
}

_KIND_ALIASES: dict[ItemKind, tuple[str, ...]] = {
    ItemKind.SINGLE: ("单选题", "单选", "单项选择题", "单项选择", "single", "single_choice"),
    ItemKind.MULTIPLE: (
        "多选题",
        "多选",
        "多项选择题",
        "多项选择",
        "不定项选择题",
        "multiple",
        "multiple_choice",
    ),
    ItemKind.TRUE_FALSE: ("判断题", "判断", "true_false", "truefalse", "tf"),
    ItemKind.FILL_BLANK: ("填空题", "填空", "fill_blank", "blank", "short_answer"),
    ItemKind.NUMERICAL: ("数值题", "数值", "numerical", "numeric", "number"),
    ItemKind.MATCHING: ("匹配题", "匹配", "连线题", "连线", "matching"),
}

_TRUE = frozenset({"对", "正确", "√", "✓", "✔", "t", "true", "是", "y", "yes", "1"})
_FALSE = frozenset({"错", "错误", "×", "✗", "✘", "x", "f", "false", "否", "n", "no", "0"})

_BANDS: dict[str, int] = {
    "易": 1,
    "容易": 1,
    "简单": 1,
    "easy": 1,
    "较易": 2,
    "中": 3,
    "中等": 3,
    "一般": 3,
    "medium": 3,
    "较难": 4,
    "难": 5,
    "困难": 5,
    "hard": 5,
}
BAND_ZH: dict[int, str] = {1: "易", 2: "较易", 3: "中等", 4: "较难", 5: "难"}

_STATUSES: dict[str, Status] = {
    "draft": Status.DRAFT,
    "草稿": Status.DRAFT,
    "active": Status.ACTIVE,
    "启用": Status.ACTIVE,
    "正常": Status.ACTIVE,
    "有效": Status.ACTIVE,
    "retired": Status.RETIRED,
    "停用": Status.RETIRED,
    "作废": Status.RETIRED,
    "退役": Status.RETIRED,
}
STATUS_ZH: dict[Status, str] = {
    Status.DRAFT: "草稿",
    Status.ACTIVE: "启用",
    Status.RETIRED: "停用",
}

_LIST_SPLIT = re.compile(r"[|｜;；]")
_TAG_SPLIT = re.compile(r"[,，、;；|｜]")
_LETTER_SEPARATORS = re.compile(r"[\s,，、;；/|]+")
_OPTION_HEADER = re.compile(r"^(?:选项|option_?)?([a-z])$")
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?"
_WEIGHT = re.compile(r"([A-Za-z])\s*[:=]\s*([+-]?\d+(?:\.\d+)?)\s*%")
_CREDIT = re.compile(r"(.*?)\s*[:：]\s*([+-]?\d+(?:\.\d+)?)\s*[%％]")
_NUMERIC_ANSWER = re.compile(rf"^({_NUMBER})\s*(?:(?:±|\+-|\+/-)\s*({_NUMBER}))?$")


def _fold(text: str) -> str:
    """The form in which header names and enumerated cell values are compared."""
    folded = unicodedata.normalize("NFKC", text).strip().casefold()
    return re.sub(r"[\s\-/]+", "_", folded)


def _lookup(aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {_fold(alias): name for name, names in aliases.items() for alias in names}


_HEADER_LOOKUP = _lookup(_ALIASES)
_KIND_LOOKUP: dict[str, ItemKind] = {
    _fold(alias): kind for kind, names in _KIND_ALIASES.items() for alias in names
}


def column_letter(index: int) -> str:
    """The spreadsheet letter of the 0-based column ``index`` (A, B, … Z, AA …)."""
    return option_id(index)


def cell_text(value: Cell) -> str:
    """A cell as the text an author typed: whole numbers without ``.0``, empty for None."""
    match value:
        case None:
            return ""
        case str():
            return value.strip()
        case bool():
            return "true" if value else "false"
        case float() if value.is_integer():
            return str(int(value))
        case datetime() | date() | time():
            return value.isoformat()
        case _:
            return str(value).strip()


class Columns(Struct, frozen=True, kw_only=True):
    """Where each field is in a sheet: 0-based column indexes, options by letter."""

    line: int
    fields: dict[str, int]
    names: dict[str, str]
    options: tuple[tuple[str, int], ...]


class _CellError(Exception):
    """A cell that cannot be read; caught in this module and turned into a Problem."""

    def __init__(self, message: str, message_zh: str) -> None:
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh


# --------------------------------------------------------------------------- reading


def parse_rows(
    rows: Iterable[tuple[int, Row]], *, sheet: str = "", require_header: bool = True
) -> tuple[list[ParsedItem], list[Problem], bool, int]:
    """Items from ``(line, cells)`` rows: the header row first, then one item per row.

    Returns the items, the problems, whether a header row was found and how many
    non-blank rows could not be read as items (each has its problem). With
    ``require_header`` false a sheet without a recognisable header gives no problem (a
    workbook's instructions sheet).
    """
    iterator = iter(rows)
    columns, problems = _find_header(iterator, sheet=sheet, required=require_header)
    if columns is None:
        # a header row missing a required column was still found (and reported)
        return [], problems, bool(problems), 0
    items: list[ParsedItem] = []
    unread = 0
    for line, cells in iterator:
        if not any(cell_text(c) for c in cells):
            continue
        item, row_problems = _row_item(cells, line=line, columns=columns, sheet=sheet)
        problems.extend(row_problems)
        if item is not None:
            items.append(ParsedItem(item=item, location=Location(line=line, sheet=sheet)))
        else:
            unread += 1
    return items, problems, True, unread


def _find_header(
    rows: Iterable[tuple[int, Row]], *, sheet: str, required: bool
) -> tuple[Columns | None, list[Problem]]:
    """The header row: the first of the top rows naming two or more known columns (option
    columns do not count: a row of single letters is not a header)."""
    first: tuple[int, Row] | None = None
    for count, (line, cells) in enumerate(rows):
        texts = [_fold(cell_text(c)) for c in cells]
        if first is None and any(texts):
            first = (line, cells)
        known = sum(1 for t in texts if t in _HEADER_LOOKUP)
        if known >= 2:
            return _read_header(cells, line=line, sheet=sheet)
        if count + 1 >= HEADER_SEARCH_ROWS:
            break
    if not required:
        return None, []
    line = first[0] if first else 1
    return None, [
        syntax(
            f"no header row naming the columns 题型 (kind), 题干 (stem) and 答案 (answer) "
            f"in the first {HEADER_SEARCH_ROWS} rows",
            f"前 {HEADER_SEARCH_ROWS} 行中没有包含“题型”“题干”“答案”等列名的表头行",
            line=line,
            sheet=sheet,
        )
    ]


def _read_header(cells: Row, *, line: int, sheet: str) -> tuple[Columns | None, list[Problem]]:
    fields: dict[str, int] = {}
    names: dict[str, str] = {}
    options: dict[str, int] = {}
    problems: list[Problem] = []
    for index, value in enumerate(cells):
        name = cell_text(value)
        folded = _fold(name)
        if not folded:
            continue
        option = _OPTION_HEADER.match(folded)
        field = _HEADER_LOOKUP.get(folded)
        target, slot = (options, option.group(1).upper()) if option else (fields, field)
        if slot is None:
            problems.append(_ignored_column(name, index, line=line, sheet=sheet, why="unknown"))
        elif slot in target:
            problems.append(_ignored_column(name, index, line=line, sheet=sheet, why="duplicate"))
        else:
            target[slot] = index
            names[slot] = name
    missing = [f for f in REQUIRED if f not in fields]
    if missing:
        problems.append(_missing_columns(missing, line=line, sheet=sheet))
        return None, problems
    ordered = tuple(sorted(options.items()))
    return Columns(line=line, fields=fields, names=names, options=ordered), problems


def _ignored_column(name: str, index: int, *, line: int, sheet: str, why: str) -> Problem:
    letter = column_letter(index)
    if why == "unknown":
        en, zh = (
            f'unknown column "{name}" ({letter}) was ignored',
            f"未知列“{name}”（{letter} 列）已忽略",
        )
    else:
        en, zh = (
            f'column "{name}" ({letter}) repeats an earlier column and was ignored',
            (f"列“{name}”（{letter} 列）与前面的列重复，已忽略"),
        )
    return Problem(
        code="unsupported-part",
        message=en,
        message_zh=zh,
        line=line,
        col=index + 1,
        sheet=sheet,
        severity="warning",
    )


def _missing_columns(missing: list[str], *, line: int, sheet: str) -> Problem:
    en = ", ".join(f"{HEADER_ZH[f]} ({f})" for f in missing)
    zh = "、".join(f"“{HEADER_ZH[f]}”" for f in missing)
    return syntax(
        f"the header row has no column {en}; no rows were read",
        f"表头缺少必需的列 {zh}，未读取任何行",
        line=line,
        sheet=sheet,
    )


def _row_item(
    cells: Row, *, line: int, columns: Columns, sheet: str
) -> tuple[Item | None, list[Problem]]:
    """One row as an item, or the problems that stop it being one."""
    problems: list[Problem] = []

    def text(field: str) -> str:
        index = columns.fields.get(field)
        return cell_text(cells[index]) if index is not None and index < len(cells) else ""

    def read(field: str, reader: Callable[[str], _T], default: _T) -> _T:
        try:
            return reader(text(field))
        except _CellError as error:
            problems.append(_cell_problem(error, field, columns=columns, line=line, sheet=sheet))
            return default

    kind = _KIND_LOOKUP.get(_fold(text("kind")))
    if kind is None:
        return None, [_unknown_kind(text("kind"), columns=columns, line=line, sheet=sheet)]
    options = [(letter, cell_text(cells[i])) for letter, i in columns.options if i < len(cells)]
    filled = [(letter, value) for letter, value in options if value]
    body = read("answer", lambda answer: _body(kind, answer, filled), None)
    difficulty = read("difficulty", _difficulty, Difficulty())
    points = read("points", _points, 1.0)
    status = read("status", _status, Status.ACTIVE)
    if body is None or problems:
        return None, problems
    stem = text("stem")
    item = Item(
        key=text("key") or derive_key(stem),
        stem=stem,
        body=body,
        explanation=text("explanation"),
        topic=text("topic"),
        difficulty=difficulty,
        tags=_tags(text("tags")),
        enemy_group=text("enemy_group") or None,
        points=points,
        status=status,
    )
    return item, problems


def _cell_problem(
    error: _CellError, field: str, *, columns: Columns, line: int, sheet: str
) -> Problem:
    index = columns.fields[field]
    letter, name = column_letter(index), columns.names[field]
    return syntax(
        f"column {letter} ({name}): {error.message}",
        f"{letter} 列（{name}）：{error.message_zh}",
        line=line,
        col=index + 1,
        sheet=sheet,
    )


def _unknown_kind(name: str, *, columns: Columns, line: int, sheet: str) -> Problem:
    index = columns.fields["kind"]
    letter = column_letter(index)
    if not name:
        return syntax(
            f"column {letter} (题型): the kind is empty; the row was not imported",
            f"{letter} 列（题型）：题型为空，该行未导入",
            line=line,
            col=index + 1,
            sheet=sheet,
        )
    return Problem(
        code="unsupported",
        message=f'column {letter} (题型): item kind "{name}" is not supported; '
        "the row was not imported",
        message_zh=f"{letter} 列（题型）：不支持题型“{name}”，该行未导入",
        line=line,
        col=index + 1,
        sheet=sheet,
    )


def _difficulty(text: str) -> Difficulty:
    """A 1–5 band, a 0–1 facility, or a word (易 … 难) for a band."""
    if not text:
        return Difficulty()
    band = _BANDS.get(_fold(text))
    if band is not None:
        return Difficulty(band=band)
    value = _float_or_none(text)
    if value is not None and value.is_integer() and 1 <= value <= 5:
        return Difficulty(band=int(value))
    if value is not None and 0 <= value <= 1:
        return Difficulty(facility=value)
    raise _CellError(
        f'difficulty "{text}" is not a band 1–5, a facility 0–1 or one of 易/较易/中等/较难/难',
        f"难度“{text}”无效：应为 1–5 的等级、0–1 的通过率或 易/较易/中等/较难/难 之一",
    )


def _points(text: str) -> float:
    if not text:
        return 1.0
    value = _float_or_none(text)
    if value is None:
        raise _CellError(f'points "{text}" is not a number', f"分值“{text}”不是数字")
    return value


def _tags(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in _TAG_SPLIT.split(text) if t.strip())


def _status(text: str) -> Status:
    if not text:
        return Status.ACTIVE
    status = _STATUSES.get(_fold(text))
    if status is None:
        raise _CellError(
            f'status "{text}" is not one of draft/active/retired (草稿/启用/停用)',
            f"状态“{text}”无效：应为 草稿/启用/停用（draft/active/retired）之一",
        )
    return status


def _float_or_none(text: str) -> float | None:
    try:
        return float(unicodedata.normalize("NFKC", text))
    except ValueError:
        return None


def _body(kind: ItemKind, answer: str, options: list[tuple[str, str]]) -> Body:
    """The kind-specific part of an item from its answer cell and filled option cells."""
    match kind:
        case ItemKind.SINGLE:
            weights = _weights(answer, options)
            if weights is not None:
                return SingleChoice(options=_weighted_options(options, weights))
            return SingleChoice(options=choice_options(options, _letters(answer, options)))
        case ItemKind.MULTIPLE:
            weights = _weights(answer, options)
            if weights is not None:
                weighted = _weighted_options(options, weights)
                return MultipleChoice(options=weighted, scoring="partial")
            chosen = _letters(answer, options)
            return MultipleChoice(options=choice_options(options, chosen, multiple=True))
        case ItemKind.TRUE_FALSE:
            return TrueFalse(answer=_true_false(answer))
        case ItemKind.FILL_BLANK:
            texts = [_credit(t) for t in _LIST_SPLIT.split(answer) if t.strip()]
            return FillBlank(answers=tuple(AcceptedText(text=t, fraction=f) for t, f in texts))
        case ItemKind.NUMERICAL:
            return Numerical(answers=_numeric_answers(answer))
        case ItemKind.MATCHING:
            return _matching(options)


def choice_options(
    options: Sequence[tuple[str, str]], correct: Iterable[str], *, multiple: bool = False
) -> tuple[Option, ...]:
    """Options from ``(id, text)`` pairs: a correct option is worth 1.0 in single choice
    and 1/n of the n correct options in multiple choice (so partial scoring sums to 1)."""
    chosen = set(correct)
    share = correct_share(len(chosen), multiple=multiple)
    return tuple(
        Option(id=oid, text=text, fraction=share if oid in chosen else 0.0) for oid, text in options
    )


def correct_share(correct: int, *, multiple: bool) -> float:
    """The fraction of each of ``correct`` correct options: 1.0, or 1/n for multiple."""
    return 1.0 / correct if multiple and correct else 1.0


def _letters(answer: str, options: list[tuple[str, str]]) -> list[str]:
    """The option letters of an answer cell: "ABD", "A,B,D", "A、B、D"."""
    folded = _LETTER_SEPARATORS.sub("", unicodedata.normalize("NFKC", answer)).upper()
    present = [oid for oid, _ in options]
    letters: list[str] = []
    for letter in folded:
        if letter not in present:
            names = "".join(present) or "none"
            raise _CellError(
                f'answer "{answer}" names option {letter}, which is empty or missing '
                f"(filled options: {names})",
                f"答案“{answer}”中的选项 {letter} 为空或不存在（已填写的选项：{names}）",
            )
        if letter not in letters:
            letters.append(letter)
    return letters


def _weights(answer: str, options: list[tuple[str, str]]) -> dict[str, float] | None:
    """The per-option credit of a weighted answer cell, ``A:50%,B:50%,C:-100%`` (partial
    credit; unlisted options are worth 0), or None when the cell is plain letters."""
    folded = unicodedata.normalize("NFKC", answer).replace("−", "-").strip()
    if "%" not in folded:
        return None
    weights: dict[str, float] = {}

    def take(match: re.Match[str]) -> str:
        weights[match.group(1).upper()] = float(match.group(2)) / 100
        return ""

    rest = _WEIGHT.sub(take, folded)
    if _LETTER_SEPARATORS.sub("", rest) or not weights:
        raise _CellError(
            f'answer "{answer}" is not a weighted answer such as A:50%,B:50%,C:-100%',
            f"答案“{answer}”不是有效的分值答案（例如 A:50%,B:50%,C:-100%）",
        )
    _letters("".join(weights), options)  # every letter names a filled option
    return weights


def _weighted_options(
    options: Sequence[tuple[str, str]], weights: dict[str, float]
) -> tuple[Option, ...]:
    return tuple(Option(id=oid, text=text, fraction=weights.get(oid, 0.0)) for oid, text in options)


def _true_false(answer: str) -> bool | None:
    if not answer:
        return None
    folded = _fold(answer)
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise _CellError(
        f'true/false answer "{answer}" is not one of 对/错, 正确/错误, √/×, T/F, true/false',
        f"判断题答案“{answer}”无效：应为 对/错、正确/错误、√/×、T/F、true/false 之一",
    )


def _numeric_answers(answer: str) -> tuple[NumericAnswer, ...]:
    answers: list[NumericAnswer] = []
    for part in _LIST_SPLIT.split(answer):
        folded, fraction = _credit(unicodedata.normalize("NFKC", part).casefold())
        if not folded:
            continue
        match = _NUMERIC_ANSWER.match(folded)
        if match is None:
            raise _CellError(
                f'numerical answer "{part.strip()}" is not a number with an optional '
                "±tolerance (e.g. 9.8±0.1)",
                f"数值题答案“{part.strip()}”无效：应为数字，可带 ±误差（如 9.8±0.1）",
            )
        tolerance = abs(float(match.group(2))) if match.group(2) else 0.0
        answers.append(
            NumericAnswer(value=float(match.group(1)), tolerance=tolerance, fraction=fraction)
        )
    return tuple(answers)


def _credit(text: str) -> tuple[str, float]:
    """An accepted answer and its credit: ``Xinjiang:50%`` is worth half, a plain answer
    full marks."""
    match = _CREDIT.fullmatch(text.strip())
    if match is None:
        return text.strip(), 1.0
    return match.group(1).strip(), float(match.group(2)) / 100


def _matching(options: list[tuple[str, str]]) -> Matching:
    pairs: list[Pair] = []
    distractors: list[str] = []
    for _, text in options:
        prompt, sep, answer = text.replace("＝", "=").partition("=")
        if sep:
            pairs.append(Pair(prompt=prompt.strip(), answer=answer.strip()))
        else:
            distractors.append(text)
    return Matching(pairs=tuple(pairs), distractors=tuple(distractors))


# --------------------------------------------------------------------------- writing


def header(items: Sequence[Item]) -> list[str]:
    """The export header: the fixed columns around as many option columns as needed."""
    width = max([6, *(_option_count(item) for item in items)])
    head = [HEADER_ZH[f] for f in ("kind", "stem")]
    head += [f"选项{option_id(i)}" for i in range(width)]
    head += [HEADER_ZH[f] for f in FIELDS[2:]]
    return head


def item_row(item: Item, *, option_columns: int) -> list[str | float]:
    """One item as the cells of ``header``'s columns (numbers stay numbers)."""
    options, answer = _options_and_answer(item.body)
    options += [""] * (option_columns - len(options))
    return [
        KIND_ZH[item.kind],
        item.stem,
        *options,
        answer,
        item.explanation,
        _difficulty_cell(item.difficulty),
        item.topic,
        _number(item.points),
        ",".join(item.tags),
        item.enemy_group or "",
        item.key,
        STATUS_ZH[item.status],
    ]


def _option_count(item: Item) -> int:
    return len(_options_and_answer(item.body)[0])


def _options_and_answer(body: Body) -> tuple[list[str], str]:
    match body:
        case SingleChoice(options=options) | MultipleChoice(options=options):
            texts = [o.text for o in options]
            if _is_weighted(body):
                weights = ",".join(
                    f"{option_id(i)}:{_percent(o.fraction)}%"
                    for i, o in enumerate(options)
                    if o.fraction
                )
                return texts, weights
            return texts, "".join(option_id(i) for i, o in enumerate(options) if o.correct)
        case TrueFalse(answer=answer):
            return [], "" if answer is None else ("正确" if answer else "错误")
        case FillBlank(answers=answers):
            return [], "|".join(a.text + _credit_suffix(a.fraction) for a in answers)
        case Numerical(answers=answers):
            return [], "|".join(_numeric_text(a) + _credit_suffix(a.fraction) for a in answers)
        case Matching(pairs=pairs, distractors=distractors):
            return [f"{p.prompt}={p.answer}" for p in pairs] + list(distractors), ""


def _is_weighted(body: SingleChoice | MultipleChoice) -> bool:
    """Whether the answer cell must spell out each option's credit: partial multiple
    choice, or a single choice with an option worth other than all or nothing."""
    if isinstance(body, MultipleChoice):
        return body.scoring == "partial"
    return any(o.fraction not in (0.0, 1.0) for o in body.options)


def _credit_suffix(fraction: float) -> str:
    return "" if fraction == 1.0 else f":{_percent(fraction)}%"


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.6f}".rstrip("0").rstrip(".")


def _numeric_text(answer: NumericAnswer) -> str:
    value = _number(answer.value)
    return f"{value}±{_number(answer.tolerance)}" if answer.tolerance else str(value)


def _difficulty_cell(difficulty: Difficulty) -> str | float:
    if difficulty.band is not None:
        return difficulty.band
    if difficulty.facility is not None:
        return difficulty.facility
    return ""


def _number(value: float) -> float:
    """Whole numbers as ints, so a cell shows 2 rather than 2.0."""
    return int(value) if float(value).is_integer() else value
