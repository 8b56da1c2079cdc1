"""The exams API: exam specs for authors (save, live check, publish, browse, preview a
paper) and the paper audit for operators.

Thin handlers: each reads the request, calls one use case in ``api.services.exams`` on
the request's transaction, and returns a wire Struct. Domain errors (a spec that cannot
be assembled, an unknown exam) become problem+json in ``api.http.errors``. Learners get their
papers through the attempts API, not here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import JSONBody

from api.http.auth import principal_of, requires_role
from api.http.errors import RAISES
from api.http.params import AttemptNumber, ExamKey, LatestVersion, LearnerRef, Version
from api.services import exams
from api.settings import Settings
from api.store.db import Uow
from examengine.blueprint import ExamSpec, SpecProblem
from examengine.errors import SpecInvalidError
from itembank.errors import ItembankError


def _now() -> datetime:
    return datetime.now(UTC)


def _secret(state: State) -> bytes:
    settings: Settings = state.settings
    return settings.security.paper_secret.encode()


def _unreadable(exc: exams.SpecUnreadableError) -> SpecProblem:
    return SpecProblem(
        code="invalid-field", where="spec", message=exc.message, message_zh=exc.message_zh
    )


class ExamsController(Controller):
    path = "/api/exams"
    tags = ["exams"]
    guards = [requires_role("author", "operator")]
    opt = {RAISES: (exams.ExamServiceError, SpecInvalidError, ItembankError)}

    @post("/", summary="Save a spec as the exam's draft version", sync_to_thread=True)
    def save(
        self, request: Request[Any, Any, Any], uow: Uow, data: JSONBody[ExamSpec]
    ) -> exams.SaveOutcome:
        """A new draft version (or the draft changed in place); 422 with every problem
        when the spec cannot be assembled from its bank version. The server numbers
        versions: the spec's ``version`` is ignored."""
        with uow() as db:
            author = principal_of(request).user_id
            return exams.save_spec(db, data, now=_now(), author_id=author)

    @post(
        "/validate",
        summary="Check a spec against its bank (the live check)",
        status_code=200,
        sync_to_thread=True,
    )
    def validate(self, uow: Uow, data: JSONBody[Any]) -> exams.ValidationOutcome:
        """Always 200: ``ok`` is false when there is an error; a body of the wrong shape
        is one problem naming the field."""
        with uow() as db:
            try:
                spec = exams.convert_spec(data, source="spec")
            except exams.SpecUnreadableError as exc:
                return exams.ValidationOutcome(ok=False, problems=(_unreadable(exc),))
            problems = tuple(exams.validate_spec(db, spec))
            ok = not any(p.severity == "error" for p in problems)
            return exams.ValidationOutcome(ok=ok, problems=problems)

    @get("/", summary="Every exam with its latest version", sync_to_thread=True)
    def list_exams(self, uow: Uow) -> list[exams.ExamVersionInfo]:
        with uow() as db:
            return exams.list_exams(db)

    @get("/{key:str}", summary="An exam's latest version, its spec and every version",
         sync_to_thread=True)  # fmt: skip
    def detail(self, uow: Uow, key: ExamKey) -> exams.ExamDetail:
        with uow() as db:
            return exams.exam_detail(db, exam=key)

    @post(
        "/{key:str}/versions/{version:int}/publish",
        summary="Publish a draft version (it never changes again)",
        status_code=200,
        sync_to_thread=True,
    )
    def publish(self, uow: Uow, key: ExamKey, version: Version) -> exams.ExamVersionInfo:
        with uow() as db:
            return exams.publish(db, exam=key, version=version, now=_now())

    @get(
        "/{key:str}/sample-paper",
        summary="A preview paper for a test learner (not stored; keys included)",
        sync_to_thread=True,
    )
    def sample_paper(
        self,
        *,
        uow: Uow,
        state: State,
        key: ExamKey,
        learner: LearnerRef = "preview",
        attempt: AttemptNumber = 1,
        version: LatestVersion = None,
    ) -> exams.PaperPreview:
        with uow() as db:
            return exams.preview_paper(
                db, secret=_secret(state), exam=key, version=version, learner=learner,
                attempt=attempt,
            )  # fmt: skip

    @get(
        "/{key:str}/papers/{learner:str}/{attempt:int}/audit",
        summary="Rebuild a learner's paper from its seed and compare it with the stored one",
        guards=[requires_role("operator")],
        sync_to_thread=True,
    )
    def audit(
        self,
        *,
        uow: Uow,
        state: State,
        key: ExamKey,
        learner: LearnerRef,
        attempt: AttemptNumber,
        version: LatestVersion = None,
    ) -> exams.AuditResult:
        with uow() as db:
            return exams.show_paper(
                db, exam=key, learner=learner, attempt=attempt, secret=_secret(state),
                version=version,
            )  # fmt: skip
