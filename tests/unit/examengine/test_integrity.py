"""The integrity log's rules: chains, Merkle proofs, checkpoints and bundles, with every
kind of tampering named exactly."""

from __future__ import annotations

import itertools

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from examengine import integrity, signing
from examengine.integrity import Entry, Head, NewEntry

KEY = signing.SigningKey.from_secret("unit-test-signing-secret-" + "x" * 20)
OTHER = signing.SigningKey.from_secret("another-signing-secret-" + "y" * 20)
TRUSTED = {KEY.kid: KEY.verify_key}


def new(learner: int, n: int) -> list[NewEntry]:
    return [
        NewEntry(learner=learner, at_ms=1000 * i, kind="challenge_passed",
                 ref=f"chapter:{i}", data=f'{{"n":{i}}}')
        for i in range(n)
    ]  # fmt: skip


def chain(learner: int = 7, n: int = 5) -> list[Entry]:
    return integrity.extend(None, new(learner, n))


def test_a_chain_links_every_entry_to_the_one_before() -> None:
    entries = chain()
    assert entries[0].prev == integrity.GENESIS
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert all(b.prev == a.hash for a, b in itertools.pairwise(entries))
    assert integrity.first_break(entries, learner=7) is None


def test_extending_after_a_head_continues_the_same_chain() -> None:
    first = chain(n=3)
    more = integrity.extend(Head(learner=7, seq=3, hash=first[-1].hash), new(7, 2))
    assert [e.seq for e in more] == [4, 5]
    assert integrity.first_break(first + more, learner=7) is None
    assert first + more == chain(n=5)[:3] + more


def test_a_changed_entry_is_named_as_changed() -> None:
    entries = chain()
    entries[2] = msgspec.structs.replace(entries[2], data='{"n":99}')
    broken = integrity.first_break(entries, learner=7)
    assert broken is not None
    assert (broken.seq, broken.problem) == (3, "changed")
    assert "entry 3 (challenge_passed) was changed" in broken.detail


def test_a_changed_entry_rehashed_breaks_the_next_link() -> None:
    entries = chain()
    forged = msgspec.structs.replace(entries[2], kind="challenge_missed")
    entries[2] = msgspec.structs.replace(forged, hash=integrity.entry_hash(forged))
    broken = integrity.first_break(entries, learner=7)
    assert broken is not None
    assert (broken.seq, broken.problem) == (4, "unlinked")


def test_a_removed_entry_is_named_as_missing_and_a_swapped_pair_as_reordered() -> None:
    entries = chain()
    broken = integrity.first_break(entries[:2] + entries[3:], learner=7)
    assert broken is not None
    assert (broken.seq, broken.problem, broken.detail) == (
        3, "missing", "entry 3 expected, entry 4 found",
    )  # fmt: skip
    swapped = [entries[0], entries[2], entries[1]]
    broken = integrity.first_break(swapped, learner=7)
    assert broken is not None and broken.problem == "missing"
    backwards = [entries[0], entries[1], entries[0]]
    broken = integrity.first_break(backwards, learner=7)
    assert broken is not None and broken.problem == "reordered"


def test_another_learners_entry_is_foreign() -> None:
    broken = integrity.first_break(chain(learner=8, n=2), learner=7)
    assert broken is not None and broken.problem == "foreign"


@given(st.integers(min_value=1, max_value=40), st.data())
def test_every_leaf_proves_against_the_root(count: int, data: st.DataObject) -> None:
    heads = [Head(learner=i, seq=i + 1, hash=f"{i:064x}") for i in range(count)]
    leaves = [integrity.leaf(h) for h in heads]
    root = integrity.merkle_root(leaves)
    index = data.draw(st.integers(min_value=0, max_value=count - 1))
    proof = integrity.merkle_proof(leaves, index)
    assert integrity.proof_root(leaves[index], proof) == root
    forged = integrity.leaf(msgspec.structs.replace(heads[index], seq=heads[index].seq + 1))
    assert integrity.proof_root(forged, proof) != root


def test_checkpoints_chain_to_each_other() -> None:
    heads = [Head(learner=1, seq=3, hash="a" * 64), Head(learner=2, seq=1, hash="b" * 64)]
    first = integrity.checkpoint(number=1, at_ms=10, previous=None, heads=heads)
    second = integrity.checkpoint(number=2, at_ms=20, previous=first, heads=heads[:1])
    assert first.prev == integrity.GENESIS
    assert second.prev == first.digest()
    assert first.leaves == 2


def _bundle(entries: list[Entry]) -> integrity.SignedBundle:
    head = Head(learner=7, seq=entries[-1].seq, hash=entries[-1].hash)
    heads = [Head(learner=3, seq=1, hash="c" * 64), head]
    leaves = [integrity.leaf(h) for h in heads]
    cp = integrity.checkpoint(number=4, at_ms=99, previous=None, heads=heads)
    bundle = integrity.Bundle(
        format=integrity.BUNDLE_FORMAT, subject={"kind": "learner"},
        person={"name": "张三", "id": "110105********002X"}, exported_ms=100,
        entries=entries,
        checkpoints=[integrity.BundleCheckpoint(
            checkpoint=cp, signed=signing.sign(KEY, cp), head=head,
            proof=integrity.merkle_proof(leaves, 1),
        )],
        keys=signing.key_set([KEY.verify_key]),
    )  # fmt: skip
    return integrity.sign_bundle(KEY, bundle)


def test_a_genuine_bundle_verifies_offline() -> None:
    document = _bundle(chain())
    raw = msgspec.json.encode(document)
    report = integrity.verify_bundle(integrity.decode_bundle(raw), TRUSTED)
    assert report.problems == []
    assert (report.entries, report.signed_through, report.checkpoints) == (5, 5, 1)


def test_a_bundle_edited_after_export_fails_its_signature() -> None:
    document = _bundle(chain())
    entries = list(document.bundle.entries)
    entries[1] = msgspec.structs.replace(entries[1], at_ms=123)
    edited = msgspec.structs.replace(
        document, bundle=msgspec.structs.replace(document.bundle, entries=entries)
    )
    problems = integrity.verify_bundle(edited, TRUSTED).problems
    assert problems[0] == f"bundle: the signature by {KEY.kid} does not match the signed content"
    assert "chain of learner 7: entry 2 (challenge_passed) was changed" in problems[1]


def test_a_bundle_rewritten_and_signed_with_another_key_is_not_trusted() -> None:
    entries = chain()
    forged = integrity.extend(None, [msgspec.structs.replace(new(7, 1)[0], kind="forged")])
    document = _bundle(forged + integrity.extend(Head(learner=7, seq=1, hash=forged[0].hash),
                                                 new(7, 4)))  # fmt: skip
    resigned = integrity.sign_bundle(OTHER, document.bundle)
    problems = integrity.verify_bundle(resigned, TRUSTED).problems
    assert problems == [f"bundle: signed by key {OTHER.kid}, which is not among the trusted keys"]
    # and a chain rewritten under the real key's old checkpoint fails the proof
    real = _bundle(entries)
    swapped = msgspec.structs.replace(real.bundle, entries=forged)
    problems = integrity.verify_bundle(integrity.sign_bundle(KEY, swapped), TRUSTED).problems
    assert any("which the chain does not hold" in p for p in problems)


def test_malformed_bundles_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="not JSON"):
        integrity.decode_bundle(b"{nope")
    with pytest.raises(ValueError, match="not an evidence bundle"):
        integrity.decode_bundle(b'{"bundle": {}}')


def test_signing_keys_are_named_by_their_public_key_and_published_as_jwks() -> None:
    assert KEY.kid.startswith("ed25519:") and len(KEY.kid) == 24
    assert signing.SigningKey.from_secret("unit-test-signing-secret-" + "x" * 20).kid == KEY.kid
    keys = signing.keys_of(signing.key_set([KEY.verify_key, OTHER.verify_key]))
    assert set(keys) == {KEY.kid, OTHER.kid}
    signed = signing.sign(KEY, {"b": 1, "a": "证书"})
    assert signing.check(keys, {"a": "证书", "b": 1}, signed) is None
    assert signing.check(keys, {"a": "证书", "b": 2}, signed) is not None
    with pytest.raises(ValueError, match="EXAMENGINE_SIGNING_SECRET"):
        signing.SigningKey.from_secret("")
