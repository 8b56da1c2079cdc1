"""Server CPU per request, endpoint by endpoint, beside bare Litestar's: what an exam
start wave costs the server, request by request.

    .venv/bin/python -m benchmarks.endpoint_cpu [--learners 200] [--saves 5]
                                                [--mode sqlite|postgres|both]
    .venv/bin/python -m benchmarks.endpoint_cpu --quick      # 10 learners, SQLite (CI)

Three servers under uvicorn (one worker, one process each, in turn, on a free port):

- **bare Litestar**: a Litestar app with nothing but a JSON echo route (decode a small
  body, encode it back) — the framework's floor, the strongest honest baseline;
- **the shell**: the same echo route inside the real app, behind its middleware
  (metrics, admission, same-site check, CSRF, sessions, the session check) with a
  learner's session cookie: what every request pays before its own work;
- **the app**: the exam endpoints of a start wave, over a fresh database (SQLite, or a
  scratch PostgreSQL database), with ``learners`` learners enrolled and the study
  requirement met: sign in, my exams, start (half of them with their papers
  pre-assembled, as before a peak; half built in the start), paper, ``saves`` saves
  each, heartbeat, submit; and a proctor's live list.

Each endpoint is sent ``learners`` times (saves: ``learners × saves``; the echoes
``echoes`` times) one after another, over one keep-alive connection a learner, and the
server process's CPU time (user + system, from ``/proc`` through psutil, in 10 ms ticks:
hence batches of hundreds) is read around the whole batch; the server's idle CPU (the
study ticker, measured for a second with no requests) is taken off. CPU per request is
what a core must spend per request, whatever the concurrency: at 2 cores, 1 / (CPU per
request) × 2 is the most such requests a second the box can serve, generator aside.

On PostgreSQL the database's own CPU (every ``postgres`` process on the machine: run it
on a quiet one) is shown apart. A request answered other than expected makes the run
fail, after the tables.
Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from litestar import Litestar, get

from api.cli.demo import ACCOUNTS, DEMO_EXAM, add_load_learners, load_demo
from api.services import attempts
from api.settings import DatabaseSettings
from api.store.db import migrate, standalone_transaction
from benchmarks import common
from benchmarks.attempts import postgres_database
from benchmarks.http_app import app_process, hello
from loadtests.answers import answer_of

QUICK = {"learners": 10, "saves": 2, "echoes": 50, "mode": "sqlite"}
PREFIX, PASSWORD = "cpu-", "cpu-bench-1"
PAPER_SECRET = "endpoint-cpu-benchmark-paper-secret-0123456789"
IDLE_S = 1.0
ECHO = {"slot": 12345, "seq": 67}


@get("/health", sync_to_thread=False)
def health() -> str:
    """For the start-up poll only."""
    return "ok"


def bare() -> Litestar:
    """Bare Litestar: the echo route alone (and /health for the start-up poll), no
    middleware, no stores."""
    return Litestar(route_handlers=[hello, health])


@dataclass
class Batch:
    """One endpoint's batch: requests sent, server CPU seconds spent on them, wall time."""

    name: str
    requests: int
    cpu_s: float
    wall_s: float
    database_cpu_s: float | None  # PostgreSQL's processes; None on SQLite (in-process)

    @property
    def cpu_us(self) -> float:
        return self.cpu_s / max(self.requests, 1) * 1e6


class Meter:
    """Server CPU around batches of requests, its idle share taken off."""

    def __init__(self, process: psutil.Process, *, postgres: bool) -> None:
        self.process = process
        self.postgres = postgres
        started, cpu = time.monotonic(), self._cpu()
        time.sleep(IDLE_S)
        self.idle_per_s = max(0.0, (self._cpu() - cpu) / (time.monotonic() - started))
        self.batches: list[Batch] = []
        self.failures: list[str] = []

    def _cpu(self) -> float:
        return common.process_cpu(self.process)

    def _database_cpu(self) -> float | None:
        return common.postgres_cpu() if self.postgres else None

    def batch(self, name: str, send: Callable[[], Sequence[httpx.Response]], ok: int) -> list[Any]:
        """Run ``send`` (it sends the batch's requests); record the batch; the replies'
        JSON bodies (None where not JSON). A reply whose status is not ``ok`` is noted as
        a failure (the run fails after the tables)."""
        database = self._database_cpu()
        started, cpu = time.monotonic(), self._cpu()
        replies = send()
        wall = time.monotonic() - started
        spent = max(0.0, self._cpu() - cpu - self.idle_per_s * wall)
        after = self._database_cpu()
        database_s = None if database is None or after is None else max(0.0, after - database)
        self.batches.append(Batch(name, len(replies), spent, wall, database_s))
        bodies: list[Any] = []
        for reply in replies:
            if reply.status_code != ok:
                self.failures.append(f"{name}: {reply.status_code} {reply.text[:160]}")
            try:
                bodies.append(reply.json())
            except ValueError:
                bodies.append(None)
        return bodies


@contextmanager
def server(root: Path, database_url: str, name: str, factory: str) -> Iterator[tuple[str, Meter]]:
    extra = {
        "load_test": "1",
        "sweep_interval_ms": "0",
        "log_level": "WARNING",
        "paper_secret": PAPER_SECRET,
    }
    with app_process(root, database_url, name, 15_000, factory=factory, **extra) as (url, proc):
        postgres = database_url.startswith("postgresql")
        yield url, Meter(psutil.Process(proc.pid), postgres=postgres)


def seed(database_url: str, learners: int) -> None:
    """The demo and ``learners`` learners enrolled; the first half's papers pre-assembled
    (as before a peak: `examengine exam preassemble`), the rest built in the start."""
    migrate(database_url)
    with standalone_transaction(DatabaseSettings(url=database_url)) as session:
        now = datetime.now(UTC)
        load_demo(session, now=now)
        add_load_learners(
            session, count=learners, prefix=PREFIX, password=PASSWORD, now=now, exam=DEMO_EXAM
        )
        attempts.preassemble(
            session, exam=DEMO_EXAM, secret=PAPER_SECRET.encode(),
            now=int(now.timestamp() * 1000), logins=logins(learners)[: learners // 2],
        )  # fmt: skip


def logins(learners: int) -> list[str]:
    return [f"{PREFIX}{n:05d}" for n in range(1, learners + 1)]


def echo_batch(meter: Meter, url: str, name: str, count: int, cookies: httpx.Cookies) -> None:
    with httpx.Client(base_url=url, cookies=cookies) as client:
        meter.batch(
            name, lambda: [client.post("/bench/hello", json=ECHO) for _ in range(count)], 200
        )


def wave(meter: Meter, url: str, learners: int, saves: int) -> httpx.Cookies:
    """The start wave's endpoints, batch by batch; a learner's cookies (for the shell)."""
    clients = [httpx.Client(base_url=url) for _ in range(learners)]
    try:
        meter.batch("sign in (argon2)", lambda: [
            c.post("/auth/login", json={"login": login, "password": PASSWORD})
            for c, login in zip(clients, logins(learners), strict=True)
        ], 200)  # fmt: skip
        meter.batch("my exams", lambda: [c.get("/api/me/exams") for c in clients], 200)
        half = learners // 2
        papers = meter.batch("start (paper pre-assembled)", lambda: [
            c.post(f"/api/exams/{DEMO_EXAM}/attempts", json={}) for c in clients[:half]
        ], 201)  # fmt: skip
        papers += meter.batch("start (paper built in the start)", lambda: [
            c.post(f"/api/exams/{DEMO_EXAM}/attempts", json={}) for c in clients[half:]
        ], 201)  # fmt: skip
        ids = [paper["attempt"] if paper else "none" for paper in papers]
        meter.batch("paper", lambda: [
            c.get(f"/api/attempts/{a}/paper") for c, a in zip(clients, ids, strict=True)
        ], 200)  # fmt: skip

        def save_all() -> list[httpx.Response]:
            replies = []
            for n in range(1, saves + 1):
                for client, attempt, paper in zip(clients, ids, papers, strict=True):
                    item = (
                        paper["items"][n % len(paper["items"])]
                        if paper
                        else {"item": "x", "kind": "x"}
                    )
                    batch = [{"item": item["item"], "seq": n, "response": answer_of(item, n)}]
                    replies.append(client.post(f"/api/attempts/{attempt}/answers", json=batch))
            return replies

        meter.batch("save (one answer)", save_all, 200)
        meter.batch("heartbeat", lambda: [
            c.post(f"/api/attempts/{a}/heartbeat") for c, a in zip(clients, ids, strict=True)
        ], 200)  # fmt: skip
        with httpx.Client(base_url=url) as proctor:
            account = next(a for a in ACCOUNTS if "proctor" in a.roles)
            reply = proctor.post(
                "/auth/login", json={"login": account.login, "password": account.password}
            )
            if reply.status_code != 200:
                meter.failures.append(f"proctor sign-in: {reply.status_code} {reply.text[:160]}")
            meter.batch("proctor live list", lambda: [
                proctor.get("/api/operator/attempts") for _ in range(learners)
            ], 200)  # fmt: skip
        meter.batch("submit", lambda: [
            c.post(f"/api/attempts/{a}/submit", json={"sent_ms": int(time.time() * 1000)})
            for c, a in zip(clients, ids, strict=True)
        ], 200)  # fmt: skip
        return clients[0].cookies
    finally:
        for client in clients:
            client.close()


def run(mode: str, database_url: str, args: argparse.Namespace, root: Path) -> list[str]:
    """One mode: the bare server, the app's wave and the shell; its table; failures."""
    seed(database_url, args.learners)
    echoes = args.echoes
    with server(root, database_url, f"bare-{mode}", "benchmarks.endpoint_cpu:bare") as (url, m0):
        echo_batch(m0, url, "bare Litestar: echo", echoes, httpx.Cookies())
        base = m0.batches[-1]
    with server(root, database_url, f"app-{mode}", "benchmarks.http_app:create") as (url, meter):
        cookies = wave(meter, url, args.learners, args.saves)
        echo_batch(meter, url, "the shell: echo with a session", echoes, cookies)

    def database_us(b: Batch) -> str:
        return (
            "in-process"
            if b.database_cpu_s is None
            else f"{b.database_cpu_s / b.requests * 1e6:,.0f}"
        )

    rows = [
        (b.name, f"{b.requests:,}", f"{b.cpu_us:,.0f}",
         f"{b.cpu_us / base.cpu_us:,.1f}×" if base.cpu_s else "—",
         database_us(b) if b is not base else "—",
         f"{2 / (b.cpu_s / b.requests):,.0f}" if b.cpu_s else "—")
        for b in [base, *meter.batches]
    ]  # fmt: skip
    common.table(
        f"Server CPU per request — {mode}, idle {meter.idle_per_s * 1000:.0f} ms/s taken off",
        ("endpoint", "requests", "app CPU µs / request", "× bare Litestar",
         "database CPU µs / request", "app alone: at most / s on 2 cores"),
        rows,
    )  # fmt: skip
    return [*m0.failures, *meter.failures]


def main(argv: Sequence[str] | None = None) -> None:
    parser = common.parser("benchmarks.endpoint_cpu", __doc__)
    parser.add_argument("--learners", type=int, default=200, help="learners in the wave")
    parser.add_argument("--saves", type=int, default=5, help="saves per learner")
    parser.add_argument(
        "--echoes", type=int, default=3000, help="echo requests (CPU time is read in 10 ms ticks)"
    )
    parser.add_argument("--mode", choices=("sqlite", "postgres", "both"), default="both")
    args = common.parse(parser, argv, QUICK)
    print(f"# benchmarks.endpoint_cpu — {common.load()}; python {sys.version.split()[0]}")
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        if args.mode in ("sqlite", "both"):
            failures += run("SQLite", f"sqlite:///{root / 'cpu.db'}", args, root)
        if args.mode in ("postgres", "both"):
            try:
                with postgres_database(common.postgres_url()) as url:
                    failures += run("PostgreSQL", url, args, root)
            except OSError as error:
                common.not_measured("PostgreSQL", error, common.POSTGRES_HELP)
    print(f"\n{common.load()} at the end")
    if failures:
        print("\nrequests that failed (the figures above measure them too):")
        print("\n".join(f"- {line}" for line in failures[:20]))
        raise SystemExit(1)


if __name__ == "__main__":
    main()
