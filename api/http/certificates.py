"""Certificates over HTTP (docs/decisions/0028).

- ``/api/me/certificates``: a learner's own, and the PDF of a current one;
- ``/api/employer/certificates``: an administrator's staff's (anyone else's: 404);
- ``/api/operator/certificates``: every certificate, searched; one with its history and
  what /verify says of it; revoking one with a reason;
- ``/api/verify/{certificate}``: the public check, without a login, limited per client
  address (``verify_rate_limit``, shared with the /verify pages);
- ``/.well-known/examengine-keys.json``: the public keys certificates are signed with.

A certificate number in a path is read leniently (``examengine.records.check_number``:
lower case, no hyphens, O for 0): a malformed one is a 422 naming it, an unknown one a
404 ``certificate_not_found``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import TooManyRequestsException
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.params import FromQuery, JSONBody, Parameter
from litestar.types import ExceptionHandlersMap
from msgspec import Meta, Struct
from sqlmodel import Session

from api.http.auth import RetryAfterRateLimit, principal_of, requires_role
from api.http.employer import acting_employer
from api.http.errors import RAISES, ApiError, FieldError, NotFound, problem_response
from api.http.params import ONE_LINE, Filter, Limit, OptionalFilter, PageNumber
from api.http.schema import replying_in
from api.services import certificates, keys
from api.services.accounts import AccountError
from api.settings import Settings
from api.store.db import Uow
from api.store.tables import Certificate, User
from examengine import records
from examengine.records import RecordError

PDF = "application/pdf"
#: A certificate's number as typed (hyphens, spaces and lower case are read too).
CertificateNumber = Annotated[
    str,
    Parameter(
        min_length=1,
        max_length=40,
        pattern=ONE_LINE,
        description="The certificate's number, e.g. 2026-7K3M-Q9XD-4TZP",
    ),
]
StateFilter = Literal["current", "superseded", "revoked"]
#: Route ``opt`` flag: the route counts against the per-address limit of lookups.
VERIFY_LIMITED = "verify_rate_limited"
#: How a certificate refusal is answered (422 for what was typed, else 409).
STATUSES = {
    "certificate_number": 422,
    "reason_required": 422,
    "certificate_not_found": 404,
    "certificate_not_current": 409,
}


class RevokeRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: Why (kept internal: /verify says revoked and when, never why).
    reason: Annotated[str, Meta(min_length=1, max_length=certificates.MAX_REASON)]


class CertificateConflict(ApiError):
    """(documents the 409 of a certificate that is superseded or revoked already)"""

    status = 409
    code = "certificate_not_current"


class LookupsRateLimited(ApiError):
    """(documents the 429 of too many lookups from one address)"""

    status = 429
    code = "rate_limited"


# ------------------------------------------------------------------ refusals


def record_refused(_: Request[Any, Any, Any], exc: RecordError) -> Response[Any]:
    """A certificate refusal as problem+json: its status by code, the field it names."""
    errors = []
    if exc.field is not None:
        source = "path" if exc.field == "certificate" else "body"
        errors = [FieldError(field=exc.field, message=exc.message, source=source)]
    return problem_response(
        STATUSES.get(exc.code, 409),
        code=exc.code,
        detail=exc.message,
        detail_zh=exc.message_zh,
        errors=errors,
    )


def too_many(request: Request[Any, Any, Any], exc: TooManyRequestsException) -> Response[Any]:
    """429 with Retry-After, in both languages."""
    headers = dict(exc.headers or {})
    wait = headers.get("Retry-After", "60")
    return problem_response(
        429,
        code="rate_limited",
        detail=f"Too many certificate lookups from your address; try again in {wait} s.",
        detail_zh=f"您所在网络查询证书过于频繁，请 {wait} 秒后再试。",
        headers=headers,
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    RecordError: record_refused,
    TooManyRequestsException: too_many,
}


class VerifyRateLimit(RetryAfterRateLimit):
    """The login limit's mechanism with a counter of its own (its key is this class's
    name and the client's address)."""


def _is_verify(request: Request[Any, Any, Any]) -> bool:
    """Lookups count (the bare form does not: it looks nothing up)."""
    return bool(request.route_handler.opt.get(VERIFY_LIMITED))


def verify_rate_limit(per_minute: int) -> RateLimitConfig:
    """At most ``per_minute`` certificate lookups per client address (/verify pages and
    /api/verify), counted in the ``rate_limit`` store (shared through Redis when
    configured): numbers cannot be enumerated. A refusal is 429 with Retry-After."""
    return RateLimitConfig(
        rate_limit=("minute", per_minute),
        store="rate_limit",
        check_throttle_handler=_is_verify,
        middleware_class=VerifyRateLimit,
    )


# -------------------------------------------------------------------- helpers


def number_of(raw: str, *, field: str = "certificate") -> str:
    """``raw`` in its normal form; ``RecordError`` (422) naming ``field``."""
    return records.check_number(raw, field=field)


def _settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def _now(state: State) -> int:
    return int(state.clock.now_ms())


def _actor(request: Request[Any, Any, Any], db: Session) -> User:
    user = db.get(User, principal_of(request).user_id)
    if user is None:  # deleted while signed in
        raise NotFound()
    return user


def verify_base(request: Request[Any, Any, Any], settings: Settings) -> str:
    """The site's address printed in QR codes: the configured one, the first public
    origin, or the address this request came to."""
    configured = settings.records.verify_base_url
    if configured:
        return configured
    if settings.security.public_origins:
        return settings.security.public_origins[0]
    return str(request.base_url).rstrip("/")


def pdf_reply(request: Request[Any, Any, Any], row: Certificate, state: State) -> Response[bytes]:
    settings = _settings(state)
    data = certificates.pdf(
        row, settings=settings.records, verify_base=verify_base(request, settings)
    )
    name = certificates.file_name(row)
    return Response(
        data,
        media_type=PDF,
        headers={
            "Content-Disposition": "attachment; filename*=UTF-8''" + quote(name),
            "Cache-Control": "no-store",
        },
    )


# ---------------------------------------------------------------- controllers


class MyCertificatesController(Controller):
    """``/api/me/certificates``: the learner's own certificates."""

    path = "/api/me/certificates"
    tags = ["certificates"]
    guards = [requires_role("learner")]
    exception_handlers = EXCEPTION_HANDLERS
    opt = {RAISES: (CertificateConflict,)}

    @get("", sync_to_thread=True, summary="My certificates, newest first")
    def mine(
        self, request: Request[Any, Any, Any], uow: Uow, state: State
    ) -> certificates.CertificatePage:
        """Every certificate of mine, superseded and revoked ones too (with why)."""
        me = principal_of(request).user_id
        with uow() as db:
            # A certificate due but not issued where it fell due (a command-line sweep
            # holds no signing key) is issued now.
            certificates.issue_due(
                db, learner_id=me, now=_now(state), settings=_settings(state).records
            )
            return certificates.mine(db, learner_id=me)

    @get(
        "/{certificate:str}/pdf",
        sync_to_thread=True,
        operation_class=replying_in(PDF),
        summary="My certificate as a PDF",
    )
    def pdf(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        state: State,
        certificate: CertificateNumber,
    ) -> Response[bytes]:
        """A current certificate of mine (409 for a superseded or revoked one)."""
        number = number_of(certificate)
        with uow() as db:
            row = certificates.of_learner(
                db, number=number, learner_id=principal_of(request).user_id
            )
            certificates.require_current(row)
        return pdf_reply(request, row, state)


class EmployerCertificatesController(Controller):
    """``/api/employer/certificates``: the certificates of an employer's staff."""

    path = "/api/employer/certificates"
    tags = ["certificates"]
    guards = [requires_role("employer_admin", "operator")]
    exception_handlers = EXCEPTION_HANDLERS
    opt = {RAISES: (AccountError, CertificateConflict)}

    @get("", sync_to_thread=True, summary="Our staff's certificates, newest first")
    def list_(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        *,
        q: Filter = "",
        status: FromQuery[StateFilter | None] = None,
        page: PageNumber = 1,
        size: Limit = certificates.PAGE_SIZE,
        employer: OptionalFilter = None,
    ) -> certificates.CertificatePage:
        """An administrator's own staff (an operator names the employer); ``q``: a
        number, a name, an ID number or a plan."""
        with uow() as db:
            whose = acting_employer(request, db, employer)
            return certificates.search(
                db,
                query=q,
                state=status,
                employer=whose,
                page=page,
                page_size=size,
                private=False,
            )

    @get(
        "/{certificate:str}/pdf",
        sync_to_thread=True,
        operation_class=replying_in(PDF),
        summary="A staff member's certificate as a PDF",
    )
    def pdf(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        state: State,
        certificate: CertificateNumber,
        employer: OptionalFilter = None,
    ) -> Response[bytes]:
        """A current certificate of someone now at the employer; anyone else's: 404."""
        number = number_of(certificate)
        with uow() as db:
            actor = _actor(request, db)
            if "operator" in actor.roles and not employer:
                row = certificates.certificate(db, number=number)
            else:
                whose = acting_employer(request, db, employer)
                row = certificates.of_employer(db, number=number, employer=whose)
            certificates.require_current(row)
        return pdf_reply(request, row, state)


class OperatorCertificatesController(Controller):
    """``/api/operator/certificates``: every certificate, for operators."""

    path = "/api/operator/certificates"
    tags = ["certificates"]
    guards = [requires_role("operator")]
    exception_handlers = EXCEPTION_HANDLERS
    opt = {RAISES: (CertificateConflict,)}

    @get("", sync_to_thread=True, summary="Every certificate, searched, newest first")
    def list_(
        self,
        uow: Uow,
        *,
        q: Filter = "",
        status: FromQuery[StateFilter | None] = None,
        employer: OptionalFilter = None,
        page: PageNumber = 1,
        size: Limit = certificates.PAGE_SIZE,
    ) -> certificates.CertificatePage:
        """``q``: a number, a name, an ID number (whole) or a plan; ``employer``: the
        holders now at that employer."""
        with uow() as db:
            return certificates.search(
                db,
                query=q,
                state=status,
                employer=employer or None,
                page=page,
                page_size=size,
            )

    @get(
        "/{certificate:str}",
        sync_to_thread=True,
        summary="A certificate: what it says, what /verify says, its history",
    )
    def read(
        self, uow: Uow, state: State, certificate: CertificateNumber
    ) -> certificates.CertificateDetail:
        number = number_of(certificate)
        with uow() as db:
            return certificates.detail(
                db, number=number, trusted=keys.published(_settings(state).records)
            )

    @get(
        "/{certificate:str}/pdf",
        sync_to_thread=True,
        operation_class=replying_in(PDF),
        summary="Any certificate as a PDF",
    )
    def pdf(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        state: State,
        certificate: CertificateNumber,
    ) -> Response[bytes]:
        """Superseded and revoked ones too (for the records: /verify says their state)."""
        number = number_of(certificate)
        with uow() as db:
            row = certificates.certificate(db, number=number)
        return pdf_reply(request, row, state)

    @post(
        "/{certificate:str}/revoke",
        status_code=200,
        sync_to_thread=True,
        summary="Revoke a current certificate, with the reason",
    )
    def revoke(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        state: State,
        certificate: CertificateNumber,
        data: JSONBody[RevokeRequest],
    ) -> certificates.CertificateView:
        """The reason (≤ 500 characters) is recorded with who revoked it; /verify then
        says revoked and when, never why. 409 ``certificate_not_current``."""
        number = number_of(certificate)
        with uow() as db:
            return certificates.revoke(
                db,
                number=number,
                reason=data.reason,
                by_id=principal_of(request).user_id,
                now=_now(state),
            )


@get(
    "/api/verify/{certificate:str}",
    sync_to_thread=True,
    tags=["certificates"],
    exception_handlers=EXCEPTION_HANDLERS,
    opt={VERIFY_LIMITED: True, RAISES: (LookupsRateLimited,)},
    summary="Verify a certificate by its number (no login; limited per address)",
)
def verify(
    uow: Uow, state: State, certificate: CertificateNumber
) -> Response[certificates.Verification]:
    """Whether the certificate is genuine (its stored record's signature holds under the
    published keys) and current, superseded or revoked; the holder's name and masked ID
    number and what it certifies for a current one only. 404 ``certificate_not_found``;
    429 after ``EXAMENGINE_VERIFY_PER_MINUTE`` lookups from one address in a minute."""
    number = number_of(certificate)
    with uow() as db:
        found = certificates.public_view(
            db, number=number, trusted=keys.published(_settings(state).records)
        )
    return Response(found, headers={"Cache-Control": "no-store"})


@get(
    certificates.KEYS_PATH,
    sync_to_thread=False,
    tags=["certificates"],
    summary="The public keys certificates and the integrity log are signed with (JWKS)",
)
def key_set(state: State) -> Response[dict[str, list[dict[str, str]]]]:
    """A JSON Web Key Set (RFC 8037, Ed25519): the signing key and the retired ones a
    record may still be signed with; a record names its key by ``kid``."""
    return Response(
        keys.key_set(_settings(state).records),
        headers={"Cache-Control": "public, max-age=300"},
    )


__all__ = [
    "VERIFY_LIMITED",
    "EmployerCertificatesController",
    "MyCertificatesController",
    "OperatorCertificatesController",
    "key_set",
    "number_of",
    "verify",
    "verify_base",
    "verify_rate_limit",
]
