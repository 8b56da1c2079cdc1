"""Drill: ``kill -9`` of one API worker every minute during an exam peak.

    python -m loadtests.drills.kill_worker                     # 5 min, a kill a minute
    python -m loadtests.drills.kill_worker --short             # seconds: CI and tests/load

A fresh PostgreSQL database (``EXAMENGINE_TEST_POSTGRES_URL``'s server), Redis
(``EXAMENGINE_TEST_REDIS_URL``, a key prefix of its own, dropped at the end) and
``examengine serve`` with ``--workers`` uvicorn workers; ``--learners`` learners sign in,
start the load-test exam and save answers all along. Every ``--every`` seconds one worker
process, picked at random, gets SIGKILL: the requests it held die with it (the learner's
page sends them again, same sequence numbers), uvicorn's supervisor starts a new one,
and the login sessions live on in Redis. At the end every learner submits and the
ledger check runs (``loadtests.ledger``): 0 lost acknowledged saves, every submit
graded once. Exit status 0 only when the ledger is clean, at least one worker was
killed and every kill was followed by acknowledged saves.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import psutil
import redis

from loadtests.drills.peak import Peak, prepare, serve, server_env, stop
from loadtests.run import REDIS, database


def workers(server_pid: int) -> list[psutil.Process]:
    """The server's worker processes (uvicorn's children, not multiprocessing's helper)."""
    found = []
    for child in psutil.Process(server_pid).children():
        try:
            if "resource_tracker" not in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


async def killing(server_pid: int, peak: Peak, args: argparse.Namespace, phase: list[str],
                  kills: list[int]) -> None:  # fmt: skip
    rng = random.Random(7)
    for n in range(args.kills):
        await asyncio.sleep(args.every)
        alive = workers(server_pid)
        if not alive:
            continue
        victim = rng.choice(alive)
        os.kill(victim.pid, signal.SIGKILL)
        kills.append(victim.pid)
        phase[0] = f"after kill {n + 1}"
        print(f"  {time.strftime('%H:%M:%S')} SIGKILL worker {victim.pid}", flush=True)
    await asyncio.sleep(args.every)  # saves after the last kill too


async def peak_with_kills(url: str, server_pid: int, args: argparse.Namespace
                          ) -> tuple[Peak, list[int]]:  # fmt: skip
    peak = Peak(url, args.learners, pause_s=args.pause)
    done = asyncio.Event()
    phase = ["before the kills"]
    kills: list[int] = []
    learners = [asyncio.create_task(peak.learner_run(lr, done, phase)) for lr in peak.learners]
    await killing(server_pid, peak, args, phase, kills)
    done.set()
    await asyncio.wait_for(asyncio.gather(*learners), timeout=120)
    return peak, kills


def drill(args: argparse.Namespace) -> int:
    prefix = f"drill{secrets.token_hex(3)}"
    with (
        tempfile.TemporaryDirectory(prefix="kill-worker-") as tmp,
        database("postgres", Path(tmp)) as db,
    ):
        folder = Path(tmp)
        env = server_env(folder, db, workers=args.workers, redis_url=REDIS, redis_prefix=prefix)
        prepare(env, folder, learners=args.learners, exam_minutes=120)
        with (folder / "server.log").open("wb") as log:
            server, url = serve(env, log)
            try:
                count = len(workers(server.pid))
                print(f"serving {url} with {count} workers; {args.learners} learners; "
                      f"a kill every {args.every:g} s", flush=True)  # fmt: skip
                peak, kills = asyncio.run(peak_with_kills(url, server.pid, args))
                alive = len(workers(server.pid))
            finally:
                stop(server)
                client = redis.Redis.from_url(REDIS)
                keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
                if keys:
                    client.unlink(*keys)
        report = peak.ledger(db)
    print(peak.summary())
    print(f"workers killed: {len(kills)}; alive at the end: {alive} of {args.workers}")
    print("acknowledged saves by phase: " + ", ".join(
        f"{k} {v}" for k, v in peak.tally.acknowledged_after.items()))  # fmt: skip
    print(report.summary())
    for problem in report.problems[:20]:
        print(f"  {problem}")
    after_each = all(
        peak.tally.acknowledged_after.get(f"after kill {n}", 0) > 0
        for n in range(1, len(kills) + 1)
    )
    ok = report.ok and bool(kills) and after_each and alive == args.workers
    print("drill: ok" if ok else "drill: FAILED")
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--every", type=float, default=60.0, help="seconds between kills")
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--pause", type=float, default=1.0, help="mean seconds between saves")
    parser.add_argument("--short", action="store_true",
                        help="6 learners, a kill every 2.5 s, 2 kills (seconds; CI)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.short:
        args.learners, args.every, args.kills, args.pause = 6, 2.5, 2, 0.05
    return drill(args)


if __name__ == "__main__":
    sys.exit(main())
