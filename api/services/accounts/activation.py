"""Activation links: how an account holder sets a password nobody else has seen.

A new account from a roster has no password; a staff reset takes the old one away. Both
get a one-time link (192 random bits, only its SHA-256 stored) that the app's notifier
delivers to the holder (``api.services.notify``); following it, the holder chooses a
password under the usual rules. A link is valid once, until it expires, and only while
it is the account's newest. Replaces the source platforms' initial password ``edu@`` +
the ID's last six, which anyone who knows an ID number could guess
(docs/decisions/0023). An account still on that old password is made to change it at
its next sign-in (``force_change_of_old_initial_password``).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from msgspec import Struct
from sqlmodel import Session, col, select

from api.services.accounts._shared import Hasher, _event, _events
from api.services.accounts.error import AccountError, AccountInvalidError
from api.services.accounts.rule import initial_password, password_problems
from api.services.accounts.session import end_sessions
from api.services.notify import Notice, link_origin
from api.settings import Settings
from api.store.tables import Activation, User

#: The password hash of an account that has none yet: no password verifies against it
#: (it is no argon2 string), so the account signs in only after its activation.
NO_PASSWORD = "!no-password: activation pending"
#: Where a link leads: the page reads the token from the fragment, which browsers send
#: to no server and put in no Referer.
ACTIVATION_PATH = "/activate"

Purpose = Literal["activation", "password_reset"]


class Links(Struct, frozen=True, kw_only=True):
    """Where links point (the site's public origin) and how many hours they last."""

    origin: str
    ttl_h: int


def links_for(settings: Settings, purpose: Purpose) -> Links:
    """Links of ``purpose`` as the settings make them: at the site's public origin, valid
    ``activation_ttl_h`` (a new account) or ``reset_ttl_h`` (a staff reset) hours."""
    security = settings.security
    hours = security.activation_ttl_h if purpose == "activation" else security.reset_ttl_h
    return Links(origin=link_origin(settings), ttl_h=hours)


class ActivationInvalidError(AccountError):
    """The link is unknown, used, replaced by a newer one or expired (a 410)."""

    code = "activation_invalid"

    def __init__(self) -> None:
        super().__init__(
            "This link cannot be used (it was used already, a newer one was sent, or it "
            "expired). Ask your employer's administrator or the operator for a new one.",
            "该链接已失效（已使用、已发送新链接或已过期）。请联系单位管理员或运维人员重新发送。",
        )


def _ms(now: datetime) -> int:
    return int(now.timestamp() * 1000)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_activations(
    session: Session, users: Sequence[User], *, purpose: Purpose, now: datetime, ttl_h: int,
    origin: str, actor_id: int | None,
) -> list[Notice]:  # fmt: skip
    """A new link for each of ``users`` (their earlier unused links replaced), recorded
    in their event logs; the notices to send once the caller's unit of work commits."""
    now_ms = _ms(now)
    ids = [u.id for u in users if u.id is not None]
    if ids:
        session.execute(
            sa.update(Activation)
            .where(
                col(Activation.user_id).in_(ids),
                col(Activation.used_ms).is_(None),
                col(Activation.replaced_ms).is_(None),
            )
            .values(replaced_ms=now_ms)
        )
    expires = now_ms + ttl_h * 3_600_000
    notices, rows = [], []
    for user in users:
        assert user.id is not None
        token = secrets.token_urlsafe(24)
        rows.append({"user_id": user.id, "token_hash": _digest(token), "purpose": purpose,
                     "created_ms": now_ms, "expires_ms": expires})  # fmt: skip
        notices.append(Notice(
            kind=purpose, login=user.login, name=user.display_name, phone=user.phone,
            link=f"{origin.rstrip('/')}{ACTIVATION_PATH}#{token}", expires_ms=expires,
        ))  # fmt: skip
    if rows:
        session.execute(sa.insert(Activation), rows)
    _events(
        session, users, "activation_sent", now=now, actor_id=actor_id,
        details=[{"purpose": purpose}] * len(users),
    )  # fmt: skip
    return notices


def activate(
    session: Session, *, token: str, new_password: str, now: datetime, hasher: Hasher
) -> User:
    """Set the password of the account ``token`` was sent for, and use the link up.

    Raises ``ActivationInvalidError`` (unknown, used, replaced or expired) or
    ``AccountInvalidError`` (a weak password; the link stays usable). Ends every login
    session of the account (its credentials changed).
    """
    link = session.exec(
        select(Activation).where(Activation.token_hash == _digest(token)).with_for_update()
    ).first()
    now_ms = _ms(now)
    if (
        link is None
        or link.used_ms is not None
        or link.replaced_ms is not None
        or now_ms >= link.expires_ms
    ):
        raise ActivationInvalidError
    user = session.get(User, link.user_id)
    if user is None:
        raise ActivationInvalidError
    weak = password_problems(
        new_password, resident_id=user.resident_id, phone=user.phone, field="new_password"
    )
    if weak:
        raise AccountInvalidError(weak)
    # Used up in one conditional UPDATE: of two uses at once (SQLite takes no row lock
    # for the read above), exactly one changes the row.
    taken = session.execute(
        sa.update(Activation)
        .where(col(Activation.id) == link.id, col(Activation.used_ms).is_(None),
               col(Activation.replaced_ms).is_(None))
        .values(used_ms=now_ms)
    )  # fmt: skip
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise ActivationInvalidError
    user.password_hash = hasher(new_password)
    user.must_change_password = False
    end_sessions(user)
    session.add(user)
    _event(session, user, "activated", now=now, actor_id=user.id, purpose=link.purpose)
    session.flush()
    return user


def force_change_of_old_initial_password(
    session: Session, user: User, password: str, *, now: datetime
) -> None:
    """At a sign-in with ``password`` (just verified): if it is the guessable initial
    password accounts were given before activation links (``edu@`` + the ID's last six),
    the account must change it before going on, whatever its flag said."""
    if not user.resident_id or password != initial_password(user.resident_id):
        return
    if not user.must_change_password:
        user.must_change_password = True
        session.add(user)
        _event(session, user, "initial_password_used", now=now, actor_id=user.id)
