"""Activation codes (激活码): how an employer that pays by bank transfer buys a plan for its
staff. An operator issues a batch of serial + code pairs for a plan (maybe for one
employer's staff only), hands the batch's file to the employer, and each learner redeems
one code, which enrolls them in the plan and its exam.

A code is 16 characters from an alphabet without look-alikes (no 0/O, 1/I/L), shown in
groups of four: ~79 random bits, so it cannot be guessed, and only its SHA-256 is stored.
A code is used once, until it expires. Every issue and redemption is recorded, and so is
every refused redemption: after ``MAX_REFUSED_PER_HOUR`` refused in an hour an account
may not try again until the hour is over (on top of the per-address limit of the HTTP route).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from msgspec import Struct
from sqlmodel import Session, col, select

from api.services import study
from api.services.accounts import AccountError, AccountInvalidError, FieldProblem
from api.services.employer import plan_named
from api.services.sheets import workbook
from api.store.tables import AccountEvent, PlanCode, User
from api.store.tables import Plan as PlanRow

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # 31 symbols: no 0/O, 1/I/L
CODE_LENGTH = 16
MAX_BATCH = 10_000
MAX_REFUSED_PER_HOUR = 10


class IssuedCode(Struct, frozen=True, kw_only=True):
    serial: str
    code: str


class Batch(Struct, frozen=True, kw_only=True):
    batch: str
    plan: str
    plan_title: str
    year: int
    employer: str | None
    expires_ms: int
    codes: tuple[IssuedCode, ...]


class Redeemed(Struct, frozen=True, kw_only=True):
    plan: str
    plan_title: str
    serial: str


class TooManyCodesError(AccountError):
    """More than ``MAX_REFUSED_PER_HOUR`` refused codes this hour (a 429)."""

    code = "code_attempts"

    def __init__(self) -> None:
        super().__init__(
            f"More than {MAX_REFUSED_PER_HOUR} wrong codes in an hour: try again later.",
            f"一小时内输错激活码超过 {MAX_REFUSED_PER_HOUR} 次，请稍后再试。",
        )


class CodeRefusedError(AccountInvalidError):
    """A redemption is refused; ``code`` (the error's) says why, for the status."""

    def __init__(self, code: str, message: str, message_zh: str) -> None:
        super().__init__([FieldProblem(field="code", code=code, message=message,
                                       message_zh=message_zh)])  # fmt: skip
        self.code = code


def _normal(code: str) -> str:
    """The code as typed, without separators or case (``abcd-efgh`` → ``ABCDEFGH``)."""
    return "".join(c for c in code.upper() if c.isalnum())


def _digest(code: str) -> str:
    return hashlib.sha256(_normal(code).encode()).hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def issue(
    session: Session, *, plan: str, count: int, employer: str | None, days: int,
    actor_id: int | None, now: int,
) -> Batch:  # fmt: skip
    """A new batch of ``count`` codes for ``plan``, valid ``days`` days. Refuses (naming
    the field) an unknown plan or a count out of 1…``MAX_BATCH``."""
    if not 1 <= count <= MAX_BATCH:
        raise AccountInvalidError([FieldProblem(
            field="count", code="count_range", message=f"between 1 and {MAX_BATCH:,} codes",
            message_zh=f"每批 1 至 {MAX_BATCH:,} 个",
        )])  # fmt: skip
    row = plan_named(session, plan)
    batch = f"B{now // 1000}{secrets.token_hex(2).upper()}"
    expires = now + days * 86_400_000
    codes = tuple(
        IssuedCode(serial=f"{batch}-{n:05d}", code=_new_code()) for n in range(1, count + 1)
    )
    session.execute(
        sa.insert(PlanCode),
        [
            {"serial": c.serial, "code_hash": _digest(c.code), "batch": batch,
             "plan_id": row.id, "employer": employer, "created_ms": now,
             "expires_ms": expires, "issued_by": actor_id}
            for c in codes
        ],
    )  # fmt: skip
    return Batch(
        batch=batch, plan=row.key, plan_title=row.title, year=row.year, employer=employer,
        expires_ms=expires, codes=codes,
    )  # fmt: skip


def redeem(session: Session, *, learner_id: int, code: str, now: int) -> Redeemed:
    """Redeem ``code`` for the learner: they are enrolled in its plan and the code is used
    up. Refused (``CodeRefusedError``, recorded, naming ``code``): an unknown code, one
    used already, expired, or meant for another employer's staff; ``TooManyCodesError``
    after too many refusals this hour."""
    user = session.get(User, learner_id)
    assert user is not None and user.id is not None
    when = datetime.fromtimestamp(now / 1000, UTC)
    if _refused_lately(session, user.id, now) >= MAX_REFUSED_PER_HOUR:
        raise TooManyCodesError
    found = session.exec(
        select(PlanCode).where(PlanCode.code_hash == _digest(code)).with_for_update()
    ).first()
    refusal = _why_not(found, user, now)
    if refusal is not None:
        session.add(AccountEvent(user_id=user.id, actor_id=user.id, kind="code_refused",
                                 detail={"why": refusal[0]}, created_at=when))  # fmt: skip
        session.commit()  # the refusal counts even though the request fails
        raise CodeRefusedError(*refusal)
    assert found is not None
    # Used up in one conditional UPDATE: of two redemptions at once (SQLite takes no row
    # lock for the read above), exactly one changes the row.
    taken = session.execute(
        sa.update(PlanCode)
        .where(col(PlanCode.id) == found.id, col(PlanCode.redeemed_ms).is_(None))
        .values(redeemed_by=user.id, redeemed_ms=now)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise CodeRefusedError("code_used", "this code was used already", "该激活码已被使用")
    plan = session.get(PlanRow, found.plan_id)
    assert plan is not None
    study.enroll(session, learner_id=user.id, plan=plan.key, now=now)
    session.add(AccountEvent(user_id=user.id, actor_id=user.id, kind="code_redeemed",
                             detail={"serial": found.serial, "plan": plan.key},
                             created_at=when))  # fmt: skip
    return Redeemed(plan=plan.key, plan_title=plan.title, serial=found.serial)


def _why_not(found: PlanCode | None, user: User, now: int) -> tuple[str, str, str] | None:
    if found is None:
        return ("code_unknown", "there is no such code: check it and type it again",
                "激活码不存在，请核对后重新输入")  # fmt: skip
    if found.redeemed_ms is not None:
        return ("code_used", "this code was used already", "该激活码已被使用")
    if now >= found.expires_ms:
        return ("code_expired", "this code has expired", "该激活码已过期")
    if found.employer is not None and found.employer != user.employer:
        return ("code_other_employer", "this code is for another employer's staff",
                "该激活码仅限其他单位的学员使用")  # fmt: skip
    return None


def _refused_lately(session: Session, user_id: int, now: int) -> int:
    since = datetime.fromtimestamp((now - 3_600_000) / 1000, UTC)
    return session.exec(
        select(sa.func.count()).select_from(AccountEvent).where(
            col(AccountEvent.user_id) == user_id, col(AccountEvent.kind) == "code_refused",
            col(AccountEvent.created_at) >= since,
        )
    ).one()  # fmt: skip


def batch_xlsx(batch: Batch) -> bytes:
    """The batch as the operator hands it to the employer: serial, code, plan, until."""
    until = datetime.fromtimestamp(batch.expires_ms / 1000).astimezone().strftime("%Y-%m-%d")
    header = ["序号 Serial", "激活码 Code", "学习计划 Plan", "年度 Year", "单位 Employer",
              "有效期至 Valid until"]  # fmt: skip
    return workbook(
        [header, *([c.serial, c.code, batch.plan_title, batch.year, batch.employer or "", until]
                   for c in batch.codes)],
        title=batch.batch,
    )  # fmt: skip
