"""Appending to the integrity log: one call per transaction, every learner's new entries
chained after their head (docs/decisions/0027, ``examengine.integrity``).

``append`` runs inside the caller's transaction, so an event and its log entry commit
together or not at all. It locks the heads of the learners it appends for (``FOR
UPDATE`` on PostgreSQL, in learner order so two appenders never deadlock; SQLite has one
writer), writes every entry in one ``INSERT`` and every head in one ``UPDATE`` batch:
the study ticker appends a whole tick's events in three statements.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from api.store.db import in_chunks
from api.store.tables import IntegrityEntry, IntegrityHead
from examengine import integrity
from examengine.integrity import NewEntry

__all__ = ["NewEntry", "append", "entry", "heads"]

_ENTRY = IntegrityEntry.metadata.tables[IntegrityEntry.__tablename__]
_HEAD = IntegrityHead.metadata.tables[IntegrityHead.__tablename__]
_INSERT_ENTRIES = sa.insert(_ENTRY)
#: One executemany of this moves every head on (measured: a multi-row upsert compiled
#: for each batch was 5–12× slower on both databases).
_UPDATE_HEAD = (
    sa.update(_HEAD)
    .where(_HEAD.c.learner_id == sa.bindparam("_learner"))
    .values(seq=sa.bindparam("_seq"), hash=sa.bindparam("_hash"), pending=True)
)
#: A write that changes nothing: on SQLite, takes the writer's lock before the heads are
#: read (a read first would see a snapshot another writer may move on from).
_TAKE_WRITE_LOCK = sa.update(_HEAD).where(_HEAD.c.learner_id == -1).values(seq=_HEAD.c.seq)
_ENCODER = msgspec.json.Encoder(order="sorted")


def entry(*, learner: int, at_ms: int, kind: str, ref: str, data: Any) -> NewEntry:
    """A new entry; ``data`` (a msgspec struct or plain JSON value) as canonical JSON."""
    return NewEntry(
        learner=learner, at_ms=at_ms, kind=kind, ref=ref[:160], data=_ENCODER.encode(data).decode()
    )


def append(session: Session, new: Iterable[NewEntry]) -> list[integrity.Entry]:
    """Chain ``new`` (in order per learner) into the log, in the caller's transaction."""
    by_learner: dict[int, list[NewEntry]] = {}
    for item in new:
        by_learner.setdefault(item.learner, []).append(item)
    if not by_learner:
        return []
    learners = sorted(by_learner)
    if len(learners) == 1:  # an attempt's event, a report, a grant: one statement
        found = {learners[0]: _lock_one(session, learners[0])}
    else:  # a study tick's batch
        found = _locked_heads(session, learners)
        missing = [learner for learner in learners if learner not in found]
        if missing:
            _create_heads(session, missing)
            found.update(_locked_heads(session, missing))
    written: list[integrity.Entry] = []
    updates = []
    for learner in learners:
        head = found[learner]
        chained = integrity.extend(head if head.seq else None, by_learner[learner])
        written.extend(chained)
        updates.append({"_learner": learner, "_seq": chained[-1].seq, "_hash": chained[-1].hash})
    connection = session.connection()
    connection.execute(_INSERT_ENTRIES, [_row(e) for e in written])
    connection.execute(_UPDATE_HEAD, updates)
    return written


def _row(e: integrity.Entry) -> dict[str, Any]:
    return {
        "learner_id": e.learner,
        "seq": e.seq,
        "at_ms": e.at_ms,
        "kind": e.kind,
        "ref": e.ref,
        "data": e.data,
        "prev": e.prev,
        "hash": e.hash,
    }


def heads(session: Session, learners: Sequence[int]) -> dict[int, integrity.Head]:
    """The current heads of ``learners`` (those with a chain), unlocked."""
    found: dict[int, integrity.Head] = {}
    for chunk in in_chunks(sorted(set(learners))):
        rows = session.connection().execute(
            sa.select(_HEAD.c.learner_id, _HEAD.c.seq, _HEAD.c.hash).where(
                _HEAD.c.learner_id.in_(chunk)
            )
        )
        found.update({r[0]: integrity.Head(learner=r[0], seq=r[1], hash=r[2]) for r in rows})
    return found


def _locked_heads(session: Session, learners: Sequence[int]) -> dict[int, integrity.Head]:
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "sqlite":
        connection.execute(_TAKE_WRITE_LOCK)
    found: dict[int, integrity.Head] = {}
    for chunk in in_chunks(learners):
        query = (
            sa.select(_HEAD.c.learner_id, _HEAD.c.seq, _HEAD.c.hash)
            .where(_HEAD.c.learner_id.in_(chunk))
            .order_by(_HEAD.c.learner_id)
        )
        if dialect == "postgresql":
            query = query.with_for_update()
        for row in connection.execute(query):
            found[row[0]] = integrity.Head(learner=row[0], seq=row[1], hash=row[2])
    return found


def _lock_one(session: Session, learner: int) -> integrity.Head:
    """One learner's head, created when missing, locked and read in one statement: an
    upsert whose update changes nothing and returns the row (SQLite takes its write lock
    with it; PostgreSQL locks the row as for FOR UPDATE)."""
    connection = session.connection()
    row = connection.execute(_UPSERT_ONE[connection.dialect.name], {"_learner": learner}).one()
    return integrity.Head(learner=learner, seq=row[0], hash=row[1])


def _upsert_one(insert: Any) -> Any:
    statement = insert(_HEAD).values(
        learner_id=sa.bindparam("_learner"), seq=0, hash=integrity.GENESIS, pending=False
    )
    return statement.on_conflict_do_update(
        index_elements=[_HEAD.c.learner_id], set_={"seq": _HEAD.c.seq}
    ).returning(_HEAD.c.seq, _HEAD.c.hash)


_UPSERT_ONE = {"postgresql": _upsert_one(postgresql.insert), "sqlite": _upsert_one(sqlite.insert)}


def _create_heads(session: Session, learners: Sequence[int]) -> None:
    """Empty heads (seq 0) for learners without a chain; a concurrent creator wins."""
    connection = session.connection()
    insert: Any = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    rows = [
        {"learner_id": learner, "seq": 0, "hash": integrity.GENESIS, "pending": False}
        for learner in learners
    ]
    for chunk in in_chunks(rows):
        connection.execute(insert(_HEAD).on_conflict_do_nothing(), list(chunk))
