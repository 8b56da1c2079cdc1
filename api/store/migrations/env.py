"""Alembic environment: run by ``api.store.db.migrate`` with a Config built in code.

SQLite runs every migration in batch mode (it cannot ALTER most things, so Alembic
copies the table) with foreign keys off, as SQLite's own ALTER procedure requires;
PostgreSQL runs them as plain ALTERs inside one transaction.
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from alembic import context
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from api.store.tables import UtcDateTime  # importing api.store.tables registers the tables

target_metadata = SQLModel.metadata


def render_item(type_: str, obj: object, autogen_context: object) -> str | Literal[False]:
    """Write migrations in plain SQLAlchemy types, so a revision never imports the app's
    current code (which will have moved on by the time an old revision runs)."""
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})"
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None, "api.store.db.alembic_config sets sqlalchemy.url"
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
                render_item=render_item,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run examengine db upgrade")
run_migrations_online()
