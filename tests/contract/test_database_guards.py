"""PostgreSQL's own guards on the app's connections (the safety net under the unit of
work): a statement, a lock wait or an idle transaction that runs too long is ended by the
server, and the app answers 503 to retry (tests/api/test_admission.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from api.settings import DatabaseSettings
from api.store.db import make_engine

pytestmark = pytest.mark.postgres


@pytest.fixture
def guarded(postgres_url: str) -> Iterator[sa.Engine]:
    settings = DatabaseSettings(
        url=postgres_url,
        statement_timeout_ms=300,
        lock_timeout_ms=200,
        idle_in_transaction_timeout_ms=400,
    )
    engine = make_engine(settings, serving=2)
    yield engine
    engine.dispose()


def test_every_app_connection_carries_the_three_guards(guarded: sa.Engine) -> None:
    with guarded.connect() as connection:
        shown = {
            name: connection.execute(sa.text(f"SHOW {name}")).scalar()
            for name in (
                "statement_timeout",
                "lock_timeout",
                "idle_in_transaction_session_timeout",
            )
        }
    assert shown == {
        "statement_timeout": "300ms",
        "lock_timeout": "200ms",
        "idle_in_transaction_session_timeout": "400ms",
    }


def test_a_long_statement_is_cancelled_by_the_server(guarded: sa.Engine) -> None:
    with guarded.connect() as connection, pytest.raises(sa.exc.OperationalError) as caught:
        connection.execute(sa.text("SELECT pg_sleep(2)"))
    assert getattr(caught.value.orig, "sqlstate", None) == "57014"


def test_a_transaction_left_idle_is_ended_by_the_server(guarded: sa.Engine) -> None:
    with guarded.connect() as connection:
        connection.execute(sa.text("SELECT 1"))  # opens the transaction
        time.sleep(1)
        with pytest.raises(sa.exc.DBAPIError) as caught:
            connection.execute(sa.text("SELECT 1"))
    assert getattr(caught.value.orig, "sqlstate", None) == "25P03"


def test_the_command_line_engine_has_no_statement_limit(postgres_url: str) -> None:
    engine = make_engine(DatabaseSettings(url=postgres_url))
    try:
        with engine.connect() as connection:
            assert connection.execute(sa.text("SHOW statement_timeout")).scalar() == "0"
    finally:
        engine.dispose()
