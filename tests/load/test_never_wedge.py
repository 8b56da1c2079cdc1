"""The server never wedges (issue 11): a surge of more concurrent requests than it has
threads and pool connections, with a third of the clients giving up mid-request, on the
embedded SQLite and on PostgreSQL. Some requests may be refused (503 + Retry-After), none
may hang, the server must be healthy again within 10 s of the surge, and no transaction
may be left open (nothing "idle in transaction", SQLite's write lock free).

Before the fix (the session's commit ran in a dependency clean-up on a thread of its own)
this surge wedged both backends: every worker thread waited for a pool connection while
every connection waited, idle in its transaction, for a thread to commit it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import sqlite3
import ssl
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from api.cli.demo import DEMO_EXAM
from api.services import attempts
from api.services.passwords import hash_password
from api.store.db import standalone_transaction
from api.store.tables import User
from tests.server import Server, served_app

PASSWORD = "surge-Password-9"
#: Learners starting at once: well past the server's threads and pool connections.
SURGE = 150
#: Of them, the ones whose client gives up after a fraction of a second, mid-request.
IMPATIENT = SURGE // 3
TLS = ssl.create_default_context()
#: Refusals a client sends again (after Retry-After, as the exam page does).
RETRIES = 4
#: No answer within this long is a hang (a refusal comes within 1 s).
HANG_S = 12.0


@pytest.fixture(params=["sqlite", "postgres"])
def surge_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    url = None
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        url = str(request.getfixturevalue("postgres_url"))
    with served_app(tmp_path, database_url=url, EXAMENGINE_SWEEP_INTERVAL_MS="500") as server:
        yield server


def learners(server: Server, count: int) -> list[str]:
    """``count`` learners enrolled in the demo exam with the study requirement met."""
    hashed = hash_password(PASSWORD)
    logins = [f"surge-{secrets.token_hex(5)}" for _ in range(count)]
    with standalone_transaction(server.database) as session:
        for login in logins:
            user = User(
                login=login,
                display_name=f"学员 {login}",
                password_hash=hashed,
                roles=["learner"],
                must_change_password=False,
                created_at=datetime.now(UTC),
            )
            session.add(user)
            session.flush()
            assert user.id is not None
            attempts.enroll(
                session, learner_id=user.id, exam=DEMO_EXAM, study_met=True, now=server.now_ms()
            )
    return logins


def answer_for(paper: dict[str, Any]) -> list[dict[str, Any]]:
    """A save of the paper's first single-choice item (its first option)."""
    item = next(i for i in paper["items"] if i["kind"] == "single")
    return [{"item": item["item"], "seq": 1, "response": item["options"][0]["id"]}]


def client(base: str, *, timeout: float) -> httpx.AsyncClient:
    """A client of one learner (its own cookies and connection); made before the surge,
    sharing one TLS context, so that the surge measures the server, not client set-up."""
    return httpx.AsyncClient(base_url=base, timeout=timeout, verify=TLS)


async def sit(base: str, login: str, *, timeout: float) -> list[int | str]:
    async with client(base, timeout=timeout) as learner:
        return await sit_with(learner, login, timeout=timeout)


async def sit_with(client: httpx.AsyncClient, login: str, *, timeout: float) -> list[int | str]:
    """Log in, start the demo exam, save an answer and send a heartbeat; the status of
    each step, or ``"gave up"`` / ``"hung"`` when the client's timeout ran out. A 503
    must come within 1.5 s and say when to retry (otherwise it is ``"slow refusal"``);
    it is sent again after its Retry-After, ``RETRIES`` times at most."""
    outcomes: list[int | str] = []

    async def step(url: str, body: Any = None) -> httpx.Response:
        for _ in range(RETRIES):
            started = time.monotonic()
            response = await client.post(url, json=body)
            outcomes.append(response.status_code)
            if response.status_code != 503:
                return response
            if time.monotonic() - started > 1.5 or "retry-after" not in response.headers:
                outcomes.append("slow refusal")
            # As the exam page does: wait the Retry-After with jitter, send it again.
            await asyncio.sleep(
                int(response.headers.get("retry-after", 1)) * random.uniform(1, 1.5)
            )
        return response

    try:
        response = await step("/auth/login", {"login": login, "password": PASSWORD})
        if response.status_code != 200:
            return outcomes
        response = await step(f"/api/exams/{DEMO_EXAM}/attempts", {})
        if response.status_code != 201:
            return outcomes
        paper = response.json()
        await step(f"/api/attempts/{paper['attempt']}/answers", answer_for(paper))
        await step(f"/api/attempts/{paper['attempt']}/heartbeat")
    except httpx.TimeoutException:
        outcomes.append("gave up" if timeout < 1 else "hung")
    except httpx.TransportError as error:
        outcomes.append(f"transport: {type(error).__name__}")
    return outcomes


def open_transactions(server: Server) -> int:
    """Transactions open on the server's database right now: sessions "idle in
    transaction" on PostgreSQL; on SQLite, 1 if the write lock cannot be had at once."""
    url = make_url(server.database.url)
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(str(url.database), timeout=0.2, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
            return 0
        except sqlite3.OperationalError:
            return 1
        finally:
            connection.close()
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND state LIKE 'idle in transaction%%'"
        ).fetchone()
        assert row is not None
        return int(row[0])


async def test_a_surge_past_every_thread_and_connection_never_wedges_the_server(
    surge_server: Server,
) -> None:
    server = surge_server
    logins = learners(server, SURGE + 20)
    late, logins = logins[SURGE:], logins[:SURGE]

    timeouts = [0.05 + 0.3 * n / IMPATIENT if n < IMPATIENT else HANG_S for n in range(SURGE)]
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(client(server.url, timeout=t)) for t in timeouts]
        started = time.monotonic()
        results = await asyncio.gather(
            *(
                sit_with(c, login, timeout=t)
                for c, login, t in zip(clients, logins, timeouts, strict=True)
            )
        )
        surge_s = time.monotonic() - started
    patient = Counter(o for r in results[IMPATIENT:] for o in r)

    # Every patient client got an answer: a success, a refusal to retry, a rule's 4xx.
    assert patient["hung"] == 0, (patient, surge_s)
    assert patient["slow refusal"] == 0, patient
    assert not [o for o in patient if isinstance(o, str)], patient
    assert not [o for o in patient if isinstance(o, int) and o >= 500 and o != 503], patient
    assert patient[201] > 0, patient  # and the server did real work meanwhile

    # Healthy again within 10 s: a learner who arrives after the surge sits the exam.
    deadline = time.monotonic() + 10
    for login in late:
        outcome = await sit(server.url, login, timeout=5)
        if outcome == [200, 201, 200, 200] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert outcome == [200, 201, 200, 200], (outcome, server.log.read_text()[-2000:])

    # Nothing left open: every unit of work committed or rolled back and let go.
    deadline = time.monotonic() + 5
    while open_transactions(server) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert open_transactions(server) == 0


async def test_a_full_server_refuses_at_once_with_retry_after(tmp_path: Path) -> None:
    with served_app(
        tmp_path, EXAMENGINE_THREADS="1", EXAMENGINE_PASSWORD_SLOTS="1",
        EXAMENGINE_QUEUE_DEPTH="0", EXAMENGINE_RETRY_AFTER_S="4", EXAMENGINE_RETRY_AFTER_MAX_S="20",
    ) as server:  # fmt: skip
        logins = learners(server, 30)
        async with client(server.url, timeout=HANG_S) as shared:
            replies = await asyncio.gather(
                *(
                    shared.post("/auth/login", json={"login": login, "password": PASSWORD})
                    for login in logins
                )
            )
    statuses = Counter(r.status_code for r in replies)
    assert set(statuses) == {200, 503}, statuses
    refused = [r for r in replies if r.status_code == 503]
    # Retry-After starts at the base and grows as most of the wave is refused.
    retry_after = [int(r.headers["retry-after"]) for r in refused]
    assert all(4 <= seconds <= 20 for seconds in retry_after), retry_after
    assert max(retry_after) == 20, retry_after
    assert all(r.json()["code"] == "overloaded" for r in refused)
    assert all(r.elapsed.total_seconds() < 1 for r in refused)
