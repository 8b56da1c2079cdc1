"""Answer saves and heartbeats, the calls a running attempt makes most.

``save_answers`` checks each response's shape (``itembank.scoring``) before anything is
stored, then stores the saves the core accepts as answer steps (append-only) and says
which were repeated or stale; ``heartbeat`` says how long is left (and the deadline, so
a proctor's extension reaches the page) and whether another device took over, and takes
no lock unless the attempt's time is up; ``set_flags`` keeps the items flagged for
review with the attempt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlmodel import Session

from api.services.attempts._errors import BadAnswerError
from api.services.attempts._loading import _latest_seqs, _Loader
from api.services.attempts._rows import (
    _ATTEMPT,
    _call,
    _close_if_due,
    _domain,
    _encode,
    _locked,
    _owned,
    _store,
)
from api.services.attempts._wire import Flags, Heartbeat, Save, SaveRef, SaveResult
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
        deadline_ms=attempt.deadline_ms,
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


def set_flags(
    session: Session,
    *,
    learner_id: int,
    attempt_id: str,
    items: Sequence[str],
    device: str,
    now: int,
) -> Flags:
    """Keep ``items`` as the attempt's flagged items (the whole set: a repeat changes
    nothing), in the paper's order, so another browser resuming shows them (decision
    0031). Refused as a save is: the attempt closed (or its time up), another device
    holding it, an item not on the paper (422, naming it)."""
    row = _close_if_due(session, _owned(session, attempt_id, learner_id), now)
    attempt = _domain(row)
    if not attempt.open:
        raise core.closed_error(attempt)
    if row.device != device:
        raise core.AttemptError(
            "device_moved",
            "this attempt was continued on another device; this one can no longer save",
            "本次考试已在另一台设备上继续，当前设备不能再保存答案",
        )
    keys = _Loader(session, now=now).context(row).keys
    unknown = sorted(set(items) - set(keys))
    if unknown:
        raise core.AttemptError(
            "unknown_item",
            f"items: not on this paper: {', '.join(unknown)}",
            f"items：以下题目不在本试卷中：{'、'.join(unknown)}",
        )
    wanted = set(items)
    flags = tuple(k for k in keys if k in wanted)
    stored = _encode(list(flags))
    if stored != row.flags:
        session.connection().execute(
            sa.update(_ATTEMPT).where(_ATTEMPT.c.id == row.id).values(flags=stored)
        )
    return Flags(attempt=row.id, flags=flags)


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
