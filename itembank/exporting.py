"""Export with a report of what the format could not carry.

``export(items, fmt)`` writes the items in format ``fmt`` and then reads its own output
back with the same format's parser. Every field whose value did not survive is reported
as an ``export-loss`` warning naming the item and the field (in English and Chinese),
and an item the format cannot hold at all (Aiken holds only single choice) as an
``export-dropped`` warning. The report is therefore exactly what a re-import would lose,
never a hand-kept list that can drift from the writers: docs/decisions/0034.

Values are compared in the form that decides grading, so a format that spells a value
differently loses nothing: in all-or-nothing multiple choice only which options are
correct counts (not their shares), and numbers are compared to 6 decimals (GIFT writes
percentages with 7 digits).

Images are bytes beside the items (``itembank.media``): Moodle XML and QTI write the
ones they are given into the file; an item that refers to an image the file read back
does not carry (every other format, or bytes the caller did not give) loses its
``images``, reported like any other field.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence, Set
from typing import Any, cast

import msgspec
from msgspec import Struct

from itembank import formats
from itembank.formats._table import KIND_ZH
from itembank.media import Media, references
from itembank.model import Item, MultipleChoice, normalize_text
from itembank.problems import Problem

#: Each format's name in messages (en, zh).
FORMAT_LABELS: dict[str, tuple[str, str]] = {
    "native": ("the native YAML", "原生 YAML 格式"),
    "gift": ("GIFT", "GIFT 格式"),
    "aiken": ("Aiken", "Aiken 格式"),
    "moodle": ("Moodle XML", "Moodle XML 格式"),
    "qti": ("QTI", "QTI 格式"),
    "excel": ("the Excel template", "Excel 模板"),
    "csv": ("the CSV template", "CSV 模板"),
}

#: Field names in messages (en, zh); a path's last named part is looked up here.
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "key": ("key", "编号"),
    "kind": ("question kind", "题型"),
    "stem": ("stem", "题干"),
    "explanation": ("explanation", "解析"),
    "topic": ("topic", "知识点"),
    "difficulty.band": ("difficulty band", "难度等级"),
    "difficulty.facility": ("difficulty (facility)", "难度（通过率）"),
    "difficulty.irt_a": ("IRT discrimination a", "IRT 区分度 a"),
    "difficulty.irt_b": ("IRT difficulty b", "IRT 难度 b"),
    "tags": ("tags", "标签"),
    "enemy_group": ("enemy group", "互斥组"),
    "points": ("points", "分值"),
    "status": ("status", "状态"),
    "scoring": ("scoring mode", "计分方式"),
    "options": ("options", "选项"),
    "id": ("id", "编号"),
    "text": ("text", "内容"),
    "fraction": ("credit", "得分比例"),
    "feedback": ("feedback", "反馈"),
    "fixed": ("fixed position", "固定位置"),
    "answer": ("answer", "答案"),
    "feedback_true": ("feedback for True", "答“对”时的反馈"),
    "feedback_false": ("feedback for False", "答“错”时的反馈"),
    "answers": ("accepted answers", "参考答案"),
    "value": ("value", "数值"),
    "tolerance": ("tolerance", "误差范围"),
    "case_sensitive": ("case sensitivity", "区分大小写"),
    "pairs": ("pairs", "配对"),
    "prompt": ("prompt", "题面"),
    "distractors": ("distractors", "干扰项"),
    "images": ("images", "图片"),
}


_KIND_EN = {
    "single": "single choice",
    "multiple": "multiple choice",
    "true_false": "true/false",
    "fill_blank": "fill in the blank",
    "numerical": "numerical",
    "matching": "matching",
}


#: Formats that carry every field of every item, so ``export`` does not read them back:
#: the native YAML/JSON is the item model written out (it is held to that by
#: tests/unit/itembank/test_round_trip.py, exactly and on random items), and reading a
#: large YAML file back would double the export's time for nothing.
LOSSLESS = frozenset({"native"})
#: Formats whose writers take the images (``dump(items, media=…)``).
CARRIES_IMAGES = frozenset({"moodle", "qti"})


class ExportResult(Struct, frozen=True, kw_only=True):
    """The file's bytes and one warning per item that lost something on the way."""

    data: bytes
    format: str
    warnings: tuple[Problem, ...] = ()


def export(
    items: Sequence[Item], fmt: str, media: Mapping[str, Media] | None = None
) -> ExportResult:
    """``items`` written in format ``fmt`` (with the images of ``media``, by hash, where
    the format carries images), with what the format could not carry.

    Raises ``formats.UnknownFormatError`` for an unknown format name.
    """
    module = formats.get(fmt)
    data = dump(items, fmt, media)
    if fmt in LOSSLESS:  # nothing to compare; only the images' bytes stay behind
        lost = tuple(_lost(item, ["images"], fmt) for item in items if images_of(item))
        return ExportResult(data=data, format=fmt, warnings=lost)
    parsed = module.parse(data)
    back = [p.item for p in parsed.items]
    carried = {m.sha256 for m in parsed.media}
    return ExportResult(
        data=data, format=fmt, warnings=tuple(losses(items, back, fmt, carried=carried))
    )


def dump(items: Sequence[Item], fmt: str, media: Mapping[str, Media] | None = None) -> bytes:
    """``items`` written in format ``fmt``, with the images of ``media`` where the format
    carries images; no check of what is lost (``export`` does that)."""
    module = formats.get(fmt)
    if fmt in CARRIES_IMAGES:
        return cast(formats.ImageFormat, module).dump(items, media=media)
    return module.dump(items)


def images_in(items: Sequence[Item]) -> set[str]:
    """The hashes of the images the items refer to."""
    return {sha for item in items for sha in images_of(item)}


def losses(
    written: Sequence[Item],
    read: Sequence[Item],
    fmt: str,
    *,
    carried: Set[str] = frozenset(),
) -> list[Problem]:
    """A warning per item of ``written`` whose fields ``read`` (the export read back)
    does not hold, or that is not among ``read`` at all; an item referring to an image
    not in ``carried`` (the hashes of the images the file holds) loses its ``images``."""
    lost = {id(item): fields for item, fields in lost_fields(written, read)}
    out: list[Problem] = []
    for item in written:
        fields = lost.get(id(item), [])
        if fields is None:
            out.append(_dropped(item, fmt))
            continue
        if any(sha not in carried for sha in images_of(item)):
            fields = [*fields, "images"]
        if fields:
            out.append(_lost(item, fields, fmt))
    return out


def images_of(item: Item) -> list[str]:
    """The hashes of the images any text of ``item`` refers to (``media:<hash>``)."""
    encoded = msgspec.json.encode(item).decode()
    return references(encoded) if "media:" in encoded else []


def lost_fields(
    written: Sequence[Item], read: Sequence[Item]
) -> list[tuple[Item, list[str] | None]]:
    """Each item of ``written`` that lost something, with the fields it lost (named as
    in ``FIELD_LABELS``: ``topic``, ``difficulty.band``, ``options.feedback`` …), or None
    when it is not among ``read`` at all."""
    out: list[tuple[Item, list[str] | None]] = []
    for item, back in _pairs(written, read):
        if back is None:
            out.append((item, None))
            continue
        fields = list(dict.fromkeys(_label(path) for path in _differences(item, back)))
        if fields:
            out.append((item, fields))
    return out


def _pairs(written: Sequence[Item], read: Sequence[Item]) -> Iterator[tuple[Item, Item | None]]:
    """Each written item with the item read back in its place: in order when every item
    came back; else matched in order by stem (a format that leaves items out)."""
    if len(written) == len(read):
        yield from zip(written, read, strict=True)
        return
    position = 0  # formats leave items out but never reorder them: one pass, O(n)
    for item in written:
        if position < len(read) and normalize_text(read[position].stem) == normalize_text(
            item.stem
        ):
            yield item, read[position]
            position += 1
        else:
            yield item, None


def canonical(item: Item) -> dict[str, Any]:
    """The item as plain values with every default spelled out, in the form that decides
    grading (see the module docstring)."""
    body: dict[str, Any] = {
        "kind": str(item.kind),
        **{f: _plain(getattr(item.body, f)) for f in item.body.__struct_fields__},
    }
    if isinstance(item.body, MultipleChoice) and item.body.scoring == "all_or_nothing":
        for option in body["options"]:
            option["fraction"] = 1.0 if option["fraction"] > 0 else 0.0
    top = {f: _plain(getattr(item, f)) for f in item.__struct_fields__ if f != "body"}
    return {**top, "body": body}


def _plain(value: Any) -> Any:
    if isinstance(value, Struct):
        return {f: _plain(getattr(value, f)) for f in value.__struct_fields__}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return round(value, 6)
    return value


def _differences(item: Item, back: Item) -> Iterator[str]:
    yield from _walk(canonical(item), canonical(back), "")


def _walk(a: Any, b: Any, path: str) -> Iterator[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a:
            yield from _walk(a[key], b.get(key), f"{path}.{key}" if path else key)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _walk(x, y, f"{path}[{index}]")
    elif a != b:
        yield path


def _label(path: str) -> str:
    """A path such as ``body.options[2].feedback`` as the field it names:
    ``body.options.feedback`` → "options.feedback"; top-level paths as they are."""
    parts = [p.split("[", 1)[0] for p in path.split(".")]
    if parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts)


def _words(field: str) -> tuple[str, str]:
    if field in FIELD_LABELS:
        return FIELD_LABELS[field]
    parts = field.split(".")
    en = [FIELD_LABELS.get(p, (p, p))[0] for p in parts]
    zh = [FIELD_LABELS.get(p, (p, p))[1] for p in parts]
    if parts[0] in ("options", "answers", "pairs") and len(parts) == 2:
        return f"{en[0][:-1] if en[0].endswith('s') else en[0]} {en[1]}", f"{zh[0]}{zh[1]}"
    return " ".join(en), "".join(zh)


def _lost(item: Item, fields: list[str], fmt: str) -> Problem:
    name, name_zh = FORMAT_LABELS.get(fmt, (fmt, fmt))
    words = [_words(f) for f in fields]
    return Problem(
        code="export-loss",
        message=(
            f"item {item.key!r}: {name} cannot carry its "
            f"{', '.join(en for en, _ in words)}; re-importing the file loses them"
        ),
        message_zh=(
            f"试题 {item.key!r}：{name_zh}无法保存其"
            f"{'、'.join(zh for _, zh in words)}，重新导入该文件时这些内容将丢失"
        ),
        severity="warning",
        item_key=item.key,
    )


def _dropped(item: Item, fmt: str) -> Problem:
    name, name_zh = FORMAT_LABELS.get(fmt, (fmt, fmt))
    return Problem(
        code="export-dropped",
        message=(
            f"item {item.key!r} ({_KIND_EN[item.kind]}) cannot be written in {name}; "
            "it was left out"
        ),
        message_zh=f"试题 {item.key!r}（{KIND_ZH[item.kind]}）无法以 {name_zh}导出，已略去",
        severity="warning",
        item_key=item.key,
    )
