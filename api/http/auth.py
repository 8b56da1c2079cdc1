"""Signing in and out, the login session and the role guards controllers use.

This module owns the login session (server-side: the cookie carries a random id, the
data lives in the session store), the ``Principal`` kept in it, the device id of a
session (``device_of``), and the guards ``requires_role(*roles)`` /
``requires_session``. Accounts (registration, rosters, resets, the password rules and the
per-account lock) are ``api.services.accounts``; hashing is ``api.services.passwords``.
The login finds the account by login, resident ID or phone, is locked per account and
client address after repeated failures (``login_locks``, the ``login_failures`` store) and
rate-limited per client address (docs/decisions/0003, 0006, 0014); the current-password
check of a password change is counted and limited the same way.

Roles and the must-change-password flag are copied into the session at login, so a guard
costs no database query. The session also carries the account's session generation:
``SessionCheck`` ends, on its next request, a session older than the account's current
generation (moved on by a password change, a reset or a role change), reading the
generation from the ``session_generations`` store rather than the database.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Litestar, Request, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import TooManyRequestsException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.rate_limit import RateLimitConfig, RateLimitMiddleware
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.params import JSONBody
from litestar.types import ASGIApp, Empty, Message, Receive, Scope, Send
from msgspec import Meta, Struct
from sqlmodel import Session

from api.http.admission import HASHES_PASSWORD
from api.http.errors import (
    RAISES,
    ApiError,
    Forbidden,
    InvalidCredentials,
    NotAuthenticated,
    PasswordChangeRequired,
)
from api.services import accounts
from api.services.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from api.store.db import Uow
from api.store.redis_client import UNAVAILABLE
from api.store.tables import ROLES, User

#: The app store holding the per-account failed-login counters.
LOGIN_FAILURES_STORE = "login_failures"
#: The app store mirroring each account's session generation once it moved.
SESSION_GENERATIONS_STORE = "session_generations"

#: The session key under which the Principal is stored.
SESSION_KEY = "principal"
#: The login session's cookie: its value is the session id.
SESSION_COOKIE = "examengine_session"
_ROTATE = "_rotate_session_id"
_ROTATED_ID = "examengine.rotated_session_id"
#: The session as loaded (a shallow copy): a reply whose session did not change needs no
#: write when the store is away.
_LOADED = "examengine.session_loaded"
#: Session key: when the session was last written (wall-clock seconds, the store's).
_RENEWED = "_renewed_at"
#: An unchanged session is written back (expiry slid, cookie re-sent) at most this often.
RENEW_EVERY_S = 60

logger = logging.getLogger("api.http.auth")
#: The session key of the device id an attempt is bound to.
_DEVICE_KEY = "device"

Password = Annotated[str, Meta(min_length=1, max_length=256)]
NewPassword = Annotated[str, Meta(min_length=8, max_length=256)]
Login = Annotated[str, Meta(min_length=1, max_length=64)]


class WrongPassword(ApiError):
    status = 403
    code = "wrong_password"
    detail = "The current password is wrong."
    detail_zh = "当前密码错误。"


class PasswordUnchanged(ApiError):
    status = 422
    code = "password_unchanged"
    detail = "The new password must differ from the current one."
    detail_zh = "新密码不能与当前密码相同。"


# ----------------------------------------------------------------------------- wire


class LoginRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    login: Login
    password: Password


class ActivationRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: The token from the link's fragment (``/activate#…``).
    token: Annotated[str, Meta(min_length=16, max_length=128)]
    new_password: NewPassword


class PasswordChange(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    current_password: Password
    new_password: NewPassword


class Principal(Struct, frozen=True, kw_only=True):
    """Who is signed in, as kept in the session."""

    user_id: int
    login: str
    roles: tuple[str, ...]
    must_change_password: bool
    #: The account's session generation when the session was opened (decision 0014).
    generation: int = 0
    #: The account's display name, for page headers (never the login: a learner's login
    #: is a resident ID number). Empty in sessions opened before it was kept.
    name: str = ""


class Me(Struct, frozen=True, kw_only=True):
    id: int
    login: str
    display_name: str
    roles: tuple[str, ...]
    must_change_password: bool


def _me(user: User, principal: Principal) -> Me:
    """The account as its session sees it (a load-test run waives the forced change)."""
    assert user.id is not None
    return Me(
        id=user.id,
        login=user.login,
        display_name=user.display_name,
        roles=tuple(user.roles),
        must_change_password=principal.must_change_password,
    )


# --------------------------------------------------------------------------- guards


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The signed-in principal; raises ``NotAuthenticated`` when there is none."""
    session = connection.scope.get("session")
    data = session.get(SESSION_KEY) if isinstance(session, dict) else None
    if data is None:
        raise NotAuthenticated
    return msgspec.convert(data, Principal)


Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]


def device_of(request: Request[Any, Any, Any]) -> str:
    """The id of this login session's device, made and kept in the session on first use."""
    session = request.session
    device = session.get(_DEVICE_KEY) if isinstance(session, dict) else None
    if not isinstance(device, str) or not device:
        device = secrets.token_hex(16)
        request.set_session({**(session if isinstance(session, dict) else {}), _DEVICE_KEY: device})
    return device


def requires_session(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: signed in (a pending password change is allowed)."""
    principal_of(connection)


def requires_role(*roles: str) -> Guard:
    """Guard factory: signed in, password changed, and holding one of ``roles`` (any
    role when none is given). Raises ``ValueError`` at import for an unknown role."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; known: {', '.join(ROLES)}")

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = principal_of(connection)
        if principal.must_change_password:
            raise PasswordChangeRequired
        if roles and not set(roles) & set(principal.roles):
            raise Forbidden(
                f"This needs one of the roles: {', '.join(roles)}.",
                f"此操作需要以下角色之一：{', '.join(roles)}。",
            )

    return guard


def metrics_access(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of /metrics: open outside production; in production only for an address in
    ``Settings.security.metrics_allow`` or with ``Authorization: Bearer <metrics_token>``
    (403 ``metrics_forbidden`` otherwise)."""
    settings = connection.app.state.settings
    if settings.environment != "production":
        return
    security = settings.security
    token = security.metrics_token
    sent = connection.headers.get("authorization", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return
    host = connection.client.host if connection.client else ""
    with contextlib.suppress(ValueError):
        address = ipaddress.ip_address(host)
        if any(address in ipaddress.ip_network(net) for net in security.metrics_allow):
            return
    raise Forbidden(
        "The metrics are for the monitoring system only: scrape from an allowed address "
        "(EXAMENGINE_METRICS_ALLOW) or send the bearer token (EXAMENGINE_METRICS_TOKEN).",
        "监控指标仅供监控系统读取：请从允许的地址（EXAMENGINE_METRICS_ALLOW）访问，"
        "或携带令牌（EXAMENGINE_METRICS_TOKEN）。",
        code="metrics_forbidden",
    )


# ------------------------------------------------------------------------- sessions


class RotatingSessionBackend(ServerSideSessionBackend):
    """Server-side sessions that get a fresh id at login (no session fixation), written
    back only when a request changed them or once in ``RENEW_EVERY_S`` (the sliding
    expiry moves in steps of a minute; every other request reads the store only)."""

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        rotated = connection.scope["state"].get(_ROTATED_ID)
        return rotated if rotated is not None else super().get_session_id(connection)

    async def load_from_connection(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> dict[str, Any]:
        data = await super().load_from_connection(connection)
        connection.scope["state"][_LOADED] = dict(data)
        return data

    async def store_in_message(
        self, scope_session: Any, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        rotate = isinstance(scope_session, dict) and scope_session.pop(_ROTATE, False)
        unchanged = not rotate and scope_session == connection.scope["state"].get(_LOADED)
        if unchanged and isinstance(scope_session, dict) and scope_session:
            renewed = scope_session.get(_RENEWED)
            if isinstance(renewed, int) and 0 <= time.time() - renewed < RENEW_EVERY_S:
                return  # renewed a moment ago: no write, no Set-Cookie (both slide later)
        if isinstance(scope_session, dict) and scope_session:
            # the store's clock (its expiry is wall time), not the app's
            scope_session[_RENEWED] = int(time.time())
        try:
            if rotate:
                old = connection.cookies.get(self.config.key)
                if old and old != "null":
                    await self.delete(
                        old, store=self.config.get_store_from_app(connection.scope["app"])
                    )
                connection.scope["state"][_ROTATED_ID] = self.generate_session_id()
            await super().store_in_message(scope_session, message, connection)
        except UNAVAILABLE as error:
            self._store_away(unchanged, message, connection, error)

    def _store_away(
        self,
        unchanged: bool,
        message: Message,
        connection: ASGIConnection[Any, Any, Any, Any],
        error: Exception,
    ) -> None:
        """The session store (Redis) went away between the request and its reply (a
        restart). What the handler did stands. A session it did not change is simply not
        rewritten (the stored one keeps its expiry); one it changed (a sign-in, a
        sign-out) could not be kept, so the reply becomes 503 + Retry-After and the client
        tries again — the reply has started, so its body stays the handler's."""
        logger.warning(
            "session store unavailable (%s) on %s; %s",
            type(error).__name__,
            connection.scope.get("path"),
            "session not renewed" if unchanged else "reply turned into a 503",
        )
        if not unchanged and message["type"] == "http.response.start":
            message["status"] = 503
            retry_after = connection.scope["app"].state.settings.server.retry_after_s
            MutableScopeHeaders.from_message(message)["Retry-After"] = str(retry_after)


class SessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend


def session_generations(app: Litestar) -> accounts.SessionGenerations:
    """The accounts' session generations in the app's ``session_generations`` store,
    through the process's cache (``app.state.session_generations``) when only this
    process writes the store (no Redis)."""
    cache = None if app.state.settings.redis.url else app.state.session_generations
    return accounts.SessionGenerations(app.stores.get(SESSION_GENERATIONS_STORE), cache)


async def sign_ins_ended(app: Litestar, user_id: int, generation: int) -> None:
    """Every sign-in of the account opened before ``generation`` is over (a password
    changed or reset, roles changed): their sessions end at their next request
    (``SessionCheck``) and the account's study session ends now (decision 0022)."""
    await session_generations(app).moved(user_id, generation)
    await end_study(app, user_id, session_id=None)


async def end_study(app: Litestar, user_id: int, *, session_id: str | None) -> None:
    """End the learner's study session begun by the sign-in whose session id is
    ``session_id`` (None: by any sign-in of the account), on whichever worker holds it.
    Its heartbeats and answers are authenticated without the login session, so the end
    of a sign-in must reach it."""
    relay = app.state.study_relay
    login = None if session_id is None else relay.login_of(session_id)
    await relay.revoke(user_id, login=login, now=_now_ms(app))


class SessionCheck:
    """Middleware, inside the session middleware: a login session opened under an older
    session generation than its account's current one is over — it is emptied (the
    request goes on signed out, so guards answer 401) and deleted with its cookie.

    One store read per signed-in request (Redis or a file; no database round trip), the
    study heartbeat included: docs/decisions/0014 has the measurement.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = scope.get("session")
        data = session.get(SESSION_KEY) if isinstance(session, dict) else None
        if isinstance(data, dict) and isinstance(data.get("user_id"), int):
            current = await session_generations(scope["litestar_app"]).current(data["user_id"])
            if current is not None and int(data.get("generation", 0)) < current:
                scope["session"] = Empty
        await self.app(scope, receive, send)


def session_config(*, max_age: int, secure: bool) -> SessionConfig:
    """Server-side sessions in the app's ``sessions`` store (files or Redis)."""
    return SessionConfig(
        store="sessions", key=SESSION_COOKIE, max_age=max_age, secure=secure,
        samesite="lax", httponly=True,
    )  # fmt: skip


#: Route ``opt`` flag: this route counts against the login rate limit.
RATE_LIMITED = "login_rate_limited"


def _is_rate_limited(request: Request[Any, Any, Any]) -> bool:
    return bool(request.route_handler.opt.get(RATE_LIMITED))


class RetryAfterRateLimit(RateLimitMiddleware):
    """Litestar's rate limit, whose 429 also says when to come back (``Retry-After``,
    seconds: the RateLimit-Reset it already sends, at least 1)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except TooManyRequestsException as exc:
            headers = exc.headers if exc.headers is not None else {}
            reset = headers.get(self.config.rate_limit_reset_header_key, "1")
            headers.setdefault("Retry-After", str(max(1, int(reset))))
            exc.headers = headers
            raise


def login_rate_limit(per_minute: int) -> RateLimitConfig:
    """At most ``per_minute`` requests per client address to the routes flagged with
    ``opt={RATE_LIMITED: True}`` (login, registration, password change), counted in the
    ``rate_limit`` store (shared through Redis when configured, else per process); a
    refusal is 429 ``rate_limited`` with Retry-After.

    Installed app-wide because the limit comes from Settings, which routes declared at
    import time cannot see; ``check_throttle_handler`` keeps it to the flagged routes.
    """
    return RateLimitConfig(
        rate_limit=("minute", per_minute),
        store="rate_limit",
        check_throttle_handler=_is_rate_limited,
        middleware_class=RetryAfterRateLimit,
    )


# ------------------------------------------------------------------------ controller


def _authenticate(db: Session, user: User | None, password: str) -> bool:
    """Whether ``password`` is ``user``'s (re-hashing an outdated hash); an unknown
    user costs a verify too, so both failures take the same time."""
    if user is None:
        verify_password(dummy_hash(), password)
        return False
    if not verify_password(user.password_hash, password):
        return False
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.add(user)
    accounts.force_change_of_old_initial_password(db, user, password, now=datetime.now(UTC))
    return True


def login_locks(app: Litestar) -> accounts.LoginLocks:
    """The login lock over the app's ``login_failures`` store (files, or Redis when
    configured, so all workers share it) with the policy ``app.state.login_lock``, made
    from the settings (tests may replace it): by default 5 failures from one address
    pause the account there for 15 minutes, 100 an hour from all addresses close it to
    unknown addresses."""
    return accounts.LoginLocks(app.stores.get(LOGIN_FAILURES_STORE), app.state.get("login_lock"))


def _now_ms(app: Litestar) -> int:
    """UTC milliseconds from the app's clock (``app.state.clock``), else the system's."""
    clock = app.state.get("clock")
    return int(clock.now_ms()) if clock is not None else time.time_ns() // 1_000_000


def client_address(request: Request[Any, Any, Any]) -> str:
    """The client's address as the server sees it (behind a proxy: see operations.md)."""
    return request.client.host if request.client else "unknown"


def _principal(user: User, *, load_test: bool = False) -> Principal:
    """The session's principal; a load-test run (``Settings.load_test``) waives the
    forced password change."""
    assert user.id is not None
    return Principal(
        user_id=user.id,
        login=user.login,
        roles=tuple(user.roles),
        must_change_password=user.must_change_password and not load_test,
        generation=user.session_generation or 0,
        name=user.display_name,
    )


def open_session(request: Request[Any, Any, Any], user: User) -> Principal:
    """Make ``request``'s session ``user``'s, under a new session id (no fixation)."""
    principal = _principal(user, load_test=request.app.state.settings.load_test)
    request.set_session(_session(principal))
    return principal


def _session(principal: Principal) -> dict[str, Any]:
    """The session's data for ``principal``, with a new session id (no fixation)."""
    return {SESSION_KEY: msgspec.to_builtins(principal), _ROTATE: True}


class AuthController(Controller):
    """``/auth``: login, logout, who am I, change password."""

    path = "/auth"
    tags = ["auth"]

    @post(
        "/login",
        status_code=200,
        opt={
            RATE_LIMITED: True,
            HASHES_PASSWORD: True,
            RAISES: (InvalidCredentials, accounts.AccountLockedError),
        },
    )
    async def login(
        self, request: Request[Any, Any, Any], data: JSONBody[LoginRequest], uow: Uow
    ) -> Me:
        """Sign in with the login, the resident ID number or the phone, and a password.

        After 5 failures in a row from one address the account cannot sign in from that
        address for 15 minutes (429 ``account_locked``, with Retry-After), even with the
        right password; after 100 an hour from all addresses, only addresses it signed
        in from before may try. A success clears the count. An unknown login answers and
        locks exactly like a known one.
        """
        # Async for the lock's store; the database and argon2 run in worker threads, each
        # a unit of work of its own (no transaction is held across the awaits).
        user = await uow.run(lambda db: accounts.find_account(db, data.login))
        locks = login_locks(request.app)
        who = accounts.lock_keys(user, data.login, client_address(request))
        now_ms = _now_ms(request.app)
        await locks.check(who, now_ms=now_ms)
        if not await uow.run(lambda db: _authenticate(db, user, data.password)):
            await locks.failed(who, now_ms=now_ms)
            raise InvalidCredentials
        assert user is not None
        await locks.succeeded(who)
        return _me(user, open_session(request, user))

    @post(
        "/activate",
        status_code=200,
        opt={
            RATE_LIMITED: True,
            HASHES_PASSWORD: True,
            RAISES: (accounts.ActivationInvalidError, accounts.AccountInvalidError),
        },
    )
    async def activate(
        self, request: Request[Any, Any, Any], data: JSONBody[ActivationRequest], uow: Uow
    ) -> Me:
        """Choose the password of an account from its activation or reset link, and sign
        in. 410 ``activation_invalid`` for a link used, replaced, expired or unknown; 422
        naming ``new_password`` for a weak one (the link stays usable). Ends every other
        session of the account, and shares the login's per-address limit."""
        now = datetime.fromtimestamp(_now_ms(request.app) / 1000, UTC)
        user = await uow.run(
            lambda db: accounts.activate(
                db, token=data.token, new_password=data.new_password, now=now,
                hasher=hash_password,
            )
        )  # fmt: skip
        assert user.id is not None
        await sign_ins_ended(request.app, user.id, user.session_generation)
        return _me(user, open_session(request, user))

    @post("/logout", status_code=204)
    async def logout(self, request: Request[Any, Any, Any]) -> None:
        """Sign out (also fine when not signed in); the study session this sign-in began,
        if any, ends."""
        session = request.scope.get("session")
        data = session.get(SESSION_KEY) if isinstance(session, dict) else None
        session_id = request.cookies.get(SESSION_COOKIE)
        request.clear_session()
        if isinstance(data, dict) and isinstance(data.get("user_id"), int) and session_id:
            await end_study(request.app, data["user_id"], session_id=session_id)

    @get("/me", guards=[requires_session], sync_to_thread=True)
    def me(self, request: Request[Any, Any, Any], uow: Uow) -> Me:
        """The signed-in account."""
        with uow() as db:
            user = db.get(User, principal_of(request).user_id)
            if user is None:  # deleted since login
                request.clear_session()
                raise NotAuthenticated
            return _me(user, principal_of(request))

    @post(
        "/password",
        guards=[requires_session],
        status_code=200,
        opt={
            RATE_LIMITED: True,
            HASHES_PASSWORD: True,
            RAISES: (WrongPassword, PasswordUnchanged, accounts.AccountInvalidError),
        },
    )
    async def change_password(
        self, request: Request[Any, Any, Any], data: JSONBody[PasswordChange], uow: Uow
    ) -> Me:
        """Change the password; clears a pending forced change and ends every other
        session of the account (this one goes on, under a new id).

        A wrong current password counts like a failed login (429 ``account_locked``
        after 5 from one address), and the route shares the login's per-address limit.
        """
        principal = principal_of(request)
        locks = login_locks(request.app)
        now_ms = _now_ms(request.app)
        user = await uow.run(lambda db: db.get(User, principal.user_id))
        if user is None:  # deleted since login
            request.clear_session()
            raise NotAuthenticated
        who = accounts.lock_keys(user, user.login, client_address(request))
        await locks.check(who, now_ms=now_ms)
        changed = await uow.run(lambda db: _change_password(db, principal.user_id, data))
        if changed is None:
            await locks.failed(who, now_ms=now_ms)
            raise WrongPassword
        await locks.succeeded(accounts.lock_keys(changed, changed.login, who.address))
        await sign_ins_ended(request.app, principal.user_id, changed.session_generation)
        return _me(changed, open_session(request, changed))


def _change_password(db: Session, user_id: int, data: PasswordChange) -> User | None:
    """Set the new password (one unit of work): None when the current one is wrong;
    raises ``PasswordUnchanged`` or ``AccountInvalidError`` for a new one refused."""
    user = db.get(User, user_id)
    if user is None:
        raise NotAuthenticated
    if not verify_password(user.password_hash, data.current_password):
        return None
    if data.new_password == data.current_password:
        raise PasswordUnchanged
    weak = accounts.password_problems(
        data.new_password, resident_id=user.resident_id, phone=user.phone, field="new_password",
    )  # fmt: skip
    if weak:
        raise accounts.AccountInvalidError(weak)
    user.password_hash = hash_password(data.new_password)
    user.must_change_password = False
    accounts.end_sessions(user)
    db.add(user)
    db.flush()
    return user
