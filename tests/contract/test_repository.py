"""The schema on every backend: migrations equal the tables, rows round-trip, and the
database enforces what the tables declare (uniqueness, foreign keys, UTC times)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, SQLModel, col, select

from api.settings import DatabaseSettings
from api.store.db import alembic_config, make_engine, migrate, session_factory, transaction
from api.store.tables import Bank, BankItem, BankVersion, ItemResponse, User
from itembank.model import Item, Option, SingleChoice, Status, decode_item, encode_item

ITEM = Item(
    key="safety-001",
    stem="高处作业必须系好什么？",
    body=SingleChoice(
        options=(
            Option(id="A", text="安全带", fraction=1.0),
            Option(id="B", text="领带"),
        )
    ),
    topic="安全",
)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    migrate(db_url)
    engine = make_engine(DatabaseSettings(url=db_url))
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


def add_version(sessions: sessionmaker[Session], *, name: str = "safety") -> BankVersion:
    with transaction(sessions) as db:
        author = User(login="13800138000", display_name="作者", password_hash="x", roles=["author"])
        bank = Bank(name=name)
        db.add_all([author, bank])
        db.flush()
        assert bank.id is not None
        version = BankVersion(
            bank_id=bank.id,
            version=1,
            source_format="native",
            source_name="safety.yaml",
            content_hash="0" * 64,
            item_count=1,
            created_by=author.id,
        )
        db.add(version)
        db.flush()
        assert version.id is not None
        db.add(
            BankItem(
                bank_version_id=version.id,
                position=0,
                key=ITEM.key,
                kind=ITEM.kind.value,
                topic=ITEM.topic,
                status=ITEM.status.value,
                data=encode_item(ITEM).decode(),
            )
        )
    return version


def test_migrated_schema_equals_the_table_definitions(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_migrating_twice_changes_nothing(db_url: str, engine: Engine) -> None:
    migrate(db_url)
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    assert current == ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()


def test_a_bank_version_and_its_items_round_trip(sessions: sessionmaker[Session]) -> None:
    version = add_version(sessions)
    with transaction(sessions) as db:
        stored = db.exec(select(BankVersion).where(BankVersion.id == version.id)).one()
        assert (stored.state, stored.item_count, stored.published_at) == ("draft", 1, None)
        bank = db.get(Bank, stored.bank_id)
        assert bank is not None and bank.name == "safety"
        rows = db.exec(
            select(BankItem)
            .where(BankItem.bank_version_id == stored.id, BankItem.topic == "安全")
            .order_by(col(BankItem.position))
        ).all()
    assert [row.key for row in rows] == ["safety-001"]
    assert decode_item(rows[0].data) == ITEM
    assert rows[0].status == Status.ACTIVE


def test_times_come_back_aware_in_utc(sessions: sessionmaker[Session]) -> None:
    version = add_version(sessions)
    beijing = timezone(timedelta(hours=8))
    published = datetime(2026, 3, 1, 9, 30, tzinfo=beijing)
    with transaction(sessions) as db:
        row = db.get(BankVersion, version.id)
        assert row is not None
        row.state = "published"
        row.published_at = published
        db.add(row)
    with transaction(sessions) as db:
        row = db.get(BankVersion, version.id)
        assert row is not None
        assert row.published_at == published
        assert row.published_at is not None and row.published_at.tzinfo == UTC
        assert row.published_at.hour == 1
        assert row.created_at.tzinfo == UTC


def test_a_naive_time_is_refused(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(StatementError, match="naive datetime"), transaction(sessions) as db:
        db.add(Bank(name="naive", created_at=datetime(2026, 1, 1)))  # noqa: DTZ001
        db.flush()


def test_bank_names_are_unique(sessions: sessionmaker[Session]) -> None:
    add_version(sessions, name="dup")
    with pytest.raises(IntegrityError), transaction(sessions) as db:
        db.add(Bank(name="dup"))


def test_a_version_number_is_unique_within_its_bank(sessions: sessionmaker[Session]) -> None:
    version = add_version(sessions)
    with pytest.raises(IntegrityError), transaction(sessions) as db:
        db.add(
            BankVersion(
                bank_id=version.bank_id, version=1, source_format="gift", content_hash="1" * 64
            )
        )


def test_item_keys_are_unique_within_a_version(sessions: sessionmaker[Session]) -> None:
    version = add_version(sessions)
    assert version.id is not None
    with pytest.raises(IntegrityError), transaction(sessions) as db:
        db.add(
            BankItem(bank_version_id=version.id, position=1, key=ITEM.key, kind="single", data="{}")
        )


def test_the_state_of_a_version_is_draft_or_published(sessions: sessionmaker[Session]) -> None:
    version = add_version(sessions)
    with pytest.raises(IntegrityError), transaction(sessions) as db:
        db.execute(
            sa.update(BankVersion).where(col(BankVersion.id) == version.id).values(state="archived")
        )


def test_foreign_keys_are_enforced(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(IntegrityError), transaction(sessions) as db:
        db.add(BankItem(bank_version_id=999_999, position=0, key="k", kind="single", data="{}"))


def test_deleting_a_version_deletes_its_items(sessions: sessionmaker[Session]) -> None:
    version = add_version(sessions)
    with transaction(sessions) as db:
        db.execute(sa.delete(BankVersion).where(col(BankVersion.id) == version.id))
    with transaction(sessions) as db:
        assert db.exec(select(BankItem)).all() == []


def test_a_failed_transaction_leaves_nothing_behind(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError), transaction(sessions) as db:
        db.add(Bank(name="half-done"))
        db.flush()
        raise RuntimeError("boom")
    with transaction(sessions) as db:
        assert db.exec(select(Bank).where(Bank.name == "half-done")).first() is None


def test_item_responses_are_stored_for_analysis(sessions: sessionmaker[Session]) -> None:
    version = add_version(sessions)
    assert version.id is not None
    with transaction(sessions) as db:
        db.add_all(
            [
                ItemResponse(
                    bank_version_id=version.id,
                    item_key=ITEM.key,
                    learner_ref=f"attempt-{n}",
                    response={"choice": ["A"] if n % 2 else ["B"]},
                    score=float(n % 2),
                    max_score=1.0,
                )
                for n in range(4)
            ]
        )
    with transaction(sessions) as db:
        rows = db.exec(
            select(ItemResponse).where(
                ItemResponse.bank_version_id == version.id, ItemResponse.item_key == ITEM.key
            )
        ).all()
    assert sorted(row.score for row in rows) == [0.0, 0.0, 1.0, 1.0]
    assert {tuple(row.response["choice"]) for row in rows} == {("A",), ("B",)}


def test_user_roles_are_a_list(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as db:
        db.add(User(login="110101199003074477", display_name="学员", password_hash="x",
                    roles=["learner", "proctor"]))  # fmt: skip
    with transaction(sessions) as db:
        user = db.exec(select(User).where(User.login == "110101199003074477")).one()
    assert user.roles == ["learner", "proctor"]
    assert user.must_change_password is True


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(DatabaseSettings(url=f"sqlite:///{tmp_path / 'nested' / 'x.db'}"))
    try:
        with engine.connect() as connection:
            pragma = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
    finally:
        engine.dispose()
    assert pragma == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 5000}
