"""The tamper-evident integrity log, as rules (docs/decisions/0027).

Every integrity event of a learner (challenges, focus losses, take-overs, extensions,
grants, regrades, terminations, certificates …) is an ``Entry`` of that learner's
**chain**: entry ``seq`` carries the hash of entry ``seq - 1`` (the first, ``GENESIS``),
and its own hash is the SHA-256 of its canonical body, that link included. Changing,
removing or reordering an entry breaks the chain at that entry.

A **checkpoint** signs, at intervals, the heads (learner, seq, hash) of every chain that
grew since the last one: they are the leaves of a Merkle tree whose root is signed with
the previous checkpoint's digest, so the checkpoints form a chain of their own. Someone
who rewrites a whole learner's chain, hashes and all, still cannot match a signed root
without the signing key. An **evidence bundle** carries a learner's chain, the
checkpoints of its heads with their Merkle proofs, and the key set: a reviewer checks it
offline with ``verify_bundle`` and no database.

Pure: the callers pass entries, heads and keys in; nothing here reads a file or a clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import msgspec
from msgspec import Struct

from examengine import signing

#: The link of a chain's first entry.
GENESIS = "0" * 64
BUNDLE_FORMAT = "examengine-evidence/1"


class NewEntry(Struct, frozen=True, kw_only=True):
    """An event to append: whose, when, what, about what (``ref``: ``attempt:<id>``,
    ``chapter:<key>``, ``certificate:<number>`` …) and the event as JSON text."""

    learner: int
    at_ms: int
    kind: str
    ref: str
    data: str


class Entry(Struct, frozen=True, kw_only=True):
    learner: int
    seq: int
    at_ms: int
    kind: str
    ref: str
    data: str
    prev: str
    hash: str


class Head(Struct, frozen=True, kw_only=True):
    learner: int
    seq: int
    hash: str


def entry_hash(entry: Entry) -> str:
    """The hash of an entry: SHA-256 of its canonical body, the previous hash included
    (its own ``hash`` field left out)."""
    body = signing.canonical(
        {"learner": entry.learner, "seq": entry.seq, "at_ms": entry.at_ms, "kind": entry.kind,
         "ref": entry.ref, "data": entry.data, "prev": entry.prev}
    )  # fmt: skip
    return hashlib.sha256(body).hexdigest()


def extend(head: Head | None, new: Sequence[NewEntry]) -> list[Entry]:
    """The entries that append ``new`` (all one learner's, in order) after ``head``."""
    seq, prev = (head.seq, head.hash) if head is not None else (0, GENESIS)
    out = []
    for item in new:
        seq += 1
        unhashed = Entry(learner=item.learner, seq=seq, at_ms=item.at_ms, kind=item.kind,
                         ref=item.ref, data=item.data, prev=prev, hash="")  # fmt: skip
        prev = entry_hash(unhashed)
        out.append(msgspec.structs.replace(unhashed, hash=prev))
    return out


# ------------------------------------------------------------------------- checking

Problem = Literal["changed", "unlinked", "missing", "reordered", "foreign"]


class Break(Struct, frozen=True, kw_only=True):
    """The first broken link of a chain: which entry, what is wrong, in words."""

    learner: int
    seq: int
    problem: Problem
    detail: str


def first_break(entries: Iterable[Entry], *, learner: int) -> Break | None:
    """Walk one learner's chain from its first entry (in ``seq`` order, as stored) and
    name the first broken link; None when every link holds."""
    expected_seq, prev = 1, GENESIS
    for entry in entries:
        if entry.learner != learner:
            return Break(
                learner=learner,
                seq=entry.seq,
                problem="foreign",
                detail=f"entry {entry.seq} belongs to learner {entry.learner}",
            )
        if entry.seq != expected_seq:
            problem: Problem = "missing" if entry.seq > expected_seq else "reordered"
            return Break(
                learner=learner,
                seq=expected_seq,
                problem=problem,
                detail=f"entry {expected_seq} expected, entry {entry.seq} found",
            )
        if entry.prev != prev:
            return Break(
                learner=learner,
                seq=entry.seq,
                problem="unlinked",
                detail=f"entry {entry.seq} does not link to entry {entry.seq - 1}",
            )
        digest = entry_hash(entry)
        if digest != entry.hash:
            return Break(
                learner=learner,
                seq=entry.seq,
                problem="changed",
                detail=f"entry {entry.seq} ({entry.kind}) was changed after it was "
                "written: its content no longer matches its hash",
            )
        expected_seq, prev = entry.seq + 1, entry.hash
    return None


# ------------------------------------------------------------------------ Merkle tree


def leaf(head: Head) -> bytes:
    return hashlib.sha256(b"\x00" + signing.canonical([head.learner, head.seq, head.hash])).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaves: Sequence[bytes]) -> str:
    """The root of the tree over ``leaves`` (pairs hashed level by level; an odd last
    node goes up as it is); the hash of nothing for none."""
    if not leaves:
        return hashlib.sha256(b"").hexdigest()
    level = list(leaves)
    while len(level) > 1:
        paired = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0].hex()


class Step(Struct, frozen=True, array_like=True):
    side: Literal["L", "R"]
    hash: str


def merkle_proof(leaves: Sequence[bytes], index: int) -> list[Step]:
    """The sibling hashes from leaf ``index`` up to the root."""
    proof: list[Step] = []
    level = list(leaves)
    while len(level) > 1:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(Step("L" if sibling < index else "R", level[sibling].hex()))
        paired = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level, index = paired, index // 2
    return proof


def proof_root(start: bytes, proof: Sequence[Step]) -> str:
    node = start
    for step in proof:
        other = bytes.fromhex(step.hash)
        node = _node(other, node) if step.side == "L" else _node(node, other)
    return node.hex()


# ------------------------------------------------------------------------ checkpoints


class Checkpoint(Struct, frozen=True, kw_only=True):
    """What a checkpoint signs: its number, time, the previous checkpoint's digest, the
    root over the heads that grew since, and how many they are."""

    number: int
    at_ms: int
    prev: str
    root: str
    leaves: int

    def digest(self) -> str:
        return hashlib.sha256(signing.canonical(self)).hexdigest()


def checkpoint(
    *, number: int, at_ms: int, previous: Checkpoint | None, heads: Sequence[Head]
) -> Checkpoint:
    """The checkpoint over ``heads`` (sorted by learner), after ``previous``."""
    return Checkpoint(
        number=number,
        at_ms=at_ms,
        prev=previous.digest() if previous is not None else GENESIS,
        root=merkle_root([leaf(h) for h in heads]),
        leaves=len(heads),
    )


# --------------------------------------------------------------------------- bundles


class BundleCheckpoint(Struct, frozen=True, kw_only=True):
    """A signed checkpoint and the proof that it holds the learner's head ``head``."""

    checkpoint: Checkpoint
    signed: signing.Signed
    head: Head
    proof: list[Step]


class Bundle(Struct, frozen=True, kw_only=True):
    """An evidence bundle: one learner's chain (from its first entry), the checkpoints
    over it, the subject it was exported for, and the key set; signed as a whole."""

    format: str
    subject: dict[str, str]
    person: dict[str, str]
    exported_ms: int
    entries: list[Entry]
    checkpoints: list[BundleCheckpoint]
    keys: dict[str, Any]


class SignedBundle(Struct, frozen=True, kw_only=True):
    bundle: Bundle
    signed: signing.Signed


class BundleReport(Struct, frozen=True, kw_only=True):
    """What ``verify_bundle`` found: ``problems`` is empty when every check held."""

    problems: list[str]
    entries: int
    signed_through: int
    checkpoints: int
    kid: str


def verify_bundle(document: SignedBundle, trusted: Mapping[str, signing.VerifyKey]) -> BundleReport:
    """Check a bundle offline: its signature, every link of the chain, and each
    checkpoint's signature, Merkle proof and agreement with the chain. ``trusted`` are
    the keys the reviewer trusts (the published set)."""
    bundle = document.bundle
    problems: list[str] = []
    if bundle.format != BUNDLE_FORMAT:
        problems.append(f"not an evidence bundle of format {BUNDLE_FORMAT}: {bundle.format!r}")
    wrong = signing.check(trusted, bundle, document.signed)
    if wrong:
        problems.append(f"bundle: {wrong}")
    learners = {entry.learner for entry in bundle.entries}
    learner = next(iter(learners)) if len(learners) == 1 else -1
    broken = first_break(bundle.entries, learner=learner)
    if broken is not None:
        problems.append(f"chain of learner {broken.learner}: {broken.detail} [{broken.problem}]")
    by_seq = {entry.seq: entry for entry in bundle.entries}
    signed_through = 0
    for item in bundle.checkpoints:
        label = f"checkpoint {item.checkpoint.number}"
        wrong = signing.check(trusted, item.checkpoint, item.signed)
        if wrong:
            problems.append(f"{label}: {wrong}")
        if proof_root(leaf(item.head), item.proof) != item.checkpoint.root:
            problems.append(f"{label}: the learner's head is not in its signed Merkle root")
        entry = by_seq.get(item.head.seq)
        if entry is None or entry.hash != item.head.hash or item.head.learner != learner:
            problems.append(
                f"{label}: signed entry {item.head.seq} of learner {item.head.learner} with hash "
                f"{item.head.hash[:12]}…, which the chain does not hold"
            )
        else:
            signed_through = max(signed_through, item.head.seq)
    return BundleReport(
        problems=problems,
        entries=len(bundle.entries),
        signed_through=signed_through,
        checkpoints=len(bundle.checkpoints),
        kid=document.signed.kid,
    )


def sign_bundle(key: signing.SigningKey, bundle: Bundle) -> SignedBundle:
    return SignedBundle(bundle=bundle, signed=signing.sign(key, bundle))


def decode_bundle(raw: bytes) -> SignedBundle:
    """``ValueError`` naming what is wrong when ``raw`` is not a bundle."""
    try:
        return msgspec.json.decode(raw, type=SignedBundle)
    except msgspec.ValidationError as exc:
        raise ValueError(f"not an evidence bundle: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
