"""What staff do to accounts: reset a password (to the initial one, a random one or one
they choose; it must be changed at the next login) and replace an account's roles, each
recorded in the account's event log. Both end the account's login sessions. Operators
act on any account, an employer administrator only on the learners of their own employer.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from msgspec import Struct
from sqlmodel import Session

from api.services.accounts._shared import Hasher, _event
from api.services.accounts.error import (
    AccountInvalidError,
    AccountNotFoundError,
    AccountRefusedError,
)
from api.services.accounts.lookup import Account, _get, account
from api.services.accounts.rule import _problem, initial_password, password_problems
from api.services.accounts.session import end_sessions
from api.store.tables import ROLES, User


class PasswordReset(Struct, frozen=True, kw_only=True):
    account: Account
    #: The new initial password, to hand to the account holder (who must change it).
    initial_password: str


def _may_act_on(actor: User, target: User) -> None:
    """Operators may act on any account; an employer administrator only on the
    learners of their own employer, and any other account is, to them, one that does
    not exist (the same 404 as an unknown login: nobody can probe who has an account)."""
    if "operator" in actor.roles:
        return
    if "employer_admin" in actor.roles:
        if (
            actor.employer
            and target.employer == actor.employer
            and set(target.roles) <= {"learner"}
        ):
            return
        raise AccountNotFoundError(target.login)
    raise AccountRefusedError(  # the routes' guards let no other role this far
        "Only operators and employer administrators act on accounts.",
        "只有运维人员和单位管理员可以操作账号。",
        code="not_account_staff",
    )


def reset_password(
    session: Session, *, login: str, actor_id: int, now: datetime, hasher: Hasher,
    password: str | None = None,
) -> PasswordReset:  # fmt: skip
    """Give ``login`` a new initial password, to be changed at the next login, and end
    every session of the account (``end_sessions``).

    Without ``password``: ``edu@`` + the ID number's last six characters for a learner
    with an ID number, a random one otherwise. Records who did it. Raises
    ``AccountNotFoundError``, ``AccountRefusedError`` (not the actor's to reset) or
    ``AccountInvalidError`` (a weak ``password``).
    """
    actor = session.get(User, actor_id)
    target = _get(session, login)
    if actor is None:
        raise AccountNotFoundError(str(actor_id))
    _may_act_on(actor, target)
    if password is not None:
        problems = password_problems(password, resident_id=None, phone=None)
        if problems:
            raise AccountInvalidError(problems)
        new, how = password, "chosen"
    elif target.resident_id:
        new, how = initial_password(target.resident_id), "initial"
    else:
        new, how = secrets.token_urlsafe(9), "random"
    target.password_hash = hasher(new)
    target.must_change_password = True
    end_sessions(target)
    session.add(target)
    _event(session, target, "password_reset", now=now, actor_id=actor_id, password=how)
    return PasswordReset(account=account(target), initial_password=new)


def set_roles(
    session: Session, *, login: str, roles: Sequence[str], actor_id: int, now: datetime
) -> Account:
    """Replace the roles of ``login`` and end every session of the account
    (``end_sessions``): the new roles hold from its next login.

    Raises ``AccountInvalidError`` for no role or an unknown one, ``AccountRefusedError``
    when an operator would remove their own operator role (nobody could give it back).
    """
    unknown = sorted(set(roles) - set(ROLES))
    if unknown or not roles:
        raise AccountInvalidError([_problem(
            "roles", "roles_invalid",
            f"give one or more of {', '.join(ROLES)}" + (f"; unknown: {', '.join(unknown)}"
                                                        if unknown else ""),
            f"请给出以下角色中的一个或多个：{', '.join(ROLES)}"
            + (f"；无法识别：{', '.join(unknown)}" if unknown else ""),
        )])  # fmt: skip
    target = _get(session, login)
    new = sorted(set(roles))
    if target.id == actor_id and "operator" in target.roles and "operator" not in new:
        raise AccountRefusedError(
            "You cannot remove your own operator role.",
            "不能移除自己的运维角色。",
            code="own_operator_role",
        )
    old = list(target.roles)
    target.roles = new
    end_sessions(target)
    session.add(target)
    _event(session, target, "roles_changed", now=now, actor_id=actor_id, old=old, new=new)
    return account(target)
