"""The hot path end to end (issue 14): each of the app's most frequent requests beside
bare Litestar serving the same kind of request, in one run — throughput with ``wrk``, the
server's CPU per request, and where the time goes.

    .venv/bin/python -m benchmarks.hot_path [--seconds 10] [--connections 32]
                                            [--learners 200] [--mode sqlite|postgres|both]
                                            [--profile]
    .venv/bin/python -m benchmarks.hot_path --quick     # tiny sizes, every code path (CI)

Servers, each under uvicorn with the same settings (one worker, uvloop and httptools,
no access log), one at a time on a free port, the load generator beside them on the same
2 cores:

- **bare Litestar** — the strongest honest baseline: a Litestar app with nothing but
  ``GET /health`` returning a small dict and ``POST /echo`` decoding a msgspec body the
  size of a heartbeat and encoding it back. No middleware, no stores, no database.
- **the app** — ``api.app:create_app`` as ``examengine serve`` builds it (embedded
  settings: SQLite, sessions on files, one process), over a fresh database with
  ``learners`` learners in a study session (a challenge waiting, so every ack goes the
  whole accept path) and ``learners`` more in an exam (their papers pre-assembled, the
  attempt started).

Requests (``wrk``, one thread, ``connections`` connections, ``seconds`` each, Lua
scripts for the bodies and cookies; a save's ``seq`` counts up, so every save is a new
answer step, never a repeat):

- ``GET /health`` — bare and app;
- the echo POST (bare) beside: the study heartbeat, the challenge ack, the exam
  heartbeat, an answer save of one answer and of ten;
- with ``--mode postgres`` (or ``both``) the exam rows again on PostgreSQL, with the
  database's own CPU (every ``postgres`` process on the machine) beside the app's.

Each row: requests/s, latency p50 / p99, wrk's count of answers ≥ 400 (a non-zero count
fails the run after the tables), the server process's CPU per request (user + system from
``/proc``, read around the run), and both as a share of the bare row of the same kind
(GET against GET, POST against POST). The issue's goals are the "of bare" throughput.

``--profile`` adds a profile of each app request (the server under ``cProfile``, a
separate run): the time inside each layer of the shell, outermost first, per request —
the access log, the metrics, admission, the same-site check, CSRF, the session, the
session check, routing and the handler. Profiling slows everything; read the shares.

``--quick``: 4 learners, 4 connections, 1 s runs: every code path; the figures mean
nothing. A start (one per learner, not replayable) is measured by
``benchmarks.endpoint_cpu``. Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import msgspec
import psutil
from litestar import Litestar, get, post
from litestar.middleware._internal.exceptions.middleware import ExceptionHandlerMiddleware
from litestar.middleware.session.base import SessionMiddleware
from litestar.plugins.prometheus.middleware import PrometheusMiddleware
from litestar.routes.http import HTTPRoute
from msgspec import Struct

from api.app import create_app
from api.cli.demo import DEMO_EXAM, add_load_learners
from api.http.admission import Admission
from api.http.auth import SessionCheck
from api.http.csrf import FormCsrf, SameSiteOnly
from api.logging import RequestLog
from api.services import attempts
from api.settings import DatabaseSettings
from api.store.db import standalone_transaction
from benchmarks import common
from benchmarks.attempts import postgres_database
from benchmarks.http_app import app_process, read_wrk, seed_database, seed_study, study_requests
from loadtests.answers import answer_of

QUICK = {
    "seconds": 1, "connections": 4, "exam_connections": 2, "learners": 4, "mode": "both",
    "tick_ms": 3000,
}  # fmt: skip
#: The study ticker's tick: the acks are measured right after one (each is accepted until
#: the next tick applies the first), so a tick must outlast the ack run and its warm-up.
TICK_MS = 30_000
EXAM_PREFIX, EXAM_PASSWORD = "hot-", "hot-bench-1"
PAPER_SECRET = "hot-path-benchmark-paper-secret-0123456789abcdef"
PROFILE_ENV = "BENCH_PROFILE_PATH"  # not EXAMENGINE_*: the settings refuse unknown ones


# -- the servers -----------------------------------------------------------------------------


class Beat(Struct, frozen=True):
    """A body the size and shape of a study heartbeat."""

    token: str
    position_ms: int
    playing: bool


@get("/health", sync_to_thread=False)
def bare_health() -> dict[str, str]:
    return {"status": "ok"}


@post("/echo", status_code=200, sync_to_thread=False)
def bare_echo(data: Beat) -> Beat:
    return data


def bare() -> Litestar:
    """Bare Litestar: the two routes, nothing else."""
    return Litestar(route_handlers=[bare_health, bare_echo])


def profiled() -> Litestar:
    """The app with ``cProfile`` on between SIGUSR1 and SIGUSR2 (so that only the
    measured requests are in it, not the set-up's sign-ins); at SIGUSR2 the statistics
    go to ``profile-N.prof`` (N = 0, 1, …) in the folder ``$BENCH_PROFILE_PATH`` names,
    and the next run starts afresh. Signal handlers run on the main thread, the event
    loop's."""
    app = create_app()
    profiles: list[cProfile.Profile] = []

    def start(signum: int, frame: FrameType | None) -> None:
        profiles.append(cProfile.Profile())
        profiles[-1].enable()

    def stop(signum: int, frame: FrameType | None) -> None:
        profiles[-1].disable()
        folder = Path(os.environ[PROFILE_ENV])
        profiles[-1].dump_stats(str(folder / f"profile-{len(profiles) - 1}.prof"))

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    return app


# -- the load --------------------------------------------------------------------------------

#: One request: method, path, cookie ("" for none), body ("" for none; each ``{seq}`` in
#: it becomes the next number of one counter).
Request = tuple[str, str, str, str]

WRK_SCRIPT = """
local methods, paths, cookies, bodies = {}, {}, {}, {}
for line in io.lines(os.getenv("BENCH_REQUESTS")) do
  local method, path, cookie, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
  methods[#methods + 1] = method
  paths[#paths + 1] = path
  cookies[#cookies + 1] = cookie
  bodies[#bodies + 1] = body
end
local n, seq = 0, tonumber(os.getenv("BENCH_SEQ"))
local function next_seq() seq = seq + 1; return tostring(seq) end
request = function()
  n = n % #paths + 1
  local headers = {}
  if cookies[n] ~= "" then headers["Cookie"] = cookies[n] end
  local body = nil
  if bodies[n] ~= "" then
    headers["Content-Type"] = "application/json"
    body = bodies[n]:gsub("{seq}", next_seq)
  end
  return wrk.format(methods[n], paths[n], headers, body)
end
done = function(summary, latency, requests)
  io.write(string.format("BENCH %d %.3f %.3f\\n", summary.requests,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


@dataclass
class Load:
    """One wrk run: throughput, latency, failures, and the CPU it cost."""

    name: str
    kind: str  # "GET" or "POST": which bare row it is compared with
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    failed: int  # answered >= 400, by wrk's count
    socket_errors: str
    cpu_s: float  # the server process's
    database_cpu_s: float | None  # PostgreSQL's processes; None when in-process

    @property
    def cpu_us(self) -> float:
        return self.cpu_s / max(self.requests, 1) * 1e6


class Server:
    """A server process under load: runs wrk against it and reads its CPU."""

    def __init__(self, url: str, pid: int, *, postgres: bool, args: argparse.Namespace) -> None:
        self.url = url
        self.process = psutil.Process(pid)
        self.postgres = postgres
        self.args = args
        self.seq = 0  # a save's seq is at most 2**31 - 1; the set-up saves none

    def _cpu(self) -> float:
        return common.process_cpu(self.process)

    def _database_cpu(self) -> float | None:
        return common.postgres_cpu() if self.postgres else None

    def load(
        self,
        name: str,
        kind: str,
        requests: list[Request],
        *,
        warm: bool = True,
        connections: int | None = None,
        profile: Path | None = None,
    ) -> Load:
        """``requests`` in turn under wrk; with ``profile`` (a ``profiled`` server), the
        measured run alone under cProfile, its statistics written there."""
        wrk = common.require_wrk()
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch)
            script, lines = root / "bench.lua", root / "requests.txt"
            script.write_text(WRK_SCRIPT)
            lines.write_text("".join("\t".join(r) + "\n" for r in requests))

            def run(seconds: int) -> tuple[str, float, float | None]:
                self.seq += 20_000_000  # far above what the previous run could reach
                env = {**os.environ, "BENCH_REQUESTS": str(lines), "BENCH_SEQ": str(self.seq)}
                database, cpu = self._database_cpu(), self._cpu()
                out = subprocess.run(
                    [wrk, "-t1", f"-c{connections or self.args.connections}", f"-d{seconds}s", "-s",
                     str(script), self.url],
                    env=env, capture_output=True, text=True, check=True,
                ).stdout  # fmt: skip
                after = self._database_cpu()
                spent = None if database is None or after is None else after - database
                return out, self._cpu() - cpu, spent

            if warm and not self.args.quick:
                run(1)
            if profile is not None:
                self.process.send_signal(signal.SIGUSR1)
            out, cpu_s, database_s = run(self.args.seconds)
            if profile is not None:
                self.process.send_signal(signal.SIGUSR2)
                deadline = time.monotonic() + 30
                while not profile.exists() and time.monotonic() < deadline:
                    time.sleep(0.1)
                time.sleep(0.5)  # written whole
        return Load(name, kind, *read_wrk(out), cpu_s, database_s)


@contextmanager
def serve(
    root: Path, database_url: str, name: str, factory: str, args: argparse.Namespace, **extra: str
) -> Iterator[Server]:
    settings = {
        "load_test": "1",  # no login rate limit for the set-up's sign-ins
        "paper_secret": PAPER_SECRET,
        "log_level": "INFO",  # as served: access lines (to the server's log file)
        **extra,
    }
    with app_process(root, database_url, name, args.tick_ms, factory=factory, **settings) as (
        url,
        process,
    ):
        yield Server(url, process.pid, postgres=database_url.startswith("postgresql"), args=args)


# -- the set-up ------------------------------------------------------------------------------


def seed_exams(database_url: str, learners: int) -> None:
    """``learners`` exam takers enrolled in the demo exam, their papers pre-assembled."""
    with standalone_transaction(DatabaseSettings(url=database_url)) as session:
        now = datetime.now(UTC)
        add_load_learners(
            session, count=learners, prefix=EXAM_PREFIX, password=EXAM_PASSWORD, now=now,
            exam=DEMO_EXAM,
        )  # fmt: skip
        attempts.preassemble(
            session, exam=DEMO_EXAM, secret=PAPER_SECRET.encode(),
            now=int(now.timestamp() * 1000),
            logins=[f"{EXAM_PREFIX}{n:05d}" for n in range(1, learners + 1)],
        )  # fmt: skip


@dataclass
class Taker:
    cookie: str
    attempt: str
    items: list[dict[str, Any]]


def start_exams(url: str, learners: int) -> list[Taker]:
    """Each exam taker signed in, their attempt started (or resumed), their paper read."""
    takers = []
    for n in range(1, learners + 1):
        with httpx.Client(base_url=url, timeout=30) as client:
            login = f"{EXAM_PREFIX}{n:05d}"
            reply = client.post("/auth/login", json={"login": login, "password": EXAM_PASSWORD})
            _expect(reply, 200, f"sign-in of {login}")
            reply = client.post(f"/api/exams/{DEMO_EXAM}/attempts", json={})
            _expect(reply, (200, 201), f"exam start of {login}")
            paper = reply.json()
            cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
            takers.append(Taker(cookie, paper["attempt"], paper["items"]))
    return takers


def _expect(reply: httpx.Response, status: int | tuple[int, ...], what: str) -> None:
    wanted = status if isinstance(status, tuple) else (status,)
    if reply.status_code not in wanted:
        raise RuntimeError(f"{what}: {reply.status_code} {reply.text[:300]}")


def save_body(taker: Taker, count: int) -> str:
    """A save of ``count`` answers (items of the paper in turn), each with a fresh seq."""
    saves = []
    for i in range(count):
        item = taker.items[i % len(taker.items)]
        response = msgspec.json.encode(answer_of(item, i)).decode()
        saves.append(f'{{"item":{msgspec.json.encode(item["item"]).decode()},"seq":{{seq}},'
                     f'"response":{response}}}')  # fmt: skip
    return "[" + ",".join(saves) + "]"


def exam_requests(takers: list[Taker], label: str = "") -> dict[str, list[Request]]:
    """Exam heartbeats, and saves of one and of ten answers, by row name."""
    return {
        f"exam heartbeat{label}": [
            ("POST", f"/api/attempts/{t.attempt}/heartbeat", t.cookie, "") for t in takers
        ],
        f"answer save, one answer{label}": [
            ("POST", f"/api/attempts/{t.attempt}/answers", t.cookie, save_body(t, 1))
            for t in takers
        ],
        f"answer save, 10 answers{label}": [
            ("POST", f"/api/attempts/{t.attempt}/answers", t.cookie, save_body(t, 10))
            for t in takers
        ],
    }


def exam_rows(server: Server, takers: list[Taker], label: str) -> list[Load]:
    connections = server.args.exam_connections
    return [
        server.load(name, "POST", requests, connections=connections)
        for name, requests in exam_requests(takers, label).items()
    ]


# -- the run ---------------------------------------------------------------------------------


def bare_rows(root: Path, args: argparse.Namespace) -> tuple[Load, Load]:
    with serve(root, f"sqlite:///{root / 'bare.db'}", "bare", "benchmarks.hot_path:bare",
               args) as server:  # fmt: skip
        beat = msgspec.json.encode(Beat(token="w" * 60, position_ms=123456, playing=True))
        health = server.load("bare Litestar: GET /health", "GET", [("GET", "/health", "", "")])
        echo = server.load("bare Litestar: POST /echo (msgspec body)", "POST",
                           [("POST", "/echo", "", beat.decode())])  # fmt: skip
    return health, echo


def app_rows(
    root: Path, database_url: str, args: argparse.Namespace, factory: str, label: str = ""
) -> tuple[list[Load], list[Taker]]:
    """The app's rows; the exam takers (signed in, attempts open) for the profile."""
    with serve(root, database_url, f"app{label}", factory, args) as server:
        loads = [server.load(f"app: GET /health{label}", "GET", [("GET", "/health", "", "")])]
        mix = study_requests(server.url, args.learners, args.tick_ms)
        beats = [("POST", path, cookie, body) for path, cookie, body in mix[0::2]]
        acks = [("POST", path, cookie, body) for path, cookie, body in mix[1::2]]
        ack = server.load(f"challenge ack{label}", "POST", acks)  # before the next tick
        loads += [server.load(f"study heartbeat{label}", "POST", beats), ack]
        takers = start_exams(server.url, args.learners)
        loads += exam_rows(server, takers, label)
    return loads, takers


def postgres_rows(root: Path, args: argparse.Namespace) -> list[Load]:
    try:
        with postgres_database(common.postgres_url()) as url:
            seed_database_at(url, args.learners)
            with serve(root, url, "app-pg", "api.app:create_app", args) as server:
                return exam_rows(server, start_exams(server.url, args.learners), " (PostgreSQL)")
    except OSError as error:
        common.not_measured("PostgreSQL", error, common.POSTGRES_HELP)
        return []


def seed_database_at(url: str, learners: int) -> None:
    """The SQLite seed's learners and plan, at ``url`` (PostgreSQL)."""
    seed_study(url, learners)
    seed_exams(url, learners)


def report(
    args: argparse.Namespace, bare_get: Load, bare_post: Load, loads: Sequence[Load]
) -> None:
    def row(load: Load) -> tuple[str, ...]:
        base = bare_get if load.kind == "GET" else bare_post
        database = (
            "—" if load.database_cpu_s is None
            else f"{load.database_cpu_s / max(load.requests, 1) * 1e6:,.0f}"
        )  # fmt: skip
        return (
            load.name,
            f"{load.requests_per_s:,.0f}",
            f"{load.p50_ms:.1f} / {load.p99_ms:.1f}",
            f"{load.failed:,} of {load.requests:,} {load.socket_errors}".strip(),
            f"{load.cpu_us:,.0f}",
            database,
            f"**{load.requests_per_s / base.requests_per_s:.0%}**",
            f"{base.cpu_us / load.cpu_us:.0%}" if load.cpu_s > 0 else "—",
        )

    common.table(
        f"Hot requests: uvicorn 1 worker, wrk 1 thread, {args.connections} connections "
        f"({args.exam_connections} for the exam rows), {args.seconds} s each",
        ("request", "requests/s", "latency p50 / p99 ms", "answered ≥ 400",
         "server CPU µs / request", "PostgreSQL CPU µs / request",
         "of bare (throughput)", "of bare (CPU)"),
        [row(load) for load in (bare_get, bare_post, *loads)],
    )  # fmt: skip
    print(f"- {common.load()}; the load generator shares the 2 cores with the server")


# -- the profile -----------------------------------------------------------------------------


def layers() -> list[tuple[str, Any]]:
    """The layers of a request, outermost first: (label, the function that runs it)."""
    return [
        ("access log and request id (RequestLog)", RequestLog.__call__),
        ("Litestar's exception layer", ExceptionHandlerMiddleware.__call__),
        ("metrics (Prometheus)", PrometheusMiddleware.__call__),
        ("admission", Admission.__call__),
        ("same-site check", SameSiteOnly.__call__),
        ("CSRF (forms)", FormCsrf.__call__),
        ("session (load, store)", SessionMiddleware.__call__),
        ("session check", SessionCheck.__call__),
        ("routing, parameters, handler, reply", HTTPRoute.handle),
    ]


def profile_rows(
    root: Path, database_url: str, args: argparse.Namespace, takers: list[Taker]
) -> None:
    """Each app request under cProfile (one profiled server, each kind's run alone):
    cumulative time per request in each layer, outermost first."""
    os.environ[PROFILE_ENV] = str(root)  # the server's environment is ours
    with serve(root, database_url, "profiled", "benchmarks.hot_path:profiled", args) as server:
        mix = study_requests(server.url, args.learners, args.tick_ms)
        kinds: dict[str, tuple[list[Request], int | None]] = {
            "challenge ack": ([("POST", *r) for r in mix[1::2]], None),  # before the tick
            "study heartbeat": ([("POST", *r) for r in mix[0::2]], None),
            "app: GET /health": ([("GET", "/health", "", "")], None),
        }
        for name, requests in exam_requests(takers).items():
            kinds[name] = (requests, args.exam_connections)
        for n, (kind, (requests, connections)) in enumerate(kinds.items()):
            stats_path = root / f"profile-{n}.prof"
            method = requests[0][0]
            load = server.load(kind, method, requests, warm=False, connections=connections,
                               profile=stats_path)  # fmt: skip
            print_profile(kind, stats_path, load.requests)


def _unwrapped(function: Any) -> Any:
    """The middleware's own ``__call__``: Litestar wraps it in ``wrapped_call`` (the
    bypass check), which holds the original in its closure."""
    if function.__name__ == "wrapped_call":
        for cell in function.__closure__ or ():
            if getattr(cell.cell_contents, "__name__", "") == "__call__":
                return cell.cell_contents
    return function


def print_profile(kind: str, path: Path, requests: int) -> None:
    """Cumulative time per request inside each layer; a layer that was passed by (its
    path excluded) shows its pass-through cost only, and one not run says so."""
    stats = pstats.Stats(str(path))
    entries: dict[tuple[str, int, str], Any] = stats.stats  # type: ignore[attr-defined]
    found: list[tuple[str, float | None]] = []
    for label, function in layers():
        code = _unwrapped(function).__code__
        entry = entries.get((code.co_filename, code.co_firstlineno, code.co_name))
        found.append((label, None if entry is None else entry[3] / max(requests, 1) * 1e6))
    run = [cumulative for _, cumulative in found if cumulative is not None]
    rows = []
    for label, cumulative in found:
        if cumulative is None:
            rows.append((label, "not run (passed by)", ""))
            continue
        inner = next((c for c in run if c < cumulative), 0.0)  # the next layer that ran
        rows.append((label, f"{cumulative:,.0f}", f"{cumulative - inner:,.0f}"))
    common.table(
        f"Profile (cProfile, inflated; read the shares): {kind}, {requests:,} requests",
        ("layer, outermost first", "µs / request inside it", "µs in this layer itself"),
        rows,
    )


# -- main ------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = common.parser("benchmarks.hot_path", __doc__)
    parser.add_argument("--seconds", type=int, default=10, help="each load run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--exam-connections", type=int, default=4,
        help="for the exam rows: each holds one of the 4 threads (admission refuses what waits long)",
    )  # fmt: skip
    parser.add_argument("--learners", type=int, default=200, help="in study and in exams")
    parser.add_argument("--tick-ms", type=int, default=TICK_MS, help="the study ticker's tick")
    parser.add_argument("--mode", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--profile", action="store_true", help="profile each app request")
    args = common.parse(parser, argv, QUICK)
    print(f"# benchmarks.hot_path — {common.load()}; python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        bare_get, bare_post = bare_rows(root, args)
        database = seed_database(root, args.learners)
        seed_exams(database, args.learners)
        loads, takers = app_rows(root, database, args, "api.app:create_app")
        if args.mode in ("postgres", "both"):
            loads += postgres_rows(root, args)
        report(args, bare_get, bare_post, loads)
        if args.profile:
            profile_rows(root, database, args, takers)
    print(f"\n{common.load()} at the end")
    failed = [load for load in (bare_get, bare_post, *loads) if load.failed]
    if failed:
        raise SystemExit(
            "requests answered ≥ 400 (these figures measure an error path): "
            + ", ".join(f"{load.name}: {load.failed:,}" for load in failed)
        )


if __name__ == "__main__":
    main()
