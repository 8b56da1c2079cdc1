"""Paper assembly: a different, equally hard paper for every learner, rebuilt exactly
from its seed.

A paper is a pure function of (exam spec version, bank version, learner, attempt number,
server secret). ``paper_seed`` turns those into a 64-bit seed with a keyed BLAKE2b, so a
learner cannot predict a paper without the secret. Every random number of a paper then
comes from a counter-based hash of that seed (splitmix64: seed, purpose, counter), not
from a stateful generator, so a paper never depends on which other papers are built in
the same batch, on the order they are built in, or on numpy's stream layout.

How a paper is drawn (the design measured in shared/HOTPATHS.md):

1. ``compile_exam`` (once per spec and bank version) sorts each stratum's items by
   difficulty — a stratum is a blueprint cell, or a topic of a section without cells.
2. Each stratum is drawn by systematic sampling over its sorted items: with n items and
   quota q, the items at ``floor((k + u) · n / q)`` for k = 0 … q-1. The draw spreads
   evenly over the stratum's difficulty range, never takes an item twice, and gives
   every item an exposure of exactly ``q / n`` (the least any fair design can give, and
   what the feasibility rule ``n ≥ q / r_max`` assumes). The ``u`` of a paper's strata
   form a Latin hypercube — ``(rank + jitter) / S`` with ``rank`` a random permutation —
   so strata drawn on their easy side are offset by strata drawn on their hard side and
   every paper's mean difficulty lands near the target.
3. Repairs, only on the papers that need them: two items of one enemy group, or an item
   the learner saw in an earlier attempt, move to the next free item of the same band
   (then of the same stratum); a retake repeats an item only when the stratum has no
   other.
4. Items are shuffled within their sections and options within their items (options
   marked ``fixed`` keep their places), from the same seed.

On a calibrated exam (``compile_exam`` with item parameters, decision 0038) step 2 balances
the papers' test information at the cut θ_c as well as their difficulty: a stratum's
items are ordered in bands, each band in rows by difficulty and each row by information
at θ_c, and the offsets come from two weighted circles instead of one Latin hypercube —
still uniform for every stratum, so every item keeps exposure exactly q/n. The paper
then records its information at θ_c and, under the equated pass standard, the points it
needs (``examengine.equating``).

Everything is vectorised over arrays of papers × slots; Python loops run only over the
few papers that need a repair.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Literal

import msgspec
import numpy as np
import numpy.typing as npt
from msgspec import Struct

from examengine.blueprint import (
    EQUATED_NEEDS_CALIBRATION,
    ExamSpec,
    PassStandard,
    eligible,
    in_cell,
    topic_quotas,
    validate,
)
from examengine.equating import expected_paper_cut, round_up
from examengine.errors import SpecInvalidError
from itembank.irt import ItemParameters, information, probability
from itembank.model import Item, Matching, MultipleChoice, SingleChoice, difficulty_logit

U64 = npt.NDArray[np.uint64]
I32 = npt.NDArray[np.int32]

# Purposes: each kind of random number has its own stream of the paper's seed.
_DRAW_RANK = 1
_DRAW_JITTER = 2
_ITEM_ORDER = 3
_OPTION_ORDER = 4
_ARC_ORDER = 5
_ARC_SHIFT_DIFFICULTY = 6
_ARC_SHIFT_INFORMATION = 7

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


# --------------------------------------------------------------------------- seeds


def paper_seed(
    secret: bytes,
    *,
    exam: str,
    spec_version: int,
    bank: str,
    bank_version: int,
    learner: str,
    attempt: int,
    calibration: int | None = None,
) -> int:
    """The 64-bit seed of one paper: BLAKE2b keyed with the server's paper secret.

    The inputs are joined with NUL, which they may not contain, so no two different
    inputs give the same message. ``calibration`` (the bank calibration a calibrated
    exam assembles on) is appended as a seventh part; without one the message is the
    six parts it always was, so the seeds of uncalibrated exams never change. Raises
    ``ValueError`` for an empty secret or a NUL.
    """
    if not secret:
        raise ValueError("the paper secret must not be empty")
    if any("\x00" in text for text in (exam, bank, learner)):
        raise ValueError("exam, bank and learner must not contain NUL characters")
    key = hashlib.blake2b(secret, digest_size=32).digest() if len(secret) > 64 else secret
    parts: tuple[str, ...] = (
        exam,
        str(spec_version),
        bank,
        str(bank_version),
        learner,
        str(attempt),
    )
    if calibration is not None:
        parts = (*parts, f"calibration={calibration}")
    message = "\x00".join(parts).encode()
    digest = hashlib.blake2b(message, key=key, digest_size=8, person=b"examengine-paper").digest()
    return int.from_bytes(digest, "big")


def _mix(x: U64) -> U64:
    """splitmix64's finaliser: a bijective 64-bit hash (wrapping uint64 arithmetic)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def random_bits(seeds: U64, purpose: int, count: int) -> U64:
    """``count`` 64-bit random numbers per seed (papers × count) for ``purpose``."""
    stream = _mix(seeds ^ _mix(np.full(1, purpose, dtype=np.uint64)))
    counters = np.arange(1, count + 1, dtype=np.uint64) * _GOLDEN
    return _mix(stream[:, None] + counters[None, :])


def uniforms(seeds: U64, purpose: int, count: int) -> npt.NDArray[np.float64]:
    """``count`` uniform numbers in [0, 1) per seed, 53 bits each."""
    return (random_bits(seeds, purpose, count) >> np.uint64(11)).astype(np.float64) * 2.0**-53


# ------------------------------------------------------------------------ compiling


class CompiledExam:
    """A spec and its bank version as arrays, built once and used for every paper.

    ``items`` are the bank's items; every other array is indexed by item number
    (``logit``, ``enemy``, option counts) or by slot (``slot_*``, one per item a paper
    holds, in blueprint order).
    """

    def __init__(
        self,
        spec: ExamSpec,
        items: Sequence[Item],
        parameters: Mapping[str, ItemParameters] | None = None,
        *,
        balance: Balance | None = None,
    ) -> None:
        self.spec = spec
        self.items = tuple(items)
        self.keys = tuple(item.key for item in items)
        self.number = {key: n for n, key in enumerate(self.keys)}
        self.logit = np.array([difficulty_logit(i.difficulty) for i in items], dtype=np.float64)
        groups = {
            g: n for n, g in enumerate(sorted({i.enemy_group for i in items if i.enemy_group}))
        }
        self.enemy = np.array(
            [groups[i.enemy_group] if i.enemy_group else -1 for i in items], dtype=np.int32
        )
        self.enemy_list: list[int] = self.enemy.tolist()
        pools, quotas, sections = _strata(spec, items)
        self.zero_quota = [pool for pool, quota in zip(pools, quotas, strict=True) if quota == 0]
        #: Calibrated exams only (``parameters`` given): per item a, b and whether the
        #: parameters are provisional (authored logit, a = 1), its points on a paper, the
        #: probability ``q / n`` a paper holds it, θ_c, and its information at θ_c.
        self.calibrated = parameters is not None
        self.theta_cut: float | None = None
        #: How papers are balanced: "difficulty" (a Latin hypercube over strata sorted by
        #: difficulty, the design of decision 0005 and the only one without parameters)
        #: or "information" (decision 0038: calibrated exams).
        self.balance: Balance = balance or ("information" if self.calibrated else "difficulty")
        if self.balance == "information" and not self.calibrated:
            raise ValueError("balancing on information needs item parameters")
        if parameters is not None:
            self._calibrate(parameters, pools, quotas, sections)
        self._build_slots(pools, quotas, sections)
        if self.balance == "information":
            self._balance_weights()
        self._build_options(items)

    def _calibrate(
        self,
        parameters: Mapping[str, ItemParameters],
        pools: list[list[int]],
        quotas: list[int],
        sections: list[int],
    ) -> None:
        found = [_usable(parameters.get(key)) for key in self.keys]
        self.provisional = np.array([p is None or p.provisional for p in found], dtype=bool)
        self.a = np.array([1.0 if p is None else p.a for p in found], dtype=np.float64)
        self.b = np.array(
            [self.logit[n] if p is None else p.b for n, p in enumerate(found)], dtype=np.float64
        )
        self.logit = self.b.copy()
        self.item_points = np.array([item.points for item in self.items], dtype=np.float64)
        self.inclusion = np.zeros(len(self.items), dtype=np.float64)
        for pool, quota, section in zip(pools, quotas, sections, strict=True):
            if pool:
                self.inclusion[pool] = quota / len(pool)
                fixed = self.spec.sections[section].points
                if fixed is not None:
                    self.item_points[pool] = fixed
        spec = self.spec
        by_key = np.array(sorted(range(len(self.keys)), key=self.keys.__getitem__), dtype=np.int64)
        self.theta_cut = (  # summed in key order: the same whatever the bank's order
            spec.theta_cut
            if spec.theta_cut is not None
            else expected_paper_cut(
                self.a[by_key],
                self.b[by_key],
                self.item_points[by_key],
                self.inclusion[by_key],
                spec.pass_mark,
            )
        )
        self.info_cut = information(self.theta_cut, self.a, self.b)
        #: Expected points of each item at θ_c (its share of a paper's TCC there).
        self.points_cut = self.item_points * probability(self.theta_cut, self.a, self.b)

    def _build_slots(self, pools: list[list[int]], quotas: list[int], sections: list[int]) -> None:
        sorted_pools = [sorted(pool, key=lambda i: (self.logit[i], self.keys[i])) for pool in pools]
        if self.balance == "information":
            spread = _spreads(self.logit, self.info_cut, sorted_pools, quotas)
            sorted_pools = [
                self._information_order(pool, quota, by_information=bool(info))
                for pool, quota, info in zip(sorted_pools, quotas, spread, strict=True)
            ]
        self.pool = np.array([i for pool in sorted_pools for i in pool], dtype=np.int32)
        self.pool_list: list[int] = self.pool.tolist()
        starts = np.cumsum([0, *[len(p) for p in sorted_pools]])[:-1]
        self.stratum_start = np.asarray(starts, dtype=np.int64)
        self.stratum_len = np.array([len(p) for p in sorted_pools], dtype=np.int64)
        self.stratum_quota = np.array(quotas, dtype=np.int64)
        stratum = [s for s, quota in enumerate(quotas) for _ in range(quota)]
        band = [b for quota in quotas for b in range(quota)]
        self.slot_stratum = np.array(stratum, dtype=np.int32)
        self.slot_band = np.array(band, dtype=np.int64)
        self.slot_section = np.array([sections[s] for s in stratum], dtype=np.int32)
        # Band k of a stratum of n items with quota q covers positions [k·n/q, (k+1)·n/q);
        # as whole positions, the draws of band k fall in [floor(k·n/q), ceil((k+1)·n/q)).
        n = self.stratum_len[self.slot_stratum]
        q = self.stratum_quota[self.slot_stratum]
        lo = self.slot_band * n // q
        hi = -(-(self.slot_band + 1) * n // q)
        self.slot_start = self.stratum_start[self.slot_stratum] + lo
        self.slot_len = hi - lo
        used = [(s, q) for s, q in enumerate(quotas) if q]
        #: The mean difficulty (logit) a paper has on average: the papers' target. Every
        #: item of stratum s is drawn with probability q_s / n_s.
        total = sum(q for _, q in used)
        self.target = (
            float(sum(q * self.logit[sorted_pools[s]].mean() for s, q in used) / total)
            if total
            else 0.0
        )

    def _information_order(self, pool: list[int], quota: int, *, by_information: bool) -> list[int]:
        """A stratum's items in the order systematic sampling walks them on a calibrated
        exam (decision 0038): ``quota`` bands (by information at θ_c when the stratum
        spreads the papers' information more than their difficulty, else by difficulty),
        each band in ``ROWS`` rows by difficulty, each row by information at θ_c. The
        draw's coarse offset picks the row, its fine offset the place in the row."""
        if not pool or quota == 0:
            return pool
        info = self.info_cut
        if by_information:
            pool = sorted(pool, key=lambda i: (info[i], self.keys[i]))
        n = len(pool)
        bands: list[list[int]] = [[] for _ in range(quota)]
        for p, item in enumerate(pool):
            bands[(2 * p + 1) * quota // (2 * n)].append(item)
        ordered: list[int] = []
        for band in bands:
            band.sort(key=lambda i: (self.logit[i], self.keys[i]))
            size = len(band)
            rows: list[list[int]] = [[] for _ in range(ROWS)]
            for at, item in enumerate(band):
                rows[(2 * at + 1) * ROWS // (2 * size)].append(item)
            for row in rows:
                ordered.extend(sorted(row, key=lambda i: (info[i], self.keys[i])))
        return ordered

    def _balance_weights(self) -> None:
        """Per stratum, how much its draw moves a paper's difficulty and information:
        the SD, over the offset u, of the sum of its slots' b (and information at θ_c).
        The strata's offsets are laid around a circle in lengths proportional to these
        (``_circle_offsets``), so a stratum that moves a paper more gets a wider arc."""
        grid = (np.arange(_WEIGHT_GRID) + 0.5) / _WEIGHT_GRID
        n = self.stratum_len[self.slot_stratum]
        q = self.stratum_quota[self.slot_stratum]
        position = ((self.slot_band[None, :] + grid[:, None]) * n / q).astype(np.int64)
        chosen = self.pool[self.stratum_start[self.slot_stratum] + np.minimum(position, n - 1)]
        strata = len(self.stratum_len)
        weights = []
        for value in (self.logit, self.info_cut):
            per_slot = value[chosen]  # grid × slots
            sums = np.zeros((_WEIGHT_GRID, strata))
            np.add.at(sums.T, self.slot_stratum, per_slot.T)
            weights.append(sums)
        spread = weights[0].std(axis=0)
        total = float(spread.sum())
        self.weight_difficulty = spread / total if total > 0 else np.full(strata, 1.0 / strata)
        #: Per row and stratum: the spread of its information over the row's offsets.
        rows = np.floor(grid * ROWS).astype(np.int64)
        self.weight_information = np.stack(
            [weights[1][rows == c].std(axis=0) + 1e-12 for c in range(ROWS)]
        )
        step = max(1, round(strata * 0.618))
        while math.gcd(step, strata) != 1:
            step += 1
        #: The second circle's order: place i holds the first order's place stride[i].
        self.stride = (np.arange(strata) * step) % strata
        self.stride_place = np.empty(strata, dtype=np.int64)
        self.stride_place[self.stride] = np.arange(strata)

    def _build_options(self, items: Sequence[Item]) -> None:
        counts = [len(_choices(item)) for item in items]
        self.max_options = max(counts, default=0)
        self.option_count = np.array(counts, dtype=np.int32)
        fixed = np.zeros((len(items), max(self.max_options, 1)), dtype=bool)
        for n, item in enumerate(items):
            body = item.body
            if isinstance(body, SingleChoice | MultipleChoice):
                for j, option in enumerate(body.options):
                    fixed[n, j] = option.fixed
        self.option_fixed = fixed
        #: Per item, the indexes of its options that may move (padded with -1), and how many.
        movable = np.full_like(fixed, -1, dtype=np.int8)
        count = np.zeros(len(items), dtype=np.int32)
        for n, total in enumerate(counts):
            places = [j for j in range(total) if not fixed[n, j]]
            movable[n, : len(places)] = places
            count[n] = len(places)
        self.movable = movable
        self.movable_count = count
        #: Items whose options all move (the fast path of option shuffling).
        self.plain = count == self.option_count

    @property
    def length(self) -> int:
        return len(self.slot_start)


def _choices(item: Item) -> tuple[str, ...]:
    """What a paper orders within an item: option ids, or a matching item's answers."""
    body = item.body
    if isinstance(body, SingleChoice | MultipleChoice):
        return tuple(o.id for o in body.options)
    if isinstance(body, Matching):
        return (*(p.answer for p in body.pairs), *body.distractors)
    return ()


def _strata(spec: ExamSpec, items: Sequence[Item]) -> tuple[list[list[int]], list[int], list[int]]:
    """The item numbers, quota and section of every stratum, in blueprint order."""
    pools: list[list[int]] = []
    quotas: list[int] = []
    sections: list[int] = []
    for number, section in enumerate(spec.sections):
        pool = [n for n, item in enumerate(items) if eligible(item, section)]
        if section.cells:
            for cell in section.cells:
                pools.append([n for n in pool if in_cell(items[n], cell)])
                quotas.append(cell.count)
                sections.append(number)
            continue
        by_topic: dict[str, list[int]] = {}
        for n in pool:
            by_topic.setdefault(items[n].topic, []).append(n)
        shares = topic_quotas(section.count, {t: len(p) for t, p in by_topic.items()})
        for topic in sorted(by_topic):
            pools.append(by_topic[topic])
            quotas.append(shares[topic])
            sections.append(number)
    return pools, quotas, sections


def _usable(parameters: ItemParameters | None) -> ItemParameters | None:
    """An item's parameters if assembly can use them: a positive, finite discrimination
    and a finite difficulty. An item that discriminates the wrong way (a ≤ 0, which a
    2PL fit can give a flawed item) is treated as having none: its authored logit, a = 1."""
    if parameters is None:
        return None
    a, b = parameters.a, parameters.b
    return parameters if math.isfinite(a) and a > 0 and math.isfinite(b) else None


def _spreads(
    logit: npt.NDArray[np.float64],
    info: npt.NDArray[np.float64],
    pools: list[list[int]],
    quotas: list[int],
) -> list[bool]:
    """Per stratum: does it spread the papers' information more than their difficulty?

    Each stratum's share of the spread of uniformly drawn papers, for difficulty
    (q · var b) and for information (q · var I(θ_c)), each over all strata; a stratum
    whose share of information is the larger is banded by information (decision 0038).
    """
    shares = []
    for value in (logit, info):
        spread = np.array(
            [q * value[p].var() if p else 0.0 for p, q in zip(pools, quotas, strict=True)]
        )
        total = float(spread.sum())
        shares.append(spread / total if total > 0 else spread)
    return [bool(i > d) for d, i in zip(*shares, strict=True)]


Balance = Literal["difficulty", "information"]

#: Rows by difficulty in each band of a calibrated stratum (decision 0038: 2 measured best).
ROWS = 2
#: Offsets at which a stratum's draw is evaluated to weigh it.
_WEIGHT_GRID = 256


def compile_exam(
    spec: ExamSpec,
    items: Sequence[Item],
    parameters: Mapping[str, ItemParameters] | None = None,
    *,
    balance: Balance | None = None,
) -> CompiledExam:
    """Check ``spec`` against ``items`` and compile it for assembly.

    ``parameters``: the item parameters of the spec's calibration (item key → a, b);
    items without parameters keep their authored difficulty as b, with a = 1 (as
    provisional). Without parameters the exam is assembled on the authored labels,
    exactly as before calibrations existed. ``balance``: "information" (the default with
    parameters) or "difficulty" (the uncalibrated design on calibrated b; kept for the
    benchmark's comparison).

    Raises ``SpecInvalidError`` with every problem when the spec cannot be assembled
    (an equated pass standard needs parameters too). Warnings (a topic with a zero
    quota) do not stop it; they stay on ``zero_quota``.
    """
    problems = validate(spec, items)
    if (
        parameters is None
        and spec.pass_standard is PassStandard.EQUATED
        and EQUATED_NEEDS_CALIBRATION not in problems
    ):
        problems.append(EQUATED_NEEDS_CALIBRATION)
    if any(p.severity == "error" for p in problems):
        raise SpecInvalidError(spec.key, problems)
    return CompiledExam(spec, items, parameters, balance=balance)


# ------------------------------------------------------------------------ assembling


class PaperItem(Struct, frozen=True, kw_only=True, array_like=True):
    """One item of a paper: its key, section number (0-based), points, and the order in
    which its options (or a matching item's answers) are shown."""

    key: str
    section: int
    points: float
    order: tuple[str, ...] = ()


def _no_repeats() -> int:
    return 0


class Paper(Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A learner's paper: the seed it was built from and its items in order.

    The calibration fields are left out of the JSON when None, so an uncalibrated
    paper encodes to the same bytes as before they existed; ``repeats`` has a default
    factory because ``omit_defaults`` never leaves out a field whose default comes from
    a factory of one's own, so it stays in the JSON as it always was (pinned by
    tests/unit/examengine/test_assembly_uncalibrated_pins.py).
    """

    seed: str
    items: tuple[PaperItem, ...]
    difficulty: float
    #: Items repeated from an earlier attempt because their stratum had no other.
    repeats: int = msgspec.field(default_factory=_no_repeats)
    #: Calibrated exams: the paper's test information at θ_c.
    information: float | None = None
    #: Calibrated exams: the cut ability θ_c (logits).
    theta_cut: float | None = None
    #: Equated pass standard: the points this paper needs (its TCC at θ_c, rounded up
    #: to 0.01 point; ``examengine.equating``).
    pass_score: float | None = None


class PaperBatch(Struct, frozen=True, kw_only=True):
    """Many papers as arrays: ``item`` (papers × slots, item numbers in the order shown),
    ``section`` of each position, ``options`` (papers × slots × options: the order of
    each item's choices, -1 padded), and per paper the mean difficulty and repeats;
    calibrated exams also the test information at θ_c and the expected points at θ_c
    (the equated pass mark before rounding)."""

    seeds: U64
    item: I32
    section: I32
    options: npt.NDArray[np.int8]
    difficulty: npt.NDArray[np.float64]
    repeats: I32
    enemy_conflicts: I32
    information: npt.NDArray[np.float64] | None = None
    expected: npt.NDArray[np.float64] | None = None


def assemble(
    exam: CompiledExam,
    seeds: Sequence[int] | U64,
    *,
    exclude: Sequence[Collection[str]] | None = None,
) -> PaperBatch:
    """The papers for ``seeds`` (one per learner and attempt), all at once.

    ``exclude`` gives, per seed, the keys of items the learner saw in earlier attempts
    (used when the spec's ``exclude_seen`` is on). Each paper depends only on its own
    seed and exclusions, never on the rest of the batch.
    """
    s = np.asarray(seeds, dtype=np.uint64).reshape(-1)
    papers, slots = len(s), exam.length
    position = _draw(exam, s)
    seen = _seen_keys(exam, exclude, papers) if exam.spec.exclude_seen else _NOTHING
    stuck = _skip_seen(exam, position, seen) if seen.size else _NOTHING
    chosen = exam.pool[position].astype(np.int64)
    repeats = np.zeros(papers, dtype=np.int32)
    conflicts = np.zeros(papers, dtype=np.int32)
    for row in _rows_needing_repair(exam, chosen, stuck, moved=bool(seen.size)):
        repeats[row], conflicts[row] = _repair(exam, chosen[row], _seen_of(exam, seen, row))
    order = _order(exam, s, slots)
    item = np.take_along_axis(chosen, order, axis=1)
    section = exam.slot_section[order]
    options = _option_orders(exam, s, item)
    difficulty = exam.logit[chosen].mean(axis=1) if slots else np.zeros(papers)
    info = expected = None
    if exam.theta_cut is not None:
        info = exam.info_cut[chosen].sum(axis=1)
        expected = exam.points_cut[chosen].sum(axis=1)
    return PaperBatch(
        seeds=s,
        item=item.astype(np.int32),
        section=section.astype(np.int32),
        options=options,
        difficulty=difficulty,
        repeats=repeats,
        enemy_conflicts=conflicts,
        information=info,
        expected=expected,
    )


def _draw(exam: CompiledExam, seeds: U64) -> npt.NDArray[np.int64]:
    """One pool position per slot: systematic sampling within each stratum, with the
    strata's starting points coupled across the paper (a Latin hypercube).

    Stratum s (n items sorted by difficulty, quota q) takes the items at positions
    ``floor((k + u_s) · n / q)`` for k = 0 … q-1: evenly spread over its difficulty
    range, never the same item twice (the step n/q is at least 1), and every item with
    probability exactly q/n. The ``u_s`` of a paper's strata are ``(rank_s + jitter) / S``
    with ``rank`` a random permutation, so strata drawn on their easy side are offset by
    strata drawn on their hard side.
    """
    slots, strata = exam.length, len(exam.stratum_len)
    if slots == 0:
        return np.zeros((len(seeds), 0), dtype=np.int64)
    if exam.balance == "information":
        u = _circle_offsets(exam, seeds)
    else:
        ranks = _sorted_slots(random_bits(seeds, _DRAW_RANK, strata))
        rank_of = np.empty_like(ranks)
        np.put_along_axis(rank_of, ranks, np.arange(strata)[None, :], axis=1)
        u = (rank_of + uniforms(seeds, _DRAW_JITTER, strata)) / strata
    n = exam.stratum_len[exam.slot_stratum]
    q = exam.stratum_quota[exam.slot_stratum]
    position = ((exam.slot_band + u[:, exam.slot_stratum]) * n / q).astype(np.int64)
    return np.ascontiguousarray(exam.stratum_start[exam.slot_stratum] + np.minimum(position, n - 1))


def _circle_offsets(exam: CompiledExam, seeds: U64) -> npt.NDArray[np.float64]:
    """The strata's offsets on a calibrated exam: ``(row + fine) / ROWS``.

    Each paper lays its strata, in a random order, around a circle of circumference 1
    in arcs as long as their weights (summing to 1); a stratum's point is its arc's
    midpoint, the circle turned by a uniform shift. The row comes from a circle weighted
    by how much each stratum moves the paper's difficulty; ``fine`` from a second circle
    (the same order taken with a fixed stride, its own shift) weighted by how much the
    stratum moves the paper's information at θ_c within the row it drew.

    Every point is exactly uniform on [0, 1) whatever the order and weights (a uniform
    turn of anything independent of it), and the two turns are independent, so ``u`` is
    uniform and every item keeps its exposure q/n. The points of one paper are a
    systematic sample of the circle, so strata drawn on one side are offset by the rest,
    those that move the paper most with the most room.
    """
    papers, strata = len(seeds), len(exam.stratum_len)
    ranks = _sorted_slots(random_bits(seeds, _ARC_ORDER, strata))  # the stratum at each place
    place = np.empty_like(ranks)  # the place of each stratum
    np.put_along_axis(place, ranks, np.arange(strata)[None, :], axis=1)
    base = (np.arange(papers, dtype=np.int64) * strata)[:, None]

    arcs = exam.weight_difficulty[ranks]
    middle = (np.cumsum(arcs, axis=1) - 0.5 * arcs).ravel()[place + base]
    coarse = middle + uniforms(seeds, _ARC_SHIFT_DIFFICULTY, 1)
    row = (np.floor((coarse - np.floor(coarse)) * ROWS)).astype(np.int64)

    weight = exam.weight_information.ravel()[row * strata + np.arange(strata)[None, :]]
    weight /= weight.sum(axis=1, keepdims=True)
    arcs = weight.ravel()[ranks[:, exam.stride] + base]
    middle = (np.cumsum(arcs, axis=1) - 0.5 * arcs).ravel()[exam.stride_place[place] + base]
    fine = middle + uniforms(seeds, _ARC_SHIFT_INFORMATION, 1)
    u: npt.NDArray[np.float64] = (row + fine - np.floor(fine)) / ROWS
    return u


_NOTHING = np.zeros(0, dtype=np.int64)


def _seen_keys(
    exam: CompiledExam, exclude: Sequence[Collection[str]] | None, papers: int
) -> npt.NDArray[np.int64]:
    """The items each paper must avoid, as sorted ``paper * items + item`` numbers."""
    if exclude is None:
        return _NOTHING
    if len(exclude) != papers:
        raise ValueError(f"exclude has {len(exclude)} entries for {papers} papers")
    number = exam.number
    rows = np.repeat(np.arange(papers, dtype=np.int64), [len(keys) for keys in exclude])
    items = np.fromiter(
        (number.get(key, -1) for keys in exclude for key in keys), dtype=np.int64, count=len(rows)
    )
    known = items >= 0
    return np.sort(rows[known] * len(exam.items) + items[known])


def _seen_of(exam: CompiledExam, seen: npt.NDArray[np.int64], row: int) -> frozenset[int]:
    """The item numbers paper ``row`` must avoid."""
    n = len(exam.items)
    lo, hi = np.searchsorted(seen, [row * n, (row + 1) * n])
    return frozenset((seen[lo:hi] - row * n).tolist())


def _skip_seen(
    exam: CompiledExam, position: npt.NDArray[np.int64], seen: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Move every slot holding an item its learner saw to the next unseen item of its
    band (wrapping), all papers at once; in place on ``position``. Returns the rows where
    a band had no unseen item left (the Python repair looks further, in the stratum);
    a move onto a neighbouring band's item is caught as a duplicate by
    ``_rows_needing_repair``."""
    n = len(exam.items)
    papers, slots = position.shape
    flat = position.ravel().copy()
    row_of = np.repeat(np.arange(papers, dtype=np.int64), slots)
    start = np.tile(exam.slot_start, papers)
    length = np.tile(exam.slot_len, papers)
    todo = np.arange(flat.size)
    stuck = []
    for tries in range(int(exam.slot_len.max(initial=0)) + 1):
        keys = row_of[todo] * n + exam.pool[flat[todo]]
        at = np.minimum(np.searchsorted(seen, keys), len(seen) - 1)
        todo = todo[seen[at] == keys]
        exhausted = length[todo] <= tries + 1
        stuck.append(todo[exhausted])
        todo = todo[~exhausted]
        if not todo.size:
            break
        offset = (flat[todo] - start[todo] + 1) % length[todo]
        flat[todo] = start[todo] + offset
    position[...] = flat.reshape(position.shape)
    return np.unique(row_of[np.concatenate(stuck)]) if stuck else _NOTHING


def _rows_needing_repair(
    exam: CompiledExam,
    chosen: npt.NDArray[np.int64],
    stuck: npt.NDArray[np.int64],
    *,
    moved: bool,
) -> list[int]:
    """Papers with two items of one enemy group, an item twice, or a band with no unseen
    item left."""
    rows: set[int] = set(stuck.tolist())
    if chosen.size and moved:
        ordered = np.sort(chosen, axis=1)
        rows.update(np.flatnonzero((ordered[:, 1:] == ordered[:, :-1]).any(axis=1)).tolist())
    if len(exam.enemy) and (exam.enemy >= 0).any() and chosen.size:
        groups = np.sort(exam.enemy[chosen], axis=1)
        clash = (groups[:, 1:] == groups[:, :-1]) & (groups[:, 1:] >= 0)
        rows.update(np.flatnonzero(clash.any(axis=1)).tolist())
    return sorted(rows)


def _repair(
    exam: CompiledExam, row: npt.NDArray[np.int64], seen: frozenset[int]
) -> tuple[int, int]:
    """Move enemies and seen items to the next free item of their band, then stratum.

    Works in place on ``row``; returns (items repeated from earlier attempts, enemy
    conflicts left). Slots are visited in blueprint order, so the repair is the same
    every time the paper is built.
    """
    enemy = exam.enemy_list
    used: set[int] = set()
    groups: set[int] = set()
    repeats = conflicts = 0
    for slot, item in enumerate(row.tolist()):
        pick = item
        if not _free(enemy, item, used, groups, seen):
            pick, repeated, clash = _replacement(
                exam, slot, item, used=used, groups=groups, seen=seen
            )
            repeats += repeated
            conflicts += clash
        row[slot] = pick
        used.add(pick)
        if enemy[pick] >= 0:
            groups.add(enemy[pick])
    return repeats, conflicts


def _replacement(
    exam: CompiledExam,
    slot: int,
    item: int,
    *,
    used: set[int],
    groups: set[int],
    seen: frozenset[int],
) -> tuple[int, bool, bool]:
    """The item for ``slot`` in place of ``item``, and whether it repeats an earlier
    attempt or clashes with an enemy: the first free candidate; failing that, an unseen
    rule is relaxed (a repeat); failing that, the enemy rule (a clash). Never an item
    the paper already holds: a stratum has at least as many items as places."""
    enemy = exam.enemy_list
    found = next(
        (c for c in _candidates(exam, slot, item) if _free(enemy, c, used, groups, seen)), None
    )
    if found is not None:
        return found, False, False
    candidates = [item, *_candidates(exam, slot, item)]
    found = next((c for c in candidates if _free(enemy, c, used, groups, frozenset())), None)
    if found is not None:
        return found, found in seen, False
    found = next((c for c in candidates if c not in used), item)
    return found, found in seen, enemy[found] >= 0 and enemy[found] in groups


def _candidates(exam: CompiledExam, slot: int, item: int) -> Iterator[int]:
    """The rest of the drawn item's band after it (wrapping), then the rest of its
    stratum after the band (wrapping), lazily: most repairs stop at the next item."""
    start, length = int(exam.slot_start[slot]), int(exam.slot_len[slot])
    pool = exam.pool_list
    at = pool.index(item, start, start + length) - start
    for j in range(1, length):
        yield pool[start + (at + j) % length]
    stratum = int(exam.slot_stratum[slot])
    s0, sn = int(exam.stratum_start[stratum]), int(exam.stratum_len[stratum])
    for j in range(sn - length):
        yield pool[s0 + (start - s0 + length + j) % sn]


def _free(
    enemy: list[int], item: int, used: set[int], groups: set[int], seen: frozenset[int]
) -> bool:
    group = enemy[item]
    return item not in used and item not in seen and (group < 0 or group not in groups)


def _order(exam: CompiledExam, seeds: U64, slots: int) -> npt.NDArray[np.int64]:
    """The order slots are shown in: by section, shuffled within it when the spec says."""
    if not exam.spec.shuffle_items or slots == 0:
        return np.broadcast_to(np.arange(slots), (len(seeds), slots)).copy()
    bits = random_bits(seeds, _ITEM_ORDER, slots) >> np.uint64(_SECTION_BITS)
    section = exam.slot_section.astype(np.uint64) << np.uint64(64 - _SECTION_BITS)
    return _sorted_slots(section[None, :] | bits)


#: Sections per exam are far fewer than 2**8; their number leads the item-order keys.
_SECTION_BITS = 8


def _sorted_slots(keys: U64) -> npt.NDArray[np.int64]:
    """The slot numbers in the order of their keys, per row (an argsort).

    Faster than ``argsort``: each key's lowest bits are replaced by its slot number and
    the keys are sorted, so the sort moves plain integers and the slot comes back out of
    the low bits. Keys equal in their remaining high bits (about 2**-50 per pair) are
    ordered by slot, as a stable argsort would.
    """
    slots = keys.shape[1]
    low = max(1, (slots - 1).bit_length())
    mask = np.uint64((1 << low) - 1)
    packed = (keys & ~mask) | np.arange(slots, dtype=np.uint64)[None, :]
    return (np.sort(packed, axis=1) & mask).astype(np.int64)


def _option_orders(
    exam: CompiledExam, seeds: U64, item: npt.NDArray[np.int64]
) -> npt.NDArray[np.int8]:
    """Per position, the order of the item's choices: a random permutation of the
    options that are not fixed, placed in the movable options' places; fixed options
    keep theirs; -1 pads.

    One 64-bit number per position picks a row of a table holding every permutation of
    up to ``_TABLED`` options, so the common case is a single gather. Items with fixed
    options, or with more options than the table holds, take a slower path.
    """
    slots, width = item.shape[1], exam.max_options
    if width == 0 or slots == 0:
        return np.full((*item.shape, width), -1, dtype=np.int8)
    flat_item = item.ravel()
    count = exam.option_count[flat_item]
    if not exam.spec.shuffle_options:
        natural = np.arange(width, dtype=np.int8)
        return np.where(natural[None, :] < count[:, None], natural, np.int8(-1)).reshape(
            *item.shape, width
        )
    table, offsets, sizes = _permutation_table(width)
    bits = random_bits(seeds, _OPTION_ORDER, slots).ravel()
    tabled = np.minimum(count, _TABLED)
    rows = offsets[tabled] + (bits % sizes[tabled].astype(np.uint64)).astype(np.intp)
    order = table[rows]
    special = np.flatnonzero(~exam.plain[flat_item] | (count > _TABLED))
    if special.size:
        _shuffle_movable(exam, order, flat_item, bits, special)
    return order.reshape(*item.shape, width)


def _shuffle_movable(
    exam: CompiledExam,
    order: npt.NDArray[np.int8],
    flat_item: npt.NDArray[np.int64],
    bits: U64,
    at: npt.NDArray[np.intp],
) -> None:
    """The slow path, in place: shuffle only the movable options of the items at ``at``."""
    width = order.shape[1]
    counts = exam.option_count[flat_item[at]]
    order[at] = np.where(np.arange(width)[None, :] < counts[:, None], np.arange(width), -1)
    for m in np.unique(exam.movable_count[flat_item[at]]).tolist():
        if m < 2:
            continue
        these = at[exam.movable_count[flat_item[at]] == m]
        places = exam.movable[flat_item[these], :m].astype(np.intp)
        ranks = np.argsort(uniforms(bits[these], _OPTION_ORDER, m), axis=1)
        order[these[:, None], places] = np.take_along_axis(places, ranks, axis=1)


_TABLED = 7


@functools.cache
def _permutation_table(
    width: int,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """Every permutation of m options for m = 0 … min(width, _TABLED), padded with -1 to
    ``width``, stacked; with each m's first row and number of rows."""
    blocks, offsets, sizes = [], [], []
    start = 0
    for m in range(min(width, _TABLED) + 1):
        block = np.full((math.factorial(m), width), -1, dtype=np.int8)
        if m:
            block[:, :m] = list(itertools.permutations(range(m)))
        blocks.append(block)
        offsets.append(start)
        sizes.append(len(block))
        start += len(block)
    return (
        np.concatenate(blocks),
        np.array(offsets, dtype=np.intp),
        np.array(sizes, dtype=np.int64),
    )


def paper_from_batch(exam: CompiledExam, batch: PaperBatch, row: int) -> Paper:
    """Paper ``row`` of ``batch`` as a record: keys, sections, points, choice orders."""
    items = []
    for position, number in enumerate(batch.item[row].tolist()):
        item = exam.items[number]
        section = int(batch.section[row, position])
        choices = _choices(item)
        order = tuple(choices[j] for j in batch.options[row, position].tolist() if j >= 0)
        points = exam.spec.sections[section].points or item.points
        items.append(PaperItem(key=item.key, section=section, points=points, order=order))
    information = theta_cut = pass_score = None
    if exam.theta_cut is not None and batch.information is not None:
        information = round(float(batch.information[row]), 6)
        theta_cut = round(exam.theta_cut, 6)
        if exam.spec.pass_standard is PassStandard.EQUATED and batch.expected is not None:
            pass_score = round_up(float(batch.expected[row]))
    return Paper(
        seed=f"{int(batch.seeds[row]):016x}",
        items=tuple(items),
        difficulty=round(float(batch.difficulty[row]), 6),
        repeats=int(batch.repeats[row]),
        information=information,
        theta_cut=theta_cut,
        pass_score=pass_score,
    )


def build_paper(exam: CompiledExam, seed: int, *, exclude: Collection[str] = ()) -> Paper:
    """One learner's paper (the same as it would be in any batch)."""
    batch = assemble(exam, [seed], exclude=[exclude])
    return paper_from_batch(exam, batch, 0)


def exposure(exam: CompiledExam, batch: PaperBatch) -> npt.NDArray[np.float64]:
    """The share of the batch's papers each item appears on."""
    counts = np.bincount(batch.item.ravel(), minlength=len(exam.items))
    return counts / max(len(batch.seeds), 1)


def unused_strata(exam: CompiledExam) -> list[tuple[str, int]]:
    """(topic, items) of every stratum whose quota rounded to zero."""
    return [(exam.items[pool[0]].topic if pool else "", len(pool)) for pool in exam.zero_quota]
