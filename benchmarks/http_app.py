"""HTTP benchmark: the study hot path (heartbeat + ack) sent to a second worker that
relays it through Redis, against sending it to the worker that holds the sessions
(decision 0010); and the servers, set-ups and wrk runner the other HTTP benchmarks share.

    .venv/bin/python -m benchmarks.http_app [--http-seconds 10] [--http-connections 32]
                                            [--http-sessions 200]
    .venv/bin/python -m benchmarks.http_app --quick      # tiny sizes, ~30 s (CI)
    uvicorn benchmarks.http_app:create --factory          # the server alone

Each request of the hot path beside bare Litestar, one worker, is
``benchmarks.hot_path`` (issue 14); this one measures what a relayed request costs.

The servers: the real app (settings from the environment, as ``uvicorn
api.app:create_app --factory`` builds it) plus one echo route (``create`` below, used by
``benchmarks.endpoint_cpu``); under uvicorn, one worker each, over a seeded SQLite
database, in subprocesses on free ports; two of them over one Redis (``--redis-url``,
default ``EXAMENGINE_TEST_REDIS_URL`` or redis://127.0.0.1:6379/0), the sessions begun on
the first: heartbeat + ack (1:1) for ``--http-sessions`` learners, each in a study
session whose challenge is waiting (every ack goes the whole accept path: the study
ticker ticks every ``--http-tick-ms`` and every ack is accepted until the next tick
applies the first, so a load run must end within one tick), sent to the first, then to
the other, which relays each request. Without Redis the run fails under ``CI=true`` and
prints ``not measured`` elsewhere.

Measured with ``wrk`` (one thread; figures from another load generator would not compare,
so without ``wrk`` the run stops: ``apt-get install -y wrk``, or ``make bench``). A
request answered ≥ 400 makes the run fail, after the tables: a figure from failing
requests measures the error path.

``--quick``: 5 learners, 4 connections, 1 s load runs without warm-ups and a 3 s study
tick; the figures mean nothing.

``benchmarks.challenges --parts http`` runs this benchmark too. Nothing here is a test:
it prints tables; results go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import msgspec
import redis
from litestar import Litestar, post
from msgspec import Struct
from sqlmodel import col, select

from api.app import create_app
from api.cli.demo import load_demo
from api.services import study
from api.services.passwords import hash_password
from api.settings import DatabaseSettings
from api.store.db import migrate, standalone_transaction
from api.store.tables import User
from benchmarks import common
from examengine import credit

# -- the server ------------------------------------------------------------------------------


class Hello(Struct, frozen=True):
    slot: int
    seq: int


@post("/bench/hello", status_code=200, sync_to_thread=False)
def hello(data: Hello) -> Hello:
    """Decode a body the size of an ack's, encode it back: the framework's floor."""
    return data


def create() -> Litestar:
    return create_app(route_handlers=[hello])


# -- the load ----------------------------------------------------------------------------------

HEARTBEAT, ACK = "/api/study/heartbeat", "/api/study/ack"
BENCH_PASSWORD = "bench-learner-1"
BENCH_CHAPTER = "bench-chapter"
BENCH_PLAN = credit.Plan(
    key="bench-plan", title="bench", year=2026, category="public", required_hours=1,
    elective_hours=0,
    courses=(credit.PlanCourse(required=True, course=credit.Course(
        key="bench-course", title="bench", chapters=(credit.Chapter(
            key=BENCH_CHAPTER, title="bench", duration_ms=8 * 3_600_000, credit_hours=1),))),),
)  # fmt: skip
SERVER_START_S = 60
QUICK = {"http_seconds": 1, "http_connections": 4, "http_sessions": 5, "http_tick_ms": 3000}

#: One request: path, cookie ("" for none), JSON body.
Request = tuple[str, str, str]


@dataclass
class Load:
    """One load run's outcome."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    failed: int  # answered ≥ 400
    socket_errors: str  # wrk's "Socket errors" line, if any

    @property
    def errors(self) -> str:
        return f"{self.failed:,} of {self.requests:,} ≥ 400 {self.socket_errors}".strip()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def seed_database(root: Path, learners: int) -> str:
    """A migrated SQLite database with the demo, a study plan and ``learners`` learners
    enrolled in it; its URL."""
    url = f"sqlite:///{root / 'bench.db'}"
    seed_study(url, learners)
    return url


def seed_study(url: str, learners: int) -> None:
    """Migrate the database at ``url``; the demo, a study plan and ``learners`` learners
    enrolled in it."""
    database = DatabaseSettings(url=url)
    migrate(database.url)
    with standalone_transaction(database) as session:
        load_demo(session, now=datetime.now(UTC))
        study.save_plan(session, BENCH_PLAN, now=int(time.time() * 1000))
        password_hash = hash_password(BENCH_PASSWORD)
        for n in range(learners):
            session.add(User(login=f"1390000{n:04d}", display_name=f"bench {n}", password_hash=password_hash,
                             roles=["learner"], must_change_password=False))  # fmt: skip
        session.flush()
        for user in session.exec(select(User).where(col(User.login).startswith("1390000"))):
            assert user.id is not None
            study.enroll(
                session, learner_id=user.id, plan=BENCH_PLAN.key, now=int(time.time() * 1000)
            )


@contextmanager
def app_server(
    root: Path, database_url: str, name: str, tick_ms: int, **extra: str
) -> Iterator[str]:
    """The real app (plus /bench/hello) under uvicorn, one worker, on a free port, over
    ``database_url``; ``extra`` EXAMENGINE_* settings (e.g. REDIS_URL). Stopped by its
    PID."""
    with app_process(root, database_url, name, tick_ms, **extra) as (url, _):
        yield url


@contextmanager
def app_process(
    root: Path,
    database_url: str,
    name: str,
    tick_ms: int,
    factory: str = "benchmarks.http_app:create",
    **extra: str,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``app_server`` with the uvicorn ``factory`` to serve (the real app plus
    /bench/hello by default); its URL and process."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EXAMENGINE_")},
        "EXAMENGINE_VAR_DIR": str(root / "var"),
        "EXAMENGINE_DATABASE_URL": database_url,
        "EXAMENGINE_LOGIN_ATTEMPTS_PER_MINUTE": "100000",
        "EXAMENGINE_LOG_LEVEL": "WARNING",
        "EXAMENGINE_SWEEP_INTERVAL_MS": "0",
        # A challenge 1 s after arming, an hour to answer it, a tick every tick_ms: right
        # after a tick every session has a challenge waiting, and every ack of it is
        # accepted (queued) until the next tick applies the first — so acks can be
        # replayed for a few seconds, each going through the whole accept path.
        "EXAMENGINE_STUDY_TICK_MS": str(tick_ms),
        "EXAMENGINE_CHALLENGE_MIN_S": "1",
        "EXAMENGINE_CHALLENGE_MAX_S": "1",
        "EXAMENGINE_CHALLENGE_WINDOW_S": "3600",
        **{f"EXAMENGINE_{key.upper()}": value for key, value in extra.items()},
    }
    log_path = root / f"{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", factory, "--factory", "--workers", "1",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
        cwd=Path(__file__).resolve().parent.parent, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.close()
                raise RuntimeError(
                    "the server did not start:\n" + log_path.read_text(errors="replace")[-3000:]
                )
            time.sleep(0.1)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


WRK_SCRIPT = """
local bodies, paths, cookies = {}, {}, {}
for line in io.lines(os.getenv("BENCH_REQUESTS")) do
  local path, cookie, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
  paths[#paths + 1] = path
  cookies[#cookies + 1] = cookie
  bodies[#bodies + 1] = body
end
local n = 0
request = function()
  n = n % #paths + 1
  local headers = {["Content-Type"] = "application/json"}
  if cookies[n] ~= "" then headers["Cookie"] = cookies[n] end
  return wrk.format("POST", paths[n], headers, bodies[n])
end
done = function(summary, latency, requests)
  -- errors: wrk counts them itself ("Non-2xx or 3xx responses"); a response() callback
  -- would run in the thread's Lua state, not this one
  io.write(string.format("BENCH %d %.3f %.3f\\n", summary.requests,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def wrk_load(
    wrk: str, url: str, requests: list[Request], seconds: int, connections: int, root: Path
) -> Load:
    """``wrk`` (one thread) cycling through ``requests``."""
    script, lines = root / "bench.lua", root / "requests.txt"
    script.write_text(WRK_SCRIPT)
    lines.write_text("".join(f"{path}\t{cookie}\t{body}\n" for path, cookie, body in requests))
    env = {**os.environ, "BENCH_REQUESTS": str(lines)}
    out = subprocess.run(
        [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return Load(*read_wrk(out))


def read_wrk(out: str) -> tuple[float, float, float, int, int, str]:
    """What a run of wrk with one of our Lua scripts printed: requests/s, latency p50 and
    p99 (ms), requests, answers ≥ 400 (wrk's own count) and its socket errors line."""
    lines = out.splitlines()
    total, p50, p99 = next(x for x in lines if x.startswith("BENCH ")).split()[1:]
    rps = next(float(x.split()[1]) for x in lines if x.startswith("Requests/sec:"))
    failed = sum(int(x.rsplit(":", 1)[1]) for x in lines if "Non-2xx or 3xx responses" in x)
    sockets = next((x.strip() for x in lines if "Socket errors" in x), "")
    return rps, float(p50), float(p99), int(total), failed, sockets


def login(url: str, login: str, password: str) -> str:
    """A session cookie ("name=value") for ``login``."""
    with httpx.Client(base_url=url) as client:
        reply = client.post("/auth/login", json={"login": login, "password": password})
        if reply.status_code != 200:
            raise RuntimeError(f"could not log in {login}: {reply.status_code} {reply.text[:200]}")
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


def study_requests(url: str, learners: int, tick_ms: int) -> list[Request]:
    """One heartbeat and one ack for each of ``learners`` study sessions (each learner
    logged in, the chapter started, its first challenge waiting)."""
    with httpx.Client(base_url=url) as client:
        paths = client.get("/schema/openapi.json").json().get("paths", {})
        if HEARTBEAT not in paths or ACK not in paths:
            raise RuntimeError(f"the app has no {HEARTBEAT} and {ACK}")
        sessions = []
        for n in range(learners):
            cookie = login(url, f"1390000{n:04d}", BENCH_PASSWORD)
            reply = client.post(f"/api/study/{BENCH_CHAPTER}/start", headers={"Cookie": cookie})
            if reply.status_code != 200:
                raise RuntimeError(f"study start answered {reply.status_code} {reply.text[:200]}")
            sessions.append((cookie, reply.json()["token"]))
        # wait for a tick to issue the challenges, then go at once (the next tick applies
        # the first ack of each and the replays would be refused)
        cookie, token = sessions[-1]
        deadline = time.monotonic() + tick_ms / 1000 * 3
        while time.monotonic() < deadline:
            status = client.post(HEARTBEAT, headers={"Cookie": cookie},
                                 json={"token": token, "position_ms": 1000, "playing": True}).json()  # fmt: skip
            if status.get("challenge"):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"no challenge was issued in {tick_ms * 3} ms (three ticks)")
        requests = []
        for cookie, token in sessions:
            beat = msgspec.json.encode({"token": token, "position_ms": 2000, "playing": True})
            # the challenge's number: a slot handed out again keeps counting
            status = client.post(
                HEARTBEAT, headers={"Cookie": cookie, "Content-Type": "application/json"},
                content=beat,
            ).json()  # fmt: skip
            seq = status["challenge"]["seq"]
            ack = msgspec.json.encode({"token": token, "seq": seq, "answer": "continue"})
            requests += [(HEARTBEAT, cookie, beat.decode()), (ACK, cookie, ack.decode())]
        return requests


Measure = Callable[[str, list[Request], int], Load]
Row = Callable[[str, Load, "Load | None"], tuple[str, ...]]


def bench_http(args: argparse.Namespace) -> None:
    """The relay's table; fails (after it) if any request was answered ≥ 400."""
    relay = redis_client(args.redis_url)  # checked first: under CI=true, fail at once
    loads: list[Load] = []
    wrk = common.require_wrk()

    def measure(url: str, requests: list[Request], seconds: int) -> Load:
        with tempfile.TemporaryDirectory() as scratch:
            result = wrk_load(wrk, url, requests, seconds, args.http_connections, Path(scratch))
        loads.append(result)
        return result

    def row(name: str, result: Load, base: Load | None) -> tuple[str, ...]:
        share = f"{result.requests_per_s / base.requests_per_s:.0%}" if base else "100 %"
        return (
            name,
            f"{result.requests_per_s:,.0f}",
            f"{result.p50_ms:.1f} / {result.p99_ms:.1f}",
            result.errors,
            share,
        )

    relayed: list[tuple[str, ...]]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        database = seed_database(root, args.http_sessions)
        try:
            if relay is None:
                relayed = [("two workers", "not measured: Redis is unreachable", "", "", "")]
            else:
                relayed = bench_two_workers(args, relay, root, database, measure, row)
        finally:
            if relay is not None:
                relay.close()
    common.table(
        "HTTP, two workers (two uvicorn processes) over one Redis: the study relay (decision 0010)",
        ("requests", "requests/s", "latency p50 / p99 ms", "errors", "of the owner's"),
        relayed,
    )
    print(f"- {common.load()}; both servers, Redis and the load generator share the 2 cores")
    failed = sum(result.failed for result in loads)
    if failed:
        raise SystemExit(
            f"{failed:,} requests were answered ≥ 400 (warm-ups included): these figures "
            "measure an error path (see the errors column)"
        )


def redis_client(url: str) -> redis.Redis | None:
    """A client of the Redis server at ``url``, or None (said so) if it is unreachable."""
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        common.not_measured(f"two workers, Redis at {url}", error, common.REDIS_HELP)
        return None
    return client


def bench_two_workers(
    args: argparse.Namespace,
    client: redis.Redis,
    root: Path,
    database: str,
    measure: Measure,
    row: Row,
) -> list[tuple[str, ...]]:
    """The study hot path sent to the worker holding the sessions, then to another
    worker that relays it (two servers over one Redis, sessions begun on the first)."""
    prefix = f"bench-relay-{os.getpid()}"
    shared = {"redis_url": args.redis_url, "redis_prefix": prefix}
    tick = args.http_tick_ms
    try:
        with (
            app_server(root, database, "owner", tick, **shared) as owner,
            app_server(root, database, "other", tick, **shared) as other,
        ):
            loads = []
            for target in (owner, other):
                # sessions begun (again) on the owner, their challenges waiting: acks are
                # accepted until the next tick applies the first
                study_mix = study_requests(owner, args.http_sessions, tick)
                if not args.quick:
                    measure(target, study_mix, 1)  # warm-up
                loads.append(measure(target, study_mix, args.http_seconds))
            direct, relayed = loads
    finally:
        common.drop_keys(client, prefix)
    return [
        row("heartbeat + ack sent to the worker holding the sessions", direct, None),
        row("the same, sent to the other worker (relayed through Redis)", relayed, direct),
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """This benchmark's options (``benchmarks.challenges`` takes them too)."""
    parser.add_argument("--http-seconds", type=int, default=10, help="each load run")
    parser.add_argument("--http-connections", type=int, default=32)
    parser.add_argument("--http-sessions", type=int, default=200, help="learners")
    parser.add_argument(
        "--http-tick-ms", type=int, default=15_000, help="the study ticker's interval"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = common.parser("benchmarks.http_app", __doc__)
    add_arguments(parser)
    parser.add_argument("--redis-url", default=common.redis_url())
    args = common.parse(parser, argv, QUICK)
    print(f"# benchmarks.http_app — {common.load()}; python {sys.version.split()[0]}")
    bench_http(args)


if __name__ == "__main__":
    main()
