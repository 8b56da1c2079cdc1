"""SQLite's one writer, shared fairly inside a process.

SQLite lets one connection write at a time. Writers that collide wait in SQLite's busy
handler, which sleeps and polls: under a surge they starve one another (the one that
polls at the right moment wins, not the one that came first), a request can wait out
the whole busy timeout and fail with "database is locked", and the server looks wedged
while it is nearly idle (issue 11). Here the writers of one process take turns instead:
the first write statement of a transaction waits for its turn in a first-come,
first-served queue, and the turn passes on when the connection goes back to the pool,
after its commit or rollback. A writer that has waited ``wait_s`` gives up with
``DatabaseBusy`` (a 503 with Retry-After for a request; the next tick for a worker).
Readers are never queued: in WAL mode they do not block the writer nor it them.

Other processes (the command line, a second server on the same file) still meet this
one at SQLite's lock, with its busy timeout: that is rare, and this is not for them.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

#: Statements that write: the first one of a transaction waits for the writer's turn.
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")
#: Where a connection's pool record notes that it holds the turn.
_HOLDS = "examengine.writer_turn"


class DatabaseBusy(Exception):
    """The database could not take this unit of work in time; nothing of it was stored
    (the HTTP shell answers 503 with Retry-After)."""


class WriterTurns:
    """A first-come, first-served lock: ``acquire`` waits behind every earlier caller."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._queue: deque[threading.Event] = deque()
        self._held = False

    def acquire(self, timeout_s: float) -> bool:
        """Wait for the turn, at most ``timeout_s``; whether it was had."""
        with self._mutex:
            if not self._held and not self._queue:
                self._held = True
                return True
            turn = threading.Event()
            self._queue.append(turn)
        if turn.wait(timeout_s):
            return True
        with self._mutex:
            if turn.is_set():  # handed over just as the wait ran out: keep it
                return True
            self._queue.remove(turn)
            return False

    def release(self) -> None:
        """Hand the turn to the longest waiting caller, or free it."""
        with self._mutex:
            if self._queue:
                self._queue.popleft().set()  # _held stays True: it passes on
            else:
                self._held = False

    @property
    def waiting(self) -> int:
        return len(self._queue)


def serialize_writers(engine: Engine, *, wait_s: float) -> WriterTurns:
    """Make ``engine``'s writers take turns (see the module's docstring)."""
    turns = WriterTurns()

    def before_write(conn: sa.Connection, _cursor: Any, statement: str, *_: Any) -> None:
        # conn.info is the pool record's: it lives as long as the DBAPI connection and is
        # cleared only when the record next connects, after the events below.
        if conn.info.get(_HOLDS) or not statement.lstrip().upper().startswith(_WRITES):
            return
        if not turns.acquire(wait_s):
            raise DatabaseBusy
        conn.info[_HOLDS] = True

    def let_go(_dbapi_connection: Any, record: Any, *_: Any) -> None:
        # Back in the pool (after its reset: committed or rolled back), or thrown away.
        if record is not None and record.info.pop(_HOLDS, False):
            turns.release()

    sa.event.listen(engine, "before_cursor_execute", before_write)
    for returned in ("checkin", "invalidate", "close"):
        sa.event.listen(engine, returned, let_go)
    return turns
