"""Start benchmark (decision 0021): starting an attempt with the paper assembled at the
start and with papers pre-assembled before the exam opens (``attempts.preassemble``,
``examengine exam preassemble``), on SQLite and on PostgreSQL, in one run.

    .venv/bin/python -m benchmarks.start [--learners 400]
    .venv/bin/python -m benchmarks.start --quick       # 6 learners, seconds (CI)

For each backend: half the learners start with no stored paper (the baseline: the paper
is assembled and inserted inside the start), the other half after their papers were
pre-assembled; the table gives starts per second (one thread, one transaction each, so
the figures are per writer), the SQL statements a start sends (counted, not timed) and
the pre-assembly's own rate. It also checks that each pre-assembled start used the
stored paper (no paper row inserted during those starts).

PostgreSQL: ``EXAMENGINE_TEST_POSTGRES_URL`` (default postgresql://postgres@127.0.0.1/test);
a scratch database is created and dropped; unreachable: a failure under ``CI=true``,
else ``not measured``. Nothing here is a test: it prints a table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from api.services import attempts, exams
from api.settings import DatabaseSettings
from api.store.db import make_engine, migrate, session_factory
from api.store.tables import Paper as PaperRow
from benchmarks import common
from benchmarks.attempts import (
    EXAM,
    SECRET,
    T0,
    postgres_database,
    postgres_server,
    rate,
    run,
    setup,
)


class Statements:
    """Counts the statements an engine sends (SQLAlchemy's ``before_cursor_execute``)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.count = 0
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: Any) -> None:
        self.count += 1


def papers(sessions: sessionmaker[Session]) -> int:
    return int(run(sessions, lambda s: s.execute(
        sa.select(sa.func.count()).select_from(PaperRow)).scalar_one()))  # fmt: skip


def bench_backend(name: str, url: str, args: argparse.Namespace) -> list[tuple[str, ...]]:
    migrate(url)
    exams.COMPILED.clear()
    attempts.ITEMS.clear()
    engine = make_engine(DatabaseSettings(url=url))
    sessions = session_factory(engine)
    statements = Statements(engine)
    rows: list[tuple[str, ...]] = []
    try:
        learners = setup(sessions, args.learners)[:-1]
        half = len(learners) // 2
        run(sessions, lambda s: exams.sample_paper(s, secret=SECRET, exam=EXAM))  # compile once

        def start(learner: int) -> None:
            run(sessions, lambda s: attempts.start(
                s, learner_id=learner, exam=EXAM, practice=False, device="d", now=T0,
                secret=SECRET))  # fmt: skip

        def timed(group: Sequence[int]) -> tuple[float, float]:
            before = statements.count
            began = time.perf_counter()
            for learner in group:
                start(learner)
            took = time.perf_counter() - began
            return took, (statements.count - before) / len(group)

        took, per_start = timed(learners[:half])
        rows.append((name, f"start, paper assembled at start ({half})", rate(half, took),
                     f"{per_start:.0f}"))  # fmt: skip
        logins = [f"1380000{n:04d}" for n in range(half, len(learners))]
        began = time.perf_counter()
        outcome = run(sessions, lambda s: attempts.preassemble(
            s, exam=EXAM, secret=SECRET, now=T0, logins=logins))  # fmt: skip
        took = time.perf_counter() - began
        rows.append((name, f"exam preassemble ({outcome.built} papers)",
                     rate(outcome.built, took) + " papers", ""))  # fmt: skip
        stored = papers(sessions)
        took, per_start = timed(learners[half:])
        assert papers(sessions) == stored, "a pre-assembled start built a paper"
        rest = len(learners) - half
        rows.append((name, f"start, paper pre-assembled ({rest})", rate(rest, took),
                     f"{per_start:.0f}"))  # fmt: skip
    finally:
        engine.dispose()
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = common.parser("benchmarks.start", __doc__)
    parser.add_argument("--learners", type=int, default=400)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = common.parse(parser, argv, {"learners": 6})
    rows: list[tuple[str, ...]] = []
    wanted = args.backends.split(",")
    if "sqlite" in wanted:
        with tempfile.TemporaryDirectory() as tmp:
            rows += bench_backend("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", args)
    if "postgres" in wanted:
        server = postgres_server()
        if server is None:
            rows.append(("PostgreSQL", "not measured: the server is unreachable", "", ""))
        else:
            with postgres_database(server) as url:
                rows += bench_backend("PostgreSQL", url, args)
    common.table(f"Starts, one writer ({common.load()})",
                 ("backend", "operation", "rate", "statements per start"), rows)  # fmt: skip


if __name__ == "__main__":
    main()
