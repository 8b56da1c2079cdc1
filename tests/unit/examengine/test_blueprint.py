"""The exam spec: decoding, defaults, topic quotas and every problem ``validate`` reports."""

import math

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from examengine.blueprint import (
    Cell,
    ExamSpec,
    ExpiryPolicy,
    Section,
    SpecProblem,
    topic_quotas,
    validate,
)
from itembank.model import (
    Difficulty,
    Item,
    ItemKind,
    Option,
    SingleChoice,
    Status,
    TrueFalse,
)


def tf(key, topic="a", band=3, status=Status.ACTIVE):
    return Item(
        key=key,
        stem=f"题干 {key}",
        body=TrueFalse(answer=True),
        topic=topic,
        difficulty=Difficulty(band=band),
        status=status,
    )


def single(key, topic="a", band=3):
    options = (Option(id="A", text="甲", fraction=1.0), Option(id="B", text="乙"))
    return Item(
        key=key,
        stem=f"题干 {key}",
        body=SingleChoice(options=options),
        topic=topic,
        difficulty=Difficulty(band=band),
    )


def spec(*sections, **fields):
    return ExamSpec(
        key="final", title="期末", bank="physics", bank_version=1, sections=sections, **fields
    )


def bank_of(topic, n, band=3, make=tf):
    return [make(f"{topic}{i}", topic=topic, band=band) for i in range(n)]


MINIMAL = {"key": "final", "title": "期末", "bank": "physics", "bank_version": 1}


# ---------------------------------------------------------------- decoding, defaults


def test_a_spec_decoded_from_a_plain_mapping_gets_the_source_rules_as_defaults():
    decoded = msgspec.convert(
        {**MINIMAL, "sections": [{"title": "判断", "count": 3, "kind": "true_false"}]}, ExamSpec
    )
    assert decoded.duration_s == 120 * 60
    assert decoded.max_attempts == 2
    assert decoded.pass_mark == 0.6
    assert decoded.expiry is ExpiryPolicy.EXPIRE_FAIL
    assert decoded.version == 1
    assert decoded.r_max == 1.0
    assert decoded.shuffle_items and decoded.shuffle_options and decoded.exclude_seen
    assert decoded.sections[0].kind is ItemKind.TRUE_FALSE
    assert decoded.length == 3


@pytest.mark.parametrize(
    ("patch", "named"),
    [
        ({"duration_s": 10}, "duration_s"),
        ({"duration_s": "long"}, "duration_s"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"pass_mark": 1.5}, "pass_mark"),
        ({"expiry": "never"}, "expiry"),
        ({"r_max": 0}, "r_max"),
        ({"bank_version": 0}, "bank_version"),
        ({"key": ""}, "key"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_a_bad_spec_field_is_refused_with_a_message_naming_it(patch, named):
    data = {**MINIMAL, "sections": [{"title": "一", "count": 1}], **patch}
    with pytest.raises(msgspec.ValidationError, match=named):
        msgspec.convert(data, ExamSpec)


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ({"title": "一", "count": 0}, r"\$\.sections\[0\]\.count"),
        ({"title": "一", "count": 1, "kind": "essay"}, r"\$\.sections\[0\]\.kind"),
        ({"title": "一", "count": 1, "points": -1}, r"\$\.sections\[0\]\.points"),
        ({"title": "一", "count": 1, "colour": 2}, r"colour.*\$\.sections\[0\]"),
        (
            {"title": "一", "count": 1, "cells": [{"topic": "a", "count": 1, "band": 6}]},
            r"\$\.sections\[0\]\.cells\[0\]\.band",
        ),
    ],
)
def test_a_bad_section_or_cell_field_is_refused_with_its_path(section, named):
    with pytest.raises(msgspec.ValidationError, match=named):
        msgspec.convert({**MINIMAL, "sections": [section]}, ExamSpec)


def test_a_missing_required_field_is_named():
    with pytest.raises(msgspec.ValidationError, match="bank_version"):
        msgspec.convert({"key": "k", "title": "t", "bank": "b", "sections": []}, ExamSpec)


# ---------------------------------------------------------------- topic quotas


def test_topic_quotas_give_the_leftover_items_to_the_largest_remainders():
    # exact shares 2.5, 1.5, 1.0: one item left over, tied between a and b, goes to a
    assert topic_quotas(5, {"a": 10, "b": 6, "c": 4}) == {"a": 3, "b": 1, "c": 1}
    # exact shares 3.5, 2.1, 1.4: the left-over item goes to the largest remainder, a
    assert topic_quotas(7, {"a": 5, "b": 3, "c": 2}) == {"a": 4, "b": 2, "c": 1}


def test_topic_quotas_break_ties_by_topic_name_whatever_the_order_given():
    assert topic_quotas(1, {"b": 1, "a": 1}) == {"a": 1, "b": 0}
    assert topic_quotas(1, {"a": 1, "b": 1}) == {"a": 1, "b": 0}
    assert topic_quotas(2, {"c": 1, "b": 1, "a": 1}) == {"a": 1, "b": 1, "c": 0}


def test_topic_quotas_of_an_empty_supply_are_all_zero():
    assert topic_quotas(3, {"a": 0, "b": 0}) == {"a": 0, "b": 0}
    assert topic_quotas(3, {}) == {}


@settings(max_examples=200, deadline=None)
@given(
    supply=st.dictionaries(
        st.sampled_from(["a", "b", "c", "d", "e", "代数", "几何"]),
        st.integers(0, 60),
        min_size=1,
    ),
    data=st.data(),
)
def test_topic_quotas_add_up_and_stay_within_one_of_the_exact_share(supply, data):
    total = sum(supply.values())
    count = data.draw(st.integers(1, max(total, 1)))
    quotas = topic_quotas(count, supply)
    assert quotas == topic_quotas(count, dict(reversed(list(supply.items()))))
    assert set(quotas) == set(supply)
    if total == 0:
        assert set(quotas.values()) == {0}
        return
    assert sum(quotas.values()) == count
    for topic, n in supply.items():
        exact = count * n / total
        assert math.floor(exact) <= quotas[topic] <= math.ceil(exact)
        assert quotas[topic] <= n


# ---------------------------------------------------------------- validate


def test_a_spec_the_bank_can_fill_has_no_problems():
    bank = bank_of("a", 10) + bank_of("b", 10, make=single)
    sections = (
        Section(title="判断", count=4, kind=ItemKind.TRUE_FALSE),
        Section(title="单选", count=4, kind=ItemKind.SINGLE, cells=(Cell(topic="b", count=4),)),
    )
    assert validate(spec(*sections), bank) == []


def test_a_spec_without_sections_is_reported():
    assert validate(spec(), bank_of("a", 3)) == [
        SpecProblem(
            code="no-sections",
            where="spec",
            message="the spec has no sections",
            message_zh="试卷没有任何大题",
        )
    ]


def test_a_section_asking_for_more_items_than_the_bank_has_is_reported():
    bank = bank_of("a", 2) + bank_of("b", 1) + [tf("old", topic="a", status=Status.RETIRED)]
    bank += bank_of("c", 9)  # a topic the section does not take
    bank += bank_of("s", 4, make=single)  # a kind the section does not take
    section = Section(title="基础", count=5, kind=ItemKind.TRUE_FALSE, topics=("a", "b"))
    assert validate(spec(section), bank) == [
        SpecProblem(
            code="not-enough-items",
            where="section 1",
            message="section 1 (基础) asks for 5 true_false items on 'a', 'b', the bank has 3",
            message_zh="第 1 大题（基础）需要 5 道判断试题（知识点：a、b），题库中只有 3 道",
        )
    ]


def test_a_section_of_any_kind_and_topic_counts_every_active_item():
    bank = bank_of("a", 2) + bank_of("b", 1, make=single) + [tf("x", status=Status.DRAFT)]
    (problem,) = validate(spec(Section(title="综合", count=4)), bank)
    assert problem.where == "section 1"
    assert problem.message == "section 1 (综合) asks for 4 items, the bank has 3"
    assert problem.message_zh == "第 1 大题（综合）需要 4 道试题，题库中只有 3 道"


def test_a_cell_asking_for_more_items_than_its_topic_and_band_have_is_reported():
    bank = [tf(f"easy{i}", band=2) for i in range(3)] + [tf(f"hard{i}", band=4) for i in range(5)]
    section = Section(
        title="单元", count=5, kind=ItemKind.TRUE_FALSE, cells=(Cell(topic="a", band=2, count=5),)
    )
    assert validate(spec(section), bank) == [
        SpecProblem(
            code="not-enough-items",
            where="section 1, cell 'a', band 2",
            message="section 1 (单元) asks for 5 true_false items on topic 'a', band 2, "
            "the bank has 3",
            message_zh="第 1 大题（单元）需要知识点“a”、难度 2的判断试题 5 道，题库中只有 3 道",
        )
    ]


def test_a_cell_without_a_band_is_named_by_its_topic_alone():
    bank = bank_of("a", 2) + bank_of("b", 6)
    section = Section(title="单元", count=4, cells=(Cell(topic="a", count=4),))
    (problem,) = validate(spec(section), bank)
    assert problem.where == "section 1, cell 'a'"
    assert problem.message == "section 1 (单元) asks for 4 items on topic 'a', the bank has 2"
    assert problem.message_zh == "第 1 大题（单元）需要知识点“a”的试题 4 道，题库中只有 2 道"


def test_cells_that_do_not_add_up_to_the_section_count_are_reported():
    bank = bank_of("a", 10) + bank_of("b", 10)
    cells = (Cell(topic="a", count=2), Cell(topic="b", count=3))
    assert validate(spec(Section(title="混合", count=6, cells=cells)), bank) == [
        SpecProblem(
            code="cells-do-not-add-up",
            where="section 1",
            message="section 1 (混合) asks for 6 items but its cells add up to 5",
            message_zh="第 1 大题（混合）共 6 道，但各分类数量合计为 5",
        )
    ]


def test_cells_that_do_not_add_up_are_reported_along_with_a_short_cell():
    bank = bank_of("a", 10) + bank_of("b", 1)
    cells = (Cell(topic="a", count=2), Cell(topic="b", count=3))
    problems = validate(spec(Section(title="混合", count=4, cells=cells)), bank)
    assert [(p.code, p.where) for p in problems] == [
        ("cells-do-not-add-up", "section 1"),
        ("not-enough-items", "section 1, cell 'b'"),
    ]


def test_a_topic_too_small_for_the_exposure_cap_is_reported_with_the_items_it_needs():
    bank = bank_of("a", 6) + bank_of("b", 12)
    problems = validate(spec(Section(title="一", count=6), r_max=0.3), bank)
    # a gets 6 × 6 / 18 = 2 (needs ceil(2 / 0.3) = 7), b gets 4 (needs ceil(4 / 0.3) = 14)
    assert problems == [
        SpecProblem(
            code="exposure-cap",
            where="section 1, topic 'a'",
            message="section 1 (一): topic 'a' puts 2 of its 6 items on every paper, so each "
            "appears on 33% of papers; the cap r_max = 30% needs at least 7 items",
            message_zh="第 1 大题（一）：知识点“a”每卷抽 2 道、仅有 6 道，每道题将出现在 33% 的"
            "试卷上；曝光上限 30% 要求至少 7 道",
        ),
        SpecProblem(
            code="exposure-cap",
            where="section 1, topic 'b'",
            message="section 1 (一): topic 'b' puts 4 of its 12 items on every paper, so each "
            "appears on 33% of papers; the cap r_max = 30% needs at least 14 items",
            message_zh="第 1 大题（一）：知识点“b”每卷抽 4 道、仅有 12 道，每道题将出现在 33% 的"
            "试卷上；曝光上限 30% 要求至少 14 道",
        ),
    ]


def test_a_cell_too_small_for_the_exposure_cap_is_reported_with_its_band():
    bank = bank_of("a", 3, band=2)
    section = Section(title="一", count=2, cells=(Cell(topic="a", band=2, count=2),))
    assert validate(spec(section, r_max=0.5), bank) == [
        SpecProblem(
            code="exposure-cap",
            where="section 1, topic 'a', band 2",
            message="section 1 (一): topic 'a', band 2 puts 2 of its 3 items on every paper, so "
            "each appears on 67% of papers; the cap r_max = 50% needs at least 4 items",
            message_zh="第 1 大题（一）：知识点“a”每卷抽 2 道、仅有 3 道，每道题将出现在 67% 的"
            "试卷上；曝光上限 50% 要求至少 4 道",
        )
    ]


def exposure_need(problem):
    assert problem.code == "exposure-cap"
    return int(problem.message.rsplit("needs at least ", 1)[1].split()[0])


def exposure_problems(quota, have, r_max):
    section = Section(title="一", count=quota, cells=(Cell(topic="a", count=quota),))
    return [
        p for p in validate(spec(section, r_max=r_max), bank_of("a", have)) if p.severity == "error"
    ]


@pytest.mark.parametrize(
    ("quota", "r_max", "need"),
    [
        (3, 0.3, 10),
        (1, 0.25, 4),
        (2, 0.7, 3),
        (3, 1 / 3, 9),  # 9 items put each on exactly a third of papers
        (1, 0.0625, 16),
        (1, 0.2496, 5),  # 1 / 0.2496 = 4.006…
        (7, 0.123456, 57),  # 7 / 0.123456 = 56.7…
    ],
)
def test_the_items_an_exposure_cap_needs_are_exactly_the_fewest_that_satisfy_it(quota, r_max, need):
    (problem,) = exposure_problems(quota, quota, r_max)
    assert exposure_need(problem) == need
    assert exposure_problems(quota, need - 1, r_max)
    assert exposure_problems(quota, need, r_max) == []


def test_a_tiny_exposure_cap_is_reported_not_a_crash():
    (problem,) = exposure_problems(1, 3, 0.0004)
    assert exposure_need(problem) == 2500


@settings(max_examples=100, deadline=None)
@given(quota=st.integers(1, 12), r_max=st.floats(0.05, 1.0))
def test_an_exposure_problem_names_the_smallest_stratum_that_meets_the_cap(quota, r_max):
    smallest = math.ceil(quota / r_max)  # the fewest items h with not h < quota / r_max
    problems = exposure_problems(quota, quota, r_max)
    if smallest <= quota:
        assert problems == []
        return
    (problem,) = problems
    assert exposure_need(problem) == smallest
    assert exposure_problems(quota, smallest, r_max) == []


def test_a_topic_whose_share_rounds_to_zero_is_a_warning():
    bank = bank_of("a", 18) + bank_of("b", 1) + bank_of("c", 1)
    problems = validate(spec(Section(title="一", count=2)), bank)
    expected = [
        SpecProblem(
            code="zero-quota",
            where=f"section 1, topic {t!r}",
            message=f"section 1 (一): topic {t!r} gets no item (its 1 items are too few a share "
            "of 20); they will never be used",
            message_zh=f"第 1 大题（一）：知识点“{t}”分不到题目（1 道题在 20 道中占比过小），"
            "这些题不会被使用",
            severity="warning",
        )
        for t in ("b", "c")
    ]
    assert problems == expected


def test_sections_that_could_take_the_same_items_are_reported():
    bank = bank_of("a", 5) + bank_of("b", 5) + bank_of("c", 5, make=single)
    sections = (
        Section(title="甲", count=2, topics=("a", "b")),
        Section(title="乙", count=2, kind=ItemKind.TRUE_FALSE, topics=("b",)),
        Section(title="丙", count=2, kind=ItemKind.SINGLE),
    )
    assert validate(spec(*sections), bank) == [
        SpecProblem(
            code="overlapping-sections",
            where="sections 1 and 2",
            message="sections 1 (甲) and 2 (乙) can both take the same 5 items; give them "
            "different kinds or topics",
            message_zh="第 1 大题（甲）与第 2 大题（乙）有 5 道试题可同时抽取；"
            "请为它们设置不同的题型或知识点",
        )
    ]


def test_sections_of_different_kinds_on_the_same_topics_do_not_overlap():
    bank = bank_of("a", 5) + bank_of("b", 5, make=single)
    sections = (
        Section(title="判断", count=2, kind=ItemKind.TRUE_FALSE),
        Section(title="单选", count=2, kind=ItemKind.SINGLE),
    )
    assert validate(spec(*sections), bank) == []


def test_cells_that_could_take_the_same_item_are_refused():
    # A cell on topic 'a' in any band and one on 'a' in band 1 share the band-1 items, so
    # one paper could hold the same item twice (each item must have one place on a paper).
    bank = [tf(f"k{i}", band=1 + i % 5) for i in range(10)]
    cells = (Cell(topic="a", count=3), Cell(topic="a", band=1, count=1))
    problems = validate(spec(Section(title="一", count=4, cells=cells)), bank)
    assert any(p.severity == "error" for p in problems)
