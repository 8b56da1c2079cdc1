"""The in-process scheduler: flat numpy arrays, one vectorised scan per tick.

The default backend (one server process). Per slot, in structure-of-arrays form:

=========  =====  ===========================================================
array      bytes  meaning
=========  =====  ===========================================================
when       4      int32 ms from the service epoch: the next event of the slot
                  (the challenge fires, or its answer window ends); NEVER if none
phase      1      int8: FREE, SCHEDULED, AWAITING or IDLE (``contract.Phase``)
seq        4      int32: the number of the slot's latest challenge
last_pass  4      int32 ms from the epoch of the last passed challenge
owner      8      int64: the learner holding the slot (checked against the token)
free list  4      int32: a stack of free slots
first      4      int32: scratch to keep the first ack per slot in a batch
=========  =====  ===========================================================

29 bytes a session (and one more for the tick's reusable scan buffer); no Python object
per session. A tick compares ``when`` with now once (``flatnonzero``), then sorts the
few fired slots by phase. Acks arriving from requests are appended to a flat buffer (no numpy on the
request path) and applied at the
next tick as one vectorised batch, each with its own arrival time.

Times are int32 milliseconds from ``epoch_ms``; when ``now`` runs more than
``REBASE_AFTER_MS`` past the epoch (12 days), the epoch moves forward and every stored
time with it, so the service can run indefinitely.
"""

from __future__ import annotations

from array import array

import numpy as np
import numpy.typing as npt

from examengine.challenges.contract import Phase, SchedulerFull, Seqs, Slots, TickResult
from examengine.challenges.policy import ChallengePolicy

NEVER = np.iinfo(np.int32).max
REBASE_AFTER_MS = 2**30
_EMPTY = np.zeros(0, dtype=np.int64)


class InProcessScheduler:
    """See the module docstring. ``rng`` draws the intervals (passed in, seeded)."""

    def __init__(
        self,
        capacity: int,
        policy: ChallengePolicy,
        *,
        rng: np.random.Generator,
        epoch_ms: int,
    ) -> None:
        self.policy = policy
        self.rng = rng
        self.epoch_ms = epoch_ms
        self.when = np.full(capacity, NEVER, dtype=np.int32)
        self.phase = np.zeros(capacity, dtype=np.int8)
        self.seq = np.zeros(capacity, dtype=np.int32)
        self.last_pass = np.zeros(capacity, dtype=np.int32)
        self.owner = np.zeros(capacity, dtype=np.int64)
        self._fired = np.zeros(capacity, dtype=bool)  # the scan's output, reused every tick
        self._free = np.arange(capacity - 1, -1, -1, dtype=np.int32)
        self._free_count = capacity
        # Acks wait in one flat buffer of (slot, seq, received) int64 triples: an append is
        # a few tens of ns on the request path and the tick reads it with frombuffer.
        self._acks = array("q")
        #: Scratch for picking the first ack of each slot in a batch (reset after use).
        self._first = np.full(capacity, -1, dtype=np.int32)

    # -- sizes -------------------------------------------------------------------------

    @property
    def capacity(self) -> int:
        return len(self.when)

    @property
    def in_use(self) -> int:
        return self.capacity - self._free_count

    def nbytes_per_session(self) -> float:
        arrays = (
            self.when,
            self.phase,
            self.seq,
            self.last_pass,
            self.owner,
            self._free,
            self._first,
        )
        return sum(a.nbytes for a in arrays) / self.capacity

    def nbytes_scratch(self) -> int:
        """The tick's reusable scan buffer (one byte a slot), not per-session state."""
        return self._fired.nbytes

    # -- slots -------------------------------------------------------------------------

    def allocate(self, count: int, owners: npt.NDArray[np.int64] | None = None) -> Slots:
        """``count`` free slots, held by ``owners`` (learner ids); idle until armed."""
        if count > self._free_count:
            raise SchedulerFull(f"{count} slots asked for, {self._free_count} free")
        top = self._free_count
        slots = self._free[top - count : top][::-1].astype(np.int64)
        self._free_count -= count
        self.phase[slots] = Phase.IDLE
        self._set_when(slots, NEVER)
        self.owner[slots] = 0 if owners is None else owners
        return slots

    def owns(self, slot: int, owner: int) -> bool:
        """Whether ``owner`` holds ``slot`` (the slot travels in the session token)."""
        return (
            0 <= slot < self.capacity
            and self.phase[slot] != Phase.FREE
            and (int(self.owner[slot]) == owner)
        )

    def phase_of(self, slots: Slots) -> npt.NDArray[np.int8]:
        return self.phase[slots]

    def seq_of(self, slots: Slots) -> Seqs:
        return self.seq[slots].astype(np.int64)

    # -- the contract ------------------------------------------------------------------

    def arm(self, slots: Slots, *, now: int) -> None:
        """Schedule each slot's next challenge in [min, max] after ``now``."""
        rel = self._relative(now)
        p = self.policy
        intervals = self.rng.integers(p.min_interval_ms, p.max_interval_ms + 1, size=len(slots))
        self._set_when(slots, rel + intervals)
        self.phase[slots] = Phase.SCHEDULED

    def acknowledge(self, slots: Slots, seqs: Seqs, received_ms: npt.NDArray[np.int64]) -> None:
        """Queue a batch of answers for the next tick."""
        triples = np.stack(
            (slots.astype(np.int64), seqs.astype(np.int64), received_ms.astype(np.int64)), axis=1
        )
        self._acks.frombytes(triples.tobytes())

    def ack(self, slot: int, seq: int, received_ms: int) -> None:
        """Queue one answer (the request path: a list append, no numpy)."""
        self._acks.extend((slot, seq, received_ms))

    def tick(self, *, now: int) -> TickResult:
        """Apply the queued acks, then issue due challenges and report missed windows."""
        rel = self._relative(now)
        passed, passed_ms, refused = self._apply_acks()
        np.less_equal(self.when, rel, out=self._fired)
        fired = np.flatnonzero(self._fired)
        phases = self.phase[fired]
        due = fired[phases == Phase.SCHEDULED]
        missed = fired[phases == Phase.AWAITING]
        self.seq[due] += 1
        self.phase[due] = Phase.AWAITING
        self._set_when(due, rel + self.policy.window_ms)
        self.phase[missed] = Phase.IDLE
        self._set_when(missed, NEVER)
        return TickResult(
            issued=due.astype(np.int64),
            issued_seq=self.seq[due].astype(np.int64),
            missed=missed.astype(np.int64),
            missed_seq=self.seq[missed].astype(np.int64),
            passed=passed,
            passed_ms=passed_ms,
            refused=refused,
        )

    def disarm(self, slots: Slots) -> None:
        """Stop the slots for good and return them to the free list. A slot already free
        is left alone (disarming twice is harmless)."""
        slots = np.unique(slots[self.phase[slots] != Phase.FREE])
        self.phase[slots] = Phase.FREE
        self._set_when(slots, NEVER)
        self.owner[slots] = 0
        top = self._free_count
        self._free[top : top + len(slots)] = slots
        self._free_count += len(slots)

    # -- internals ---------------------------------------------------------------------

    def _apply_acks(self) -> tuple[Slots, npt.NDArray[np.int64], Slots]:
        if not self._acks:
            return _EMPTY, _EMPTY, _EMPTY
        triples = np.frombuffer(self._acks, dtype=np.int64).reshape(-1, 3).copy()
        self._acks = array("q")
        slots, seqs = triples[:, 0], triples[:, 1]
        received = triples[:, 2] - self.epoch_ms
        inside = (slots >= 0) & (slots < self.capacity)
        valid = np.zeros(len(slots), dtype=bool)
        s = slots[inside]
        valid[inside] = (
            (self.phase[s] == Phase.AWAITING)
            & (self.seq[s] == seqs[inside])
            & (received[inside] <= self.when[s])
        )
        # One ack per challenge: of several valid acks for a slot, the first counts.
        # Scatter the candidates' positions in reverse, so each slot keeps its first.
        candidates = np.flatnonzero(valid)
        cand_slots = slots[candidates]
        self._first[cand_slots[::-1]] = candidates[::-1]
        counted = np.zeros(len(slots), dtype=bool)
        counted[candidates[self._first[cand_slots] == candidates]] = True
        self._first[cand_slots] = -1
        ok = slots[counted]
        at = received[counted]
        p = self.policy
        self.phase[ok] = Phase.SCHEDULED
        self.last_pass[ok] = at
        self._set_when(
            ok, at + self.rng.integers(p.min_interval_ms, p.max_interval_ms + 1, size=len(ok))
        )
        return ok, at + self.epoch_ms, slots[~counted]

    def _set_when(self, slots: Slots, when: int | npt.NDArray[np.int64]) -> None:
        """The slots' next event in ms from the epoch (NEVER for none)."""
        self.when[slots] = when

    def _relative(self, now: int) -> int:
        rel = now - self.epoch_ms
        if rel > REBASE_AFTER_MS:
            self._rebase(rel - self.policy.max_interval_ms)
            rel = now - self.epoch_ms
        if rel < 0:
            raise ValueError(f"now ({now}) is before the scheduler's epoch ({self.epoch_ms})")
        return rel

    def _rebase(self, shift: int) -> None:
        """Move the epoch forward by ``shift`` ms, and every stored time with it."""
        armed = self.when != NEVER
        self.when[armed] -= shift
        self.last_pass[:] = np.maximum(self.last_pass.astype(np.int64) - shift, -(2**31)).astype(
            np.int32
        )
        self.epoch_ms += shift
