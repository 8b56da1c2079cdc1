"""The tamper-evident integrity log on SQLite and PostgreSQL: an attempt's events and its
integrity reports are chained in the transaction that stores them; checkpoints sign the
heads; ``audit.verify`` (and ``examengine audit verify``) names the first broken link
for every kind of tampering; evidence bundles verify offline and fail when edited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from api.cli.main import main
from api.http.integrity import record
from api.services import attempts, keys
from api.services.evidence import audit, checkpoints, log
from api.settings import Settings
from api.store.db import make_engine, migrate, session_factory, transaction
from api.store.tables import IntegrityCheckpoint, IntegrityEntry, IntegrityHead, User
from examengine import integrity, signing
from tests.api.test_sweeper import NOW, open_attempt
from tests.conftest import make_settings

T0 = int(NOW.timestamp() * 1000)
_ENTRY = IntegrityEntry.metadata.tables["integrity_entry"]


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(tmp_path, database_url=db_url)


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    migrate(settings.database.url)
    engine = make_engine(settings.database)
    yield session_factory(engine)
    engine.dispose()


def _an_attempt_with_evidence(sessions: sessionmaker[Session]) -> tuple[str, int]:
    """An attempt started, two focus losses and a paste reported, then submitted."""
    attempt = open_attempt(sessions, now=T0, deadline=T0 + 60_000)
    with transaction(sessions) as s:
        learner = s.exec(select(User).where(User.login == "11010519491231002X")).one()
        assert learner.id is not None
        for n, kind in enumerate(("focus_lost", "focus_lost", "paste"), start=1):
            assert record(
                s,
                learner_id=learner.id,
                attempt_id=attempt,
                kind=kind,
                device="d",
                now=T0 + n * 1000,
            )
    with transaction(sessions) as s:
        attempts.submit(
            s,
            learner_id=learner.id,
            attempt_id=attempt,
            sent_ms=None,
            network_grace_ms=0,
            now=T0 + 10_000,
        )
    return attempt, learner.id


def _entries(sessions: sessionmaker[Session], learner: int) -> list[IntegrityEntry]:
    with transaction(sessions) as s:
        return list(
            s.exec(
                select(IntegrityEntry)
                .where(IntegrityEntry.learner_id == learner)
                .order_by(col(IntegrityEntry.seq))
            ).all()
        )


def _verify(sessions: sessionmaker[Session], settings: Settings) -> audit.Report:
    with transaction(sessions) as s:
        return audit.verify(s, keys.published(settings.records))


def _checkpoint(sessions: sessionmaker[Session], settings: Settings, now: int) -> int:
    with transaction(sessions) as s:
        row = checkpoints.make_checkpoint(s, keys.current(settings.records), now=now)
        return row.leaves if row is not None else 0


def test_an_attempts_events_and_reports_are_chained_and_signed(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    attempt, learner = _an_attempt_with_evidence(sessions)
    entries = _entries(sessions, learner)
    assert [e.kind for e in entries] == [
        "attempt_started",
        "focus_lost",
        "focus_lost",
        "paste",
        "attempt_submitted",
    ]
    assert {e.ref for e in entries} == {f"attempt:{attempt}"}
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev == integrity.GENESIS
    report = _verify(sessions, settings)
    assert report.ok and (report.chains, report.entries) == (1, 5)
    assert _checkpoint(sessions, settings, T0 + 20_000) == 1
    assert _checkpoint(sessions, settings, T0 + 30_000) == 0  # nothing grew since
    with transaction(sessions) as s:
        head = s.get(IntegrityHead, learner)
        assert head is not None and (head.seq, head.pending) == (5, False)
        assert _entries(sessions, learner)[-1].checkpoint_id == 1
    report = _verify(sessions, settings)
    assert report.ok and report.checkpoints == 1


def _tamper(sessions: sessionmaker[Session], statement: sa.Executable) -> None:
    with transaction(sessions) as s:
        s.execute(statement)


def test_each_kind_of_tampering_is_named_at_its_first_broken_link(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    _, learner = _an_attempt_with_evidence(sessions)
    _checkpoint(sessions, settings, T0 + 20_000)
    third = _ENTRY.c.seq == 3

    # an entry's content edited in place
    original = _entries(sessions, learner)[2].data
    _tamper(sessions, sa.update(_ENTRY).where(third).values(data='{"kind":"copy"}'))
    [finding] = _verify(sessions, settings).findings
    assert (finding.where, finding.problem) == (f"learner {learner}, entry 3", "changed")
    assert finding.detail.startswith("entry 3 (focus_lost) was changed after it was written")
    _tamper(sessions, sa.update(_ENTRY).where(third).values(data=original))
    assert _verify(sessions, settings).ok

    # the whole chain rewritten with fresh hashes: every link holds, the signed root not
    rows = _entries(sessions, learner)
    forged = integrity.extend(
        None,
        [
            integrity.NewEntry(
                learner=learner,
                at_ms=r.at_ms,
                kind=r.kind,
                ref=r.ref,
                data='{"kind":"copy"}' if r.seq == 3 else r.data,
            )
            for r in rows
        ],
    )
    for entry in forged:
        _tamper(
            sessions,
            sa.update(_ENTRY)
            .where(_ENTRY.c.seq == entry.seq, _ENTRY.c.learner_id == learner)
            .values(data=entry.data, prev=entry.prev, hash=entry.hash),
        )
    _tamper(sessions, sa.update(IntegrityHead).values(hash=forged[-1].hash))
    [finding] = _verify(sessions, settings).findings
    assert (finding.where, finding.problem) == ("checkpoint 1", "root")
    for row in rows:
        _tamper(
            sessions,
            sa.update(_ENTRY)
            .where(_ENTRY.c.seq == row.seq)
            .values(data=row.data, prev=row.prev, hash=row.hash),
        )
    _tamper(sessions, sa.update(IntegrityHead).values(hash=rows[-1].hash))
    assert _verify(sessions, settings).ok

    # a checkpoint's signature altered
    with transaction(sessions) as s:
        cp = s.get(IntegrityCheckpoint, 1)
        assert cp is not None
        good = cp.sig
        cp.sig = signing.b64url(b"\x00" * 64)
    [finding] = _verify(sessions, settings).findings
    assert (finding.where, finding.problem) == ("checkpoint 1", "signature")
    _tamper(sessions, sa.update(IntegrityCheckpoint).values(sig=good))

    # an entry removed from the middle, then from the end
    _tamper(sessions, sa.delete(_ENTRY).where(third))
    [finding] = _verify(sessions, settings).findings
    assert (finding.where, finding.problem, finding.detail) == (
        f"learner {learner}, entry 3",
        "missing",
        "entry 3 expected, entry 4 found",
    )
    _tamper(
        sessions,
        sa.insert(_ENTRY).values(
            **{
                c: getattr(rows[2], c)
                for c in (
                    "learner_id",
                    "seq",
                    "at_ms",
                    "kind",
                    "ref",
                    "data",
                    "prev",
                    "hash",
                    "checkpoint_id",
                )
            }
        ),
    )
    _tamper(sessions, sa.delete(_ENTRY).where(_ENTRY.c.seq == 5))
    findings = _verify(sessions, settings).findings
    assert findings[0].where == f"learner {learner}, entry 5"
    assert "the chain's head is entry 5, but the chain ends at entry 4" in findings[0].detail
    assert findings[1].where == "checkpoint 1"  # the signed head is gone too


def test_appends_for_many_learners_in_one_call_keep_each_chain_in_order(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    with transaction(sessions) as s:
        ids = []
        for n in range(3):
            user = User(
                login=f"1380000010{n}",
                display_name=f"学员{n}",
                password_hash="x",
                roles=["learner"],
            )
            s.add(user)
            s.flush()
            assert user.id is not None
            ids.append(user.id)
    for round_ in range(3):
        with transaction(sessions) as s:
            log.append(
                s,
                [
                    log.entry(
                        learner=learner,
                        at_ms=T0 + round_ * 10 + k,
                        kind="challenge_passed",
                        ref="chapter:1:1",
                        data={"round": round_, "k": k},
                    )
                    for k in range(2)
                    for learner in reversed(ids)
                ],
            )
        if round_ == 1:
            assert _checkpoint(sessions, settings, T0 + 100) == 3
    report = _verify(sessions, settings)
    assert report.ok and (report.chains, report.entries) == (3, 18)
    with transaction(sessions) as s:
        heads = log.heads(s, ids)
    assert [heads[i].seq for i in ids] == [6, 6, 6]


def test_a_bundle_exported_by_the_command_line_verifies_offline_and_fails_when_edited(
    sessions: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean_environ: None,
) -> None:
    attempt, _ = _an_attempt_with_evidence(sessions)
    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("EXAMENGINE_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("EXAMENGINE_SIGNING_SECRET", settings.records.signing_secret)
    runner = CliRunner()
    assert runner.invoke(main, ["audit", "checkpoint"]).output.startswith("checkpoint 1: 1 ")
    out = tmp_path / "evidence.json"
    exported = runner.invoke(main, ["audit", "export", "--attempt", attempt, "-o", str(out)])
    assert exported.exit_code == 0, exported.output
    keyset = tmp_path / "keys.json"
    keyset.write_text(runner.invoke(main, ["audit", "keys"]).output)
    monkeypatch.delenv("EXAMENGINE_DATABASE_URL")  # offline: no database from here on
    checked = runner.invoke(main, ["audit", "verify", str(out), "--keys", str(keyset)])
    assert checked.exit_code == 0, checked.output
    assert "张三 (110105********002X)" in checked.output
    assert "5 entries, signed by checkpoint through entry 5" in checked.output

    document = json.loads(out.read_bytes())
    document["bundle"]["entries"][1]["kind"] = "focus_regained"
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(document))
    failed = runner.invoke(main, ["audit", "verify", str(edited), "--keys", str(keyset)])
    assert failed.exit_code == 1
    assert "BROKEN bundle: the signature by ed25519:" in failed.output
    assert "entry 2 (focus_regained) was changed after it was written" in failed.output

    other = signing.SigningKey.from_secret("somebody else's key " + "z" * 20)
    resigned = integrity.sign_bundle(
        other, msgspec.json.decode(out.read_bytes(), type=integrity.SignedBundle).bundle
    )
    forged = tmp_path / "forged.json"
    forged.write_bytes(msgspec.json.encode(resigned))
    failed = runner.invoke(main, ["audit", "verify", str(forged), "--keys", str(keyset)])
    assert failed.exit_code == 1
    assert f"signed by key {other.kid}, which is not among the trusted keys" in failed.output

    monkeypatch.setenv("EXAMENGINE_DATABASE_URL", settings.database.url)
    assert runner.invoke(main, ["audit", "verify"]).exit_code == 0
    with transaction(sessions) as s:
        s.execute(sa.update(_ENTRY).where(_ENTRY.c.seq == 2).values(at_ms=1))
    failed = runner.invoke(main, ["audit", "verify"])
    assert failed.exit_code == 1
    assert "BROKEN learner" in failed.output and "entry 2 (focus_lost) was changed" in failed.output
