"""One suite for every scheduler backend: the contract in examengine/challenges/contract.py.

Times are literal milliseconds. The policy is fixed-interval (min = max) where a test
needs to know exactly when a challenge fires.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from examengine.challenges import ChallengePolicy, InProcessScheduler, Phase, SchedulerFull
from examengine.challenges.redis_backend import RedisScheduler

EPOCH = 1_000_000
FIXED = ChallengePolicy(min_interval_ms=300_000, max_interval_ms=300_000, window_ms=60_000)

Factory = Callable[..., object]


def inprocess(capacity: int, policy: ChallengePolicy, seed: int = 7) -> InProcessScheduler:
    return InProcessScheduler(capacity, policy, rng=np.random.default_rng(seed), epoch_ms=EPOCH)


_fresh = itertools.count()


def on_redis(
    capacity: int,
    policy: ChallengePolicy,
    seed: int = 7,
    *,
    client: redis.Redis,
    prefix: str,
) -> RedisScheduler:
    """A scheduler over keys of its own (``prefix:<n>``), so every call starts empty."""
    return RedisScheduler(
        client, policy, prefix=f"{prefix}:{next(_fresh)}", shards=4, capacity=capacity, rng=seed
    )


BACKENDS: dict[str, Factory] = {"inprocess": inprocess, "redis": on_redis}


@pytest.fixture(params=sorted(BACKENDS))
def make(request: pytest.FixtureRequest) -> Iterator[Factory]:
    if request.param != "redis":
        yield BACKENDS[request.param]
        return
    request.applymarker(pytest.mark.redis)
    url = str(request.getfixturevalue("redis_url"))
    prefix = str(request.getfixturevalue("redis_prefix"))
    client = redis.Redis.from_url(url)
    try:
        yield lambda *args, **kwargs: on_redis(*args, client=client, prefix=prefix, **kwargs)
    finally:
        client.close()


def arr(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_a_challenge_fires_once_at_its_time_and_waits_for_an_answer(make: Factory) -> None:
    s = make(4, FIXED)
    slots = s.allocate(2)
    s.arm(slots, now=EPOCH)
    assert len(s.tick(now=EPOCH + 299_999).issued) == 0
    fired = s.tick(now=EPOCH + 300_000)
    assert sorted(fired.issued.tolist()) == sorted(slots.tolist())
    assert fired.issued_seq.tolist() == [1, 1]
    assert len(s.tick(now=EPOCH + 300_001).issued) == 0, "issued exactly once"
    assert s.phase_of(slots).tolist() == [Phase.AWAITING, Phase.AWAITING]


def test_an_answer_inside_the_window_passes_and_schedules_the_next(make: Factory) -> None:
    s = make(2, FIXED)
    (slot,) = s.allocate(1)
    s.arm(arr(slot), now=EPOCH)
    s.tick(now=EPOCH + 300_000)
    s.acknowledge(arr(slot), arr(1), arr(EPOCH + 310_000))
    result = s.tick(now=EPOCH + 311_000)
    assert result.passed.tolist() == [slot]
    assert result.passed_ms.tolist() == [EPOCH + 310_000]
    # the next challenge counts from the answer
    assert len(s.tick(now=EPOCH + 609_999).issued) == 0
    again = s.tick(now=EPOCH + 610_000)
    assert again.issued.tolist() == [slot]
    assert again.issued_seq.tolist() == [2]


def test_a_stale_replayed_or_late_ack_is_refused(make: Factory) -> None:
    s = make(2, FIXED)
    (slot,) = s.allocate(1)
    s.arm(arr(slot), now=EPOCH)
    s.tick(now=EPOCH + 300_000)  # challenge 1
    s.acknowledge(arr(slot), arr(0), arr(EPOCH + 301_000))  # a stale sequence number
    assert s.tick(now=EPOCH + 302_000).refused.tolist() == [slot]
    s.acknowledge(arr(slot, slot), arr(1, 1), arr(EPOCH + 303_000, EPOCH + 304_000))  # twice
    both = s.tick(now=EPOCH + 305_000)
    assert both.passed.tolist() == [slot]
    assert both.refused.tolist() == [slot], "the replay does not count"
    s.tick(now=EPOCH + 603_000)  # challenge 2
    s.acknowledge(arr(slot), arr(2), arr(EPOCH + 663_001))  # arrived after the window
    late = s.tick(now=EPOCH + 663_002)
    assert late.refused.tolist() == [slot]
    assert late.missed.tolist() == [slot]


def test_an_ack_that_arrived_in_time_counts_even_if_the_tick_is_late(make: Factory) -> None:
    s = make(2, FIXED)
    (slot,) = s.allocate(1)
    s.arm(arr(slot), now=EPOCH)
    s.tick(now=EPOCH + 300_000)
    s.acknowledge(arr(slot), arr(1), arr(EPOCH + 359_000))
    result = s.tick(now=EPOCH + 400_000)  # the tick ran after the window closed
    assert result.passed.tolist() == [slot]
    assert len(result.missed) == 0


def test_an_expired_window_is_reported_exactly_once_and_the_slot_idles(make: Factory) -> None:
    s = make(2, FIXED)
    (slot,) = s.allocate(1)
    s.arm(arr(slot), now=EPOCH)
    s.tick(now=EPOCH + 300_000)
    missed = s.tick(now=EPOCH + 360_000)
    assert missed.missed.tolist() == [slot]
    assert missed.missed_seq.tolist() == [1]
    assert len(s.tick(now=EPOCH + 10_000_000).missed) == 0
    assert s.phase_of(arr(slot)).tolist() == [Phase.IDLE]
    s.arm(arr(slot), now=EPOCH + 10_000_000)  # the learner resumes the chapter
    assert s.tick(now=EPOCH + 10_300_000).issued.tolist() == [slot]


def test_disarm_is_final_and_frees_the_slot(make: Factory) -> None:
    s = make(1, FIXED)
    (slot,) = s.allocate(1)
    s.arm(arr(slot), now=EPOCH)
    s.disarm(arr(slot))
    s.disarm(arr(slot))  # harmless twice
    assert len(s.tick(now=EPOCH + 10_000_000).issued) == 0
    s.acknowledge(arr(slot), arr(0), arr(EPOCH + 1))
    assert s.tick(now=EPOCH + 10_000_001).refused.tolist() == [slot]
    assert s.allocate(1).tolist() == [slot]


def test_a_full_scheduler_says_so(make: Factory) -> None:
    s = make(2, FIXED)
    s.allocate(2)
    with pytest.raises(SchedulerFull):
        s.allocate(1)


def test_intervals_are_drawn_within_the_policy(make: Factory) -> None:
    policy = ChallengePolicy(min_interval_ms=300_000, max_interval_ms=900_000, window_ms=60_000)
    s = make(2000, policy)
    slots = s.allocate(2000)
    s.arm(slots, now=EPOCH)
    assert len(s.tick(now=EPOCH + 299_999).issued) == 0
    fired = [len(s.tick(now=EPOCH + t * 1000).issued) for t in range(300, 901)]
    assert sum(fired) == 2000
    first_half = sum(fired[:300])
    assert 850 < first_half < 1150, "uniform over [5, 15] minutes"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    script=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 200_000), st.booleans()),
        min_size=1,
        max_size=40,
    )
)
def test_every_issued_challenge_ends_exactly_once_passed_or_missed(make, script) -> None:  # type: ignore[no-untyped-def]
    # Each example builds a fresh scheduler (the Redis factory gives it keys of its own).
    s = make(4, ChallengePolicy(min_interval_ms=60_000, max_interval_ms=120_000, window_ms=30_000))
    slots = s.allocate(4)
    s.arm(slots, now=EPOCH)
    now = EPOCH
    outstanding: dict[int, int] = {}
    ended: list[tuple[int, int]] = []
    for slot, step, answer in script:
        now += step
        result = s.tick(now=now)
        for sl in result.passed.tolist():
            ended.append((sl, outstanding.pop(sl)))
        for sl, sq in zip(result.missed.tolist(), result.missed_seq.tolist(), strict=True):
            assert outstanding.pop(sl) == sq
            ended.append((sl, sq))
            s.arm(arr(sl), now=now)
        for sl, sq in zip(result.issued.tolist(), result.issued_seq.tolist(), strict=True):
            assert sl not in outstanding, "issued while one was still open"
            outstanding[sl] = sq
        if answer and slot in outstanding:
            s.acknowledge(arr(slot), arr(outstanding[slot]), arr(now))
    assert len(ended) == len(set(ended)), "a challenge ended twice"


def test_timers_keep_firing_across_days_of_uptime(make: Factory) -> None:
    """The in-process backend moves its epoch forward (int32 ms, uint16 s); every backend
    must keep firing exactly on time however long it runs."""
    s = make(2, FIXED)
    (slot,) = s.allocate(1)
    now = EPOCH
    s.arm(arr(slot), now=now)
    for _ in range(300):  # 300 challenges, 5 min apart: just over a day
        now += 300_000
        assert len(s.tick(now=now - 1).issued) == 0
        fired = s.tick(now=now)
        assert fired.issued.tolist() == [slot]
        s.acknowledge(arr(slot), fired.issued_seq, arr(now))
        assert s.tick(now=now).passed.tolist() == [slot]
