"""Every benchmark in turn, each in a process of its own; the exit status is non-zero if
any of them failed.

    .venv/bin/python -m benchmarks            # full runs (long: see each module)
    .venv/bin/python -m benchmarks --quick    # every code path on tiny sizes (CI)

Each benchmark measures our hot path against a baseline in one run and prints markdown
tables (see its docstring): ``itembank`` (lint + import, item analysis), ``assembly``
(paper assembly), ``calibration`` (a 2PL fitted to 100,000 learners × 500 items, our
EM beside the mirt library), ``attempts`` (attempt service, sweeper; SQLite and PostgreSQL), ``start`` (starts
with and without pre-assembled papers), ``deadline_wave`` (a 10,000-attempt deadline
wave on PostgreSQL: one and two sweepers, the bare UPDATE),
``challenges`` (the anti-idle schedulers, in-process and Redis), ``http_app`` (the
study hot path relayed between two workers, with ``wrk``), ``hot_path`` (each of the
app's most frequent requests beside bare Litestar, with ``wrk``, server CPU and a
profile layer by layer), ``study_socket`` (a heartbeat over the study socket against
HTTP, and 10,000 sockets held by one worker), ``session_check`` (what the session
generation check adds to a request), ``endpoint_cpu`` (server CPU per request of an
exam start wave's endpoints, beside bare Litestar's), ``roster`` (a 10,000-line
roster read and imported, beside openpyxl alone and bare inserts) and ``group_purchase``
(10,000 pasted ID numbers checked into one order, then paid and enrolled, beside bare
lookups and inserts) and ``integrity_log`` (study events chained as a tick stores them,
beside the events stored alone; a million entries verified, beside reading them). ``challenges`` runs here without its ``http``
part, which is ``http_app``'s.

``--quick`` passes ``--quick`` on: the same code paths on tiny sizes, all of them in
about a minute on two cores; the figures mean nothing, the point is that no benchmark can
rot unnoticed. Under ``CI=true`` a benchmark whose service (PostgreSQL, Redis) is
unreachable fails; ``wrk`` is needed in every case (``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import WRK_HELP, exit_on_sigterm

#: (module, arguments it always gets here)
BENCHMARKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("itembank", ()),
    ("assembly", ()),
    ("calibration", ()),
    ("attempts", ()),
    ("start", ()),
    ("deadline_wave", ()),
    ("challenges", ("--parts", "inprocess,heapq,apscheduler,redis")),
    ("http_app", ()),
    ("hot_path", ("--profile",)),
    ("study_socket", ()),
    ("session_check", ()),
    ("endpoint_cpu", ()),
    ("roster", ()),
    ("group_purchase", ()),
    ("integrity_log", ()),
)
ROOT = Path(__file__).resolve().parent.parent


def run(command: list[str]) -> int:
    """``command``'s exit status; if this run is stopped (Ctrl-C, SIGTERM), the benchmark
    is stopped with SIGTERM first, so that it releases its servers and scratch data."""
    process = subprocess.Popen(command, cwd=ROOT)
    try:
        return process.wait()
    except BaseException:
        process.terminate()
        process.wait()
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="each benchmark's --quick: tiny sizes, for CI"
    )
    parser.add_argument(
        "--only",
        default=",".join(name for name, _ in BENCHMARKS),
        help="comma-separated benchmarks to run (default: all)",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    known = [name for name, _ in BENCHMARKS]
    wanted = args.only.split(",")
    if unknown := sorted(set(wanted) - set(known)):
        parser.error(f"unknown benchmarks: {', '.join(unknown)}; known: {', '.join(known)}")
    if {"http_app", "hot_path", "study_socket"} & set(wanted) and shutil.which("wrk") is None:
        parser.exit(1, f"wrk is not on PATH: {WRK_HELP}\n")  # before the long runs
    outcomes: list[tuple[str, int, float]] = []
    began = time.perf_counter()
    for name, extra in BENCHMARKS:
        if name not in wanted:
            continue
        command = [sys.executable, "-m", f"benchmarks.{name}", *extra]
        if args.quick:
            command.append("--quick")
        print(f"\n## benchmarks.{name}\n", flush=True)
        start = time.perf_counter()
        status = run(command)
        outcomes.append((name, status, time.perf_counter() - start))
    total = time.perf_counter() - began
    print("\n## Summary\n")
    print("| benchmark | outcome | seconds |")
    print("| --- | --- | ---: |")
    for name, status, seconds in outcomes:
        outcome = "ok" if status == 0 else f"FAILED (exit status {status})"
        print(f"| {name} | {outcome} | {seconds:.1f} |")
    print(f"| all | | {total:.1f} |")
    failed = [name for name, status, _ in outcomes if status]
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
