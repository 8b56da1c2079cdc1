"""``examengine serve`` as operations run it: SIGTERM closes the study event streams at
once, drains and exits within the shutdown timeout, releasing every lock, even with a
request in flight that would never end by itself (an upload that stops half-way) and a
save just made (nothing acknowledged is lost); an idle keep-alive connection stays open
for the configured time, no less."""

from __future__ import annotations

import asyncio
import http.client
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import httpx

from api.cli.demo import DEMO_EXAM, DEMO_LEARNER, load_demo
from api.settings import DatabaseSettings
from api.store.db import migrate, standalone_transaction
from tests.server import ROOT, free_port

SHUTDOWN_S = 2


def serve(tmp_path: Path, **env_extra: str) -> tuple[subprocess.Popen[bytes], int, IO[bytes]]:
    """``examengine serve`` over the demo data on a fresh SQLite file; the process, its
    port and its log file."""
    database = DatabaseSettings(url=f"sqlite:///{tmp_path / 'serve.db'}")
    migrate(database.url)
    with standalone_transaction(database) as session:
        load_demo(session, now=datetime.now(UTC))
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EXAMENGINE_")},
        "EXAMENGINE_VAR_DIR": str(tmp_path / "var"),
        "EXAMENGINE_DATABASE_URL": database.url,
        "EXAMENGINE_PORT": str(port),
        "EXAMENGINE_LOG_LEVEL": "WARNING",
        **env_extra,
    }
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli.main", "serve"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server, port, log
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise AssertionError((tmp_path / "serve.log").read_text())


def test_an_idle_keep_alive_connection_lives_as_long_as_configured(tmp_path: Path) -> None:
    server, port, log = serve(tmp_path, EXAMENGINE_KEEP_ALIVE_S="2")
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/health")
        assert connection.getresponse().read() == b'{"status":"ok","checks":{}}'
        opened = connection.sock
        time.sleep(1)  # idle, less than the keep-alive: the same connection serves
        connection.request("GET", "/health")
        second = connection.getresponse()
        assert second.status == 200
        second.read()  # the whole reply: nothing of it left on the socket
        assert connection.sock is opened
        time.sleep(3)  # idle past it: the server has closed the connection
        assert opened.recv(1) == b""
        connection.close()
    finally:
        server.terminate()
        server.wait(10)
        log.close()


async def test_sigterm_drains_within_its_timeout_and_frees_the_database(tmp_path: Path) -> None:
    server, port, log = serve(tmp_path, EXAMENGINE_SHUTDOWN_TIMEOUT_S=str(SHUTDOWN_S))
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            for _ in range(100):
                try:
                    if (await client.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            signed = await client.post(
                "/auth/login", json={"login": DEMO_LEARNER, "password": "learner-demo-1"}
            )
            assert signed.status_code == 200
            started = await client.post(f"/api/exams/{DEMO_EXAM}/attempts", json={})
            assert started.status_code == 201, started.text
            paper = started.json()
            item = next(i for i in paper["items"] if i["kind"] == "single")
            saved = await client.post(
                f"/api/attempts/{paper['attempt']}/answers",
                json=[{"item": item["item"], "seq": 1, "response": item["options"][0]["id"]}],
            )
            assert saved.status_code == 200
            chapter = await client.post("/api/study/demo-law-1/start")
            assert chapter.status_code == 200, chapter.text
            token = chapter.json()["token"]

            # A request that would never end by itself: a body that never finishes.
            stuck = socket.create_connection(("127.0.0.1", port))
            cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
            stuck.sendall(
                f"POST /api/attempts/{paper['attempt']}/answers HTTP/1.1\r\n"
                f"Host: 127.0.0.1\r\nCookie: {cookie}\r\nContent-Type: application/json\r\n"
                "Content-Length: 1000\r\n\r\n[".encode()
            )
            async with client.stream("GET", "/api/study/events", params={"token": token}) as sse:
                assert sse.status_code == 200
                signalled = time.monotonic()
                server.send_signal(signal.SIGTERM)
                # The event stream closes at once (not at the shutdown timeout), telling
                # the browser to reconnect, and without "ended": the session goes on.
                rest = await asyncio.wait_for(sse.aread(), SHUTDOWN_S)
                assert b"retry: 2000" in rest
                assert b"ended" not in rest
                code = await asyncio.to_thread(server.wait, SHUTDOWN_S + 8)
                took = time.monotonic() - signalled
            stuck.close()
        # uvicorn re-raises the signal once it has shut down: it exits "by SIGTERM".
        assert code in (0, -signal.SIGTERM), (tmp_path / "serve.log").read_text()
        assert took < SHUTDOWN_S + 5, took
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        log.close()

    # Every lock and connection released: another writer gets SQLite's lock at once,
    # and the acknowledged save is there.
    connection = sqlite3.connect(str(tmp_path / "serve.db"), timeout=0.2, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        (count,) = connection.execute(
            "SELECT count(*) FROM answer_step WHERE attempt_id = ?", (paper["attempt"],)
        ).fetchone()
        connection.execute("ROLLBACK")
    finally:
        connection.close()
    assert count == 1
