"""The Redis restart drill (loadtests/drills/redis_restart.py) at a small size: a real
``examengine serve`` with two workers over its own redis-server (AOF, ``appendfsync
everysec``); learners study and answer challenges; Redis is restarted twice mid-study,
once with a clean SHUTDOWN and once with SIGKILL.

Checked: nobody is signed out (the login sessions come back from the AOF), no reply is a
500 and none hangs (503 + Retry-After while Redis is away), the app is ready again by
itself, and in the study log every challenge was issued once, passed, and numbered one
after another, with challenges issued after the last restart too."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import redis

from api.store.redis_scheduler import RedisScheduler
from examengine.challenges import ChallengePolicy, Phase
from loadtests.drills.redis_restart import Redis, run_drill
from tests.conftest import unavailable

LEARNERS = 4
EPOCH = 1_700_000_000_000


def test_a_redis_restart_mid_study_loses_no_challenge_and_no_sign_in(tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:
        unavailable("redis-server", FileNotFoundError("redis-server"), "install redis-server")
    report = run_drill(
        tmp_path, learners=LEARNERS, workers=2, restarts=("shutdown", "kill"),
        study_s=5.0, outage_s=1.0,
    )  # fmt: skip
    assert report.problems == [], report.summary()
    replies = sum((lr.replies for lr in report.learners), start=type(report.learners[0].replies)())
    assert replies["503 redis_unavailable"] > 0, f"Redis was never missed: no drill\n{replies}"
    assert not [k for k in replies if k.startswith("5") and k != "503 redis_unavailable"], replies
    # armed before the restarts, and carrying on after them: each learner's next challenge
    # comes 2–3 s after the last was answered, so 5 s after the last restart each had one
    assert report.issued_before >= 1 and report.issued_after >= LEARNERS, report.summary()
    assert all(lr.answered for lr in report.learners)
    assert len(report.recovered_s) == 2


def test_the_redis_scheduler_carries_its_armed_challenges_across_restarts(tmp_path: Path) -> None:
    """The Redis scheduler keeps its timers in Redis itself: across a SHUTDOWN and a
    SIGKILL of an AOF Redis (everysec), with ticks and answers that meet Redis away in
    between, every armed session stays armed, no challenge is issued twice or skipped, and
    every answer given in time counts (the acks wait in the worker's queue)."""
    if shutil.which("redis-server") is None:
        unavailable("redis-server", FileNotFoundError("redis-server"), "install redis-server")
    server = Redis(tmp_path)
    server.start()
    client = redis.Redis.from_url(server.url, socket_connect_timeout=1)
    try:
        policy = ChallengePolicy(min_interval_ms=1_000, max_interval_ms=3_000, window_ms=2_000)
        scheduler = RedisScheduler(client, policy, prefix="drill", shards=8, capacity=1_000, rng=7)
        slots = scheduler.allocate(400)
        scheduler.arm(slots, now=EPOCH)
        rng = np.random.default_rng(3)
        issued: list[tuple[int, int]] = []
        passed: set[tuple[int, int]] = set()
        missed: set[tuple[int, int]] = set()
        answered: set[tuple[int, int]] = set()
        failed_ticks = 0
        for step in range(1, 121):  # 12 s of scheduler time, a tick every 100 ms
            now = EPOCH + 100 * step
            if step in (40, 80):  # Redis goes away: a SHUTDOWN, then a kill -9
                server.stop("shutdown" if step == 40 else "kill")
            if step in (45, 85):
                server.start()
            try:
                result = scheduler.tick(now=now)
            except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                failed_ticks += 1
                continue
            issued += zip(result.issued.tolist(), result.issued_seq.tolist(), strict=True)
            passed |= {
                (s, int(q))
                for s, q in zip(
                    result.passed.tolist(), scheduler.seq_of(result.passed), strict=True
                )
            }
            missed |= set(zip(result.missed.tolist(), result.missed_seq.tolist(), strict=True))
            for slot, seq in zip(result.issued.tolist(), result.issued_seq.tolist(), strict=True):
                if rng.random() < 0.9:  # answered in time, maybe while Redis is away
                    scheduler.ack(slot, seq, now + 50)
                    answered.add((slot, seq))
        assert failed_ticks >= 8, "the ticks never met Redis away: no drill"
        assert len(issued) == len(set(issued)), "a challenge was issued twice"
        for slot in slots.tolist():
            seqs = sorted(q for s, q in issued if s == slot)
            assert seqs == list(range(1, len(seqs) + 1)), (slot, seqs)
        assert len({s for s, _ in issued}) == len(slots), "some armed session never fired"
        phase, seq = scheduler.phase_of(slots), scheduler.seq_of(slots)
        awaiting = set(
            zip(
                slots[phase == Phase.AWAITING].tolist(),
                seq[phase == Phase.AWAITING].tolist(),
                strict=True,
            )
        )
        for slot, p, q in zip(slots.tolist(), phase.tolist(), seq.tolist(), strict=True):
            # armed (waiting to fire or for its answer), or idle after its last one was missed
            assert p in (Phase.SCHEDULED, Phase.AWAITING) or (slot, q) in missed, (slot, p, q)
        assert answered - awaiting <= passed, "an answer given in time was lost"
        assert not (answered & missed), "an answered challenge was declared missed"
        for challenge in set(issued) - awaiting - answered:
            assert challenge in missed, challenge
    finally:
        client.close()
        server.close()
