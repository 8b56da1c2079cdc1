"""The study ticker: once a second, the challenge schedulers tick and their outcome is
applied and stored; every ``study.flush_interval_ms`` the live progress is stored.

Each API process that serves study runs one ``StudyTicker`` in its lifespan, beside the
sweeper (``EXAMENGINE_STUDY_TICK_MS``, 1000 ms; 0 = none, tests call ``run_once``). A
tick, on the event loop so it never races a heartbeat:

1. ``LiveStudy.tick(now)``: the schedulers apply the queued answers and report what
   was issued (delivered at once to open SSE streams, and held for the next heartbeat
   reply), passed (the open segment becomes credit) and missed (the open segment is
   voided, the chapter pauses);
2. the credit granted and the chapters completed in that tick, with every integrity
   event (issued, passed, missed …), are written in **one transaction** — before any
   reply can report them, so a chapter reported complete is stored;
3. every ``flush_interval_ms`` the positions and credit of every session that changed
   are written in one batch, and idle sessions end.

Crash bound (docs/decisions/0009): credit is granted only by a passed challenge and
stored in the tick that grants it, so a crash loses at most the tick under way (one
second) of granted credit and never a completed chapter; the resume position and the
open, never-verified segment (not credit) lose at most one flush interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

from prometheus_client import Histogram
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from api.services import study
from api.store.db import transaction
from examengine.clock import Clock

logger = logging.getLogger("api.workers.study_ticker")

#: How long one tick took on the loop and its thread: the schedulers, then the store.
TICK = Histogram(
    "examengine_study_tick_seconds",
    "Seconds one study tick took (schedulers ticked, outcome stored, flush when due)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class StudyTicker:
    """Ticks ``live`` every ``tick_ms`` and flushes every ``flush_ms``."""

    def __init__(
        self,
        live: study.LiveStudy,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        tick_ms: int,
        flush_ms: int,
    ) -> None:
        self.live = live
        self.sessions = sessions
        self.clock = clock
        self.tick_ms = tick_ms
        self.flush_ms = flush_ms
        self._last_flush: int | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def run_once(self) -> study.TickOutcome:
        """One tick: the clock read once; the outcome stored; a flush when one is due."""
        now = self.clock.now_ms()
        outcome = self.live.tick(now=now)
        with self._or_requeue(outcome.batch):
            self._store(outcome.batch)
        if self._flush_due(now):
            self.flush(now=now)
        return outcome

    async def tick(self) -> study.TickOutcome:
        """``run_once`` for the loop: the sessions change on the loop (heartbeats and
        acks change them there too); the batches are stored on a worker thread, so a
        write that waits for the database (SQLite's writer turn, a pool connection)
        never stops the loop."""
        now = self.clock.now_ms()
        outcome = self.live.tick(now=now)
        with self._or_requeue(outcome.batch):
            await asyncio.to_thread(self._store, outcome.batch)
        if self._flush_due(now):
            batch = self.live.flush(now=now)
            with self._or_requeue(batch):
                await asyncio.to_thread(self._store, batch)
            self._last_flush = now
        return outcome

    def flush(self, *, now: int) -> None:
        """Store the live progress of every session that changed (and end idle ones)."""
        batch = self.live.flush(now=now)
        with self._or_requeue(batch):
            self._store(batch)
        self._last_flush = now

    def _flush_due(self, now: int) -> bool:
        if self._last_flush is None:
            self._last_flush = now
            return False
        return now - self._last_flush >= self.flush_ms

    @contextlib.contextmanager
    def _or_requeue(self, batch: study.Batch) -> Iterator[None]:
        """A batch that could not be stored goes back to the live sessions (on the loop's
        thread), to be stored with the next tick instead."""
        try:
            yield
        except Exception:
            self.live.requeue(batch)
            raise

    def _store(self, batch: study.Batch) -> None:
        if batch:
            with transaction(self.sessions) as session:
                study.persist(session, batch)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run(), name="study-ticker")

    async def stop(self) -> None:
        """Stop, then flush once more (a clean shutdown loses nothing)."""
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        self.flush(now=self.clock.now_ms())

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                with TICK.time():
                    await self.tick()
            except Exception:  # a database hiccup must not stop the ticking for good
                logger.exception("study tick failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.tick_ms / 1000)
