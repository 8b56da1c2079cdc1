"""The study API: my plans and their progress, start a chapter, heartbeats, challenge
answers, and a Server-Sent Events stream that pushes a challenge the moment it is issued.

Thin handlers. ``/api/me/plans`` and ``start`` read the database (on a thread); the
hot ones — ``heartbeat`` and ``ack`` — run on the event loop against the live sessions
(``app.state.study``, an ``api.services.study.LiveStudy``, reached through
``api.workers.study_relay.StudyRelay``, which sends a request on to the worker holding the
session): no database write, no numpy beyond O(1) reads, an ack is a list append. The
study ticker (api/study_ticker.py) applies the answers and persists in batches. A session
is named by a signed token carrying its worker and scheduler slot, returned by ``start``
and by every reply.

The hot ones are authenticated by the token and the sign-in's cookie, without reading
the login session (decision 0022): the token is signed and names the learner; the
session was bound at ``start`` to the sign-in that began it (a tag of the session
cookie's value), and a heartbeat or an ack must come with that same cookie. When the
sign-in ends (sign-out; a password or role change ends every sign-in of the account)
its study session is ended at once (``StudyRelay.revoke``), so the token dies with it.
They pass no session store, no CSRF token check (no form can send them, and no other
site knows the token) and no per-request metrics middleware: ``HOT_PATHS`` says which,
and ``api.app`` leaves them out of those layers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Controller, Request, WebSocket, get, post, websocket
from litestar.datastructures import State
from litestar.exceptions import WebSocketDisconnect
from litestar.params import JSONBody
from litestar.response import ServerSentEvent, ServerSentEventMessage
from msgspec import Meta, Struct
from prometheus_client import Counter, Histogram

from api.http.auth import SESSION_COOKIE, principal_of, requires_role
from api.http.csrf import CrossSiteRequest, same_site
from api.http.errors import RAISES, ApiError, NotAuthenticated
from api.http.params import ChapterKey, PlanKey, StudyToken
from api.http.schema import replying_in
from api.services import study
from api.store.db import Uow
from api.workers.study_relay import StudyRelay
from examengine.credit import StudyError

#: How soon a browser reconnects its event stream when the server closed it to restart.
RECONNECT_MS = 2000
#: The requests authenticated by their study token and the sign-in's cookie alone (no
#: session store read): their paths, and as regexes for the layers that leave them out.
HOT_ROUTES = ("/api/study/heartbeat", "/api/study/ack")
HOT_PATHS = [f"^{route}$" for route in HOT_ROUTES]

T = TypeVar("T")

# The hot path's own metrics, in place of the per-request middleware's: a count by
# outcome and a latency histogram, their label sets bound once (a few µs a request less).
HOT_REQUESTS = Counter(
    "examengine_study_requests_total",
    "Study heartbeats and challenge answers, by outcome: ok, or the refusal's code",
    ["op", "outcome"],
)
HOT_SECONDS = Histogram(
    "examengine_study_request_seconds",
    "Time to answer a study heartbeat or challenge answer (relayed ones included)",
    ["op"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


class _HotMeter:
    """One hot route's metrics around its calls."""

    def __init__(self, op: str) -> None:
        self.op = op
        self._ok = HOT_REQUESTS.labels(op, "ok")
        self._seconds = HOT_SECONDS.labels(op)

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``, counted as served or refused (by code), and timed."""
        started = time.perf_counter()
        try:
            result = await call()
        except (StudyError, NotAuthenticated) as refusal:
            HOT_REQUESTS.labels(self.op, refusal.code).inc()
            self._seconds.observe(time.perf_counter() - started)
            raise
        self._ok.inc()
        self._seconds.observe(time.perf_counter() - started)
        return result


_BEAT, _ACK = _HotMeter("heartbeat"), _HotMeter("ack")


async def _heartbeat(
    relay: StudyRelay, token: str, login: Callable[[], str], *, position_ms: int,
    playing: bool, now: int,
) -> study.StudyStatus:  # fmt: skip
    """A heartbeat, by HTTP or over the socket, counted and timed (a refusal of the
    sign-in, ``login()``, too)."""
    return await _BEAT.run(lambda: relay.heartbeat(
        token, login=login(), position_ms=position_ms, playing=playing, now=now
    ))  # fmt: skip


async def _ack(
    relay: StudyRelay, token: str, login: Callable[[], str], *, seq: int, answer: str | None,
    now: int,
) -> study.AckResult:  # fmt: skip
    """An answer, by HTTP or over the socket, counted and timed."""
    return await _ACK.run(lambda: relay.ack(token, login=login(), seq=seq, answer=answer, now=now))


Token = Annotated[str, Meta(min_length=1, max_length=200)]
Position = Annotated[int, Meta(ge=0, le=24 * 3600 * 1000)]


class HeartbeatRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    token: Token
    position_ms: Position
    playing: bool


class AckRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    token: Token
    seq: Annotated[int, Meta(ge=1, le=2**31 - 1)]
    #: The chosen option's id (a question) or ``continue`` (a prompt).
    answer: Annotated[str, Meta(max_length=120)] | None = None


def _now(state: State) -> int:
    return int(state.clock.now_ms())


def _learner(request: Request[Any, Any, Any]) -> int:
    return principal_of(request).user_id


def _relay(state: State) -> StudyRelay:
    relay: StudyRelay = state.study_relay
    return relay


def login_of(request: Request[Any, Any, Any], relay: StudyRelay) -> str:
    """The login tag of the request's sign-in (its session cookie); 401 without one."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id or session_id == "null":
        raise NotAuthenticated
    return relay.login_of(session_id)


class StudyController(Controller):
    """A learner's plans and study sessions."""

    path = "/api"
    tags = ["study"]
    guards = [requires_role("learner")]
    opt = {RAISES: (StudyError,)}

    @get("/me/plans", summary="My plans: credit required, credit earned, completion %",
         sync_to_thread=True)  # fmt: skip
    def my_plans(self, request: Request[Any, Any, Any], uow: Uow, state: State) -> study.MyPlans:
        with uow() as db:
            return study.my_plans(db, learner_id=_learner(request), now=_now(state))

    @post("/me/plans/{plan:str}", summary="Enroll myself in a plan (and its exam)",
          status_code=200, sync_to_thread=True)  # fmt: skip
    def enroll(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, plan: PlanKey
    ) -> study.MyPlans:
        """Idempotent: enrolled already is fine. 404 ``plan_not_found`` for an unknown
        plan; 402 ``purchase_required`` for a priced plan (buy it: ``POST
        /api/me/orders``). My plans as they now are."""
        with uow() as db:
            learner, now = _learner(request), _now(state)
            study.enroll_free(db, learner_id=learner, plan=plan, now=now)
            return study.my_plans(db, learner_id=learner, now=now)

    @post("/me/plans/{plan:str}/restudy", summary="Open a new study cycle after the exam locked",
          status_code=200, sync_to_thread=True)  # fmt: skip
    def restudy(
        self, request: Request[Any, Any, Any], uow: Uow, state: State, plan: PlanKey
    ) -> study.PlanEntry:
        with uow() as db:
            return study.restudy(db, learner_id=_learner(request), plan=plan, now=_now(state))

    @post("/study/{chapter:str}/start", summary="Start (or resume) a chapter: a session token",
          status_code=200)  # fmt: skip
    async def start(
        self,
        request: Request[Any, Any, Any],
        uow: Uow,
        state: State,
        chapter: ChapterKey,
    ) -> study.StudyStatus:
        """Takes over the learner's other session, if any (another chapter or tab)."""
        learner = _learner(request)
        info = await uow.run(
            lambda db: study.prepare_start(db, learner_id=learner, chapter=chapter)
        )
        relay = _relay(state)
        return await relay.begin(info, now=_now(state), login=login_of(request, relay))

    @get("/study/events", summary="Server-Sent Events: each challenge the moment it is issued",
         operation_class=replying_in("text/event-stream"))  # fmt: skip
    async def events(
        self, request: Request[Any, Any, Any], state: State, token: StudyToken
    ) -> ServerSentEvent:
        """``event: challenge`` with the challenge as JSON data; ``event: ended`` when
        the session ends (taken over or idle), then the stream closes. When the server
        is shutting down the stream closes at once without ``ended``, and the browser's
        EventSource reconnects after ``retry`` ms (to a worker still serving)."""
        relay = _relay(state)
        queue, handle = await relay.subscribe(token, login=login_of(request, relay))
        draining: asyncio.Event = state.draining

        async def stream() -> AsyncGenerator[ServerSentEventMessage, None]:
            stop = asyncio.ensure_future(draining.wait())
            try:
                while True:
                    get = asyncio.ensure_future(queue.get())
                    await asyncio.wait((get, stop), return_when=asyncio.FIRST_COMPLETED)
                    if not get.done():
                        get.cancel()
                        yield ServerSentEventMessage(comment="restarting", retry=RECONNECT_MS)
                        return
                    if (challenge := get.result()) is None:
                        break
                    yield ServerSentEventMessage(
                        event="challenge", data=msgspec.json.encode(challenge).decode()
                    )
                yield ServerSentEventMessage(event="ended", data="{}")
            finally:
                stop.cancel()
                await relay.unsubscribe(token, queue, handle)

        return ServerSentEvent(stream())


# --------------------------------------------------------------- the study socket

#: The longest message a study socket takes (a heartbeat or an answer is under 100 bytes).
MAX_SOCKET_MESSAGE = 1024
#: Close codes (the 4000s are the application's): the page falls back to HTTP on any
#: other close, and starts the chapter again on these.
CLOSE_ENDED, CLOSE_NOT_SIGNED_IN, CLOSE_REFUSED, CLOSE_RESTARTING = 4000, 4401, 4403, 1012


class SocketBeat(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True,
                 tag_field="op", tag="beat"):  # fmt: skip
    position_ms: Position
    playing: bool


class SocketAck(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True,
                tag_field="op", tag="ack"):  # fmt: skip
    seq: Annotated[int, Meta(ge=1, le=2**31 - 1)]
    answer: Annotated[str, Meta(max_length=120)] | None = None


_SOCKET_DECODER = msgspec.json.Decoder(SocketBeat | SocketAck)
_ENCODE = msgspec.json.Encoder().encode


def _frame(op: str, body: object = None) -> bytes:
    """One message to the page: ``{"op": …, "body": …}``."""
    return b'{"op":"' + op.encode() + b'","body":' + _ENCODE(body) + b"}"


def _refusal(code: str, detail: str, detail_zh: str) -> bytes:
    return _frame("error", {"code": code, "detail": detail, "detail_zh": detail_zh})


class _StudySocket:
    """One learner's study socket: heartbeats and answers in, replies and pushed
    challenges out, in order, over one connection (decision 0022)."""

    def __init__(self, socket: WebSocket[Any, Any, Any], relay: StudyRelay, token: str) -> None:
        self.socket = socket
        self.relay = relay
        self.token = token
        self.state = socket.app.state
        self.login = ""

    def _login(self) -> str:
        """The tag of the sign-in the socket was opened under (checked at the handshake)."""
        return self.login

    async def _send(self, frame: bytes) -> None:
        """A text frame (a browser hands a binary one to the page as a Blob)."""
        await self.socket.send_data(frame, mode="text")

    async def refuse_with(self, error: ApiError, close: int) -> None:
        await self.refuse(error.code, error.detail, error.detail_zh, close)

    async def refuse(self, code: str, detail: str, detail_zh: str, close: int) -> None:
        await self._send(_refusal(code, detail, detail_zh))
        await self.socket.close(code=close, reason=code)

    async def run(self) -> None:
        socket = self.socket
        await socket.accept()
        if not same_site(socket.headers, origins=self.state.origins):
            await self.refuse_with(CrossSiteRequest(), CLOSE_REFUSED)
            return
        session_id = socket.cookies.get(SESSION_COOKIE)
        if not session_id or session_id == "null":
            await self.refuse_with(NotAuthenticated(), CLOSE_NOT_SIGNED_IN)
            return
        self.login = self.relay.login_of(session_id)
        try:
            queue, handle = await self.relay.subscribe(self.token, login=self.login)
        except StudyError as error:
            await self.refuse(error.code, error.message, error.message_zh, _close_for(error.code))
            return
        try:
            await self._serve(queue)
        except (WebSocketDisconnect, OSError):
            return  # the page went away between a message and its reply (or a push)
        finally:
            await self.relay.unsubscribe(self.token, queue, handle)

    async def _serve(self, queue: asyncio.Queue[study.ChallengeView | None]) -> None:
        draining: asyncio.Event = self.state.draining
        stop = asyncio.ensure_future(draining.wait())
        received = asyncio.ensure_future(self.socket.receive_data("text"))
        pushed = asyncio.ensure_future(queue.get())
        try:
            while True:
                await asyncio.wait((received, pushed, stop), return_when=asyncio.FIRST_COMPLETED)
                if stop.done():
                    await self.socket.close(code=CLOSE_RESTARTING, reason="restarting")
                    return
                if pushed.done():
                    challenge = pushed.result()
                    if challenge is None:
                        await self._send(_frame("ended"))
                        await self.socket.close(code=CLOSE_ENDED, reason="session_ended")
                        return
                    await self._send(_frame("challenge", challenge))
                    pushed = asyncio.ensure_future(queue.get())
                if received.done():
                    try:
                        text = received.result()
                    except WebSocketDisconnect:
                        return
                    if not await self._answer(text):
                        return
                    received = asyncio.ensure_future(self.socket.receive_data("text"))
        finally:
            for task in (received, pushed, stop):
                task.cancel()

    async def _answer(self, text: str | bytes) -> bool:
        """Answer one message; False when the session is over (the socket closed)."""
        if len(text) > MAX_SOCKET_MESSAGE:
            await self._send(_refusal(
                "message_too_long", f"a message is at most {MAX_SOCKET_MESSAGE} bytes",
                f"每条消息最多 {MAX_SOCKET_MESSAGE} 字节",
            ))  # fmt: skip
            return True
        try:
            message = _SOCKET_DECODER.decode(text)
        except msgspec.DecodeError as error:
            await self._send(_refusal(
                "bad_message", f"the message is not a heartbeat or an answer: {error}",
                f"消息不是心跳或回答：{error}",
            ))  # fmt: skip
            return True
        relay, now = self.relay, _now(self.state)
        try:
            if isinstance(message, SocketBeat):
                status = await _heartbeat(relay, self.token, self._login,
                                          position_ms=message.position_ms,
                                          playing=message.playing, now=now)  # fmt: skip
                await self._send(_frame("status", status))
            else:
                acked = await _ack(relay, self.token, self._login, seq=message.seq,
                                   answer=message.answer, now=now)  # fmt: skip
                await self._send(_frame("ack", acked))
        except StudyError as error:
            code = _close_for(error.code)
            await self._send(_refusal(error.code, error.message, error.message_zh))
            if code != 0:
                await self.socket.close(code=code, reason=error.code)
                return False
        return True


def _close_for(code: str) -> int:
    """The close code a study refusal ends the socket with (0: the socket stays)."""
    if code in ("session_ended", "bad_token", "not_your_session"):
        return CLOSE_ENDED
    if code in ("study_unavailable", "study_full"):
        return CLOSE_RESTARTING  # the page falls back to HTTP, which retries
    return 0


class StudyHotController(Controller):
    """The study hot path: heartbeats and challenge answers, authenticated by the study
    token and the sign-in's cookie (see the module docstring), no session read."""

    path = "/api/study"
    tags = ["study"]
    opt = {RAISES: (StudyError, NotAuthenticated)}

    @post("/heartbeat", summary="Where the player is: credit so far, a due challenge",
          status_code=200)  # fmt: skip
    async def heartbeat(
        self, request: Request[Any, Any, Any], data: JSONBody[HeartbeatRequest]
    ) -> study.StudyStatus:
        state = request.app.state
        relay = _relay(state)
        return await _heartbeat(
            relay, data.token, lambda: login_of(request, relay),
            position_ms=data.position_ms, playing=data.playing, now=_now(state),
        )  # fmt: skip

    @websocket("/socket")
    async def socket(self, socket: WebSocket[Any, Any, Any], token: StudyToken) -> None:
        """Heartbeats and answers over one WebSocket, the challenges pushed down it
        (``{"op": "beat", "position_ms", "playing"}`` and ``{"op": "ack", "seq",
        "answer"}`` in; ``{"op": "status" | "ack" | "challenge" | "ended" | "error",
        "body"}`` out, replies in order). Authenticated once, at the handshake, as the
        heartbeat is; the page falls back to HTTP and the event stream when it cannot
        open one."""
        await _StudySocket(socket, _relay(socket.app.state), token).run()

    @post("/ack", summary="Answer the due challenge (applied at the next tick)",
          status_code=200)  # fmt: skip
    async def ack(
        self, request: Request[Any, Any, Any], data: JSONBody[AckRequest]
    ) -> study.AckResult:
        state = request.app.state
        relay = _relay(state)
        return await _ack(
            relay, data.token, lambda: login_of(request, relay),
            seq=data.seq, answer=data.answer, now=_now(state),
        )  # fmt: skip
