"""Assembly on calibrated item parameters (decision 0038): every item keeps exposure q/n,
papers are rebuilt exactly from their seed, and their test information at θ_c varies far
less than today's difficulty-balanced papers' or per-slot random draws', while their mean
difficulty varies no more than today's."""

from __future__ import annotations

import numpy as np
import pytest

from examengine.assembly import CompiledExam, assemble, build_paper, compile_exam, exposure
from examengine.blueprint import Cell, ExamSpec, Section
from itembank.irt import ItemParameters
from itembank.model import (
    Difficulty,
    Item,
    ItemKind,
    Option,
    SingleChoice,
    TrueFalse,
    option_id,
)

TOPICS = ("法规", "安全", "伦理", "数字", "心理", "专业", "创新", "法治")


def calibrated_bank(n: int, seed: int = 2026) -> tuple[list[Item], dict[str, ItemParameters]]:
    """Single-choice and true/false items on eight topics; authored b ~ N(0, 1); the
    calibration's b is the authored one plus noise, a ~ lognormal(0, 0.3)."""
    rng = np.random.default_rng(seed)
    items, parameters = [], {}
    for i in range(n):
        key = f"c{i:05d}"
        b = float(rng.normal())
        single = i % 2 == 0
        body: SingleChoice | TrueFalse = (
            SingleChoice(
                options=tuple(
                    Option(id=option_id(j), text=f"o{j}", fraction=float(j == 0)) for j in range(4)
                )
            )
            if single
            else TrueFalse(answer=True)
        )
        items.append(
            Item(
                key=key,
                stem=key,
                body=body,
                topic=TOPICS[int(rng.integers(0, len(TOPICS)))],
                difficulty=Difficulty(irt_b=round(b, 3)),
                enemy_group=f"g{i // 3}" if rng.random() < 0.1 else None,
            )
        )
        parameters[key] = ItemParameters(
            a=float(rng.lognormal(0.0, 0.3)), b=b + float(rng.normal(0.0, 0.2))
        )
    return items, parameters


SPEC = ExamSpec(
    key="calibrated",
    title="calibrated",
    bank="b",
    bank_version=1,
    r_max=0.25,
    calibration=1,
    sections=(
        Section(
            title="单选",
            kind=ItemKind.SINGLE,
            count=40,
            cells=tuple(
                Cell(topic=t, band=band, count=count)
                for t in TOPICS
                for band, count in ((2, 1), (3, 3), (4, 1))
            ),
        ),
        Section(title="判断", kind=ItemKind.TRUE_FALSE, count=30),
    ),
)


@pytest.fixture(scope="module")
def bank() -> tuple[list[Item], dict[str, ItemParameters]]:
    return calibrated_bank(3000)


@pytest.fixture(scope="module")
def exams(bank) -> tuple[CompiledExam, CompiledExam]:
    items, parameters = bank
    return (
        compile_exam(SPEC, items, parameters),
        compile_exam(SPEC, items, parameters, balance="difficulty"),
    )


SEEDS = np.arange(1, 4001, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)


def per_slot_random(exam: CompiledExam, papers: int) -> np.ndarray:
    """Moodle-style draws: every stratum's quota uniformly from its items."""
    rng = np.random.default_rng(5)
    out = np.empty((papers, exam.length), dtype=np.int64)
    for s in range(len(exam.stratum_len)):
        slots = np.flatnonzero(exam.slot_stratum == s)
        if slots.size:
            start, size = int(exam.stratum_start[s]), int(exam.stratum_len[s])
            pool = exam.pool[start : start + size]
            picks = np.argsort(rng.random((papers, size)), axis=1)[:, : slots.size]
            out[:, slots] = pool[picks]
    return out


def test_information_at_the_cut_varies_at_most_half_as_much_as_before_or_at_random(exams):
    new, today = exams
    balanced = assemble(new, SEEDS)
    before = assemble(today, SEEDS)
    assert balanced.information is not None and before.information is not None
    random = new.info_cut[per_slot_random(new, len(SEEDS))].sum(axis=1)
    assert balanced.information.std() <= 0.5 * before.information.std()
    assert balanced.information.std() <= 0.5 * random.std()
    assert balanced.difficulty.std() <= before.difficulty.std()
    assert abs(balanced.information.mean() - random.mean()) < 0.02 * random.mean()


def test_every_item_appears_on_its_fair_share_of_calibrated_papers(exams):
    new, _ = exams
    papers = 20_000
    seeds = np.arange(papers, dtype=np.uint64) * np.uint64(7919) + np.uint64(3)
    share = exposure(new, assemble(new, seeds))
    for s in range(len(new.stratum_len)):
        start, size = int(new.stratum_start[s]), int(new.stratum_len[s])
        fair = int(new.stratum_quota[s]) / size
        items = new.pool[start : start + size]
        tolerance = 5 * np.sqrt(fair * (1 - fair) / papers) + 1e-12
        assert np.abs(share[items] - fair).max() <= tolerance, f"stratum {s}"
    assert share.max() <= SPEC.r_max


def test_a_calibrated_paper_is_rebuilt_exactly_and_alone_as_in_a_batch(bank, exams):
    items, parameters = bank
    new, _ = exams
    batch = assemble(new, SEEDS[:40])
    again = compile_exam(SPEC, list(reversed(items)), dict(reversed(list(parameters.items()))))
    for row in (0, 17, 39):
        alone = build_paper(again, int(SEEDS[row]))
        assert alone == build_paper(new, int(SEEDS[row]))
        assert [p.key for p in alone.items] == [new.keys[i] for i in batch.item[row].tolist()]


def test_other_parameters_give_other_papers_from_the_same_seed(bank):
    items, parameters = bank
    shifted = {k: ItemParameters(a=p.a, b=-p.b) for k, p in parameters.items()}
    one = build_paper(compile_exam(SPEC, items, parameters), 12345)
    two = build_paper(compile_exam(SPEC, items, shifted), 12345)
    assert one.items != two.items


def test_balancing_on_information_needs_parameters(bank):
    items, _ = bank
    with pytest.raises(ValueError, match="needs item parameters"):
        compile_exam(SPEC, items, balance="information")
