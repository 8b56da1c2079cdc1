"""The session check: what reading an account's session generation adds to a request.

Every signed-in request, the study heartbeat and ack included, asks whether its session's
generation is still the account's (``api.http.auth.SessionCheck``, decision 0014). This
measures one check — through the process's cache over the file store (the one-process
default), the file store alone, Redis — against the baseline the request pays anyway:
reading the session itself from the same store. Medians of 5 runs of ``--calls`` calls.

    .venv/bin/python -m benchmarks.session_check            # 5 x 3,000 calls each
    .venv/bin/python -m benchmarks.session_check --quick    # 5 x 20 (CI)
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import redis
from litestar.stores.file import FileStore
from litestar.stores.redis import RedisStore
from redis.asyncio import Redis

from api.services.accounts import SessionGenerations
from benchmarks import common

QUICK = {"calls": 20}
RUNS = 5


async def per_call_us(call: Callable[[], Awaitable[object]], calls: int) -> float:
    """Median microseconds per ``call()`` over ``RUNS`` runs of ``calls`` (after a warm-up)."""
    for _ in range(min(calls, 200)):
        await call()
    runs = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for _ in range(calls):
            await call()
        runs.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(runs)


async def files(calls: int, root: Path) -> list[tuple[str, str]]:
    session_store = FileStore(root / "sessions", create_directories=True)
    generation_store = FileStore(root / "generations", create_directories=True)
    for store in (session_store, generation_store):
        Path(store.path).mkdir(parents=True, exist_ok=True)
    session_id = secrets.token_hex(32)
    await session_store.set(session_id, b'{"principal": {"user_id": 1}}', expires_in=3600)
    plain = SessionGenerations(generation_store)
    cached = SessionGenerations(generation_store, {})
    await plain.moved(2, 3)
    await cached.moved(2, 3)
    return [
        ("file store: the session itself (baseline)",
         f"{await per_call_us(lambda: session_store.get(session_id), calls):.1f}"),
        ("file store + process cache: never moved",
         f"{await per_call_us(lambda: cached.current(1), calls):.1f}"),
        ("file store + process cache: moved",
         f"{await per_call_us(lambda: cached.current(2), calls):.1f}"),
        ("file store alone: never moved", f"{await per_call_us(lambda: plain.current(1), calls):.1f}"),
        ("file store alone: moved", f"{await per_call_us(lambda: plain.current(2), calls):.1f}"),
    ]  # fmt: skip


async def on_redis(calls: int, url: str) -> list[tuple[str, str]]:
    prefix = f"bench-session-check-{secrets.token_hex(4)}"
    client = Redis.from_url(url)
    try:
        sessions = RedisStore(client, namespace=f"{prefix}:sessions")
        generations = SessionGenerations(RedisStore(client, namespace=f"{prefix}:generations"))
        session_id = secrets.token_hex(32)
        await sessions.set(session_id, b'{"principal": {"user_id": 1}}', expires_in=3600)
        await generations.moved(2, 3)
        return [
            ("redis: the session itself (baseline)",
             f"{await per_call_us(lambda: sessions.get(session_id), calls):.1f}"),
            ("redis: never moved", f"{await per_call_us(lambda: generations.current(1), calls):.1f}"),
            ("redis: moved", f"{await per_call_us(lambda: generations.current(2), calls):.1f}"),
        ]  # fmt: skip
    finally:
        await client.aclose()
        common.drop_keys(redis.Redis.from_url(url), prefix)


def main(argv: Sequence[str] | None = None) -> None:
    parser = common.parser("benchmarks.session_check", __doc__)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--redis-url", default=common.redis_url())
    args = common.parse(parser, argv, QUICK)
    with tempfile.TemporaryDirectory() as scratch:
        rows = asyncio.run(files(args.calls, Path(scratch)))
    try:
        redis.Redis.from_url(args.redis_url).ping()
    except redis.RedisError as error:
        rows.append(("redis", common.not_measured("the Redis store", error, common.REDIS_HELP)))
    else:
        rows += asyncio.run(on_redis(args.calls, args.redis_url))
    common.table(
        f"One session check, µs per call (median of {RUNS} x {args.calls}; {common.load()})",
        ("store", "µs"),
        rows,
    )


if __name__ == "__main__":
    main()
