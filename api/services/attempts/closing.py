"""Closing and grading an attempt: ``submit`` (close and grade, idempotent), ``result``
(the outcome), ``regrade`` (the stored answers against the newest published items) and
``close_due`` and ``grade_due``, the time-driven close and the grading after it that the
sweeper runs in batches (``sweep``: both in one unit of work).

The key and explanations appear in a ``ResultView`` only as ``examengine.disclosure``
allows (decision 0013): once the attempt is closed, if the spec shows them
(``practice.show_key`` for practice, ``show_key_after_close`` otherwise), and never for
an item a formal paper the learner may still sit can hold. ``_result_view`` is the one
builder of a result: submit, the result fetched later and the result page all go
through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from api.services.attempts._loading import _items, _Loader, _published_spec
from api.services.attempts._rows import (
    _ATTEMPT,
    _add_events,
    _call,
    _changes,
    _close_if_due,
    _dialect,
    _domain,
    _history_rows,
    _lock_sqlite,
    _locked,
    _operator_view,
    _owned,
    _records,
    _store,
)
from api.services.attempts._wire import ItemReview, OperatorAttempt, ResultView, SweepOutcome
from api.services.attempts.start import _item_view
from api.store.tables import Attempt as AttemptRow
from examengine import attempt as core
from examengine.assembly import Paper
from examengine.blueprint import ExamSpec, KeyRelease
from examengine.disclosure import Disclosure, disclose, formal_pool
from examengine.eligibility import formal_ahead
from itembank.model import (
    FillBlank,
    Item,
    Matching,
    MultipleChoice,
    Numerical,
    SingleChoice,
    TrueFalse,
)

#: Attempts the sweeper closes per transaction.
SWEEP_BATCH = 500


# --------------------------------------------------------------------------- learner


def submit(
    session: Session,
    *,
    learner_id: int,
    attempt_id: str,
    sent_ms: int | None,
    network_grace_ms: int,
    now: int,
) -> ResultView:
    """Close and grade (idempotent: a submitted attempt answers its result again and
    records nothing). Late, outside the network grace, the attempt closes by its policy."""
    row = _locked(session, attempt_id, learner_id=learner_id)
    loader = _Loader(session, now=now)
    attempt = _domain(row)
    attempt, events = _call(
        session,
        row,
        now,
        lambda: core.submit(
            attempt,
            now=now,
            sent_ms=sent_ms,
            network_grace_ms=network_grace_ms,
            grade=loader.grader(row),
        ),
    )
    _store(session, row, attempt, events, now=now)
    return _result_view(row, attempt, loader, now=now)


def result(session: Session, *, learner_id: int, attempt_id: str, now: int) -> ResultView:
    """The outcome; the key and explanations only as ``examengine.disclosure`` allows."""
    row = _close_if_due(session, _owned(session, attempt_id, learner_id), now)
    return _result_view(row, _domain(row), _Loader(session, now=now), now=now)


# -------------------------------------------------------------------------- operator


def regrade(
    session: Session, *, attempt_id: str, by: str, reason: str, now: int
) -> OperatorAttempt:
    """Replay the stored answers against the newest published version of the bank's
    items (an item it lacks keeps its original version); records ``attempt_regraded``."""
    row = _locked(session, attempt_id)
    loader = _Loader(session, now=now)
    attempt = _domain(row)
    attempt, events = _call(
        session,
        row,
        now,
        lambda: core.regrade(
            attempt, by=by, reason=reason, now=now, grade=loader.grader(row, current=True)
        ),
    )
    _store(session, row, attempt, events, now=now)
    return _operator_view(session, row, now=now)


# --------------------------------------------------------------------------- sweeper


def sweep(session: Session, *, now: int, limit: int = SWEEP_BATCH) -> SweepOutcome:
    """``close_due`` then ``grade_due`` in one unit of work: close up to ``limit`` due
    attempts and grade up to ``limit`` closed ones (what a single call needs; the
    sweeper runs the two passes apart, closes first)."""
    closed = close_due(session, now=now, limit=limit)
    graded = grade_due(session, now=now, limit=limit)
    return SweepOutcome(
        # (the attempts a call grades are mostly those it just closed: counted once)
        checked=max(closed.checked, graded.checked),
        changed=closed.changed,
        graded=graded.graded,
        lags_ms=closed.lags_ms,
    )


def close_due(session: Session, *, now: int, limit: int = SWEEP_BATCH) -> SweepOutcome:
    """Close (through ``core.close_due``) up to ``limit`` open attempts whose
    ``next_check_ms`` has passed, oldest first: state, finish time (the deadline, or the
    end of the grace period) and ``closed_ms`` in one executemany UPDATE, the events in
    one INSERT. No grading here: an ``auto_submit`` attempt closes ``submitted``
    awaiting its grade (``grade_due``, or whoever reads it first), so a deadline wave
    is closed in one quick pass (decision 0021).

    PostgreSQL: the rows are taken ``FOR UPDATE SKIP LOCKED``, so several sweepers (one
    per worker) share the work and a row a request holds is left to the next tick (or
    to the request, which closes it itself). SQLite: the write lock is taken first.
    """
    rows = _due(session, now, limit, _ATTEMPT.c.state.in_([s.value for s in core.OPEN]))
    changes: list[dict[str, Any]] = []
    events: list[core.AnyEvent] = []
    lags: list[int] = []
    for row in rows:
        attempt, produced = core.close_due(_domain(row), now=now)
        if produced:
            # (an open row has no closed_ms: None keeps every parameter set alike)
            closed_ms = None if attempt.open else now
            changes.append({"b_id": row.id, **_changes(attempt), "closed_ms": closed_ms})
            events += produced
            if closed_ms is not None and attempt.finished_ms is not None:
                lags.append(closed_ms - attempt.finished_ms)
    _apply(session, rows, changes, events, now=now)
    return SweepOutcome(checked=len(rows), changed=len(changes), lags_ms=tuple(lags))


def grade_due(session: Session, *, now: int, limit: int = SWEEP_BATCH) -> SweepOutcome:
    """Grade (``core.grade_closed``) up to ``limit`` attempts ``close_due`` closed
    without a score, oldest first, each exactly once: the rows are locked (``SKIP
    LOCKED`` on PostgreSQL, the write lock on SQLite) and an attempt graded already —
    by another sweeper or by a request that read it — is no longer due."""
    rows = _due(session, now, limit, _ATTEMPT.c.state == core.State.SUBMITTED.value)
    if not rows:
        return SweepOutcome(checked=0, changed=0)
    loader = _Loader(session, now=now)
    loader.prefetch(rows)
    changes: list[dict[str, Any]] = []
    events: list[core.AnyEvent] = []
    for row in rows:
        attempt, produced = core.grade_closed(_domain(row), grade=loader.grader(row))
        # (a graded row no longer due: next_check_ms None, whatever the events)
        changes.append({"b_id": row.id, **_changes(attempt), "closed_ms": row.closed_ms})
        events += produced
    _apply(session, rows, changes, events, now=now)
    graded = sum(1 for e in events if isinstance(e, core.AttemptSubmitted))
    return SweepOutcome(checked=len(rows), changed=0, graded=graded)


def _due(session: Session, now: int, limit: int, which: Any) -> Sequence[Any]:
    _lock_sqlite(session)
    table = _ATTEMPT
    query = (
        sa.select(table)
        .where(table.c.next_check_ms <= now, which)
        .order_by(table.c.next_check_ms)
        .limit(limit)
    )
    if _dialect(session) == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.execute(query).all()


def _apply(
    session: Session,
    rows: Sequence[Any],
    changes: list[dict[str, Any]],
    events: Sequence[core.AnyEvent],
    *,
    now: int,
) -> None:
    if changes:
        # executemany: the SET clause is taken from the keys of the parameter sets
        table = _ATTEMPT
        session.execute(sa.update(table).where(table.c.id == sa.bindparam("b_id")), changes)
        _add_events(session, events, rows, now=now)


# ----------------------------------------------------------------------------- views


def _result_view(
    row: AttemptRow, attempt: core.Attempt, loader: _Loader, *, now: int
) -> ResultView:
    """The one builder of a learner's result: every key in it passed ``_disclosure``."""
    disclosure = _disclosure(row, attempt, loader)
    context = loader.context(row)
    items: tuple[ItemReview, ...] = ()
    if disclosure.shown:
        answers = loader.answers(row.id)
        graded = {r.key: r for r in loader.result(row).items}
        sections = context.spec.sections
        reviews: list[ItemReview] = []
        for n, entry in enumerate(context.paper.items, start=1):
            if entry.key not in disclosure.shown:
                continue
            item = context.items[entry.key]
            # the question as the paper showed it: the learner's view, built without the key
            shown = _item_view(n, entry, sections[entry.section].title, item)
            reviews.append(
                ItemReview(
                    position=n,
                    item=entry.key,
                    points=graded[entry.key].points,
                    max_points=graded[entry.key].max_points,
                    response=answers.get(entry.key),
                    correct=_key_of(item),
                    explanation=item.explanation,
                    kind=shown.kind,
                    section=shown.section,
                    section_title=shown.section_title,
                    stem=shown.stem,
                    stem_html=shown.stem_html,
                    options=shown.options,
                    prompts=shown.prompts,
                )
            )
        items = tuple(reviews)
    return ResultView(
        attempt=row.id,
        exam=row.exam_key,
        practice=row.practice,
        number=row.number,
        state=attempt.state.value,
        seconds_left=attempt.seconds_left(now=now),
        server_ms=now,
        started_ms=attempt.started_ms,
        deadline_ms=attempt.deadline_ms,
        finished_ms=attempt.finished_ms,
        score=attempt.score,
        max_score=attempt.max_score,
        passed=attempt.passed,
        reason=attempt.reason,
        key_shown=bool(items),
        key_held=disclosure.held,
        items=items,
        title=context.spec.title,
        **_pass_standard(context.spec, context.paper),
    )


def _pass_standard(spec: ExamSpec, paper: Paper) -> dict[str, Any]:
    """The result's pass mark: the spec's share under the raw standard; under the
    equated one, the points this paper needed and that as a share of its maximum."""
    if paper.pass_score is None:
        return {"pass_mark": spec.pass_mark, "pass_standard": spec.pass_standard.value}
    maximum = sum(entry.points for entry in paper.items)
    return {
        "pass_mark": round(paper.pass_score / maximum, 6) if maximum else spec.pass_mark,
        "pass_score": paper.pass_score,
        "pass_standard": spec.pass_standard.value,
    }


def _disclosure(row: AttemptRow, attempt: core.Attempt, loader: _Loader) -> Disclosure:
    """Which keys of the attempt's paper its result may show (``examengine.disclosure``).

    The switches come from the attempt's own spec version; the formal pool from the
    exam's published spec (what every formal paper ahead is built from; the attempt's
    own version when none is published); ``key_release`` is the stricter of the two
    versions'; ``formal_ahead`` from the learner's whole history of the exam.
    """
    context = loader.context(row)
    published = _published_spec(loader.session, row.exam_key)
    current = context.spec if published is None else published[1]

    def pool() -> frozenset[str]:
        items = context.items if published is None else _items(loader.session, published[0])
        return formal_pool(current, items.values())

    def ahead() -> bool:
        return formal_ahead(_records(_history_rows(loader.session, row.learner_id, row.exam_key)))

    return disclose(
        spec=context.spec,
        release=max(context.spec.key_release, current.key_release, key=_STRICTNESS.index),
        practice=row.practice,
        closed=not attempt.open,
        paper=context.keys,
        pool=pool,
        formal_ahead=ahead,
    )


#: ``key_release`` values from the most lenient to the strictest.
_STRICTNESS = (KeyRelease.AFTER_FORMAL, KeyRelease.UNSHARED_ONLY)


def _key_of(item: Item) -> Any:
    """The right answer in the shape of a response (for the review after the close)."""
    match item.body:
        case SingleChoice(options=options) | MultipleChoice(options=options):
            return [o.id for o in options if o.fraction > 0]
        case TrueFalse(answer=answer):
            return answer
        case FillBlank(answers=accepted):
            return [a.text for a in accepted if a.fraction >= 1.0]
        case Numerical(answers=numbers):
            return [
                {"value": a.value, "tolerance": a.tolerance} for a in numbers if a.fraction >= 1.0
            ]
        case Matching(pairs=pairs):
            return [p.answer for p in pairs]
    return None  # pragma: no cover
