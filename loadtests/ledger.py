"""The ledger check after a load run: what the server acknowledged is what it stored.

- every acknowledged save is stored (an answer step of that attempt, item and sequence
  number) with the value that was sent;
- every attempt a learner submitted is graded, once (one ``attempt_submitted`` event);
- no attempt is open more than 2 s past its deadline (or its grace), and the sweeper's
  lag (the close stored minus the deadline) is reported;
- every anti-idle challenge issued (a ``challenge_issued`` study event) is answered
  (``challenge_passed``) or recorded missed (``challenge_missed``), but for those whose
  answer window is still open; every answer the server queued (``ack``) is stored as
  passed;
- no study credit beyond the time that passed: a learner's credited time, over all
  their chapters (one session at a time), is at most the time since their first study
  session of the run started (``study_start``), and no chapter holds more than its length.

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
#: The service's default answer window of a challenge (``EXAMENGINE_CHALLENGE_WINDOW_S``).
DEFAULT_WINDOW_MS = 60_000
#: A challenge's miss is recorded by the tick after its window: this much later at most.
TICK_SLACK_MS = 3000


@dataclass
class Report:
    saves: int = 0
    starts: int = 0
    submits: int = 0
    closed_by_clock: int = 0
    lags_ms: list[int] = field(default_factory=list)
    challenges: int = 0
    answered: int = 0
    missed: int = 0
    pending: int = 0
    acks: int = 0
    credited_learners: int = 0
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
        study = (
            f"; {self.challenges} challenges issued: {self.answered} answered, {self.missed} "
            f"missed, {self.pending} still in their window; {self.acks} queued answers "
            f"stored as passed; {self.credited_learners} learners credited within the time "
            "that passed"
            if self.challenges or self.acks or self.credited_learners
            else ""
        )
        return (
            f"ledger {verdict}: {self.saves} acknowledged saves stored with their values, "
            f"{self.submits} submits graded once, {self.starts} attempts started, "
            f"{self.closed_by_clock} closed by the clock{lags}{study}"
        )


def read_ledger(paths: Iterable[Path]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            entries += [json.loads(line) for line in handle if line.strip()]
    return entries


def check(
    database_url: str, entries: Sequence[dict[str, Any]], *, now_ms: int,
    window_ms: int | None = None,
) -> Report:  # fmt: skip
    """The checks over the ledger's ``entries`` and the database. ``window_ms``: the
    challenges' answer window (default: each plan's policy, else the service's 60 s)."""
    report = Report()
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as db:
            _check_saves(db, [e for e in entries if e["kind"] == "save"], report)
            _check_submits(db, [e for e in entries if e["kind"] == "submit"], report)
            started = [e["attempt"] for e in entries if e["kind"] == "start"]
            report.starts = len(started)
            _check_closes(db, now_ms=now_ms, report=report)
            _check_challenges(db, entries, now_ms=now_ms, window_ms=window_ms, report=report)
            _check_credit(db, entries, now_ms=now_ms, report=report)
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


ChallengeKey = tuple[int, int, int, int, bool]  # learner, chapter, cycle, seq, closing


def _check_challenges(
    db: sa.Connection, entries: Sequence[dict[str, Any]], *, now_ms: int,
    window_ms: int | None, report: Report,
) -> None:  # fmt: skip
    """Every challenge issued is answered or recorded missed (counted per learner,
    chapter, cycle, number and kind: a chapter started again numbers from 1 again)."""
    issued: dict[ChallengeKey, list[int]] = {}
    resolved: dict[ChallengeKey, list[str]] = {}
    windows = _windows(db)
    rows = db.execute(
        sa.text(
            "SELECT e.learner_id, e.chapter_id, e.cycle, e.kind, e.seq, e.at_ms, e.data,"
            " pe.plan_id FROM study_event e"
            " LEFT JOIN chapter c ON c.id = e.chapter_id"
            " LEFT JOIN plan_course pc ON pc.course_id = c.course_id"
            " LEFT JOIN plan_enrollment pe ON pe.plan_id = pc.plan_id"
            "  AND pe.learner_id = e.learner_id"
            " WHERE e.kind IN ('challenge_issued', 'challenge_passed', 'challenge_missed')"
            " ORDER BY e.id"
        )
    )
    seen: set[tuple[int, int, int, str, int, int]] = set()
    plan_of: dict[ChallengeKey, int | None] = {}
    for learner, chapter, cycle, kind, seq, at_ms, data, plan in rows:
        closing = bool(json.loads(data).get("closing", False))
        key = (learner, chapter, cycle, int(seq or 0), closing)
        if (learner, chapter, cycle, kind, key[3], at_ms) in seen:
            continue  # the same event through two plans holding the course
        seen.add((learner, chapter, cycle, kind, key[3], at_ms))
        if kind == "challenge_issued":
            issued.setdefault(key, []).append(at_ms)
            plan_of[key] = plan
        else:
            resolved.setdefault(key, []).append(kind)
    for key, times in issued.items():
        outcomes = resolved.get(key, [])
        report.challenges += len(times)
        report.answered += outcomes.count("challenge_passed")
        report.missed += outcomes.count("challenge_missed")
        window = window_ms or windows.get(plan_of.get(key), DEFAULT_WINDOW_MS)
        for at_ms in sorted(times)[len(outcomes) :]:
            if at_ms + window + TICK_SLACK_MS > now_ms:
                report.pending += 1
            else:
                report.problems.append(
                    f"challenge {key} issued at {at_ms} neither answered nor recorded missed"
                )
        if len(outcomes) > len(times):
            report.problems.append(
                f"challenge {key}: {len(outcomes)} outcomes, issued {len(times)}"
            )
    for key, outcomes in resolved.items():
        if key not in issued:
            report.problems.append(f"challenge {key} {outcomes} but never issued")
    _check_acks(db, [e for e in entries if e["kind"] == "ack"], resolved, report)


def _windows(db: sa.Connection) -> dict[int | None, int]:
    """Each plan's answer window (its own policy, else the service's default)."""
    windows: dict[int | None, int] = {}
    for plan, policy in db.execute(sa.text("SELECT id, challenge FROM plan")):
        window = json.loads(policy).get("window_ms") if policy else None
        windows[plan] = int(window or DEFAULT_WINDOW_MS)
    return windows


def _check_acks(
    db: sa.Connection, acks: Sequence[dict[str, Any]],
    resolved: dict[ChallengeKey, list[str]], report: Report,
) -> None:  # fmt: skip
    """Each answer the server queued is stored as passed."""
    if not acks:
        return
    learners = _learner_ids(db, {a["login"] for a in acks})
    chapters = {key: ident for key, ident in db.execute(sa.text("SELECT key, id FROM chapter"))}
    passed: dict[tuple[int, int, int, bool], int] = {}
    for (learner, chapter, _, seq, closing), outcomes in resolved.items():
        count = outcomes.count("challenge_passed")
        passed[(learner, chapter, seq, closing)] = (
            passed.get((learner, chapter, seq, closing), 0) + count
        )
    wanted: dict[tuple[int, int, int, bool], int] = {}
    for ack in acks:
        key = (learners.get(ack["login"], -1), chapters.get(ack["chapter"], -1), ack["seq"],
               bool(ack["closing"]))  # fmt: skip
        wanted[key] = wanted.get(key, 0) + 1
    for key, count in wanted.items():
        if passed.get(key, 0) < count:
            report.problems.append(f"queued answer {key} not stored as passed")
        else:
            report.acks += count


def _learner_ids(db: sa.Connection, logins: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    ordered = sorted(logins)
    for start in range(0, len(ordered), 500):
        rows = db.execute(
            sa.text('SELECT login, id FROM "user" WHERE login IN :logins').bindparams(
                sa.bindparam("logins", expanding=True)
            ),
            {"logins": ordered[start : start + 500]},
        )
        found.update({login: ident for login, ident in rows})
    return found


def _check_credit(
    db: sa.Connection, entries: Sequence[dict[str, Any]], *, now_ms: int, report: Report
) -> None:
    """No credit beyond the time that passed since the learner's first study session
    started (one session at a time), none beyond a chapter's length.

    Credit of an account the run never acted as, last changed before the run began, is
    not the run's (the demo learner's seeded study, decision 0033) and is left alone."""
    first: dict[str, int] = {}
    for entry in entries:
        if entry["kind"] == "study_start":
            login = entry["login"]
            first[login] = min(first.get(login, entry["at_ms"]), entry["at_ms"])
    acted = {entry["login"] for entry in entries if entry.get("login")}
    began = min((entry["at_ms"] for entry in entries if "at_ms" in entry), default=0)
    rows = db.execute(
        sa.text(
            "SELECT u.login, p.credited_ms, c.duration_ms, c.key, p.updated_ms"
            ' FROM chapter_progress p JOIN "user" u ON u.id = p.learner_id'
            " JOIN chapter c ON c.id = p.chapter_id WHERE p.credited_ms > 0"
        )
    )
    total: dict[str, int] = {}
    for login, credited, duration, chapter, updated in rows:
        if login not in acted and updated < began:
            continue
        total[login] = total.get(login, 0) + credited
        if credited > duration:
            report.problems.append(f"{login} credited {credited} ms on {chapter} of {duration} ms")
    for login, credited in total.items():
        if login not in first:
            if first:  # a run that studied: credit must come from its sessions
                report.problems.append(f"{login} credited {credited} ms without a session")
            continue
        elapsed = now_ms - first[login]
        if credited > elapsed:
            report.problems.append(
                f"{login} credited {credited} ms, only {elapsed} ms since the first session"
            )
        else:
            report.credited_learners += 1


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
