"""Deadline wave benchmark (decision 0021): ``--attempts`` open ``auto_submit`` attempts,
each with ``--answered`` saved answers, all due in the same second on PostgreSQL. How long
until every one is closed (state and finish time stored) and until every one is graded,
with one sweeper and with two sweepers at once (separate processes, as two API workers
run them), beside the baseline: the bare SQL UPDATE that closes the same rows and does
nothing else (the floor for any close). And, for the record, closing and grading in the
same batch (``attempts.sweep``: each batch closed and graded before the next, as the
sweeper did before the split).

    .venv/bin/python -m benchmarks.deadline_wave                 # 10,000 attempts (~2 min)
    .venv/bin/python -m benchmarks.deadline_wave --quick         # 200, batches of 50 (CI)

The guarantee it measures: every open attempt closed within 2 s of its deadline; results
graded within 5 s, each exactly once (checked after every run: nothing left open or
ungraded, one ``attempt_submitted`` event per attempt). The figures are the sweeper's
work alone, from the moment the tick starts; a tick starts at most ``sweep_interval_ms``
(500 ms) after the deadline.

PostgreSQL: ``EXAMENGINE_TEST_POSTGRES_URL`` (default postgresql://postgres@127.0.0.1/test);
a scratch database is created and dropped. Unreachable: a failure under ``CI=true``, else
``not measured``. Nothing here is a test: it prints a table; results go in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections.abc import Sequence
from multiprocessing.synchronize import Event

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from api.services import attempts, exams
from api.settings import DatabaseSettings
from api.store.db import make_engine, migrate, session_factory, transaction
from api.store.tables import Attempt as AttemptRow
from api.workers.sweeper import Sweeper
from benchmarks import common
from benchmarks.attempts import (
    AUTO,
    SECRET,
    T0,
    fake_attempts,
    postgres_database,
    postgres_server,
    run,
    setup,
)
from examengine.clock import ManualClock

#: Between waves: each wave's deadline is this much after the previous one's.
STEP_MS = 1_000_000


def sweeper_process(url: str, now: int, go: Event, out: multiprocessing.Queue[tuple[float, ...]],
                    together: bool, batch: int) -> None:  # fmt: skip
    """One sweeper in a process of its own: waits for ``go``, then one tick at ``now``;
    puts (started, closed, graded) wall-clock times and its counts."""
    engine = make_engine(DatabaseSettings(url=url))
    sweeper = Sweeper(session_factory(engine), ManualClock(now), interval_ms=500, batch=batch)
    try:
        go.wait()
        began = time.time()
        if together:  # the sweep before the split: each batch closed and graded at once
            changed = graded = 0
            while True:
                with transaction(sweeper.sessions) as session:
                    outcome = attempts.sweep(session, now=now, limit=batch)
                changed, graded = changed + outcome.changed, graded + outcome.graded
                if outcome.checked < batch:
                    break
            closed_at = time.time()
        else:
            changed = sweeper.close_pass(now)
            closed_at = time.time()
            graded = sweeper.grade_pass(now)
        out.put((began, closed_at, time.time(), float(changed), float(graded)))
    finally:
        engine.dispose()


def sweep_with(url: str, now: int, processes: int, *, batch: int, together: bool = False
               ) -> tuple[float, float, int, int]:  # fmt: skip
    """``processes`` sweepers at once: seconds until all closed, until all graded, and
    how many each pass changed in total."""
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    out: multiprocessing.Queue[tuple[float, ...]] = context.Queue()
    workers = [
        context.Process(target=sweeper_process, args=(url, now, go, out, together, batch))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    time.sleep(3.0)  # let them import and connect: only the tick is timed
    go.set()
    results = [out.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    began = min(r[0] for r in results)
    return (
        max(r[1] for r in results) - began,
        max(r[2] for r in results) - began,
        int(sum(r[3] for r in results)),
        int(sum(r[4] for r in results)),
    )


def bare_update(sessions: sessionmaker[Session], now: int) -> tuple[float, int]:
    """The baseline: one UPDATE closing every due row (no rule, no events, no grading)."""
    table = AttemptRow.metadata.tables[AttemptRow.__tablename__]
    began = time.perf_counter()
    with transaction(sessions) as session:
        result = session.execute(
            sa.update(table)
            .where(table.c.next_check_ms <= now, table.c.state.in_(("in_progress", "overdue")))
            .values(
                state="submitted",
                finished_ms=table.c.deadline_ms,
                closed_ms=now,
                next_check_ms=None,
            )
        )
        done = result.rowcount  # type: ignore[attr-defined]  # a CursorResult
    return time.perf_counter() - began, int(done)


def check_wave(sessions: sessionmaker[Session], ids: Sequence[str], *, graded: bool) -> None:
    """Every attempt of the wave closed (and graded), each with one submitted event."""
    table = AttemptRow.metadata.tables[AttemptRow.__tablename__]
    with transaction(sessions) as session:
        rows = session.execute(
            sa.select(table.c.state, table.c.score, table.c.next_check_ms).where(
                table.c.id.in_(list(ids))
            )
        ).all()
        assert all(r.state == "submitted" for r in rows), "an attempt was left open"
        if graded:
            assert all(r.score is not None and r.next_check_ms is None for r in rows)
            events = session.execute(
                sa.text(
                    "SELECT count(*) FROM attempt_event WHERE kind = 'attempt_submitted'"
                    " AND attempt_id = ANY(:ids)"
                ),
                {"ids": list(ids)},
            ).scalar_one()
            assert events == len(ids), f"{events} grades for {len(ids)} attempts"


def bench(url: str, args: argparse.Namespace) -> list[tuple[str, str]]:
    migrate(url)
    exams.COMPILED.clear()
    attempts.ITEMS.clear()
    engine = make_engine(DatabaseSettings(url=url))
    sessions = session_factory(engine)
    rows: list[tuple[str, str]] = []
    try:
        [learner, _] = setup(sessions, 1)
        paper = run(sessions, lambda s: attempts.start(
            s, learner_id=learner, exam=AUTO, practice=False, device="d", now=T0,
            secret=SECRET))  # fmt: skip
        template = run(sessions, lambda s: s.get(AttemptRow, paper.attempt))
        assert template is not None
        n = args.attempts
        deadline, number = T0, 1000

        def wave() -> tuple[int, list[str]]:
            nonlocal deadline, number
            deadline += STEP_MS
            ids = fake_attempts(sessions, learner, template, n, first=number, exam=AUTO,
                                policy="auto_submit", deadline=deadline,
                                answered=args.answered)  # fmt: skip
            number += n
            return deadline + 500, ids  # every row due (deadlines within ±500 ms)

        now, ids = wave()
        took, done = bare_update(sessions, now)
        assert done == n, done
        check_wave(sessions, ids, graded=False)
        rows.append(("baseline: one bare SQL UPDATE (close only, no rule, no events)",
                     f"{took:.2f} s"))  # fmt: skip
        for label, processes, together in (
            ("close and grade in the same batch (before the split), 1 sweeper", 1, True),
            ("close first, then grade: 1 sweeper", 1, False),
            ("close first, then grade: 2 sweepers at once", 2, False),
        ):
            now, ids = wave()
            closed_s, graded_s, changed, graded = sweep_with(
                url, now, processes, batch=args.batch, together=together
            )
            assert changed == n and graded == n, (changed, graded)
            check_wave(sessions, ids, graded=True)
            rows.append((f"{label}: all closed", f"{closed_s:.2f} s"))
            rows.append((f"{label}: all graded", f"{graded_s:.2f} s"))
    finally:
        engine.dispose()
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = common.parser("benchmarks.deadline_wave", __doc__)
    parser.add_argument("--attempts", type=int, default=10_000)
    parser.add_argument("--answered", type=int, default=10)
    parser.add_argument("--batch", type=int, default=attempts.SWEEP_BATCH)
    args = common.parse(parser, argv, {"attempts": 200, "answered": 3, "batch": 50})
    server = postgres_server()
    if server is None:
        print("not measured: the PostgreSQL server is unreachable")
        return
    with postgres_database(server) as url:
        rows = bench(url, args)
    common.table(
        f"{args.attempts:,} auto_submit attempts due in the same second, {args.answered} "
        f"saved answers each, PostgreSQL, batches of {args.batch} ({common.load()})",
        ("what", "seconds from the tick's start"),
        rows,
    )


if __name__ == "__main__":
    main()
