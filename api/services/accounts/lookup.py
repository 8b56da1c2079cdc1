"""Finding accounts: an account as the API shows it (``Account``) and the account whose
login, resident ID or phone is a given identifier (``find_account``), normalised the way
``examengine.ids.identify`` does.
"""

from __future__ import annotations

from datetime import datetime

from msgspec import Struct
from sqlmodel import Session, select

from api.services.accounts.error import AccountNotFoundError
from api.store.tables import User
from examengine.ids import InvalidIdentifier, identify


class Account(Struct, frozen=True, kw_only=True):
    """An account as the API shows it to the holder and to staff."""

    id: int
    login: str
    name: str
    resident_id: str | None
    phone: str | None
    gender: str | None
    employer: str | None
    district: str | None
    roles: tuple[str, ...]
    must_change_password: bool
    created_at: datetime


def account(user: User) -> Account:
    assert user.id is not None
    return Account(
        id=user.id, login=user.login, name=user.display_name, resident_id=user.resident_id,
        phone=user.phone, gender=user.gender, employer=user.employer, district=user.district,
        roles=tuple(user.roles), must_change_password=user.must_change_password,
        created_at=user.created_at,
    )  # fmt: skip


def find_account(session: Session, identifier: str) -> User | None:
    """The account whose login, resident ID or phone is ``identifier`` (normalised the
    way ``examengine.ids.identify`` does: lower-case x, +86, spaces), or None."""
    text = identifier.strip()
    user = session.exec(select(User).where(User.login == text)).first()
    if user is not None:
        return user
    try:
        kind, value = identify(text)
    except InvalidIdentifier:
        return None
    column = User.resident_id if kind == "resident_id" else User.phone
    return (
        session.exec(select(User).where(column == value)).first()
        or session.exec(select(User).where(User.login == value)).first()
    )


def _get(session: Session, login: str) -> User:
    user = find_account(session, login)
    if user is None:
        raise AccountNotFoundError(login)
    return user
