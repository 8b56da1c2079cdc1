"""Every error the API answers with, as RFC 9457 problem+json, mapped in one place.

A problem body is ``{type, title, status, detail, detail_zh, code, errors?}``: ``code``
is the stable, machine-readable name clients switch on; ``detail`` and ``detail_zh`` say
the same thing in English and in Simplified Chinese; ``errors`` lists the fields of a
422. The ``type`` is ``urn:examengine:problem:<code>``.

Three kinds of exceptions reach this module:

- ``ApiError`` subclasses, raised by the HTTP shell itself (not signed in, forbidden,
  not found, password change required). They carry their status: they *are* HTTP.
- Litestar's own exceptions (validation, 404 route, 405, 429 from the rate limit…).
- Domain exceptions from ``itembank`` and ``examengine``, which know nothing of HTTP.
  Map a domain root (or a subclass) with **one line** in ``EXCEPTION_HANDLERS``::

      EXCEPTION_HANDLERS[IllegalTransition] = domain_handler(409)

  ``domain_handler`` reads the exception's ``code``, ``message``, ``message_zh``,
  ``problems`` and ``retry_after_s`` (→ Retry-After) attributes when present
  (``str(exc)`` otherwise). The most specific
  class in the exception's MRO wins, so map the root once and override subclasses only
  where the status differs (404 for "no such attempt", 409 for a stale save…).

Anything else is a 500: logged with its traceback and the request id, answered without
either.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.types import ExceptionHandlersMap
from msgspec import Struct
from redis import exceptions as redis_exc
from sqlalchemy import exc as sa_exc

from api.services.accounts import (
    AccountError,
    AccountExistsError,
    AccountInvalidError,
    AccountLockedError,
    AccountNotFoundError,
    AccountRefusedError,
    ActivationInvalidError,
)
from api.services.attempts import (
    AttemptNotFoundError,
    AttemptServiceError,
    BadAnswerError,
    LearnerNotFoundError,
    LearnersNotFoundError,
    NotEligibleError,
)
from api.services.codes import TooManyCodesError
from api.services.exams import (
    ExamNotFoundError,
    ExamServiceError,
    PaperRequestInvalidError,
    SpecUnreadableError,
)
from api.store.writer import DatabaseBusy
from examengine.attempt import AttemptError
from examengine.commerce import CommerceError
from examengine.credit import StudyError
from examengine.errors import SpecInvalidError
from itembank.errors import (
    BankNotFoundError,
    ItembankError,
    ItemNotFoundError,
    VersionPublishedError,
)
from itembank.formats import UnknownFormatError

PROBLEM_JSON = "application/problem+json"

#: Route ``opt`` key: the exceptions a handler's use cases may raise, so that the API
#: description lists the statuses they are answered with (``api.http.schema``).
RAISES = "raises"

logger = logging.getLogger("api.http.errors")


class FieldError(Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One invalid field of a request (``source``: body, query, path, header, cookie)."""

    field: str
    message: str
    source: str = ""


class Problem(Struct, frozen=True, kw_only=True, omit_defaults=True):
    type: str
    title: str
    status: int
    code: str
    detail: str
    detail_zh: str
    errors: tuple[Any, ...] = ()


# Default wording per status, English and Chinese.
MESSAGES: dict[int, tuple[str, str]] = {
    400: ("The request is malformed.", "请求格式有误。"),
    401: ("Please sign in first.", "请先登录。"),
    403: ("You are not allowed to do this.", "您无权执行此操作。"),
    404: ("Nothing was found here.", "未找到所请求的内容。"),
    405: ("This method is not allowed here.", "此处不支持该请求方法。"),
    409: ("The request conflicts with the current state.", "请求与当前状态冲突。"),
    413: ("The request is too large.", "请求内容过大。"),
    415: ("This media type is not supported.", "不支持该内容类型。"),
    422: ("Some fields of the request are invalid.", "请求中有字段无效。"),
    429: ("Too many requests; please try again later.", "请求过于频繁，请稍后再试。"),
    500: (
        "Something went wrong on our side; please quote the X-Request-ID header.",
        "服务器内部错误，请提供响应头 X-Request-ID 以便排查。",
    ),
    503: ("The service is not ready.", "服务暂不可用。"),
}


def problem_response(
    status: int,
    *,
    code: str | None = None,
    detail: str | None = None,
    detail_zh: str | None = None,
    errors: Sequence[Any] = (),
    headers: Mapping[str, str] | None = None,
) -> Response[Problem]:
    """A problem+json response; missing wording comes from ``MESSAGES`` for ``status``."""
    phrase = HTTPStatus(status).phrase
    default_en, default_zh = MESSAGES.get(status, (phrase + ".", phrase + "."))
    code = code or phrase.lower().replace(" ", "_").replace("-", "_")
    problem = Problem(
        type=f"urn:examengine:problem:{code}",
        title=phrase,
        status=status,
        code=code,
        detail=detail or default_en,
        detail_zh=detail_zh or default_zh,
        errors=tuple(errors),
    )
    return Response(problem, status_code=status, media_type=PROBLEM_JSON, headers=headers)


# ------------------------------------------------------------------- HTTP-shell errors


class ApiError(Exception):
    """An error of the HTTP shell (not the domain). Subclasses set status and code."""

    status: int = 500
    code: str = "internal_error"
    detail: str = ""
    detail_zh: str = ""

    def __init__(
        self, detail: str | None = None, detail_zh: str | None = None, *, code: str | None = None
    ) -> None:
        self.detail = detail or self.detail or MESSAGES[self.status][0]
        self.detail_zh = detail_zh or self.detail_zh or MESSAGES[self.status][1]
        if code is not None:
            self.code = code
        super().__init__(self.detail)


class NotAuthenticated(ApiError):
    status = 401
    code = "not_authenticated"


class InvalidCredentials(NotAuthenticated):
    code = "invalid_credentials"
    detail = (
        "The login or the password is wrong. An account your employer made has no password "
        "until you follow the activation link you were sent."
    )
    detail_zh = "账号或密码错误。单位为您开通的账号，需先通过收到的激活链接设置密码后才能登录。"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class PasswordChangeRequired(Forbidden):
    code = "password_change_required"
    detail = "Please change your password before going on (POST /auth/password)."
    detail_zh = "请先修改密码后再继续（POST /auth/password）。"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class MalformedJson(ApiError):
    """A body that is not JSON (or not UTF-8): what the decoder said is the detail."""

    status = 400
    code = "malformed_json"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"The body is not valid JSON in UTF-8: {reason}.",
            f"请求体不是有效的 UTF-8 JSON：{reason}。",
        )


class BodyTooDeep(ApiError):
    status = 400
    code = "json_too_deep"

    def __init__(self, depth: int) -> None:
        super().__init__(
            f"The JSON body nests deeper than {depth} levels.",
            f"JSON 请求体的嵌套超过 {depth} 层。",
        )


class ControlCharacter(ApiError):
    """Text holding a C0 control character other than tab and newline (NUL above all:
    PostgreSQL cannot store it). Names the field, as a 422 of the validation does."""

    status = 422
    code = "control_character"

    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(
            f"Invalid fields: {field} (a control character other than tab or newline).",
            f"以下字段无效：{field}（含有制表符和换行符以外的控制字符）。",
        )


# --------------------------------------------------------------------------- handlers

Handler = Callable[[Request[Any, Any, Any], Any], Response[Any]]


def _api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[Problem]:
    field = getattr(exc, "field", None)
    errors = [FieldError(field=field, message=exc.detail, source="body")] if field else []
    return problem_response(
        exc.status, code=exc.code, detail=exc.detail, detail_zh=exc.detail_zh, errors=errors
    )


#: msgspec names a missing field only in its message; Litestar then reports the key "data".
_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")


def _field_error(entry: dict[str, Any]) -> FieldError:
    message = str(entry.get("message", ""))
    field = str(entry.get("key", ""))
    if missing := _MISSING_FIELD.search(message):
        field = missing.group(1)
    elif field == "data":  # the body as a whole (a list too long, the wrong type)
        field = "body"
    return FieldError(field=field, message=message, source=str(entry.get("source", "")))


def _validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Problem]:
    """Litestar answers 400 for invalid input by default; a request that is well-formed
    but has invalid fields is a 422 here, with one entry per field."""
    errors = [
        _field_error(entry)
        for entry in (exc.extra if isinstance(exc.extra, list) else [])
        if isinstance(entry, dict)
    ]
    names = ", ".join(error.field for error in errors if error.field)
    detail, detail_zh = MESSAGES[422]
    if names:
        detail = f"Invalid fields: {names}."
        detail_zh = f"以下字段无效：{names}。"
    return problem_response(
        422, code="validation_failed", detail=detail, detail_zh=detail_zh, errors=errors
    )


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    """Litestar's exceptions: keep the status and headers (Retry-After, Allow); use our
    wording, since Litestar's details are English-only and sometimes internal (a 400
    keeps its detail: it says what is malformed)."""
    if exc.status_code >= 500:
        return _internal(request, exc)
    code = {
        401: "not_authenticated",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        413: "body_too_large",
        415: "unsupported_media_type",
        429: "rate_limited",
    }.get(exc.status_code)
    detail = exc.detail if exc.status_code == 400 else None
    return problem_response(exc.status_code, code=code, detail=detail, headers=exc.headers)


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    logger.error(
        "unhandled %s on %s %s",
        type(exc).__name__,
        request.method,
        request.url.path,
        exc_info=exc,
        extra={"request_id": request.scope["state"].get("request_id")},
    )
    return problem_response(500, code="internal_error")


#: The one wording of "too busy, try again": the admission gate's refusal and a unit of
#: work the database could not take in time (nothing of it was stored either way).
OVERLOADED = (
    "The server is busy; nothing was changed. Please try again in a moment.",
    "服务器繁忙，本次操作未生效，请稍后重试。",
)

#: PostgreSQL's SQLSTATEs of a guard that ended a statement or transaction (timeouts,
#: lock waits, deadlocks): the unit of work was rolled back and may simply be retried.
_BUSY_SQLSTATES = {"57014", "55P03", "25P03", "40001", "40P01"}


def overloaded(retry_after_s: int) -> Response[Problem]:
    """503 ``overloaded`` with Retry-After: the request was not carried out."""
    detail, detail_zh = OVERLOADED
    return problem_response(
        503,
        code="overloaded",
        detail=detail,
        detail_zh=detail_zh,
        headers={"Retry-After": str(retry_after_s)},
    )


def _retry_after(request: Request[Any, Any, Any]) -> int:
    return int(request.app.state.settings.server.retry_after_s)


def _busy(request: Request[Any, Any, Any], _exc: Exception) -> Response[Problem]:
    """A unit of work refused for lack of a connection or of SQLite's write turn."""
    logger.warning("refused %s %s: database busy", request.method, request.url.path)
    return overloaded(_retry_after(request))


def _database(request: Request[Any, Any, Any], exc: sa_exc.DBAPIError) -> Response[Problem]:
    """The database refused or could not be reached. A guard that ended the unit of work
    (a timeout, a lock wait, SQLite's lock) is a busy server: 503, try again. Any other
    operational error (the server down, the network) is logged and 503
    ``database_unavailable``; anything else is a 500."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _BUSY_SQLSTATES or "database is locked" in str(exc.orig):
        return _busy(request, exc)
    if not isinstance(exc, sa_exc.OperationalError):
        return _internal(request, exc)
    logger.error(
        "database error on %s %s",
        request.method,
        request.url.path,
        exc_info=exc,
        extra={"request_id": request.scope["state"].get("request_id")},
    )
    return problem_response(
        503,
        code="database_unavailable",
        detail="The database cannot be reached; please try again shortly.",
        detail_zh="数据库暂时无法访问，请稍后重试。",
        headers={"Retry-After": str(_retry_after(request))},
    )


def _redis(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    """Redis (or a node of the cluster) is away, still loading its append-only file after
    a restart, or failing over: what needed it (the login session, a relayed study
    request) was not done. 503 ``redis_unavailable`` with Retry-After, never a 500; the
    client retries and the app reconnects by itself (decision 0018)."""
    logger.warning(
        "redis unavailable on %s %s: %s",
        request.method,
        request.url.path,
        type(exc).__name__,
        extra={"request_id": request.scope["state"].get("request_id")},
    )
    return problem_response(
        503,
        code="redis_unavailable",
        detail="A moment's interruption (the session store is restarting); please try again "
        "shortly. Nothing was lost.",
        detail_zh="会话服务正在重启，请稍后重试，数据不会丢失。",
        headers={"Retry-After": str(_retry_after(request))},
    )


def domain_handler(status: int) -> Handler:
    """A handler answering ``status`` for a domain exception (see the module docstring)."""

    def handle(_: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
        problems = getattr(exc, "problems", ())
        retry_after = getattr(exc, "retry_after_s", None)
        return problem_response(
            status,
            code=getattr(exc, "code", None) or _snake(type(exc).__name__),
            detail=getattr(exc, "message", None) or str(exc) or None,
            detail_zh=getattr(exc, "message_zh", None),
            errors=[msgspec.to_builtins(problem) for problem in problems],
            headers={"Retry-After": str(retry_after)} if retry_after is not None else None,
        )

    handle.statuses = frozenset({status})  # type: ignore[attr-defined]
    return handle


def coded_handler(default: int, statuses: Mapping[str, int]) -> Handler:
    """A handler for a domain exception whose instances carry different ``code``s:
    ``statuses[code]``, else ``default``."""
    handlers = {status: domain_handler(status) for status in {default, *statuses.values()}}

    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
        status = statuses.get(getattr(exc, "code", ""), default)
        return handlers[status](request, exc)

    handle.statuses = frozenset(handlers)  # type: ignore[attr-defined]
    return handle


#: Refusals of the attempt core and of starting an attempt: 409 (the request conflicts
#: with the attempt's state: closed, expired, past the deadline, held by another device,
#: attempts used up …) unless listed here: 422 for bad input, 403 for not enrolled.
#: ``device_moved`` is a 409, not a 403: the learner may act on the attempt, the state
#: (another device holds it) is what conflicts, and a resume here takes it back.
ATTEMPT_STATUSES: dict[str, int] = {
    "unknown_item": 422,
    "bad_extension": 422,
    "reason_required": 422,
    "empty_grant": 422,
    "not_enrolled": 403,
}


#: Refusals of buying (``examengine.commerce.CommerceError``): 409 (the order's state,
#: a payment that does not match, a place taken …) unless listed here.
COMMERCE_STATUSES: dict[str, int] = {
    "order_not_found": 404,
    "invoice_not_found": 404,
    "provider_unknown": 404,
    "tax_id": 422,
    "invoice_title": 422,
    "too_many": 422,
    "nothing_to_buy": 422,
    "callback_refused": 403,
}


#: Refusals of study (``examengine.credit.StudyError``): 409 (the session ended, no
#: challenge waiting, re-study not due, required courses first …) unless listed here.
STUDY_STATUSES: dict[str, int] = {
    "plan_not_found": 404,
    "chapter_not_found": 404,
    "chapter_not_in_plan": 404,
    "not_enrolled_in_plan": 403,
    "bad_token": 403,
    "not_your_session": 403,
    "wrong_answer": 422,
    "study_full": 503,
    "study_unavailable": 503,
    "purchase_required": 402,
    "plan_unreadable": 422,
}


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


#: Installed by ``api.app.create_app``. Keys are exception classes; the most specific
#: class in the MRO of a raised exception picks the handler.
EXCEPTION_HANDLERS: dict[type[Exception], Handler] = {
    ApiError: _api_error,
    ValidationException: _validation,
    NotAuthorizedException: _http,
    PermissionDeniedException: _http,
    NotFoundException: _http,
    HTTPException: _http,
    Exception: _internal,
    DatabaseBusy: _busy,
    sa_exc.TimeoutError: _busy,
    sa_exc.OperationalError: _database,
    sa_exc.InternalError: _database,  # psycopg's idle-in-transaction timeout (25P03)
    # Redis away, loading its AOF (BusyLoadingError is a ConnectionError), failing over;
    # a cluster client's own errors (no reachable node, a slot not covered yet)
    redis_exc.ConnectionError: _redis,
    redis_exc.TimeoutError: _redis,
    redis_exc.ClusterDownError: _redis,
    redis_exc.TryAgainError: _redis,
    redis_exc.ReadOnlyError: _redis,
    redis_exc.RedisClusterException: _redis,
    # Domain roots: the most specific class wins.
    ItembankError: domain_handler(422),
    BankNotFoundError: domain_handler(404),
    ItemNotFoundError: domain_handler(404),
    VersionPublishedError: domain_handler(409),
    UnknownFormatError: domain_handler(422),
    SpecInvalidError: domain_handler(422),
    ExamServiceError: domain_handler(409),
    ExamNotFoundError: domain_handler(404),
    SpecUnreadableError: domain_handler(422),
    PaperRequestInvalidError: domain_handler(422),
    AccountError: domain_handler(422),
    AccountInvalidError: domain_handler(422),
    AccountExistsError: domain_handler(409),
    AccountNotFoundError: domain_handler(404),
    AccountRefusedError: domain_handler(403),
    # The link existed once, or never did: either way it is gone (nothing tells which).
    ActivationInvalidError: domain_handler(410),
    # 429 like the per-address limit (clients know to wait), told apart by the code.
    AccountLockedError: domain_handler(429),
    TooManyCodesError: domain_handler(429),
    AttemptError: coded_handler(409, ATTEMPT_STATUSES),
    AttemptServiceError: domain_handler(409),
    NotEligibleError: coded_handler(409, ATTEMPT_STATUSES),
    AttemptNotFoundError: domain_handler(404),
    LearnerNotFoundError: domain_handler(404),
    LearnersNotFoundError: domain_handler(422),
    BadAnswerError: domain_handler(422),
    StudyError: coded_handler(409, STUDY_STATUSES),
    CommerceError: coded_handler(409, COMMERCE_STATUSES),
}


def statuses_of(exc_type: type[Exception]) -> frozenset[int]:
    """Every status ``exc_type`` can be answered with (the API description's replies):
    an ``ApiError``'s own, else the statuses of its most specific handler here."""
    if issubclass(exc_type, ApiError):
        return frozenset({exc_type.status})
    nearest = next(EXCEPTION_HANDLERS[c] for c in exc_type.__mro__ if c in EXCEPTION_HANDLERS)
    # Its subclasses may be mapped to statuses of their own (a 404 under a 422 root).
    below = [h for cls, h in EXCEPTION_HANDLERS.items() if issubclass(cls, exc_type)]
    return frozenset(s for h in [nearest, *below] for s in getattr(h, "statuses", {500}))


def exception_handlers() -> ExceptionHandlersMap:
    """A copy of ``EXCEPTION_HANDLERS`` in the form Litestar takes."""
    return dict(EXCEPTION_HANDLERS)  # type: ignore[arg-type]


__all__ = [
    "EXCEPTION_HANDLERS",
    "MESSAGES",
    "PROBLEM_JSON",
    "RAISES",
    "ApiError",
    "BodyTooDeep",
    "Conflict",
    "ControlCharacter",
    "FieldError",
    "Forbidden",
    "InvalidCredentials",
    "MalformedJson",
    "NotAuthenticated",
    "NotFound",
    "PasswordChangeRequired",
    "Problem",
    "domain_handler",
    "overloaded",
    "problem_response",
    "statuses_of",
]
