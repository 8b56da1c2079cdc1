"""One command for a load run: a fresh database, the server, locust, the ledger, a report.

    python -m loadtests.run --users 1000 --mode sqlite
    python -m loadtests.run --users 2000 --mode postgres --workers 2 --scenarios all
    examengine loadtest run …   ·   make loadtest USERS=2000 MODE=postgres WORKERS=2

It makes a database of its own (a SQLite file, or a new PostgreSQL database dropped at
the end), migrates it and prepares the run with ``examengine loadtest prepare``: the demo
bank, the load-test exam (``loadtests/exam.yaml``, ``--exam-minutes`` long), the
load-test study plan, and the accounts (exam takers, studiers, proctors, authors: one
password hashed once, inserted in bulk). It serves the app with ``examengine serve``
(``EXAMENGINE_LOAD_TEST=1``: no per-address login limit, no forced password change;
embedded: SQLite, one worker; scaled: PostgreSQL, Redis, ``--workers``) and runs the
scenarios (``loadtests/locustfile.py``: ``ExamTaker``, ``Studier``, ``Proctor``,
``Author``) headless for ``--duration`` seconds in ``--processes`` locust processes,
sampling the CPU of the server and of the generator. Locust writes its CSV files and
its HTML report (``report.html``). When it stops the run measures how long the server
takes to serve a fresh learner again, waits for the exam's deadline to pass (and for
the last challenges' answer window), checks the ledger (``loadtests.ledger``) and
prints one summary: requests/s and p50/p95/p99 per endpoint, refusals (503) apart from
other errors, CPU, the ledger, the recovery time. Exit status 1 when the ledger finds a
loss or the server never recovered.

Everything runs on 127.0.0.1; a run is bounded by ``--duration`` plus the exam's length.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
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

from loadtests.ledger import OPEN_PAST_DEADLINE_MS, Report, check, read_ledger

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXAM_KEY = "压测-公需科目"
BANK = "公需科目-演示题库"
PREFIX = "load-"
PASSWORD = "load-test-1"
POSTGRES = os.environ.get(
    "EXAMENGINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS = os.environ.get("EXAMENGINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
#: The scenarios by their short names (``--scenarios``) and locust class names.
SCENARIOS = {"exam": "ExamTaker", "study": "Studier", "proctor": "Proctor", "author": "Author"}
#: ``--profile``: seconds between answer changes, and the exam page's heartbeat.
PROFILES = {"stress": ((5.0, 10.0), 15.0), "realistic": ((30.0, 90.0), 30.0)}
#: Spare learners after the exam takers' numbers: the recovery check signs them in.
SPARE = 5


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
    scenarios: tuple[str, ...] = ("exam",)
    studiers: int = 0
    proctors: int = 0
    authors: int = 0
    processes: int = 1
    spawn_rate: float | None = None
    sync: float = 5.0
    heartbeat: float = 15.0
    never_submit: float = 0.2
    offline_share: float = 0.1
    reload_share: float = 0.1
    resume_share: float = 0.05
    miss_share: float = 0.2
    offline_for: str = "10-30"
    #: The load-test plan's anti-idle policy (``examengine loadtest prepare``).
    challenge_every: str = "20-40"
    challenge_window: int = 15
    #: Wait for the last deadline before the ledger's close check (else it covers only
    #: the attempts already past theirs).
    deadline_wait: bool = True
    #: Store the exam takers' papers before the run (``prepare --preassemble``).
    preassemble: bool = False

    @property
    def counts(self) -> dict[str, int]:
        """Locust users per scenario chosen."""
        counts = {"exam": self.users, "study": self.studiers, "proctor": self.proctors,
                  "author": self.authors}  # fmt: skip
        return {name: counts[name] for name in self.scenarios if counts[name] > 0}


def parse(argv: Sequence[str] | None) -> Args:
    parser = argparse.ArgumentParser(
        description="A load run of an exam peak (loadtests/README.md)."
    )
    parser.add_argument("--users", type=int, required=True, help="exam takers (locust users)")
    parser.add_argument("--mode", choices=("sqlite", "postgres"), default="sqlite",
                        help="sqlite: embedded; postgres: with Redis, --workers")  # fmt: skip
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--duration", type=int, default=180, help="seconds of load")
    parser.add_argument("--scenarios", default="exam",
                        help="comma-separated: exam, study, proctor, author, or all")  # fmt: skip
    parser.add_argument("--studiers", type=int, default=None,
                        help="Studier users (default: a quarter of --users)")  # fmt: skip
    parser.add_argument("--proctors", type=int, default=None,
                        help="Proctor users (default: one per 300 exam takers)")  # fmt: skip
    parser.add_argument("--authors", type=int, default=1, help="Author users")
    parser.add_argument("--processes", type=int, default=2,
                        help="locust processes generating the load")  # fmt: skip
    parser.add_argument("--spawn-rate", type=float, default=None,
                        help="users started per second (default: all at once)")  # fmt: skip
    parser.add_argument(
        "--sync",
        type=float,
        default=5,
        help="seconds from the launch to the exam's opening (arrivals sign in)",
    )
    parser.add_argument("--start-window", type=float, default=60, help="seconds to start in")
    parser.add_argument("--exam-minutes", type=float, default=4, help="the exam's length")
    parser.add_argument("--profile", choices=tuple(PROFILES), default="stress",
                        help="stress: a change every 5-10 s, heartbeat 15 s; realistic: "
                        "30-90 s and the page's 30 s")  # fmt: skip
    parser.add_argument("--save-every", default=None, help="seconds between changes, MIN-MAX")
    parser.add_argument("--never-submit", type=float, default=0.2,
                        help="share of exam takers who never submit")  # fmt: skip
    parser.add_argument("--offline-share", type=float, default=0.1,
                        help="share who lose the network once")  # fmt: skip
    parser.add_argument("--reload-share", type=float, default=0.1,
                        help="share who reload the page once")  # fmt: skip
    parser.add_argument("--resume-share", type=float, default=0.05,
                        help="share who move to another device once")  # fmt: skip
    parser.add_argument("--offline-for", default="10-30",
                        help="seconds without network, MIN-MAX")  # fmt: skip
    parser.add_argument("--miss-share", type=float, default=0.2,
                        help="share of challenges a studier lets run out")  # fmt: skip
    parser.add_argument("--challenge-every", default="20-40",
                        help="seconds between a studier's challenges, MIN-MAX")  # fmt: skip
    parser.add_argument("--challenge-window", type=int, default=15,
                        help="seconds to answer a challenge")  # fmt: skip
    parser.add_argument("--no-deadline-wait", dest="deadline_wait", action="store_false",
                        help="check the ledger at once, not after the deadlines")  # fmt: skip
    parser.add_argument("--preassemble", action="store_true",
                        help="store the exam takers' papers before the run")  # fmt: skip
    parser.add_argument("--threads", type=int, default=None, help="EXAMENGINE_THREADS")
    parser.add_argument("--out", type=Path, default=None, help="keep the run's files here")
    ns = parser.parse_args(argv)
    (save_min, save_max), heartbeat = PROFILES[ns.profile]
    if ns.save_every:
        low, _, high = ns.save_every.partition("-")
        save_min, save_max = float(low), float(high or low)
    names = tuple(SCENARIOS) if ns.scenarios == "all" else tuple(
        n.strip() for n in ns.scenarios.split(",") if n.strip()
    )  # fmt: skip
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown or not names:
        parser.error(f"--scenarios: unknown {', '.join(unknown) or '(none)'}; "
                     f"choose from {', '.join(SCENARIOS)} or all")  # fmt: skip
    studiers = ns.studiers if ns.studiers is not None else max(1, ns.users // 4)
    proctors = ns.proctors if ns.proctors is not None else max(1, math.ceil(ns.users / 300))
    return Args(
        users=ns.users, mode=ns.mode, workers=ns.workers, duration=ns.duration,
        start_window=ns.start_window, exam_minutes=ns.exam_minutes, save_min=save_min,
        save_max=save_max, threads=ns.threads, out=ns.out, scenarios=names,
        studiers=studiers if "study" in names else 0,
        proctors=proctors if "proctor" in names else 0,
        authors=ns.authors if "author" in names else 0, processes=max(1, ns.processes),
        spawn_rate=ns.spawn_rate, sync=ns.sync, heartbeat=heartbeat,
        never_submit=ns.never_submit, offline_share=ns.offline_share,
        reload_share=ns.reload_share, resume_share=ns.resume_share, miss_share=ns.miss_share,
        challenge_every=ns.challenge_every, challenge_window=ns.challenge_window,
        deadline_wait=ns.deadline_wait, offline_for=ns.offline_for, preassemble=ns.preassemble,
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
    """Migrate, then ``examengine loadtest prepare``: the exam (``--exam-minutes``), the
    plan, and the accounts, with spare learners for the recovery check."""
    examengine(env, "db", "upgrade")
    examengine(
        env, "loadtest", "prepare", "--learners", str(args.users + args.processes + SPARE),
        "--studiers", str(args.studiers), "--proctors", str(args.proctors), "--authors",
        str(args.authors), "--prefix", PREFIX, "--password", PASSWORD, "--exam-spec",
        str(HERE / "exam.yaml"), "--exam-minutes", f"{max(1.0, args.exam_minutes):g}",
        "--challenge-every", args.challenge_every, "--challenge-window",
        str(args.challenge_window), *(["--preassemble"] if args.preassemble else []),
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
    """The endpoint table, and the errors by kind with the refusals (503) apart."""
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
    refused: list[str] = []
    errors: list[str] = []
    with failures_csv.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            line = f"| {row['Name']} | {row['Error'][:80]} | {row['Occurrences']} |"
            (refused if "503 refused" in row["Error"] else errors).append(line)
    head = ["| endpoint | error | count |", "| --- | --- | ---: |"]
    tables = (
        ["Refusals (503, sent again after Retry-After):", "", *head, *refused] if refused else []
    )
    tables += ["", "Other errors:", "", *head, *errors] if errors else ["", "Other errors: none"]
    return rows, tables


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
        if args.workers > 1 or args.mode == "postgres":
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


def locust_command(args: Args, base: str, folder: Path) -> list[str]:
    """Locust, headless, the chosen scenarios, ``--processes`` processes."""
    total = sum(args.counts.values())
    command = [
        sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless",
        "-u", str(total), "-r", f"{args.spawn_rate or max(1, total):g}",
        "-t", f"{args.duration}s", "--host", base, "--csv", str(folder / "locust"),
        "--html", str(folder / "report.html"), "--only-summary", "--stop-timeout", "5",
        "--exit-code-on-error", "0",
    ]  # fmt: skip
    if args.processes > 1:
        command += ["--processes", str(args.processes)]
    return [*command, *(SCENARIOS[name] for name in args.counts)]


def load_environment(
    args: Args, env: dict[str, str], folder: Path, open_at: float
) -> dict[str, str]:
    """The scenarios' settings (``LOADTEST_*``, read by loadtests/page.py and the
    scenario modules)."""
    counts = args.counts
    numbers = folder / "numbers"
    numbers.mkdir(exist_ok=True)
    return {
        **env,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
        "LOADTEST_PREFIX": PREFIX,
        "LOADTEST_PASSWORD": PASSWORD,
        "LOADTEST_EXAM": EXAM_KEY,
        "LOADTEST_BANK": BANK,
        "LOADTEST_OPEN_AT": f"{open_at:.3f}",
        "LOADTEST_START_WINDOW_S": str(args.start_window),
        "LOADTEST_SAVE_MIN_S": str(args.save_min),
        "LOADTEST_SAVE_MAX_S": str(args.save_max),
        "LOADTEST_HEARTBEAT_S": str(args.heartbeat),
        "LOADTEST_NEVER_SUBMIT_SHARE": str(args.never_submit),
        "LOADTEST_OFFLINE_SHARE": str(args.offline_share),
        "LOADTEST_OFFLINE_S": args.offline_for,
        "LOADTEST_RUN_ENDS_AT": f"{time.time() + args.duration:.3f}",
        "LOADTEST_RELOAD_SHARE": str(args.reload_share),
        "LOADTEST_RESUME_SHARE": str(args.resume_share),
        "LOADTEST_MISS_SHARE": str(args.miss_share),
        "LOADTEST_PROCESSES": str(args.processes),
        "LOADTEST_NUMBERS": str(numbers),
        "LOADTEST_LEDGER": str(folder / "ledger.jsonl"),
        **{f"LOADTEST_COUNT_{name.upper()}": str(n) for name, n in counts.items()},
    }


def load(
    args: Args, env: dict[str, str], base: str, server: subprocess.Popen[bytes], folder: Path,
    url: str,
) -> int:  # fmt: skip
    server_process = psutil.Process(server.pid)
    server_cpu = cpu_seconds(server_process)
    started = time.monotonic()
    open_at = time.time() + args.sync
    generator = subprocess.Popen(
        locust_command(args, base, folder), env=load_environment(args, env, folder, open_at),
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=(folder / "locust.log").open("wb"),
    )  # fmt: skip
    generator_process = psutil.Process(generator.pid)
    generator_cpu = 0.0
    while generator.poll() is None:
        generator_cpu = max(generator_cpu, cpu_seconds(generator_process))
        time.sleep(1)
    load_s = time.monotonic() - started
    server_cpu = cpu_seconds(server_process) - server_cpu
    load1, load5, _ = os.getloadavg()  # as the load ends
    if not (folder / "locust_stats.csv").exists():
        print((folder / "locust.log").read_text(errors="replace")[-3000:])
        return 2

    recovered_s: float | None = None
    ledger_file = folder / "ledger.jsonl"
    if "exam" in args.counts:
        recovered_s = recovery(args, base)
        # The deadlines and the sweeper: every attempt must be closed in time. The last
        # deadline acknowledged (the recovery check's attempt starts after it).
        entries = read_ledger([ledger_file]) if ledger_file.exists() else []
        deadlines = [e["deadline_ms"] / 1000 for e in entries if "deadline_ms" in e]
        last = max([*deadlines, time.time() + max(60.0, args.exam_minutes * 60)])
        if args.deadline_wait:
            time.sleep(max(0.0, last + OPEN_PAST_DEADLINE_MS / 1000 + 1 - time.time()))
    if "study" in args.counts:  # the challenges issued as the load ended run out
        ended = time.monotonic() - started - load_s
        time.sleep(max(0.0, args.challenge_window + 3 - ended))
    ledger_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    entries = read_ledger([ledger_file]) if ledger_file.exists() else []
    report = check(ledger_url, entries, now_ms=int(time.time() * 1000))
    summary(args, report, folder, cpu=(server_cpu, generator_cpu, load_s),
            load=(load1, load5), recovered_s=recovered_s)  # fmt: skip
    recovered = recovered_s is not None or "exam" not in args.counts
    return 0 if report.ok and recovered else 1


def recovery(args: Args, base: str) -> float | None:
    """Seconds after the load until a fresh learner signs in and starts (None: not
    within 30 s)."""
    ended = time.monotonic()
    first = args.users + args.processes + 1
    for login in (f"{PREFIX}{n:05d}" for n in range(first, first + SPARE)):
        if time.monotonic() - ended >= 30:
            break
        if sits_again(base, login):
            return time.monotonic() - ended
        time.sleep(1)
    return None


def summary(
    args: Args, report: Report, folder: Path, *, cpu: tuple[float, float, float],
    load: tuple[float, float], recovered_s: float | None,
) -> None:  # fmt: skip
    server_cpu, generator_cpu, load_s = cpu
    rows, errors = report_rows(folder / "locust_stats.csv", folder / "locust_failures.csv")
    users = ", ".join(f"{n} {SCENARIOS[name]}" for name, n in args.counts.items())
    print(f"### {users}; {args.mode}, {args.workers} worker(s), {args.processes} locust "
          "process(es)\n")  # fmt: skip
    print(
        f"- {args.duration} s of load, starts spread over {args.start_window:g} s after a "
        f"{args.sync:g} s arrival, a change every {args.save_min:g}-{args.save_max:g} s, a "
        f"heartbeat every {args.heartbeat:g} s; exam {args.exam_minutes:g} min; load average "
        f"at its end {load[0]:.2f} / {load[1]:.2f} (1 / 5 min), {os.cpu_count()} cores"
    )
    print(f"- CPU: server {server_cpu:.0f} s, generator {generator_cpu:.0f} s over {load_s:.0f} s")
    if "exam" in args.counts:
        print(
            "- recovered (a fresh learner signs in and starts) "
            + (
                f"{recovered_s:.1f} s after the load"
                if recovered_s is not None
                else "NOT within 30 s"
            )
        )
    print(f"- {report.summary()}")
    for problem in report.problems[:20]:
        print(f"  - {problem}")
    print()
    print("\n".join(rows))
    print()
    print("\n".join(errors))
    print(f"\nlocust's report: {folder / 'report.html'}, CSV: {folder / 'locust_stats.csv'}")


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
