"""Anti-idle scheduler benchmark: armed study sessions at 1 s ticks, each backend beside
a baseline in the same run.

    .venv/bin/python -m benchmarks.challenges                  # default: a few minutes
    .venv/bin/python -m benchmarks.challenges --day --big-sessions 10000000
    .venv/bin/python -m benchmarks.challenges --parts inprocess,heapq
    .venv/bin/python -m benchmarks.challenges --quick          # tiny sizes, seconds (CI)

Workload (HOTPATHS.md): a challenge every 5–15 min (uniform) after the last answer, a
60 s window, 98 % answered after a uniform 1–50 s delay (the ack is queued for the tick
at which it arrives, with its own arrival time), 2 % missed (the learner resumes 10–120 s
later: the slot is armed again). Sessions start in the steady state (each slot's first
deadline drawn from the renewal process's stationary residual), so the load is level
from the first tick; the first 60 ticks (the ack stream filling) are not measured.

Parts (``--parts``, comma-separated; all by default):

- ``inprocess``: ``InProcessScheduler`` with ``--sessions`` (1M) for ``--minutes``
  simulated minutes (``--day``: 86,400 ticks), and ``--big-sessions`` (10M) for
  ``--big-minutes``. Timed: the scheduler's own calls only — ``tick`` (its p50/p99/max)
  and the ``acknowledge``/``arm`` calls that feed it (in "busy" time); the simulation's
  bookkeeping is not. events = issued + passed + missed + refused.
- ``heapq`` (baseline): a straightforward Python scheduler (heap of (deadline, slot,
  generation), lazy deletion of superseded entries, state in lists), same workload and
  metric.
- ``apscheduler`` (baseline): APScheduler 3.11, MemoryJobStore, ``--aps-jobs`` (100k)
  jobs, one job a session: add/modify/remove rates, ``get_due_jobs``, the real scheduler
  thread firing due jobs into a no-op executor, and the same workload driven through
  ``get_due_jobs`` + ``modify_job`` (what its ``_process_jobs`` does per job).
- ``redis``: ``api.store.redis_scheduler.RedisScheduler`` at ``--redis-sessions`` over
  ``--redis-shards`` against the baseline of a naive one-command-per-round-trip design
  written here at ``--naive-sessions``; keys under a scratch prefix, deleted afterwards.
  Redis at ``--redis-url`` (default ``EXAMENGINE_TEST_REDIS_URL`` or
  redis://127.0.0.1:6379/0); when it is unreachable the run fails under ``CI=true`` and
  prints ``not measured`` elsewhere.
- ``http``: the HTTP benchmark, ``benchmarks.http_app`` (its ``--http-*`` options are
  taken here too); it needs ``wrk``.

``--quick``: 20,000 sessions in-process (50,000 for the big run), 10,000 in the heapq
baseline, 1,000 APScheduler jobs, 10,000 Redis sessions over 4 shards and 1,000 naive
ones, each for 2 simulated minutes (60 measured ticks), and the HTTP part's quick sizes:
every part in seconds; the figures mean nothing.

The machine is shared: every part prints the load average; tick percentiles are wall
time, with the thread's CPU time beside them to show how much is contention. Nothing here
is a test: it prints tables; results go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import os
import random
import statistics
import sys
import threading
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, cast

import numpy as np
import numpy.typing as npt
import redis
from apscheduler.executors.base import BaseExecutor
from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler

from api.store.redis_scheduler import RedisScheduler
from benchmarks import common, http_app
from examengine.challenges import ChallengePolicy, InProcessScheduler, Phase, TickResult

T0 = 1_795_000_000_000  # ms; the first simulated tick
TICK_MS = 1000
WARMUP_TICKS = 60
POLICY = ChallengePolicy()
I64 = npt.NDArray[np.int64]


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def stationary_deadlines(rng: np.random.Generator, count: int, now: int) -> I64:
    """Deadlines of ``count`` sessions caught at a random moment of a renewal process with
    uniform [min, max] intervals: the residual is a uniform fraction of a length-biased
    interval (density ∝ x on [min, max])."""
    lo, hi = POLICY.min_interval_ms, POLICY.max_interval_ms
    length = np.sqrt(lo * lo + rng.random(count) * (hi * hi - lo * lo))
    return now + 1 + (rng.random(count) * length).astype(np.int64)


# -- the simulation ------------------------------------------------------------------------


class Backend(Protocol):
    def allocate(self, count: int) -> I64: ...
    def arm(self, slots: I64, *, now: int) -> None: ...
    def acknowledge(self, slots: I64, seqs: I64, received_ms: I64) -> None: ...
    def tick(self, *, now: int) -> TickResult: ...


@dataclass
class Stats:
    tick_ns: list[int] = field(default_factory=list)  # wall time of each measured tick()
    tick_cpu_ns: list[int] = field(default_factory=list)  # the thread's CPU time of it
    busy_ns: int = 0  # tick + acknowledge + arm, wall
    busy_cpu_ns: int = 0
    issued: int = 0
    passed: int = 0
    missed: int = 0
    refused: int = 0
    wall_s: float = 0.0  # the whole simulation, bookkeeping included

    @property
    def events(self) -> int:
        return self.issued + self.passed + self.missed + self.refused

    def pct(self, q: float, cpu: bool = False) -> float:
        values = np.array(self.tick_cpu_ns if cpu else self.tick_ns)
        return float(np.percentile(values, q)) / 1e6 if len(values) else float("nan")

    def rate(self, cpu: bool = False) -> float:
        busy = self.busy_cpu_ns if cpu else self.busy_ns
        return self.events / (busy / 1e9) if busy else float("nan")


def simulate(
    backend: Backend,
    slots: I64,
    rng: np.random.Generator,
    *,
    ticks: int,
    progress: str = "",
) -> Stats:
    """Drive ``backend`` (its ``slots`` already armed) through ``ticks`` 1 s ticks from T0.
    Acks and resumes are bucketed by the tick at which they arrive."""
    acks: dict[int, list[tuple[I64, I64, I64]]] = {}
    resumes: dict[int, list[I64]] = {}
    stats = Stats()
    clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    began = time.perf_counter()
    report_every = max(1, ticks // 20)
    for k in range(ticks):
        now = T0 + k * TICK_MS
        measured = k >= WARMUP_TICKS
        busy = busy_cpu = 0
        due_acks = acks.pop(k, None)
        if due_acks:
            a_slots = np.concatenate([a[0] for a in due_acks])
            a_seqs = np.concatenate([a[1] for a in due_acks])
            a_ms = np.concatenate([a[2] for a in due_acks])
            t, c = clock(), cpu_clock()
            backend.acknowledge(a_slots, a_seqs, a_ms)
            busy += clock() - t
            busy_cpu += cpu_clock() - c
        due_resumes = resumes.pop(k, None)
        if due_resumes:
            r_slots = np.concatenate(due_resumes)
            t, c = clock(), cpu_clock()
            backend.arm(r_slots, now=now)
            busy += clock() - t
            busy_cpu += cpu_clock() - c
        t, c = clock(), cpu_clock()
        result = backend.tick(now=now)
        tick_ns, tick_cpu = clock() - t, cpu_clock() - c
        if measured:
            stats.tick_ns.append(tick_ns)
            stats.tick_cpu_ns.append(tick_cpu)
            stats.busy_ns += busy + tick_ns
            stats.busy_cpu_ns += busy_cpu + tick_cpu
            stats.issued += len(result.issued)
            stats.passed += len(result.passed)
            stats.missed += len(result.missed)
            stats.refused += len(result.refused)
        # -- bookkeeping (not timed): who answers, when; who resumes after a miss
        issued, seqs = result.issued, result.issued_seq
        if len(issued):
            answer = rng.random(len(issued)) < 0.98
            issued, seqs = issued[answer], seqs[answer]
        if len(issued):  # (at a few sessions, a tick's every challenge may go unanswered)
            delay = rng.integers(1, 51, size=len(issued))
            received = now + delay * TICK_MS - rng.integers(0, TICK_MS, size=len(issued))
            order = np.argsort(delay, kind="stable")
            delay, issued, seqs, received = (
                delay[order],
                issued[order],
                seqs[order],
                received[order],
            )
            bounds = np.flatnonzero(np.diff(delay)) + 1
            for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(delay)], strict=True):
                acks.setdefault(k + int(delay[lo]), []).append(
                    (issued[lo:hi], seqs[lo:hi], received[lo:hi])
                )
        if len(result.missed):
            for slot, back in zip(
                result.missed.tolist(),
                rng.integers(10, 121, size=len(result.missed)).tolist(),
                strict=True,
            ):
                resumes.setdefault(k + back, []).append(np.array([slot], dtype=np.int64))
        if progress and k and k % report_every == 0:
            print(
                f"  {progress}: tick {k:,}/{ticks:,} ({time.perf_counter() - began:.0f} s)",
                file=sys.stderr,
            )
    stats.wall_s = time.perf_counter() - began
    del slots
    return stats


def stats_row(name: str, sessions: int, ticks: int, stats: Stats, nbytes: str) -> tuple[str, ...]:
    measured = len(stats.tick_ns)
    return (
        name,
        f"{sessions:,}",
        f"{ticks:,} ({measured:,} measured)",
        f"{stats.issued / measured:,.0f} / {stats.passed / measured:,.0f} / {stats.missed / measured:,.1f}",
        f"{stats.rate() / 1e6:,.2f}M" if stats.rate() >= 1e6 else f"{stats.rate() / 1e3:,.1f}k",
        f"{stats.rate(cpu=True) / 1e6:,.2f}M"
        if stats.rate(cpu=True) >= 1e6
        else f"{stats.rate(cpu=True) / 1e3:,.1f}k",
        f"{stats.pct(50):.2f} / {stats.pct(99):.2f} / {max(stats.tick_ns) / 1e6:.1f}",
        f"{stats.pct(99, cpu=True):.2f}",
        nbytes,
    )


SIM_HEADER = (
    "backend",
    "sessions",
    "ticks (1 s)",
    "issued / passed / missed per tick",
    "events/s per busy core (wall)",
    "(CPU time)",
    "tick p50 / p99 / max ms (wall)",
    "tick p99 ms (CPU)",
    "bytes/session",
)


# -- in-process ------------------------------------------------------------------------------


class ScriptedDraws:
    """Stands in for a scheduler's injected Generator during set-up: its next
    ``integers(..., size=n)`` returns the given intervals, so ``arm(slots, now=T0)`` puts
    each slot at ``T0 + interval`` — here a stationary residual, not a fresh interval."""

    def __init__(self, intervals: I64) -> None:
        self.intervals = intervals

    def integers(self, low: int, high: int | None = None, size: int | None = None) -> I64:
        assert size == len(self.intervals), (size, len(self.intervals))
        return self.intervals


class Armable(Protocol):
    """A scheduler whose interval draws can be scripted for set-up (``arm_steady``)."""

    # a Generator, or ScriptedDraws while arm_steady runs: numpy's Generator cannot be
    # subclassed into a stand-in, so the attribute is typed by what both do
    rng: Any

    def arm(self, slots: I64, *, now: int) -> None: ...


def arm_steady(scheduler: Armable, slots: I64, rng: np.random.Generator) -> None:
    """Arm ``slots`` at T0 in the steady state (see ``stationary_deadlines``) through the
    contract's ``arm``, the scheduler's own Generator put back afterwards."""
    own = scheduler.rng
    scheduler.rng = ScriptedDraws(stationary_deadlines(rng, len(slots), T0) - T0)
    try:
        scheduler.arm(slots, now=T0)
    finally:
        scheduler.rng = own


def inprocess(sessions: int, rng: np.random.Generator) -> tuple[InProcessScheduler, I64]:
    """``sessions`` slots armed in the steady state."""
    scheduler = InProcessScheduler(
        sessions, POLICY, rng=np.random.default_rng(rng.integers(2**63)), epoch_ms=T0 - 3_600_000
    )
    slots = scheduler.allocate(sessions, owners=np.arange(1, sessions + 1, dtype=np.int64))
    arm_steady(scheduler, slots, rng)
    return scheduler, slots


def bench_inprocess(args: argparse.Namespace, rng: np.random.Generator) -> None:
    rows = []
    runs = [(args.sessions, 86_400 if args.day else args.minutes * 60)]
    if args.big_sessions:
        runs.append((args.big_sessions, args.big_minutes * 60))
    notes = []
    for sessions, ticks in runs:
        before = rss_mib()
        scheduler, slots = inprocess(sessions, rng)
        gc.collect()
        gc.freeze()
        print(f"in-process {sessions:,}: {common.load()}", file=sys.stderr)
        stats = simulate(scheduler, slots, rng, ticks=ticks, progress=f"in-process {sessions:,}")
        per = scheduler.nbytes_per_session()
        nbytes = f"{per:.2f}"
        rows.append(stats_row("in-process (numpy)", sessions, ticks, stats, nbytes))
        notes.append(
            f"{sessions:,}: arrays {per * sessions / 2**20:,.0f} MiB; process RSS {before:,.0f} → "
            f"{rss_mib():,.0f} MiB; simulation wall {stats.wall_s:,.0f} s "
            f"(scheduler busy {stats.busy_ns / 1e9:,.1f} s); {common.load()}"
        )
        RESULTS[f"inprocess-{sessions}"] = stats
        del scheduler, slots
        gc.unfreeze()
        gc.collect()
    common.table("In-process scheduler", SIM_HEADER, rows)
    for note in notes:
        print(f"- {note}")


# -- baseline: Python heapq ----------------------------------------------------------------


class BaselineScheduler:
    """What the three baselines share: per-session state in Python lists, ``arm``, acks
    queued and applied at the tick with the contract's rules, and the result. Each
    baseline says how a deadline is stored (``_schedule``) and how due timers are found."""

    def __init__(self, capacity: int, policy: ChallengePolicy, *, seed: int) -> None:
        self.policy = policy
        self.random = random.Random(seed)
        self.phase = [Phase.FREE] * capacity
        self.seq = [0] * capacity
        self.when = [0] * capacity
        self.last_pass = [0] * capacity
        self.acks: list[tuple[int, int, int]] = []

    def _schedule(self, slot: int, deadline: int) -> None:
        raise NotImplementedError

    def arm(self, slots: I64, *, now: int) -> None:
        lo, hi = self.policy.min_interval_ms, self.policy.max_interval_ms
        for slot in slots.tolist():
            self.phase[slot] = Phase.SCHEDULED
            self._schedule(slot, now + self.random.randint(lo, hi))

    def acknowledge(self, slots: I64, seqs: I64, received_ms: I64) -> None:
        self.acks.extend(zip(slots.tolist(), seqs.tolist(), received_ms.tolist(), strict=True))

    def _apply_acks(self) -> tuple[list[int], list[int], list[int]]:
        """The queued acks: (passed, their arrival times, refused)."""
        lo, hi = self.policy.min_interval_ms, self.policy.max_interval_ms
        phase, seq, when, schedule = self.phase, self.seq, self.when, self._schedule
        passed, passed_ms, refused = [], [], []
        for slot, number, received in self.acks:
            if phase[slot] == Phase.AWAITING and seq[slot] == number and received <= when[slot]:
                phase[slot] = Phase.SCHEDULED
                self.last_pass[slot] = received
                schedule(slot, received + self.random.randint(lo, hi))
                passed.append(slot)
                passed_ms.append(received)
            else:
                refused.append(slot)
        self.acks = []
        return passed, passed_ms, refused


def tick_result(
    passed: list[int],
    passed_ms: list[int],
    refused: list[int],
    issued: list[int],
    issued_seq: list[int],
    missed: list[int],
    missed_seq: list[int],
) -> TickResult:
    def ints(values: list[int]) -> I64:
        return np.array(values, dtype=np.int64)

    return TickResult(
        issued=ints(issued),
        issued_seq=ints(issued_seq),
        missed=ints(missed),
        missed_seq=ints(missed_seq),
        passed=ints(passed),
        passed_ms=ints(passed_ms),
        refused=ints(refused),
    )


class HeapqScheduler(BaselineScheduler):
    """The straightforward design: a heap of (deadline ms, slot, generation); a reschedule
    bumps the slot's generation and pushes a new entry, the old one is skipped when it
    surfaces (lazy deletion). State in Python lists; acks queued and applied at the tick,
    with the same rules as the contract."""

    NEVER = 2**62

    def __init__(self, capacity: int, policy: ChallengePolicy, *, seed: int) -> None:
        super().__init__(capacity, policy, seed=seed)
        self.heap: list[tuple[int, int, int]] = []
        self.gen = [0] * capacity
        self.when = [self.NEVER] * capacity
        self.free = list(range(capacity - 1, -1, -1))

    def allocate(self, count: int) -> I64:
        taken = [self.free.pop() for _ in range(count)]
        for slot in taken:
            self.phase[slot] = Phase.IDLE
        return np.array(taken, dtype=np.int64)

    def _schedule(self, slot: int, deadline: int) -> None:
        generation = self.gen[slot] + 1
        self.gen[slot] = generation
        self.when[slot] = deadline
        heapq.heappush(self.heap, (deadline, slot, generation))

    def seed(self, slots: I64, deadlines: I64) -> None:
        """Set-up only: the given first deadlines, heapified at once."""
        for slot, deadline in zip(slots.tolist(), deadlines.tolist(), strict=True):
            self.phase[slot] = Phase.SCHEDULED
            self.gen[slot] += 1
            self.when[slot] = deadline
            self.heap.append((deadline, slot, self.gen[slot]))
        heapq.heapify(self.heap)

    def tick(self, *, now: int) -> TickResult:
        passed, passed_ms, refused = self._apply_acks()
        phase, seq, when = self.phase, self.seq, self.when
        issued, issued_seq, missed, missed_seq = [], [], [], []
        heap, gen, window = self.heap, self.gen, self.policy.window_ms
        while heap and heap[0][0] <= now:
            _, slot, generation = heapq.heappop(heap)
            if generation != gen[slot]:
                continue  # superseded by a later reschedule
            if phase[slot] == Phase.SCHEDULED:
                seq[slot] += 1
                phase[slot] = Phase.AWAITING
                self._schedule(slot, now + window)
                issued.append(slot)
                issued_seq.append(seq[slot])
            elif phase[slot] == Phase.AWAITING:
                phase[slot] = Phase.IDLE
                gen[slot] += 1
                when[slot] = self.NEVER
                missed.append(slot)
                missed_seq.append(seq[slot])
        return tick_result(passed, passed_ms, refused, issued, issued_seq, missed, missed_seq)

    def nbytes(self) -> int:
        """Everything the scheduler holds: lists, heap entries, and the int objects they
        reference (each counted once)."""
        seen: set[int] = set()
        total = 0
        containers: list[list[Any]] = [
            self.heap,
            self.phase,
            self.seq,
            self.gen,
            self.when,
            self.last_pass,
            self.free,
        ]
        for container in containers:
            total += sys.getsizeof(container)
            for item in container:
                objects = (item, *item) if isinstance(item, tuple) else (item,)
                for obj in objects:
                    if id(obj) not in seen:
                        seen.add(id(obj))
                        total += sys.getsizeof(obj)
        return total


def bench_heapq(args: argparse.Namespace, rng: np.random.Generator) -> None:
    sessions, ticks = args.heapq_sessions, args.heapq_minutes * 60
    scheduler = HeapqScheduler(sessions, POLICY, seed=int(rng.integers(2**31)))
    slots = scheduler.allocate(sessions)
    scheduler.seed(slots, stationary_deadlines(rng, sessions, T0))
    gc.collect()
    gc.freeze()
    print(f"heapq {sessions:,}: {common.load()}", file=sys.stderr)
    stats = simulate(scheduler, slots, rng, ticks=ticks, progress=f"heapq {sessions:,}")
    gc.unfreeze()
    nbytes = scheduler.nbytes()
    rows = [stats_row("baseline: Python heapq", sessions, ticks, stats, f"{nbytes / sessions:.0f}")]
    RESULTS["heapq"] = stats
    ours = RESULTS.get(f"inprocess-{args.sessions}")
    common.table("Baseline: Python heapq (same workload, same metric)", SIM_HEADER, rows)
    print(
        f"- heap entries at the end: {len(scheduler.heap):,} (stale ones included); GC frozen after set-up, as for ours; {common.load()}"
    )
    if ours:
        print(
            f"- ours / heapq on events/s per busy core: {ours.rate() / stats.rate():,.0f}× (wall), "
            f"{ours.rate(cpu=True) / stats.rate(cpu=True):,.0f}× (CPU); goal ≥ 30×"
        )
    del scheduler
    gc.collect()


# -- baseline: APScheduler 3.11 -----------------------------------------------------------


def noop() -> None:
    pass


class APSchedulerBackend(BaselineScheduler):
    """The contract over APScheduler 3.11: one DateTrigger job per session in a
    MemoryJobStore, on a BackgroundScheduler started *paused* so that its own thread stays
    out of the way and the simulated clock drives it. ``tick`` does per due job what the
    scheduler's ``_process_jobs`` does: ``get_due_jobs(now)``, submit to the executor (a
    no-op one), then move the job's next run time (``modify_job``) or take it off the
    store (``pause_job``). An ack is one ``modify_job``."""

    def __init__(self, capacity: int, policy: ChallengePolicy, *, seed: int) -> None:
        super().__init__(capacity, policy, seed=seed)
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": noop_executor()},
            job_defaults={"misfire_grace_time": None},
        )
        self.scheduler.start(paused=True)
        self.store = self.scheduler._lookup_jobstore("default")
        self.executor = self.scheduler._lookup_executor("default")
        self.count = 0

    def close(self) -> None:
        self.scheduler.shutdown(wait=False)

    def allocate(self, count: int) -> I64:
        slots = np.arange(self.count, self.count + count, dtype=np.int64)
        self.count += count
        return slots

    def add(self, slots: I64, deadlines: I64) -> None:
        """One ``add_job`` a session (this is also the arm of a new session)."""
        for slot, deadline in zip(slots.tolist(), deadlines.tolist(), strict=True):
            self.phase[slot] = Phase.SCHEDULED
            self.when[slot] = deadline
            self.scheduler.add_job(noop, "date", run_date=to_dt(deadline), id=str(slot))

    def _schedule(self, slot: int, deadline: int) -> None:
        self.when[slot] = deadline
        self.scheduler.modify_job(str(slot), next_run_time=to_dt(deadline))

    def tick(self, *, now: int) -> TickResult:
        passed, passed_ms, refused = self._apply_acks()
        issued, issued_seq, missed, missed_seq = [], [], [], []
        now_dt = to_dt(now)
        for job in self.store.get_due_jobs(now_dt):
            self.executor.submit_job(job, [job.next_run_time])
            slot = int(job.id)
            if self.phase[slot] == Phase.SCHEDULED:
                self.seq[slot] += 1
                self.phase[slot] = Phase.AWAITING
                self._schedule(slot, now + self.policy.window_ms)
                issued.append(slot)
                issued_seq.append(self.seq[slot])
            else:
                self.phase[slot] = Phase.IDLE
                self.scheduler.pause_job(job.id)
                missed.append(slot)
                missed_seq.append(self.seq[slot])
        return tick_result(passed, passed_ms, refused, issued, issued_seq, missed, missed_seq)


def to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


# APScheduler 3 ships no type hints, so BaseExecutor is Any to mypy (and a subclass of Any
# is an error under --strict): the one ignore is for that.
class NoopExecutor(BaseExecutor):  # type: ignore[misc]
    """An executor that accepts a job and runs nothing (so only the scheduler is timed);
    ``fired`` counts submissions, ``done`` is set after ``expect`` of them."""

    def __init__(self) -> None:
        super().__init__()
        self.fired = 0
        self.expect = -1
        self.done = threading.Event()

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        self.fired += 1
        self._instances[job.id] -= 1  # nothing runs: release the instance at once
        if self.fired == self.expect:
            self.done.set()


def noop_executor() -> NoopExecutor:
    return NoopExecutor()


def bench_apscheduler(args: argparse.Namespace, rng: np.random.Generator) -> None:
    jobs = args.aps_jobs
    rows: list[tuple[str, ...]] = []
    print(f"APScheduler {jobs:,}: {common.load()}", file=sys.stderr)

    # -- operation rates on a paused scheduler with `jobs` jobs
    backend = APSchedulerBackend(jobs, POLICY, seed=int(rng.integers(2**31)))
    slots = backend.allocate(jobs)
    deadlines = stationary_deadlines(rng, jobs, T0)
    began = time.perf_counter()
    backend.add(slots, deadlines)
    took = time.perf_counter() - began
    rows.append(
        (
            "add_job (DateTrigger), 0 → 100k jobs" if jobs == 100_000 else f"add_job, 0 → {jobs:,}",
            f"{jobs / took:,.0f}/s",
            f"{took:.1f} s",
        )
    )
    sample = rng.choice(jobs, size=min(jobs, 20_000), replace=False).tolist()
    began = time.perf_counter()
    for slot in sample:
        backend.scheduler.modify_job(str(slot), next_run_time=to_dt(T0 + 3_600_000 + slot))
    took = time.perf_counter() - began
    rows.append(
        (
            f"modify_job(next_run_time) — a reschedule / an ack, {len(sample):,} at {jobs:,} jobs",
            f"{len(sample) / took:,.0f}/s",
            f"{took * 1e6 / len(sample):.0f} µs each",
        )
    )
    now_dt = to_dt(T0 + 1000)
    timings = []
    for _ in range(50):
        began = time.perf_counter()
        due = backend.store.get_due_jobs(now_dt)
        timings.append(time.perf_counter() - began)
    rows.append(
        (
            f"get_due_jobs(now) at {jobs:,} jobs ({len(due)} due: one tick's worth)",
            f"{statistics.median(timings) * 1e3:.3f} ms",
            "median of 50",
        )
    )
    began = time.perf_counter()
    for slot in sample:
        backend.scheduler.remove_job(str(slot))
    took = time.perf_counter() - began
    rows.append(
        (
            f"remove_job, {len(sample):,} at {jobs:,} jobs",
            f"{len(sample) / took:,.0f}/s",
            f"{took * 1e6 / len(sample):.0f} µs each",
        )
    )
    backend.close()
    del backend
    gc.collect()

    # -- bytes per job
    tracemalloc.start()
    probe = BackgroundScheduler(timezone=UTC)
    probe.start(paused=True)
    base = tracemalloc.get_traced_memory()[0]
    count = min(jobs, 20_000)
    for n in range(count):
        probe.add_job(noop, "date", run_date=to_dt(T0 + n), id=str(n))
    per_job = (tracemalloc.get_traced_memory()[0] - base) / count
    tracemalloc.stop()
    probe.shutdown(wait=False)
    rows.append((f"memory per job (tracemalloc, {count:,} jobs)", f"{per_job:.0f} B", ""))

    # -- the real scheduler thread firing `fire` jobs that are all due, no-op executor
    fire = min(jobs, 20_000)
    executor = noop_executor()
    real = BackgroundScheduler(
        timezone=UTC, executors={"default": executor}, job_defaults={"misfire_grace_time": None}
    )
    real.start(paused=True)
    past = int(time.time() * 1000) - 10_000
    for n in range(jobs):  # `fire` due now, the rest an hour away
        real.add_job(
            noop, "date", run_date=to_dt(past + n if n < fire else past + 3_600_000 + n), id=str(n)
        )
    executor.expect = fire
    began = time.perf_counter()
    real.resume()
    executor.done.wait(120)
    with real._jobstores_lock:  # the thread holds it until the batch is stored
        took = time.perf_counter() - began
    real.shutdown(wait=False)
    rows.append(
        (
            f"dispatch: its own thread fires {fire:,} due jobs of {jobs:,} (DateTrigger: each removed after)",
            f"{fire / took:,.0f}/s",
            f"{took:.2f} s",
        )
    )

    # -- the workload, through the backend
    backend = APSchedulerBackend(jobs, POLICY, seed=int(rng.integers(2**31)))
    slots = backend.allocate(jobs)
    backend.add(slots, stationary_deadlines(rng, jobs, T0))
    gc.collect()
    gc.freeze()
    ticks = args.aps_minutes * 60
    stats = simulate(backend, slots, rng, ticks=ticks, progress=f"APScheduler {jobs:,}")
    gc.unfreeze()
    backend.close()
    RESULTS["apscheduler"] = stats
    common.table(
        "Baseline: APScheduler 3.11 (MemoryJobStore)", ("operation", "rate / time", "note"), rows
    )
    common.table(
        "Baseline: APScheduler 3.11, the workload",
        SIM_HEADER,
        [stats_row("baseline: APScheduler", jobs, ticks, stats, f"{per_job:.0f}")],
    )
    ours = RESULTS.get(f"inprocess-{args.sessions}")
    print(f"- {common.load()}")
    if ours:
        print(
            f"- ours / APScheduler on events/s per busy core: {ours.rate() / stats.rate():,.0f}× (wall), "
            f"{ours.rate(cpu=True) / stats.rate(cpu=True):,.0f}× (CPU); goal ≥ 300×"
        )


# -- Redis: RedisScheduler against a naive per-command design ------------------------------


class NaiveRedisScheduler(BaselineScheduler):
    """The per-operation design: timers in one sorted set, one command per round trip —
    ZADD per arm, per ack and per issued challenge (its window end), ZRANGEBYSCORE once a
    tick, then ZREM per due member (its return value is the claim: 1 if this worker took
    it). Phase and sequence numbers are kept in this process's lists, which spares the
    design the HGET/HSET round trips a multi-worker version would need, so the ratio
    against it is a lower bound."""

    def __init__(
        self, client: redis.Redis, capacity: int, policy: ChallengePolicy, *, key: str, seed: int
    ) -> None:
        super().__init__(capacity, policy, seed=seed)
        self.client = client
        self.key = key
        self.count = 0
        self.round_trips = 0

    def allocate(self, count: int) -> I64:
        slots = np.arange(self.count, self.count + count, dtype=np.int64)
        self.count += count
        return slots

    def seed(self, slots: I64, deadlines: I64) -> None:
        """Set-up only, pipelined."""
        pipe = self.client.pipeline(transaction=False)
        for slot, deadline in zip(slots.tolist(), deadlines.tolist(), strict=True):
            self.phase[slot] = Phase.SCHEDULED
            self.when[slot] = deadline
            pipe.zadd(self.key, {str(slot): deadline})
        pipe.execute()

    def _schedule(self, slot: int, deadline: int) -> None:
        self.when[slot] = deadline
        self.client.zadd(self.key, {str(slot): deadline})
        self.round_trips += 1

    def tick(self, *, now: int) -> TickResult:
        passed, passed_ms, refused = self._apply_acks()
        issued, issued_seq, missed, missed_seq = [], [], [], []
        # members only (no WITHSCORES), as bytes (the client does not decode): redis-py
        # types the reply as the union of every variant
        due = cast(list[bytes], self.client.zrangebyscore(self.key, "-inf", now))
        self.round_trips += 1
        for member in due:
            self.round_trips += 1
            if not self.client.zrem(self.key, member):
                continue  # another worker claimed it
            slot = int(member)
            if self.phase[slot] == Phase.SCHEDULED:
                self.seq[slot] += 1
                self.phase[slot] = Phase.AWAITING
                self._schedule(slot, now + self.policy.window_ms)
                issued.append(slot)
                issued_seq.append(self.seq[slot])
            elif self.phase[slot] == Phase.AWAITING:
                self.phase[slot] = Phase.IDLE
                missed.append(slot)
                missed_seq.append(self.seq[slot])
        return tick_result(passed, passed_ms, refused, issued, issued_seq, missed, missed_seq)


def redis_bytes(client: redis.Redis, prefix: str) -> tuple[int, int]:
    """(keys, bytes) under ``prefix``: the sum of MEMORY USAGE (exact, SAMPLES 0)."""
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    return len(keys), sum(v or 0 for v in pipe.execute())


def bench_redis(args: argparse.Namespace, rng: np.random.Generator) -> None:
    client = redis.Redis.from_url(args.redis_url)
    try:
        client.ping()
    except redis.RedisError as error:
        print("\n### Redis\n")
        common.not_measured(f"Redis at {args.redis_url}", error, common.REDIS_HELP)
        return
    prefix = f"bench-challenges-{os.getpid()}"
    rows, notes = [], []
    info = client.info("server")
    try:
        # -- ours
        sessions, ticks = args.redis_sessions, args.redis_minutes * 60
        scheduler = RedisScheduler(
            client, POLICY, prefix=f"{prefix}:ours", shards=args.redis_shards, capacity=sessions,
            rng=np.random.default_rng(rng.integers(2**63)),
        )  # fmt: skip
        began = time.perf_counter()
        slots = scheduler.allocate(sessions, owners=np.arange(1, sessions + 1, dtype=np.int64))
        allocated = time.perf_counter() - began
        began = time.perf_counter()
        arm_steady(scheduler, slots, rng)
        armed = time.perf_counter() - began
        keys, used = redis_bytes(client, f"{prefix}:ours")
        gc.collect()
        gc.freeze()
        print(f"Redis {sessions:,}: {common.load()}", file=sys.stderr)
        stats = simulate(
            scheduler, slots, rng, ticks=ticks, progress=f"RedisScheduler {sessions:,}"
        )
        gc.unfreeze()
        rows.append(
            stats_row(
                f"RedisScheduler ({args.redis_shards} shards, Lua, batches ≤ {scheduler.batch})",
                sessions,
                ticks,
                stats,
                f"{used / sessions:.0f} in Redis",
            )
        )
        notes.append(
            f"set-up: allocate {sessions:,} in {allocated:.1f} s ({sessions / allocated:,.0f}/s), arm in {armed:.1f} s "
            f"({sessions / armed:,.0f}/s); {keys:,} keys, {used / 2**20:,.0f} MiB (MEMORY USAGE); simulation wall {stats.wall_s:,.0f} s"
        )
        RESULTS["redis"] = stats
        common.drop_keys(client, f"{prefix}:ours")
        del scheduler, slots

        # -- naive
        sessions, ticks = args.naive_sessions, args.naive_minutes * 60
        naive = NaiveRedisScheduler(
            client, sessions, POLICY, key=f"{prefix}:naive:when", seed=int(rng.integers(2**31))
        )
        slots = naive.allocate(sessions)
        naive.seed(slots, stationary_deadlines(rng, sessions, T0))
        keys, used = redis_bytes(client, f"{prefix}:naive")
        print(f"naive Redis {sessions:,}: {common.load()}", file=sys.stderr)
        stats = simulate(naive, slots, rng, ticks=ticks, progress=f"naive Redis {sessions:,}")
        rows.append(
            stats_row(
                "baseline: naive, one command per round trip",
                sessions,
                ticks,
                stats,
                f"{used / sessions:.0f} in Redis (+ state in process)",
            )
        )
        notes.append(
            f"naive: {naive.round_trips:,} round trips, {naive.round_trips / (stats.busy_ns / 1e9):,.0f}/s while busy"
        )
        RESULTS["naive-redis"] = stats
    finally:
        common.drop_keys(client, prefix)
    common.table(
        f"Redis {info.get('redis_version')} on {args.redis_url} (same run)", SIM_HEADER, rows
    )
    for note in notes:
        print(f"- {note}")
    print(f"- {common.load()}; Redis is shared with other work on this machine")
    ours, naive_stats = RESULTS["redis"], RESULTS["naive-redis"]
    print(
        f"- RedisScheduler / naive on events/s per busy core: {ours.rate() / naive_stats.rate():,.0f}× (wall); goal ≥ 10×"
    )


RESULTS: dict[str, Stats] = {}


QUICK: dict[str, object] = {
    "sessions": 20_000,
    "minutes": 2,
    "big_sessions": 50_000,
    "big_minutes": 2,
    "heapq_sessions": 10_000,
    "heapq_minutes": 2,
    "aps_jobs": 1_000,
    "aps_minutes": 2,
    "redis_sessions": 10_000,
    "redis_minutes": 2,
    "redis_shards": 4,
    "naive_sessions": 1_000,
    "naive_minutes": 2,
    **http_app.QUICK,
}


def main(argv: Sequence[str] | None = None) -> None:
    parser = common.parser("benchmarks.challenges", __doc__)
    parser.add_argument("--parts", default="inprocess,heapq,apscheduler,redis,http")
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--minutes", type=int, default=30, help="simulated minutes at --sessions")
    parser.add_argument("--day", action="store_true", help="86,400 ticks at --sessions")
    parser.add_argument("--big-sessions", type=int, default=10_000_000, help="0 to skip")
    parser.add_argument("--big-minutes", type=int, default=10)
    parser.add_argument("--heapq-sessions", type=int, default=1_000_000)
    parser.add_argument("--heapq-minutes", type=int, default=5)
    parser.add_argument("--aps-jobs", type=int, default=100_000)
    parser.add_argument("--aps-minutes", type=int, default=5)
    parser.add_argument("--redis-url", default=common.redis_url())
    parser.add_argument("--redis-sessions", type=int, default=1_000_000)
    parser.add_argument("--redis-minutes", type=int, default=10)
    parser.add_argument("--redis-shards", type=int, default=32)
    parser.add_argument("--naive-sessions", type=int, default=20_000)
    parser.add_argument("--naive-minutes", type=int, default=10)
    http_app.add_arguments(parser)
    parser.add_argument("--seed", type=int, default=20261122)
    args = common.parse(parser, argv, QUICK)
    parts = args.parts.split(",")
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown --parts {', '.join(sorted(unknown))}; known: {', '.join(PARTS)}")
    short = [m for m in ("minutes", "heapq_minutes", "aps_minutes", "redis_minutes", "naive_minutes")
             if getattr(args, m) * 60 <= WARMUP_TICKS]  # fmt: skip
    if short or (args.big_sessions and args.big_minutes * 60 <= WARMUP_TICKS):
        parser.error(f"every simulation needs more than {WARMUP_TICKS} ticks (the warm-up)")
    if "http" in parts:
        common.require_wrk()  # before the long parts, not after them
    rng = np.random.default_rng(args.seed)
    print(
        f"# benchmarks.challenges — {common.load()}; python {sys.version.split()[0]}, numpy {np.__version__}"
    )
    if "inprocess" in parts:
        bench_inprocess(args, rng)
    if "heapq" in parts:
        bench_heapq(args, rng)
    if "apscheduler" in parts:
        bench_apscheduler(args, rng)
    if "redis" in parts:
        bench_redis(args, rng)
    if "http" in parts:
        http_app.bench_http(args)


PARTS = ("inprocess", "heapq", "apscheduler", "redis", "http")

if __name__ == "__main__":
    main()
