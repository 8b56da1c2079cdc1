"""Activation codes over HTTP: an operator issues a batch for a plan (the answer is the
batch's workbook, the only place the codes are ever shown); a learner redeems one and is
enrolled in its plan. Redemptions share the login's per-address limit, and an account
with too many refused codes in an hour is stopped (``api.services.codes``)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from litestar import Request, Response, post
from litestar.datastructures import State
from litestar.params import JSONBody
from msgspec import Meta, Struct

from api.http.auth import RATE_LIMITED, principal_of, requires_role
from api.http.errors import RAISES
from api.http.schema import replying_in
from api.services import codes
from api.services.accounts import AccountError
from api.store.db import Uow

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class IssueRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    plan: Annotated[str, Meta(min_length=1, max_length=120)]
    count: Annotated[int, Meta(ge=1, le=codes.MAX_BATCH)]
    #: Only this employer's learners may redeem the codes (None: anyone).
    employer: Annotated[str, Meta(min_length=1, max_length=200)] | None = None
    days: Annotated[int, Meta(ge=1, le=3 * 366)] = 366


class RedeemRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: Annotated[str, Meta(min_length=1, max_length=64)]


def _now(state: State) -> int:
    return int(state.clock.now_ms())


@post("/api/operator/codes", guards=[requires_role("operator")], status_code=200,
      sync_to_thread=True, tags=["operator"], opt={RAISES: (AccountError,)},
      operation_class=replying_in(XLSX),
      summary="Issue a batch of activation codes for a plan (answered as a workbook)")  # fmt: skip
def issue_codes(
    request: Request[Any, Any, Any], uow: Uow, state: State, data: JSONBody[IssueRequest]
) -> Response[bytes]:
    """The workbook holds each code's serial and the code: keep it as private as money."""
    with uow() as db:
        batch = codes.issue(
            db, plan=data.plan, count=data.count, employer=data.employer, days=data.days,
            actor_id=principal_of(request).user_id, now=_now(state),
        )  # fmt: skip
    return Response(
        codes.batch_xlsx(batch), media_type=XLSX,
        headers={"Content-Disposition": "attachment; filename*=UTF-8''"
                 + quote(f"codes-{batch.batch}.xlsx"), "X-Code-Batch": batch.batch},
    )  # fmt: skip


@post("/api/me/codes", guards=[requires_role("learner")], status_code=200, sync_to_thread=True,
      tags=["study"], opt={RAISES: (AccountError,), RATE_LIMITED: True},
      summary="Redeem an activation code: enrolled in its plan")  # fmt: skip
def redeem_code(
    request: Request[Any, Any, Any], uow: Uow, state: State, data: JSONBody[RedeemRequest]
) -> codes.Redeemed:
    """422 naming ``code`` (unknown, used, expired, another employer's); 429 after too
    many wrong codes from this account in an hour, or from this address in a minute."""
    with uow() as db:
        return codes.redeem(
            db, learner_id=principal_of(request).user_id, code=data.code, now=_now(state)
        )
