"""Assembly rules that only a hand-built bank can corner: which rule gives way when a
retake cannot keep both (a seen item or an enemy), and the counts a paper reports."""

from __future__ import annotations

from examengine.assembly import assemble, compile_exam, paper_from_batch
from examengine.blueprint import ExamSpec, Section
from itembank.model import Difficulty, Item, TrueFalse


def tf(key: str, band: int, enemy: str | None = None) -> Item:
    return Item(
        key=key,
        stem=key,
        body=TrueFalse(answer=True),
        topic="x",
        difficulty=Difficulty(band=band),
        enemy_group=enemy,
    )


SPEC = ExamSpec(
    key="k", title="t", bank="b", bank_version=1, sections=(Section(title="一", count=2),)
)


def test_a_retake_that_can_avoid_neither_a_seen_item_nor_an_enemy_repeats_the_seen_item():
    # Two places, three items: A and B are enemies, C was on the learner's first paper.
    # Every paper breaks one rule; the enemy rule holds and C is repeated.
    bank = [tf("A", 1, "g"), tf("B", 3, "g"), tf("C", 5)]
    compiled = compile_exam(SPEC, bank)
    seeds = list(range(1, 41))
    batch = assemble(compiled, seeds, exclude=[{"C"}] * len(seeds))
    drawn = set()
    for row in range(len(seeds)):
        keys = sorted(p.key for p in paper_from_batch(compiled, batch, row).items)
        drawn.add(keys[0])
        assert keys in (["A", "C"], ["B", "C"])
        assert (int(batch.repeats[row]), int(batch.enemy_conflicts[row])) == (1, 0)
    assert drawn == {"A", "B"}  # both enemies were drawn first on some paper


def test_a_retake_that_can_avoid_both_keeps_both_rules_and_reports_nothing():
    bank = [tf("A", 1, "g"), tf("B", 3, "g"), tf("C", 4), tf("D", 5)]
    compiled = compile_exam(SPEC, bank)
    seeds = list(range(1, 41))
    batch = assemble(compiled, seeds, exclude=[{"D"}] * len(seeds))
    for row in range(len(seeds)):
        keys = {p.key for p in paper_from_batch(compiled, batch, row).items}
        assert "D" not in keys and keys != {"A", "B"} and "C" in keys
        assert (int(batch.repeats[row]), int(batch.enemy_conflicts[row])) == (0, 0)
