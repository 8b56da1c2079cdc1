"""The in-process scheduler's ownership check, which the study shell asks before it acts
on a session token's slot: only the learner the slot was allocated to, only while it is
held, only inside the scheduler (found by mutation testing: no test reached it)."""

from __future__ import annotations

import numpy as np

from examengine.challenges import ChallengePolicy, InProcessScheduler


def scheduler() -> InProcessScheduler:
    policy = ChallengePolicy(min_interval_ms=10_000, max_interval_ms=20_000, window_ms=5_000)
    return InProcessScheduler(8, policy, rng=np.random.default_rng(1), epoch_ms=1_000)


def test_a_slot_belongs_to_its_learner_while_it_is_held_and_to_nobody_after() -> None:
    s = scheduler()
    slots = s.allocate(2, owners=np.array([7, 9], dtype=np.int64))
    a, b = (int(x) for x in slots)
    assert s.owns(a, 7) and s.owns(b, 9)
    assert not s.owns(a, 9) and not s.owns(b, 7)  # another learner's slot
    assert not s.owns(-1, 7) and not s.owns(s.capacity, 7)  # outside the scheduler
    s.disarm(np.array([a], dtype=np.int64))
    assert not s.owns(a, 7)  # given back: a stale token holds nothing
    free = int(np.setdiff1d(np.arange(s.capacity), slots)[0])
    assert not s.owns(free, 0)  # a free slot is nobody's, not even owner 0's
