"""Risk flags over HTTP (``/api/operator/risk``), for proctors and operators
(docs/decisions/0030): the flagged attempts and study cycles with filters, one
attempt's checks and evidence, and the workbook of both (one row per flag).

Filters (every list and the export): ``exam`` (its key), ``employer`` (its registered
name), ``since`` (a date, ``2026-11-01``, midnight in China, or a time with its
offset; 30 days back when left out). A filter that names nothing is a 400
``bad_filter`` naming the field, in Chinese and English. Thin handlers: the clock read
once, one use case of ``api.services.risk``; the rules are ``examengine.risk``'s.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Controller, Response, get
from litestar.datastructures import State
from sqlmodel import Session

from api.http.auth import requires_role
from api.http.errors import RAISES, ApiError
from api.http.params import AttemptId, OptionalFilter
from api.http.schema import replying_in
from api.services import risk
from api.services.attempts import AttemptNotFoundError
from api.store.db import Uow

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class BadFilter(ApiError):
    """A list's filter that names nothing or is not what the field takes."""

    status = 400
    code = "bad_filter"

    def __init__(self, field: str, detail: str, detail_zh: str) -> None:
        self.field = field
        super().__init__(detail, detail_zh)


def _now(state: State) -> int:
    return int(state.clock.now_ms())


def _filters(
    db: Session, *, exam: str | None, employer: str | None, since: str | None, now: int
) -> risk.Filters:
    try:
        return risk.filters(db, exam=exam, employer=employer, since=since, now=now)
    except risk.FilterError as exc:
        raise BadFilter(exc.field, exc.message, exc.message_zh) from None


class RiskController(Controller):
    """``/api/operator/risk``: reasons for a person to look, never verdicts."""

    path = "/api/operator/risk"
    tags = ["operator"]
    guards = [requires_role("proctor", "operator")]
    opt = {RAISES: (BadFilter,)}

    @get("/attempts", sync_to_thread=True,
         summary="Flagged formal attempts: the flags with their evidence")  # fmt: skip
    def attempts(
        self,
        uow: Uow,
        state: State,
        exam: OptionalFilter = None,
        employer: OptionalFilter = None,
        since: OptionalFilter = None,
    ) -> risk.AttemptList:
        """Among the most recent formal attempts (``scan_limit``) matching the filters;
        ``truncated`` when more matched. Similar answers are compared among them, one
        employer and one exam at a time."""
        now = _now(state)
        with uow() as db:
            found = _filters(db, exam=exam, employer=employer, since=since, now=now)
            return risk.attempt_list(db, filters=found, now=now)

    @get("/attempts/{attempt_id:str}", sync_to_thread=True, opt={RAISES: (AttemptNotFoundError,)},
         summary="One attempt: every rule checked, its flags and their evidence")  # fmt: skip
    def attempt(self, uow: Uow, state: State, attempt_id: AttemptId) -> risk.AttemptRisk:
        """404 for no such attempt. Similar answers: compared with the most recent graded
        formal attempts of the same exam by learners of the same employer."""
        with uow() as db:
            return risk.attempt_risk(db, attempt_id=attempt_id, now=_now(state))

    @get("/cycles", sync_to_thread=True,
         summary="Flagged study cycles: missed challenges, chapters opened elsewhere")  # fmt: skip
    def cycles(
        self,
        uow: Uow,
        state: State,
        exam: OptionalFilter = None,
        employer: OptionalFilter = None,
        since: OptionalFilter = None,
    ) -> risk.CycleList:
        """``exam``: the study of the plans that unlock it."""
        now = _now(state)
        with uow() as db:
            found = _filters(db, exam=exam, employer=employer, since=since, now=now)
            return risk.cycle_list(db, filters=found, now=now)

    @get("/export", sync_to_thread=True, operation_class=replying_in(XLSX),
         summary="Every flag of the lists as a workbook, one row per flag")  # fmt: skip
    def export(
        self,
        uow: Uow,
        state: State,
        exam: OptionalFilter = None,
        employer: OptionalFilter = None,
        since: OptionalFilter = None,
    ) -> Response[Any]:
        now = _now(state)
        with uow() as db:
            found = _filters(db, exam=exam, employer=employer, since=since, now=now)
            content = risk.export(db, filters=found, now=now)
        name = f"risk-flags-{risk.cst(now)[:10]}.xlsx"
        return Response(
            content,
            media_type=XLSX,
            headers={"Content-Disposition": "attachment; filename*=UTF-8''" + quote(name)},
        )
