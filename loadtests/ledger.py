"""The ledger check after a load run: what the server acknowledged is what it stored.

- every acknowledged save is stored (an answer step of that attempt, item and sequence
  number) with the value that was sent;
- every attempt a learner submitted is graded, once (one ``attempt_submitted`` event);
- no attempt is open more than 2 s past its deadline (or its grace), and the sweeper's
  lag (the close stored minus the deadline) is reported.

Reads the database as an auditor would, with SQL of its own (it imports nothing of the
app): ``python -m loadtests.ledger DATABASE_URL LEDGER.jsonl …``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

#: An attempt still open this long after its deadline (and grace) is a failure.
OPEN_PAST_DEADLINE_MS = 2000


@dataclass
class Report:
    saves: int = 0
    starts: int = 0
    submits: int = 0
    closed_by_clock: int = 0
    lags_ms: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lag(self, share: float) -> int | None:
        if not self.lags_ms:
            return None
        ordered = sorted(self.lags_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def summary(self) -> str:
        verdict = "ok" if self.ok else f"{len(self.problems)} problem(s)"
        lags = (
            f"; sweeper lag p50 {self.lag(0.5)} ms, p99 {self.lag(0.99)} ms, "
            f"max {max(self.lags_ms)} ms over {len(self.lags_ms)} closes"
            if self.lags_ms
            else ""
        )
        return (
            f"ledger {verdict}: {self.saves} acknowledged saves stored with their values, "
            f"{self.submits} submits graded once, {self.starts} attempts started, "
            f"{self.closed_by_clock} closed by the clock{lags}"
        )


def read_ledger(paths: Iterable[Path]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            entries += [json.loads(line) for line in handle if line.strip()]
    return entries


def check(database_url: str, entries: Sequence[dict[str, Any]], *, now_ms: int) -> Report:
    """The three checks over the ledger's ``entries`` and the database."""
    report = Report()
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as db:
            _check_saves(db, [e for e in entries if e["kind"] == "save"], report)
            _check_submits(db, [e for e in entries if e["kind"] == "submit"], report)
            started = [e["attempt"] for e in entries if e["kind"] == "start"]
            report.starts = len(started)
            _check_closes(db, now_ms=now_ms, report=report)
    finally:
        engine.dispose()
    return report


def _check_saves(db: sa.Connection, saves: Sequence[dict[str, Any]], report: Report) -> None:
    stored: dict[tuple[str, str, int], Any] = {}
    attempts = sorted({s["attempt"] for s in saves})
    for start in range(0, len(attempts), 500):
        rows = db.execute(
            sa.text(
                "SELECT attempt_id, item_key, seq, response FROM answer_step"
                " WHERE attempt_id IN :ids"
            ).bindparams(sa.bindparam("ids", expanding=True)),
            {"ids": attempts[start : start + 500]},
        )
        for attempt, item, seq, response in rows:
            stored[(attempt, item, seq)] = json.loads(response)
    for save in saves:
        key = (save["attempt"], save["item"], save["seq"])
        if key not in stored:
            report.problems.append(f"acknowledged save not stored: {key}")
        elif stored[key] != save["response"]:
            report.problems.append(
                f"save {key} stored as {stored[key]!r}, sent {save['response']!r}"
            )
        else:
            report.saves += 1


def _check_submits(db: sa.Connection, submits: Sequence[dict[str, Any]], report: Report) -> None:
    for submit in submits:
        row = db.execute(
            sa.text(
                "SELECT a.state, a.score, (SELECT count(*) FROM attempt_event e"
                " WHERE e.attempt_id = a.id AND e.kind = 'attempt_submitted')"
                " FROM attempt a WHERE a.id = :id"
            ),
            {"id": submit["attempt"]},
        ).one_or_none()
        if row is None or row[0] != "submitted" or row[1] is None or row[2] != 1:
            report.problems.append(f"submitted attempt {submit['attempt']} stored as {row}")
        else:
            report.submits += 1


def _check_closes(db: sa.Connection, *, now_ms: int, report: Report) -> None:
    rows = db.execute(
        sa.text(
            "SELECT id, state, deadline_ms + grace_ms, finished_ms, closed_ms FROM attempt"
            " WHERE deadline_ms + grace_ms < :cutoff"
        ),
        {"cutoff": now_ms - OPEN_PAST_DEADLINE_MS},
    )
    for attempt, state, due_ms, finished_ms, closed_ms in rows:
        if state in ("in_progress", "overdue"):
            report.problems.append(f"attempt {attempt} still {state} {now_ms - due_ms} ms late")
        elif state == "expired" or (closed_ms is not None and finished_ms == due_ms):
            report.closed_by_clock += 1
            if closed_ms is not None:
                lag = closed_ms - due_ms
                report.lags_ms.append(lag)
                if lag > OPEN_PAST_DEADLINE_MS:
                    report.problems.append(f"attempt {attempt} closed {lag} ms after its deadline")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("database_url")
    parser.add_argument("ledgers", nargs="+", type=Path)
    args = parser.parse_args(argv)
    report = check(args.database_url, read_ledger(args.ledgers), now_ms=int(time.time() * 1000))
    print(report.summary())
    for problem in report.problems[:50]:
        print(f"  {problem}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
