"""The accounts API: self-registration (``POST /auth/register``), roster import, and
password resets and role changes by staff (``/api/accounts``).

Thin handlers: each reads the request, calls one use case in ``api.services.accounts``
on the request's transaction and returns a wire Struct. Errors (``AccountError``)
become problem+json in ``api.http.errors``. Login itself, sessions and the login lock's use
are in ``api.http.auth``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from litestar import Controller, Request, Response, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery, JSONBody
from msgspec import Meta, Struct
from sqlmodel import Session

from api.http.auth import RATE_LIMITED, login_locks, principal_of, requires_role
from api.http.errors import RAISES
from api.http.params import LoginRef
from api.http.schema import replying_in
from api.services import accounts
from api.services.accounts import Account, PasswordReset, Registration, RosterReport
from api.services.passwords import hash_password
from api.store.db import Uow
from api.store.tables import User

#: Largest roster accepted in one upload.
MAX_ROSTER_BYTES = 16 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"

Role = Annotated[str, Meta(min_length=1, max_length=32)]


class RosterUpload(Struct, kw_only=True):
    """A roster: .xlsx, or CSV (UTF-8 or GB18030)."""

    file: UploadFile


class ResetRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: The new initial password; by default ``edu@`` + the ID number's last six
    #: characters (or a random one for an account without an ID number).
    password: Annotated[str, Meta(max_length=256)] | None = None


class RolesRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    roles: Annotated[tuple[Role, ...], Meta(max_length=8)]


Multipart = Annotated[RosterUpload, Body(media_type=RequestEncodingType.MULTI_PART)]


def _now() -> datetime:
    return datetime.now(UTC)


@post(
    "/auth/register", status_code=201, sync_to_thread=True, tags=["auth"],
    opt={RATE_LIMITED: True, RAISES: (accounts.AccountError,)},
)  # fmt: skip
def register(data: JSONBody[Registration], uow: Uow) -> Account:
    """Register as a learner; the login is the resident ID number (the phone works too).

    Every invalid field is named in a 422; a registered ID number or phone is a 409.
    Shares the per-address rate limit of the login.
    """
    with uow() as db:
        return accounts.register(db, data, now=_now(), hasher=hash_password)


class AccountsController(Controller):
    """``/api/accounts``: rosters, password resets, roles."""

    path = "/api/accounts"
    tags = ["accounts"]
    opt = {RAISES: (accounts.AccountError,)}

    @post(
        "/roster", guards=[requires_role("employer_admin", "operator")], sync_to_thread=True,
        status_code=200, operation_class=replying_in("application/json", XLSX, CSV),
    )  # fmt: skip
    def import_roster(
        self,
        request: Request[Any, Any, Any],
        data: Multipart,
        uow: Uow,
        format: FromQuery[Literal["json", "xlsx", "csv"]] = "json",
    ) -> Response[Any]:
        """Create learner accounts from a roster (姓名, 身份证号, 手机号, 性别, 备注).

        Valid lines become accounts (initial password ``edu@`` + the ID's last six
        characters, changed at first login); the others are reported. ``format=json``
        answers the summary; ``xlsx`` or ``csv`` answers the error file (the lines that
        made no account, with 错误原因), the counts in ``X-Roster-*`` headers.
        """
        with uow() as db:
            upload = data.file
            raw = upload.file.read(MAX_ROSTER_BYTES + 1)
            name = upload.filename or "roster"
            if len(raw) > MAX_ROSTER_BYTES:
                raise accounts.RosterUnreadableError(
                    f"{name} is larger than {MAX_ROSTER_BYTES // 2**20} MiB",
                    f"{name} 超过 {MAX_ROSTER_BYTES // 2**20} MiB",
                )
            roster = accounts.read_roster(raw, source=name, max_lines=accounts.MAX_ROSTER_LINES)
            actor = _actor(request, db)
            employer = actor.employer if "operator" not in actor.roles else None
            report = accounts.import_roster(
                db, roster, now=_now(), hasher=hash_password, actor_id=actor.id, employer=employer
            )
            if format == "json":
                return Response(report)
            body = accounts.roster_error_file(roster, report, fmt=format)
            stem = name.rsplit(".", 1)[0]
            return Response(
                body,
                media_type=XLSX if format == "xlsx" else CSV,
                headers={
                    "Content-Disposition": "attachment; filename*=UTF-8''"
                    + quote(f"{stem}.errors.{format}"),
                    **_counts(report),
                },
            )

    @post(
        "/{login:str}/reset-password", guards=[requires_role("employer_admin", "operator")],
        status_code=200,
    )  # fmt: skip
    async def reset_password(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        login: LoginRef,
        data: JSONBody[ResetRequest],
    ) -> PasswordReset:
        """Set a new initial password (changed at the next login) and lift a login lock.
        Employer administrators may reset their own employer's learners only."""
        reset = await uow.run(lambda db: accounts.reset_password(
            db, login=login, actor_id=principal_of(request).user_id,
            now=_now(), hasher=hash_password, password=data.password,
        ))  # fmt: skip
        await login_locks(request.app).clear(f"user:{reset.account.id}")
        return reset

    @post("/{login:str}/roles", guards=[requires_role("operator")], sync_to_thread=True,
          status_code=200)  # fmt: skip
    def set_roles(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        login: LoginRef,
        data: JSONBody[RolesRequest],
    ) -> Account:
        """Replace the roles of an account (effective at its next login)."""
        with uow() as db:
            return accounts.set_roles(
                db, login=login, roles=data.roles, actor_id=principal_of(request).user_id,
                now=_now(),
            )  # fmt: skip


def _actor(request: Request[Any, Any, Any], db: Session) -> User:
    user = db.get(User, principal_of(request).user_id)
    if user is None:
        raise accounts.AccountNotFoundError(principal_of(request).login)
    return user


def _counts(report: RosterReport) -> dict[str, str]:
    return {
        "X-Roster-Lines": str(report.lines),
        "X-Roster-Created": str(report.created),
        "X-Roster-Skipped": str(report.skipped),
        "X-Roster-Failed": str(report.failed),
    }


__all__ = ["AccountsController", "register"]
