"""/metrics: Prometheus text for one process, or for every worker of ``examengine serve``.

With one worker the metrics live in the process (prometheus_client's default registry).
With several, ``examengine serve`` gives the workers one fresh directory
(``PROMETHEUS_MULTIPROC_DIR``, see ``multiprocess_dir``) before they start: each worker
writes its counters, histograms and gauges to memory-mapped files there, and whichever
worker answers a scrape sums them all (``MultiProcessCollector``), so a counter shows the
requests of every worker, not only of the one that happened to answer. Each gauge says
how its workers' values combine (``multiprocess_mode``: ``livesum`` for requests
running, ``livemax`` for the event loop's lag, …); the ``live`` files of a worker that
stopped are removed when it stops, or by the next worker to start after a crash.

Beside the process metrics a scrape reads one figure from the database,
``examengine_attempts_open`` (attempts not yet closed, over all workers: the sweeper's
index), on the readiness probe's connection (``PROBE_SLOT``): a scrape takes no
connection a request may need.

This module owns the endpoint and the multiprocess bookkeeping; the metrics themselves
are defined beside the code that counts them (admission, sweeper, study ticker).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from litestar import Controller, Response, get
from litestar.datastructures import State
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from api.http.auth import metrics_access

logger = logging.getLogger("api.http.metrics")

#: The variable prometheus_client reads (at import) to write its values to files.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: The pool connection kept for probes: the readiness probe and a scrape take turns on it.
PROBE_SLOT = threading.Lock()

#: Longest a scrape waits for the probe connection before leaving the figure out.
_SLOT_WAIT_S = 1.0

_LIVE_FILE = re.compile(r"^gauge_live\w+_(\d+)\.db$")


def multiprocess_path() -> Path | None:
    """The shared metrics directory of this process's workers, or None (one process)."""
    path = os.environ.get(MULTIPROC_ENV)
    return Path(path) if path else None


@contextlib.contextmanager
def multiprocess_dir(workers: int) -> Iterator[Path | None]:
    """For ``workers`` > 1, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory for
    the workers about to start (inherited through the environment), and clean it up
    afterwards. A directory given by the operator is emptied, not removed (a file left
    from an earlier run would count its requests again); otherwise a fresh temporary
    directory is made and removed."""
    if workers <= 1:
        yield None
        return
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    else:
        path = Path(tempfile.mkdtemp(prefix="examengine-metrics-"))
        os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield path
    finally:
        if given:
            for used in path.glob("*.db"):
                used.unlink(missing_ok=True)
        else:
            shutil.rmtree(path, ignore_errors=True)
            os.environ.pop(MULTIPROC_ENV, None)


def forget_dead_workers(path: Path) -> list[int]:
    """Remove the ``live`` gauge files of workers that are no longer running (killed, so
    they could not do it themselves); returns their process ids. Counters and
    histograms of a dead worker stay: what it counted did happen."""
    dead = []
    for file in path.glob("gauge_live*.db"):
        match = _LIVE_FILE.match(file.name)
        if match is None:
            continue
        pid = int(match.group(1))
        if pid != os.getpid() and not _running(pid):
            mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]
            dead.append(pid)
    return sorted(set(dead))


def worker_started() -> None:
    """At a worker's start: forget the workers that died without stopping."""
    path = multiprocess_path()
    if path is not None:
        gone = forget_dead_workers(path)
        if gone:
            logger.info("metrics: removed the live gauges of stopped workers %s", gone)


def worker_stopped() -> None:
    """At a worker's clean stop: its live gauges no longer count."""
    path = multiprocess_path()
    if path is not None:
        mark_process_dead(os.getpid(), str(path))  # type: ignore[no-untyped-call]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def count_open_attempts(engine: Engine) -> int | None:
    """Attempts not closed yet (``next_check_ms`` is set until the close), or None when
    the probe connection is busy for too long or the database does not answer."""
    if not PROBE_SLOT.acquire(timeout=_SLOT_WAIT_S):
        return None
    try:
        with engine.connect() as connection:
            value = connection.execute(
                sa.text("SELECT count(*) FROM attempt WHERE next_check_ms IS NOT NULL")
            ).scalar_one()
        return int(value)
    except SQLAlchemyError as exc:
        logger.warning("metrics: open attempts not counted: %s", type(exc).__name__)
        return None
    finally:
        PROBE_SLOT.release()


class _Figures(Collector):
    """Figures read at the scrape (not kept in the process)."""

    def __init__(self, open_attempts: int | None) -> None:
        self.open_attempts = open_attempts

    def collect(self) -> Iterable[GaugeMetricFamily]:
        if self.open_attempts is not None:
            yield GaugeMetricFamily(
                "examengine_attempts_open",
                "Attempts not closed yet (in progress or in their grace period), all workers",
                value=self.open_attempts,
            )


def exposition(open_attempts: int | None) -> bytes:
    """The text a scrape gets: every worker's metrics (summed as each metric says) when
    several share a directory, this process's otherwise; then the database figures."""
    path = multiprocess_path()
    registry = CollectorRegistry()
    if path is not None:
        MultiProcessCollector(registry, path=str(path))  # type: ignore[no-untyped-call]
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    figures = CollectorRegistry()
    figures.register(_Figures(open_attempts))
    return text + generate_latest(figures)


class MetricsController(Controller):
    """Prometheus text format at /metrics; in production only for the allowed addresses
    or the bearer token (``metrics_access``)."""

    path = "/metrics"
    include_in_schema = False
    guards = [metrics_access]

    @get()
    async def metrics(self, state: State) -> Response[Any]:
        engine: Engine | None = getattr(state, "engine", None)
        # Not on the request threads (anyio's limiter, sized for admitted requests).
        open_attempts = (
            await asyncio.to_thread(count_open_attempts, engine) if engine is not None else None
        )
        return Response(exposition(open_attempts), headers={"Content-Type": CONTENT_TYPE_LATEST})
