"""Signed checkpoints of the integrity log (docs/decisions/0027).

``make_checkpoint`` signs the heads of every chain that grew since the last checkpoint
(``integrity_head.pending``): their Merkle root, chained to the previous checkpoint's
digest, signed with the deployment's key. Each signed head's entry is marked with the
checkpoint's number, which is how an evidence bundle later finds the leaves to prove
its learner's head against the signed root.

One checkpointer at a time: PostgreSQL's transaction-scoped advisory lock (a second
worker skips the round), SQLite's one writer.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session

from api.store.db import in_chunks
from api.store.tables import IntegrityCheckpoint, IntegrityEntry, IntegrityHead
from examengine import integrity, signing

_ENTRY = IntegrityEntry.metadata.tables[IntegrityEntry.__tablename__]
_HEAD = IntegrityHead.metadata.tables[IntegrityHead.__tablename__]
_CHECKPOINT = IntegrityCheckpoint.metadata.tables[IntegrityCheckpoint.__tablename__]
#: The advisory lock's key: one checkpointer in the whole database at a time.
_LOCK_KEY = 0x45584D43  # "EXMC"
_MARK_ENTRY = (
    sa.update(_ENTRY)
    .where(_ENTRY.c.learner_id == sa.bindparam("_learner"), _ENTRY.c.seq == sa.bindparam("_seq"))
    .values(checkpoint_id=sa.bindparam("_checkpoint"))
)
_SIGNED_HEAD = (
    sa.update(_HEAD)
    .where(_HEAD.c.learner_id == sa.bindparam("_learner"), _HEAD.c.seq == sa.bindparam("_seq"))
    .values(pending=False)
)


def as_core(row: IntegrityCheckpoint) -> integrity.Checkpoint:
    assert row.id is not None
    return integrity.Checkpoint(
        number=row.id, at_ms=row.at_ms, prev=row.prev, root=row.root, leaves=row.leaves
    )


def latest(session: Session) -> IntegrityCheckpoint | None:
    return session.get(IntegrityCheckpoint, _latest_number(session))


def _latest_number(session: Session) -> int:
    return int(session.connection().execute(sa.select(sa.func.max(_CHECKPOINT.c.id))).scalar() or 0)


def make_checkpoint(
    session: Session, key: signing.SigningKey, *, now: int
) -> IntegrityCheckpoint | None:
    """Sign the heads that grew since the last checkpoint; None when none did, or when
    another process is making one right now (PostgreSQL)."""
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        taken = connection.execute(sa.select(sa.func.pg_try_advisory_xact_lock(_LOCK_KEY)))
        if not taken.scalar():
            return None
    else:  # SQLite: take the writer's lock before reading
        connection.execute(sa.update(_HEAD).where(_HEAD.c.learner_id == -1).values(seq=_HEAD.c.seq))
    query = (
        sa.select(_HEAD.c.learner_id, _HEAD.c.seq, _HEAD.c.hash)
        .where(_HEAD.c.pending)
        .order_by(_HEAD.c.learner_id)
    )
    if dialect == "postgresql":
        query = query.with_for_update()
    heads = [integrity.Head(learner=r[0], seq=r[1], hash=r[2]) for r in connection.execute(query)]
    if not heads:
        return None
    previous = latest(session)
    core = integrity.checkpoint(
        number=(previous.id or 0) + 1 if previous is not None else 1,
        at_ms=now,
        previous=as_core(previous) if previous is not None else None,
        heads=heads,
    )
    signed = signing.sign(key, core)
    row = IntegrityCheckpoint(
        id=core.number,
        at_ms=core.at_ms,
        prev=core.prev,
        root=core.root,
        leaves=core.leaves,
        kid=signed.kid,
        sig=signed.sig,
    )
    session.add(row)
    session.flush()
    marks = [{"_learner": h.learner, "_seq": h.seq, "_checkpoint": core.number} for h in heads]
    for chunk in in_chunks(marks, 5000):
        connection.execute(_MARK_ENTRY, list(chunk))
        connection.execute(_SIGNED_HEAD, list(chunk))
    return row


def leaves_of(session: Session, number: int) -> list[integrity.Head]:
    """The heads checkpoint ``number`` signed, in the order of its Merkle leaves."""
    rows = session.connection().execute(
        sa.select(_ENTRY.c.learner_id, _ENTRY.c.seq, _ENTRY.c.hash)
        .where(_ENTRY.c.checkpoint_id == number)
        .order_by(_ENTRY.c.learner_id)
    )
    return [integrity.Head(learner=r[0], seq=r[1], hash=r[2]) for r in rows]
