"""What staff do to accounts: reset a password (a one-time link sent to the holder, who
chooses the new one; or, for an operator only, a password they choose, to be changed at
the next login) and replace an account's roles, each recorded in the account's event log.
Both end the account's login sessions. Operators act on any account, an employer
administrator only on the learners of their own employer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from msgspec import Struct
from sqlmodel import Session

from api.services.accounts._shared import Hasher, _event
from api.services.accounts.activation import NO_PASSWORD, Links, issue_activations
from api.services.accounts.error import (
    AccountInvalidError,
    AccountNotFoundError,
    AccountRefusedError,
)
from api.services.accounts.lookup import Account, _get, account
from api.services.accounts.rule import _problem, password_problems
from api.services.accounts.session import end_sessions
from api.services.notify import Notice
from api.store.tables import ROLES, User


class PasswordReset(Struct, frozen=True, kw_only=True):
    account: Account
    #: ``link``: a reset link was sent to the holder (nobody else sees the password);
    #: ``chosen``: the operator set the password they chose.
    how: Literal["link", "chosen"]
    #: When the link stops working (``link`` only).
    link_expires_ms: int | None = None


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
    session: Session, *, login: str, actor_id: int, now: datetime, hasher: Hasher, links: Links,
    password: str | None = None,
) -> tuple[PasswordReset, list[Notice]]:  # fmt: skip
    """Take ``login``'s password away and end every session of the account
    (``end_sessions``): by default the holder is sent a one-time link (in the notices
    returned, for the caller to send once its unit of work commits) to choose a new one,
    so nobody else ever sees it. An operator may instead set a ``password`` of their
    choosing, to be changed at the next login. Records who did it.

    Raises ``AccountNotFoundError``, ``AccountRefusedError`` (not the actor's to reset,
    or an employer administrator choosing the password) or ``AccountInvalidError`` (a
    weak ``password``).
    """
    actor = session.get(User, actor_id)
    target = _get(session, login)
    if actor is None:
        raise AccountNotFoundError(str(actor_id))
    _may_act_on(actor, target)
    notices: list[Notice] = []
    if password is not None:
        if "operator" not in actor.roles:
            raise AccountRefusedError(
                "An employer administrator does not choose a staff member's password: a "
                "reset sends them a link to choose their own.",
                "单位管理员不能为员工设定密码：重置后，系统会向员工发送链接，由其自行设置。",
                code="password_not_yours_to_choose",
            )
        problems = password_problems(password, resident_id=None, phone=None)
        if problems:
            raise AccountInvalidError(problems)
        target.password_hash = hasher(password)
        target.must_change_password = True
        how: Literal["link", "chosen"] = "chosen"
    else:
        target.password_hash = NO_PASSWORD
        target.must_change_password = False
        how = "link"
    end_sessions(target)
    session.add(target)
    _event(session, target, "password_reset", now=now, actor_id=actor_id, password=how)
    if how == "link":
        notices = issue_activations(
            session, [target], purpose="password_reset", now=now, ttl_h=links.ttl_h,
            origin=links.origin, actor_id=actor_id,
        )  # fmt: skip
    reset = PasswordReset(
        account=account(target), how=how,
        link_expires_ms=notices[0].expires_ms if notices else None,
    )  # fmt: skip
    return reset, notices


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
