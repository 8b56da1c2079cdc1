"""The exam service against each database: specs are versioned and frozen when
published, papers are built once and stored, retakes avoid seen items, preassembly
equals one-by-one building, and the audit tells a faithful record from a tampered one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from api.services import banks, exams
from api.settings import DatabaseSettings
from api.store.db import make_engine, migrate, session_factory, transaction
from api.store.tables import ExamVersion
from api.store.tables import Paper as PaperRow
from examengine.blueprint import Section
from examengine.errors import SpecInvalidError
from itembank.model import ItemKind

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SECRET = b"contract-test-paper-secret-0123456789abcdef"
BANK = "公需"
T = TypeVar("T")


def bank_yaml(per_topic: int = 6) -> bytes:
    """Single-choice and true/false items on three topics, bands 1–5."""
    lines = ["format: examengine-bank", "items:"]
    for topic in ("政策法规", "数字经济", "信息安全"):
        for n in range(per_topic):
            band = n % 5 + 1
            lines += [
                f"  - key: {topic}-s{n}",
                "    kind: single",
                f"    topic: {topic}",
                f"    difficulty: {{band: {band}}}",
                f"    stem: {topic}单选题 {n}",
                "    options: [{text: 甲, correct: true}, {text: 乙}, {text: 丙}, {text: 丁}]",
                f"  - key: {topic}-t{n}",
                "    kind: true_false",
                f"    topic: {topic}",
                f"    difficulty: {{band: {band}}}",
                f"    stem: {topic}判断题 {n}",
                "    answer: true",
            ]
    return "\n".join(lines).encode()


SPEC = msgspec.convert(
    {
        "key": "公需-2026",
        "title": "公需科目考试",
        "bank": BANK,
        "bank_version": 1,
        "sections": [
            {"title": "单选", "kind": "single", "count": 6, "points": 2},
            {"title": "判断", "kind": "true_false", "count": 3, "points": 1},
        ],
    },
    exams.ExamSpec,
)


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    migrate(db_url)
    exams.COMPILED.clear()
    engine = make_engine(DatabaseSettings(url=db_url))
    factory = session_factory(engine)
    with transaction(factory) as s:
        banks.import_file(s, data=bank_yaml(), source="b.yaml", bank=BANK, now=NOW)
        banks.publish(s, bank=BANK, version=1, now=NOW)
    yield factory
    engine.dispose()


def run(sessions: sessionmaker[Session], fn: Callable[[Session], T]) -> T:
    with transaction(sessions) as session:
        return fn(session)


def published(sessions: sessionmaker[Session], spec: exams.ExamSpec = SPEC) -> None:
    saved = run(sessions, lambda s: exams.save_spec(s, spec, now=NOW))
    run(sessions, lambda s: exams.publish(s, exam=spec.key, version=saved.version.version, now=NOW))


def build(sessions: sessionmaker[Session], learner: str, attempt: int = 1) -> exams.PaperRecord:
    return run(
        sessions,
        lambda s: exams.build_or_get_paper(
            s, exam=SPEC.key, learner=learner, attempt=attempt, secret=SECRET, now=NOW
        ),
    )


def audit(sessions: sessionmaker[Session], learner: str, attempt: int = 1) -> exams.AuditResult:
    return run(
        sessions,
        lambda s: exams.show_paper(
            s, exam=SPEC.key, learner=learner, attempt=attempt, secret=SECRET
        ),
    )


# ---------------------------------------------------------------------------- specs


def test_a_saved_spec_is_a_draft_and_saving_it_again_changes_nothing(
    sessions: sessionmaker[Session],
) -> None:
    first = run(sessions, lambda s: exams.save_spec(s, SPEC, now=NOW))
    assert (first.version.version, first.version.state, first.unchanged) == (1, "draft", False)
    assert (first.version.length, first.version.created_at) == (9, NOW)
    again = run(sessions, lambda s: exams.save_spec(s, SPEC, now=LATER))
    assert (again.version.version, again.unchanged) == (1, True)
    # The spec's own version number is the server's business.
    renumbered = msgspec.structs.replace(SPEC, version=7)
    assert run(sessions, lambda s: exams.save_spec(s, renumbered, now=LATER)).unchanged


def test_a_version_stored_before_a_spec_field_was_added_still_counts_as_unchanged(
    sessions: sessionmaker[Session],
) -> None:
    run(sessions, lambda s: exams.save_spec(s, SPEC, now=NOW))
    run(sessions, lambda s: exams.publish(s, exam=SPEC.key, version=1, now=NOW))

    def as_before(s: Session) -> None:  # the text an older release stored: no start_window
        row = s.exec(select(ExamVersion)).one()
        stored = msgspec.json.decode(row.spec)
        del stored["start_window"]
        row.spec = msgspec.json.encode(stored).decode()
        s.add(row)

    run(sessions, as_before)
    again = run(sessions, lambda s: exams.save_spec(s, SPEC, now=LATER))
    # not a new version: its papers (and their seeds) would differ from those stored
    assert (again.version.version, again.unchanged) == (1, True)


def test_a_draft_changes_in_place_and_a_published_version_never_changes(
    sessions: sessionmaker[Session],
) -> None:
    run(sessions, lambda s: exams.save_spec(s, SPEC, now=NOW))
    retitled = msgspec.structs.replace(SPEC, title="改过的标题")
    in_place = run(sessions, lambda s: exams.save_spec(s, retitled, now=NOW))
    assert (in_place.version.version, in_place.version.title) == (1, "改过的标题")
    info = run(sessions, lambda s: exams.publish(s, exam=SPEC.key, version=1, now=LATER))
    assert (info.state, info.published_at) == ("published", LATER)
    again = run(sessions, lambda s: exams.publish(s, exam=SPEC.key, version=1, now=NOW))
    assert again.published_at == LATER  # publishing twice is a no-op

    longer = msgspec.structs.replace(SPEC, duration_s=7200)
    second = run(sessions, lambda s: exams.save_spec(s, longer, now=LATER))
    assert (second.version.version, second.version.state) == (2, "draft")
    detail = run(sessions, lambda s: exams.exam_detail(s, exam=SPEC.key))
    assert (detail.version.version, detail.published, detail.spec.duration_s) == (2, 1, 7200)
    assert [v.title for v in detail.versions] == ["改过的标题", "公需科目考试"]
    v1 = run(sessions, lambda s: s.exec(select(ExamVersion).where(ExamVersion.version == 1)).one())
    assert msgspec.json.decode(v1.spec, type=exams.ExamSpec).duration_s == SPEC.duration_s


def test_a_spec_that_cannot_be_assembled_is_refused_with_every_problem(
    sessions: sessionmaker[Session],
) -> None:
    greedy = msgspec.structs.replace(
        SPEC, sections=(Section(title="单选", kind=ItemKind.SINGLE, count=40),)
    )
    with pytest.raises(SpecInvalidError) as raised:
        run(sessions, lambda s: exams.save_spec(s, greedy, now=NOW))
    assert [p.code for p in raised.value.problems] == ["not-enough-items"]
    assert run(sessions, exams.list_exams) == []
    problems = run(sessions, lambda s: exams.validate_spec(s, greedy))
    assert problems[0].message_zh == "第 1 大题（单选）需要 40 道单选试题，题库中只有 18 道"


def test_an_unknown_bank_is_a_problem_of_the_spec(sessions: sessionmaker[Session]) -> None:
    no_version = msgspec.structs.replace(SPEC, bank_version=9)
    problems = run(sessions, lambda s: exams.validate_spec(s, no_version))
    assert [(p.code, p.where) for p in problems] == [("bank-not-found", "bank_version")]
    no_bank = msgspec.structs.replace(SPEC, bank="无此题库")
    problems = run(sessions, lambda s: exams.validate_spec(s, no_bank))
    assert [(p.code, p.where) for p in problems] == [("bank-not-found", "bank")]


def test_publishing_refuses_a_spec_on_a_draft_bank_version(
    sessions: sessionmaker[Session],
) -> None:
    run(
        sessions,
        lambda s: banks.import_file(s, data=bank_yaml(7), source="b.yaml", bank=BANK, now=NOW),
    )
    on_draft = msgspec.structs.replace(SPEC, bank_version=2)
    run(sessions, lambda s: exams.save_spec(s, on_draft, now=NOW))
    with pytest.raises(exams.BankVersionNotPublishedError) as raised:
        run(sessions, lambda s: exams.publish(s, exam=SPEC.key, version=1, now=NOW))
    assert "publish that bank version first" in raised.value.message
    assert "请先发布该题库版本" in raised.value.message_zh


def test_papers_need_a_published_version_and_an_existing_exam(
    sessions: sessionmaker[Session],
) -> None:
    with pytest.raises(exams.ExamNotFoundError):
        build(sessions, "learner-1")
    run(sessions, lambda s: exams.save_spec(s, SPEC, now=NOW))
    with pytest.raises(exams.ExamNotPublishedError):
        build(sessions, "learner-1")


# --------------------------------------------------------------------------- papers


def test_a_paper_is_built_once_and_then_read_back(sessions: sessionmaker[Session]) -> None:
    published(sessions)
    first = build(sessions, "learner-1")
    assert first.created
    assert len(first.paper.items) == 9
    assert [i.section for i in first.paper.items] == [0] * 6 + [1] * 3
    second = build(sessions, "learner-1")
    assert not second.created
    assert second.paper == first.paper
    assert run(sessions, lambda s: len(s.exec(select(PaperRow)).all())) == 1
    other = build(sessions, "learner-2")
    assert other.paper.seed != first.paper.seed


def test_a_retake_keeps_the_first_attempts_items_off_the_paper(
    sessions: sessionmaker[Session],
) -> None:
    published(sessions)
    for learner in ("a", "b", "c"):
        seen = {i.key for i in build(sessions, learner, 1).paper.items}
        retake = {i.key for i in build(sessions, learner, 2).paper.items}
        assert not seen & retake, (learner, seen & retake)


def test_preassembly_stores_the_papers_one_by_one_building_would(
    sessions: sessionmaker[Session],
) -> None:
    published(sessions)
    learners = [f"learner-{n:03}" for n in range(200)]
    build(sessions, learners[0])
    outcome = run(
        sessions,
        lambda s: exams.preassemble(
            s, exam=SPEC.key, learners=learners, attempt=1, secret=SECRET, now=NOW
        ),
    )
    assert (outcome.built, outcome.existing) == (199, 1)
    stored = run(
        sessions,
        lambda s: {row.learner_ref: row.content for row in s.exec(select(PaperRow)).all()},
    )
    assert len(stored) == 200
    for learner in learners[::23]:
        alone = run(
            sessions,
            lambda s, learner=learner: exams.sample_paper(
                s, secret=SECRET, exam=SPEC.key, learner=learner
            ),
        )
        assert msgspec.json.decode(stored[learner], type=exams.Paper) == alone
        assert audit(sessions, learner).identical


def test_preassembled_retakes_exclude_what_each_learner_saw(
    sessions: sessionmaker[Session],
) -> None:
    published(sessions)
    learners = [f"learner-{n}" for n in range(30)]

    def pre(attempt: int) -> Callable[[Session], Any]:
        return lambda s: exams.preassemble(
            s, exam=SPEC.key, learners=learners, attempt=attempt, secret=SECRET, now=NOW
        )

    run(sessions, pre(1))
    run(sessions, pre(2))
    for learner in learners:
        first = {i.key for i in build(sessions, learner, 1).paper.items}
        second = {i.key for i in build(sessions, learner, 2).paper.items}
        assert not first & second
        assert audit(sessions, learner, 2).identical


def test_the_audit_rebuilds_the_stored_paper_exactly(sessions: sessionmaker[Session]) -> None:
    published(sessions)
    record = build(sessions, "learner-1")
    build(sessions, "learner-1", 2)
    result = audit(sessions, "learner-1")
    assert (result.status, result.identical, result.differences) == ("identical", True, ())
    assert result.stored == result.rebuilt == record.paper
    assert result.seed == record.paper.seed
    assert audit(sessions, "learner-1", 2).identical
    nobody = audit(sessions, "nobody")
    assert (nobody.status, nobody.identical, nobody.stored) == ("none", False, None)


def test_the_audit_detects_a_tampered_stored_paper(sessions: sessionmaker[Session]) -> None:
    published(sessions)
    record = build(sessions, "learner-1")
    items = list(record.paper.items)
    items[0], items[1] = items[1], items[0]
    tampered = msgspec.structs.replace(record.paper, items=tuple(items))
    run(
        sessions,
        lambda s: s.execute(
            sa.update(PaperRow).values(content=msgspec.json.encode(tampered).decode())
        ),
    )
    result = audit(sessions, "learner-1")
    assert (result.status, result.identical) == ("differs", False)
    assert result.stored == tampered
    assert result.differences[0].startswith(f"position 1: item {items[0].key} ≠ ")


def test_the_audit_reports_an_unreadable_stored_paper(sessions: sessionmaker[Session]) -> None:
    published(sessions)
    build(sessions, "learner-1")
    run(sessions, lambda s: s.execute(sa.update(PaperRow).values(content="{broken")))
    result = audit(sessions, "learner-1")
    assert (result.status, result.stored) == ("differs", None)
    assert result.differences[0].startswith("the stored paper cannot be read")


def test_a_sample_paper_of_an_unsaved_spec_is_stored_nowhere(
    sessions: sessionmaker[Session],
) -> None:
    paper = run(sessions, lambda s: exams.sample_paper(s, secret=SECRET, spec=SPEC))
    assert len(paper.items) == 9
    assert run(sessions, lambda s: s.exec(select(PaperRow)).all()) == []
    preview_of_draft = run(sessions, lambda s: exams.sample_paper(s, secret=SECRET, spec=SPEC))
    assert preview_of_draft == paper
