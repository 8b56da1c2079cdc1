"""The attempts API: the learner's exam (start, resume, paper, answers, heartbeat, submit,
result) and the proctors' and operators' controls (extend, grant, terminate, step log,
regrade, live list).

Thin handlers: each reads the clock once (``app.state.clock``), calls one use case of
``api.services.attempts`` on the request's transaction, and returns its Struct. Every
learner reply carries ``seconds_left`` and ``server_ms`` so the browser's countdown
follows the server's clock. Refusals are problem+json, mapped in ``api.http.errors``.

Who may touch an attempt: its learner only (anyone else gets the same 404 as for an
attempt that does not exist). The *device* holding an attempt is the login session: a
random id kept in the server-side session, made on first use — it cannot be forged by
the browser, and logging in again (a new session) on any machine is a new device, whose
resume takes the attempt over and records ``device_taken_over``.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post, put
from litestar.datastructures import State
from litestar.params import Body, FromQuery, JSONBody
from msgspec import Meta, Struct

from api.http.auth import device_of, principal_of, requires_role
from api.http.errors import RAISES
from api.http.params import AttemptId, ExamKey, LoginRef, OptionalFilter
from api.services import attempts
from api.settings import Settings
from api.store.db import Uow
from examengine.attempt import AttemptError

ItemKey = Annotated[str, Meta(min_length=1, max_length=120)]
Seq = Annotated[int, Meta(ge=1, le=2**31 - 1)]
Reason = Annotated[str, Meta(min_length=1, max_length=500)]


#: What the attempt use cases refuse with (their statuses: ``api.http.errors``).
ERRORS = (
    AttemptError,
    attempts.NotEligibleError,
    attempts.AttemptServiceError,
    attempts.AttemptNotFoundError,
    attempts.LearnerNotFoundError,
    attempts.BadAnswerError,
)


class StartRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    practice: bool = False


class SaveRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    item: ItemKey
    seq: Seq
    response: Any = None


#: A batch of saves: ``Body(max_items=…)``, which Litestar enforces on a list body.
Saves = Annotated[list[SaveRequest], Body(max_items=attempts.MAX_SAVES)]


class FlagsRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: Every item the learner has flagged for review now (the whole set).
    items: Annotated[list[ItemKey], Meta(max_length=attempts.MAX_SAVES)]


class SubmitRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: The browser's estimate of the server's clock when it sent the submit (for the
    #: network grace: a submit sent before the deadline and arriving just after counts).
    sent_ms: Annotated[int, Meta(ge=0)] | None = None


class ExtendRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    extra_s: Annotated[int, Meta(ge=1, le=24 * 3600)]
    reason: Reason


class GrantRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reason: Reason
    extra_attempts: Annotated[int, Meta(ge=0, le=20)] = 0
    #: Extra time for every later attempt of the exam (an individual allowance).
    extra_s: Annotated[int, Meta(ge=0, le=24 * 3600)] = 0


class ReasonRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reason: Reason


def _now(state: State) -> int:
    return int(state.clock.now_ms())


def _learner(request: Request[Any, Any, Any]) -> int:
    return principal_of(request).user_id


class LearnerAttemptsController(Controller):
    """A learner's exams and attempts."""

    path = "/api"
    tags = ["attempts"]
    guards = [requires_role("learner")]
    opt = {RAISES: ERRORS}

    @get("/me/exams", summary="My exams: may I start, attempts left, what is open",
         sync_to_thread=True)  # fmt: skip
    def my_exams(self, request: Request[Any, Any, Any], uow: Uow, state: State) -> attempts.MyExams:
        with uow() as db:
            return attempts.my_exams(db, learner_id=_learner(request), now=_now(state))

    @post("/exams/{key:str}/attempts", summary="Start an attempt (formal or practice)",
          sync_to_thread=True)  # fmt: skip
    def start(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        state: State,
        key: ExamKey,
        data: JSONBody[StartRequest],
    ) -> attempts.PaperView:
        """201 with the paper (no key) and the seconds left; 409 with the reason (and, in
        ``errors``, attempts used and left or the open attempt) when it may not start."""
        with uow() as db:
            settings: Settings = state.settings
            return attempts.start(
                db,
                learner_id=_learner(request),
                exam=key,
                practice=data.practice,
                device=device_of(request),
                now=_now(state),
                secret=settings.security.paper_secret.encode(),
            )

    @post("/attempts/{attempt_id:str}/resume", summary="Continue an attempt (this device takes it)",
          status_code=200, sync_to_thread=True)  # fmt: skip
    def resume(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, attempt_id: AttemptId
    ) -> attempts.PaperView:
        with uow() as db:
            return attempts.resume(
                db,
                learner_id=_learner(request),
                attempt_id=attempt_id,
                device=device_of(request),
                now=_now(state),
            )

    @get("/attempts/{attempt_id:str}/paper", summary="My paper (no key) and my saved answers",
         sync_to_thread=True)  # fmt: skip
    def paper(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, attempt_id: AttemptId
    ) -> attempts.PaperView:
        with uow() as db:
            return attempts.paper_view(
                db,
                learner_id=_learner(request),
                attempt_id=attempt_id,
                device=device_of(request),
                now=_now(state),
            )

    @post("/attempts/{attempt_id:str}/answers", summary="Save answers (a batch, idempotent)",
          status_code=200, sync_to_thread=True)  # fmt: skip
    def answers(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        state: State,
        attempt_id: AttemptId,
        data: Saves,
    ) -> attempts.SaveResult:
        """Each save is accepted, repeated (the same seq again) or stale (older than the
        item's newest saved change). 409 when the attempt is closed, past its deadline or
        held by another device; 422 naming the item for a response of the wrong shape."""
        with uow() as db:
            saves = [attempts.Save(item=s.item, seq=s.seq, response=s.response) for s in data]
            return attempts.save_answers(
                db,
                learner_id=_learner(request),
                attempt_id=attempt_id,
                saves=saves,
                device=device_of(request),
                now=_now(state),
            )

    @post("/attempts/{attempt_id:str}/heartbeat", summary="Seconds left (closes at the deadline)",
          status_code=200, sync_to_thread=True)  # fmt: skip
    def heartbeat(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, attempt_id: AttemptId
    ) -> attempts.Heartbeat:
        with uow() as db:
            return attempts.heartbeat(
                db,
                learner_id=_learner(request),
                attempt_id=attempt_id,
                device=device_of(request),
                now=_now(state),
            )

    @put("/attempts/{attempt_id:str}/flags", summary="The items I flagged for review",
         sync_to_thread=True)  # fmt: skip
    def flags(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        state: State,
        attempt_id: AttemptId,
        data: JSONBody[FlagsRequest],
    ) -> attempts.Flags:
        """Kept with the attempt, so another browser resuming it shows them. 409 when the
        attempt is closed or held by another device; 422 naming an item not on the paper."""
        with uow() as db:
            return attempts.set_flags(
                db,
                learner_id=_learner(request),
                attempt_id=attempt_id,
                items=data.items,
                device=device_of(request),
                now=_now(state),
            )

    @post("/attempts/{attempt_id:str}/submit", summary="Submit (idempotent): pass or fail at once",
          status_code=200, sync_to_thread=True)  # fmt: skip
    def submit(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        state: State,
        attempt_id: AttemptId,
        data: JSONBody[SubmitRequest | None] = None,
    ) -> attempts.ResultView:
        with uow() as db:
            settings: Settings = state.settings
            return attempts.submit(
                db,
                learner_id=_learner(request),
                attempt_id=attempt_id,
                sent_ms=data.sent_ms if data is not None else None,
                network_grace_ms=settings.exam.network_grace_s * 1000,
                now=_now(state),
            )

    @get("/attempts/{attempt_id:str}/result", summary="The result (the key once closed, if shown)",
         sync_to_thread=True)  # fmt: skip
    def result(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, attempt_id: AttemptId
    ) -> attempts.ResultView:
        with uow() as db:
            return attempts.result(
                db, learner_id=_learner(request), attempt_id=attempt_id, now=_now(state)
            )


class OperatorAttemptsController(Controller):
    """Proctors and operators: the live list, extensions, terminations, step logs;
    operators only: extra attempts and regrades. Every action records who and why."""

    path = "/api/operator"
    tags = ["operator"]
    guards = [requires_role("proctor", "operator")]
    opt = {RAISES: ERRORS}

    @get("/attempts", summary="Attempts live: seconds left, last save, events",
         sync_to_thread=True)  # fmt: skip
    def live(
        self,
        uow: Uow,
        state: State,
        open: FromQuery[bool] = True,
        exam: OptionalFilter = None,
    ) -> attempts.LiveList:
        with uow() as db:
            return attempts.live(db, now=_now(state), open_only=open, exam=exam)

    @post("/attempts/{attempt_id:str}/extend", summary="Give a running attempt more time",
          status_code=200, sync_to_thread=True)  # fmt: skip
    def extend(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        state: State,
        attempt_id: AttemptId,
        data: JSONBody[ExtendRequest],
    ) -> attempts.OperatorAttempt:
        with uow() as db:
            principal = principal_of(request)
            return attempts.extend(
                db,
                attempt_id=attempt_id,
                extra_ms=data.extra_s * 1000,
                by_id=principal.user_id,
                by=principal.login,
                reason=data.reason,
                now=_now(state),
            )

    @post("/learners/{login:str}/exams/{key:str}/grant",
          summary="Grant extra attempts (this study cycle) or extra time (later attempts)",
          guards=[requires_role("operator")], status_code=200, sync_to_thread=True)  # fmt: skip
    def grant(
        self,
        *,
        request: Request[Any, Any, Any],
        uow: Uow,
        state: State,
        login: LoginRef,
        key: ExamKey,
        data: JSONBody[GrantRequest],
    ) -> attempts.GrantOutcome:
        with uow() as db:
            return attempts.grant(
                db,
                login=login,
                exam=key,
                extra_attempts=data.extra_attempts,
                extra_time_ms=data.extra_s * 1000,
                by_id=principal_of(request).user_id,
                reason=data.reason,
                now=_now(state),
            )

    @post("/attempts/{attempt_id:str}/terminate", summary="End a running attempt (a fail)",
          status_code=200, sync_to_thread=True)  # fmt: skip
    def terminate(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        state: State,
        attempt_id: AttemptId,
        data: JSONBody[ReasonRequest],
    ) -> attempts.OperatorAttempt:
        with uow() as db:
            return attempts.terminate(
                db,
                attempt_id=attempt_id,
                by=principal_of(request).login,
                reason=data.reason,
                now=_now(state),
            )

    @get("/attempts/{attempt_id:str}/steps", summary="Every answer step and event of an attempt",
         sync_to_thread=True)  # fmt: skip
    def steps(self, uow: Uow, attempt_id: AttemptId) -> attempts.StepLog:
        with uow() as db:
            return attempts.step_log(db, attempt_id=attempt_id)

    @post("/attempts/{attempt_id:str}/regrade",
          summary="Grade the stored answers again against the newest published items",
          guards=[requires_role("operator")], status_code=200, sync_to_thread=True)  # fmt: skip
    def regrade(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        state: State,
        attempt_id: AttemptId,
        data: JSONBody[ReasonRequest],
    ) -> attempts.OperatorAttempt:
        with uow() as db:
            return attempts.regrade(
                db,
                attempt_id=attempt_id,
                by=principal_of(request).login,
                reason=data.reason,
                now=_now(state),
            )
