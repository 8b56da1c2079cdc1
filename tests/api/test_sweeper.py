"""The sweeper, with the app running and nobody reading the attempt: every attempt is
closed within 2 s of its deadline, finished at the deadline; ``examengine sweep --once``
does the same from the command line."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from api.app import create_app
from api.cli.main import main
from api.clock import SystemClock
from api.services import attempts, banks, exams
from api.settings import Settings
from api.store.db import make_engine, migrate, session_factory, transaction
from api.store.tables import Attempt as AttemptRow
from api.store.tables import User
from examengine.clock import ManualClock
from tests.conftest import make_settings

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
SECRET = b"sweeper-test-paper-secret-0123456789abcdef"
EXAM = "公需-2026"
BANK = "公需"
#: The guarantee: closed within this long after the deadline without any request.
WITHIN_MS = 2000

BANK_YAML = "\n".join(
    ["format: examengine-bank", "items:"]
    + [
        line
        for n in range(4)
        for line in (
            f"  - key: t{n}",
            "    kind: true_false",
            f"    stem: 判断题 {n}",
            "    answer: true",
        )
    ]
).encode()


def spec(expiry: str) -> exams.ExamSpec:
    return msgspec.convert(
        {
            "key": EXAM,
            "title": "公需科目考试",
            "bank": BANK,
            "bank_version": 1,
            "duration_s": 60,
            "expiry": expiry,
            "sections": [{"title": "判断", "kind": "true_false", "count": 2}],
        },
        exams.ExamSpec,
    )


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(tmp_path, database_url=db_url)


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    migrate(settings.database.url)
    exams.COMPILED.clear()
    attempts.ITEMS.clear()
    engine = make_engine(settings.database)
    yield session_factory(engine)
    engine.dispose()


def open_attempt(
    sessions: sessionmaker[Session], *, now: int, deadline: int, expiry: str = "expire_fail"
) -> str:
    """A learner's attempt started at ``now`` whose deadline is moved to ``deadline`` (a
    spec cannot last under 60 s: the row is set directly, as an extension would)."""
    with transaction(sessions) as s:
        banks.import_file(s, data=BANK_YAML, source="b.yaml", bank=BANK, now=NOW)
        banks.publish(s, bank=BANK, version=1, now=NOW)
        saved = exams.save_spec(s, spec(expiry), now=NOW)
        exams.publish(s, exam=EXAM, version=saved.version.version, now=NOW)
        learner = User(login="11010519491231002X", display_name="张三", password_hash="x",
                       roles=["learner"])  # fmt: skip
        s.add(learner)
        s.flush()
        assert learner.id is not None
        attempts.enroll(s, learner_id=learner.id, exam=EXAM, study_met=True, now=now)
        paper = attempts.start(
            s, learner_id=learner.id, exam=EXAM, practice=False, device="d", now=now,
            secret=SECRET,
        )  # fmt: skip
        s.execute(
            sa.update(AttemptRow)
            .where(sa.column("id") == paper.attempt)
            .values(deadline_ms=deadline, next_check_ms=deadline)
        )
    return paper.attempt


def state_of(sessions: sessionmaker[Session], attempt: str) -> AttemptRow:
    with transaction(sessions) as s:
        row = s.get(AttemptRow, attempt)
        assert row is not None
        return row


async def wait_closed(sessions: sessionmaker[Session], attempt: str, timeout_s: float) -> float:
    """Poll the database (not the API) until the attempt is closed; the wall time then."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        row = await asyncio.to_thread(state_of, sessions, attempt)
        if row.next_check_ms is None:
            return time.time() * 1000
        await asyncio.sleep(0.05)
    raise AssertionError(f"attempt {attempt} still open after {timeout_s} s")


async def test_the_sweeper_closes_an_attempt_within_2_s_of_its_deadline_with_no_request(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    now = SystemClock().now_ms()
    deadline = now + 1000
    attempt = open_attempt(sessions, now=now, deadline=deadline)
    lags_before = REGISTRY.get_sample_value("examengine_sweeper_lag_seconds_count") or 0
    async with AsyncTestClient(app=create_app(settings)) as client:
        closed_at = await wait_closed(sessions, attempt, timeout_s=(deadline - now + 4000) / 1000)
        await asyncio.sleep(0.1)
        # ... and a metric: one more lag observed, and scraped at /metrics.
        assert REGISTRY.get_sample_value("examengine_sweeper_lag_seconds_count") == lags_before + 1
        assert "examengine_sweeper_lag_seconds_bucket" in (await client.get("/metrics")).text
    assert closed_at - deadline <= WITHIN_MS
    row = state_of(sessions, attempt)
    assert (row.state, row.finished_ms, row.passed) == ("expired", deadline, False)
    # The close's own time is stored beside the deadline: the sweeper's lag is data.
    assert row.closed_ms is not None
    assert deadline <= row.closed_ms <= closed_at


async def test_the_sweeper_follows_the_apps_clock_and_grades_auto_submit_attempts(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    clock = ManualClock(1_795_000_000_000)
    deadline = clock.now_ms() + 60_000
    attempt = open_attempt(sessions, now=clock.now_ms(), deadline=deadline, expiry="auto_submit")
    async with AsyncTestClient(app=create_app(settings, clock=clock)):
        await asyncio.sleep(0.7)  # a tick or more: not due yet
        assert state_of(sessions, attempt).state == "in_progress"
        clock.set(deadline)
        await wait_closed(sessions, attempt, timeout_s=WITHIN_MS / 1000)
    row = state_of(sessions, attempt)
    assert (row.state, row.finished_ms, row.score, row.max_score) == (
        "submitted", deadline, 0.0, 2.0,
    )  # fmt: skip
    assert row.closed_ms == deadline  # the app's clock, read once by the tick that closed it


def test_examengine_sweep_once_closes_what_is_due(
    settings: Settings, sessions: sessionmaker[Session], clean_environ: None
) -> None:
    now = SystemClock().now_ms()
    attempt = open_attempt(sessions, now=now, deadline=now - 10)
    env = {
        "EXAMENGINE_VAR_DIR": str(settings.var_dir),
        "EXAMENGINE_DATABASE_URL": settings.database.url,
    }
    outcome = CliRunner().invoke(main, ["sweep", "--once"], env=env)
    assert outcome.exit_code == 0, outcome.output
    assert outcome.output.strip() == "closed 1 attempt(s)"
    assert state_of(sessions, attempt).finished_ms == now - 10
