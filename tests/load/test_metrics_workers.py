"""Metrics with several workers: a real ``examengine serve`` with two worker processes
on PostgreSQL and Redis. Requests land on both workers; whichever answers the scrape
reports the requests of both (prometheus_client's multiprocess mode), and the metrics
directory starts empty and is emptied when the server stops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from api.http.metrics import MULTIPROC_ENV, forget_dead_workers, multiprocess_dir
from api.logging import ACCESS_LOGGER
from api.store.db import migrate
from tests.server import serve_command

#: Requests sent per round (new connections, eight at a time, so both workers accept).
ROUND = 40


def samples(text: str, name: str) -> Iterator[Sample]:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                yield sample


def children(pid: int) -> set[int]:
    """The worker processes uvicorn started (spawned children of ``pid``)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                worker = b"spawn_main" in (entry / "cmdline").read_bytes()  # not the tracker
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and worker:
                found.add(int(entry.name))
    return found


def access_lines(log: Path, path: str) -> Counter[int]:
    """How many requests to ``path`` each worker (pid) logged."""
    served = Counter[int]()
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("logger") == ACCESS_LOGGER and entry.get("path") == path:
                served[entry["pid"]] += 1
    return served


#: A request both counted in the metrics and logged whole (not a probe: those are neither).
PROBE = "/auth/me"


def ask(url: str) -> int:
    return httpx.get(f"{url}{PROBE}", timeout=10).status_code  # a new connection each


@pytest.mark.postgres
@pytest.mark.redis
def test_a_scrape_adds_up_the_requests_of_both_workers(
    tmp_path: Path, postgres_url: str, redis_url: str, redis_prefix: str
) -> None:
    migrate(postgres_url)
    directory = tmp_path / "metrics"
    directory.mkdir()
    stale = directory / "counter_4242.db"
    stale.write_bytes(b"left by an earlier run")  # would fail (or count) if read
    log_path = tmp_path / "serve.log"
    with serve_command(
        tmp_path, database_url=postgres_url, workers=2, log_path=log_path,
        EXAMENGINE_LOG_LEVEL="INFO",  # the access lines name the worker that served
        EXAMENGINE_REDIS_URL=redis_url, EXAMENGINE_REDIS_PREFIX=redis_prefix,
        **{MULTIPROC_ENV: str(directory)},
    ) as (process, url):  # fmt: skip
        assert not stale.exists()
        workers = children(process.pid)
        sent, served = 0, Counter[int]()
        with ThreadPoolExecutor(8) as pool:
            while set(served) != workers and sent < 25 * ROUND:
                assert set(pool.map(ask, [url] * ROUND, timeout=60)) == {401}
                sent += ROUND
                served = access_lines(log_path, PROBE)
        assert len(workers) == 2
        assert set(served) == workers, f"the requests did not reach both workers: {served}"
        assert served.total() == sent
        for _ in range(3):  # whichever worker answers the scrape: the sum over both
            text = httpx.get(f"{url}/metrics", timeout=10).text
            counted = [
                s.value
                for s in samples(text, "examengine_requests_total")
                if s.labels["path"] == PROBE and s.labels["status_code"] == "401"
            ]
            assert counted == [sent]
            durations = [
                s.value
                for s in samples(text, "examengine_request_duration_seconds_count")
                if s.labels["path"] == PROBE
            ]
            assert durations == [sent]
            # A figure from the database, read at the scrape (none started: 0).
            assert [s.value for s in samples(text, "examengine_attempts_open")] == [0]
        assert list(directory.glob("*.db"))
    assert process.returncode == 0
    assert not list(directory.glob("*.db")), "the metrics files outlived the server"


def test_several_workers_get_a_fresh_directory_removed_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    with multiprocess_dir(1) as none:
        assert none is None and MULTIPROC_ENV not in os.environ
    with multiprocess_dir(2) as path:
        assert path is not None and path.is_dir() and not list(path.iterdir())
        assert os.environ[MULTIPROC_ENV] == str(path)
        (path / "counter_1.db").write_bytes(b"")
    assert not path.exists()
    assert MULTIPROC_ENV not in os.environ


def test_the_live_gauges_of_a_dead_worker_are_forgotten(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead = int(gone.stdout)
    files = {
        name: tmp_path / name
        for name in (
            f"gauge_livesum_{dead}.db",  # a dead worker's live gauge: removed
            f"gauge_livemax_{dead}.db",
            f"counter_{dead}.db",  # what it counted did happen: kept
            f"gauge_all_{dead}.db",  # not a live mode: kept
            f"gauge_livesum_{os.getpid()}.db",  # a running process's: kept
        )
    }
    for file in files.values():
        file.write_bytes(b"")
    assert forget_dead_workers(tmp_path) == [dead]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"counter_{dead}.db", f"gauge_all_{dead}.db", f"gauge_livesum_{os.getpid()}.db"]
    )
