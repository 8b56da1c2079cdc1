"""The native item-bank file: YAML or JSON, shaped for writing by hand.

A bank file is ``{format: examengine-bank, version: 1, bank: <name>, items: [...]}``.
Each item names its ``kind`` (single, multiple, true_false, fill_blank, numerical,
matching) and carries that kind's fields flat beside the common ones; options say
``correct: true`` instead of a fraction. The file-facing Structs below are the
documented shape (docs/formats.md) and the source of the JSON Schema editors use
(itembank/schema/item-bank.schema.json, see ``json_schema``); ``to_item`` and
``from_item`` are the one place where they meet ``itembank.model``.

Items are decoded one at a time, so a wrongly typed field costs only its item: the
problem names the field's path (``items[3].options[0].text``) and its line (for YAML
the field's own line, for JSON the line where the item starts). JSON is recognised by a
leading ``{`` and read with msgspec; anything else is YAML (PyYAML, libyaml when
available).

Carries everything an Item holds. ``dump`` writes YAML; ``dump_json`` writes JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeAlias

import msgspec
import yaml
from msgspec import Struct

from itembank.formats import ParsedItem, ParseResult
from itembank.formats._table import correct_share
from itembank.model import (
    AcceptedText,
    Body,
    Difficulty,
    FillBlank,
    Item,
    ItemKind,
    Matching,
    MultipleChoice,
    MultipleScoring,
    Numerical,
    NumericAnswer,
    Option,
    Pair,
    SingleChoice,
    Status,
    TrueFalse,
    option_id,
)
from itembank.problems import Location, Problem, at, syntax

FORMAT = "examengine-bank"
VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "item-bank.schema.json"

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# --------------------------------------------------------------------------- the file


class OptionEntry(Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """An option of a choice item. ``correct: true`` makes it worth full marks (single
    choice) or an equal share of them (multiple choice); ``fraction`` overrides that."""

    text: str
    correct: bool = False
    fraction: float | None = None
    feedback: str = ""
    fixed: bool = False
    id: str = ""


class AnswerText(Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """An accepted answer of a fill-in-the-blank item (a plain string means full marks)."""

    text: str
    fraction: float = 1.0
    feedback: str = ""


class AnswerNumber(Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """An accepted answer of a numerical item (a plain number means exact, full marks)."""

    value: float
    tolerance: float = 0.0
    fraction: float = 1.0
    feedback: str = ""


class PairEntry(Struct, kw_only=True, forbid_unknown_fields=True):
    prompt: str
    answer: str


class DifficultyEntry(Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """``band`` 1–5 (1 easiest), ``facility`` 0–1 (share answering correctly), IRT a/b."""

    band: int | None = None
    facility: float | None = None
    irt_a: float | None = None
    irt_b: float | None = None


class EntryBase(
    Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True, tag_field="kind"
):
    """The fields every item has; ``stem`` and ``explanation`` are Markdown."""

    key: str = ""
    stem: str = ""
    explanation: str = ""
    topic: str = ""
    difficulty: DifficultyEntry | None = None
    tags: list[str] = []
    enemy_group: str | None = None
    points: float = 1.0
    status: Status = Status.ACTIVE


class SingleEntry(EntryBase, tag="single"):
    """Single choice: exactly one option is marked ``correct``."""

    options: list[OptionEntry] = []


class MultipleEntry(EntryBase, tag="multiple"):
    """Multiple choice: every correct option must be chosen (``all_or_nothing``), or
    the chosen options' fractions add up (``partial``)."""

    options: list[OptionEntry] = []
    scoring: MultipleScoring = "all_or_nothing"


class TrueFalseEntry(EntryBase, tag="true_false"):
    answer: bool | None = None
    feedback_true: str = ""
    feedback_false: str = ""


class FillBlankEntry(EntryBase, tag="fill_blank"):
    answers: list[str | AnswerText] = []
    case_sensitive: bool = False


class NumericalEntry(EntryBase, tag="numerical"):
    answers: list[float | AnswerNumber] = []


class MatchingEntry(EntryBase, tag="matching"):
    pairs: list[PairEntry] = []
    distractors: list[str] = []


Entry: TypeAlias = (
    SingleEntry | MultipleEntry | TrueFalseEntry | FillBlankEntry | NumericalEntry | MatchingEntry
)
_KINDS = frozenset(kind.value for kind in ItemKind)
_ENTRY_JSON: msgspec.json.Decoder[Entry] = msgspec.json.Decoder(Entry)


class BankFile(Struct, kw_only=True, forbid_unknown_fields=True):
    """An examengine item-bank file."""

    format: Literal["examengine-bank"]
    version: Literal[1] = 1
    bank: str = ""
    items: list[Entry] = []


class _Head(Struct, kw_only=True, forbid_unknown_fields=True):
    """``BankFile`` without its items, which are decoded one at a time."""

    format: Literal["examengine-bank"]
    version: Literal[1] = 1
    bank: str = ""
    items: Any = None


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a bank file, as committed at ``SCHEMA_PATH``."""
    schema = msgspec.json.schema(BankFile)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://examengine.invalid/schema/item-bank.schema.json",
        "title": "examengine item bank",
        **schema,
    }


def write_json_schema(path: Path = SCHEMA_PATH) -> None:
    """Regenerate the committed schema (run after changing the Structs above)."""
    text = json.dumps(json_schema(), indent=2, ensure_ascii=False, sort_keys=True)
    path.write_text(text + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- the model


def to_item(entry: Entry) -> Item:
    """The model item an entry describes, as written (no judging)."""
    difficulty = entry.difficulty or DifficultyEntry()
    return Item(
        key=entry.key,
        stem=entry.stem,
        body=_body(entry),
        explanation=entry.explanation,
        topic=entry.topic,
        difficulty=Difficulty(
            facility=difficulty.facility,
            band=difficulty.band,
            irt_a=difficulty.irt_a,
            irt_b=difficulty.irt_b,
        ),
        tags=tuple(entry.tags),
        enemy_group=entry.enemy_group,
        points=entry.points,
        status=entry.status,
    )


def _body(entry: Entry) -> Body:
    match entry:
        case SingleEntry(options=options):
            return SingleChoice(options=_options(options, multiple=False))
        case MultipleEntry(options=options, scoring=scoring):
            return MultipleChoice(options=_options(options, multiple=True), scoring=scoring)
        case TrueFalseEntry():
            return TrueFalse(
                answer=entry.answer,
                feedback_true=entry.feedback_true,
                feedback_false=entry.feedback_false,
            )
        case FillBlankEntry(answers=answers, case_sensitive=case_sensitive):
            texts = tuple(_accepted(a) for a in answers)
            return FillBlank(answers=texts, case_sensitive=case_sensitive)
        case NumericalEntry(answers=answers):
            return Numerical(answers=tuple(_numeric(a) for a in answers))
        case MatchingEntry(pairs=pairs, distractors=distractors):
            matched = tuple(Pair(prompt=p.prompt, answer=p.answer) for p in pairs)
            return Matching(pairs=matched, distractors=tuple(distractors))


def _options(entries: list[OptionEntry], *, multiple: bool) -> tuple[Option, ...]:
    """Options with fractions: explicit ones as written, the rest from ``correct``."""
    share = correct_share(sum(1 for e in entries if e.correct), multiple=multiple)
    return tuple(
        Option(
            id=entry.id or option_id(index),
            text=entry.text,
            fraction=(share if entry.correct else 0.0)
            if entry.fraction is None
            else entry.fraction,
            feedback=entry.feedback,
            fixed=entry.fixed,
        )
        for index, entry in enumerate(entries)
    )


def _accepted(answer: str | AnswerText) -> AcceptedText:
    if isinstance(answer, str):
        return AcceptedText(text=answer)
    return AcceptedText(text=answer.text, fraction=answer.fraction, feedback=answer.feedback)


def _numeric(answer: float | AnswerNumber) -> NumericAnswer:
    if isinstance(answer, AnswerNumber):
        return NumericAnswer(
            value=answer.value,
            tolerance=answer.tolerance,
            fraction=answer.fraction,
            feedback=answer.feedback,
        )
    return NumericAnswer(value=answer)


def from_item(item: Item) -> Entry:
    """The entry that ``to_item`` turns back into ``item``, in its shortest form."""
    difficulty = msgspec.structs.asdict(item.difficulty)
    common: dict[str, Any] = {
        "key": item.key,
        "stem": item.stem,
        "explanation": item.explanation,
        "topic": item.topic,
        "difficulty": DifficultyEntry(**difficulty) if item.difficulty != Difficulty() else None,
        "tags": list(item.tags),
        "enemy_group": item.enemy_group,
        "points": item.points,
        "status": item.status,
    }
    match item.body:
        case SingleChoice(options=options):
            return SingleEntry(options=_option_entries(options, multiple=False), **common)
        case MultipleChoice(options=options, scoring=scoring):
            entries = _option_entries(options, multiple=True)
            return MultipleEntry(options=entries, scoring=scoring, **common)
        case TrueFalse(answer=answer, feedback_true=yes, feedback_false=no):
            return TrueFalseEntry(answer=answer, feedback_true=yes, feedback_false=no, **common)
        case FillBlank(answers=answers, case_sensitive=case_sensitive):
            texts = [_answer_text(a) for a in answers]
            return FillBlankEntry(answers=texts, case_sensitive=case_sensitive, **common)
        case Numerical(answers=answers):
            return NumericalEntry(answers=[_answer_number(a) for a in answers], **common)
        case Matching(pairs=pairs, distractors=distractors):
            entries_ = [PairEntry(prompt=p.prompt, answer=p.answer) for p in pairs]
            return MatchingEntry(pairs=entries_, distractors=list(distractors), **common)


def _option_entries(options: Sequence[Option], *, multiple: bool) -> list[OptionEntry]:
    """Option entries that say ``correct`` and give a fraction only where the rule of
    ``_options`` would not derive it, and an id only where it is not the letter."""
    share = correct_share(sum(1 for o in options if o.correct), multiple=multiple)
    return [
        OptionEntry(
            text=option.text,
            correct=option.correct,
            fraction=None
            if option.fraction == (share if option.correct else 0.0)
            else option.fraction,
            feedback=option.feedback,
            fixed=option.fixed,
            id="" if option.id == option_id(index) else option.id,
        )
        for index, option in enumerate(options)
    ]


def _answer_text(answer: AcceptedText) -> str | AnswerText:
    if answer.fraction == 1.0 and not answer.feedback:
        return answer.text
    return AnswerText(text=answer.text, fraction=answer.fraction, feedback=answer.feedback)


def _answer_number(answer: NumericAnswer) -> float | AnswerNumber:
    if answer.tolerance == 0.0 and answer.fraction == 1.0 and not answer.feedback:
        return answer.value
    return AnswerNumber(
        value=answer.value,
        tolerance=answer.tolerance,
        fraction=answer.fraction,
        feedback=answer.feedback,
    )


# --------------------------------------------------------------------------- reading


def parse(data: bytes, *, source: str = "") -> ParseResult:
    """The items of a YAML or JSON bank file; never raises."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    if _is_json(data, source):
        items, problems, seen = _parse_json(data)
    else:
        items, problems, seen = _parse_yaml(data)
    return ParseResult(
        items=tuple(items),
        problems=tuple(at(p, file=source) for p in problems),
        unread=seen - len(items),
    )


def _is_json(data: bytes, source: str) -> bool:
    suffix = source.rsplit(".", 1)[-1].lower() if "." in source else ""
    if suffix in ("yaml", "yml", "json"):
        return suffix == "json"
    return data.lstrip().startswith(b"{")


#: The (line, column) of a ``$.a[0].b`` path in what is being read, if the format knows.
_Locate: TypeAlias = Callable[[str], tuple[int, int] | None] | None


class _Items:
    """Decoded items and problems, filled in as a file's items are read one by one."""

    def __init__(self) -> None:
        self.items: list[ParsedItem] = []
        self.problems: list[Problem] = []
        self.seen = 0

    def add(self, raw: object, *, index: int, line: int, locate: _Locate) -> None:
        """Convert one item (a decoded mapping) and keep it, or the problem with it."""
        self.seen += 1
        try:
            entry: Entry = msgspec.convert(raw, type=Entry)
        except msgspec.ValidationError as error:
            self.problems.append(_item_problem(raw, error, index=index, line=line, locate=locate))
            return
        self.items.append(ParsedItem(item=to_item(entry), location=Location(line=line)))

    def add_json(self, text: bytes, *, index: int, line: int) -> None:
        """Decode one item straight into its entry (the fast path) or report it."""
        self.seen += 1
        try:
            entry = _ENTRY_JSON.decode(text)
        except msgspec.ValidationError as error:
            raw = msgspec.json.decode(text)
            self.problems.append(_item_problem(raw, error, index=index, line=line, locate=None))
            return
        self.items.append(ParsedItem(item=to_item(entry), location=Location(line=line)))


def _item_problem(
    raw: object, error: msgspec.ValidationError, *, index: int, line: int, locate: _Locate
) -> Problem:
    key = raw.get("key") if isinstance(raw, dict) else None
    key = key if isinstance(key, str) else ""
    kind = raw.get("kind") if isinstance(raw, dict) else None
    if isinstance(kind, str) and kind not in _KINDS:
        found = locate("$.kind") if locate else None
        flin, fcol = found or (line, 1)
        return Problem(
            code="unsupported",
            message=f'item kind "{kind}" is not supported; the item was not imported',
            message_zh=f"不支持题型“{kind}”，该题未导入",
            line=flin,
            col=fcol,
            item_key=key,
        )
    message, path = _split_error(str(error))
    where = f"items[{index}]{path[1:]}"
    flin, fcol = (locate(path) if locate else None) or (line, 1)
    return Problem(
        code="syntax",
        message=f"{where} (item at line {line}): {message}",
        message_zh=f"{where}（第 {line} 行的试题）：{_message_zh(message)}",
        line=flin,
        col=fcol,
        item_key=key,
    )


def _split_error(text: str) -> tuple[str, str]:
    """msgspec's "message - at `$.path`" as (message, path)."""
    message, sep, path = text.rpartition(" - at `")
    return (message, path.rstrip("`")) if sep else (text, "$")


_ZH_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Expected `(.+?)`, got `(.+?)`"), "应为 {0} 类型，实际为 {1}"),
    (re.compile(r"Object missing required field `(.+?)`"), "缺少必填字段 {0}"),
    (re.compile(r"Object contains unknown field `(.+?)`"), "含有未知字段 {0}"),
    (re.compile(r"Invalid (?:enum )?value (.+)"), "取值 {0} 无效"),
)


def _message_zh(message: str) -> str:
    for pattern, template in _ZH_MESSAGES:
        match = pattern.fullmatch(message)
        if match:
            return template.format(*match.groups())
    return f"数据格式不符：{message}"


def _head_problems(document: object, *, locate: _Locate) -> list[Problem]:
    """Problems with the file's own fields (format, version, bank)."""
    if not isinstance(document, dict):
        return [
            syntax(
                f"a bank file is a mapping with format: {FORMAT}, version and items",
                f"题库文件应为包含 format: {FORMAT}、version 和 items 的映射",
                line=1,
            )
        ]
    try:
        msgspec.convert(document, type=_Head)
    except msgspec.ValidationError as error:
        message, path = _split_error(str(error))
        line, col = (locate(path) if locate else None) or (1, 1)
        where = path[2:] or "file"
        return [
            syntax(
                f"{where}: {message} (a bank file starts with format: {FORMAT})",
                f"{where}：{_message_zh(message)}（题库文件应以 format: {FORMAT} 开头）",
                line=line,
                col=col,
            )
        ]
    return []


def _not_a_list(line: int, col: int) -> Problem:
    return syntax("items: expected a list of items", "items：应为试题列表", line=line, col=col)


# YAML ---------------------------------------------------------------------------


def _parse_yaml(data: bytes) -> tuple[list[ParsedItem], list[Problem], int]:
    loaded = _load_yaml(data)
    if isinstance(loaded, Problem):
        return [], [loaded], 0
    document, root = loaded
    problems = _head_problems(document, locate=lambda path: _yaml_locate(root, path))
    if not isinstance(document, dict):
        return [], problems, 0
    items_node = _yaml_child(root, "items")
    raw_items = document.get("items")
    if raw_items is None:
        return [], problems, 0
    if not isinstance(raw_items, list) or not isinstance(items_node, yaml.SequenceNode):
        line, col = _yaml_mark(items_node) if items_node else (1, 1)
        return [], [*problems, _not_a_list(line, col)], 0
    reader = _Items()
    for index, (raw, node) in enumerate(zip(raw_items, items_node.value, strict=True)):
        line = node.start_mark.line + 1

        def locate(path: str, node: yaml.Node = node) -> tuple[int, int]:
            return _yaml_locate(node, path)

        reader.add(raw, index=index, line=line, locate=locate)
    return reader.items, problems + reader.problems, reader.seen


def _load_yaml(data: bytes) -> tuple[object, yaml.Node] | Problem:
    """The document and its node tree (for lines), or the problem that stops reading."""
    loader = _Loader(data)
    try:
        root = loader.get_single_node()
        if root is None:
            return syntax("the file is empty", "文件为空", line=1)
        return loader.construct_document(root), root
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(p for p in (error.context, error.problem) if p)
        what_zh = "".join(_yaml_zh(p) for p in (error.context, error.problem) if p)
        return syntax(f"YAML syntax error: {what}", f"YAML 语法错误：{what_zh}", line=line, col=col)
    except yaml.YAMLError as error:
        return syntax(f"YAML cannot be read: {error}", f"无法读取 YAML：{error}", line=1)
    finally:
        loader.dispose()


def _yaml_child(node: yaml.Node | None, name: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == name:
                return value  # type: ignore[no-any-return]
    return None


def _yaml_mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def _yaml_locate(node: yaml.Node, path: str) -> tuple[int, int]:
    """The line and column of ``$.a[1].b`` under ``node``, or of its nearest ancestor."""
    for name, index in _PATH_PART.findall(path):
        child: yaml.Node | None
        if name:
            child = _yaml_child(node, name)
        elif isinstance(node, yaml.SequenceNode) and int(index) < len(node.value):
            child = node.value[int(index)]
        else:
            child = None
        if child is None:
            break
        node = child
    return _yaml_mark(node)


# JSON ---------------------------------------------------------------------------


def _parse_json(data: bytes) -> tuple[list[ParsedItem], list[Problem], int]:
    try:
        top = msgspec.json.decode(data, type=dict[str, msgspec.Raw])
    except msgspec.ValidationError:
        return [], _head_problems(None, locate=None), 0
    except msgspec.DecodeError as error:
        return [], [_json_syntax(data, str(error))], 0
    head = {k: msgspec.json.decode(v) for k, v in top.items() if k != "items"}
    problems = _head_problems(head, locate=None)
    raw_items = top.get("items")
    if raw_items is None:
        return [], problems, 0
    start = data.find(bytes(raw_items))
    line = data.count(b"\n", 0, start) + 1
    try:
        elements = msgspec.json.decode(raw_items, type=list[msgspec.Raw])
    except msgspec.ValidationError:
        return [], [*problems, _not_a_list(line, 1)], 0
    reader = _Items()
    position = start
    for index, element in enumerate(elements):
        text = bytes(element)
        found = data.find(text, position)
        line += data.count(b"\n", position, found)
        position = found
        reader.add_json(text, index=index, line=line)
    return reader.items, problems + reader.problems, reader.seen


def _json_syntax(data: bytes, message: str) -> Problem:
    offset_match = re.search(r"\(byte (\d+)\)", message)
    offset = int(offset_match.group(1)) if offset_match else 0
    line_start = data.rfind(b"\n", 0, offset) + 1
    line = data.count(b"\n", 0, offset) + 1
    col = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    return syntax(
        f"JSON syntax error: {message}",
        f"JSON 语法错误：{_translate(message, _JSON_ZH)}",
        line=line,
        col=col,
    )


#: The Chinese of PyYAML's and msgspec's syntax messages (what is not here stays as it is).
_YAML_ZH: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), zh)
    for pattern, zh in (
        (r"while parsing a flow sequence", "读取 [ ] 列表时，"),
        (r"while parsing a flow mapping", "读取 { } 映射时，"),
        (r"while parsing a block collection", "读取缩进的列表时，"),
        (r"while parsing a block mapping", "读取缩进的映射时，"),
        (r"while scanning a quoted scalar", "读取带引号的文本时，"),
        (r"while scanning a simple key", "读取键名时，"),
        (r"while scanning for the next token", ""),
        (r"(?:did not find )?expected (.+?),? but (?:got|found) (.+)", "应为 {0}，实际为 {1}"),
        (r"did not find expected (.+)", "缺少应有的 {0}"),
        (r"could not find expected (.+)", "缺少应有的 {0}"),
        (
            r"mapping values are not allowed (?:here|in this context)",
            "此处不能出现“键: 值”（含冒号的文本请加引号）",
        ),
        (
            r"found (?:character )?.*?that cannot start any token",
            "此处有不能出现的字符（制表符请改为空格，特殊字符请加引号）",
        ),
        (r"found unexpected end of stream", "文件意外结束（引号或括号未闭合？）"),
    )
)
_JSON_ZH: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), zh)
    for pattern, zh in (
        (r"Input data was truncated", "文件在中途结束（缺少结尾的括号或引号？）"),
        (r"JSON is malformed: expected (.+) \((byte \d+)\)", "应为 {0}（{1}）"),
        (r"JSON is malformed: invalid character \((byte \d+)\)", "无效字符（{0}）"),
        (
            r"JSON is malformed: trailing comma in (?:object|array) \((byte \d+)\)",
            "末尾多了逗号（{0}）",
        ),
        (
            r"JSON is malformed: trailing characters \((byte \d+)\)",
            "JSON 结束后还有多余的字符（{0}）",
        ),
    )
)


_BYTE = re.compile(r"byte (\d+)")


def _translate(text: str, table: tuple[tuple[re.Pattern[str], str], ...]) -> str:
    for pattern, zh in table:
        match = pattern.fullmatch(text)
        if match:
            groups = (g.replace("' or '", "' 或 '") for g in match.groups())
            return _BYTE.sub(r"第 \1 字节", zh.format(*groups))
    return text


def _yaml_zh(text: str) -> str:
    return _translate(text, _YAML_ZH)


# --------------------------------------------------------------------------- writing

_COMMON_FIELDS = frozenset(EntryBase.__struct_fields__)


def _document(items: Sequence[Item], bank: str) -> dict[str, Any]:
    """The bank file as plain data, each item's fields in reading order."""
    entries = []
    for item in items:
        # through JSON rather than to_builtins: only the encoder leaves out defaults that
        # are equal but not identical (points 1.0 computed elsewhere).
        fields: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(from_item(item)))
        first = {k: fields[k] for k in ("kind", "key", "stem") if k in fields}
        body = {k: v for k, v in fields.items() if k not in _COMMON_FIELDS and k != "kind"}
        rest = {k: v for k, v in fields.items() if k in _COMMON_FIELDS and k not in first}
        entries.append(first | body | rest)
    return {"format": FORMAT, "version": VERSION, "bank": bank, "items": entries}


class _Dumper(_BaseDumper):  # type: ignore[valid-type,misc]
    """Writes multi-line text (stems, explanations) as literal ``|`` blocks."""


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text and not text.endswith((" ", "\n")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_str)


def dump(items: Sequence[Item], *, bank: str = "") -> bytes:
    """The items as a YAML bank file."""
    text = yaml.dump(
        _document(items, bank), Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100
    )
    return text.encode("utf-8")


def dump_json(items: Sequence[Item], *, bank: str = "") -> bytes:
    """The items as a JSON bank file (UTF-8, indented)."""
    return msgspec.json.format(msgspec.json.encode(_document(items, bank)), indent=2) + b"\n"
