"""Checking the integrity log and exporting evidence (docs/decisions/0027).

``verify`` walks every chain (or one learner's) in the database with
``examengine.integrity.first_break``, compares each head with its chain's last entry,
and checks every checkpoint: its link to the previous one, its signature, and its
Merkle root recomputed from the entries it marked. It names the first broken link.

``bundle`` exports one learner's chain (for an attempt, or for the learner), with the
latest checkpoint that signed the chain's head and the Merkle proof of that head, the
published key set, all signed: ``examengine audit verify FILE`` checks it with no
database.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlmodel import Session

from api.services.evidence import checkpoints
from api.store.tables import Attempt, IntegrityCheckpoint, IntegrityEntry, IntegrityHead, User
from examengine import integrity, signing
from examengine.ids import masked

_ENTRY = IntegrityEntry.metadata.tables[IntegrityEntry.__tablename__]
_HEAD = IntegrityHead.metadata.tables[IntegrityHead.__tablename__]
_CHECKPOINT = IntegrityCheckpoint.metadata.tables[IntegrityCheckpoint.__tablename__]
_COLUMNS = (
    _ENTRY.c.learner_id,
    _ENTRY.c.seq,
    _ENTRY.c.at_ms,
    _ENTRY.c.kind,
    _ENTRY.c.ref,
    _ENTRY.c.data,
    _ENTRY.c.prev,
    _ENTRY.c.hash,
)
#: Rows fetched per round trip while walking the log.
_FETCH = 10_000


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """One broken link: where (a learner's entry, or a checkpoint) and what."""

    where: str
    problem: str
    detail: str


class Report(msgspec.Struct, frozen=True, kw_only=True):
    chains: int
    entries: int
    checkpoints: int
    #: The first broken link of each broken chain, then the checkpoints' problems.
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.findings


def _entries(session: Session, learner: int | None) -> Iterator[integrity.Entry]:
    query = sa.select(*_COLUMNS).order_by(_ENTRY.c.learner_id, _ENTRY.c.seq)
    if learner is not None:
        query = query.where(_ENTRY.c.learner_id == learner)
    result = session.connection().execution_options(yield_per=_FETCH).execute(query)
    for r in result:
        yield integrity.Entry(
            learner=r[0], seq=r[1], at_ms=r[2], kind=r[3], ref=r[4], data=r[5], prev=r[6], hash=r[7]
        )


def verify(
    session: Session, keys: Mapping[str, signing.VerifyKey], *, learner: int | None = None
) -> Report:
    """Check the chains (all, or ``learner``'s), their heads and (for all) every
    checkpoint. Reads the log in one pass, ``_FETCH`` rows at a time."""
    heads = {
        r[0]: (r[1], r[2])
        for r in session.connection().execute(
            sa.select(_HEAD.c.learner_id, _HEAD.c.seq, _HEAD.c.hash).where(
                _HEAD.c.learner_id == learner if learner is not None else sa.true()
            )
        )
    }
    findings: list[Finding] = []
    chains = entries = 0
    last: dict[int, integrity.Entry] = {}
    for owner, group in itertools.groupby(_entries(session, learner), key=lambda e: e.learner):
        chains += 1
        walked = _Counting(group)
        broken = integrity.first_break(walked, learner=owner)
        for _ in walked:  # (the rest of a broken chain, counted)
            pass
        entries += walked.count
        if broken is not None:
            findings.append(
                Finding(
                    where=f"learner {owner}, entry {broken.seq}",
                    problem=broken.problem,
                    detail=broken.detail,
                )
            )
        elif walked.last is not None:
            last[owner] = walked.last
    for owner, (seq, digest) in sorted(heads.items()):
        tail = last.get(owner)
        if seq == 0 or any(f.where.startswith(f"learner {owner},") for f in findings):
            continue
        if tail is None or tail.seq != seq or tail.hash != digest:
            findings.append(
                Finding(
                    where=f"learner {owner}, entry {tail.seq + 1 if tail else 1}",
                    problem="missing",
                    detail=f"the chain's head is entry {seq}, but the chain ends at entry "
                    f"{tail.seq if tail else 0}: entries were removed from its end",
                )
            )
    checked = 0
    if learner is None:
        checked, problems = _verify_checkpoints(session, keys)
        findings.extend(problems)
    return Report(chains=chains, entries=entries, checkpoints=checked, findings=findings)


class _Counting:
    """An iterator over a chain that counts what it yields and keeps the last entry."""

    def __init__(self, entries: Iterator[integrity.Entry]) -> None:
        self._entries = entries
        self.count = 0
        self.last: integrity.Entry | None = None

    def __iter__(self) -> _Counting:
        return self

    def __next__(self) -> integrity.Entry:
        entry = next(self._entries)
        self.count += 1
        self.last = entry
        return entry


def _verify_checkpoints(
    session: Session, keys: Mapping[str, signing.VerifyKey]
) -> tuple[int, list[Finding]]:
    findings: list[Finding] = []
    previous: integrity.Checkpoint | None = None
    rows = session.connection().execute(sa.select(_CHECKPOINT).order_by(_CHECKPOINT.c.id)).all()
    for row in rows:
        where = f"checkpoint {row.id}"
        core = integrity.Checkpoint(
            number=row.id, at_ms=row.at_ms, prev=row.prev, root=row.root, leaves=row.leaves
        )
        expected_prev = previous.digest() if previous is not None else integrity.GENESIS
        if core.prev != expected_prev:
            findings.append(
                Finding(
                    where=where,
                    problem="unlinked",
                    detail="it does not link to the checkpoint before it",
                )
            )
        wrong = signing.check(keys, core, signing.Signed(kid=row.kid, sig=row.sig))
        if wrong:
            findings.append(Finding(where=where, problem="signature", detail=wrong))
        heads = checkpoints.leaves_of(session, row.id)
        root = integrity.merkle_root([integrity.leaf(h) for h in heads])
        if root != core.root or len(heads) != core.leaves:
            findings.append(
                Finding(
                    where=where,
                    problem="root",
                    detail=f"the {len(heads)} chain heads it marked do not give its signed "
                    f"root over {core.leaves}: a signed entry was changed, rehashed or removed",
                )
            )
        previous = core
    return len(rows), findings


# --------------------------------------------------------------------------- bundles


class SubjectNotFoundError(LookupError):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def bundle(
    session: Session,
    key: signing.SigningKey,
    published: Mapping[str, signing.VerifyKey],
    *,
    learner_id: int,
    subject: dict[str, str],
    now: int,
) -> integrity.SignedBundle:
    """The signed evidence bundle of ``learner_id``'s chain, exported for ``subject``."""
    person = session.get(User, learner_id)
    if person is None:
        raise SubjectNotFoundError(f"learner {learner_id}")
    entries = list(_entries(session, learner_id))
    proofs: list[integrity.BundleCheckpoint] = []
    signed_head = (
        session.connection()
        .execute(
            sa.select(_ENTRY.c.seq, _ENTRY.c.checkpoint_id)
            .where(_ENTRY.c.learner_id == learner_id, _ENTRY.c.checkpoint_id.is_not(None))
            .order_by(_ENTRY.c.seq.desc())
            .limit(1)
        )
        .first()
    )
    if signed_head is not None:
        row = session.get(IntegrityCheckpoint, signed_head[1])
        assert row is not None
        leaves = checkpoints.leaves_of(session, signed_head[1])
        index = next(i for i, h in enumerate(leaves) if h.learner == learner_id)
        proofs.append(
            integrity.BundleCheckpoint(
                checkpoint=checkpoints.as_core(row),
                signed=signing.Signed(kid=row.kid, sig=row.sig),
                head=leaves[index],
                proof=integrity.merkle_proof([integrity.leaf(h) for h in leaves], index),
            )
        )
    document = integrity.Bundle(
        format=integrity.BUNDLE_FORMAT,
        subject=subject,
        person={"name": person.display_name, "id": masked(person.login)},
        exported_ms=now,
        entries=entries,
        checkpoints=proofs,
        keys=signing.key_set(published.values()),
    )
    return integrity.sign_bundle(key, document)


def attempt_bundle(
    session: Session,
    key: signing.SigningKey,
    published: Mapping[str, signing.VerifyKey],
    *,
    attempt_id: str,
    now: int,
) -> integrity.SignedBundle:
    row = session.get(Attempt, attempt_id)
    if row is None:
        raise SubjectNotFoundError(f"attempt {attempt_id}")
    subject = {"kind": "attempt", "attempt": attempt_id, "exam": row.exam_key}
    return bundle(session, key, published, learner_id=row.learner_id, subject=subject, now=now)


def encode(document: Any) -> bytes:
    return msgspec.json.encode(document)
