"""A real server for the tests that need one (browser, overload and scale-out tests): the
demo app on a fresh database, served by uvicorn on a free 127.0.0.1 port, stopped by its
PID; or ``examengine serve`` itself, with several workers (``serve_command``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.cli.demo import load_demo
from api.settings import DatabaseSettings
from api.store.db import migrate, standalone_transaction

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Server:
    url: str
    database: DatabaseSettings
    pid: int
    log: Path

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


@contextmanager
def served_app(
    root: Path, *, database_url: str | None = None, args: tuple[str, ...] = (), **env_extra: str
) -> Iterator[Server]:
    """The demo app on ``database_url`` (a fresh SQLite file under ``root`` by default),
    with ``env_extra`` added to its environment and ``args`` to uvicorn's command line."""
    database = DatabaseSettings(url=database_url or f"sqlite:///{root / 'e2e.db'}")
    migrate(database.url)
    with standalone_transaction(database) as session:
        load_demo(session, now=datetime.now(UTC))
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EXAMENGINE_")},
        "EXAMENGINE_VAR_DIR": str(root / "var"),
        "EXAMENGINE_DATABASE_URL": database.url,
        "EXAMENGINE_LOGIN_ATTEMPTS_PER_MINUTE": "10000",
        "EXAMENGINE_LOG_LEVEL": "WARNING",
        **env_extra,
    }
    log_path = root / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--no-access-log", *args],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_healthy(url, process, log_path)
            yield Server(url=url, database=database, pid=process.pid, log=log_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            output = log_path.read_text(errors="replace")[-3000:]
            pytest.fail(f"the test server did not start:\n{output}", pytrace=False)
        time.sleep(0.1)


@contextmanager
def serve_command(
    root: Path, *, database_url: str, workers: int, log_path: Path, **env_extra: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``examengine serve`` with ``workers`` processes on a free port, as deployed (the
    database migrated and loaded by the caller): the process and its URL; SIGTERM after."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EXAMENGINE_")},
        "EXAMENGINE_VAR_DIR": str(root / "var"),
        "EXAMENGINE_DATABASE_URL": database_url,
        "EXAMENGINE_PORT": str(port),
        "EXAMENGINE_WORKERS": str(workers),
        "EXAMENGINE_LOG_LEVEL": "WARNING",
        "EXAMENGINE_LOGIN_ATTEMPTS_PER_MINUTE": "10000",
        **env_extra,
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli.main", "serve"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_healthy(url, process, log_path)
            yield process, url
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
