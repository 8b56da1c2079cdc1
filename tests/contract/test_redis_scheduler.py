"""What only the Redis scheduler promises (the shared contract is tests/contract/test_scheduler.py):
several workers over the same keys, restarts, Cluster-ready key names, bounded Lua batches.
"""

from __future__ import annotations

import re
import struct
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from redis.cluster import RedisCluster
from redis.crc import key_slot

from api.store.redis_client import SyncRedis, connect_sync
from api.store.redis_scheduler import FORMAT, MAX_BATCH, RedisScheduler
from examengine.challenges import ChallengePolicy, Phase, SchedulerFull
from tests.conftest import RedisTarget, redis_target_of

pytestmark = pytest.mark.redis

EPOCH = 1_700_000_000_000  # absolute ms: the backend stores real times
FIXED = ChallengePolicy(min_interval_ms=300_000, max_interval_ms=300_000, window_ms=60_000)


@pytest.fixture
def client(redis_target: RedisTarget) -> Iterator[SyncRedis]:
    c = redis_target.client()
    yield c
    c.close()


#: The clients ``worker`` opened, closed after each test.
_OPENED: list[SyncRedis] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPENED:
        _OPENED.pop().close()


def arr(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def worker(target: RedisTarget, seed: int, **kw: Any) -> RedisScheduler:
    """A scheduler on its own connection, as in another API process (on one server or
    the cluster: every test here runs on both)."""
    kw.setdefault("policy", FIXED)
    kw.setdefault("shards", 8)
    kw.setdefault("capacity", 4000)
    _OPENED.append(client := target.client())
    return RedisScheduler(client, prefix=target.prefix, rng=seed, **kw)


def test_two_workers_ticking_at_once_never_issue_twice_or_lose_one(
    redis_target: RedisTarget,
) -> None:
    policy = ChallengePolicy(min_interval_ms=2_000, max_interval_ms=6_000, window_ms=3_000)
    # small batches: each tick is many Lua calls, so the two workers interleave
    a, b = (worker(redis_target, seed, policy=policy, batch=37) for seed in (1, 2))
    slots = a.allocate(3000)
    b.arm(slots[::2], now=EPOCH)
    a.arm(slots[1::2], now=EPOCH)
    steps = [EPOCH + 250 * k for k in range(1, 121)]  # 30 s, every 250 ms
    barrier = threading.Barrier(2)
    seen: dict[str, dict[str, list[Any]]] = {}

    def run(name: str, s: RedisScheduler, seed: int) -> None:
        rng = np.random.default_rng(seed)
        log: dict[str, list[Any]] = {"issued": [], "missed": [], "acked": [], "passed": []}
        for now in steps:
            barrier.wait()
            result = s.tick(now=now)
            assert len(result.refused) == 0, "every ack was in time"
            log["issued"] += zip(result.issued.tolist(), result.issued_seq.tolist(), strict=True)
            log["missed"] += zip(result.missed.tolist(), result.missed_seq.tolist(), strict=True)
            log["passed"] += result.passed.tolist()
            answer = rng.random(len(result.issued)) < 0.7
            for slot, seq in zip(result.issued[answer], result.issued_seq[answer], strict=True):
                s.ack(int(slot), int(seq), now + 100)
                log["acked"].append((int(slot), int(seq)))
        seen[name] = log

    threads = [
        threading.Thread(target=run, args=("a", a, 10)),
        threading.Thread(target=run, args=("b", b, 11)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert set(seen) == {"a", "b"}, "a worker thread failed"
    # one more tick each flushes the last queued acks (nothing new is due at +1 ms)
    for name, s in (("a", a), ("b", b)):
        last = s.tick(now=steps[-1] + 1)
        seen[name]["issued"] += zip(last.issued.tolist(), last.issued_seq.tolist(), strict=True)
        seen[name]["missed"] += zip(last.missed.tolist(), last.missed_seq.tolist(), strict=True)
        seen[name]["passed"] += last.passed.tolist()
    issued = seen["a"]["issued"] + seen["b"]["issued"]
    counts = Counter(issued)
    assert len(issued) > 3000, "challenges fired repeatedly"
    assert max(counts.values()) == 1, "a challenge was issued twice"
    for log in seen.values():
        assert len(log["issued"]) > 500, "both workers did a share of the work"
    # nothing lost: per slot the sequence numbers are 1..n without a gap, n as Redis says
    by_slot: dict[int, list[int]] = {}
    for slot, seq in issued:
        by_slot.setdefault(slot, []).append(seq)
    assert set(by_slot) == set(slots.tolist())
    stored = dict(zip(slots.tolist(), a.seq_of(slots).tolist(), strict=True))
    for slot, seqs in by_slot.items():
        assert sorted(seqs) == list(range(1, stored[slot] + 1))
    # every ack counted once, every unanswered challenge whose window ran out was missed once
    acked = seen["a"]["acked"] + seen["b"]["acked"]
    passed = seen["a"]["passed"] + seen["b"]["passed"]
    assert len(passed) == len(acked)
    missed = seen["a"]["missed"] + seen["b"]["missed"]
    assert missed, "some windows ran out"
    assert len(missed) == len(set(missed))
    assert not set(missed) & set(acked)
    phases = dict(zip(slots.tolist(), a.phase_of(slots).tolist(), strict=True))
    open_now = {(sl, sq) for sl, sq in issued if phases[sl] == Phase.AWAITING and sq == stored[sl]}
    assert set(issued) == set(missed) | set(acked) | open_now


def test_a_restarted_worker_carries_on_with_the_armed_sessions(redis_target: RedisTarget) -> None:
    first = worker(redis_target, 1)
    owners = np.arange(1000, 1100, dtype=np.int64)
    slots = first.allocate(100, owners)
    first.arm(slots, now=EPOCH)
    assert len(first.tick(now=EPOCH + 300_000).issued) == 100
    first.client.close()
    del first  # the worker dies; its keys stay

    second = worker(redis_target, 99)
    assert all(second.owns(int(sl), int(o)) for sl, o in zip(slots, owners, strict=True))
    assert not second.owns(int(slots[0]), 1)
    assert second.phase_of(slots).tolist() == [Phase.AWAITING] * 100
    assert second.seq_of(slots).tolist() == [1] * 100
    answered = slots[:60]
    second.acknowledge(answered, np.ones(60, dtype=np.int64), np.full(60, EPOCH + 330_000))
    result = second.tick(now=EPOCH + 360_000)
    assert sorted(result.passed.tolist()) == sorted(answered.tolist())
    assert sorted(result.missed.tolist()) == sorted(slots[60:].tolist())
    again = second.tick(now=EPOCH + 630_000)
    assert sorted(again.issued.tolist()) == sorted(answered.tolist())
    assert set(again.issued_seq.tolist()) == {2}
    fresh = second.allocate(50)
    assert not set(fresh.tolist()) & set(slots.tolist()), "the slots in use stay taken"


def test_a_worker_with_another_layout_is_refused(redis_target: RedisTarget) -> None:
    worker(redis_target, 1)
    with pytest.raises(ValueError, match="laid out"):
        worker(redis_target, 1, shards=16)
    with pytest.raises(ValueError, match="laid out"):
        worker(redis_target, 1, capacity=10)


def test_keys_written_in_another_format_are_refused(
    client: SyncRedis, redis_target: RedisTarget
) -> None:
    # as the textual layout (format 1) left them: meta without a format, decimal slots
    client.hset(f"{redis_target.prefix}:{{0}}:meta", mapping={"shards": 8, "capacity": 4000})
    client.hset(f"{redis_target.prefix}:{{1}}:st", "1", "1,0,1700000300000,0,1000")
    with pytest.raises(ValueError, match=rf"format 1 \(1: textual\), not {FORMAT}"):
        worker(redis_target, 1)
    client.hset(f"{redis_target.prefix}:{{0}}:meta", "format", FORMAT + 1)
    with pytest.raises(ValueError, match=f"format {FORMAT + 1}"):
        worker(redis_target, 1)


def test_a_state_is_the_documented_binary_layout_and_owners_stay_exact(
    client: SyncRedis, redis_target: RedisTarget
) -> None:
    """Owners are copied by Lua, never read: ids beyond a double's 2**53 stay exact."""
    s = worker(redis_target, 1, shards=2, capacity=10)
    owners = arr(2**63 - 1, -(2**63), 2**53 + 1)
    slots = s.allocate(3, owners)
    s.arm(slots, now=EPOCH)
    s.tick(now=EPOCH + 300_000)
    for slot, owner in zip(slots.tolist(), owners.tolist(), strict=True):
        assert s.owns(slot, owner)
        assert not s.owns(slot, owner - 1)
        field, shard = struct.pack("<I", slot), s.key(slot % 2, "")
        value = client.hget(f"{shard}st", field)
        assert struct.unpack("<BIqqq", value) == (Phase.AWAITING, 1, EPOCH + 360_000, 0, owner)
        assert client.zscore(f"{shard}when", field) == EPOCH + 360_000, "an exact score"


def test_values_beyond_32_bits_do_not_wrap_around(redis_target: RedisTarget) -> None:
    s = worker(redis_target, 1)
    (slot,) = s.allocate(1)
    s.arm(arr(slot), now=EPOCH)
    assert s.tick(now=EPOCH + 300_000).issued_seq.tolist() == [1]
    s.acknowledge(
        arr(slot, slot), arr(2**32 + 1, -(2**32) + 1), arr(EPOCH + 300_001, EPOCH + 300_001)
    )
    result = s.tick(now=EPOCH + 300_002)
    assert result.refused.tolist() == [slot, slot], "not read as seq 1 in 32 bits"
    assert len(result.passed) == 0
    beyond = arr(slot + 2**32, -(2**32) + slot)
    assert s.phase_of(beyond).tolist() == [Phase.FREE] * 2, "nor a slot as another"


def test_an_ack_queued_in_another_worker_is_not_lost_within_the_grace(
    redis_target: RedisTarget,
) -> None:
    a = worker(redis_target, 1, miss_grace_ms=2_000)
    b = worker(redis_target, 2, miss_grace_ms=2_000)
    (slot,) = a.allocate(1)
    a.arm(arr(slot), now=EPOCH)
    assert b.tick(now=EPOCH + 300_000).issued.tolist() == [slot]
    a.ack(int(slot), 1, EPOCH + 359_999)  # in time, still in a's queue
    assert len(b.tick(now=EPOCH + 361_000).missed) == 0, "b waits out the grace"
    assert a.tick(now=EPOCH + 361_500).passed.tolist() == [slot]
    # without an ack, the window is missed once the grace has passed
    b.tick(now=EPOCH + 659_999)
    late = b.tick(now=EPOCH + 659_999 + 60_000)
    assert len(late.missed) == 0
    assert a.tick(now=EPOCH + 659_999 + 62_000).missed.tolist() == [slot]
    a.ack(int(slot), 2, EPOCH + 720_000)  # after the window: refused despite the grace
    assert a.tick(now=EPOCH + 720_001).refused.tolist() == [slot]


def test_every_key_carries_its_shard_as_a_hash_tag(
    client: SyncRedis, redis_target: RedisTarget
) -> None:
    s = worker(redis_target, 1, shards=5, capacity=100)
    slots = s.allocate(40)
    s.arm(slots, now=EPOCH)
    s.tick(now=EPOCH + 300_000)
    s.acknowledge(slots[:10], np.ones(10, dtype=np.int64), np.full(10, EPOCH + 300_001))
    s.tick(now=EPOCH + 300_002)
    s.disarm(slots[10:20])
    keys = sorted(k.decode() for k in client.scan_iter(match=f"{redis_target.prefix}*"))
    pattern = re.compile(rf"^{re.escape(redis_target.prefix)}:\{{(\d+)\}}:(when|st|free|hw|meta)$")
    shards = set()
    for key in keys:
        m = pattern.match(key)
        assert m, key
        shard = int(m.group(1))
        assert 0 <= shard < 5
        assert key_slot(key.encode()) == key_slot(f"{{{shard}}}".encode())
        shards.add(shard)
    assert shards == set(range(5))
    # a slot's keys are its shard's
    for slot in slots.tolist():
        assert client.hexists(f"{redis_target.prefix}:{{{slot % 5}}}:st", struct.pack("<I", slot))


def test_on_a_cluster_the_shards_spread_over_every_master(request: pytest.FixtureRequest) -> None:
    target = redis_target_of(request, "cluster")
    s = worker(target, 1, shards=16, capacity=160)
    s.arm(s.allocate(160), now=EPOCH)
    client = s.client
    assert isinstance(client, RedisCluster)
    masters = {node.name for node in client.get_primaries()}
    holding = set()
    for node in client.get_primaries():
        found = client.scan_iter(match=f"{target.prefix}*", target_nodes=node)
        if any(True for _ in found):
            holding.add(node.name)
    assert len(masters) == 3 and holding == masters


def test_lua_batches_are_bounded(
    redis_target: RedisTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError):
        worker(redis_target, 1, batch=MAX_BATCH + 1)
    s = worker(redis_target, 1, shards=1, capacity=1000, batch=50)
    calls: list[tuple[str, int]] = []  # (script, sessions it touches)
    run = s._pipeline
    # arguments: allocate (capacity, shards, shard, packed owners); arm (now, packed slot
    # and interval); ack (packed slot, seq, time, interval); disarm (packed slots); tick (limit)
    width = {"allocate": 8, "arm": 12, "ack": 24, "disarm": 4}

    def items(name: str, args: list[Any]) -> int:
        if name == "tick":
            return int(args[-1])
        return len(args[-1]) // width[name]

    def spy(batch: list[tuple[str, list[str], list[Any]]]) -> list[Any]:
        calls.extend((name, items(name, args)) for name, _, args in batch)
        return run(batch)

    monkeypatch.setattr(s, "_pipeline", spy)
    slots = s.allocate(1000)
    s.arm(slots, now=EPOCH)
    fired = s.tick(now=EPOCH + 300_000)
    assert len(fired.issued) == 1000, "one tick issues everything due, batch by batch"
    s.acknowledge(slots, np.ones(1000, dtype=np.int64), np.full(1000, EPOCH + 300_001))
    assert len(s.tick(now=EPOCH + 300_002).passed) == 1000
    s.disarm(slots)
    assert {name for name, _ in calls} == {"allocate", "arm", "tick", "ack", "disarm"}
    assert max(n for _, n in calls) == 50
    assert sum(1 for name, _ in calls if name == "tick") >= 1000 // 50


def test_a_script_the_server_lost_is_loaded_again(redis_target: RedisTarget) -> None:
    s = worker(redis_target, 1)
    slots = s.allocate(3)
    s._shas = dict.fromkeys(s._shas, "0" * 40)  # as after a Redis restart or SCRIPT FLUSH
    s.arm(slots, now=EPOCH)
    assert len(s.tick(now=EPOCH + 300_000).issued) == 3


def test_allocation_is_all_or_nothing_and_spread_over_the_shards(redis_target: RedisTarget) -> None:
    s = worker(redis_target, 1, shards=4, capacity=10)
    owners = np.arange(500, 508, dtype=np.int64)
    slots = s.allocate(8, owners)
    assert len(set(slots.tolist())) == 8
    assert set((slots % 4).tolist()) == {0, 1, 2, 3}
    assert all(s.owns(int(sl), int(o)) for sl, o in zip(slots, owners, strict=True))
    with pytest.raises(SchedulerFull):
        s.allocate(3)
    assert len(s.allocate(2)) == 2, "the failed allocation gave its slots back"
    with pytest.raises(SchedulerFull):
        s.allocate(1)


def test_a_decoding_client_is_refused(redis_target: RedisTarget) -> None:
    decoding = connect_sync(redis_target.settings(), decode_responses=True)
    _OPENED.append(decoding)
    with pytest.raises(ValueError, match="decode"):
        RedisScheduler(
            decoding,
            FIXED,
            prefix=redis_target.prefix,
            shards=2,
            capacity=10,
            rng=1,
        )


def test_workers_may_split_the_shards(redis_target: RedisTarget) -> None:
    a = worker(redis_target, 1, shards=4, capacity=40)
    b = worker(redis_target, 2, shards=4, capacity=40)
    slots = a.allocate(40)
    a.arm(slots, now=EPOCH)
    mine = a.tick(now=EPOCH + 300_000, shards=[0, 1])
    theirs = b.tick(now=EPOCH + 300_000, shards=[2, 3])
    assert set((mine.issued % 4).tolist()) == {0, 1}
    assert set((theirs.issued % 4).tolist()) == {2, 3}
    assert sorted(mine.issued.tolist() + theirs.issued.tolist()) == sorted(slots.tolist())
    assert len(a.tick(now=EPOCH + 300_001).issued) == 0, "an overlapping scan finds nothing"
