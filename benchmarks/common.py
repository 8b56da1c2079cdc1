"""What the benchmarks share: the ``--quick`` flag, what to do when a service or tool a
benchmark needs is missing, and measuring a stage in a fresh process.

``--quick`` runs a benchmark's code paths on tiny sizes in a few seconds, so that CI can
run every benchmark (``python -m benchmarks --quick``) and none can rot unnoticed; its
figures mean nothing. Without it a benchmark runs at the sizes its docstring gives.

A missing service (PostgreSQL, Redis) fails the run under ``CI=true``, as the tests do:
CI must never pass by measuring less. Elsewhere the benchmark prints a
``not measured: why`` line and goes on. A missing tool (``wrk``) always stops the run.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import resource
import shutil
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.queues import Queue
from types import FrameType

import psutil
import redis

POSTGRES_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_DEFAULT = "redis://127.0.0.1:6379/0"
POSTGRES_HELP = (
    "set EXAMENGINE_TEST_POSTGRES_URL to a server where the user may CREATE DATABASE, or "
    "start the local one: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) "
    "main start"
)
REDIS_HELP = (
    "set EXAMENGINE_TEST_REDIS_URL, or start a local server: redis-server --daemonize yes "
    '--bind 127.0.0.1 --port 6379 --save "" --appendonly no'
)
WRK_HELP = "install it with `apt-get install -y wrk` (or run `make bench`, which installs it)"


class Unavailable(SystemExit):
    """A service or tool a benchmark needs is missing: the run stops (exit status 1)."""


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def postgres_url() -> str:
    return os.environ.get("EXAMENGINE_TEST_POSTGRES_URL", POSTGRES_DEFAULT)


def redis_url() -> str:
    return os.environ.get("EXAMENGINE_TEST_REDIS_URL", REDIS_DEFAULT)


def not_measured(what: str, error: BaseException | str, how: str) -> str:
    """``what`` cannot be measured because a service is unreachable: under ``CI=true``
    stop the run; elsewhere print (and return) a ``not measured: why`` line."""
    why = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else error
    message = f"not measured: {what} ({why}); {how}"
    if in_ci():
        raise Unavailable(f"{message}\nCI=true: a benchmark that cannot run fails the run")
    print(message)
    sys.stdout.flush()
    return message


def require_wrk() -> str:
    """The path of ``wrk``, or stop: figures from another load generator would not
    compare with the recorded ones."""
    path = shutil.which("wrk")
    if path is None:
        raise Unavailable(f"wrk is not on PATH: {WRK_HELP}")
    return path


def parser(module: str, doc: str | None) -> argparse.ArgumentParser:
    """An argument parser for ``python -m module``, described by the first line of
    ``doc``, with ``--quick``."""
    lines = (doc or "").strip().splitlines()
    result = argparse.ArgumentParser(
        prog=f"python -m {module}", description=lines[0] if lines else None
    )
    result.add_argument(
        "--quick",
        action="store_true",
        help="the same code paths on tiny sizes, in seconds (for CI; the figures mean nothing)",
    )
    return result


def parse(
    result: argparse.ArgumentParser, argv: Sequence[str] | None, quick: Mapping[str, object]
) -> argparse.Namespace:
    """Parse ``argv``; with ``--quick``, the sizes in ``quick`` replace the defaults (an
    option given on the command line still wins)."""
    args = result.parse_args(argv)
    # a stopped run (timeout, CI's limit) still cleans up: servers, scratch databases,
    # Redis keys are released in finally blocks, which SIGTERM's default action skips
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    if args.quick:
        result.set_defaults(**quick)
        args = result.parse_args(argv)
        print(f"# {result.prog} --quick: tiny sizes to exercise the code; the figures mean nothing")
        sys.stdout.flush()
    return args


def exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """A signal handler: leave as on an error, through the finally blocks."""
    raise SystemExit(128 + signum)


def load() -> str:
    """The load average: the machine is shared, every table says how busy it was."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def table(title: str, header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """A markdown table under a ``###`` heading."""
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("| " + " | ".join("---" for _ in header) + " |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    sys.stdout.flush()


def drop_keys(client: redis.Redis, prefix: str) -> None:
    """Delete every key under ``prefix:`` (nothing else: the server is shared)."""
    batch = []
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        batch.append(key)
        if len(batch) == 1000:
            client.unlink(*batch)
            batch = []
    if batch:
        client.unlink(*batch)


def process_cpu(process: psutil.Process) -> float:
    """CPU seconds (user + system) ``process`` has used."""
    times = process.cpu_times()
    return float(times.user + times.system)


def postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process on this machine (the server is local; a
    pool's connections live through a run, so no backend's time is lost): the
    database's share of a request, measured beside the app's."""
    total = 0.0
    for process in psutil.process_iter(["name"]):
        if process.info["name"] in ("postgres", "postmaster"):
            with contextlib.suppress(psutil.Error):
                total += process_cpu(process)
    return total


def _timed_child(
    stage: Callable[..., None], args: tuple[object, ...], out: Queue[tuple[float, float]]
) -> None:
    started = time.perf_counter()
    stage(*args)
    seconds = time.perf_counter() - started
    out.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def in_fresh_process(stage: Callable[..., None], *args: object) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of ``stage(*args)`` in a fresh (spawned) process:
    no import, cache or allocation of an earlier stage counts, and the peak is this
    stage's own."""
    context = mp.get_context("spawn")
    out: Queue[tuple[float, float]] = context.Queue()
    process = context.Process(target=_timed_child, args=(stage, args, out))
    process.start()
    result = out.get(timeout=3600)
    process.join()
    if process.exitcode:
        raise SystemExit(f"{stage.__name__} failed (exit {process.exitcode})")
    return result
