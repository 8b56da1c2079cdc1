"""Answer saves and heartbeats, the calls a running attempt makes most.

``save_answers`` checks each response's shape (``itembank.scoring``) before anything is
stored, then stores the saves the core accepts as answer steps (append-only) and says
which were repeated or stale; ``heartbeat`` says how long is left and whether another
device took over, and takes no lock unless the attempt's time is up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlmodel import Session

from api.services.attempts._errors import BadAnswerError
from api.services.attempts._loading import _latest_seqs, _Loader
from api.services.attempts._rows import (
    _call,
    _close_if_due,
    _domain,
    _encode,
    _locked,
    _owned,
    _store,
)
from api.services.attempts._wire import Heartbeat, Save, SaveRef, SaveResult
from api.store.tables import AnswerStep
from examengine import attempt as core
from itembank.model import Item
from itembank.scoring import ResponseShapeError, score

_INSERT_STEP = sa.insert(AnswerStep.metadata.tables[AnswerStep.__tablename__])

#: Saves per request, and the most characters a response may take as JSON.
MAX_SAVES = 200
MAX_RESPONSE_CHARS = 4000


# --------------------------------------------------------------------------- learner


def save_answers(
    session: Session,
    *,
    learner_id: int,
    attempt_id: str,
    saves: Sequence[Save],
    device: str,
    now: int,
) -> SaveResult:
    """Store the accepted saves as answer steps (append-only) and say which were
    repeated or stale. Refused whole: a response of the wrong shape (``BadAnswerError``,
    naming the item), or the core's refusals (closed, past the deadline — the close is
    stored —, another device, an item not on the paper)."""
    row = _locked(session, attempt_id, learner_id=learner_id)
    loader = _Loader(session, now=now)
    context = loader.context(row)
    _check_shapes(saves, context.items, frozenset(context.keys))
    attempt = _domain(row)
    attempt, outcome, events = _call(
        session,
        row,
        now,
        lambda: core.save_answers(
            attempt,
            [core.Save(item=s.item, seq=s.seq, response=s.response) for s in saves],
            latest_seq=_latest_seqs(session, row.id, (s.item for s in saves)),
            items=frozenset(context.keys),
            device=device,
            now=now,
            grade=loader.grader(row),
        ),
    )
    if outcome.accepted:
        session.connection().execute(
            _INSERT_STEP,
            [
                {
                    "attempt_id": row.id,
                    "item_key": s.item,
                    "seq": s.seq,
                    "response": _encode(s.response),
                    "saved_ms": now,
                    "device": device,
                }
                for s in outcome.accepted
            ],
        )
    _store(session, row, attempt, events, now=now)
    return SaveResult(
        attempt=row.id,
        accepted=_refs(outcome.accepted),
        repeated=_refs(outcome.repeated),
        stale=_refs(outcome.stale),
        last_seq=attempt.last_seq,
        seconds_left=attempt.seconds_left(now=now),
        server_ms=now,
    )


def heartbeat(
    session: Session, *, learner_id: int, attempt_id: str, device: str, now: int
) -> Heartbeat:
    """Seconds left (and whether another device took over); closes the attempt if its
    time is up. No lock unless it is due: heartbeats are the most frequent call."""
    row = _close_if_due(session, _owned(session, attempt_id, learner_id), now)
    attempt = _domain(row)
    return Heartbeat(
        attempt=row.id,
        state=row.state,
        seconds_left=attempt.seconds_left(now=now),
        deadline_ms=row.deadline_ms,
        server_ms=now,
        device_moved=attempt.open and row.device != device,
    )


# -------------------------------------------------------------------------- answers


def _check_shapes(saves: Sequence[Save], items: Mapping[str, Item], keys: frozenset[str]) -> None:
    """Refuse a response the item cannot take (``itembank.scoring`` says so), before
    anything is stored. Items not on the paper are the core's to refuse."""
    for save in saves:
        if save.item not in keys:
            continue
        text = _encode(save.response)
        if len(text) > MAX_RESPONSE_CHARS:
            raise BadAnswerError(
                save.item,
                f"item {save.item!r}: the response is longer than {MAX_RESPONSE_CHARS} characters",
                f"试题 {save.item!r} 的作答超过 {MAX_RESPONSE_CHARS} 个字符",
            )
        try:
            score(items[save.item], save.response)
        except ResponseShapeError as exc:
            raise BadAnswerError(save.item, exc.message, exc.message_zh) from None


def _refs(saves: Iterable[core.Save]) -> tuple[SaveRef, ...]:
    return tuple(SaveRef(item=s.item, seq=s.seq) for s in saves)
