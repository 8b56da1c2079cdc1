"""The lint: what is wrong with a bank's items, each problem at its line.

Parsers read files without judging them; this module judges. ``lint_items`` checks parsed
items (with their source locations) and returns problems sorted by place; ``lint_file``
reads a file in any format and runs both. Rules, each with a stable code:

errors (an import is refused while any remains)
    ``empty-stem``        the item has no stem
    ``missing-key``       no correct answer (no correct option, no accepted text …)
    ``impossible-key``    full credit cannot be earned, or credit is out of range, or a
                          single-choice item has more than one fully correct option
    ``few-options``       a choice item with fewer than two options
    ``duplicate-option``  two options (or matching prompts) read the same
    ``duplicate-key``     two items share an author key
    ``duplicate-item``    two items are the same question with the same answers
    ``difficulty-range``  facility outside 0–1, band outside 1–5, IRT a ≤ 0 or |b| > 6
    ``bad-points``        points not a positive number
warnings
    ``duplicate-stem``    the same stem as another item (answers differ)
    ``near-duplicate``    a stem that reads almost like another's (3-gram Jaccard ≥ 0.8)
    ``unknown-enemy``     an enemy group no other item belongs to (a misspelling?)
    ``empty-topic``       no topic (knowledge point); the item cannot fill a blueprint cell
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence

import msgspec
import numpy as np
from msgspec import Struct

from itembank import formats
from itembank.formats import ParsedItem
from itembank.media import Media
from itembank.model import (
    AcceptedText,
    Difficulty,
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
    normalize_text,
)
from itembank.problems import Location, Problem, at

NEAR_DUPLICATE_JACCARD = 0.8
#: Stems shorter than this (after normalising) are generic ("下列说法正确的是") and are
#: not compared for duplicate or near-duplicate stems.
MIN_STEM_CHARS_FOR_DUPLICATES = 10


class LintReport(Struct, frozen=True, kw_only=True):
    """The items read and every problem found, sorted by place.

    ``items_seen`` counts the questions in the file, read or not: a question the parser
    could not build (a row with a bad answer cell, a GIFT question with an unclosed
    brace, an unsupported kind) is not among ``items`` but is seen, so a page can say
    "3 道试题，其中 1 道有错误" for a three-question file of which two were read.
    ``items_parsed`` is ``len(items)``. A file that cannot be read at all (not UTF-8, a
    YAML syntax error, a missing required column) has 0 seen.
    """

    items: tuple[ParsedItem, ...]
    problems: tuple[Problem, ...]
    format: str = ""
    items_seen: int = 0
    #: The images the file carries (``itembank.media``); the shell stores them.
    media: tuple[Media, ...] = ()

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for p in self.problems if p.severity == "warning")

    @property
    def ok(self) -> bool:
        return self.errors == 0

    @property
    def items_parsed(self) -> int:
        return len(self.items)

    def summary(self, source: str, *, lang: str = "en") -> str:
        """One line: the questions seen and read, the errors and the warnings.

        ``bank.gift: 3 items (1 not read), 2 errors, 1 warning`` or
        ``bank.gift：3 道试题（1 道未能读取），2 个错误，1 个警告``.
        """
        unread = max(0, self.items_seen - self.items_parsed)
        if lang == "zh":
            not_read = f"（{unread} 道未能读取）" if unread else ""
            return (
                f"{source}：{self.items_seen} 道试题{not_read}，"
                f"{self.errors} 个错误，{self.warnings} 个警告"
            )
        not_read = f" ({unread} not read)" if unread else ""
        return (
            f"{source}: {_count(self.items_seen, 'item')}{not_read}, "
            f"{_count(self.errors, 'error')}, {_count(self.warnings, 'warning')}"
        )


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def lint_file(data: bytes, *, source: str, format: str | None = None) -> LintReport:
    """Read ``data`` (format named or told from ``source``) and lint what was read.

    Raises ``formats.UnknownFormatError`` only when no format is named and none can be
    told from the file name.
    """
    name = format or formats.detect(source, data)
    parsed = formats.get(name).parse(data, source=source)
    found = [*parsed.problems, *lint_items(parsed.items)]
    placed = [at(p, file=source) if not p.file else p for p in found]
    return LintReport(
        items=parsed.items,
        problems=tuple(sort_problems(placed)),
        format=name,
        media=parsed.media,
        items_seen=parsed.items_seen,
    )


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.file, p.sheet, p.line, p.col, p.code))


def lint_items(parsed: Sequence[ParsedItem]) -> list[Problem]:
    """Every problem with these items, each placed at its item's location."""
    found: list[Problem] = []
    for entry in parsed:
        found.extend(_item_problems(entry.item, entry.location))
    found.extend(_duplicate_keys(parsed))
    found.extend(_duplicate_stems(parsed))
    found.extend(_lonely_enemy_groups(parsed))
    return found


def _problem(
    code: str, en: str, zh: str, item: Item, loc: Location, *, severity: str = "error"
) -> Problem:
    return Problem(
        code=code,
        message=en,
        message_zh=zh,
        line=loc.line,
        col=loc.col,
        sheet=loc.sheet,
        item_key=item.key,
        severity="warning" if severity == "warning" else "error",
    )


def _item_problems(item: Item, loc: Location) -> list[Problem]:
    out: list[Problem] = []

    def add(code: str, en: str, zh: str, severity: str = "error") -> None:
        out.append(_problem(code, en, zh, item, loc, severity=severity))

    if not item.stem.strip():
        add("empty-stem", f"item {item.key!r} has no stem", f"试题 {item.key!r} 缺少题干")
    if not item.topic.strip():
        add(
            "empty-topic",
            f"item {item.key!r} has no topic; it cannot fill a blueprint cell",
            f"试题 {item.key!r} 未填写知识点，组卷时无法归入任何分类",
            "warning",
        )
    if not (isinstance(item.points, int | float) and math.isfinite(item.points)) or (
        item.points <= 0
    ):
        add(
            "bad-points",
            f"points must be a positive number, got {item.points}",
            f"分值必须为正数，实际为 {item.points}",
        )
    for code, en, zh in _difficulty_problems(item.difficulty):
        add(code, en, zh)
    for code, en, zh in _key_problems(item):
        add(code, en, zh)
    return out


def _difficulty_problems(d: Difficulty) -> list[tuple[str, str, str]]:
    out = []
    if d.facility is not None and not 0.0 <= d.facility <= 1.0:
        out.append(
            (
                "difficulty-range",
                f"difficulty (facility) must be between 0 and 1, got {d.facility}",
                f"难度（通过率）必须在 0 到 1 之间，实际为 {d.facility}",
            )
        )
    if d.band is not None and not 1 <= d.band <= 5:
        out.append(
            (
                "difficulty-range",
                f"difficulty band must be 1–5, got {d.band}",
                f"难度等级必须为 1–5，实际为 {d.band}",
            )
        )
    if d.irt_a is not None and not 0.0 < d.irt_a <= 5.0:
        out.append(
            (
                "difficulty-range",
                f"IRT discrimination a must be in (0, 5], got {d.irt_a}",
                f"IRT 区分度 a 必须在 (0, 5] 之间，实际为 {d.irt_a}",
            )
        )
    if d.irt_b is not None and not -6.0 <= d.irt_b <= 6.0:
        out.append(
            (
                "difficulty-range",
                f"IRT difficulty b must be in [-6, 6], got {d.irt_b}",
                f"IRT 难度 b 必须在 [-6, 6] 之间，实际为 {d.irt_b}",
            )
        )
    return out


def _key_problems(item: Item) -> list[tuple[str, str, str]]:
    match item.body:
        case SingleChoice(options=options):
            return [*_option_problems(options), *_single_key(options)]
        case MultipleChoice(options=options, scoring=scoring):
            return [*_option_problems(options), *_multiple_key(options, scoring)]
        case TrueFalse(answer=answer):
            if answer is None:
                return [_missing("true/false item has no answer", "判断题缺少答案")]
            return []
        case FillBlank(answers=answers):
            return _fill_key(answers)
        case Numerical(answers=answers):
            return _numeric_key(answers)
        case Matching(pairs=pairs):
            return _matching_key(pairs)
    raise AssertionError(f"unhandled item body {type(item.body).__name__}")  # pragma: no cover


def _missing(en: str, zh: str) -> tuple[str, str, str]:
    return ("missing-key", en, zh)


def _impossible(en: str, zh: str) -> tuple[str, str, str]:
    return ("impossible-key", en, zh)


def _option_problems(options: Sequence[Option]) -> list[tuple[str, str, str]]:
    out = []
    if len(options) < 2:
        out.append(
            (
                "few-options",
                f"a choice item needs at least 2 options, it has {len(options)}",
                f"选择题至少需要 2 个选项，实际为 {len(options)} 个",
            )
        )
    seen: dict[str, str] = {}
    for option in options:
        norm = normalize_text(option.text)
        if norm in seen:
            out.append(
                (
                    "duplicate-option",
                    f"options {seen[norm]} and {option.id} read the same: {option.text!r}",
                    f"选项 {seen[norm]} 与 {option.id} 内容相同：{option.text!r}",
                )
            )
        else:
            seen[norm] = option.id
        if not option.text.strip():
            out.append(
                ("empty-option", f"option {option.id} is empty", f"选项 {option.id} 内容为空")
            )
        if not -1.0 <= option.fraction <= 1.0:
            out.append(
                _impossible(
                    f"option {option.id} is worth {option.fraction:.0%}; credit must be "
                    "between -100% and 100%",
                    f"选项 {option.id} 的得分比例为 {option.fraction:.0%}，"
                    "必须在 -100% 到 100% 之间",
                )
            )
    return out


def _single_key(options: Sequence[Option]) -> list[tuple[str, str, str]]:
    best = [o for o in options if o.fraction >= 1.0]
    if not any(o.fraction > 0 for o in options):
        return [_missing("single-choice item has no correct option", "单选题没有正确选项")]
    if len(best) > 1:
        ids = "、".join(o.id for o in best)
        return [
            _impossible(
                f"single-choice item has {len(best)} fully correct options ({ids}); "
                "make it multiple choice or keep one",
                f"单选题有 {len(best)} 个完全正确的选项（{ids}），请改为多选题或只保留一个",
            )
        ]
    if not best:
        return [
            _impossible(
                "no option of this single-choice item earns full credit",
                "该单选题没有可得满分的选项",
            )
        ]
    return []


def _multiple_key(options: Sequence[Option], scoring: str) -> list[tuple[str, str, str]]:
    correct = [o for o in options if o.fraction > 0]
    if not correct:
        # A GIFT choice block with no "=" and no weight reads as a multiple-choice body
        # (Moodle's rule): it is a choice question with no key, not known to be 多选题.
        return [_missing("choice question has no key", "选择题没有正确答案")]
    if scoring == "partial":
        total = sum(o.fraction for o in correct)
        if abs(total - 1.0) > 0.01:
            return [
                _impossible(
                    f"the correct options' credits add up to {total:.0%}, not 100%",
                    f"正确选项的得分比例合计为 {total:.0%}，应为 100%",
                )
            ]
    return []


def _fill_key(answers: Sequence[AcceptedText]) -> list[tuple[str, str, str]]:
    texts = [a for a in answers if a.fraction > 0]
    if not texts:
        return [_missing("fill-in-the-blank item has no accepted answer", "填空题没有参考答案")]
    if not any(a.fraction >= 1.0 for a in texts):
        return [
            _impossible(
                "no accepted answer of this fill-in-the-blank item earns full credit",
                "该填空题没有可得满分的答案",
            )
        ]
    if any(not normalize_text(a.text) for a in texts):
        return [_impossible("an accepted answer is empty", "有一个参考答案为空")]
    return []


def _numeric_key(answers: Sequence[NumericAnswer]) -> list[tuple[str, str, str]]:
    if not answers:
        return [_missing("numerical item has no answer", "数值题缺少答案")]
    out = []
    for answer in answers:
        value, tolerance = answer.value, answer.tolerance
        if not math.isfinite(value):
            out.append(_impossible(f"answer {value} is not a number", f"答案 {value} 不是数字"))
        if tolerance < 0:
            out.append(
                _impossible(
                    f"tolerance must not be negative, got {tolerance}",
                    f"误差范围不能为负数，实际为 {tolerance}",
                )
            )
    if not any(a.fraction >= 1.0 for a in answers):
        out.append(
            _impossible(
                "no answer of this numerical item earns full credit", "该数值题没有满分答案"
            )
        )
    return out


def _matching_key(pairs: Sequence[Pair]) -> list[tuple[str, str, str]]:
    if len(pairs) < 2:
        return [
            _missing(
                f"a matching item needs at least 2 pairs, it has {len(pairs)}",
                f"匹配题至少需要 2 组配对，实际为 {len(pairs)} 组",
            )
        ]
    out = []
    seen: set[str] = set()
    for pair in pairs:
        prompt = normalize_text(pair.prompt)
        if prompt in seen:
            out.append(
                (
                    "duplicate-option",
                    f"the prompt {pair.prompt!r} appears twice",
                    f"配对题目 {pair.prompt!r} 出现了两次",
                )
            )
        seen.add(prompt)
        if not normalize_text(pair.answer):
            out.append(
                _missing(
                    f"the prompt {pair.prompt!r} has no answer",
                    f"配对题目 {pair.prompt!r} 没有答案",
                )
            )
    return out


def _duplicate_keys(parsed: Sequence[ParsedItem]) -> list[Problem]:
    first: dict[str, Location] = {}
    out = []
    for entry in parsed:
        key = entry.item.key
        if key in first:
            other = first[key]
            out.append(
                _problem(
                    "duplicate-key",
                    f"key {key!r} is already used by the item at line {other.line}",
                    f"编号 {key!r} 已被第 {other.line} 行的试题使用",
                    entry.item,
                    entry.location,
                )
            )
        else:
            first[key] = entry.location
    return out


_NOT_WORD = re.compile(r"[\W_]+")


def stem_fingerprint(stem: str) -> str:
    """The stem with case, width, white space and punctuation folded away."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", stem).casefold())


def _content(fingerprint: str, item: Item) -> bytes:
    """Stem and answers, folded: equal for the same question with the same answers."""
    return fingerprint.encode() + b"\x00" + msgspec.json.encode(item.body)


def _duplicate_stems(parsed: Sequence[ParsedItem]) -> list[Problem]:
    out: list[Problem] = []
    prints = [stem_fingerprint(e.item.stem) for e in parsed]
    first_stem: dict[str, int] = {}
    first_content: dict[bytes, int] = {}
    for index, (entry, fingerprint) in enumerate(zip(parsed, prints, strict=True)):
        content = _content(fingerprint, entry.item)
        if content in first_content:
            other = parsed[first_content[content]]
            out.append(_dup("duplicate-item", entry, other))
            continue
        first_content[content] = index
        if len(fingerprint) < MIN_STEM_CHARS_FOR_DUPLICATES:
            continue
        if fingerprint in first_stem:
            other = parsed[first_stem[fingerprint]]
            out.append(_dup("duplicate-stem", entry, other))
        else:
            first_stem[fingerprint] = index
    out.extend(_near_duplicates(parsed, prints))
    return out


_DUPLICATE_WORDS = {
    "duplicate-item": ("is the same question as", "是同一道题"),
    "duplicate-stem": ("has the same stem as", "题干相同"),
    "near-duplicate": ("reads almost like", "题干几乎相同"),
}


def _dup(code: str, entry: ParsedItem, other: ParsedItem) -> Problem:
    en, zh = _DUPLICATE_WORDS[code]
    return _problem(
        code,
        f"item {entry.item.key!r} {en} item {other.item.key!r} at line {other.location.line}",
        f"试题 {entry.item.key!r} 与第 {other.location.line} 行的试题 {other.item.key!r} {zh}",
        entry.item,
        entry.location,
        severity="error" if code == "duplicate-item" else "warning",
    )


def _near_duplicates(parsed: Sequence[ParsedItem], prints: Sequence[str]) -> list[Problem]:
    """Stems that read almost alike, found by MinHash over character 3-grams with LSH.

    Vectorised: every stem's 3-grams are hashed at once, 32 MinHash values per stem are
    taken with ``minimum.reduceat``; stems sharing any band of 4 values are candidates,
    kept when their signatures agree on enough values, and confirmed by their exact
    Jaccard similarity.
    """
    eligible = np.asarray(_first_occurrences(prints), dtype=np.int64)
    if len(eligible) < 2:
        return []
    signatures = _minhash([prints[i] for i in eligible])
    firsts, seconds = [], []
    for band in range(_HASHES // _ROWS):
        cols = np.ascontiguousarray(signatures[:, band * _ROWS : (band + 1) * _ROWS])
        keys = cols.view(np.dtype((np.void, cols.dtype.itemsize * _ROWS))).ravel()
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        same = np.flatnonzero(ordered[1:] == ordered[:-1])
        firsts.append(order[same])
        seconds.append(order[same + 1])
    a = np.concatenate(firsts)
    b = np.concatenate(seconds)
    a, b = np.minimum(a, b), np.maximum(a, b)
    pairs = np.unique(np.stack((a, b), axis=1), axis=0)
    estimate = (signatures[pairs[:, 0]] == signatures[pairs[:, 1]]).mean(axis=1)
    out: list[Problem] = []
    reported: set[int] = set()
    for i, j in pairs[estimate >= NEAR_DUPLICATE_JACCARD - 0.2]:
        first, later = int(eligible[i]), int(eligible[j])
        if later in reported or _jaccard(prints[first], prints[later]) < NEAR_DUPLICATE_JACCARD:
            continue
        reported.add(later)
        out.append(_dup("near-duplicate", parsed[later], parsed[first]))
    return out


_ROWS = 4
_HASHES = 32
_seeds = np.random.default_rng(20261122)  # fixed: the lint must give the same report twice
_MUL = _seeds.integers(1, 2**62, size=_HASHES, dtype=np.uint64) | np.uint64(1)
_ADD = _seeds.integers(0, 2**62, size=_HASHES, dtype=np.uint64)


def _first_occurrences(prints: Sequence[str]) -> list[int]:
    """Indexes of long-enough stems, each distinct stem once (exact repeats are reported
    as duplicate stems already)."""
    seen: set[str] = set()
    out = []
    for i, p in enumerate(prints):
        if len(p) >= MIN_STEM_CHARS_FOR_DUPLICATES and p not in seen:
            seen.add(p)
            out.append(i)
    return out


def _minhash(texts: Sequence[str]) -> np.ndarray:
    """32 MinHash values per text over its character 3-grams (uint64, shape n × 32).

    Texts are at least 3 characters long. The 3-grams of the joined text that straddle
    two texts (the last two positions of each) are masked out.
    """
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    ends = np.cumsum(lengths)
    grams = (codes[:-2] << np.uint64(42)) ^ (codes[1:-1] << np.uint64(21)) ^ codes[2:]
    keep = np.ones(len(grams), dtype=bool)
    straddling = np.concatenate((ends - 2, ends - 1))
    keep[straddling[straddling < len(grams)]] = False
    own = grams[keep]
    segments = np.concatenate(([0], np.cumsum(lengths - 2)[:-1]))
    signatures = np.empty((len(texts), _HASHES), dtype=np.uint64)
    for h in range(_HASHES):  # one column at a time keeps memory to one pass over the grams
        hashed = own * _MUL[h] + _ADD[h]
        hashed ^= hashed >> np.uint64(29)
        signatures[:, h] = np.minimum.reduceat(hashed, segments)
    return signatures


def _grams(text: str) -> set[str]:
    return {text[i : i + 3] for i in range(len(text) - 2)}


def _jaccard(a: str, b: str) -> float:
    ga, gb = _grams(a), _grams(b)
    return len(ga & gb) / len(ga | gb) if ga or gb else 1.0


def _lonely_enemy_groups(parsed: Sequence[ParsedItem]) -> list[Problem]:
    members: dict[str, list[ParsedItem]] = defaultdict(list)
    for entry in parsed:
        if entry.item.enemy_group:
            members[entry.item.enemy_group].append(entry)
    return [
        _problem(
            "unknown-enemy",
            f"enemy group {group!r} has no other item; check its spelling",
            f"互斥组 {group!r} 中没有其他试题，请检查拼写",
            entries[0].item,
            entries[0].location,
            severity="warning",
        )
        for group, entries in members.items()
        if len(entries) == 1
    ]
