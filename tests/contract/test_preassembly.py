"""Pre-assembled papers (decision 0021) against each database: a start takes the stored
paper and builds none, and the paper is the one a start without pre-assembly builds
(the same seed: the audit rebuilds it identical); a retake's paper is pre-assembled
under its own attempt number; a learner without a stored paper still starts; a list
naming someone not enrolled is refused naming the line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from api.services import attempts, banks, exams
from api.settings import DatabaseSettings
from api.store.db import make_engine, migrate, session_factory, transaction
from api.store.tables import Paper as PaperRow
from api.store.tables import User
from tests.contract.test_attempt_service import (  # the shared world of the attempt suite
    BANK,
    EXAM,
    KEYED,
    NOW,
    SECRET,
    T0,
    World,
    bank_yaml,
    spec,
    world,
)

__all__ = ["world"]  # the fixture, imported for pytest


def papers(w: World) -> int:
    return w.run(lambda s: s.execute(sa.select(sa.func.count()).select_from(PaperRow)).scalar_one())


def shape(paper: attempts.PaperView) -> list[tuple[str, tuple[str, ...]]]:
    """What makes a paper this paper: its items in order, each with its option order."""
    return [(i.item, tuple(o.id for o in i.options)) for i in paper.items]


def preassemble(w: World, exam: str = EXAM, logins: list[str] | None = None,
                now: int = T0) -> attempts.PreassemblyOutcome:  # fmt: skip
    return w.run(lambda s: attempts.preassemble(s, exam=exam, secret=SECRET, now=now,
                                               logins=logins))  # fmt: skip


def test_a_start_takes_the_pre_assembled_paper_and_builds_none(world: World) -> None:
    outcome = preassemble(world)
    assert (outcome.learners, outcome.built, outcome.existing) == (1, 1, 0)
    before = papers(world)
    paper = world.start()
    assert papers(world) == before  # nothing built at the start
    audit = world.run(lambda s: exams.show_paper(
        s, exam=EXAM, learner=str(world.learner), attempt=1, secret=SECRET))  # fmt: skip
    assert audit.status != "none" and audit.identical
    assert [i.item for i in paper.items] == [e.key for e in audit.rebuilt.items]
    again = preassemble(world)  # the learner's next paper is attempt 2's now
    assert (again.built, again.existing) == (1, 0)


def test_pre_assembly_changes_the_start_s_cost_never_its_paper(
    world: World, tmp_path: Path
) -> None:
    preassemble(world)
    with_stored = world.start()
    # the same learner, exam and secret in a fresh SQLite database, no pre-assembly
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    with fresh_world(url) as plain:
        assert plain.learner == world.learner
        built_at_start = plain.start()
    assert shape(built_at_start) == shape(with_stored)


@contextmanager
def fresh_world(url: str) -> Iterator[World]:
    """The attempt suite's world (its bank, the exam, the same learner) in a new database."""
    migrate(url)
    exams.COMPILED.clear()
    attempts.ITEMS.clear()
    engine = make_engine(DatabaseSettings(url=url))
    factory = session_factory(engine)
    with transaction(factory) as s:
        banks.import_file(s, data=bank_yaml(), source="b.yaml", bank=BANK, now=NOW)
        banks.publish(s, bank=BANK, version=1, now=NOW)
        saved = exams.save_spec(s, spec(), now=NOW)
        exams.publish(s, exam=EXAM, version=saved.version.version, now=NOW)
        user = User(login="11010519491231002X", display_name="l", password_hash="x",
                    roles=["learner"])  # fmt: skip
        s.add(user)
        s.flush()
        assert user.id is not None
        attempts.enroll(s, learner_id=user.id, exam=EXAM, study_met=True, now=T0)
    try:
        yield World(sessions=factory, learner=user.id, other=user.id)
    finally:
        engine.dispose()


def test_a_retake_is_pre_assembled_under_its_own_attempt_number(world: World) -> None:
    first = world.start(exam=KEYED)
    world.submit(first.attempt, now=T0 + 1_000)
    outcome = preassemble(world, KEYED)
    assert outcome.built == 1
    stored = world.run(lambda s: s.execute(
        sa.select(PaperRow.attempt).where(PaperRow.learner_ref == str(world.learner))
    ).scalars().all())  # fmt: skip
    assert sorted(stored) == [1, 2]
    before = papers(world)
    second = world.start(exam=KEYED, now=T0 + 2_000)
    assert second.number == 2 and papers(world) == before
    assert shape(second) != shape(first)


def test_a_learner_without_a_stored_paper_still_starts(world: World) -> None:
    before = papers(world)
    assert world.start().number == 1
    assert papers(world) == before + 1


def test_a_list_naming_someone_not_enrolled_is_refused_naming_each_line(world: World) -> None:
    with pytest.raises(attempts.LearnersNotFoundError) as refused:
        preassemble(world, logins=["11010519491231002X", "13800000009", "nobody"])
    assert refused.value.unknown == ((2, "13800000009"), (3, "nobody"))
    assert papers(world) == 0  # all or nothing


def test_an_unknown_exam_is_refused(world: World) -> None:
    with pytest.raises(exams.ExamNotFoundError):
        preassemble(world, exam="no-such-exam")
