"""The sweeper: closes every open attempt whose time is up, whether or not anyone reads it.

Moodle closes overdue attempts from a once-a-minute cron, at least a minute late; Canvas
and Open edX close them only when someone reads them (shared/HOTPATHS.md). Here each API
process runs a ``Sweeper`` in its lifespan: every ``exam.sweep_interval_ms`` (500 ms by
default) it reads the clock once and calls ``api.services.attempts.close_due`` in batches
until nothing is due, so every attempt is closed within about a second of its deadline
(the guarantee tested is 2 s), with the deadline recorded as its finish. The rule is the
core's (``close_due``, ``grade_closed``); this module only schedules it.

A tick closes first and grades after (decision 0021): the close of a batch is one
executemany UPDATE and one events INSERT, with no grading, so the close of a deadline
wave does not wait for its grading (``benchmarks.deadline_wave`` measures both); the
``auto_submit`` attempts it closed are graded by the second pass (or by whoever reads
one first), each exactly once.

Several processes may sweep at once: on PostgreSQL each batch takes its rows ``FOR
UPDATE SKIP LOCKED``; on SQLite the batches of different processes take turns on the
write lock. ``examengine sweep --once`` runs one sweep (for cron, or with the in-process
sweeper switched off by ``EXAMENGINE_SWEEP_INTERVAL_MS=0``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading

import click
from prometheus_client import Histogram
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from api.clock import SystemClock
from api.services import attempts, certificates
from api.settings import Settings
from api.store.db import make_engine, session_factory, transaction
from examengine.clock import Clock

logger = logging.getLogger("api.workers.sweeper")

#: How long after its finish (deadline or end of grace) the sweeper stored each close.
LAG = Histogram(
    "examengine_sweeper_lag_seconds",
    "Seconds from an attempt's finish to the sweeper storing its close",
    buckets=(0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60, 300),
)

#: Batches one tick may run before it yields to the next (a backlog drains over ticks).
MAX_BATCHES_PER_TICK = 200


class Sweeper:
    """Runs a tick (``close_pass``, then ``grade_pass``) every ``interval_ms`` on a
    thread, as an asyncio task."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        interval_ms: int,
        batch: int = attempts.SWEEP_BATCH,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.interval_s = interval_ms / 1000
        self.batch = batch
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._guard = threading.Lock()

    def run_once(self) -> int:
        """One tick: the clock read once; first every due attempt closed (state and
        finish time, batch after batch), then the closed ones graded; returns how many
        attempts changed (closed, or moved into their grace period)."""
        with self._guard:  # never two ticks of one process at once
            now = self.clock.now_ms()
            changed = self.close_pass(now)
            self.grade_pass(now)
            return changed

    def close_pass(self, now: int) -> int:
        """Batches of ``attempts.close_due`` until nothing is due; how many changed."""
        changed = 0
        for _ in range(MAX_BATCHES_PER_TICK):
            with transaction(self.sessions) as session:
                outcome = attempts.close_due(session, now=now, limit=self.batch)
            changed += outcome.changed
            for lag_ms in outcome.lags_ms:
                LAG.observe(lag_ms / 1000)
            if outcome.checked < self.batch:
                break
        return changed

    def grade_pass(self, now: int) -> int:
        """Batches of ``attempts.grade_due`` until nothing waits; how many were graded.

        Between two batches the clock is read again and whatever fell due meanwhile is
        closed first (one indexed query when nothing did), so a long grading pass never
        holds up a close: closes wait at most one grading batch."""
        graded = 0
        for n in range(MAX_BATCHES_PER_TICK):
            if n:
                self.close_pass(self.clock.now_ms())
            with transaction(self.sessions) as session:
                outcome = attempts.grade_due(session, now=now, limit=self.batch)
            graded += outcome.graded
            if outcome.checked < self.batch:
                break
        return graded

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run(), name="sweeper")

    async def stop(self) -> None:
        """Stop after the tick under way (never abandon a transaction half done)."""
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def run(self) -> None:
        """Tick until ``stop``."""
        while not self._stop.is_set():
            try:
                changed = await asyncio.to_thread(self.run_once)
                if changed:
                    logger.info("sweeper closed %d attempt(s)", changed)
            except Exception:  # a database hiccup must not end the sweeping for good
                logger.exception("sweeper tick failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval_s)


@click.command("sweep")
@click.option("--once", is_flag=True, help="One sweep, then exit (for cron).")
def sweep(once: bool) -> None:
    """Close every attempt whose time is up (the deadline is recorded as its finish)."""
    settings = Settings.from_env(os.environ)
    engine = make_engine(settings.database)
    sessions = session_factory(engine)
    certificates.bind(sessions, settings.records)  # a pass it grades issues the certificate
    try:
        sweeper = Sweeper(
            sessions,
            SystemClock(),
            interval_ms=settings.exam.sweep_interval_ms or 500,
        )
        if once:
            click.echo(f"closed {sweeper.run_once()} attempt(s)")
            return
        click.echo(f"sweeping every {sweeper.interval_s:g} s; Ctrl-C to stop")
        asyncio.run(sweeper.run())
    finally:
        engine.dispose()
