"""SQLite's writers take turns in the process, first come first served (api.store.writer):
no writer spins in SQLite's busy handler, none is overtaken, one that waits too long is
refused with DatabaseBusy, and the turn passes on when the connection goes back."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from api.settings import DatabaseSettings
from api.store.db import make_engine, session_factory, transaction
from api.store.writer import DatabaseBusy, WriterTurns


def test_turns_are_taken_in_the_order_asked_for() -> None:
    turns = WriterTurns()
    assert turns.acquire(0.1)
    order: list[int] = []

    def writer(n: int) -> None:
        assert turns.acquire(5)
        order.append(n)
        turns.release()

    threads = []
    for n in range(5):
        thread = threading.Thread(target=writer, args=(n,))
        thread.start()
        threads.append(thread)
        while turns.waiting < n + 1:  # queued in this order
            time.sleep(0.001)
    turns.release()
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, 3, 4]
    assert turns.acquire(0)  # free again


def test_a_writer_that_waits_too_long_gives_up_and_leaves_the_queue() -> None:
    turns = WriterTurns()
    assert turns.acquire(0.1)
    started = time.monotonic()
    assert not turns.acquire(0.2)
    assert 0.15 < time.monotonic() - started < 1
    assert turns.waiting == 0
    turns.release()
    assert turns.acquire(0)


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    settings = DatabaseSettings(url=f"sqlite:///{tmp_path / 'w.db'}", sqlite_write_wait_ms=300)
    engine = make_engine(settings, serving=4)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE t (n INTEGER)"))
    return engine


def test_a_second_writer_waits_for_the_first_to_commit_then_writes(engine: sa.Engine) -> None:
    sessions = session_factory(engine)
    first_wrote = threading.Event()
    second_done = threading.Event()

    def second() -> None:
        first_wrote.wait(5)
        with transaction(sessions) as db:
            db.execute(sa.text("INSERT INTO t VALUES (2)"))
        second_done.set()

    thread = threading.Thread(target=second)
    thread.start()
    with transaction(sessions) as db:
        db.execute(sa.text("INSERT INTO t VALUES (1)"))
        first_wrote.set()
        time.sleep(0.1)
        assert not second_done.is_set()  # it waits for its turn, not in SQLite's lock
    thread.join(5)
    assert second_done.is_set()
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT n FROM t ORDER BY rowid")).scalars().all() == [
            1,
            2,
        ]


def test_a_writer_refused_its_turn_raises_database_busy_and_stores_nothing(
    engine: sa.Engine,
) -> None:
    sessions = session_factory(engine)
    refused: list[BaseException] = []

    def second() -> None:
        try:
            with transaction(sessions) as db:
                db.execute(sa.text("INSERT INTO t VALUES (2)"))
        except DatabaseBusy as error:
            refused.append(error)

    with transaction(sessions) as db:
        db.execute(sa.text("INSERT INTO t VALUES (1)"))
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(5)  # it gives up after 300 ms while this one still holds the turn
    assert len(refused) == 1
    with transaction(sessions) as db:  # the turn was handed back: writing works
        db.execute(sa.text("INSERT INTO t VALUES (3)"))
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT n FROM t ORDER BY rowid")).scalars().all() == [
            1,
            3,
        ]


def test_readers_never_wait_for_the_writer(engine: sa.Engine) -> None:
    sessions = session_factory(engine)
    with transaction(sessions) as db:
        db.execute(sa.text("INSERT INTO t VALUES (1)"))
        started = time.monotonic()
        with transaction(sessions) as reader:
            assert reader.execute(sa.text("SELECT count(*) FROM t")).scalar() == 0
        assert time.monotonic() - started < 0.2


def test_a_failed_write_hands_the_turn_on(engine: sa.Engine) -> None:
    sessions = session_factory(engine)
    with pytest.raises(sa.exc.OperationalError), transaction(sessions) as db:
        db.execute(sa.text("INSERT INTO no_such_table VALUES (1)"))
    with transaction(sessions) as db:
        db.execute(sa.text("INSERT INTO t VALUES (1)"))
