"""The study socket against the HTTP heartbeat (issue 14): server CPU per heartbeat
either way, learner-minutes of study per core-second, and what many open sockets cost
one worker.

    .venv/bin/python -m benchmarks.study_socket [--learners 10000] [--busy 200]
                                                [--seconds 10] [--pace-s 15]
    .venv/bin/python -m benchmarks.study_socket --quick     # tiny sizes, every code path

One uvicorn worker (embedded settings: SQLite, sessions on files), ``learners`` learners
each signed in (their login sessions written to the session store beforehand: 10,000
argon2 sign-ins would take the server minutes and are measured elsewhere) and each in a
study session begun over HTTP, under the service's default anti-idle policy (a
challenge 5–15 minutes after the last).

1. **Per heartbeat**: ``busy`` learners heartbeat as fast as the replies come for
   ``seconds``: over HTTP (``wrk``, one thread, ``busy`` connections, the learner's
   cookie and token), then over ``busy`` study sockets (a Python client, the
   ``websockets`` library, in this process). The server process's CPU time (from
   ``/proc``) over the heartbeats answered: µs per heartbeat, and learner-minutes of
   study per core-second at the page's pace (a heartbeat every 15 s: four a minute).
2. **Many sockets**: every learner opens a socket and keeps it open; the server's
   resident memory before and after (per connection), then each sends one heartbeat
   every ``pace_s`` seconds (spread evenly) for ``seconds``: the server's CPU share and
   the replies' latency. The client's own CPU is on the same 2 cores.

``--quick``: 20 learners, 5 busy, 1 s; the figures mean nothing. Results:
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx
import msgspec
from sqlmodel import col, select
from websockets.asyncio.client import ClientConnection, connect

from api.http.auth import SESSION_COOKIE, SESSION_KEY, Principal
from api.settings import DatabaseSettings
from api.store.db import standalone_transaction
from api.store.files import FileStore
from api.store.tables import User
from benchmarks import common
from benchmarks.hot_path import Server, serve
from benchmarks.http_app import BENCH_CHAPTER, seed_study

QUICK = {"learners": 20, "busy": 5, "seconds": 1, "pace_s": 1}
#: The page's heartbeat interval: four heartbeats a learner-minute.
PAGE_HEARTBEAT_S = 15


async def sign_in_all(root: Path, database_url: str) -> list[str]:
    """A login session for every bench learner, written to the session store the server
    will read (``var/sessions``); their session ids (the cookie's value), in order."""
    with standalone_transaction(DatabaseSettings(url=database_url)) as db:
        users = db.exec(select(User).where(col(User.login).startswith("1390000"))).all()
        principals = [
            Principal(user_id=u.id or 0, login=u.login, roles=("learner",),
                      must_change_password=False)
            for u in users
        ]  # fmt: skip
    store = FileStore(root / "var" / "sessions", create_directories=True)
    ids = []
    for n, principal in enumerate(principals):
        session_id = f"bench{n:08d}{'0' * 51}"[:64]
        data = {SESSION_KEY: msgspec.to_builtins(principal), "_renewed_at": int(time.time())}
        await store.set(session_id, json.dumps(data).encode(), expires_in=8 * 3600)
        ids.append(session_id)
    return ids


async def begin_all(url: str, session_ids: list[str]) -> list[str]:
    """Each learner's study session begun over HTTP; their tokens."""
    limit = asyncio.Semaphore(8)

    async def begin(client: httpx.AsyncClient, session_id: str) -> str:
        async with limit:
            reply = await client.post(
                f"/api/study/{BENCH_CHAPTER}/start",
                headers={"Cookie": f"{SESSION_COOKIE}={session_id}"},
            )
        if reply.status_code != 200:
            raise RuntimeError(f"study start: {reply.status_code} {reply.text[:200]}")
        token: str = reply.json()["token"]
        return token

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        return list(await asyncio.gather(*(begin(client, s) for s in session_ids)))


def socket_url(url: str, token: str) -> str:
    return f"ws{url.removeprefix('http')}/api/study/socket?token={token}"


async def open_sockets(
    url: str, session_ids: list[str], tokens: list[str]
) -> list[ClientConnection]:
    limit = asyncio.Semaphore(64)

    async def one(session_id: str, token: str) -> ClientConnection:
        async with limit:
            return await connect(
                socket_url(url, token), additional_headers={"Cookie": f"{SESSION_COOKIE}={session_id}"},
                # a browser does not ping (it answers the server's pings), and 10,000
                # clients opened at once would ping in step every 20 s
                open_timeout=60, max_queue=4, compression=None, ping_interval=None,
            )  # fmt: skip

    return list(
        await asyncio.gather(*(one(s, t) for s, t in zip(session_ids, tokens, strict=True)))
    )


BEAT = json.dumps({"op": "beat", "position_ms": 1000, "playing": True})


async def beat(socket: ClientConnection) -> float:
    """One heartbeat over the socket; its round trip in seconds (a refusal fails)."""
    started = time.perf_counter()
    await socket.send(BEAT)
    reply = json.loads(await socket.recv())
    while reply["op"] == "challenge":  # a push between: the reply comes next
        reply = json.loads(await socket.recv())
    if reply["op"] != "status":
        raise RuntimeError(f"a heartbeat over the socket was refused: {reply}")
    return time.perf_counter() - started


async def busy_sockets(sockets: list[ClientConnection], seconds: float) -> int:
    """Each socket heartbeats as fast as its replies come; how many were answered."""
    stop = time.monotonic() + seconds
    counts = [0] * len(sockets)

    async def loop(n: int, socket: ClientConnection) -> None:
        while time.monotonic() < stop:
            await beat(socket)
            counts[n] += 1

    await asyncio.gather(*(loop(n, s) for n, s in enumerate(sockets)))
    return sum(counts)


async def paced_sockets(
    sockets: list[ClientConnection], seconds: float, pace_s: float
) -> list[float]:
    """Each socket heartbeats once every ``pace_s``, the sockets spread evenly over it;
    the round trips."""
    rounds: list[float] = []
    began = time.monotonic()

    async def loop(n: int, socket: ClientConnection) -> None:
        next_at = began + pace_s * n / len(sockets)
        while next_at < began + seconds:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            rounds.append(await beat(socket))
            next_at += pace_s

    await asyncio.gather(*(loop(n, s) for n, s in enumerate(sockets)))
    return rounds


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        database = f"sqlite:///{root / 'socket.db'}"
        seed_study(database, args.learners)
        session_ids = await sign_in_all(root, database)
        # the service's own anti-idle policy (a challenge 5–15 min after the last), not
        # the 1 s one the other HTTP benchmarks use to keep a challenge waiting
        extra = {"challenge_min_s": "300", "challenge_max_s": "900", "challenge_window_s": "60"}
        if args.flush_ms:
            extra["study_flush_ms"] = str(args.flush_ms)
        with serve(root, database, "socket", "api.app:create_app", args, **extra) as server:
            await measure(server, session_ids, args)


async def measure(server: Server, session_ids: list[str], args: argparse.Namespace) -> None:
    process = server.process
    tokens = await begin_all(server.url, session_ids)
    busy = args.busy
    # 1. per heartbeat: HTTP (wrk), then the socket
    requests = [
        ("POST", "/api/study/heartbeat", f"{SESSION_COOKIE}={s}",
         json.dumps({"token": t, "position_ms": 1000, "playing": True}))
        for s, t in zip(session_ids[:busy], tokens[:busy], strict=True)
    ]  # fmt: skip
    http = server.load("HTTP heartbeat", "POST", requests, connections=busy)
    sockets = await open_sockets(server.url, session_ids[:busy], tokens[:busy])
    await busy_sockets(sockets, 1 if not args.quick else 0.2)  # warm-up
    before, started = common.process_cpu(process), time.perf_counter()
    answered = await busy_sockets(sockets, args.seconds)
    wall = time.perf_counter() - started
    socket_us = (common.process_cpu(process) - before) / max(answered, 1) * 1e6
    for socket in sockets:
        await socket.close()

    def per_core_second(us: float) -> str:
        minutes = 1 / (60 / PAGE_HEARTBEAT_S * us / 1e6)
        return f"{minutes:,.0f}"

    common.table(
        f"A heartbeat over HTTP and over the study socket: {busy} learners at once, "
        f"{args.seconds} s each, one uvicorn worker",
        ("transport", "heartbeats / s", "server CPU µs / heartbeat",
         "learner-minutes of study per core-second (a heartbeat every 15 s)", "of HTTP's"),
        [
            ("HTTP (wrk, keep-alive)", f"{http.requests_per_s:,.0f}", f"{http.cpu_us:,.0f}",
             per_core_second(http.cpu_us), "100 %"),
            ("study socket (Python client)", f"{answered / wall:,.0f}", f"{socket_us:,.0f}",
             per_core_second(socket_us), f"{http.cpu_us / socket_us:.1f}×"),
        ],
    )  # fmt: skip
    print(f"- {common.load()}; HTTP refusals: {http.failed} of {http.requests:,}")

    # 2. many sockets held
    rss_before = process.memory_info().rss
    sockets = await open_sockets(server.url, session_ids, tokens)
    await asyncio.sleep(1)
    rss_after = process.memory_info().rss
    before, started = common.process_cpu(process), time.perf_counter()
    rounds = await paced_sockets(sockets, args.seconds, args.pace_s)
    wall = time.perf_counter() - started
    share = (common.process_cpu(process) - before) / wall
    ordered = sorted(rounds) or [0.0]

    def percentile(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    common.table(
        f"{len(sockets):,} study sockets held by one worker, each heartbeating every "
        f"{args.pace_s} s for {args.seconds} s",
        ("sockets", "server RSS before → after", "per connection", "heartbeats / s",
         "server CPU (share of a core)", "round trip p50 / p99 / max ms"),
        [(f"{len(sockets):,}", f"{rss_before / 2**20:,.0f} → {rss_after / 2**20:,.0f} MiB",
          f"{(rss_after - rss_before) / len(sockets) / 1024:,.1f} KiB",
          f"{len(rounds) / wall:,.0f}", f"{share:.0%}",
          f"{percentile(0.5) * 1000:.1f} / {percentile(0.99) * 1000:.1f} / "
          f"{ordered[-1] * 1000:.1f}")],
    )  # fmt: skip
    print(f"- {common.load()}; the client (this process) shares the 2 cores")
    await asyncio.gather(*(s.close() for s in sockets))


def main(argv: Sequence[str] | None = None) -> None:
    parser = common.parser("benchmarks.study_socket", __doc__)
    parser.add_argument("--learners", type=int, default=10_000, help="sockets held at once")
    parser.add_argument("--busy", type=int, default=200, help="learners in the per-heartbeat part")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--pace-s", type=float, default=PAGE_HEARTBEAT_S)
    parser.add_argument(
        "--flush-ms", type=int, default=0,
        help="the study ticker's progress flush (EXAMENGINE_STUDY_FLUSH_MS; default: the app's)",
    )  # fmt: skip
    args = common.parse(parser, argv, QUICK)
    # what hot_path's servers read
    args.tick_ms, args.connections, args.exam_connections = 30_000, args.busy, 4
    print(f"# benchmarks.study_socket — {common.load()}; python {sys.version.split()[0]}")
    print(f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    asyncio.run(run(args))
    print(f"\n{common.load()} at the end")


if __name__ == "__main__":
    main()
