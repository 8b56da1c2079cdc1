"""Engines, sessions, transactions and migrations.

This module owns how the app talks to its database: one engine per process (SQLite with
WAL, foreign keys and a busy timeout; PostgreSQL through psycopg 3), a session factory,
``transaction`` (one unit of work: commit on success, roll back on error), ``provide_db``
(the per-request session dependency, ``Db`` in handler signatures), ``ping`` for
readiness, and ``migrate`` (Alembic, programmatic, the same for the CLI and the tests).
The shape of the rows lives in ``api.store.tables``; queries live in the services.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from api.settings import DatabaseSettings, database_url

MIGRATIONS = Path(__file__).parent / "migrations"

T = TypeVar("T")

#: Values per ``IN (…)`` list, well under SQLite's bound-parameter limit.
IN_CHUNK = 500

#: Milliseconds a SQLite writer waits for the lock before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 5000


def make_engine(settings: DatabaseSettings) -> Engine:
    """A new engine for ``settings.url``; the caller disposes of it.

    For a SQLite file, the parent directory is created (the default lives in ./var).
    """
    url = make_url(database_url(settings.url))
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, echo=settings.echo, json_serializer=_json)
        sa.event.listen(engine, "connect", _configure_sqlite)
        return engine
    return sa.create_engine(
        url,
        echo=settings.echo,
        json_serializer=_json,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        # Fail fast on a dead server: readiness probes and CLI errors must not hang.
        connect_args={"connect_timeout": 5},
    )


def _json(value: Any) -> str:
    """JSON columns keep CJK text as it is (searchable with LIKE), not as \\u escapes."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL: readers never block the writer; NORMAL is durable across crashes of the
        # process in WAL mode (only a power loss may drop the last transactions).
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """SQLModel sessions bound to ``engine``. Objects stay readable after commit."""
    return sessionmaker(bind=engine, class_=Session, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: yields a session, commits if the block succeeds, rolls back and
    re-raises if it fails, and always closes the session."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def standalone_transaction(settings: DatabaseSettings) -> Iterator[Session]:
    """One unit of work outside the app (the CLI, scripts, tests): an engine of its own,
    one transaction, and the engine disposed of afterwards."""
    engine = make_engine(settings)
    try:
        with transaction(session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


#: How a handler asks for the request's session: ``def handler(db: Db) -> ...``.
Db: TypeAlias = NamedDependency[Session]


def provide_db(state: State) -> Iterator[Session]:
    """Litestar dependency ``db``: one transaction per request, committed after the
    handler returns and before the response is sent, rolled back if anything raised.

    The factory is ``app.state.sessions`` (set by the app's lifespan).
    """
    with transaction(state.sessions) as session:
        yield session


def in_chunks(values: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """``values`` in slices of at most ``size``, one ``IN (…)`` query each."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def ping(engine: Engine) -> None:
    """Raises ``sqlalchemy.exc.SQLAlchemyError`` unless the database answers ``SELECT 1``."""
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))


def alembic_config(url: str) -> Config:
    """The Alembic configuration for ``url``, built in code (no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # set_main_option interpolates '%': escape it (passwords may contain it).
    config.set_main_option("sqlalchemy.url", database_url(url).replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision`` (default: the latest)."""
    database = make_url(database_url(url)).database
    if make_url(database_url(url)).get_backend_name() == "sqlite" and database:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)
