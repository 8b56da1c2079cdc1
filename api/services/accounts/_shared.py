"""What the use cases that write accounts share: the hasher they are handed, which of
many identifiers some account holds already (in ``IN (…)`` chunks), and the account's
event log (``AccountEvent``: who registered, imported, reset or changed it, and when).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from api.store.db import in_chunks
from api.store.tables import AccountEvent, User

Hasher = Callable[[str], str]
"""``api.services.passwords.hash_password``: a password → its argon2id hash."""


def _taken(session: Session, column: Any, values: Iterable[str]) -> set[str]:
    """Which of ``values`` are already the ``column`` or the login of some account."""
    wanted = sorted(set(values))
    found: set[str] = set()
    for chunk in in_chunks(wanted):
        rows = session.execute(
            sa.select(column, col(User.login)).where(
                sa.or_(col(column).in_(chunk), col(User.login).in_(chunk))
            )
        )
        for value, login in rows:
            found.update(v for v in (value, login) if v in chunk)
    return found


def _event(
    session: Session, user: User, kind: str, *, now: datetime, actor_id: int | None,
    **detail: Any,
) -> None:  # fmt: skip
    assert user.id is not None
    session.add(
        AccountEvent(user_id=user.id, actor_id=actor_id, kind=kind, detail=detail, created_at=now)
    )


def _events(
    session: Session, users: Sequence[User], kind: str, *, now: datetime,
    actor_id: int | None, details: Sequence[dict[str, Any]] | None = None,
) -> None:  # fmt: skip
    """``_event`` for many accounts at once, in one INSERT (a roster's thousands of
    accounts: an ORM object each cost more than the accounts themselves)."""
    if not users:
        return
    rows = [
        {"user_id": user.id, "actor_id": actor_id, "kind": kind,
         "detail": details[n] if details is not None else {}, "created_at": now}
        for n, user in enumerate(users)
    ]  # fmt: skip
    session.execute(sa.insert(_EVENT), rows)


_EVENT = AccountEvent.metadata.tables[AccountEvent.__tablename__]
