"""Where an account works: its current employer (单位) by name in ``User.employer`` — the
name employer administrators act on and certificates print — the registry of employer
names (``Employer``, a row made the first time a name is used), and who worked where
from when until when (``Employment``: at most one open row per account; rows are closed,
never deleted). docs/decisions/0025-employers.md.

This module is the only place that sets ``User.employer``, so the name, the registry and
the history cannot drift apart:

- ``employ_new`` for accounts being made (registration, a roster's thousands at once, the
  command line, the demo): the employers looked up or made once for all of them, and
  their employments opened in one INSERT; the account's creation event says the rest;
- ``assign_employer`` for an account that exists: the open employment closed, a new one
  opened, and an ``employer_changed`` event when the employer really changes;
- ``move_to_employer`` and ``employment_of``: the API's use cases, with who may do them.

Names are checked by ``rule.check_employer`` (NFKC, trimmed, 1–200 characters, one line).
A name stored before that rule existed (migration 0011 registered names as they were
typed) is still found under its own spelling, so nobody's staff splits in two.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from msgspec import Struct
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from api.services.accounts._shared import _event
from api.services.accounts.error import AccountInvalidError, AccountRefusedError, FieldProblem
from api.services.accounts.lookup import _get
from api.services.accounts.rule import check_employer
from api.services.accounts.staff import _may_act_on
from api.store.db import in_chunks
from api.store.tables import Employer, Employment, User
from examengine.ids import masked


class EmploymentSpan(Struct, frozen=True, kw_only=True):
    """An account belonged to ``employer`` from ``start_ms`` until ``end_ms`` (None: it
    still does); UTC milliseconds."""

    employer: str
    start_ms: int
    end_ms: int | None


class EmploymentRecord(Struct, frozen=True, kw_only=True):
    """An account's employer now and every employer it had, oldest first."""

    #: The login as a screen shows it (110105********002X).
    login: str
    name: str
    employer: str | None
    history: tuple[EmploymentSpan, ...]


def employ_new(
    session: Session, people: Sequence[tuple[User, str | None]], *, now_ms: int,
    actor_id: int | None,
) -> None:  # fmt: skip
    """Name the employer of accounts being made — each ``User`` added to the session but
    not flushed yet, so that its one INSERT carries the name — then flush them and open
    their employments from ``now_ms`` in one INSERT. The employer rows are looked up (or
    made) once for all the distinct names: a roster of 10,000 lines of one employer
    costs one lookup, not 10,000.

    Raises ``AccountInvalidError`` for an invalid name (a roster checks its lines first,
    to report them line by line), and whatever the flush raises (``IntegrityError``: the
    person was registered meanwhile) for the caller to word.
    """
    names = {name for _, name in people if name is not None}
    registered = _registered(session, names, now_ms=now_ms)
    for user, name in people:
        assert user.id is None, "employ_new is for accounts being made"
        user.employer = registered[name][1] if name is not None else None
    session.flush()
    rows = [
        {"user_id": user.id, "employer_id": registered[name][0], "start_ms": now_ms,
         "end_ms": None, "actor_id": actor_id}
        for user, name in people if name is not None
    ]  # fmt: skip
    if rows:  # one INSERT, as the roster's events: an ORM object a row costs more
        session.execute(sa.insert(_EMPLOYMENT), rows)


def assign_employer(
    session: Session, user: User, name: str | None, *, now_ms: int, actor_id: int | None
) -> bool:
    """Make ``name`` the employer of an existing account (None: no employer): the open
    employment is closed at ``now_ms`` (or when it began, if that is later), a new one
    opened then, ``User.employer`` set, and an
    ``employer_changed`` event recorded (from, to). Nothing at all when the account is
    there already. Returns whether it changed.

    The account is locked first and its employer read again under the lock (``_locked``):
    two moves of one account at once take turns, each sees the other's result, and the
    account keeps one open employment (which the partial unique index
    ``uq_employment_current`` guards in any case).

    Raises ``AccountInvalidError`` naming ``employer`` for an invalid name.
    """
    assert user.id is not None
    wanted = _registered(session, {name}, now_ms=now_ms)[name] if name is not None else None
    current = _locked(session, user.id)
    before = current.employer
    after = wanted[1] if wanted is not None else None
    if after == before:
        return False
    is_open = (_EMPLOYMENT.c.user_id == user.id, _EMPLOYMENT.c.end_ms.is_(None))
    started = session.execute(sa.select(_EMPLOYMENT.c.start_ms).where(*is_open)).scalar()
    # The time was read before the lock was had: a move that waited for another one
    # must not end that one's span before it began.
    at = max(now_ms, started or now_ms)
    session.execute(sa.update(_EMPLOYMENT).where(*is_open).values(end_ms=at))
    if wanted is not None:
        session.add(Employment(user_id=user.id, employer_id=wanted[0], start_ms=at,
                               actor_id=actor_id))  # fmt: skip
    current.employer = after
    session.add(current)
    _event(
        session, current, "employer_changed", now=_when(at), actor_id=actor_id,
        **{"from": before, "to": after},
    )  # fmt: skip
    # Certificates print the employer: the current ones are issued anew (decision 0028).
    # (imported here: certificates read study and attempts, which import accounts)
    from api.services import certificates  # noqa: PLC0415

    certificates.refresh(session, learner_id=user.id, cause="employer_changed", now=at)
    return True


def _locked(session: Session, user_id: int) -> User:
    """The account, read again once no other unit of work can change it until this one
    ends: PostgreSQL locks its row (``FOR UPDATE``); SQLite has one writer for the whole
    file, whose lock a write that changes nothing takes (SQLite has no ``FOR UPDATE``,
    and a read alone takes no lock). Whatever is pending in the session is flushed first,
    so reading the account again loses none of it."""
    session.flush()
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            sa.update(_USER).where(_USER.c.id == user_id).values(employer=_USER.c.employer)
        )
    return session.exec(
        select(User).where(User.id == user_id).with_for_update()
        .execution_options(populate_existing=True)
    ).one()  # fmt: skip


def employment_history(session: Session, user_id: int) -> tuple[EmploymentSpan, ...]:
    """Every employer the account had, oldest first (the open one last)."""
    rows = session.execute(
        sa.select(col(Employer.name), col(Employment.start_ms), col(Employment.end_ms))
        .join(Employer, col(Employer.id) == col(Employment.employer_id))
        .where(col(Employment.user_id) == user_id)
        .order_by(col(Employment.start_ms), col(Employment.id))
    )
    return tuple(EmploymentSpan(employer=n, start_ms=s, end_ms=e) for n, s, e in rows)


def employer_at(session: Session, user_id: int, at_ms: int) -> str | None:
    """The employer the account belonged to at ``at_ms`` (None: none). A span holds from
    its start up to, not including, its end: at the moment of a move, the new employer."""
    return session.execute(
        sa.select(col(Employer.name))
        .join(Employment, col(Employer.id) == col(Employment.employer_id))
        .where(
            col(Employment.user_id) == user_id,
            col(Employment.start_ms) <= at_ms,
            sa.or_(col(Employment.end_ms).is_(None), col(Employment.end_ms) > at_ms),
        )
        .order_by(col(Employment.start_ms).desc(), col(Employment.id).desc())
        .limit(1)
    ).scalar_one_or_none()


def move_to_employer(
    session: Session, *, login: str, employer: str | None, actor_id: int, now_ms: int
) -> EmploymentRecord:
    """An operator moves ``login`` to ``employer`` (None: to none), the history kept.

    Only operators move people: an employer administrator may neither take someone
    into their employer nor let one of their staff go (the learner's new employer, or
    the operator, says where they went). Raises ``AccountNotFoundError``,
    ``AccountRefusedError`` (not an operator), ``AccountInvalidError`` (the name).
    """
    actor = session.get(User, actor_id)
    if actor is None or "operator" not in actor.roles:
        raise AccountRefusedError(
            "Only operators move people from one employer to another.",
            "只有运维人员可以调整人员所在单位。",
            code="not_operator",
        )
    target = _get(session, login)
    assign_employer(session, target, employer, now_ms=now_ms, actor_id=actor_id)
    return _record(session, target)


def employment_of(session: Session, *, login: str, actor_id: int) -> EmploymentRecord:
    """``login``'s employers over time, for an operator or for an administrator of the
    account's current employer (to whom any other account does not exist: a 404, as for
    a reset). Raises ``AccountNotFoundError``, ``AccountRefusedError``."""
    actor = session.get(User, actor_id)
    target = _get(session, login)
    if actor is None:
        raise AccountRefusedError(
            "Only operators and employer administrators act on accounts.",
            "只有运维人员和单位管理员可以操作账号。",
            code="not_account_staff",
        )
    _may_act_on(actor, target)
    return _record(session, target)


def _record(session: Session, user: User) -> EmploymentRecord:
    assert user.id is not None
    return EmploymentRecord(
        login=masked(user.login), name=user.display_name, employer=user.employer,
        history=employment_history(session, user.id),
    )  # fmt: skip


def _registered(
    session: Session, names: Collection[str], *, now_ms: int
) -> dict[str, tuple[int, str]]:
    """Each of ``names`` (as given) → its employer's id and name as registered, the
    missing ones registered now. A name is looked for as it was stored before names were
    normalised (trimmed), then normalised (``check_employer``, which refuses invalid
    names with ``AccountInvalidError``). Two units of work registering one name at once
    both get the one row (``ON CONFLICT DO NOTHING``, then read)."""
    normal: dict[str, str] = {}
    for name in names:
        checked = check_employer(name)
        if isinstance(checked, FieldProblem):
            raise AccountInvalidError([checked])
        normal[name] = checked
    spellings = sorted({*normal.values(), *(n.strip() for n in names)})
    with session.no_autoflush:  # accounts being made are inserted with their employer
        found = _ids(session, spellings)
        unknown = {n for name, n in normal.items() if name.strip() not in found}
        missing = sorted(unknown - set(found))
        if missing:
            dialect = session.get_bind().dialect.name
            insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_EMPLOYER)
            session.execute(
                insert.on_conflict_do_nothing(),
                [{"name": n, "created_at": _when(now_ms)} for n in missing],
            )
            found |= _ids(session, missing)
    registered = {}
    for name, n in normal.items():
        stored = name.strip() if name.strip() in found else n
        registered[name] = (found[stored], stored)
    return registered


def _ids(session: Session, names: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in in_chunks(names):
        rows = session.execute(
            sa.select(_EMPLOYER.c.name, _EMPLOYER.c.id).where(_EMPLOYER.c.name.in_(chunk))
        )
        found.update((name, id_) for name, id_ in rows)
    return found


def _when(now_ms: int) -> datetime:
    return datetime.fromtimestamp(now_ms / 1000, UTC)


_EMPLOYER = Employer.metadata.tables[Employer.__tablename__]
_EMPLOYMENT = Employment.metadata.tables[Employment.__tablename__]
_USER = User.metadata.tables[User.__tablename__]
