"""The checkpointer: every ``records.checkpoint_interval_ms`` (five minutes by default)
it signs a checkpoint of the integrity log's chains that grew (docs/decisions/0027).

Each API process runs one in its lifespan; on PostgreSQL an advisory lock lets one
process sign a round and the others skip it, on SQLite they take turns on the write
lock and find nothing left to sign. ``examengine audit checkpoint`` signs one by hand
(with the in-process checkpointer off: ``EXAMENGINE_CHECKPOINT_INTERVAL_MS=0``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from api.services.evidence import checkpoints
from api.store.db import transaction
from examengine import signing
from examengine.clock import Clock

logger = logging.getLogger("api.workers.checkpointer")


class Checkpointer:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        key: signing.SigningKey,
        *,
        interval_ms: int,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.key = key
        self.interval_s = interval_ms / 1000
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def run_once(self) -> int:
        """Sign one checkpoint; how many chain heads it signed (0: none grew)."""
        with transaction(self.sessions) as session:
            row = checkpoints.make_checkpoint(session, self.key, now=self.clock.now_ms())
            return row.leaves if row is not None else 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run(), name="checkpointer")

    async def stop(self) -> None:
        """Stop, then sign what grew since the last round (a clean stop leaves nothing
        unsigned)."""
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.run_once)

    async def run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval_s)
            if self._stop.is_set():
                break
            try:
                signed = await asyncio.to_thread(self.run_once)
                if signed:
                    logger.info("integrity checkpoint: %d chain head(s) signed", signed)
            except Exception:  # a database hiccup must not end the checkpoints for good
                logger.exception("integrity checkpoint failed; retrying next round")
