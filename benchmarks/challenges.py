"""Anti-idle scheduler benchmark: armed study sessions at 1 s ticks, each backend beside
a baseline in the same run.

    .venv/bin/python -m benchmarks.challenges                  # default: a few minutes
    .venv/bin/python -m benchmarks.challenges --day --big-sessions 10000000
    .venv/bin/python -m benchmarks.challenges --parts inprocess,heapq

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
- ``heapq``: a straightforward Python scheduler (heap of (deadline, slot, generation),
  lazy deletion of superseded entries, state in lists), same workload and metric.
- ``apscheduler``: APScheduler 3.11, MemoryJobStore, ``--aps-jobs`` (100k) jobs, one job
  a session: add/modify/remove rates, ``get_due_jobs``, the real scheduler thread firing
  due jobs into a no-op executor, and the same workload driven through
  ``get_due_jobs`` + ``modify_job`` (what its ``_process_jobs`` does per job).
- ``redis``: ``api.store.redis_scheduler.RedisScheduler`` (when present) at
  ``--redis-sessions`` over ``--redis-shards`` against a naive one-command-per-round-trip
  design written here at ``--naive-sessions``; keys under a scratch prefix, deleted
  afterwards.
- ``http``: the real app under uvicorn (1 worker) in a subprocess, with
  ``--http-sessions`` learners each in a study session whose challenge is waiting;
  heartbeat + ack requests (1:1, every ack accepted) against a hello-world route of the
  same server (``benchmarks/http_app.py``), driven by ``wrk`` if installed (else, and
  said so, an asyncio httpx client). Reported "not available" when the app has no study
  endpoints.

The machine is shared: every part prints the load average; tick percentiles are wall
time, with the thread's CPU time beside them to show how much is contention. Nothing here
is a test: it prints tables; results go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import heapq
import importlib
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx
import msgspec
import numpy as np
import numpy.typing as npt
import redis
from apscheduler.executors.base import BaseExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlmodel import col, select

from api.cli.demo import ACCOUNTS, DEMO_LEARNER, load_demo
from api.http.auth import hash_password
from api.services import study
from api.settings import DatabaseSettings
from api.store.db import migrate, standalone_transaction
from api.store.tables import User
from examengine import credit
from examengine.challenges import ChallengePolicy, InProcessScheduler, Phase, TickResult

T0 = 1_795_000_000_000  # ms; the first simulated tick
TICK_MS = 1000
WARMUP_TICKS = 60
POLICY = ChallengePolicy()
I64 = npt.NDArray[np.int64]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("| " + " | ".join("---" for _ in header) + " |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    sys.stdout.flush()


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


def arm_steady(scheduler: Any, slots: I64, rng: np.random.Generator) -> None:
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
        print(f"in-process {sessions:,}: {load()}", file=sys.stderr)
        stats = simulate(scheduler, slots, rng, ticks=ticks, progress=f"in-process {sessions:,}")
        per = scheduler.nbytes_per_session()
        nbytes = f"{per:.2f}"
        rows.append(stats_row("in-process (numpy)", sessions, ticks, stats, nbytes))
        notes.append(
            f"{sessions:,}: arrays {per * sessions / 2**20:,.0f} MiB; process RSS {before:,.0f} → "
            f"{rss_mib():,.0f} MiB; simulation wall {stats.wall_s:,.0f} s "
            f"(scheduler busy {stats.busy_ns / 1e9:,.1f} s); {load()}"
        )
        RESULTS[f"inprocess-{sessions}"] = stats
        del scheduler, slots
        gc.unfreeze()
        gc.collect()
    table("In-process scheduler", SIM_HEADER, rows)
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
    print(f"heapq {sessions:,}: {load()}", file=sys.stderr)
    stats = simulate(scheduler, slots, rng, ticks=ticks, progress=f"heapq {sessions:,}")
    gc.unfreeze()
    nbytes = scheduler.nbytes()
    rows = [stats_row("baseline: Python heapq", sessions, ticks, stats, f"{nbytes / sessions:.0f}")]
    RESULTS["heapq"] = stats
    ours = RESULTS.get(f"inprocess-{args.sessions}")
    table("Baseline: Python heapq (same workload, same metric)", SIM_HEADER, rows)
    print(
        f"- heap entries at the end: {len(scheduler.heap):,} (stale ones included); GC frozen after set-up, as for ours; {load()}"
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


def noop_executor() -> Any:
    """An executor that accepts a job and runs nothing (so only the scheduler is timed);
    ``fired`` counts submissions, ``done`` is set after ``expect`` of them."""

    class NoopExecutor(BaseExecutor):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.fired = 0
            self.expect = -1
            self.done = threading.Event()

        def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
            self.fired += 1
            self._instances[job.id] -= 1  # nothing runs: release the instance at once
            if self.fired == self.expect:
                self.done.set()

    return NoopExecutor()


def bench_apscheduler(args: argparse.Namespace, rng: np.random.Generator) -> None:
    jobs = args.aps_jobs
    rows: list[tuple[str, ...]] = []
    print(f"APScheduler {jobs:,}: {load()}", file=sys.stderr)

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
    count = 20_000
    for n in range(count):
        probe.add_job(noop, "date", run_date=to_dt(T0 + n), id=str(n))
    per_job = (tracemalloc.get_traced_memory()[0] - base) / count
    tracemalloc.stop()
    probe.shutdown(wait=False)
    rows.append(("memory per job (tracemalloc, 20k jobs)", f"{per_job:.0f} B", ""))

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
    table("Baseline: APScheduler 3.11 (MemoryJobStore)", ("operation", "rate / time", "note"), rows)
    table(
        "Baseline: APScheduler 3.11, the workload",
        SIM_HEADER,
        [stats_row("baseline: APScheduler", jobs, ticks, stats, f"{per_job:.0f}")],
    )
    ours = RESULTS.get(f"inprocess-{args.sessions}")
    print(f"- {load()}")
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
        self, client: Any, capacity: int, policy: ChallengePolicy, *, key: str, seed: int
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
        due = self.client.zrangebyscore(self.key, "-inf", now)
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


def redis_bytes(client: Any, prefix: str) -> tuple[int, int]:
    """(keys, bytes) under ``prefix``: the sum of MEMORY USAGE (exact, SAMPLES 0)."""
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    return len(keys), sum(v or 0 for v in pipe.execute())


def drop_keys(client: Any, prefix: str) -> None:
    batch = []
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        batch.append(key)
        if len(batch) == 1000:
            client.unlink(*batch)
            batch = []
    if batch:
        client.unlink(*batch)


def bench_redis(args: argparse.Namespace, rng: np.random.Generator) -> None:
    try:
        RedisScheduler = importlib.import_module("api.store.redis_scheduler").RedisScheduler
    except ImportError as error:  # another part of the project, maybe not there yet
        print(f"\n### Redis\n\nnot available: api.store.redis_scheduler ({error})")
        return
    client = redis.Redis.from_url(args.redis_url)
    try:
        client.ping()
    except redis.RedisError as error:
        print(f"\n### Redis\n\nnot available: {args.redis_url} ({error})")
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
        print(f"Redis {sessions:,}: {load()}", file=sys.stderr)
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
        drop_keys(client, f"{prefix}:ours")
        del scheduler, slots

        # -- naive
        sessions, ticks = args.naive_sessions, args.naive_minutes * 60
        naive = NaiveRedisScheduler(
            client, sessions, POLICY, key=f"{prefix}:naive:when", seed=int(rng.integers(2**31))
        )
        slots = naive.allocate(sessions)
        naive.seed(slots, stationary_deadlines(rng, sessions, T0))
        keys, used = redis_bytes(client, f"{prefix}:naive")
        print(f"naive Redis {sessions:,}: {load()}", file=sys.stderr)
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
        drop_keys(client, prefix)
    table(f"Redis {info.get('redis_version')} on {args.redis_url} (same run)", SIM_HEADER, rows)
    for note in notes:
        print(f"- {note}")
    print(f"- {load()}; Redis is shared with other work on this machine")
    ours, naive_stats = RESULTS["redis"], RESULTS["naive-redis"]
    print(
        f"- RedisScheduler / naive on events/s per busy core: {ours.rate() / naive_stats.rate():,.0f}× (wall); goal ≥ 10×"
    )


# -- HTTP: the study hot path against the same server's hello-world ------------------------

HEARTBEAT, ACK = "/api/study/heartbeat", "/api/study/ack"
TICKER_MS = 15_000
BENCH_PASSWORD = "bench-learner-1"
BENCH_CHAPTER = "bench-chapter"
BENCH_PLAN = credit.Plan(
    key="bench-plan", title="bench", year=2026, category="public", required_hours=1,
    elective_hours=0,
    courses=(credit.PlanCourse(required=True, course=credit.Course(
        key="bench-course", title="bench", chapters=(credit.Chapter(
            key=BENCH_CHAPTER, title="bench", duration_ms=8 * 3_600_000, credit_hours=1),))),),
)  # fmt: skip


@dataclass
class Load:
    """One load run's outcome."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: str


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def seed_database(root: Path, learners: int) -> str:
    """A migrated SQLite database with the demo, a study plan and ``learners`` learners
    enrolled in it; its URL."""
    database = DatabaseSettings(url=f"sqlite:///{root / 'bench.db'}")
    migrate(database.url)
    with standalone_transaction(database) as session:
        load_demo(session, now=datetime.now(UTC))
        study.save_plan(session, BENCH_PLAN, now=int(time.time() * 1000))
        password_hash = hash_password(BENCH_PASSWORD)
        for n in range(learners):
            session.add(User(login=f"1390000{n:04d}", display_name=f"bench {n}", password_hash=password_hash,
                             roles=["learner"], must_change_password=False))  # fmt: skip
        session.flush()
        for user in session.exec(select(User).where(col(User.login).startswith("1390000"))):
            assert user.id is not None
            study.enroll(
                session, learner_id=user.id, plan=BENCH_PLAN.key, now=int(time.time() * 1000)
            )
    return database.url


@contextmanager
def app_server(root: Path, database_url: str, name: str, **extra: str) -> Iterator[str]:
    """The real app (plus /bench/hello) under uvicorn, one worker, on a free port, over
    ``database_url``; ``extra`` EXAMENGINE_* settings (e.g. REDIS_URL). Stopped by its
    PID."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EXAMENGINE_")},
        "EXAMENGINE_VAR_DIR": str(root / "var"),
        "EXAMENGINE_DATABASE_URL": database_url,
        "EXAMENGINE_LOGIN_ATTEMPTS_PER_MINUTE": "100000",
        "EXAMENGINE_LOG_LEVEL": "WARNING",
        "EXAMENGINE_SWEEP_INTERVAL_MS": "0",
        # A challenge 1 s after arming, an hour to answer it, a tick every TICKER_MS: right
        # after a tick every session has a challenge waiting, and every ack of it is
        # accepted (queued) until the next tick applies the first — so acks can be
        # replayed for a few seconds, each going through the whole accept path.
        "EXAMENGINE_STUDY_TICK_MS": str(TICKER_MS),
        "EXAMENGINE_CHALLENGE_MIN_S": "1",
        "EXAMENGINE_CHALLENGE_MAX_S": "1",
        "EXAMENGINE_CHALLENGE_WINDOW_S": "3600",
        **{f"EXAMENGINE_{key.upper()}": value for key, value in extra.items()},
    }
    log_path = root / f"{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "benchmarks.http_app:create", "--factory", "--workers", "1",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
        cwd=Path(__file__).resolve().parent.parent, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.close()
                raise RuntimeError(
                    "the server did not start:\n" + log_path.read_text(errors="replace")[-3000:]
                )
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


WRK_SCRIPT = """
local bodies, paths, cookies = {}, {}, {}
for line in io.lines(os.getenv("BENCH_REQUESTS")) do
  local path, cookie, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
  paths[#paths + 1] = path
  cookies[#cookies + 1] = cookie
  bodies[#bodies + 1] = body
end
local n = 0
request = function()
  n = n % #paths + 1
  local headers = {["Content-Type"] = "application/json"}
  if cookies[n] ~= "" then headers["Cookie"] = cookies[n] end
  return wrk.format("POST", paths[n], headers, bodies[n])
end
done = function(summary, latency, requests)
  -- errors: wrk counts them itself ("Non-2xx or 3xx responses"); a response() callback
  -- would run in the thread's Lua state, not this one
  io.write(string.format("BENCH %d %.3f %.3f\\n", summary.requests,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def wrk_load(
    url: str, requests: list[tuple[str, str, str]], seconds: int, connections: int, root: Path
) -> Load:
    """``wrk`` (one thread) cycling through ``requests`` (path, cookie, JSON body)."""
    script, lines = (
        root / "bench.lua",
        root / "requests.txt",
    )
    script.write_text(WRK_SCRIPT)
    lines.write_text("".join(f"{path}\t{cookie}\t{body}\n" for path, cookie, body in requests))
    env = {**os.environ, "BENCH_REQUESTS": str(lines)}
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    total, p50, p99 = line.split()[1:]
    rps = next(float(x.split()[1]) for x in out.splitlines() if x.startswith("Requests/sec:"))
    errors = sum(
        int(x.rsplit(":", 1)[1]) for x in out.splitlines() if "Non-2xx or 3xx responses" in x
    )
    socket = next((x.strip() for x in out.splitlines() if "Socket errors" in x), "")
    return Load(rps, float(p50), float(p99), f"{errors:,} of {int(total):,} ≥ 400 {socket}".strip())


def httpx_load(
    url: str, requests: list[tuple[str, str, str]], seconds: int, connections: int
) -> Load:
    """The fallback without ``wrk``: an asyncio httpx client, ``connections`` tasks."""

    async def run() -> Load:
        latencies: list[float] = []
        errors = 0
        stop = time.perf_counter() + seconds
        headers = {"Content-Type": "application/json"}
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as client:

            async def worker(offset: int) -> None:
                nonlocal errors
                n = offset
                while time.perf_counter() < stop:
                    path, cookie, body = requests[n % len(requests)]
                    n += connections
                    began = time.perf_counter()
                    reply = await client.post(
                        path, content=body, headers={"Cookie": cookie} if cookie else None
                    )
                    latencies.append(time.perf_counter() - began)
                    errors += reply.status_code >= 400

            began = time.perf_counter()
            await asyncio.gather(*(worker(i) for i in range(connections)))
            took = time.perf_counter() - began
        values = np.array(latencies) * 1e3
        return Load(
            len(latencies) / took,
            float(np.percentile(values, 50)),
            float(np.percentile(values, 99)),
            f"{errors:,} of {len(latencies):,} ≥ 400",
        )

    return asyncio.run(run())


def login(url: str, login: str, password: str) -> str:
    """A session cookie ("name=value") for ``login``."""
    with httpx.Client(base_url=url) as client:
        reply = client.post("/auth/login", json={"login": login, "password": password})
        if reply.status_code != 200:
            raise RuntimeError(f"could not log in {login}: {reply.status_code} {reply.text[:200]}")
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


def study_requests(url: str, learners: int) -> list[tuple[str, str, str]] | str:
    """One heartbeat and one ack for each of ``learners`` study sessions (each learner
    logged in, the chapter started, its first challenge waiting), or why not."""
    with httpx.Client(base_url=url) as client:
        paths = client.get("/schema/openapi.json").json().get("paths", {})
        if HEARTBEAT not in paths or ACK not in paths:
            return f"not available: the app has no {HEARTBEAT} and {ACK}"
        sessions = []
        for n in range(learners):
            cookie = login(url, f"1390000{n:04d}", BENCH_PASSWORD)
            reply = client.post(f"/api/study/{BENCH_CHAPTER}/start", headers={"Cookie": cookie})
            if reply.status_code != 200:
                return f"not available: start answered {reply.status_code} {reply.text[:200]}"
            sessions.append((cookie, reply.json()["token"]))
        # wait for a tick to issue the challenges, then go at once (the next tick applies
        # the first ack of each and the replays would be refused)
        cookie, token = sessions[-1]
        deadline = time.monotonic() + TICKER_MS / 1000 * 3
        while time.monotonic() < deadline:
            status = client.post(HEARTBEAT, headers={"Cookie": cookie},
                                 json={"token": token, "position_ms": 1000, "playing": True}).json()  # fmt: skip
            if status.get("challenge"):
                break
            time.sleep(0.2)
        else:
            return "not available: no challenge was issued"
        requests = []
        for cookie, token in sessions:
            beat = msgspec.json.encode({"token": token, "position_ms": 2000, "playing": True})
            # the challenge's number: a slot handed out again keeps counting
            status = client.post(HEARTBEAT, headers={"Cookie": cookie}, content=beat).json()
            seq = status["challenge"]["seq"]
            ack = msgspec.json.encode({"token": token, "seq": seq, "answer": "continue"})
            requests += [(HEARTBEAT, cookie, beat.decode()), (ACK, cookie, ack.decode())]
        return requests


def bench_http(args: argparse.Namespace) -> None:
    use_wrk = shutil.which("wrk") is not None and not args.httpx
    tool = "wrk, 1 thread" if use_wrk else "httpx asyncio client (wrk is not installed)"
    rows: list[tuple[str, ...]] = []

    def measure(
        url: str, requests: list[tuple[str, str, str]], seconds: int = args.http_seconds
    ) -> Load:
        if use_wrk:
            with tempfile.TemporaryDirectory() as scratch:
                return wrk_load(url, requests, seconds, args.http_connections, Path(scratch))
        return httpx_load(url, requests, seconds, args.http_connections)

    def row(name: str, result: Load, base: Load | None) -> tuple[str, ...]:
        share = f"{result.requests_per_s / base.requests_per_s:.0%}" if base else "100 %"
        return (
            name,
            f"{result.requests_per_s:,.0f}",
            f"{result.p50_ms:.1f} / {result.p99_ms:.1f}",
            result.errors,
            share,
        )

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        database = seed_database(root, args.http_sessions)
        with app_server(root, database, "one") as url:
            rows += bench_one_worker(args, url, measure, row)
        relayed = bench_two_workers(args, root, database, measure, row)
    table(
        f"HTTP, uvicorn 1 worker, {tool}, {args.http_connections} connections, {args.http_seconds} s each",
        ("requests", "requests/s", "latency p50 / p99 ms", "errors", "of hello-world"),
        rows,
    )
    print(f"- {load()}; the load generator shares the 2 cores with the server")
    if relayed:
        table(
            "HTTP, two workers (two uvicorn processes) over one Redis: the study relay (decision 0010)",
            ("requests", "requests/s", "latency p50 / p99 ms", "errors", "of the owner's"),
            relayed,
        )
        print(f"- {load()}; both servers, Redis and the load generator share the 2 cores")


Measure = Callable[..., Load]
Row = Callable[[str, Load, "Load | None"], tuple[str, ...]]


def bench_one_worker(
    args: argparse.Namespace, url: str, measure: Measure, row: Row
) -> list[tuple[str, ...]]:
    """hello-world (with and without a session) and the study hot path on one worker."""
    rows: list[tuple[str, ...]] = []
    cookie = login(url, DEMO_LEARNER, next(a.password for a in ACCOUNTS if a.login == DEMO_LEARNER))
    hello_body = '{"slot": 12345, "seq": 7}'
    measure(url, [("/bench/hello", "", hello_body)], 2)  # warm-up
    print(f"HTTP: {load()}", file=sys.stderr)
    study_mix = study_requests(url, args.http_sessions)
    if isinstance(study_mix, str):
        hot = None
    else:
        measure(url, study_mix, 1)  # warm-up
        hot = measure(url, study_mix)
    hello = measure(url, [("/bench/hello", "", hello_body)])
    rows.append(row("hello-world POST (same server; no session cookie)", hello, None))
    with_session = measure(url, [("/bench/hello", cookie, hello_body)])
    rows.append(row("hello-world POST with a learner's session cookie", with_session, hello))
    if hot is None:
        rows.append(("heartbeat + ack", str(study_mix), "", "", ""))
    else:
        rows.append(
            row(
                f"heartbeat + ack, 1:1, {args.http_sessions:,} study sessions (learners)",
                hot,
                hello,
            )
        )
    return rows


def bench_two_workers(
    args: argparse.Namespace, root: Path, database: str, measure: Measure, row: Row
) -> list[tuple[str, ...]]:
    """The study hot path sent to the worker holding the sessions, then to another
    worker that relays it (two servers over one Redis, sessions begun on the first)."""
    client = redis.Redis.from_url(args.redis_url)
    try:
        client.ping()
    except redis.RedisError as error:
        return [("two workers", f"not available: {args.redis_url} ({error})", "", "", "")]
    prefix = f"bench-relay-{os.getpid()}"
    shared = {"redis_url": args.redis_url, "redis_prefix": prefix}
    try:
        with (
            app_server(root, database, "owner", **shared) as owner,
            app_server(root, database, "other", **shared) as other,
        ):
            loads = []
            for target in (owner, other):
                # sessions begun (again) on the owner, their challenges waiting: acks are
                # accepted until the next tick applies the first
                study_mix = study_requests(owner, args.http_sessions)
                if isinstance(study_mix, str):
                    return [("two workers", study_mix, "", "", "")]
                measure(target, study_mix, 1)  # warm-up
                loads.append(measure(target, study_mix))
            direct, relayed = loads
    finally:
        drop_keys(client, prefix)
        client.close()
    return [
        row("heartbeat + ack sent to the worker holding the sessions", direct, None),
        row("the same, sent to the other worker (relayed through Redis)", relayed, direct),
    ]


RESULTS: dict[str, Stats] = {}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
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
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("EXAMENGINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
    )
    parser.add_argument("--redis-sessions", type=int, default=1_000_000)
    parser.add_argument("--redis-minutes", type=int, default=10)
    parser.add_argument("--redis-shards", type=int, default=32)
    parser.add_argument("--naive-sessions", type=int, default=20_000)
    parser.add_argument("--naive-minutes", type=int, default=10)
    parser.add_argument("--http-seconds", type=int, default=10)
    parser.add_argument("--http-connections", type=int, default=32)
    parser.add_argument("--http-sessions", type=int, default=200)
    parser.add_argument(
        "--httpx", action="store_true", help="use the httpx client even if wrk is installed"
    )
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args()
    parts = args.parts.split(",")
    rng = np.random.default_rng(args.seed)
    print(
        f"# benchmarks.challenges — {load()}; python {sys.version.split()[0]}, numpy {np.__version__}"
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
        bench_http(args)


if __name__ == "__main__":
    main()
