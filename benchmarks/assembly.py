"""Paper-assembly benchmark: 10,000 papers from a generated 10,000-item bank and a
100-item blueprint, this assembler beside two baselines, in one run.

    .venv/bin/python -m benchmarks.assembly [--items 10000] [--papers 10000] [--runs 5]
    .venv/bin/python -m benchmarks.assembly --quick      # tiny sizes, seconds (CI)

Methods (each builds papers × slots item numbers):

- ours: ``examengine.assembly.assemble`` over seeds from ``paper_seed`` (one learner
  each); compiled once, outside the timing; its time includes the item and option
  shuffles, which the baselines leave out.
- (a) Moodle-style: every slot a uniformly random item of its category ("random
  question from category"), the categories being the same strata (cells, or topics of a
  section without cells), without replacement within a paper; no difficulty balancing,
  no enemy handling. Vectorised over papers with one numpy Generator; for the
  per-paper time, one Generator per paper, as Moodle builds each attempt.
- (b) simple random: each section's count drawn uniformly from the section's whole pool
  (its kind), ignoring topics and cells; no enemy handling.

Retakes: attempt-2 papers for the same learners; ours with ``exclude`` = the keys of
the learner's attempt-1 paper, the baselines drawn independently.

Measured for each method: time (batch, and one call per paper), spread of paper
difficulty, enemy conflicts, blueprint compliance, item exposure, pairwise overlap against
the design's floor, and repeats on retakes.

Calibrated assembly (issue 18, decision 0038), a second table in the same run: the bank
gets a calibration (each item's a and b as generated plus estimation noise, 5 % of items
without parameters, i.e. provisional), the same blueprint is compiled on it and assembled
three ways — ours (balanced on test information at θ_c), today's design on the
calibrated b (``balance="difficulty"``) and (a) Moodle-style — and for each: the time, the
SD across papers of the test information at θ_c and of the mean difficulty, and the
pass-decision fairness: for learners at θ_c − 0.25, θ_c and θ_c + 0.25, the probability
of passing each paper (exact, by the Lord–Wingersky recursion), and its spread across
papers (SD and max − min) under the raw 60 % mark and under the equated pass standard
(each paper's expected points at θ_c, rounded up to 0.01). The load average is printed
with it: the machine may be shared.

``--quick``: 2,000 items (at 1,000 some of the blueprint's cells go short and the spec
is refused), 200 papers, one timed run, 20 papers one call each: every method and
measure, under a second; the figures mean nothing.

Nothing here is a test: it prints a table; results go in docs/benchmarks.md.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import msgspec
import numpy as np
import numpy.typing as npt

from benchmarks import common
from examengine.assembly import CompiledExam, assemble, compile_exam, exposure, paper_seed
from examengine.blueprint import Cell, ExamSpec, PassStandard, Section
from examengine.equating import pass_probability
from itembank.irt import ItemParameters, probability
from itembank.model import (
    AcceptedText,
    Difficulty,
    FillBlank,
    Item,
    ItemKind,
    MultipleChoice,
    Option,
    SingleChoice,
    TrueFalse,
    option_id,
)

Matrix = npt.NDArray[np.int64]
T = TypeVar("T")

TOPICS = (
    "政策法规",
    "数字经济",
    "职业道德",
    "信息安全",
    "心理健康",
    "专业知识",
    "法治建设",
    "创新驱动",
)
#: Topics are not equally large in a real bank.
TOPIC_SHARES = (0.20, 0.16, 0.14, 0.12, 0.12, 0.10, 0.09, 0.07)
KINDS = (ItemKind.SINGLE, ItemKind.MULTIPLE, ItemKind.TRUE_FALSE, ItemKind.FILL_BLANK)
R_MAX = 0.25
SECRET = b"benchmark-paper-secret"
WITHIN = 0.05
RUNS = 5
PAIRS = 20_000


# ---------------------------------------------------------------------------- the bank


def generate_bank(n: int, seed: int = 2026) -> list[Item]:
    """``n`` items: four kinds, eight topics of unequal size, IRT b ~ N(0, 1), a ~
    lognormal; about 10 % of items in enemy groups of 2–4 items of one topic."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, len(KINDS), size=n)
    topic = rng.choice(len(TOPICS), size=n, p=TOPIC_SHARES)
    b = rng.normal(0.0, 1.0, size=n)
    a = rng.lognormal(0.0, 0.3, size=n)
    group: list[str | None] = [None] * n
    number = 0
    for t in range(len(TOPICS)):
        members = rng.permutation(np.flatnonzero(topic == t))
        members = members[: round(0.10 * len(members))]
        at = 0
        while len(members) - at >= 2:
            size = min(int(rng.integers(2, 5)), len(members) - at)
            if len(members) - at - size == 1:  # never leave a group of one
                size += 1
            for i in members[at : at + size].tolist():
                group[i] = f"g{number:05d}"
            number += 1
            at += size
    items = []
    for i in range(n):
        k = KINDS[int(kind[i])]
        body: SingleChoice | MultipleChoice | TrueFalse | FillBlank
        if k is ItemKind.SINGLE:
            body = SingleChoice(
                options=tuple(
                    Option(id=option_id(j), text=f"选项{j}", fraction=float(j == 0))
                    for j in range(4)
                )
            )
        elif k is ItemKind.MULTIPLE:
            body = MultipleChoice(
                options=tuple(
                    Option(id=option_id(j), text=f"说法{j}", fraction=0.5 if j < 2 else 0.0)
                    for j in range(5)
                )
            )
        elif k is ItemKind.TRUE_FALSE:
            body = TrueFalse(answer=bool(i % 2))
        else:
            body = FillBlank(answers=(AcceptedText(text=f"答案{i}"),))
        items.append(
            Item(
                key=f"q{i:06d}",
                stem=f"第{i}题",
                body=body,
                topic=TOPICS[int(topic[i])],
                difficulty=Difficulty(irt_a=round(float(a[i]), 3), irt_b=round(float(b[i]), 3)),
                enemy_group=group[i],
            )
        )
    return items


def blueprint(bank_version: int = 1) -> ExamSpec:
    """100 items in four sections: single choice by topic × band cells, true/false by
    topic cells, multiple choice and fill-in without cells (spread by topic size)."""
    single = tuple(
        Cell(topic=t, band=band, count=count)
        for t in TOPICS
        for band, count in ((2, 1), (3, 3), (4, 1))
    )
    true_false = tuple(
        Cell(topic=t, count=count)
        for t, count in zip(TOPICS, (3, 3, 3, 3, 2, 2, 2, 2), strict=True)
    )
    return ExamSpec(
        key="bench-exam",
        title="benchmark exam",
        bank="bench",
        bank_version=bank_version,
        r_max=R_MAX,
        sections=(
            Section(title="单选题", kind=ItemKind.SINGLE, count=40, cells=single),
            Section(title="多选题", kind=ItemKind.MULTIPLE, count=20),
            Section(title="判断题", kind=ItemKind.TRUE_FALSE, count=20, cells=true_false),
            Section(title="填空题", kind=ItemKind.FILL_BLANK, count=20),
        ),
    )


def seeds_for(papers: int, attempt: int, calibration: int | None = None) -> npt.NDArray[np.uint64]:
    return np.array(
        [
            paper_seed(
                SECRET,
                exam="bench-exam",
                spec_version=1,
                bank="bench",
                bank_version=1,
                learner=f"learner-{n:06d}",
                attempt=attempt,
                calibration=calibration,
            )
            for n in range(papers)
        ],
        dtype=np.uint64,
    )


# ---------------------------------------------------------------------------- baselines


def distinct_draws(rng: np.random.Generator, papers: int, pool: np.ndarray, count: int) -> Matrix:
    """``count`` distinct items of ``pool`` per paper, uniformly (rows with a repeat are
    drawn again until none is left)."""
    out = pool[rng.integers(0, len(pool), size=(papers, count))]
    if count < 2:
        return out
    while True:
        ordered = np.sort(out, axis=1)
        bad = np.flatnonzero((ordered[:, 1:] == ordered[:, :-1]).any(axis=1))
        if not bad.size:
            return out
        out[bad] = pool[rng.integers(0, len(pool), size=(len(bad), count))]


def slots_by(key: np.ndarray, groups: int) -> list[np.ndarray]:
    """The slots of each stratum (or section), as index arrays."""
    return [np.flatnonzero(key == g) for g in range(groups)]


def moodle_style(exam: CompiledExam, papers: int, rng: np.random.Generator) -> Matrix:
    """Per slot, a random item of the slot's category (its stratum), no repeats on a paper."""
    out = np.empty((papers, exam.length), dtype=np.int64)
    for s, slots in enumerate(slots_by(exam.slot_stratum, len(exam.stratum_start))):
        if slots.size:
            start, size = int(exam.stratum_start[s]), int(exam.stratum_len[s])
            pool = exam.pool[start : start + size].astype(np.int64)
            out[:, slots] = distinct_draws(rng, papers, pool, len(slots))
    return out


def simple_random(
    exam: CompiledExam, papers: int, rng: np.random.Generator, sections: list[np.ndarray]
) -> Matrix:
    """Each section's count from the section's whole pool, uniformly."""
    out = np.empty((papers, exam.length), dtype=np.int64)
    for slots, pool in zip(slots_by(exam.slot_section, len(sections)), sections, strict=True):
        out[:, slots] = distinct_draws(rng, papers, pool, len(slots))
    return out


def moodle_one(exam: CompiledExam, seed: int, by_stratum: list[np.ndarray]) -> Matrix:
    """One paper the way Moodle builds an attempt: a Generator of its own, then per
    category a draw of its slots' count without replacement."""
    rng = np.random.default_rng(seed)
    out = np.empty(exam.length, dtype=np.int64)
    for s, slots in enumerate(by_stratum):
        if len(slots):
            start = int(exam.stratum_start[s])
            picks = rng.choice(int(exam.stratum_len[s]), size=len(slots), replace=False)
            out[slots] = exam.pool[start + picks]
    return out


def simple_one(
    exam: CompiledExam, seed: int, sections: list[np.ndarray], by_section: list[np.ndarray]
) -> Matrix:
    """One paper of simple random sampling, with a Generator of its own."""
    rng = np.random.default_rng(seed)
    out = np.empty(exam.length, dtype=np.int64)
    for number, pool in enumerate(sections):
        slots = by_section[number]
        out[slots] = pool[rng.choice(len(pool), size=len(slots), replace=False)]
    return out


def per_paper_us(build: Callable[[int], object], seeds: list[int]) -> float:
    start = time.perf_counter()
    for seed in seeds:
        build(seed)
    return (time.perf_counter() - start) / len(seeds) * 1e6


def section_pools(exam: CompiledExam) -> list[np.ndarray]:
    """Every eligible item of each section (its kind), whatever its topic or band."""
    return [
        np.array(
            [n for n, item in enumerate(exam.items) if item.kind is section.kind], dtype=np.int64
        )
        for section in exam.spec.sections
    ]


# ---------------------------------------------------------------------------- measures


def shared_per_row(a: Matrix, b: Matrix) -> npt.NDArray[np.int64]:
    """How many items row i of ``a`` shares with row i of ``b`` (rows hold distinct items)."""
    both = np.sort(np.concatenate([a, b], axis=1), axis=1)
    shared: npt.NDArray[np.int64] = (both[:, 1:] == both[:, :-1]).sum(axis=1)
    return shared


def measure(
    exam: CompiledExam,
    item: Matrix,
    retake: Matrix,
    rng: np.random.Generator,
) -> dict[str, float]:
    papers, length = item.shape
    n_items = len(exam.items)
    difficulty = exam.logit[item].mean(axis=1)

    groups = np.sort(exam.enemy[item], axis=1)
    clash = ((groups[:, 1:] == groups[:, :-1]) & (groups[:, 1:] >= 0)).any(axis=1)

    strata = len(exam.stratum_start)
    stratum_of = np.full(n_items, -1, dtype=np.int64)
    for s in range(strata):
        start, size = int(exam.stratum_start[s]), int(exam.stratum_len[s])
        stratum_of[exam.pool[start : start + size]] = s
    quota = np.bincount(exam.slot_stratum, minlength=strata)
    st = stratum_of[item]
    outside = (st < 0).any(axis=1)
    flat = (np.arange(papers)[:, None] * strata + np.where(st < 0, 0, st)).ravel()
    counts = np.bincount(flat, minlength=papers * strata).reshape(papers, strata)
    compliant = ~outside & (counts == quota[None, :]).all(axis=1)

    r = np.bincount(item.ravel(), minlength=n_items) / papers
    closed_form = (papers * float((r**2).sum()) - length) / ((papers - 1) * length)
    first = rng.integers(0, papers, size=PAIRS)
    second = (first + rng.integers(1, papers, size=PAIRS)) % papers
    sampled = shared_per_row(item[first], item[second]).mean() / length

    repeated = shared_per_row(item, retake)
    return {
        "sd": float(difficulty.std()),
        "within": float((np.abs(difficulty - exam.target) <= WITHIN).mean()),
        "enemy": int(clash.sum()),
        "compliance": float(compliant.mean()),
        "max_exposure": float(r.max()),
        "unused": float((r == 0).mean()),
        "overlap": float(sampled),
        "closed_form": closed_form,
        "retake_papers": int((repeated > 0).sum()),
        "retake_items": float(repeated.mean()),
    }


def design_floor(exam: CompiledExam, papers: int) -> tuple[float, float]:
    """The overlap and the largest exposure when every item of stratum c has exposure
    q_c / n_c (uniform stratified sampling: the least overlap a blueprint allows)."""
    quota = np.bincount(exam.slot_stratum, minlength=len(exam.stratum_len))
    r = quota / exam.stratum_len
    sum_r2 = float((quota * r).sum())  # n_c items of exposure q_c / n_c each
    length = exam.length
    return (papers * sum_r2 - length) / ((papers - 1) * length), float(r.max())


def timed(fn: Callable[[], T], runs: int) -> tuple[float, T]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


# ---------------------------------------------------------------------------- calibrated

#: Learners this far either side of θ_c are simulated too.
AROUND = 0.25
#: Items without parameters in the benchmark's calibration (provisional).
UNCALIBRATED = 0.05


def calibration(items: Sequence[Item], seed: int = 18) -> dict[str, ItemParameters]:
    """A calibration of the bank: each item's generated a and b plus estimation noise
    (SD 0.1 logit on b, 5 % on a); ``UNCALIBRATED`` of the items get none."""
    rng = np.random.default_rng(seed)
    out = {}
    for item in items:
        d = item.difficulty
        if rng.random() < UNCALIBRATED or d.irt_a is None or d.irt_b is None:
            continue
        out[item.key] = ItemParameters(
            a=d.irt_a * float(np.exp(rng.normal(0.0, 0.05))),
            b=d.irt_b + float(rng.normal(0.0, 0.1)),
        )
    return out


def fairness(exam: CompiledExam, item: Matrix) -> list[tuple[float, float, float, float]]:
    """For learners at θ_c − AROUND, θ_c, θ_c + AROUND: (SD, max − min) across papers of
    P(pass) under the raw 60 % mark, then under the equated standard."""
    assert exam.theta_cut is not None
    points = exam.item_points[item[0]]
    assert np.all(points == points[0]) and float(points[0]).is_integer()
    whole = [int(points[0])] * item.shape[1]
    maximum = sum(whole)
    equated = np.ceil(exam.points_cut[item].sum(axis=1) * 100 - 1e-9) / 100
    out = []
    for theta in (exam.theta_cut - AROUND, exam.theta_cut, exam.theta_cut + AROUND):
        p = probability(theta, exam.a[item], exam.b[item])
        raw = pass_probability(p, whole, exam.spec.pass_mark * maximum)
        eq = pass_probability(p, whole, equated)
        out.append((float(raw.std()), float(np.ptp(raw)), float(eq.std()), float(np.ptp(eq))))
    return out


def calibrated_table(items: list[Item], spec: ExamSpec, papers: int, runs: int) -> None:
    parameters = calibration(items)
    equated = msgspec.structs.replace(spec, calibration=1, pass_standard=PassStandard.EQUATED)
    start = time.perf_counter()
    ours = compile_exam(equated, items, parameters)
    compile_s = time.perf_counter() - start
    today = compile_exam(equated, items, parameters, balance="difficulty")
    seeds = seeds_for(papers, 1, calibration=1)
    ours_s, batch = timed(lambda: assemble(ours, seeds), runs)
    today_s, batch_today = timed(lambda: assemble(today, seeds), runs)
    rng = np.random.default_rng(11)
    moodle_s, moodle = timed(lambda: moodle_style(ours, papers, rng), runs)
    drawn = [batch.item.astype(np.int64), batch_today.item.astype(np.int64), moodle]
    info = [ours.info_cut[m].sum(axis=1) for m in drawn]
    difficulty = [ours.logit[m].mean(axis=1) for m in drawn]
    fair = [fairness(ours, m) for m in drawn]
    exposures = [np.bincount(m.ravel(), minlength=len(items)).max() / papers for m in drawn]
    # the guarantees of decision 0005 (the retake columns of ``measure`` are not used here)
    guarantees = [measure(ours, m, m, np.random.default_rng(5)) for m in drawn]
    floor, _ = design_floor(ours, papers)
    load = os.getloadavg()

    print(
        f"\nCalibrated assembly: the same {papers:,} learners, the blueprint on a calibration "
        f"of the bank ({len(parameters):,} items with a, b; {len(items) - len(parameters):,} "
        f"provisional); θ_c = {ours.theta_cut:+.3f} (where the expected paper scores "
        f"{spec.pass_mark:.0%}); compiled in {compile_s:.3f} s (once, not timed below); "
        f"load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1 / 5 / 15 min) on "
        f"{os.cpu_count()} CPUs\n"
    )
    print(
        "| measure | goal | ours (information at θ_c) | today's design on calibrated b "
        "| (a) Moodle-style per-slot random |"
    )
    print("| --- | --- | ---: | ---: | ---: |")

    def row(name: str, goal: str, cells: list[str]) -> None:
        print(f"| {name} | {goal} | " + " | ".join(cells) + " |")

    row(
        f"time to assemble {papers:,} papers (s)",
        "≤ 0.2",
        [f"{t:.3f}" for t in (ours_s, today_s, moodle_s)],
    )
    row(
        "SD of test information at θ_c",
        f"≤ ½ of today's = {info[1].std() / 2:.3f} and ≤ ½ of (a) = {info[2].std() / 2:.3f}",
        [f"{i.std():.3f} (mean {i.mean():.2f})" for i in info],
    )
    row(
        "SD of paper mean difficulty (logits)",
        f"≤ today's = {difficulty[1].std():.4f}",
        [f"{d.std():.4f}" for d in difficulty],
    )
    row("max item exposure", f"≤ r_max = {spec.r_max}", [f"{e:.4f}" for e in exposures])
    row("papers with an enemy conflict", "0", [f"{g['enemy']:,}" for g in guarantees])
    row("blueprint compliance", "100 %", [f"{g['compliance']:.1%}" for g in guarantees])
    row(
        f"mean pairwise overlap, {PAIRS:,} sampled pairs",
        f"within 10 % of floor {floor:.4f}",
        [f"{g['overlap']:.4f} ({g['overlap'] / floor - 1:+.1%})" for g in guarantees],
    )
    for at, label in enumerate(("θ_c − 0.25", "θ_c", "θ_c + 0.25")):
        row(
            f"P(pass) at {label}: SD across papers, raw 60 % → equated",
            "equated < raw",
            [f"{f[at][0]:.4f} → {f[at][2]:.4f}" for f in fair],
        )
        row(
            f"P(pass) at {label}: max − min across papers, raw 60 % → equated",
            "",
            [f"{f[at][1]:.3f} → {f[at][3]:.3f}" for f in fair],
        )


# ---------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> None:
    parser = common.parser("benchmarks.assembly", __doc__)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--papers", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs (median)")
    parser.add_argument(
        "--single", type=int, default=2_000, help="papers built one call each (per-paper time)"
    )
    args = common.parse(parser, argv, {"items": 2_000, "papers": 200, "runs": 1, "single": 20})
    papers, runs = args.papers, args.runs

    start = time.perf_counter()
    items = generate_bank(args.items)
    generate_s = time.perf_counter() - start
    spec = blueprint()
    start = time.perf_counter()
    exam = compile_exam(spec, items)
    compile_s = time.perf_counter() - start
    plain = compile_exam(
        msgspec.structs.replace(spec, shuffle_items=False, shuffle_options=False), items
    )
    start = time.perf_counter()
    seeds1, seeds2 = seeds_for(papers, 1), seeds_for(papers, 2)
    seed_s = (time.perf_counter() - start) / 2
    pools = section_pools(exam)
    by_stratum = slots_by(exam.slot_stratum, len(exam.stratum_start))
    by_section = slots_by(exam.slot_section, len(pools))
    grouped = sum(1 for i in items if i.enemy_group)

    ours_s, batch = timed(lambda: assemble(exam, seeds1), runs)
    plain_s, _ = timed(lambda: assemble(plain, seeds1), runs)
    ours = batch.item.astype(np.int64)
    exclude = [[exam.keys[i] for i in row] for row in ours.tolist()]
    retake_s, batch2 = timed(lambda: assemble(exam, seeds2, exclude=exclude), runs)
    ours2 = batch2.item.astype(np.int64)
    assert np.isclose(exposure(exam, batch).sum(), exam.length)

    rng = np.random.default_rng(11)
    moodle_s, moodle = timed(lambda: moodle_style(exam, papers, rng), runs)
    moodle2 = moodle_style(exam, papers, rng)
    simple_s, simple = timed(lambda: simple_random(exam, papers, rng, pools), runs)
    simple2 = simple_random(exam, papers, rng, pools)

    one = seeds1[: args.single].tolist()
    single_us = [
        per_paper_us(lambda seed: assemble(exam, [seed]), one),
        per_paper_us(lambda seed: moodle_one(exam, seed, by_stratum), one),
        per_paper_us(lambda seed: simple_one(exam, seed, pools, by_section), one),
    ]

    measured = [
        measure(exam, ours, ours2, np.random.default_rng(5)),
        measure(exam, moodle, moodle2, np.random.default_rng(5)),
        measure(exam, simple, simple2, np.random.default_rng(5)),
    ]
    floor, floor_max = design_floor(exam, papers)

    print(
        f"\nPaper assembly: {papers:,} papers of {exam.length} items from a generated "
        f"{len(items):,}-item bank ({len(exam.stratum_len)} strata, {grouped:,} items in "
        f"enemy groups), r_max = {spec.r_max}; target mean difficulty {exam.target:+.4f} "
        f"logits"
    )
    print(
        f"bank generated in {generate_s:.2f} s; spec validated + compiled in {compile_s:.3f} s "
        f"(once, not timed below); {papers:,} paper seeds (keyed BLAKE2b) in {seed_s:.3f} s; "
        f"times are medians of {runs} runs\n"
    )

    def row(name: str, goal: str, cells: list[str]) -> None:
        print(f"| {name} | {goal} | " + " | ".join(cells) + " |")

    def each(fmt: Callable[[dict[str, float]], str]) -> list[str]:
        return [fmt(m) for m in measured]

    print("| measure | goal | ours | (a) Moodle-style per-slot random | (b) simple random |")
    print("| --- | --- | ---: | ---: | ---: |")
    row(
        f"time to assemble {papers:,} papers (s)",
        "≤ 0.2",
        [f"{t:.3f}" for t in (ours_s, moodle_s, simple_s)],
    )
    row("… without item and option shuffles (s)", "", [f"{plain_s:.3f}", "–", "–"])
    row(
        f"time per paper, one call per paper ({len(one):,} papers, µs)",
        "",
        [f"{us:,.0f}" for us in single_us],
    )
    row(f"time to assemble {papers:,} retakes (s)", "", [f"{retake_s:.3f}", "–", "–"])
    row(
        "SD of paper mean difficulty (logits)",
        f"≤ ½ of (a) = {measured[1]['sd'] / 2:.4f}",
        each(lambda m: f"{m['sd']:.4f}"),
    )
    row(f"papers within ±{WITHIN} of target", "", each(lambda m: f"{m['within']:.1%}"))
    row("papers with an enemy conflict", "0", each(lambda m: f"{m['enemy']:,}"))
    row("blueprint compliance", "100 %", each(lambda m: f"{m['compliance']:.1%}"))
    row(
        "max item exposure",
        f"≤ r_max = {spec.r_max} (design {floor_max:.3f})",
        each(lambda m: f"{m['max_exposure']:.4f}"),
    )
    row("items never used", "", each(lambda m: f"{m['unused']:.1%}"))
    row(
        f"mean pairwise overlap, {PAIRS:,} sampled pairs",
        f"within 10 % of floor {floor:.4f}",
        each(lambda m: f"{m['overlap']:.4f} ({m['overlap'] / floor - 1:+.1%})"),
    )
    row(
        "closed form (P·Σr² − L)/((P−1)·L), measured r",
        f"floor {floor:.4f}",
        each(lambda m: f"{m['closed_form']:.4f}"),
    )
    row(
        "retake: papers repeating an attempt-1 item",
        "0",
        each(lambda m: f"{m['retake_papers']:,}"),
    )
    row(
        "retake: repeated items per paper (mean)",
        "0",
        each(lambda m: f"{m['retake_items']:.2f}"),
    )
    print(
        f"\nours on retakes (exclude = the attempt-1 paper's keys): the assembler reported "
        f"{int(batch2.repeats.sum()):,} forced repeats and "
        f"{int(batch2.enemy_conflicts.sum()):,} enemy conflicts left; "
        f"{len(exam.zero_quota)} strata with a zero quota."
    )
    calibrated_table(items, spec, papers, runs)


if __name__ == "__main__":
    main()
