"""A real server for the tests that need one (browser, overload and scale-out tests): the
demo app on a fresh database, served by uvicorn on a free 127.0.0.1 port, stopped by its
PID; or ``examengine serve`` itself, with several workers (``serve_command``)."""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
import redis
from psycopg import sql
from sqlalchemy.engine import make_url

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
    #: Scaled: the log of each worker behind the balancer (access lines at INFO).
    backends: tuple[Path, ...] = ()

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


class RoundRobin:
    """A TCP balancer on a free 127.0.0.1 port: each new connection goes to the next
    backend in turn, as nginx's does, so a browser's connections reach every worker."""

    def __init__(self, backends: list[str]) -> None:
        self.port = free_port()
        self._next = itertools.cycle([urlsplit_port(url) for url in backends])
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete,
                                        args=(self._serve(),), daemon=True)  # fmt: skip

    def __enter__(self) -> RoundRobin:
        self._thread.start()
        assert self._started.wait(5), "the balancer did not start"
        return self

    def __exit__(self, *_: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._connect, "127.0.0.1", self.port)
        self._started.set()
        async with server:
            await self._stop.wait()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = next(self._next)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            writer.close()
            return
        try:
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        except asyncio.CancelledError:  # the balancer stops with streams still open
            writer.close()
            upstream_writer.close()


def urlsplit_port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


@contextmanager
def scaled_app(root: Path, **env_extra: str) -> Iterator[Server]:
    """The demo app as deployed at scale: a PostgreSQL database of its own, Redis under a
    key prefix of its own, two ``examengine serve`` workers (processes) behind a
    round-robin balancer. Needs the PostgreSQL and Redis of the tests (conftest)."""
    with _postgres_database() as database_url, _redis_prefix() as (redis_url, prefix):
        database = DatabaseSettings(url=database_url)
        migrate(database.url)
        with standalone_transaction(database) as session:
            load_demo(session, now=datetime.now(UTC))
        logs = (root / "worker-1.log", root / "worker-2.log")
        env = {
            "EXAMENGINE_REDIS_URL": redis_url,
            "EXAMENGINE_REDIS_PREFIX": prefix,
            "EXAMENGINE_LOG_LEVEL": "INFO",  # access lines: which worker served what
            # One secret for all workers, as deployed (each would make its own otherwise).
            "EXAMENGINE_SECRET_KEY": secrets.token_urlsafe(32),
            "EXAMENGINE_PAPER_SECRET": secrets.token_urlsafe(32),
            "EXAMENGINE_SIGNING_SECRET": secrets.token_urlsafe(32),
            **env_extra,
        }
        with (
            serve_command(root / "1", database_url=database_url, workers=1, log_path=logs[0],
                          **env) as (first, first_url),
            serve_command(root / "2", database_url=database_url, workers=1, log_path=logs[1],
                          **env) as (_, second_url),
            RoundRobin([first_url, second_url]) as balancer,
        ):  # fmt: skip
            yield Server(
                url=f"http://127.0.0.1:{balancer.port}", database=database, pid=first.pid,
                log=logs[0], backends=logs,
            )  # fmt: skip


@contextmanager
def _postgres_database() -> Iterator[str]:
    server = os.environ.get(
        "EXAMENGINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
    )
    url = make_url(server).set(drivername="postgresql")
    conninfo = url.render_as_string(hide_password=False)
    name = f"examengine_e2e_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(conninfo, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        _unavailable(f"PostgreSQL at {url.render_as_string()}: {exc}")
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=3) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def _redis_prefix() -> Iterator[tuple[str, str]]:
    url = os.environ.get("EXAMENGINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        client.close()
        _unavailable(f"Redis at {url}: {exc}")
    prefix = f"examengine_e2e_{secrets.token_hex(6)}"
    try:
        yield url, prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def _unavailable(message: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
