"""Drill: PostgreSQL restarted in the middle of an exam.

    python -m loadtests.drills.postgres_restart                # 200 learners, 20 s down
    python -m loadtests.drills.postgres_restart --short        # seconds: CI and tests/load

Never the machine's shared PostgreSQL: the drill starts a private one (``initdb`` and
``pg_ctl`` of ``--pg-bin``, PostgreSQL 15 by default) in a temporary directory on a free
port, as the ``postgres`` user when run as root, and restarts that one. ``examengine
serve`` runs on it; ``--learners`` learners sign in, start the load-test exam and save
answers. After ``--before`` seconds the server is stopped (``--stop-mode``: ``immediate``
is a crash, recovered from the WAL on start; ``fast`` a clean shutdown), left down for
``--down`` seconds and started again, with no touch to the app.

Passes when: every request during the outage was answered, fast (no answer slower than
``--fail-fast`` seconds), with 503 and Retry-After (no 500, no dropped connection); the
outage was seen (503s); saves were acknowledged again after the restart, the app not
restarted (it returns by itself); and, after every learner submitted, the ledger check
(``loadtests.ledger``) finds every acknowledged save stored with its value and every
submit graded once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from loadtests.drills.peak import Peak, prepare, serve, server_env, stop
from loadtests.run import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


@dataclass
class PrivatePostgres:
    """A PostgreSQL server of the drill's own: its data directory, port and commands."""

    bin: Path
    data: Path
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/examengine"

    def pg_ctl(self, *args: str) -> None:
        command = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), *args]
        subprocess.run(as_postgres(command), check=True, stdout=subprocess.DEVNULL)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        self.pg_ctl("-w", "-t", "60", "-o", options, "start")

    def stop(self, mode: str) -> None:
        self.pg_ctl("-w", "-m", mode, "stop")


def as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its commands as the postgres user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@contextmanager
def private_postgres(folder: Path, bin_dir: Path) -> Iterator[PrivatePostgres]:
    home = folder / "postgres"
    home.mkdir()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(home, "postgres", "postgres")
    server = PrivatePostgres(bin=bin_dir, data=home / "data", port=free_port(),
                             log=home / "postgres.log")  # fmt: skip
    subprocess.run(
        as_postgres([str(bin_dir / "initdb"), "-D", str(server.data), "-A", "trust", "-U",
                     "postgres", "-E", "UTF8", "--locale", "C"]),
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    server.start()
    try:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{server.port}/postgres",
                             autocommit=True) as admin:  # fmt: skip
            admin.execute("CREATE DATABASE examengine")
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already down
            server.stop("immediate")


async def peak_with_restart(url: str, postgres: PrivatePostgres, args: argparse.Namespace
                            ) -> tuple[Peak, Peak]:  # fmt: skip
    """The peak; a second Peak's tally collects only what the outage answered."""
    peak = Peak(url, args.learners, pause_s=args.pause)
    done = asyncio.Event()
    phase = ["before the restart"]
    learners = [asyncio.create_task(peak.learner_run(lr, done, phase)) for lr in peak.learners]
    await asyncio.sleep(args.before)
    before = peak.tally.statuses.copy()
    phase[0] = "during the outage"
    print(f"  {time.strftime('%H:%M:%S')} PostgreSQL stop ({args.stop_mode})", flush=True)
    await asyncio.to_thread(postgres.stop, args.stop_mode)
    await asyncio.sleep(args.down)
    await asyncio.to_thread(postgres.start)
    print(f"  {time.strftime('%H:%M:%S')} PostgreSQL started again", flush=True)
    phase[0] = "after the restart"
    outage = Peak(url, 0)
    outage.tally.statuses = peak.tally.statuses - before
    await asyncio.sleep(args.after)
    done.set()
    await asyncio.wait_for(asyncio.gather(*learners), timeout=120)
    return peak, outage


def drill(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="postgres-restart-") as tmp:
        folder = Path(tmp)
        with private_postgres(folder, Path(args.pg_bin)) as postgres:
            db = postgres.url
            env = server_env(folder, db, workers=1, redis_url=None)
            prepare(env, folder, learners=args.learners, exam_minutes=120)
            with (folder / "server.log").open("wb") as log:
                server, url = serve(env, log)
                try:
                    print(f"serving {url} on a private PostgreSQL (port {postgres.port}); "
                          f"{args.learners} learners", flush=True)  # fmt: skip
                    peak, outage = asyncio.run(peak_with_restart(url, postgres, args))
                    server_alive = server.poll() is None
                finally:
                    stop(server)
            report = peak.ledger(db)
    tally = peak.tally
    print(peak.summary())
    print(
        "during the outage: "
        + ", ".join(f"{k} {v}" for k, v in sorted(outage.tally.statuses.items()))
    )
    phases = ", ".join(f"{k} {v}" for k, v in tally.acknowledged_after.items())
    print(f"acknowledged saves by phase: {phases}")
    print(report.summary())
    for problem in report.problems[:20]:
        print(f"  {problem}")
    problems = []
    if not tally.statuses.get("503"):
        problems.append("no request met the outage (no 503): no drill")
    wrong = {k: v for k, v in tally.statuses.items() if k not in ("200", "201", "503")}
    if wrong:
        problems.append(f"answers other than 200/201/503: {wrong}")
    if tally.no_retry_after:
        problems.append(f"{tally.no_retry_after} 503(s) without Retry-After")
    if tally.slowest_failure_s > args.fail_fast:
        problems.append(f"a failure took {tally.slowest_failure_s:.1f} s (> {args.fail_fast} s)")
    if not tally.acknowledged_after.get("after the restart"):
        problems.append("no save acknowledged after the restart: the service did not return")
    if not server_alive:
        problems.append("the server process died")
    for problem in problems:
        print(f"  {problem}")
    ok = report.ok and not problems
    print("drill: ok" if ok else "drill: FAILED")
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--before", type=float, default=30.0, help="seconds of saving first")
    parser.add_argument("--down", type=float, default=20.0, help="seconds PostgreSQL is down")
    parser.add_argument("--after", type=float, default=30.0, help="seconds of saving after")
    parser.add_argument("--stop-mode", choices=("immediate", "fast"), default="immediate")
    parser.add_argument("--pause", type=float, default=1.0, help="mean seconds between saves")
    parser.add_argument("--fail-fast", type=float, default=6.0,
                        help="the slowest a refusal may be (seconds)")  # fmt: skip
    parser.add_argument("--pg-bin", default=str(PG_BIN), help="PostgreSQL's bin directory")
    parser.add_argument(
        "--short", action="store_true", help="6 learners, 2 s before, down and after (CI)"
    )
    args = parser.parse_args(argv)
    if args.short:
        args.learners, args.before, args.down, args.after, args.pause = 6, 2.0, 2.0, 2.0, 0.05
    return drill(args)


if __name__ == "__main__":
    sys.exit(main())
