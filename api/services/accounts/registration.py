"""Self-registration: a learner's request (``Registration``), checked field by field
against the rules, becomes a learner account whose login is the ID number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from msgspec import Meta, Struct
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.services.accounts._shared import Hasher, _event, _taken
from api.services.accounts.employment import employ_new
from api.services.accounts.error import AccountExistsError, AccountInvalidError, FieldProblem
from api.services.accounts.lookup import Account, account
from api.services.accounts.rule import (
    _identifier,
    beijing_date,
    check_employer,
    check_gender,
    check_name,
    password_problems,
)
from api.store.tables import User
from examengine.ids import check_mobile, check_resident_id

ShortText = Annotated[str, Meta(max_length=64)]
LongText = Annotated[str, Meta(max_length=200)]
PasswordText = Annotated[str, Meta(max_length=256)]


class Registration(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A learner registering themself; every field is checked by ``register``."""

    name: ShortText
    resident_id: ShortText
    phone: ShortText
    password: PasswordText
    #: 男/女 or male/female; taken from the ID number when empty.
    gender: ShortText = ""
    employer: LongText = ""
    district: ShortText = ""


def register(session: Session, data: Registration, *, now: datetime, hasher: Hasher) -> Account:
    """Create a learner's account from a self-registration (login = the ID number).

    Raises ``AccountInvalidError`` listing every invalid field, ``AccountExistsError``
    when the ID number or the phone is registered already. The password is hashed
    before the identifiers are looked up, so both outcomes take the same time (the HTTP
    answer does not tell them apart either: decision 0014).
    """
    problems: list[FieldProblem] = []
    name = check_name(data.name)
    resident_id = _identifier(
        "resident_id", lambda v: check_resident_id(v, today=beijing_date(now)), data.resident_id
    )
    phone = _identifier("phone", check_mobile, data.phone)
    for value in (name, resident_id, phone):
        if isinstance(value, FieldProblem):
            problems.append(value)
    rid = resident_id if isinstance(resident_id, str) else None
    gender = check_gender(data.gender, rid)
    if isinstance(gender, FieldProblem):
        problems.append(gender)
    # Checked here to be reported with the other fields; stored as typed, for
    # ``employ_new`` to find under a spelling registered before names were normalised.
    employer = data.employer if data.employer.strip() else None
    if employer is not None and isinstance(checked := check_employer(employer), FieldProblem):
        problems.append(checked)
    problems += password_problems(
        data.password, resident_id=rid, phone=phone if isinstance(phone, str) else None
    )
    if problems:
        raise AccountInvalidError(problems)
    assert isinstance(name, str) and isinstance(phone, str) and rid is not None
    assert not isinstance(gender, FieldProblem)
    password_hash = hasher(data.password)
    if _taken(session, User.resident_id, [rid]):
        raise AccountExistsError("resident_id")
    if _taken(session, User.phone, [phone]):
        raise AccountExistsError("phone")
    user = User(
        login=rid, display_name=name, password_hash=password_hash, roles=["learner"],
        must_change_password=False, created_at=now, resident_id=rid, phone=phone,
        gender=gender, district=data.district.strip() or None,
    )  # fmt: skip
    session.add(user)
    try:
        employ_new(session, [(user, employer)], now_ms=int(now.timestamp() * 1000), actor_id=None)
    except IntegrityError:  # registered by a concurrent request since the check
        raise AccountExistsError("") from None
    _event(session, user, "registered", now=now, actor_id=user.id)
    return account(user)
