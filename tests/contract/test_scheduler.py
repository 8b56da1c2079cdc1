"""One suite for every scheduler backend: the contract in examengine/challenges/contract.py.

Times are literal milliseconds. The policy is fixed-interval (min = max) where a test
needs to know exactly when a challenge fires.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from api.store.redis_client import SyncRedis
from api.store.redis_scheduler import RedisScheduler
from examengine.challenges import (
    ChallengePolicy,
    InProcessScheduler,
    Phase,
    SchedulerFull,
    TickResult,
)
from tests.conftest import redis_target_of

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
    client: SyncRedis,
    prefix: str,
) -> RedisScheduler:
    """A scheduler over keys of its own (``prefix:<n>``), so every call starts empty."""
    return RedisScheduler(
        client, policy, prefix=f"{prefix}:{next(_fresh)}", shards=4, capacity=capacity, rng=seed
    )


#: The Redis scheduler runs the suite on one server and on a three-master cluster.
BACKENDS = ["inprocess", "redis", "redis-cluster"]


@pytest.fixture(params=BACKENDS)
def make(request: pytest.FixtureRequest) -> Iterator[Factory]:
    if request.param == "inprocess":
        yield inprocess
        return
    target = redis_target_of(request, "cluster" if request.param == "redis-cluster" else "server")
    client = target.client()
    try:
        yield lambda *args, **kwargs: on_redis(*args, client=client, prefix=target.prefix, **kwargs)
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


class Model:
    """The contract written the plain way — one Python record per slot, every slot looked
    at on every tick — for a fixed-interval policy, so the backends can be compared with
    it event for event."""

    def __init__(self, policy: ChallengePolicy) -> None:
        assert policy.min_interval_ms == policy.max_interval_ms
        self.interval, self.window = policy.min_interval_ms, policy.window_ms
        self.phase: dict[int, int] = {}
        self.seq: dict[int, int] = {}
        self.when: dict[int, int] = {}
        self.acks: list[tuple[int, int, int]] = []

    def allocate(self, slots: list[int]) -> None:
        for slot in slots:
            assert self.phase.get(slot, Phase.FREE) == Phase.FREE, "handed out twice"
            self.phase[slot] = Phase.IDLE
            self.when.pop(slot, None)

    def arm(self, slots: list[int], now: int) -> None:
        for slot in slots:
            if self.phase.get(slot, Phase.FREE) != Phase.FREE:
                self.phase[slot] = Phase.SCHEDULED
                self.when[slot] = now + self.interval

    def disarm(self, slots: list[int]) -> None:
        for slot in slots:
            self.phase[slot] = Phase.FREE
            self.when.pop(slot, None)

    def tick(self, now: int) -> dict[str, list[tuple[int, int]]]:
        out: dict[str, list[tuple[int, int]]] = {k: [] for k in ("passed", "refused")}
        for slot, seq, received in self.acks:
            ok = (
                self.phase.get(slot) == Phase.AWAITING
                and self.seq.get(slot, 0) == seq
                and received <= self.when[slot]
            )
            if ok:
                self.phase[slot] = Phase.SCHEDULED
                self.when[slot] = received + self.interval
                out["passed"].append((slot, received))
            else:
                out["refused"].append((slot, 0))
        self.acks = []
        out["issued"], out["missed"] = [], []
        for slot, when in sorted(self.when.items()):
            if when > now:
                continue
            if self.phase[slot] == Phase.SCHEDULED:
                self.seq[slot] = self.seq.get(slot, 0) + 1
                self.phase[slot] = Phase.AWAITING
                self.when[slot] = now + self.window
                out["issued"].append((slot, self.seq[slot]))
            else:
                self.phase[slot] = Phase.IDLE
                del self.when[slot]
                out["missed"].append((slot, self.seq[slot]))
        return out


def observed(r: TickResult) -> dict[str, list[tuple[int, int]]]:
    pairs = {
        "issued": zip(r.issued.tolist(), r.issued_seq.tolist(), strict=True),
        "missed": zip(r.missed.tolist(), r.missed_seq.tolist(), strict=True),
        "passed": zip(r.passed.tolist(), r.passed_ms.tolist(), strict=True),
        "refused": ((slot, 0) for slot in r.refused.tolist()),
    }
    return {kind: sorted(values) for kind, values in pairs.items()}


OPS = st.one_of(
    st.tuples(
        st.just("tick"), st.sampled_from([0, 1, 999, 1000, 1000, 1000, 7_000, 61_000, 400_000])
    ),
    st.tuples(st.just("arm"), st.lists(st.integers(0, 39), max_size=6)),
    st.tuples(
        st.just("ack"), st.lists(st.tuples(st.integers(0, 39), st.integers(-1, 1)), max_size=6)
    ),
    st.tuples(st.just("answer all"), st.just(0)),
    st.tuples(st.just("disarm"), st.lists(st.integers(0, 39), max_size=3)),
    st.tuples(st.just("allocate"), st.integers(1, 4)),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    interval=st.sampled_from([2_000, 30_000, 300_000]),
    ops=st.lists(OPS, min_size=1, max_size=25),
)
# an answer that moves a slot earlier than its window's end (interval < window)
@example(interval=2_000, ops=[("tick", 7_000), ("answer all", 0), ("tick", 1_000), ("tick", 1_000)])
def test_every_tick_matches_the_plain_model(make, interval, ops) -> None:  # type: ignore[no-untyped-def]
    """Event for event against ``Model``: 40 slots over several index blocks, intervals
    shorter and longer than the window, ticks late by seconds or minutes, acks current,
    stale and early, slots freed and handed out again."""
    policy = ChallengePolicy(min_interval_ms=interval, max_interval_ms=interval, window_ms=10_000)
    s, model = make(40, policy), Model(policy)
    held = s.allocate(30).tolist()
    model.allocate(held)
    s.arm(arr(*held), now=EPOCH)
    model.arm(held, EPOCH)
    now = EPOCH
    for op, arg in ops:
        if op == "tick":
            now += arg
            assert observed(s.tick(now=now)) == {k: sorted(v) for k, v in model.tick(now).items()}
        elif op == "arm":
            s.arm(arr(*arg), now=now)
            model.arm(arg, now)
        elif op == "ack":
            for slot, offset in arg:
                seq = model.seq.get(slot, 0) + offset
                s.acknowledge(arr(slot), arr(seq), arr(now))
                model.acks.append((slot, seq, now))
        elif op == "answer all":
            awaiting = [slot for slot, p in model.phase.items() if p == Phase.AWAITING]
            s.acknowledge(
                arr(*awaiting), arr(*(model.seq[a] for a in awaiting)), arr(*[now] * len(awaiting))
            )
            model.acks.extend((slot, model.seq[slot], now) for slot in awaiting)
        elif op == "disarm":
            s.disarm(arr(*arg))
            model.disarm(arg)
        else:
            free = 40 - sum(1 for p in model.phase.values() if p != Phase.FREE)
            if arg <= free:
                got = s.allocate(arg).tolist()
                model.allocate(got)
