"""The bank service against each database: SQLite and PostgreSQL give the same answers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import msgspec
import pytest
from sqlmodel import Session

from api.services import banks
from api.settings import DatabaseSettings
from api.store.db import make_engine, migrate, session_factory, transaction
from itembank.errors import BankNotFoundError, ImportRefusedError
from itembank.model import Item

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
BANK = """format: examengine-bank
items:
  - key: a
    kind: single
    topic: 数字经济
    stem: 数字经济中最关键的生产要素是什么？
    options: [{text: 数据, correct: true}, {text: 土地}]
  - key: b
    kind: true_false
    topic: 政策法规
    stem: 继续教育每年不少于九十学时。
    answer: true
""".encode()


@pytest.fixture
def sessions(db_url: str) -> Iterator[object]:
    migrate(db_url)
    engine = make_engine(DatabaseSettings(url=db_url))
    yield session_factory(engine)
    engine.dispose()


def run(sessions, fn):  # type: ignore[no-untyped-def]
    with transaction(sessions) as session:
        return fn(session)


def test_an_import_round_trips_every_field_on_each_database(sessions) -> None:  # type: ignore[no-untyped-def]
    outcome = run(
        sessions, lambda s: banks.import_file(s, data=BANK, source="b.yaml", bank="公需", now=NOW)
    )
    assert outcome.version.version == 1
    items = run(sessions, lambda s: banks.load_items(s, bank="公需"))
    assert [i.key for i in items] == ["a", "b"]
    assert items[0].stem == "数字经济中最关键的生产要素是什么？"
    info = run(sessions, lambda s: banks.version_info(s, bank="公需"))
    assert info.created_at == NOW


def test_a_refused_import_leaves_no_trace(sessions) -> None:  # type: ignore[no-untyped-def]
    bad = BANK.replace(b"correct: true", b"correct: false")
    with pytest.raises(ImportRefusedError):
        run(
            sessions,
            lambda s: banks.import_file(s, data=bad, source="b.yaml", bank="公需", now=NOW),
        )
    with pytest.raises(BankNotFoundError):
        run(sessions, lambda s: banks.load_items(s, bank="公需"))


def test_search_finds_chinese_text_in_stems(sessions) -> None:  # type: ignore[no-untyped-def]
    run(sessions, lambda s: banks.import_file(s, data=BANK, source="b.yaml", bank="公需", now=NOW))
    page = run(sessions, lambda s: banks.search_items(s, bank="公需", text="九十学时"))
    assert [i.key for i in page.items] == ["b"]


def test_a_published_version_never_changes(sessions) -> None:  # type: ignore[no-untyped-def]
    run(sessions, lambda s: banks.import_file(s, data=BANK, source="b.yaml", bank="公需", now=NOW))
    run(sessions, lambda s: banks.publish(s, bank="公需", version=1, now=NOW))

    def edit(session: Session) -> banks.VersionInfo:
        item = banks.get_item(session, bank="公需", key="b")
        return banks.save_item(
            session, bank="公需", item=msgspec.structs.replace(item, stem="改过的题干。"), now=NOW
        )

    info = run(sessions, edit)
    assert (info.version, info.state) == (2, "draft")
    v1: list[Item] = run(sessions, lambda s: banks.load_items(s, bank="公需", version=1))
    v2: list[Item] = run(sessions, lambda s: banks.load_items(s, bank="公需", version=2))
    assert v1[1].stem == "继续教育每年不少于九十学时。"
    assert v2[1].stem == "改过的题干。"
    diff = run(sessions, lambda s: banks.diff_versions(s, bank="公需", old=1, new=2))
    assert diff.lines() == ["~ b: stem"]
