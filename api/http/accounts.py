"""The accounts API: self-registration (``POST /auth/register``), roster import,
password resets and role changes by staff, and an account's employer over time — moved
by an operator, read by an operator or the account's employer's administrator
(``/api/accounts``).

Thin handlers: each reads the request, calls one use case in ``api.services.accounts``
on the request's transaction and returns a wire Struct. A reset or a role change ends the
account's sessions (``session_generations``, decision 0014); a registration answers the
same whether or not the person had an account. Errors (``AccountError``)
become problem+json in ``api.http.errors``. Login itself, sessions and the login lock's use
are in ``api.http.auth``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import State, UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery, JSONBody
from msgspec import Meta, Struct
from sqlmodel import Session

from api.http.admission import HASHES_PASSWORD
from api.http.auth import (
    RATE_LIMITED,
    open_session,
    principal_of,
    requires_role,
    sign_ins_ended,
)
from api.http.errors import RAISES
from api.http.params import LoginRef
from api.http.schema import replying_in
from api.services import accounts
from api.services.accounts import Account, PasswordReset, Registration, RosterReport
from api.services.notify import Notice, Notifier
from api.services.passwords import hash_password
from api.settings import Settings
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
    #: Operators only: a password of their choosing (changed at the next login). By
    #: default the holder is sent a link to choose their own.
    password: Annotated[str, Meta(max_length=256)] | None = None


class RolesRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    roles: Annotated[tuple[Role, ...], Meta(max_length=8)]


class EmployerRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: The employer's name (registered the first time it is used); null: none.
    employer: Annotated[str, Meta(min_length=1, max_length=accounts.MAX_EMPLOYER)] | None


Multipart = Annotated[RosterUpload, Body(media_type=RequestEncodingType.MULTI_PART)]


def _now() -> datetime:
    return datetime.now(UTC)


class RegistrationReceived(Struct, frozen=True, kw_only=True):
    """The one answer to a well-formed registration, whether or not it made an account."""

    status: Literal["received"] = "received"
    detail: str = (
        "Registration received. If this ID number and mobile number were not registered "
        "yet, your account is ready: sign in with your ID number and password. If you "
        "cannot sign in, one of them has an account already: sign in with it, or ask your "
        "employer or the operator to reset its password."
    )
    detail_zh: str = (
        "注册申请已提交。若该身份证号和手机号此前均未注册，账号已开通，请用身份证号和密码登录。"
        "若无法登录，说明其中之一已有账号：请用该账号登录，或联系单位管理员、运维人员重置密码。"
    )
    #: What was corrected in the input (a lower-case x in the ID number): said whatever
    #: the outcome, as it depends on the input alone.
    notices: tuple[accounts.FieldProblem, ...] = ()


@post(
    "/auth/register", status_code=202, sync_to_thread=True, tags=["auth"],
    opt={RATE_LIMITED: True, HASHES_PASSWORD: True, RAISES: (accounts.AccountError,)},
)  # fmt: skip
def register(data: JSONBody[Registration], uow: Uow) -> RegistrationReceived:
    """Register as a learner; the login is the resident ID number (the phone works too).

    Every invalid field is named in a 422. Otherwise the answer is the same 202 whether
    an account was made or the ID number or phone was registered already, so that the
    registration cannot tell anyone who has an account (decision 0014). Shares the
    per-address rate limit of the login.
    """
    try:
        with uow() as db:
            accounts.register(db, data, now=_now(), hasher=hash_password)
    except accounts.AccountExistsError:
        pass  # answered like a new account: see the docstring
    return RegistrationReceived(notices=tuple(accounts.id_corrections(data.resident_id)))


class AccountsController(Controller):
    """``/api/accounts``: rosters, password resets, roles, employers over time."""

    path = "/api/accounts"
    tags = ["accounts"]
    opt = {RAISES: (accounts.AccountError,)}

    @post(
        "/roster", guards=[requires_role("employer_admin", "operator")], sync_to_thread=True,
        status_code=200, operation_class=replying_in("application/json", XLSX, CSV),
    )  # fmt: skip
    def import_roster(
        self,
        *,
        request: Request[Any, Any, Any],
        data: Multipart,
        uow: Uow,
        format: FromQuery[Literal["json", "xlsx", "csv"]] = "json",
        warnings: FromQuery[Literal["allow", "block"]] = "allow",
        mode: FromQuery[Literal["rows", "all"]] = "rows",
    ) -> Response[Any]:
        """Create learner accounts from a roster (姓名, 身份证号, 手机号, 性别, 备注; title
        lines above the header are fine, and the answer says which row was the header).

        Valid lines become accounts, each sent an activation link to choose its
        password (the app's notifier, after the commit); the others are reported. Lines with
        warnings make accounts unless ``warnings=block``; ``mode=all`` makes none when
        any line fails. ``format=json`` answers the summary; ``xlsx`` or ``csv`` answers
        the error file (the lines that made no account, in the roster's own layout with
        错误原因 and 提示), the counts in ``X-Roster-*`` headers.
        """
        upload = data.file
        raw = upload.file.read(MAX_ROSTER_BYTES + 1)
        name = upload.filename or "roster"
        if len(raw) > MAX_ROSTER_BYTES:
            raise accounts.RosterUnreadableError(
                f"{name} is larger than {MAX_ROSTER_BYTES // 2**20} MiB",
                f"{name} 超过 {MAX_ROSTER_BYTES // 2**20} MiB",
            )
        roster = accounts.read_roster(raw, source=name, max_lines=accounts.MAX_ROSTER_LINES)
        settings: Settings = request.app.state.settings
        with uow() as db:
            actor = _actor(request, db)
            employer = actor.employer if "operator" not in actor.roles else None
            report, notices = accounts.import_roster(
                db, roster, now=_now(), links=accounts.links_for(settings, "activation"),
                actor_id=actor.id, employer=employer, warnings_block=warnings == "block",
                all_or_nothing=mode == "all",
            )  # fmt: skip
        _notifier(request).send(notices)  # committed: the links are real
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
        """Take the password away, end every session of the account and lift its login
        lock; the holder is sent a one-time link to choose a new one (nobody else sees
        it). An operator may set a ``password`` of their choosing instead (changed at
        the next login). Employer administrators reset their own employer's learners
        only, and by link only."""
        actor_id = principal_of(request).user_id
        settings: Settings = request.app.state.settings

        def work(db: Session) -> tuple[PasswordReset, list[Notice], int]:
            reset, notices = accounts.reset_password(
                db, login=login, actor_id=actor_id, now=_now(), hasher=hash_password,
                links=accounts.links_for(settings, "password_reset"), password=data.password,
            )  # fmt: skip
            return reset, notices, _generation(db, reset.account.id)

        reset, notices, generation = await uow.run(work)
        _notifier(request).send(notices)  # committed: the link is real
        await sign_ins_ended(request.app, reset.account.id, generation)
        return reset

    @post("/{login:str}/roles", guards=[requires_role("operator")], status_code=200)
    async def set_roles(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        login: LoginRef,
        data: JSONBody[RolesRequest],
    ) -> Account:
        """Replace the roles of an account and end its sessions (the new roles hold from
        its next login); an operator changing their own keeps this session, with the new
        roles."""
        actor_id = principal_of(request).user_id

        def work(db: Session) -> tuple[Account, User]:
            changed = accounts.set_roles(
                db, login=login, roles=data.roles, actor_id=actor_id, now=_now()
            )
            user = db.get(User, changed.id)
            assert user is not None
            return changed, user

        changed, user = await uow.run(work)
        await sign_ins_ended(request.app, changed.id, user.session_generation)
        if changed.id == actor_id:
            open_session(request, user)
        return changed

    @get(
        "/{login:str}/employment", guards=[requires_role("employer_admin", "operator")],
        sync_to_thread=True, summary="An account's employers over time",
    )  # fmt: skip
    def employment(
        self, request: Request[Any, Any, Any], uow: Uow, login: LoginRef
    ) -> accounts.EmploymentRecord:
        """The account's employer now and every one it had, oldest first. An employer
        administrator reads their own employer's learners only (any other account is a
        404, as for a reset: nobody can probe who has an account)."""
        with uow() as db:
            return accounts.employment_of(db, login=login, actor_id=principal_of(request).user_id)

    @put(
        "/{login:str}/employer", guards=[requires_role("operator")], sync_to_thread=True,
        summary="Move an account to another employer (the history is kept)",
    )  # fmt: skip
    def move_employer(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, login: LoginRef,
        data: JSONBody[EmployerRequest],
    ) -> accounts.EmploymentRecord:  # fmt: skip
        """Operators only: the account's open employment ends now and one at ``employer``
        begins (null: none); the change is in the account's event log. An employer
        administrator can neither take someone in nor let someone go (decision 0025)."""
        with uow() as db:
            return accounts.move_to_employer(
                db, login=login, employer=data.employer, actor_id=principal_of(request).user_id,
                now_ms=int(state.clock.now_ms()),
            )  # fmt: skip


def _notifier(request: Request[Any, Any, Any]) -> Notifier:
    notifier: Notifier = request.app.state.notifier
    return notifier


def _generation(db: Session, user_id: int) -> int:
    user = db.get(User, user_id)  # in the unit of work's identity map: no query
    assert user is not None
    return user.session_generation


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
        "X-Roster-Warned": str(len(report.warned)),
        "X-Roster-Held-Back": str(report.held_back),
        "X-Roster-Header-Row": str(report.header_row),
    }


__all__ = ["AccountsController", "register"]
