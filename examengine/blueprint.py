"""The exam specification: what a paper must hold and the rules of sitting it.

An ``ExamSpec`` is versioned like a bank: the spec names the bank version it draws from,
so a published spec and its bank version together fix every paper that can be built
(with the server's paper secret and the learner). This module owns the shape of a spec
and its validation against a bank; building papers is ``examengine.assembly``'s job and
the attempt rules are ``examengine.attempt``'s.

A section asks for ``count`` items of one kind (or any kind) from some topics, each worth
``points`` (or the item's own points). It may fix quotas per topic × difficulty band
(``cells``); without cells, the assembler spreads the count over the section's topics in
proportion to their items, and reports any topic whose share rounds to zero.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from msgspec import Meta, Struct

from itembank.model import Item, ItemKind, Status, difficulty_band

Count = Annotated[int, Meta(ge=1, le=1000)]
Share = Annotated[float, Meta(ge=0.0, le=1.0)]
Seconds = Annotated[int, Meta(ge=60, le=24 * 3600)]


class ExpiryPolicy(StrEnum):
    """What closes an attempt that is still open at its deadline."""

    #: The source rule: no score, recorded as failed (DOMAIN.md, "The exam").
    EXPIRE_FAIL = "expire_fail"
    #: Grade what was saved.
    AUTO_SUBMIT = "auto_submit"
    #: Accept saves for ``grace_s`` more seconds, then grade what was saved.
    GRACE = "grace"


class PassStandard(StrEnum):
    """How a paper's pass mark is set (decision 0038)."""

    #: ``pass_mark`` × the paper's maximum: the same share on every paper (the default).
    RAW = "raw"
    #: True-score equating on the exam's calibration: every paper's pass mark is its
    #: expected score at the cut ability θ_c, so the same θ_c passes on every paper.
    EQUATED = "equated"


#: The cut ability θ_c on the bank's scale (logits); beyond ±4 no paper measures.
ThetaCut = Annotated[float, Meta(ge=-4.0, le=4.0)]


class Cell(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A quota: ``count`` items on ``topic`` in difficulty ``band`` (1–5; None: any)."""

    topic: str
    count: Count
    band: Annotated[int, Meta(ge=1, le=5)] | None = None


class Section(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    title: str
    count: Count
    #: The item kind; None takes any kind.
    kind: ItemKind | None = None
    #: Points per item; None keeps each item's own points.
    points: Annotated[float, Meta(gt=0)] | None = None
    #: Topics to draw from; empty means every topic.
    topics: tuple[str, ...] = ()
    #: Optional quotas; when given they must add up to ``count``.
    cells: tuple[Cell, ...] = ()


class KeyRelease(StrEnum):
    """When a result may show the key of an item that a formal paper of the exam can
    hold (decision 0013). Keys of items no formal paper can hold follow the switches
    (``show_key_after_close``, ``practice.show_key``) alone."""

    #: Once the learner can sit no more formal attempts of the exam: they passed it.
    AFTER_FORMAL = "after_formal"
    #: Never: the bank serves later cohorts, and a learner who passed could pass it on.
    UNSHARED_ONLY = "unshared_only"


class PracticeSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Practice (mock) attempts: never counted; capped per day, with a cool-down."""

    enabled: bool = True
    #: Show the key and explanations after a practice attempt is closed, as far as
    #: ``ExamSpec.key_release`` allows (never an item a formal paper ahead may hold).
    show_key: bool = True
    #: Practice attempts a learner may start per calendar day (China Standard Time).
    per_day: Annotated[int, Meta(ge=1, le=50)] = 3
    #: Seconds from the close of one practice attempt to the start of the next.
    cooldown_s: Annotated[int, Meta(ge=0, le=7 * 24 * 3600)] = 600


class StartWindow(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A staggered start (decision 0021): formal attempts open at ``opens_at``, and each
    learner's own start at a moment spread over the first ``spread_s`` seconds after it
    (``examengine.eligibility.start_opens_ms``), so thousands do not press Start in the
    same second. Practice attempts are not held back."""

    #: When the exam opens (an ISO 8601 time with its offset, e.g. 2026-12-20T09:00:00+08:00).
    opens_at: datetime
    #: The spread of the learners' starts after ``opens_at`` (0: everyone at once).
    spread_s: Annotated[int, Meta(ge=0, le=4 * 3600)] = 600


class ExamSpec(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    key: Annotated[str, Meta(min_length=1, max_length=120)]
    title: str
    bank: str
    bank_version: Annotated[int, Meta(ge=1)]
    sections: tuple[Section, ...]
    version: Annotated[int, Meta(ge=1)] = 1
    #: The source rule: 120 minutes.
    duration_s: Seconds = 120 * 60
    #: The source rule: two attempts, then study again.
    max_attempts: Annotated[int, Meta(ge=1, le=20)] = 2
    pass_mark: Share = 0.6
    expiry: ExpiryPolicy = ExpiryPolicy.EXPIRE_FAIL
    grace_s: Annotated[int, Meta(ge=0, le=3600)] = 0
    shuffle_items: bool = True
    shuffle_options: bool = True
    #: Most share of papers any one item may appear on (exposure cap).
    r_max: Annotated[float, Meta(gt=0.0, le=1.0)] = 1.0
    #: Keep items a learner saw in earlier attempts off their retake, where the bank
    #: has enough items.
    exclude_seen: bool = True
    #: Send the key and explanations after a formal attempt is closed, as far as
    #: ``key_release`` allows.
    show_key_after_close: bool = False
    #: When the key of an item a formal paper can hold may be shown (decision 0013).
    key_release: KeyRelease = KeyRelease.AFTER_FORMAL
    practice: PracticeSettings = PracticeSettings()
    #: A staggered start window for formal attempts (None: they may start at any time).
    start_window: StartWindow | None = None
    #: The bank's calibration (its number) whose item parameters papers are assembled
    #: on; None: the authored difficulty labels (decision 0038). Part of the paper seed.
    calibration: Annotated[int, Meta(ge=1)] | None = None
    #: Raw percentage (``pass_mark`` of each paper) or equated (needs ``calibration``).
    pass_standard: PassStandard = PassStandard.RAW
    #: The cut ability θ_c; None: the θ at which the expected paper's score reaches
    #: ``pass_mark`` of its maximum (``examengine.equating.cut_theta``).
    theta_cut: ThetaCut | None = None

    @property
    def length(self) -> int:
        return sum(s.count for s in self.sections)


class SpecProblem(Struct, frozen=True, kw_only=True):
    """What is wrong with a spec, in English and Chinese; ``where`` names the part."""

    code: str
    where: str
    message: str
    message_zh: str
    severity: str = "error"


def eligible(item: Item, section: Section) -> bool:
    """May ``item`` fill a slot of ``section``? (active, right kind, one of its topics)"""
    return item.status is Status.ACTIVE and fits(item, section)


def fits(item: Item, section: Section) -> bool:
    """Is ``item`` of ``section``'s kind and one of its topics, whatever its status?"""
    if section.kind is not None and item.kind is not section.kind:
        return False
    return not section.topics or item.topic in section.topics


def in_cell(item: Item, cell: Cell) -> bool:
    return item.topic == cell.topic and (
        cell.band is None or difficulty_band(item.difficulty) == cell.band
    )


def topic_quotas(count: int, supply: dict[str, int]) -> dict[str, int]:
    """``count`` spread over topics in proportion to their items (largest remainder).

    Ties are broken by topic name so the split is the same every time.
    """
    total = sum(supply.values())
    if total == 0:
        return {topic: 0 for topic in supply}
    exact = {topic: count * n / total for topic, n in supply.items()}
    quotas = {topic: int(share) for topic, share in exact.items()}
    short = count - sum(quotas.values())
    by_remainder = sorted(exact, key=lambda t: (-(exact[t] - quotas[t]), t))
    for topic in by_remainder[:short]:
        quotas[topic] += 1
    return quotas


def validate(spec: ExamSpec, items: Sequence[Item]) -> list[SpecProblem]:
    """Every reason ``spec`` cannot be assembled from ``items`` fairly, or at all.

    Errors: a section or cell asks for more items than the bank has; cells that do not
    add up to their section's count; a cell whose items cannot meet the exposure cap
    (each cell needs at least ``count / r_max`` items); two sections that could take the
    same item; an equated pass standard without a calibration. Warnings: a topic whose
    proportional share rounds to zero (its items will never be used).
    """
    problems: list[SpecProblem] = []
    if not spec.sections:
        problems.append(
            _problem("no-sections", "spec", "the spec has no sections", "试卷没有任何大题")
        )
    for number, section in enumerate(spec.sections, start=1):
        pool = [item for item in items if eligible(item, section)]
        problems += _section_problems(spec, number, section, pool)
    problems += _overlapping_pools(spec, items)
    if spec.pass_standard is PassStandard.EQUATED and spec.calibration is None:
        problems.append(EQUATED_NEEDS_CALIBRATION)
    window = spec.start_window
    if window is not None and window.opens_at.utcoffset() is None:
        problems.append(
            _problem(
                "opens-at-naive",
                "start_window.opens_at",
                "start_window.opens_at needs a UTC offset (e.g. 2026-12-20T09:00:00+08:00)",
                "start_window.opens_at 须注明时区（例如 2026-12-20T09:00:00+08:00）",
            )
        )
    return problems


def _problem(code: str, where: str, en: str, zh: str, severity: str = "error") -> SpecProblem:
    return SpecProblem(code=code, where=where, message=en, message_zh=zh, severity=severity)


EQUATED_NEEDS_CALIBRATION = _problem(
    "equated-needs-calibration",
    "pass_standard",
    "pass_standard 'equated' needs a calibration: set calibration to the number of a "
    "calibration of the bank, or use pass_standard 'raw'",
    "等值合格标准（pass_standard 为 equated）需要题库校准：请将 calibration 设为题库某次校准的"
    "编号，或改用 raw（按原始分比例）",
)


def _describe(section: Section) -> tuple[str, str]:
    kind = f"{section.kind.value} " if section.kind else ""
    kind_zh = _KIND_ZH[section.kind] if section.kind else ""
    topics = f" on {', '.join(repr(t) for t in section.topics)}" if section.topics else ""
    topics_zh = f"（知识点：{'、'.join(section.topics)}）" if section.topics else ""
    return f"{kind}items{topics}", f"{kind_zh}试题{topics_zh}"


_KIND_ZH = {
    ItemKind.SINGLE: "单选",
    ItemKind.MULTIPLE: "多选",
    ItemKind.TRUE_FALSE: "判断",
    ItemKind.FILL_BLANK: "填空",
    ItemKind.NUMERICAL: "数值",
    ItemKind.MATCHING: "匹配",
}


def _section_problems(
    spec: ExamSpec, number: int, section: Section, pool: Sequence[Item]
) -> list[SpecProblem]:
    where = f"section {number}"
    what, what_zh = _describe(section)
    if len(pool) < section.count:
        return [
            _problem(
                "not-enough-items",
                where,
                f"section {number} ({section.title}) asks for {section.count} {what}, "
                f"the bank has {len(pool)}",
                f"第 {number} 大题（{section.title}）需要 {section.count} 道{what_zh}，"
                f"题库中只有 {len(pool)} 道",
            )
        ]
    if section.cells:
        return _cell_problems(spec, number, section, pool)
    supply = Counter(item.topic for item in pool)
    quotas = topic_quotas(section.count, dict(supply))
    out = []
    for topic, quota in sorted(quotas.items()):
        if quota == 0:
            out.append(
                _problem(
                    "zero-quota",
                    f"{where}, topic {topic!r}",
                    f"section {number} ({section.title}): topic {topic!r} gets no item "
                    f"(its {supply[topic]} items are too few a share of {len(pool)}); "
                    "they will never be used",
                    f"第 {number} 大题（{section.title}）：知识点“{topic}”分不到题目"
                    f"（{supply[topic]} 道题在 {len(pool)} 道中占比过小），这些题不会被使用",
                    "warning",
                )
            )
        elif supply[topic] < quota / spec.r_max:
            out.append(
                _exposure_problem(
                    number,
                    section,
                    topic=topic,
                    band=None,
                    quota=quota,
                    have=supply[topic],
                    spec=spec,
                )
            )
    return out


def _cell_problems(
    spec: ExamSpec, number: int, section: Section, pool: Sequence[Item]
) -> list[SpecProblem]:
    out = []
    total = sum(cell.count for cell in section.cells)
    if total != section.count:
        out.append(
            _problem(
                "cells-do-not-add-up",
                f"section {number}",
                f"section {number} ({section.title}) asks for {section.count} items but its "
                f"cells add up to {total}",
                f"第 {number} 大题（{section.title}）共 {section.count} 道，"
                f"但各分类数量合计为 {total}",
            )
        )
    for first, second in _overlapping_cells(section.cells, pool):
        out.append(
            _problem(
                "overlapping-cells",
                f"section {number}",
                f"section {number} ({section.title}): cells {first + 1} and {second + 1} "
                "can take the same items; give each cell its own topic or band",
                f"第 {number} 大题（{section.title}）：第 {first + 1} 与第 {second + 1} 个分类"
                "可以抽到相同的试题，请为每个分类设置不同的知识点或难度",
            )
        )
    for cell in section.cells:
        have = sum(1 for item in pool if in_cell(item, cell))
        band = f", band {cell.band}" if cell.band else ""
        band_zh = f"、难度 {cell.band}" if cell.band else ""
        what, what_zh = _describe(section)
        if have < cell.count:
            out.append(
                _problem(
                    "not-enough-items",
                    f"section {number}, cell {cell.topic!r}{band}",
                    f"section {number} ({section.title}) asks for {cell.count} {what} on topic "
                    f"{cell.topic!r}{band}, the bank has {have}",
                    f"第 {number} 大题（{section.title}）需要知识点“{cell.topic}”{band_zh}的"
                    f"{what_zh} {cell.count} 道，题库中只有 {have} 道",
                )
            )
        elif have < cell.count / spec.r_max:
            out.append(
                _exposure_problem(
                    number,
                    section,
                    topic=cell.topic,
                    band=cell.band,
                    quota=cell.count,
                    have=have,
                    spec=spec,
                )
            )
    return out


def _overlapping_cells(cells: Sequence[Cell], pool: Sequence[Item]) -> list[tuple[int, int]]:
    """Pairs of cells (by index) that some item of ``pool`` belongs to both of."""
    pairs = []
    for i, first in enumerate(cells):
        for j in range(i + 1, len(cells)):
            second = cells[j]
            if first.topic == second.topic and (
                first.band is None or second.band is None or first.band == second.band
            ):
                pairs.append((i, j))
    return pairs


def _exposure_problem(
    number: int,
    section: Section,
    *,
    topic: str,
    band: int | None,
    quota: int,
    have: int,
    spec: ExamSpec,
) -> SpecProblem:
    need = math.ceil(quota / spec.r_max)  # the least count the check `have < quota / r_max` passes
    band_text = f", band {band}" if band else ""
    return _problem(
        "exposure-cap",
        f"section {number}, topic {topic!r}{band_text}",
        f"section {number} ({section.title}): topic {topic!r}{band_text} puts {quota} of its "
        f"{have} items on every paper, so each appears on {quota / have:.0%} of papers; "
        f"the cap r_max = {spec.r_max:.0%} needs at least {need} items",
        f"第 {number} 大题（{section.title}）：知识点“{topic}”每卷抽 {quota} 道、仅有 {have} 道，"
        f"每道题将出现在 {quota / have:.0%} 的试卷上；曝光上限 {spec.r_max:.0%} 要求至少 {need} 道",
    )


def _overlapping_pools(spec: ExamSpec, items: Sequence[Item]) -> list[SpecProblem]:
    """Sections must draw from disjoint items (different kinds or topics), so each item
    has one place on a paper and the blueprint of one section never eats another's."""
    out = []
    for i, first in enumerate(spec.sections):
        for j in range(i + 1, len(spec.sections)):
            second = spec.sections[j]
            shared = sum(1 for item in items if eligible(item, first) and eligible(item, second))
            if shared:
                out.append(
                    _problem(
                        "overlapping-sections",
                        f"sections {i + 1} and {j + 1}",
                        f"sections {i + 1} ({first.title}) and {j + 1} ({second.title}) can both "
                        f"take the same {shared} items; give them different kinds or topics",
                        f"第 {i + 1} 大题（{first.title}）与第 {j + 1} 大题（{second.title}）"
                        f"有 {shared} 道试题可同时抽取；请为它们设置不同的题型或知识点",
                    )
                )
    return out
