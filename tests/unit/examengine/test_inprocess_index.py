"""The in-process scheduler's block index (``floor``): a lower bound of every block's
``when`` at all times, and tight after a tick — no block is left claiming a slot due at
or before the tick's time, so the next tick looks only where something may fire.
(What the scheduler does is the contract suite's business: tests/contract.)"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from examengine.challenges import ChallengePolicy, InProcessScheduler
from examengine.challenges.inprocess import BLOCK, REBASE_AFTER_MS

EPOCH = 5_000_000


def bound_holds(s: InProcessScheduler) -> bool:
    return bool((s.floor <= s.when.reshape(-1, BLOCK).min(axis=1)).all())


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    interval=st.sampled_from([(1_000, 3_000), (5_000, 60_000), (300_000, 900_000)]),
    steps=st.lists(st.integers(0, 90_000), min_size=1, max_size=30),
)
def test_the_index_is_a_bound_and_tight_after_every_tick(
    seed: int, interval: tuple[int, int], steps: list[int]
) -> None:
    policy = ChallengePolicy(
        min_interval_ms=interval[0], max_interval_ms=interval[1], window_ms=20_000
    )
    rng = np.random.default_rng(seed)
    s = InProcessScheduler(100, policy, rng=np.random.default_rng(seed), epoch_ms=EPOCH)
    slots = s.allocate(90)
    s.arm(slots, now=EPOCH)
    now = EPOCH
    for step in steps:
        now += step
        result = s.tick(now=now)
        assert bound_holds(s)
        assert (s.floor > now - s.epoch_ms).all(), "a block still claims a due slot"
        answered = rng.random(len(result.issued)) < 0.7
        s.acknowledge(
            result.issued[answered],
            result.issued_seq[answered],
            np.full(int(answered.sum()), now + 500),
        )
        s.arm(result.missed, now=now)
        gone = rng.choice(slots, size=2, replace=False)
        s.disarm(gone)
        s.arm(s.allocate(2), now=now)
        assert bound_holds(s)


def test_a_rebase_keeps_the_index_a_bound() -> None:
    policy = ChallengePolicy(min_interval_ms=60_000, max_interval_ms=60_000, window_ms=10_000)
    s = InProcessScheduler(40, policy, rng=np.random.default_rng(1), epoch_ms=EPOCH)
    s.arm(s.allocate(40), now=EPOCH + REBASE_AFTER_MS)
    before = s.epoch_ms
    fired = s.tick(now=EPOCH + REBASE_AFTER_MS + 60_000)
    assert s.epoch_ms > before, "the epoch moved"
    assert len(fired.issued) == 40
    assert bound_holds(s)
