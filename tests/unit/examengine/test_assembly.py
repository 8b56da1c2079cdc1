"""Paper assembly: every paper meets the blueprint, is rebuilt exactly from its seed, keeps
enemies and seen items apart, and spreads exposure and difficulty evenly.

Banks are random (from a seed hypothesis draws); specs are built from the bank's own counts
so ``validate`` accepts them.
"""

from collections import Counter
from collections.abc import Callable, Sequence

import msgspec
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from examengine.assembly import (
    CompiledExam,
    Paper,
    assemble,
    build_paper,
    compile_exam,
    exposure,
    paper_from_batch,
    paper_seed,
    unused_strata,
)
from examengine.blueprint import (
    Cell,
    ExamSpec,
    PassStandard,
    Section,
    eligible,
    in_cell,
    topic_quotas,
    validate,
)
from examengine.errors import SpecInvalidError
from itembank.irt import ItemParameters
from itembank.model import (
    Body,
    Difficulty,
    FillBlank,
    Item,
    ItemKind,
    Matching,
    MultipleChoice,
    Numerical,
    Option,
    Pair,
    SingleChoice,
    Status,
    TrueFalse,
    difficulty_band,
    difficulty_logit,
    option_id,
)

TOPICS = ("力学", "光学", "电学", "热学", "atoms")
KINDS = tuple(ItemKind)
PROPERTY = settings(max_examples=60, deadline=None)
SECRET = b"paper-secret"

# ------------------------------------------------------------------------ banks


def make_body(kind: ItemKind, rng: np.random.Generator, max_options: int) -> Body:
    if kind in (ItemKind.SINGLE, ItemKind.MULTIPLE):
        options = tuple(
            Option(
                id=option_id(j),
                text=f"选项{j}",
                fraction=1.0 if j == 0 else 0.0,
                fixed=bool(rng.random() < 0.2),
            )
            for j in range(int(rng.integers(2, max_options + 1)))
        )
        return (
            SingleChoice(options=options)
            if kind is ItemKind.SINGLE
            else MultipleChoice(options=options)
        )
    if kind is ItemKind.MATCHING:
        pairs = tuple(Pair(prompt=f"p{j}", answer=f"a{j}") for j in range(int(rng.integers(1, 5))))
        distractors = tuple(f"d{j}" for j in range(int(rng.integers(0, 4))))
        return Matching(pairs=pairs, distractors=distractors)
    if kind is ItemKind.TRUE_FALSE:
        return TrueFalse(answer=bool(rng.random() < 0.5))
    if kind is ItemKind.FILL_BLANK:
        return FillBlank()
    return Numerical()


def make_difficulty(rng: np.random.Generator) -> Difficulty:
    form = int(rng.integers(0, 4))
    if form == 0:
        return Difficulty(facility=float(rng.uniform(0.05, 0.95)))
    if form == 1:
        return Difficulty(band=int(rng.integers(1, 6)))
    if form == 2:
        return Difficulty(irt_b=float(rng.normal(0.0, 1.2)))
    return Difficulty()


def random_bank(
    seed: int,
    size: int,
    *,
    topics: int = 3,
    kinds: Sequence[ItemKind] = KINDS,
    enemy_groups: int = 0,
    enemy_rate: float = 0.0,
    inactive_rate: float = 0.0,
    max_options: int = 7,
) -> list[Item]:
    rng = np.random.default_rng(seed)
    bank = []
    for n in range(size):
        kind = kinds[int(rng.integers(0, len(kinds)))]
        enemy = None
        if enemy_groups and rng.random() < enemy_rate:
            enemy = f"g{int(rng.integers(0, enemy_groups))}"
        status = Status.ACTIVE
        if rng.random() < inactive_rate:
            status = Status.DRAFT if rng.random() < 0.5 else Status.RETIRED
        bank.append(
            Item(
                key=f"q{n:04d}",
                stem=f"题干 {n}",
                body=make_body(kind, rng, max_options),
                topic=TOPICS[int(rng.integers(0, topics))],
                difficulty=make_difficulty(rng),
                enemy_group=enemy,
                points=float(rng.integers(1, 4)),
                status=status,
            )
        )
    return bank


# ------------------------------------------------------------------------ specs

Fits = Callable[[int, list[Item]], bool]


def fits_any(quota: int, pool: list[Item]) -> bool:
    return True


def fits_without_enemies(quota: int, pool: list[Item]) -> bool:
    """More items outside every enemy group than the quota: no conflict is forced."""
    return sum(item.enemy_group is None for item in pool) > quota


def fits_a_retake(quota: int, pool: list[Item]) -> bool:
    return len(pool) >= 2 * quota


def strata(spec: ExamSpec, bank: Sequence[Item]) -> list[tuple[int, int, list[Item]]]:
    """(section number, quota, items) of every stratum, computed from the blueprint."""
    out = []
    for number, section in enumerate(spec.sections):
        pool = [item for item in bank if eligible(item, section)]
        if section.cells:
            out += [
                (number, cell.count, [i for i in pool if in_cell(i, cell)])
                for cell in section.cells
            ]
            continue
        supply = Counter(item.topic for item in pool)
        quotas = topic_quotas(section.count, dict(supply))
        out += [(number, quotas[t], [i for i in pool if i.topic == t]) for t in sorted(supply)]
    return out


def _section_counts(pool: list[Item], count: int, fits: Fits) -> int:
    """The largest count up to ``count`` whose topic quotas all fit (0 when none does)."""
    by_topic: dict[str, list[Item]] = {}
    for item in pool:
        by_topic.setdefault(item.topic, []).append(item)
    while count:
        quotas = topic_quotas(count, {t: len(p) for t, p in by_topic.items()})
        if all(quotas[t] == 0 or fits(quotas[t], p) for t, p in by_topic.items()):
            return count
        count -= 1
    return 0


@st.composite
def cells_for(draw, pool: list[Item], fits: Fits) -> tuple[Cell, ...]:
    """Non-overlapping cells: per topic, either one cell of any band or cells of some bands."""
    cells = []
    for topic in sorted({item.topic for item in pool}):
        on_topic = [item for item in pool if item.topic == topic]
        if draw(st.booleans()):
            groups = {None: on_topic}
        else:
            groups = {}
            for item in on_topic:
                groups.setdefault(difficulty_band(item.difficulty), []).append(item)
        for band, items in sorted(groups.items(), key=lambda kv: kv[0] or 0):
            most = max((q for q in range(1, len(items) + 1) if fits(q, items)), default=0)
            if most and draw(st.booleans()):
                count = draw(st.one_of(st.just(most), st.integers(1, most)))
                cells.append(Cell(topic=topic, band=band, count=count))
    return tuple(cells)


@st.composite
def feasible_specs(draw, bank: list[Item], fits: Fits = fits_any) -> ExamSpec:
    """A spec ``validate`` accepts: sections on disjoint (kind, topic group) pairs."""
    topics = sorted({item.topic for item in bank})
    order = draw(st.permutations(topics))
    cut = draw(st.integers(1, len(topics)))
    groups = [tuple(sorted(order[:cut])), tuple(sorted(order[cut:]))]
    groups = [g for g in groups if g]
    candidates = [(kind, g) for kind in (None, *KINDS) for g in range(len(groups))]
    candidates = draw(st.permutations(candidates))
    taken: list[tuple[ItemKind | None, int]] = []
    sections = []
    for kind, g in candidates:
        if len(sections) == 4:
            break
        if any(g == g2 and (kind is None or k2 is None or kind == k2) for k2, g2 in taken):
            continue
        topic_filter = groups[g] if len(groups) > 1 or draw(st.booleans()) else ()
        section = Section(title=f"第{len(sections) + 1}节", count=1, kind=kind, topics=topic_filter)
        pool = [item for item in bank if eligible(item, section)]
        if not pool:
            continue
        points = draw(st.sampled_from([None, 1.0, 2.5]))
        if draw(st.booleans()):
            cells = draw(cells_for(pool, fits))
            if not cells:
                continue
            count = sum(cell.count for cell in cells)
        else:
            cells = ()
            wanted = draw(st.one_of(st.just(len(pool)), st.integers(1, len(pool))))
            count = _section_counts(pool, wanted, fits)
            if not count:
                continue
        taken.append((kind, g))
        sections.append(
            Section(
                title=section.title,
                count=count,
                kind=kind,
                points=points,
                topics=topic_filter,
                cells=cells,
            )
        )
    assume(sections)
    spec = ExamSpec(
        key="final",
        title="期末考试",
        bank="physics",
        bank_version=3,
        sections=tuple(sections),
        shuffle_items=draw(st.booleans()),
        shuffle_options=draw(st.booleans()),
        exclude_seen=draw(st.booleans()),
    )
    errors = [p for p in validate(spec, bank) if p.severity == "error"]
    assert errors == [], "the test's spec builder made a spec validate refuses"
    return spec


def random_parameters(bank: Sequence[Item], seed: int) -> dict[str, ItemParameters]:
    """2PL parameters for most of ``bank`` (a calibration): some items missing and some
    provisional, as a real calibration leaves them."""
    rng = np.random.default_rng(seed)
    out = {}
    for item in bank:
        roll = rng.random()
        if roll < 0.1:
            continue  # no parameters: the authored logit, a = 1
        out[item.key] = ItemParameters(
            a=float(rng.lognormal(0.0, 0.4)),
            b=float(rng.normal(0.0, 1.3)),
            provisional=bool(roll < 0.2),
        )
    return out


class Exam:
    """A random bank, a spec it can fill, and the compiled exam (on a random calibration
    when ``calibration`` is a seed for one); shown by its recipe."""

    def __init__(
        self, recipe: str, bank: list[Item], spec: ExamSpec, calibration: int | None = None
    ) -> None:
        self.recipe = recipe
        self.bank = bank
        self.spec = spec
        self.calibration = calibration
        self.parameters = None if calibration is None else random_parameters(bank, calibration)
        self.compiled = compile_exam(spec, bank, self.parameters)

    def __repr__(self) -> str:
        return f"Exam(random_bank({self.recipe}), {self.spec!r}, calibration={self.calibration})"


@st.composite
def exams(
    draw,
    *,
    enemies: bool = True,
    inactive: bool = True,
    fits: Fits = fits_any,
    size: tuple[int, int] = (30, 300),
) -> Exam:
    recipe = {
        "seed": draw(st.integers(0, 2**32 - 1)),
        "size": draw(st.integers(*size)),
        "topics": draw(st.integers(1, len(TOPICS))),
        "kinds": tuple(draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=4, unique=True))),
        "enemy_groups": draw(st.integers(1, 8)) if enemies else 0,
        "enemy_rate": draw(st.sampled_from([0.05, 0.2, 0.5])) if enemies else 0.0,
        "inactive_rate": draw(st.sampled_from([0.0, 0.1])) if inactive else 0.0,
    }
    bank = random_bank(**recipe)
    spec = draw(feasible_specs(bank, fits))
    calibration = draw(st.one_of(st.none(), st.integers(0, 2**32 - 1)))
    if calibration is not None:
        standard = draw(st.sampled_from(PassStandard))
        spec = msgspec.structs.replace(spec, calibration=1, pass_standard=standard)
    return Exam(", ".join(f"{k}={v!r}" for k, v in recipe.items()), bank, spec, calibration)


seeds = st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=8, unique=True)


# ------------------------------------------------------------------------ checks


def choices(item: Item) -> tuple[str, ...]:
    body = item.body
    if isinstance(body, SingleChoice | MultipleChoice):
        return tuple(option.id for option in body.options)
    if isinstance(body, Matching):
        return (*(pair.answer for pair in body.pairs), *body.distractors)
    return ()


def enemy_clashes(paper: Paper, by_key: dict[str, Item]) -> int:
    groups = Counter(by_key[p.key].enemy_group for p in paper.items)
    return sum(n - 1 for group, n in groups.items() if group is not None)


def assert_meets_blueprint(spec: ExamSpec, bank: Sequence[Item], paper: Paper) -> None:
    by_key = {item.key: item for item in bank}
    keys = [p.key for p in paper.items]
    assert len(keys) == len(set(keys)) == spec.length, "items are distinct and fill the paper"
    sections = [p.section for p in paper.items]
    assert sections == sorted(sections), "items are grouped by section, in section order"
    for number, section in enumerate(spec.sections):
        placed = [p for p in paper.items if p.section == number]
        chosen = [by_key[p.key] for p in placed]
        assert len(chosen) == section.count
        assert all(eligible(item, section) for item in chosen)
        assert [p.points for p in placed] == [section.points or i.points for i in chosen]
        if section.cells:
            for cell in section.cells:
                assert sum(in_cell(item, cell) for item in chosen) == cell.count
        else:
            supply = Counter(item.topic for item in bank if eligible(item, section))
            quotas = topic_quotas(section.count, dict(supply))
            assert Counter(item.topic for item in chosen) == +Counter(quotas)


def assert_options_in_order(spec: ExamSpec, bank: Sequence[Item], paper: Paper) -> None:
    by_key = {item.key: item for item in bank}
    for placed in paper.items:
        item = by_key[placed.key]
        natural = choices(item)
        assert sorted(placed.order) == sorted(natural), "a permutation of the item's choices"
        if not spec.shuffle_options:
            assert placed.order == natural
        if isinstance(item.body, SingleChoice | MultipleChoice):
            for j, option in enumerate(item.body.options):
                if option.fixed:
                    assert placed.order[j] == option.id, "a fixed option keeps its place"


# ------------------------------------------------------------------------ the blueprint


@PROPERTY
@given(exam=exams(), seeds=seeds, data=st.data())
def test_every_paper_meets_the_blueprint_with_distinct_eligible_items(exam, seeds, data):
    bank, spec, compiled = exam.bank, exam.spec, exam.compiled
    first = assemble(compiled, seeds)
    # Retakes too: each learner excludes what some paper of the first batch held.
    seen = [
        {
            p.key
            for p in paper_from_batch(
                compiled, first, data.draw(st.integers(0, len(seeds) - 1))
            ).items
        }
        for _ in seeds
    ]
    retakes = assemble(compiled, seeds, exclude=seen)
    for batch in (first, retakes):
        for row in range(len(seeds)):
            assert_meets_blueprint(spec, bank, paper_from_batch(compiled, batch, row))


@PROPERTY
@given(exam=exams(), seeds=seeds)
def test_a_paper_reports_an_enemy_conflict_exactly_when_it_holds_one(exam, seeds):
    bank, compiled = exam.bank, exam.compiled
    by_key = {item.key: item for item in bank}
    batch = assemble(compiled, seeds)
    for row in range(len(seeds)):
        clashes = enemy_clashes(paper_from_batch(compiled, batch, row), by_key)
        assert (clashes > 0) == (int(batch.enemy_conflicts[row]) > 0)


def test_an_unavoidable_enemy_conflict_never_puts_one_item_twice_on_a_paper():
    # Section 1 must take E; section 2 must take both A (E's enemy) and B.
    def tf(key, topic, band, enemy=None):
        return Item(
            key=key,
            stem=key,
            body=TrueFalse(answer=True),
            topic=topic,
            difficulty=Difficulty(band=band),
            enemy_group=enemy,
        )

    bank = [tf("E", "x", 3, "g"), tf("A", "y", 1, "g"), tf("B", "y", 5)]
    spec = ExamSpec(
        key="k",
        title="t",
        bank="b",
        bank_version=1,
        sections=(
            Section(title="一", count=1, topics=("x",)),
            Section(title="二", count=2, topics=("y",)),
        ),
    )
    compiled = compile_exam(spec, bank)
    batch = assemble(compiled, list(range(10)))
    for row in range(10):
        paper = paper_from_batch(compiled, batch, row)
        assert sorted(p.key for p in paper.items) == ["A", "B", "E"]
        assert batch.enemy_conflicts[row] == 1


def test_cells_that_share_items_never_put_one_item_twice_on_a_paper():
    bank = random_bank(7, 60, topics=1, kinds=(ItemKind.TRUE_FALSE,))
    band = difficulty_band(bank[0].difficulty)
    cells = (Cell(topic=TOPICS[0], count=8), Cell(topic=TOPICS[0], band=band, count=2))
    spec = ExamSpec(
        key="k",
        title="t",
        bank="b",
        bank_version=1,
        sections=(Section(title="一", count=10, cells=cells),),
    )
    try:
        compiled = compile_exam(spec, bank)
    except SpecInvalidError:
        return  # refusing the spec is as good
    batch = assemble(compiled, list(range(500)))
    for row in batch.item.tolist():
        assert len(set(row)) == len(row)


# ------------------------------------------------------------------------ determinism


@PROPERTY
@given(exam=exams(), seeds=seeds, others=seeds, data=st.data())
def test_a_paper_is_the_same_whatever_batch_it_is_built_in(exam, seeds, others, data):
    bank, spec, compiled = exam.bank, exam.spec, exam.compiled
    everyone = [*seeds, *(s for s in others if s not in seeds)]
    # Half the learners sit a retake: they exclude their first paper and a few more keys.
    firsts = assemble(compiled, [s ^ 0x5EED for s in everyone])
    exclude = {}
    for row, seed in enumerate(everyone):
        extra = data.draw(st.sets(st.sampled_from([i.key for i in bank]), max_size=4))
        if data.draw(st.booleans()):
            extra |= {p.key for p in paper_from_batch(compiled, firsts, row).items}
        exclude[seed] = frozenset(extra)
    alone = {s: build_paper(compiled, s, exclude=exclude[s]) for s in seeds}
    assert alone == {s: build_paper(compiled, s, exclude=exclude[s]) for s in seeds}
    batch_seeds = data.draw(st.permutations(everyone))
    batch = assemble(compiled, batch_seeds, exclude=[exclude[s] for s in batch_seeds])
    for row, seed in enumerate(batch_seeds):
        if seed in alone:
            assert paper_from_batch(compiled, batch, row) == alone[seed]
    again = compile_exam(spec, data.draw(st.permutations(bank)), exam.parameters)
    for seed in seeds:
        assert build_paper(again, seed, exclude=exclude[seed]) == alone[seed], (
            "the paper does not depend on the order of the bank's items"
        )


def test_a_retake_with_a_fully_seen_band_is_the_same_alone_and_in_a_batch():
    # Bands of 1 (easy) and 2 (mid, hard). Learner 1 saw "easy": its band has nothing
    # left, so the paper must take the rest of the stratum, alone or beside learner 2,
    # whose band still has an unseen item to move to.
    bank = [
        Item(
            key=key,
            stem=key,
            body=TrueFalse(answer=True),
            topic="a",
            difficulty=Difficulty(band=band),
        )
        for key, band in (("easy", 1), ("mid", 3), ("hard", 5))
    ]
    spec = ExamSpec(
        key="k", title="t", bank="b", bank_version=1, sections=(Section(title="一", count=2),)
    )
    compiled = compile_exam(spec, bank)
    alone = build_paper(compiled, 1, exclude={"easy"})
    assert sorted(p.key for p in alone.items) == ["hard", "mid"]
    for other in ({"mid"}, {"hard"}):
        batch = assemble(compiled, [1, 2], exclude=[{"easy"}, other])
        assert paper_from_batch(compiled, batch, 0) == alone


def test_a_papers_seed_is_recorded_on_it():
    bank = random_bank(1, 60)
    spec = ExamSpec(
        key="k", title="t", bank="b", bank_version=1, sections=(Section(title="一", count=5),)
    )
    assert build_paper(compile_exam(spec, bank), 0xABC).seed == "0000000000000abc"


@PROPERTY
@given(exam=exams(enemies=False), data=st.data())
def test_papers_of_different_learners_differ(exam, data):
    bank, spec, compiled = exam.bank, exam.spec, exam.compiled
    # Only where the bank leaves room for choice: some stratum has more items than its quota.
    assume(any(len(pool) > quota > 0 for _, quota, pool in strata(spec, bank)))
    seeds = [
        paper_seed(
            SECRET,
            exam="final",
            spec_version=1,
            bank="physics",
            bank_version=3,
            learner=f"learner-{n}",
            attempt=1,
        )
        for n in range(50)
    ]
    batch = assemble(compiled, seeds)
    assert len({tuple(row) for row in batch.item.tolist()}) > 1


def test_with_a_big_bank_every_learner_gets_a_paper_of_their_own():
    bank = random_bank(11, 300, topics=4, kinds=(ItemKind.SINGLE, ItemKind.TRUE_FALSE))
    spec = ExamSpec(
        key="final",
        title="t",
        bank="physics",
        bank_version=3,
        sections=(
            Section(title="单选", count=15, kind=ItemKind.SINGLE),
            Section(title="判断", count=10, kind=ItemKind.TRUE_FALSE),
        ),
    )
    compiled = compile_exam(spec, bank)
    seeds = [
        paper_seed(
            SECRET,
            exam="final",
            spec_version=1,
            bank="physics",
            bank_version=3,
            learner=f"u{n}",
            attempt=1,
        )
        for n in range(50)
    ]
    papers = [build_paper(compiled, s) for s in seeds]
    assert len({frozenset(p.key for p in paper.items) for paper in papers}) == 50
    assert len({paper.items for paper in papers}) == 50


# ------------------------------------------------------------------------ enemies and retakes


@PROPERTY
@given(exam=exams(fits=fits_without_enemies), seeds=seeds)
def test_no_paper_holds_two_enemies_when_the_bank_allows_it(exam, seeds):
    bank, spec, compiled = exam.bank, exam.spec, exam.compiled
    by_key = {item.key: item for item in bank}
    batch = assemble(compiled, seeds)
    for row in range(len(seeds)):
        paper = paper_from_batch(compiled, batch, row)
        assert enemy_clashes(paper, by_key) == 0
        assert batch.enemy_conflicts[row] == 0
        assert_meets_blueprint(spec, bank, paper)


@PROPERTY
@given(exam=exams(enemies=False, fits=fits_a_retake), seeds=seeds)
def test_a_retake_shares_no_item_with_the_first_attempt_when_the_bank_has_room(exam, seeds):
    bank, spec, compiled = exam.bank, exam.spec, exam.compiled
    for seed in seeds:
        first = build_paper(compiled, seed)
        seen = {p.key for p in first.items}
        second = build_paper(compiled, seed ^ 1, exclude=seen)
        assert_meets_blueprint(spec, bank, second)
        if spec.exclude_seen:
            assert seen.isdisjoint(p.key for p in second.items)
            assert second.repeats == 0
        else:
            assert second == build_paper(compiled, seed ^ 1), "exclusions are ignored"


@PROPERTY
@given(exam=exams(enemies=False, size=(30, 80)), seeds=seeds)
def test_a_retake_repeats_only_what_a_small_bank_forces_and_counts_it(exam, seeds):
    bank, spec, compiled = exam.bank, exam.spec, exam.compiled
    assume(spec.exclude_seen)
    forced = sum(max(0, 2 * quota - len(pool)) for _, quota, pool in strata(spec, bank))
    for seed in seeds:
        seen = {p.key for p in build_paper(compiled, seed).items}
        second = build_paper(compiled, seed ^ 1, exclude=seen)
        assert_meets_blueprint(spec, bank, second)
        shared = seen.intersection(p.key for p in second.items)
        assert second.repeats == len(shared) == forced


# ------------------------------------------------------------------------ order


@PROPERTY
@given(exam=exams(), seeds=seeds)
def test_options_are_a_permutation_with_fixed_options_in_place(exam, seeds):
    bank, spec, compiled = exam.bank, exam.spec, exam.compiled
    batch = assemble(compiled, seeds)
    for row in range(len(seeds)):
        assert_options_in_order(spec, bank, paper_from_batch(compiled, batch, row))


@PROPERTY
@given(exam=exams(enemies=False), seeds=seeds)
def test_without_item_shuffling_items_appear_in_blueprint_order(exam, seeds):
    bank, spec, compiled = exam.bank, exam.spec, exam.compiled
    spec = msgspec.structs.replace(spec, shuffle_items=False)
    compiled = compile_exam(spec, bank, exam.parameters)
    papers = [build_paper(compiled, s) for s in seeds]
    by_key = {item.key: item for item in bank}
    for paper in papers:
        assert_meets_blueprint(spec, bank, paper)
        # Within each section, the strata come in blueprint order (cells, or topics by name).
        for number, section in enumerate(spec.sections):
            placed = [by_key[p.key] for p in paper.items if p.section == number]
            if section.cells:
                first_cell = [
                    next(i for i, c in enumerate(section.cells) if in_cell(item, c))
                    for item in placed
                ]
                assert first_cell == sorted(first_cell)
            else:
                topics = [item.topic for item in placed]
                assert topics == sorted(topics)


def test_options_keep_their_order_when_shuffling_is_off_however_many_there_are():
    bank = random_bank(3, 40, kinds=(ItemKind.SINGLE, ItemKind.MULTIPLE), max_options=12)
    assert max(len(choices(item)) for item in bank) > 7
    for shuffle in (False, True):
        spec = ExamSpec(
            key="k",
            title="t",
            bank="b",
            bank_version=1,
            sections=(Section(title="一", count=40),),
            shuffle_options=shuffle,
        )
        compiled = compile_exam(spec, bank)
        for seed in range(20):
            assert_options_in_order(spec, bank, build_paper(compiled, seed))


def test_shuffled_options_and_items_really_move():
    bank = random_bank(5, 120, topics=2, kinds=(ItemKind.SINGLE, ItemKind.MATCHING))
    spec = ExamSpec(
        key="k", title="t", bank="b", bank_version=1, sections=(Section(title="一", count=30),)
    )
    compiled = compile_exam(spec, bank)
    by_key = {item.key: item for item in bank}
    placed = [p for seed in range(20) for p in build_paper(compiled, seed).items]
    moved = sum(p.order != choices(by_key[p.key]) for p in placed)
    assert moved > len(placed) // 2, "most items show their choices in a new order"
    topics = [[by_key[p.key].topic for p in build_paper(compiled, s).items] for s in range(20)]
    assert any(t != sorted(t) for t in topics), "items are shuffled within a section"


# ------------------------------------------------------------------------ seeds


SEED_INPUTS = {
    "exam": "final",
    "spec_version": 2,
    "bank": "physics",
    "bank_version": 3,
    "learner": "u-1",
    "attempt": 1,
}


@pytest.mark.parametrize(
    ("field", "other"),
    [
        ("exam", "midterm"),
        ("spec_version", 3),
        ("bank", "chemistry"),
        ("bank_version", 4),
        ("learner", "u-2"),
        ("attempt", 2),
    ],
)
def test_a_paper_seed_changes_with_each_of_its_inputs(field, other):
    base = paper_seed(SECRET, **SEED_INPUTS)
    assert paper_seed(SECRET, **{**SEED_INPUTS, field: other}) != base
    assert paper_seed(SECRET, **SEED_INPUTS) == base
    assert 0 <= base < 2**64


def test_a_paper_seed_changes_with_the_secret():
    assert paper_seed(b"one", **SEED_INPUTS) != paper_seed(b"two", **SEED_INPUTS)


def test_an_empty_paper_secret_is_refused():
    with pytest.raises(ValueError, match="secret"):
        paper_seed(b"", **SEED_INPUTS)


def test_a_long_paper_secret_is_accepted_and_all_of_it_counts():
    long = b"x" * 64 + b"tail-one"
    other = b"x" * 64 + b"tail-two"
    assert paper_seed(long, **SEED_INPUTS) != paper_seed(other, **SEED_INPUTS)
    assert paper_seed(b"k" * 10_000, **SEED_INPUTS) == paper_seed(b"k" * 10_000, **SEED_INPUTS)


def test_inputs_that_hold_the_separator_cannot_give_two_papers_one_seed():
    one = {**SEED_INPUTS, "bank": "y\x002\x00z", "bank_version": 3, "learner": "w"}
    two = {**SEED_INPUTS, "bank": "y", "bank_version": 2, "learner": "z\x003\x00w"}
    try:
        first = paper_seed(SECRET, **one)
        second = paper_seed(SECRET, **two)
    except ValueError:
        return  # refusing such inputs is as good
    assert first != second


# ------------------------------------------------------------------------ exposure, balance


def one_stratum_exam(n: int, quota: int, *, r_max: float = 1.0) -> CompiledExam:
    bank = random_bank(n * 100 + quota, n, topics=1, kinds=(ItemKind.TRUE_FALSE,))
    spec = ExamSpec(
        key="k",
        title="t",
        bank="b",
        bank_version=1,
        sections=(Section(title="一", count=quota),),
        r_max=r_max,
    )
    return compile_exam(spec, bank)


@pytest.mark.parametrize(("n", "quota"), [(40, 8), (60, 6), (90, 3), (25, 4), (10, 3)])
def test_every_item_of_a_stratum_appears_on_its_fair_share_of_papers(n, quota):
    papers = 20_000
    compiled = one_stratum_exam(n, quota)
    batch = assemble(compiled, np.arange(1, papers + 1, dtype=np.uint64) * 7919)
    share = exposure(compiled, batch)
    fair = quota / n
    tolerance = 5 * np.sqrt(fair * (1 - fair) / papers)
    assert share.sum() == pytest.approx(quota)
    assert np.abs(share - fair).max() <= tolerance, (
        f"exposure {share.min():.3f}–{share.max():.3f}, fair {fair:.3f}"
    )


def test_no_item_exceeds_the_exposure_cap_of_a_spec_that_validates():
    # 10 items, 3 a paper: r_max = 30 % is just met (validate accepts it).
    papers = 20_000
    compiled = one_stratum_exam(10, 3, r_max=0.3)
    share = exposure(compiled, assemble(compiled, np.arange(papers, dtype=np.uint64)))
    margin = 5 * np.sqrt(0.3 * 0.7 / papers)
    assert share.max() <= 0.3 + margin


def test_exposure_over_2000_papers_stays_near_quota_over_stratum_size_on_a_mixed_exam():
    bank = random_bank(21, 240, topics=3, kinds=(ItemKind.SINGLE, ItemKind.TRUE_FALSE))
    spec = ExamSpec(
        key="k",
        title="t",
        bank="b",
        bank_version=1,
        sections=(
            Section(title="单选", count=12, kind=ItemKind.SINGLE),
            Section(title="判断", count=8, kind=ItemKind.TRUE_FALSE),
        ),
    )
    compiled = compile_exam(spec, bank)
    papers = 2_000
    share = exposure(compiled, assemble(compiled, np.arange(papers, dtype=np.uint64)))
    index = {item.key: n for n, item in enumerate(bank)}
    for _, quota, pool in strata(spec, bank):
        if quota == 0:
            continue
        fair = quota / len(pool)
        # generous: band granularity (quota / stratum size rounded to whole bands) and noise
        bound = 1 / (len(pool) // quota) - fair + 5 * np.sqrt(fair * (1 - fair) / papers)
        for item in pool:
            assert abs(share[index[item.key]] - fair) <= bound


def test_paper_difficulty_varies_far_less_than_under_uniform_sampling():
    bank = random_bank(31, 200, topics=4, kinds=(ItemKind.SINGLE, ItemKind.TRUE_FALSE))
    cells = tuple(Cell(topic=t, count=4) for t in TOPICS[:4])
    spec = ExamSpec(
        key="k",
        title="t",
        bank="b",
        bank_version=1,
        sections=(
            Section(title="单选", count=16, kind=ItemKind.SINGLE, cells=cells),
            Section(title="判断", count=10, kind=ItemKind.TRUE_FALSE),
        ),
    )
    compiled = compile_exam(spec, bank)
    papers = 2_000
    balanced = assemble(compiled, np.arange(papers, dtype=np.uint64)).difficulty
    rng = np.random.default_rng(20240601)
    pools = [
        (quota, np.array([difficulty_logit(i.difficulty) for i in pool]))
        for _, quota, pool in strata(spec, bank)
    ]
    uniform = np.array(
        [
            np.concatenate(
                [rng.choice(logits, quota, replace=False) for quota, logits in pools]
            ).mean()
            for _ in range(papers)
        ]
    )
    assert abs(balanced.mean() - uniform.mean()) < 0.05, "both hit the same target on average"
    assert balanced.std() <= 0.5 * uniform.std()


# ------------------------------------------------------------------------ compiling


def test_compiling_an_infeasible_spec_raises_with_every_problem():
    bank = random_bank(2, 40, topics=2, kinds=(ItemKind.TRUE_FALSE,))
    spec = ExamSpec(
        key="final",
        title="t",
        bank="b",
        bank_version=1,
        sections=(
            Section(title="一", count=41),
            Section(title="二", count=2, kind=ItemKind.TRUE_FALSE),
        ),
    )
    with pytest.raises(SpecInvalidError) as raised:
        compile_exam(spec, bank)
    problems = validate(spec, bank)
    assert raised.value.problems == tuple(problems)
    assert [p.code for p in problems] == ["not-enough-items", "overlapping-sections"]
    assert raised.value.code == "spec_invalid"
    assert raised.value.message == "exam 'final' cannot be assembled: 2 problem(s)"
    assert raised.value.message_zh == "试卷 'final' 无法组卷：2 个问题"


def test_a_spec_with_only_warnings_compiles_and_lists_its_unused_strata():
    bank = random_bank(4, 40, topics=1, kinds=(ItemKind.TRUE_FALSE,))
    bank.append(
        Item(
            key="lonely",
            stem="s",
            body=TrueFalse(answer=True),
            topic="rare",
            difficulty=Difficulty(),
        )
    )
    spec = ExamSpec(
        key="k", title="t", bank="b", bank_version=1, sections=(Section(title="一", count=3),)
    )
    assert [p.code for p in validate(spec, bank)] == ["zero-quota"]
    compiled = compile_exam(spec, bank)
    assert unused_strata(compiled) == [("rare", 1)]
    assert all(p.key != "lonely" for seed in range(50) for p in build_paper(compiled, seed).items)
