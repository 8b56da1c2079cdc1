"""One command for a load run: a fresh database, the server, locust, the ledger, a report.

    python -m loadtests.run --users 1000 --mode sqlite
    python -m loadtests.run --users 2000 --mode postgres --workers 2

It makes a database of its own (a SQLite file, or a new PostgreSQL database dropped at
the end), migrates it, loads the demo bank, publishes the load-test exam
(``loadtests/exam.yaml``, ``--exam-minutes`` long) and creates ``--users`` learners
enrolled in it (``examengine demo learners``). It serves the app with
``examengine serve`` (``EXAMENGINE_LOAD_TEST=1``: no per-address login limit, no forced
password change; Redis when ``--workers`` > 1) and runs the synchronized exam start
(``loadtests/exam_start.py``) headless for ``--duration`` seconds, sampling the CPU of the
server and of the generator. When locust stops it measures how long the server takes to
serve a fresh learner again, waits for the exam's deadline to pass, checks the ledger
(``loadtests.ledger``) and prints a markdown report: requests/s and p50/p95/p99 per
endpoint, refusals (503) apart from other errors, CPU, the ledger, the recovery time.
Exit status 1 when the ledger finds a problem or the server never recovered.

Everything runs on 127.0.0.1; a run is bounded by ``--duration`` plus the exam's length.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg
from psycopg import sql

from loadtests.ledger import check, read_ledger

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXAM_KEY = "压测-公需科目"
PREFIX = "load-"
PASSWORD = "load-test-1"
POSTGRES = os.environ.get(
    "EXAMENGINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS = os.environ.get("EXAMENGINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass(frozen=True)
class Args:
    users: int
    mode: str
    workers: int
    duration: int
    start_window: float
    exam_minutes: float
    save_min: float
    save_max: float
    threads: int | None
    out: Path | None


def parse(argv: Sequence[str] | None) -> Args:
    parser = argparse.ArgumentParser(description="A load run of the synchronized exam start.")
    parser.add_argument("--users", type=int, required=True, help="learners (locust users)")
    parser.add_argument("--mode", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--duration", type=int, default=180, help="seconds of load")
    parser.add_argument("--start-window", type=float, default=60, help="seconds to start in")
    parser.add_argument("--exam-minutes", type=float, default=4, help="the exam's length")
    parser.add_argument("--save-every", default="5-10", help="seconds between saves, MIN-MAX")
    parser.add_argument("--threads", type=int, default=None, help="EXAMENGINE_THREADS")
    parser.add_argument("--out", type=Path, default=None, help="keep the run's files here")
    ns = parser.parse_args(argv)
    low, _, high = ns.save_every.partition("-")
    return Args(
        users=ns.users, mode=ns.mode, workers=ns.workers, duration=ns.duration,
        start_window=ns.start_window, exam_minutes=ns.exam_minutes, save_min=float(low),
        save_max=float(high or low), threads=ns.threads, out=ns.out,
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def database(mode: str, folder: Path) -> Iterator[str]:
    """A fresh database: a SQLite file in ``folder``, or a PostgreSQL database of its own."""
    if mode == "sqlite":
        yield f"sqlite:///{folder / 'load.db'}"
        return
    name = f"examengine_load_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def examengine(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "api.cli.main", *args], env=env, cwd=ROOT, check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def prepare(env: dict[str, str], args: Args, folder: Path) -> None:
    examengine(env, "db", "upgrade")
    examengine(env, "demo", "load")
    spec = (HERE / "exam.yaml").read_text(encoding="utf-8")
    spec = spec.replace("duration_s: 240", f"duration_s: {max(60, int(args.exam_minutes * 60))}")
    (folder / "exam.yaml").write_text(spec, encoding="utf-8")
    examengine(env, "exam", "publish", str(folder / "exam.yaml"))
    examengine(
        env, "demo", "learners", str(args.users + 5), "--prefix", PREFIX, "--password",
        PASSWORD, "--exam", EXAM_KEY,
    )  # fmt: skip


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ready", timeout=2) as reply:
            return bool(reply.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def sits_again(url: str, login: str) -> bool:
    """A learner after the load signs in and starts: the server serves again."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())

    def post(path: str, body: object) -> int:
        request = urllib.request.Request(
            url + path, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with opener.open(request, timeout=5) as reply:
                return int(reply.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except OSError:
            return 0

    return (
        post("/auth/login", {"login": login, "password": PASSWORD}) == 200
        and post(f"/api/exams/{urllib.parse.quote(EXAM_KEY)}/attempts", {}) == 201
    )


def cpu_seconds(process: psutil.Process) -> float:
    """CPU seconds of ``process`` and its children."""
    total = 0.0
    for p in [process, *process.children(recursive=True)]:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def report_rows(stats_csv: Path, failures_csv: Path) -> tuple[list[str], list[str]]:
    rows = [
        "| endpoint | requests | req/s | p50 ms | p95 ms | p99 ms | max ms | failed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    with stats_csv.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows.append(
                f"| {row['Name']} | {row['Request Count']} | {float(row['Requests/s']):.1f} "
                f"| {row['50%']} | {row['95%']} | {row['99%']} "
                f"| {float(row['Max Response Time']):.0f} | {row['Failure Count']} |"
            )
    errors = ["| endpoint | error | count |", "| --- | --- | ---: |"]
    with failures_csv.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            errors.append(f"| {row['Name']} | {row['Error'][:80]} | {row['Occurrences']} |")
    return rows, errors


def run(args: Args, folder: Path) -> int:
    with database(args.mode, folder) as url:
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("EXAMENGINE_")},
            "EXAMENGINE_DATABASE_URL": url,
            "EXAMENGINE_VAR_DIR": str(folder / "var"),
            "EXAMENGINE_LOAD_TEST": "1",
            "EXAMENGINE_LOG_LEVEL": "WARNING",
            "EXAMENGINE_PORT": str(port),
            "EXAMENGINE_WORKERS": str(args.workers),
        }
        if args.workers > 1:
            env["EXAMENGINE_REDIS_URL"] = REDIS
            env["EXAMENGINE_REDIS_PREFIX"] = f"load{secrets.token_hex(3)}"
        if args.threads:
            env["EXAMENGINE_THREADS"] = str(args.threads)
        prepare(env, args, folder)
        base = f"http://127.0.0.1:{port}"
        log = (folder / "server.log").open("wb")
        server = subprocess.Popen(
            [sys.executable, "-m", "api.cli.main", "serve"], env=env, cwd=ROOT,
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while not ready(base):
                if server.poll() is not None or time.monotonic() > deadline:
                    print((folder / "server.log").read_text(errors="replace")[-3000:])
                    return 2
                time.sleep(0.2)
            return load(args, env, base, server, folder, url)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=40)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.close()


def load(
    args: Args, env: dict[str, str], base: str, server: subprocess.Popen[bytes], folder: Path,
    url: str,
) -> int:  # fmt: skip
    load_env = {
        **env,
        "LOADTEST_PREFIX": PREFIX,
        "LOADTEST_PASSWORD": PASSWORD,
        "LOADTEST_EXAM": EXAM_KEY,
        "LOADTEST_START_WINDOW_S": str(args.start_window),
        "LOADTEST_SAVE_MIN_S": str(args.save_min),
        "LOADTEST_SAVE_MAX_S": str(args.save_max),
        "LOADTEST_LEDGER": str(folder / "ledger.jsonl"),
    }
    server_process = psutil.Process(server.pid)
    server_cpu = cpu_seconds(server_process)
    started = time.monotonic()
    generator = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(HERE / "exam_start.py"), "--headless",
         "-u", str(args.users), "-r", str(max(1, args.users)), "-t", f"{args.duration}s",
         "--host", base, "--csv", str(folder / "locust"), "--only-summary",
         "--stop-timeout", "5", "--exit-code-on-error", "0"],
        env=load_env, cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=(folder / "locust.log").open("wb"),
    )  # fmt: skip
    generator_process = psutil.Process(generator.pid)
    generator_cpu = 0.0
    while generator.poll() is None:
        generator_cpu = max(generator_cpu, cpu_seconds(generator_process))
        time.sleep(1)
    load_s = time.monotonic() - started
    server_cpu = cpu_seconds(server_process) - server_cpu
    load1, load5, _ = os.getloadavg()  # as the load ends

    ended = time.monotonic()
    recovered_s: float | None = None
    spare = iter(f"{PREFIX}{n:05d}" for n in range(args.users + 1, args.users + 6))
    while time.monotonic() - ended < 30:
        login = next(spare, None)
        if login is None:
            break
        if sits_again(base, login):
            recovered_s = time.monotonic() - ended
            break
        time.sleep(1)

    # The exam's deadline and the sweeper: the ledger checks every attempt was closed.
    wait_s = max(0.0, args.exam_minutes * 60 + args.start_window - (time.monotonic() - started))
    time.sleep(min(wait_s + 3, args.exam_minutes * 60 + 10))
    ledger_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    report = check(
        ledger_url, read_ledger([folder / "ledger.jsonl"]), now_ms=int(time.time() * 1000)
    )

    rows, errors = report_rows(folder / "locust_stats.csv", folder / "locust_failures.csv")
    print(f"### {args.users} learners, {args.mode}, {args.workers} worker(s)\n")
    print(
        f"- {args.duration} s of load, starts spread over {args.start_window:g} s, a save every "
        f"{args.save_min:g}-{args.save_max:g} s, a heartbeat every 15 s; exam "
        f"{args.exam_minutes:g} min; load average at its end {load1:.2f} / {load5:.2f} "
        "(1 / 5 min), 2 cores"
    )
    print(f"- CPU: server {server_cpu:.0f} s, generator {generator_cpu:.0f} s over {load_s:.0f} s")
    print(
        "- recovered (a fresh learner signs in and starts) "
        + (f"{recovered_s:.1f} s after the load" if recovered_s is not None else "NOT within 30 s")
    )
    print(f"- {report.summary()}")
    for problem in report.problems[:20]:
        print(f"  - {problem}")
    print()
    print("\n".join(rows))
    print()
    print("\n".join(errors))
    return 0 if report.ok and recovered_s is not None else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        return run(args, args.out)
    folder = Path(tempfile.mkdtemp(prefix="examengine-load-"))
    try:
        return run(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
