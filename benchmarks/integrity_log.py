"""The integrity log: what chaining costs the study tick's writes, and how fast a million
entries are verified — on SQLite and PostgreSQL, beside the floor under each, in one run.

    .venv/bin/python -m benchmarks.integrity_log [--entries 1000000] [--mode sqlite|postgres|both]
    .venv/bin/python -m benchmarks.integrity_log --quick      # tiny sizes, seconds (CI)

- **append while studying**: ``--ticks`` transactions of ``--batch`` study events each,
  spread over ``--learners`` learners, as the study ticker stores a tick: the events'
  ``study_event`` rows and their integrity-log entries (``log.append``: the heads read
  and locked, the entries hashed and inserted, the heads updated). **Baseline**: the same
  ``study_event`` rows alone in one ``executemany`` per tick — what the tick wrote before
  the chain, the floor of storing the events at all.
- **verify**: ``--entries`` entries in ``--learners`` chains with a signed checkpoint over
  every head, checked by ``audit.verify`` (every entry rehashed and linked, every head
  compared, the checkpoint's signature and Merkle root recomputed). **Baseline**: the
  same rows streamed from the database with no checking — the floor of reading the log —
  and, beside it, the core's ``first_break`` over the entries already in memory.

Nothing here is a test: it prints a table; results go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.services.evidence import audit, checkpoints, log
from api.settings import DatabaseSettings
from api.store.db import make_engine, migrate, session_factory, transaction
from api.store.tables import Chapter, Course, IntegrityEntry, IntegrityHead, StudyEvent, User
from benchmarks import common
from benchmarks.attempts import postgres_database
from examengine import integrity, signing

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
KEY = signing.SigningKey.from_secret("benchmark signing secret " + "b" * 20)
_STUDY_EVENT = StudyEvent.metadata.tables["study_event"]
_ENTRY = IntegrityEntry.metadata.tables["integrity_entry"]
_HEAD = IntegrityHead.metadata.tables["integrity_head"]
EVENT_DATA = '{"at_ms":1,"event":"challenge_passed","seq":3,"token":"t"}'


def prepare(url: str, learners: int) -> tuple[list[int], int]:
    """``learners`` accounts and one chapter; their ids and the chapter's."""
    migrate(url)
    engine = make_engine(DatabaseSettings(url=url))
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.insert(User),
                [
                    {
                        "login": f"bench-{n}",
                        "display_name": "学员",
                        "password_hash": "x",
                        "roles": ["learner"],
                        "must_change_password": False,
                        "created_at": NOW,
                        "session_generation": 0,
                    }
                    for n in range(learners)
                ],
            )
            connection.execute(sa.insert(Course).values(key="c", title="课程", created_at=NOW))
            connection.execute(
                sa.insert(Chapter).values(
                    course_id=connection.execute(sa.select(Course.id)).scalar_one(),  # type: ignore[call-overload]
                    key="c-1",
                    title="第一章",
                    position=1,
                    duration_ms=3_600_000,
                    credit_hours=1.0,
                )
            )
            chapter = connection.execute(sa.select(Chapter.id)).scalar_one()  # type: ignore[call-overload]
            ids = list(connection.execute(sa.select(User.id).order_by(User.id)).scalars())  # type: ignore[call-overload]
        return ids, int(chapter)
    finally:
        engine.dispose()


def _learners(learners: Sequence[int], tick: int, batch: int) -> list[int]:
    """Whose events a tick stores: ``batch`` learners in turn."""
    return [learners[(tick * batch + n) % len(learners)] for n in range(batch)]


def append_ticks(
    engine: Engine, learners: Sequence[int], chapter: int, ticks: int, batch: int, *, chained: bool
) -> list[float]:
    """Seconds of each tick's transaction."""
    sessions = session_factory(engine)
    times = []
    for tick in range(ticks):
        whose = _learners(learners, tick, batch)
        at = NOW_MS + tick * 1000
        started = time.perf_counter()
        with transaction(sessions) as session:
            session.execute(
                sa.insert(_STUDY_EVENT),
                [
                    {
                        "learner_id": learner,
                        "chapter_id": chapter,
                        "cycle": 1,
                        "kind": "challenge_passed",
                        "seq": tick,
                        "at_ms": at,
                        "data": EVENT_DATA,
                    }
                    for learner in whose
                ],
            )
            if chained:
                log.append(
                    session,
                    [
                        integrity.NewEntry(
                            learner=learner,
                            at_ms=at,
                            kind="challenge_passed",
                            ref=f"chapter:{chapter}:1",
                            data=EVENT_DATA,
                        )
                        for learner in whose
                    ],
                )
        times.append(time.perf_counter() - started)
    return times


def fill_log(engine: Engine, learners: Sequence[int], entries: int) -> list[integrity.Entry]:
    """``entries`` chained entries over ``learners`` (inserted with Core, heads set), one
    checkpoint over every head; the entries, for the in-memory check."""
    per = entries // len(learners)
    chains: list[integrity.Entry] = []
    with engine.begin() as connection:
        connection.execute(sa.delete(_ENTRY))
        connection.execute(sa.delete(_HEAD))
        for learner in learners:
            chain = integrity.extend(
                None,
                [
                    integrity.NewEntry(
                        learner=learner,
                        at_ms=NOW_MS + i,
                        kind="challenge_passed",
                        ref="chapter:1:1",
                        data=EVENT_DATA,
                    )
                    for i in range(per)
                ],
            )
            chains.extend(chain)
        for offset in range(0, len(chains), 20_000):
            connection.execute(
                sa.insert(_ENTRY),
                [
                    {
                        "learner_id": e.learner,
                        "seq": e.seq,
                        "at_ms": e.at_ms,
                        "kind": e.kind,
                        "ref": e.ref,
                        "data": e.data,
                        "prev": e.prev,
                        "hash": e.hash,
                    }
                    for e in chains[offset : offset + 20_000]
                ],
            )
        last = {e.learner: e for e in chains}
        connection.execute(
            sa.insert(_HEAD),
            [
                {"learner_id": e.learner, "seq": e.seq, "hash": e.hash, "pending": True}
                for e in last.values()
            ],
        )
    with transaction(session_factory(engine)) as session:
        checkpoints.make_checkpoint(session, KEY, now=NOW_MS)
    return chains


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def read_floor(engine: Engine) -> None:
    with engine.connect() as connection:
        result = connection.execution_options(yield_per=10_000).execute(
            sa.select(
                _ENTRY.c.learner_id,
                _ENTRY.c.seq,
                _ENTRY.c.at_ms,
                _ENTRY.c.kind,
                _ENTRY.c.ref,
                _ENTRY.c.data,
                _ENTRY.c.prev,
                _ENTRY.c.hash,
            ).order_by(_ENTRY.c.learner_id, _ENTRY.c.seq)
        )
        for _ in result:
            pass


def verify(engine: Engine) -> None:
    with Session(engine) as session:
        report = audit.verify(session, {KEY.kid: KEY.verify_key})
    assert report.ok, report.findings[:3]


def in_memory(chains: list[integrity.Entry]) -> None:
    learner, start = chains[0].learner, 0
    for i, entry in enumerate(chains):
        if entry.learner != learner:
            assert integrity.first_break(chains[start:i], learner=learner) is None
            learner, start = entry.learner, i
    assert integrity.first_break(chains[start:], learner=learner) is None


def measure(mode: str, url: str, args: argparse.Namespace) -> list[tuple[str, ...]]:
    learners, chapter = prepare(url, args.learners)
    engine = make_engine(DatabaseSettings(url=url))
    rows: list[tuple[str, ...]] = []
    try:
        plain = append_ticks(engine, learners, chapter, args.ticks, args.batch, chained=False)
        ours = append_ticks(engine, learners, chapter, args.ticks, args.batch, chained=True)
        p, o = statistics.median(plain), statistics.median(ours)
        rows.append(
            (
                mode,
                f"append: {args.batch} study events a tick, {args.ticks} ticks",
                f"{args.batch / o:,.0f} events/s ({o * 1000:.1f} ms a tick)",
                f"{args.batch / p:,.0f} events/s ({p * 1000:.1f} ms)",
                f"{o / p:.2f}×",
            )
        )
        chains = fill_log(engine, learners, args.entries)
        floor = timed(lambda: read_floor(engine))
        ours_s = timed(lambda: verify(engine))
        memory = timed(lambda: in_memory(chains))
        n = len(chains)
        rows.append(
            (
                mode,
                f"verify {n:,} entries in {len(learners):,} chains + 1 checkpoint",
                f"{ours_s:.2f} s ({n / ours_s:,.0f} entries/s)",
                f"read only {floor:.2f} s; core in memory {memory:.2f} s",
                f"{ours_s / floor:.2f}× the read",
            )
        )
    finally:
        engine.dispose()
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = common.parser("benchmarks.integrity_log", __doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=40)
    parser.add_argument("--mode", choices=("sqlite", "postgres", "both"), default="both")
    args = common.parse(parser, argv, {"entries": 2000, "learners": 40, "batch": 50, "ticks": 3})
    rows: list[tuple[str, ...]] = []
    with ExitStack() as stack:
        if args.mode in ("sqlite", "both"):
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            rows += measure("SQLite", f"sqlite:///{folder / 'bench.db'}", args)
        if args.mode in ("postgres", "both"):
            try:
                url = stack.enter_context(postgres_database(common.postgres_url()))
            except Exception as exc:  # any connection failure
                common.not_measured("PostgreSQL", exc, common.POSTGRES_HELP)
            else:
                rows += measure("PostgreSQL", url, args)
    common.table(
        f"Integrity log ({common.load()})",
        ("database", "what", "ours", "baseline", "ours ÷ baseline"),
        rows,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
