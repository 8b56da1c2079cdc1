"""``/api/evidence``: signed evidence bundles of the integrity log (docs/decisions/0027),
for a reviewer who checks them offline with ``examengine audit verify FILE``.

Proctors and operators export an attempt's evidence (the learner's whole chain, the
attempt named as its subject); operators also a learner's. Every export is recorded in
the learner's own chain (``evidence_exported``: who, for what), so the evidence shows
who has taken it out.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from sqlmodel import select

from api.http.auth import principal_of, requires_role
from api.http.errors import NotFound
from api.http.params import AttemptId, LoginRef
from api.services import keys
from api.services.evidence import audit, log
from api.store.db import Uow
from api.store.tables import Attempt, User
from examengine import integrity


class EvidenceController(Controller):
    path = "/api/evidence"
    tags = ["evidence"]
    guards = [requires_role("proctor", "operator")]

    @get(
        "/attempts/{attempt_id:str}",
        sync_to_thread=True,
        media_type="application/json",
        summary="The signed evidence bundle of an attempt (its learner's integrity chain)",
    )
    def attempt(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, attempt_id: AttemptId
    ) -> Response[integrity.SignedBundle]:
        with uow() as db:
            row = db.get(Attempt, attempt_id)
            if row is None:
                raise _not_found("attempt", attempt_id)
            subject = {"kind": "attempt", "attempt": attempt_id, "exam": row.exam_key}
            document = _export(request, db, state, row.learner_id, subject)
        return _download(document, f"evidence-attempt-{attempt_id}.json")

    @get(
        "/learners/{login:str}",
        sync_to_thread=True,
        media_type="application/json",
        guards=[requires_role("operator")],
        summary="The signed evidence bundle of a learner (operators)",
    )
    def learner(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, login: LoginRef
    ) -> Response[integrity.SignedBundle]:
        with uow() as db:
            user = db.exec(select(User).where(User.login == login)).first()
            if user is None or user.id is None or "learner" not in user.roles:
                raise _not_found("learner", login)
            document = _export(request, db, state, user.id, {"kind": "learner"})
        return _download(document, f"evidence-learner-{user.id}.json")


def _export(
    request: Request[Any, Any, Any], db: Any, state: State, learner_id: int, subject: dict[str, str]
) -> integrity.SignedBundle:
    now = int(state.clock.now_ms())
    principal = principal_of(request)
    log.append(
        db,
        [
            log.entry(
                learner=learner_id,
                at_ms=now,
                kind="evidence_exported",
                ref=f"{subject['kind']}:{subject.get('attempt', learner_id)}",
                data={"by_id": principal.user_id, "subject": subject},
            )
        ],
    )
    records = state.settings.records
    return audit.bundle(
        db,
        keys.current(records),
        keys.published(records),
        learner_id=learner_id,
        subject=subject,
        now=now,
    )


def _download(document: integrity.SignedBundle, name: str) -> Response[integrity.SignedBundle]:
    return Response(
        document,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _not_found(what: str, ref: str) -> NotFound:
    zh = {"attempt": "考试记录", "learner": "学员"}[what]
    return NotFound(f"No {what} {ref}.", f"没有该{zh}：{ref}。")
