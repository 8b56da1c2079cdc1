"""The crash drill (decision 0017): learners save answers as fast as the server takes
them; the server (a real ``examengine serve``) is killed with SIGKILL in the middle of it
— no drain, no clean-up, requests in flight — and started again on the same database.
Every save it had acknowledged must be there with its value: in the answer log, and as
the answer the learner gets back when they resume. On SQLite and on PostgreSQL.

A save that was in flight when the server died had no answer: it may or may not have
been stored (the browser sends it again, with the same seq). What is checked is only
what the server promised."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
import msgspec
from sqlmodel import select

from api.cli.demo import DEMO_EXAM, add_load_learners, load_demo
from api.settings import DatabaseSettings
from api.store.db import migrate, standalone_transaction
from api.store.tables import AnswerStep
from tests.server import ROOT, free_port

LEARNERS = 6
PASSWORD = "crash-drill-1"
#: How long the learners save before the kill (and how long after the first save).
SAVING_S = 2.0


@dataclass
class Learner:
    login: str
    attempt: str = ""
    items: list[dict[str, Any]] = field(default_factory=list)
    #: (item, seq) → response of every save the server acknowledged (200, accepted)
    acknowledged: dict[tuple[str, int], Any] = field(default_factory=dict)
    #: seqs that were sent and got no answer (the server died under them)
    unanswered: int = 0


def start_server(
    root: Path, database_url: str, log: IO[bytes]
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EXAMENGINE_")},
        "EXAMENGINE_VAR_DIR": str(root / "var"),
        "EXAMENGINE_DATABASE_URL": database_url,
        "EXAMENGINE_PORT": str(port),
        "EXAMENGINE_LOG_LEVEL": "WARNING",
        "EXAMENGINE_LOGIN_ATTEMPTS_PER_MINUTE": "10000",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli.main", "serve"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return server, url
        except httpx.TransportError:
            time.sleep(0.1)
        if server.poll() is not None:
            break
    server.kill()
    raise AssertionError(f"the server did not start (see {log.name})")


def response_for(item: dict[str, Any], rng: random.Random) -> Any:
    """A response of the right shape for ``item`` (the value is what is checked)."""
    options = [o["id"] for o in item.get("options", [])]
    match item["kind"]:
        case "single":
            return rng.choice(options)
        case "multiple":
            return sorted(rng.sample(options, rng.randint(1, len(options))))
        case "true_false":
            return rng.random() < 0.5
        case _:
            return None  # clearing an answer is a save like any other


async def sign_in_and_start(client: httpx.AsyncClient, learner: Learner) -> None:
    signed = await client.post("/auth/login", json={"login": learner.login, "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    started = await client.post(f"/api/exams/{DEMO_EXAM}/attempts", json={"practice": False})
    assert started.status_code == 201, started.text
    learner.attempt = started.json()["attempt"]
    learner.items = started.json()["items"]


async def keep_saving(client: httpx.AsyncClient, learner: Learner, seed: int) -> None:
    """Save batches of one to three answers, each a higher seq, until the server dies."""
    rng = random.Random(seed)
    seq = 0
    while True:
        batch = []
        for item in rng.sample(learner.items, rng.randint(1, 3)):
            seq += 1
            batch.append({"item": item["item"], "seq": seq, "response": response_for(item, rng)})
        try:
            answer = await client.post(f"/api/attempts/{learner.attempt}/answers", json=batch)
        except httpx.TransportError:
            learner.unanswered += len(batch)
            return
        if answer.status_code == 503:  # refused, nothing done: the browser retries later
            await asyncio.sleep(0.05)
            continue
        assert answer.status_code == 200, answer.text
        accepted = {seq for _item, seq in answer.json()["accepted"]}  # [item, seq] pairs
        assert accepted == {s["seq"] for s in batch}
        for save in batch:
            learner.acknowledged[(save["item"], save["seq"])] = save["response"]


async def drill(url: str, server: subprocess.Popen[bytes]) -> list[Learner]:
    learners = [Learner(f"crash{n:05d}") for n in range(1, LEARNERS + 1)]
    clients = [httpx.AsyncClient(base_url=url, timeout=10) for _ in learners]
    try:
        for client, learner in zip(clients, learners, strict=True):
            await sign_in_and_start(client, learner)
        savers = [
            asyncio.create_task(keep_saving(c, lr, seed))
            for seed, (c, lr) in enumerate(zip(clients, learners, strict=True))
        ]
        await asyncio.sleep(SAVING_S)
        server.send_signal(signal.SIGKILL)  # mid-flight: no drain, no commit of anything open
        await asyncio.to_thread(server.wait, 10)
        await asyncio.wait_for(asyncio.gather(*savers), timeout=30)
    finally:
        for client in clients:
            await client.aclose()
    return learners


async def answers_after_restart(url: str, learner: Learner) -> dict[str, tuple[int, Any]]:
    """What the learner gets back on resuming after the restart: item → (seq, response)."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        signed = await client.post(
            "/auth/login", json={"login": learner.login, "password": PASSWORD}
        )
        assert signed.status_code == 200, signed.text
        back = await client.post(f"/api/attempts/{learner.attempt}/resume")
        assert back.status_code == 200, back.text
        return {a["item"]: (a["seq"], a["response"]) for a in back.json()["answers"]}


def logged(database: DatabaseSettings, attempt: str) -> dict[tuple[str, int], Any]:
    """The answer log of ``attempt`` as stored: (item, seq) → response."""
    with standalone_transaction(database) as db:
        steps = db.exec(select(AnswerStep).where(AnswerStep.attempt_id == attempt)).all()
        return {(s.item_key, s.seq): msgspec.json.decode(s.response) for s in steps}


def test_every_acknowledged_save_survives_a_sigkill_of_the_server(
    tmp_path: Path, db_url: str
) -> None:
    database = DatabaseSettings(url=db_url)
    migrate(database.url)
    with standalone_transaction(database) as db:
        load_demo(db, now=datetime.now(UTC))
        add_load_learners(
            db, count=LEARNERS, prefix="crash", password=PASSWORD, now=datetime.now(UTC)
        )
    with (tmp_path / "serve.log").open("wb") as log:
        server, url = start_server(tmp_path, database.url, log)
        try:
            learners = asyncio.run(drill(url, server))
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
        assert server.returncode == -signal.SIGKILL
        acknowledged = sum(len(lr.acknowledged) for lr in learners)
        assert acknowledged >= 50, f"only {acknowledged} saves before the kill: no drill"
        assert any(lr.unanswered for lr in learners), "no save was in flight at the kill"

        server, url = start_server(tmp_path, database.url, log)
        try:
            for learner in learners:
                stored = logged(database, learner.attempt)
                missing = {
                    k: v
                    for k, v in learner.acknowledged.items()
                    if k not in stored or stored[k] != v
                }
                assert missing == {}, f"{learner.login}: acknowledged, then lost or changed"
                shown = asyncio.run(answers_after_restart(url, learner))
                for item in {i for i, _ in learner.acknowledged}:
                    last = max(seq for i, seq in learner.acknowledged if i == item)
                    seq, response = shown[item]
                    # a later save in flight at the kill may have landed; never an older one
                    assert seq >= last, (learner.login, item, seq, last)
                    if seq == last:
                        assert response == learner.acknowledged[(item, last)]
        finally:
            server.terminate()
            server.wait(15)
