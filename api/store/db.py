"""Engines, sessions, transactions and migrations.

This module owns how the app talks to its database: one engine per process (SQLite with
WAL, foreign keys and a busy timeout; PostgreSQL through psycopg 3), a session factory,
``transaction`` (one unit of work: commit on success, roll back on error), ``UnitOfWork``
(how handlers run one: ``Uow`` in handler signatures, ``provide_uow``), ``ping`` for
readiness, and ``migrate`` (Alembic, programmatic, the same for the CLI and the tests).
The shape of the rows lives in ``api.store.tables``; queries live in the services.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from anyio import to_thread
from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from api.settings import DatabaseSettings, database_url
from api.store.writer import serialize_writers

MIGRATIONS = Path(__file__).parent / "migrations"

T = TypeVar("T")

#: Values per ``IN (…)`` list, well under SQLite's bound-parameter limit.
IN_CHUNK = 500

#: Milliseconds a SQLite writer waits for the lock before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 5000


def make_engine(settings: DatabaseSettings, *, serving: int | None = None) -> Engine:
    """A new engine for ``settings.url``; the caller disposes of it.

    ``serving``: the engine of a server process that runs that many units of work at
    once (request threads and background workers). Its pool holds exactly that many
    connections and a wait for one fails after ``pool_timeout_ms`` (``DatabaseBusy``
    upstream: a 503), PostgreSQL's own guards are set on every connection, and SQLite's
    writers take turns (``api.store.writer``). Without it (the command line, scripts,
    tests): SQLAlchemy's default pool, no guards, no turns.

    For a SQLite file, the parent directory is created (the default lives in ./var).
    """
    url = make_url(database_url(settings.url))
    pool: dict[str, Any] = {}
    if serving is not None:
        pool = {
            "pool_size": serving,
            "max_overflow": 0,
            "pool_timeout": settings.pool_timeout_ms / 1000,
        }
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        memory = not url.database or url.database == ":memory:"
        engine = sa.create_engine(
            url, echo=settings.echo, json_serializer=_json, **({} if memory else pool)
        )
        sa.event.listen(engine, "connect", _configure_sqlite)
        if serving is not None:
            serialize_writers(engine, wait_s=settings.sqlite_write_wait_ms / 1000)
        return engine
    # Fail fast on a dead server: readiness probes and CLI errors must not hang.
    connect_args: dict[str, Any] = {"connect_timeout": 5}
    if serving is not None:
        connect_args["options"] = " ".join(
            f"-c {name}={ms}"
            for name, ms in (
                ("statement_timeout", settings.statement_timeout_ms),
                ("lock_timeout", settings.lock_timeout_ms),
                ("idle_in_transaction_session_timeout", settings.idle_in_transaction_timeout_ms),
            )
        )
    return sa.create_engine(
        url,
        echo=settings.echo,
        json_serializer=_json,
        pool_pre_ping=True,
        **(pool or {"pool_size": 10, "max_overflow": 10}),
        connect_args=connect_args,
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
def standalone_transaction(
    settings: DatabaseSettings, *, info: Mapping[str, Any] | None = None
) -> Iterator[Session]:
    """One unit of work outside the app (the CLI, scripts, tests): an engine of its own,
    one transaction, and the engine disposed of afterwards. ``info`` goes into the
    session's ``info`` (what the services read from the unit of work: the records
    settings that sign a certificate made due)."""
    engine = make_engine(settings)
    try:
        with transaction(session_factory(engine)) as session:
            session.info.update(info or {})
            yield session
    finally:
        engine.dispose()


class UnitOfWork:
    """The app's units of work (docs/decisions/0012-never-wedge.md).

    ``with uow() as db:`` opens one transaction in the calling thread, commits it when
    the block succeeds, rolls back when it raises, and returns the connection to the pool
    before the block's caller goes on — never later, never from another thread, never
    after the response. A handler that is ``async`` runs its whole unit in one worker
    thread with ``await uow.run(work)``.

    (It replaces a per-request session dependency whose commit ran in Litestar's
    dependency clean-up, after the handler, on a thread of its own: under a surge every
    worker thread waited for a pool connection while every connection waited, idle in
    its transaction, for a thread to commit it — the wedge of issue 11.)
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def __call__(self) -> AbstractContextManager[Session]:
        return transaction(self.sessions)

    async def run(self, work: Callable[[Session], T]) -> T:
        """``work(db)`` as one unit of work in a worker thread; returns what it returns."""
        return await to_thread.run_sync(self._run, work)

    def _run(self, work: Callable[[Session], T]) -> T:
        with transaction(self.sessions) as db:
            return work(db)


#: How a handler asks for the app's units of work: ``def handler(uow: Uow) -> ...``.
Uow: TypeAlias = NamedDependency[UnitOfWork]


def provide_uow(state: State) -> UnitOfWork:
    """Litestar dependency ``uow``: the app's ``UnitOfWork`` (set by its lifespan)."""
    uow: UnitOfWork = state.uow
    return uow


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
