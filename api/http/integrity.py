"""``POST /api/attempts/{id}/integrity``: the exam page reports what a proctor should
know about (the window lost focus, full screen was left, text was copied or pasted).

Stored as an ``attempt_event`` row of kind ``integrity`` (the operators' step log shows
it with the rest of the attempt's events). Only the attempt's learner may report, only
while the attempt is open, and at most ``MAX_EVENTS`` per attempt, so a script cannot
fill the table. Nothing is decided here: the events are evidence for a person.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.params import JSONBody
from msgspec import Struct
from sqlmodel import Session, col, func, select

from api.http.auth import device_of, principal_of, requires_role
from api.http.errors import RAISES
from api.http.params import AttemptId
from api.services.attempts import OPEN_STATES, AttemptNotFoundError
from api.services.evidence import log
from api.store.db import Uow
from api.store.tables import Attempt, AttemptEvent

Kind = Literal["focus_lost", "fullscreen_exit", "copy", "paste"]
#: Integrity events kept per attempt; later reports are acknowledged and dropped.
MAX_EVENTS = 500


class IntegrityReport(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    kind: Kind


class IntegrityAck(Struct, frozen=True, kw_only=True):
    attempt: str
    recorded: bool
    server_ms: int


def record(
    session: Session, *, learner_id: int, attempt_id: str, kind: str, device: str, now: int
) -> bool:
    """Store one integrity event; False when the attempt is closed or has its fill."""
    row = session.get(Attempt, attempt_id)
    if row is None or row.learner_id != learner_id:
        raise AttemptNotFoundError(attempt_id)
    if row.state not in OPEN_STATES:
        return False
    count = session.exec(
        select(func.count(col(AttemptEvent.id))).where(
            AttemptEvent.attempt_id == attempt_id, AttemptEvent.kind == "integrity"
        )
    ).one()
    if count >= MAX_EVENTS:
        return False
    data = {"event": "integrity", "attempt": attempt_id, "at_ms": now, "kind": kind}
    data["device"] = device
    session.add(
        AttemptEvent(
            attempt_id=attempt_id,
            kind="integrity",
            at_ms=now,
            data=msgspec.json.encode(data).decode(),
        )
    )
    session.flush()
    log.append(
        session,
        [
            log.entry(
                learner=learner_id, at_ms=now, kind=kind, ref=f"attempt:{attempt_id}", data=data
            )
        ],
    )
    return True


class IntegrityController(Controller):
    path = "/api/attempts"
    tags = ["attempts"]
    guards = [requires_role("learner")]
    opt = {RAISES: (AttemptNotFoundError,)}

    @post("/{attempt_id:str}/integrity", summary="Report an integrity event of the exam page",
          status_code=200, sync_to_thread=True)  # fmt: skip
    def report(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        state: State,
        attempt_id: AttemptId,
        data: JSONBody[IntegrityReport],
    ) -> IntegrityAck:
        with uow() as db:
            now = int(state.clock.now_ms())
            recorded = record(
                db,
                learner_id=principal_of(request).user_id,
                attempt_id=attempt_id,
                kind=data.kind,
                device=device_of(request),
                now=now,
            )
            return IntegrityAck(attempt=attempt_id, recorded=recorded, server_ms=now)
