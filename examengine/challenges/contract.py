"""The scheduler contract, shared by the in-process and the Redis backends.

A scheduler holds one timer per study session, in a *slot*. Everything is batch-oriented
over numpy arrays of slots; time is UTC milliseconds passed in (``now``):

- ``arm(slots, now)``: schedule the next challenge at a random moment in the policy's
  [min, max] after ``now``.
- ``acknowledge(slots, seqs, received_ms)``: queue answers; they are applied at the next
  ``tick``, all at once. An ack counts only for the challenge currently awaiting an
  answer (``seq`` must match) and only if it arrived inside the window; a stale,
  replayed or late ack is refused.
- ``tick(now)``: apply the queued acks, then report ``issued`` (challenges that fired:
  slot and sequence number; the slot now awaits an answer within the window) and
  ``missed`` (windows that ran out; the slot is idle until armed again).
- ``disarm(slots)``: stop; the slot's timer never fires again.

Guarantees every backend keeps (tests/contract/test_scheduler.py): a due challenge is
issued exactly once; a stale ack is refused; an expired window is reported exactly once;
disarm is final.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt
from msgspec import Struct

Slots = npt.NDArray[np.int64]
Seqs = npt.NDArray[np.int64]


class Phase:
    """What a slot is doing (stored as int8)."""

    FREE = 0
    SCHEDULED = 1
    AWAITING = 2
    IDLE = 3


class TickResult(Struct, frozen=True, kw_only=True):
    """One tick's outcome. ``issued`` and ``issued_seq`` line up; so do ``passed`` and
    ``passed_ms`` (the ack's arrival time); ``refused`` are acks that did not count."""

    issued: Slots
    issued_seq: Seqs
    missed: Slots
    missed_seq: Seqs
    passed: Slots
    passed_ms: npt.NDArray[np.int64]
    refused: Slots

    @property
    def events(self) -> int:
        return len(self.issued) + len(self.missed) + len(self.passed) + len(self.refused)


class Scheduler(Protocol):
    def allocate(self, count: int) -> Slots:
        """``count`` free slots (raises ``SchedulerFull`` when there are none)."""
        ...

    def arm(self, slots: Slots, *, now: int) -> None: ...

    def acknowledge(self, slots: Slots, seqs: Seqs, received_ms: npt.NDArray[np.int64]) -> None: ...

    def tick(self, *, now: int) -> TickResult: ...

    def disarm(self, slots: Slots) -> None: ...

    def phase_of(self, slots: Slots) -> npt.NDArray[np.int8]: ...


class SchedulerFull(Exception):
    """No free slot is left."""
