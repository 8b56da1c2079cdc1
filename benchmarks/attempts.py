"""Attempts benchmark: the attempt service's write paths on SQLite and on PostgreSQL, and
the sweeper beside a baseline, in one run.

    .venv/bin/python -m benchmarks.attempts [--learners 300] [--saves 2000] [--expiring 10000]
    .venv/bin/python -m benchmarks.attempts --quick      # tiny sizes, seconds (CI)

Measured, through ``api.services`` (each operation its own transaction, one thread, so
the figures are per writer):

- attempts started per second, the paper assembled at start (``attempts.start``), and
  with papers pre-assembled (``exams.preassemble``);
- answer saves per second (``attempts.save_answers``), one change per request, and
  batches of ten;
- the sweeper's time (``api.workers.sweeper.Sweeper.run_once``) to close ``--expiring``
  attempts that expire in the same second, ``expire_fail``, and ``auto_submit`` grading
  ten saved answers each.

Baseline: for the sweeper, closing the expired attempts one request at a time (a
heartbeat after the deadline), as a read-triggered close (Canvas, Open edX) would; it
closes a tenth as many and the table extrapolates. Starts and saves have no outside
baseline: each is shown both ways above, on both backends.

``--quick``: 4 learners, 40 saves, 50 expiring attempts on both backends: every code path
above in a few seconds; the figures mean nothing.

PostgreSQL: ``EXAMENGINE_TEST_POSTGRES_URL`` (default postgresql://postgres@127.0.0.1/test);
a scratch database is created and dropped. When it is unreachable the run fails under
``CI=true``, and elsewhere prints ``not measured`` for PostgreSQL (``--backends sqlite``
leaves it out). Nothing here is a test: it prints a table, and results go in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import msgspec
import psycopg
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col

from api.services import attempts, banks, exams
from api.settings import DatabaseSettings
from api.store.db import make_engine, migrate, session_factory, transaction
from api.store.tables import AnswerStep, User
from api.store.tables import Attempt as AttemptRow
from api.store.tables import Paper as PaperRow
from api.workers.sweeper import Sweeper
from benchmarks import common
from examengine.assembly import Paper
from examengine.blueprint import ExamSpec
from examengine.clock import ManualClock

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
T0 = 1_795_000_000_000
SECRET = b"benchmark-paper-secret-0123456789abcdef"
BANK = "bench"
EXAM = "bench-exam"
AUTO = "bench-exam-auto"


def bank_yaml(per_topic: int = 100) -> bytes:
    """600 items: single choice and true/false on three topics, bands 1–5."""
    lines = ["format: examengine-bank", "items:"]
    for topic in ("law", "economy", "security"):
        for n in range(per_topic):
            lines += [
                f"  - key: {topic}-s{n}", "    kind: single", f"    topic: {topic}",
                f"    difficulty: {{band: {n % 5 + 1}}}", f"    stem: {topic} single {n}",
                "    options: [{text: a, correct: true}, {text: b}, {text: c}, {text: d}]",
                f"  - key: {topic}-t{n}", "    kind: true_false", f"    topic: {topic}",
                f"    difficulty: {{band: {n % 5 + 1}}}", f"    stem: {topic} true/false {n}",
                "    answer: true",
            ]  # fmt: skip
    return "\n".join(lines).encode()


def spec(key: str, expiry: str = "expire_fail") -> ExamSpec:
    """A 30-item paper (20 single choice, 10 true/false), 120 minutes."""
    return msgspec.convert(
        {
            "key": key, "title": key, "bank": BANK, "bank_version": 1, "expiry": expiry,
            "sections": [
                {"title": "single", "kind": "single", "count": 20, "points": 3},
                {"title": "true/false", "kind": "true_false", "count": 10, "points": 4},
            ],
        },
        ExamSpec,
    )  # fmt: skip


def postgres_server() -> str | None:
    """The PostgreSQL server's conninfo, or None (said so) when it is unreachable."""
    url = make_url(common.postgres_url()).set(drivername="postgresql")
    conninfo = url.render_as_string(hide_password=False)
    try:
        with psycopg.connect(conninfo, connect_timeout=5):
            return conninfo
    except psycopg.OperationalError as error:
        common.not_measured(f"PostgreSQL at {url!r}", error, common.POSTGRES_HELP)
        return None


@contextmanager
def postgres_database(conninfo: str) -> Iterator[str]:
    """A scratch database on the server at ``conninfo``, dropped afterwards; its URL."""
    name = f"examengine_bench_{secrets.token_hex(4)}"
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(conninfo).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


T = TypeVar("T")


def run(sessions: sessionmaker[Session], fn: Callable[[Session], T]) -> T:
    """``fn`` in a transaction of its own."""
    with transaction(sessions) as session:
        return fn(session)


def setup(sessions: sessionmaker[Session], learners: int) -> list[int]:
    """The bank, two published exams, ``learners`` enrolled learners (+1 for the sweep)."""
    with transaction(sessions) as s:
        banks.import_file(s, data=bank_yaml(), source="b.yaml", bank=BANK, now=NOW)
        banks.publish(s, bank=BANK, version=1, now=NOW)
        for exam_spec in (spec(EXAM), spec(AUTO, "auto_submit")):
            saved = exams.save_spec(s, exam_spec, now=NOW)
            exams.publish(s, exam=exam_spec.key, version=saved.version.version, now=NOW)
        s.execute(
            sa.insert(User),
            [
                {"login": f"1380000{n:04d}", "display_name": f"l{n}", "password_hash": "x",
                 "roles": ["learner"], "must_change_password": False, "created_at": NOW}
                for n in range(learners + 1)
            ],
        )  # fmt: skip
        ids = [int(i) for i in s.execute(sa.select(col(User.id)).order_by(col(User.id))).scalars()]
        for learner in ids:
            for exam in (EXAM, AUTO):
                attempts.enroll(s, learner_id=learner, exam=exam, study_met=True, now=T0)
    return ids


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


def bench_backend(name: str, url: str, args: argparse.Namespace) -> list[tuple[str, str, str]]:
    migrate(url)
    exams.COMPILED.clear()
    attempts.ITEMS.clear()
    engine = make_engine(DatabaseSettings(url=url))
    sessions = session_factory(engine)
    rows: list[tuple[str, str, str]] = []
    try:
        ids = setup(sessions, args.learners)
        learners, sweeper_learner = ids[:-1], ids[-1]
        half = len(learners) // 2

        # --- starts: paper assembled at start (first half) vs pre-assembled (second half)
        def start(learner: int, exam: str = EXAM) -> attempts.PaperView:
            return run(sessions, lambda s: attempts.start(
                s, learner_id=learner, exam=exam, practice=False, device="d", now=T0,
                secret=SECRET))  # fmt: skip

        run(sessions, lambda s: exams.sample_paper(s, secret=SECRET, exam=EXAM))  # compile once
        began = time.perf_counter()
        papers = [start(learner) for learner in learners[:half]]
        assembled = time.perf_counter() - began
        rows.append((name, f"start, paper assembled at start ({half})", rate(half, assembled)))
        run(sessions, lambda s: exams.preassemble(
            s, exam=EXAM, learners=[str(i) for i in learners[half:]], attempt=1, secret=SECRET,
            now=NOW))  # fmt: skip
        began = time.perf_counter()
        papers += [start(learner) for learner in learners[half:]]
        pre = time.perf_counter() - began
        rows.append((name, f"start, paper pre-assembled ({len(learners) - half})",
                     rate(len(learners) - half, pre)))  # fmt: skip

        # --- saves: one change per request, then batches of ten
        with transaction(sessions) as s:
            owners = {a.id: a.learner_id for a in s.execute(sa.select(AttemptRow)).scalars()}

        def save_fast(paper: attempts.PaperView, batch: list[attempts.Save], now: int) -> None:
            run(sessions, lambda s: attempts.save_answers(
                s, learner_id=owners[paper.attempt], attempt_id=paper.attempt, saves=batch,
                device="d", now=now))  # fmt: skip

        began = time.perf_counter()
        for n in range(args.saves):
            paper = papers[n % len(papers)]
            seq = n // len(papers) + 1
            item = paper.items[seq % len(paper.items)]
            response = "a" if item.kind == "single" else True
            save_fast(paper, [attempts.Save(item=item.item, seq=seq, response=response)], T0 + n)
        single = time.perf_counter() - began
        rows.append((name, f"save, 1 change per request ({args.saves})", rate(args.saves, single)))
        requests = args.saves // 10
        began = time.perf_counter()
        for n in range(requests):
            paper = papers[n % len(papers)]
            base = 1000 + (n // len(papers)) * 10
            batch = [attempts.Save(item=i.item, seq=base + k, response="a" if i.kind == "single" else True)
                     for k, i in enumerate(paper.items[:10])]  # fmt: skip
            save_fast(paper, batch, T0 + n)
        batched = time.perf_counter() - began
        rows.append((name, f"save, batches of 10 ({requests} requests)",
                     rate(requests * 10, batched) + " saves"))  # fmt: skip

        # --- the sweeper: N attempts expiring in the same second
        rows += bench_sweep(name, sessions, sweeper_learner, papers[0], args)
    finally:
        engine.dispose()
    return rows


def fake_attempts(sessions: sessionmaker[Session], learner: int, template: AttemptRow,
                  count: int, *, first: int, exam: str, policy: str, deadline: int,
                  answered: int = 0) -> list[str]:  # fmt: skip
    """``count`` open practice attempts on ``template``'s paper, all due at ``deadline``
    (±500 ms), each with ``answered`` saved answers; bulk-inserted."""
    ids = [secrets.token_hex(16) for _ in range(count)]
    values = [
        {"id": attempt_id, "learner_id": learner, "exam_key": exam,
         "exam_version_id": template.exam_version_id, "paper_id": template.paper_id,
         "number": first + n, "cycle": 1, "practice": True, "state": "in_progress",
         "policy": policy, "grace_ms": 0, "started_ms": deadline - 7_200_000,
         "deadline_ms": deadline - 500 + n % 1000, "next_check_ms": deadline - 500 + n % 1000,
         "device": "d", "last_seq": answered, "reason": ""}
        for n, attempt_id in enumerate(ids)
    ]  # fmt: skip
    paper = run(sessions, lambda s: stored_paper(s, template.paper_id))
    with transaction(sessions) as s:
        for start in range(0, count, 2000):
            s.execute(sa.insert(AttemptRow), values[start : start + 2000])
        if answered:
            steps = [
                {"attempt_id": attempt_id, "item_key": entry.key, "seq": k + 1,
                 "response": '"a"', "saved_ms": deadline - 60_000, "device": "d"}
                for attempt_id in ids
                for k, entry in enumerate(paper.items[:answered])
            ]  # fmt: skip
            for start in range(0, len(steps), 5000):
                s.execute(sa.insert(AnswerStep), steps[start : start + 5000])
    return ids


def stored_paper(session: Session, paper_id: int) -> Paper:
    """The paper record of ``paper_id``, as the service stored it."""
    row = session.get(PaperRow, paper_id)
    assert row is not None, paper_id
    return msgspec.json.decode(row.content, type=Paper)


def bench_sweep(name: str, sessions: sessionmaker[Session], learner: int,
                paper: attempts.PaperView, args: argparse.Namespace) -> list[tuple[str, str, str]]:  # fmt: skip
    rows = []
    template = run(sessions, lambda s: s.get(AttemptRow, paper.attempt))
    assert template is not None, paper.attempt
    deadline = T0  # + 1, 2, 3 × 1,000 s: all before the started attempts' deadlines
    number = 1000
    for exam, policy, answered in ((EXAM, "expire_fail", 0), (AUTO, "auto_submit", 10)):
        deadline += 1_000_000
        fake_attempts(sessions, learner, template, args.expiring, first=number, exam=exam,
                      policy=policy, deadline=deadline, answered=answered)  # fmt: skip
        number += args.expiring
        sweeper = Sweeper(sessions, ManualClock(deadline + 500), interval_ms=500)
        began = time.perf_counter()
        closed = sweeper.run_once()
        took = time.perf_counter() - began
        assert closed == args.expiring, closed
        what = "graded from 10 saved answers" if answered else "no grading"
        rows.append((name, f"sweeper: {args.expiring:,} due in 1 s, {policy} ({what})",
                     f"{took:.2f} s ({rate(closed, took)})"))  # fmt: skip

    # the baseline: each closed by its own request (a heartbeat after the deadline)
    deadline += 1_000_000
    count = max(1, args.expiring // 10)
    ids = fake_attempts(sessions, learner, template, count, first=number, exam=EXAM,
                        policy="expire_fail", deadline=deadline)  # fmt: skip
    began = time.perf_counter()
    for attempt_id in ids:
        with transaction(sessions) as s:
            attempts.heartbeat(
                s, learner_id=learner, attempt_id=attempt_id, device="d", now=deadline + 500
            )
    took = time.perf_counter() - began
    rows.append((name, f"baseline: {count:,} closed one request each",
                 f"{took:.2f} s ({rate(count, took)}; {args.expiring:,} ≈ "
                 f"{took * args.expiring / count:.1f} s)"))  # fmt: skip
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = common.parser("benchmarks.attempts", __doc__)
    parser.add_argument("--learners", type=int, default=300)
    parser.add_argument("--saves", type=int, default=2000)
    parser.add_argument("--expiring", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = common.parse(parser, argv, {"learners": 4, "saves": 40, "expiring": 50})
    rows: list[tuple[str, str, str]] = []
    wanted = args.backends.split(",")
    if "sqlite" in wanted:
        with tempfile.TemporaryDirectory() as tmp:
            rows += bench_backend("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", args)
    if "postgres" in wanted:
        server = postgres_server()
        if server is None:
            rows.append(("PostgreSQL", "not measured: the server is unreachable", ""))
        else:
            with postgres_database(server) as url:
                rows += bench_backend("PostgreSQL", url, args)
    width = max(len(r[1]) for r in rows)
    print(f"{'backend':<11} {'operation':<{width}}  result")
    for backend, operation, result in rows:
        print(f"{backend:<11} {operation:<{width}}  {result}")


if __name__ == "__main__":
    main()
