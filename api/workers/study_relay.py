"""Study requests reach the worker that holds the session (docs/decisions/0010).

Each API worker keeps its own live study sessions beside its own in-process challenge
scheduler (``api.services.study.LiveStudy``: the fast path, no shared state on a
heartbeat). A session's token names its worker. With several workers behind one port a
request lands on any of them, so ``StudyRelay`` sends it on when the session is held
elsewhere:

- every worker subscribes to its own Redis channel ``{prefix}:study:worker:{id}``;
- a request for another worker's session is published to that worker's channel with a
  request id and this worker's channel to reply to; the owner runs it on its event loop
  (the same ``LiveStudy`` call a local request makes) and publishes the reply, a
  success or the ``StudyError`` it raised;
- ``PUBLISH`` says how many listened: none for ``GONE_AFTER_S`` (a relay re-subscribes
  within about a second after a Redis blip) means the owner is gone (stopped, crashed,
  restarted under a new id), and the learner is told that the session ended
  (``session_ended``: start again; what was verified is stored, decision 0009); a
  reply that does not come within ``TIMEOUT_S`` (pub/sub delivers at most once, so a
  message can be lost while a connection drops) is ``study_unavailable`` (503, try
  again): the session may well be alive, and the page's next heartbeat finds it;
- a learner's current session is recorded under ``{prefix}:study:learner:{id}``, so a
  start on one worker takes over a session on another (no two chapters at once,
  across workers too): the old one is released and hands over its unstored credit;
- a Server-Sent Events stream opened on a worker that does not hold the session is fed
  by the owner, which forwards each challenge over the stream's worker channel;
- when a sign-in ends (sign-out, password or role change) the learner's session is
  revoked on the worker holding it (``revoke``, decision 0022): heartbeats and answers
  are authenticated without the login session, so its end must reach the study session.

Without Redis (the embedded default, one process) every session is local and the relay
calls ``LiveStudy`` directly.

The channels are *sharded* (``SSUBSCRIBE``/``SPUBLISH``, Redis 7; decision 0018), on one
server as on a Redis Cluster: a worker's channel lives on the master of its hash slot,
so a message goes to that one node instead of being broadcast over the whole cluster,
and ``SPUBLISH``'s count of listeners — what tells a gone owner from a live one — counts
every listener of the channel (a cluster's plain ``PUBLISH`` counts only the listeners
on the node it reached).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

import msgspec
from msgspec import Struct

from api.services import study
from api.store.redis_client import UNAVAILABLE, AsyncRedis, is_cluster, ready
from examengine import credit

logger = logging.getLogger("api.workers.study_relay")

#: How long a request waits for the worker that holds the session.
TIMEOUT_S = 3.0
#: How long nobody may listen on a worker's channel before it is taken to be gone (its
#: relay re-subscribes within about a second of losing Redis).
GONE_AFTER_S = 2.0
#: How long the learner → current session record lives (longer than any session idles).
LEARNER_TTL_MS = 24 * 3600 * 1000


class _Request(Struct, frozen=True, kw_only=True, tag="request"):
    id: str
    reply_to: str
    op: str
    token: str = ""
    learner: int = 0
    #: The asking sign-in's tag (``study.login_tag``); for ``revoke``, "" means any.
    login: str = ""
    now: int = 0
    position_ms: int = 0
    playing: bool = False
    seq: int = 0
    answer: str | None = None
    slot: int = 0
    serial: int = 0
    by_chapter: str = ""
    stream: str = ""


class _Reply(Struct, frozen=True, kw_only=True, tag="reply"):
    id: str
    body: msgspec.Raw = msgspec.Raw(b"null")
    code: str = ""
    message: str = ""
    message_zh: str = ""


class _Push(Struct, frozen=True, kw_only=True, tag="push"):
    """A challenge for a stream held by the receiving worker; ``None``: it ended."""

    stream: str
    challenge: study.ChallengeView | None


_Message = _Request | _Reply | _Push
_decode = msgspec.json.Decoder(_Message).decode
_encode = msgspec.json.Encoder().encode


def _text(value: object) -> str | None:
    """A Redis reply as text (the client does not decode)."""
    return value.decode() if isinstance(value, bytes) else None


def _unavailable() -> credit.StudyError:
    return credit.StudyError(
        "study_unavailable",
        "studying is briefly unavailable; your progress is kept, try again in a moment",
        "学习服务暂时不可用，学习进度已保存，请稍后重试",
    )


def _gone() -> credit.StudyError:
    return credit.StudyError(
        "session_ended",
        "this study session has ended (its server restarted); start again",
        "本次学习已结束（服务器已重启），请重新开始",
    )


#: Seconds ``stop`` waits for the listener to end (its reads last at most a second).
STOP_WAIT_S = 2.0


class StudyRelay:
    """See the module docstring. ``redis`` None: one process, everything local."""

    def __init__(
        self, live: study.LiveStudy, redis: AsyncRedis | None, *, prefix: str, secret: bytes
    ) -> None:
        self.live = live
        self.redis = redis
        self.prefix = prefix
        self._secret = secret
        self._listening = False
        self._stopping = False
        self._listener: asyncio.Task[None] | None = None
        self._waiting: dict[str, asyncio.Future[_Reply]] = {}
        self._streams: dict[str, asyncio.Queue[study.ChallengeView | None]] = {}
        self._forwards: dict[str, asyncio.Task[None]] = {}
        self._retries: set[asyncio.Task[bool]] = set()

    def login_of(self, session_id: str) -> str:
        """The login tag (``study.login_tag``) of the sign-in whose session id is
        ``session_id`` (the session cookie's value)."""
        return study.login_tag(session_id, self._secret)

    def channel(self, worker: str) -> str:
        return f"{self.prefix}:study:worker:{worker}"

    # -- lifecycle -----------------------------------------------------------------

    @property
    def listening(self) -> bool:
        """Subscribed to this worker's channel (relayed requests reach it)."""
        return self._listening

    async def start(self) -> None:
        """Listen in the background; while Redis is down, keep trying (the app starts
        anyway: /ready reports Redis)."""
        if self.redis is not None:
            self._listener = asyncio.get_running_loop().create_task(
                self._listen(self.redis), name="study-relay"
            )

    async def stop(self) -> None:
        """Stop listening: requests for this worker's sessions are refused from now on.

        The listener is asked to end (it looks after each read, at most a second) rather
        than cancelled mid-read: redis-py's cluster pub/sub can swallow a cancellation
        inside its read and then wait for ever, which held the shutdown. A listener that
        has not ended within ``STOP_WAIT_S`` is cancelled, and one that ignores even that
        is left behind (the process is stopping) with a warning — never a hung stop."""
        self._stopping = True
        if self._listener is not None:
            done, _ = await asyncio.wait({self._listener}, timeout=STOP_WAIT_S)
            if not done:
                self._listener.cancel()
                done, _ = await asyncio.wait({self._listener}, timeout=STOP_WAIT_S)
            if not done:
                logger.warning("study relay: the listener did not stop; left behind")
        for task in [*self._forwards.values(), *self._retries]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._listener = None
        self._forwards.clear()

    # -- requests ------------------------------------------------------------------

    async def begin(self, info: study.StartInfo, *, now: int, login: str) -> study.StudyStatus:
        """Begin here for the sign-in ``login``, taking over the learner's session on any
        worker."""
        if self.redis is None:
            return self.live.begin(info, now=now, login=login)
        key = f"{self.prefix}:study:learner:{info.learner}"
        try:
            current = _text(await self.redis.get(key))
        except UNAVAILABLE:
            # without Redis another worker's session could not be taken over
            raise _unavailable() from None
        carried = await self._release(current, info, now)
        status = self.live.begin(info, now=now, login=login, carried=carried)
        worker, slot, serial, _ = study.open_token(status.token, self._secret)
        mine = f"{worker}.{slot}.{serial}"
        with contextlib.suppress(*UNAVAILABLE):  # then the next start reads `current`
            previous = _text(await self.redis.set(key, mine, px=LEARNER_TTL_MS, get=True))
            if previous not in (None, current, mine):
                await self._release(previous, info, now)  # began elsewhere meanwhile: ours wins
        return status

    async def heartbeat(
        self, token: str, *, login: str, position_ms: int, playing: bool, now: int
    ) -> study.StudyStatus:
        owner = self._owner(token)
        if owner == self.live.worker:
            return self.live.heartbeat(
                token, login=login, position_ms=position_ms, playing=playing, now=now
            )
        reply = await self._call(
            owner, op="heartbeat", token=token, login=login, now=now,
            position_ms=position_ms, playing=playing,
        )  # fmt: skip
        return msgspec.json.decode(reply.body, type=study.StudyStatus)

    async def ack(
        self, token: str, *, login: str, seq: int, answer: str | None, now: int
    ) -> study.AckResult:
        owner = self._owner(token)
        if owner == self.live.worker:
            return self.live.ack(token, login=login, seq=seq, answer=answer, now=now)
        reply = await self._call(
            owner, op="ack", token=token, login=login, seq=seq, answer=answer, now=now
        )
        return msgspec.json.decode(reply.body, type=study.AckResult)

    async def revoke(self, learner: int, *, login: str | None, now: int) -> None:
        """The sign-in ``login`` ended (None: every sign-in of the account): end the
        learner's study session it began, on whichever worker holds it, at once. With
        Redis unreachable, a session on another worker is not reached: it ends when its
        page stops (idle) — said in the log."""
        if self.live.revoke(learner, login=login, now=now) or self.redis is None:
            return
        try:
            ref = _text(await self.redis.get(f"{self.prefix}:study:learner:{learner}"))
        except UNAVAILABLE:
            logger.warning(
                "study relay: Redis unreachable; learner %s's session not revoked", learner
            )
            return
        worker = ref.split(".", 1)[0] if ref else ""
        if not worker or worker == self.live.worker:
            return
        try:
            await self._call(worker, op="revoke", learner=learner, login=login or "", now=now)
        except credit.StudyError as error:  # gone (its sessions with it) or unreachable
            if error.code != "session_ended":
                logger.warning(
                    "study relay: learner %s's session not revoked: %s", learner, error.code
                )

    async def subscribe(
        self, token: str, *, login: str
    ) -> tuple[asyncio.Queue[study.ChallengeView | None], str]:
        """A queue of the session's challenges (None: it ended) and a handle for
        ``unsubscribe``; fed by the owner when that is another worker."""
        owner = self._owner(token)
        if owner == self.live.worker:
            return self.live.subscribe(token, login=login), ""
        stream = secrets.token_hex(8)
        queue: asyncio.Queue[study.ChallengeView | None] = asyncio.Queue()
        self._streams[stream] = queue
        try:
            await self._call(owner, op="subscribe", token=token, login=login, stream=stream)
        except BaseException:
            del self._streams[stream]
            raise
        return queue, f"{owner}.{stream}"

    async def unsubscribe(
        self, token: str, queue: asyncio.Queue[study.ChallengeView | None], handle: str
    ) -> None:
        if not handle:
            self.live.unsubscribe(token, queue)
            return
        owner, stream = handle.split(".", 1)
        self._streams.pop(stream, None)
        if self.redis is not None:
            request = _Request(id="", reply_to="", op="unsubscribe", stream=stream, token=token)
            with contextlib.suppress(*UNAVAILABLE):  # the session's end stops it too
                await self.redis.spublish(self.channel(owner), _encode(request))

    # -- internals -----------------------------------------------------------------

    def _owner(self, token: str) -> str:
        """The worker a token names; only ours without Redis. A token for this worker is
        verified once, by ``LiveStudy``; one for another worker here, before it is sent
        on (a forged name never reaches Redis)."""
        worker = token.split(".", 1)[0]
        if self.redis is None or worker == self.live.worker:
            return self.live.worker
        return study.open_token(token, self._secret)[0]

    async def _release(
        self, ref: str | None, info: study.StartInfo, now: int
    ) -> study.Carry | None:
        """End the session ``ref`` ("worker.slot.serial") names if another worker holds
        it (ours are taken over by ``LiveStudy.begin``); what it hands over."""
        if not ref:
            return None
        worker, slot, serial = ref.split(".")
        if worker == self.live.worker:
            return None
        try:
            reply = await self._call(
                worker, op="release", slot=int(slot), serial=int(serial),
                by_chapter=info.chapter.key, now=now,
            )  # fmt: skip
        except credit.StudyError:  # that worker is gone: nothing to hand over
            return None
        return msgspec.json.decode(reply.body, type=study.Carry | None)

    async def _call(self, worker: str, **fields: Any) -> _Reply:
        assert self.redis is not None
        request = _Request(
            id=secrets.token_hex(8), reply_to=self.channel(self.live.worker), **fields
        )
        loop = asyncio.get_running_loop()
        give_up = loop.time() + GONE_AFTER_S
        while not self._listening:  # the reply comes on our channel: be there for it
            if loop.time() >= give_up:
                raise _unavailable()
            await asyncio.sleep(0.05)
        future: asyncio.Future[_Reply] = loop.create_future()
        self._waiting[request.id] = future
        try:
            if not await self._publish(self.channel(worker), _encode(request)):
                raise _gone()
            reply = await asyncio.wait_for(future, TIMEOUT_S)
        except TimeoutError:
            # someone listens there but no reply came (pub/sub delivers at most once: a
            # message can be lost as a connection drops); the session may well be alive
            raise _unavailable() from None
        except UNAVAILABLE:  # Redis itself is away
            raise _unavailable() from None
        finally:
            self._waiting.pop(request.id, None)
        if reply.code:
            raise credit.StudyError(reply.code, reply.message, reply.message_zh)
        return reply

    async def _publish(self, channel: str, message: bytes) -> bool:
        """Publish on ``channel``; while nobody listens there, try again for a moment (a
        relay re-subscribes at once after a Redis blip). False: nobody came."""
        assert self.redis is not None
        loop = asyncio.get_running_loop()
        give_up = loop.time() + GONE_AFTER_S
        while not await self.redis.spublish(channel, message):
            if loop.time() >= give_up:
                return False
            await asyncio.sleep(0.05)
        return True

    async def _listen(self, redis: AsyncRedis) -> None:
        """Subscribe and hand each message on; after a lost connection, subscribe again
        (at once, then backing off to once a second while Redis stays away)."""
        delay = 0.05
        cluster = is_cluster(redis)
        while not self._stopping:
            pubsub: Any = redis.pubsub()
            # a cluster's pub/sub keeps a connection per node and reads shard channels
            # with get_sharded_message; one server's delivers them to get_message
            receive = pubsub.get_sharded_message if cluster else pubsub.get_message
            try:
                await ready(redis)
                await pubsub.ssubscribe(self.channel(self.live.worker))
                self._listening = True
                delay = 0.05
                while not self._stopping:
                    message = await receive(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        await self._handle(message["data"])
            except UNAVAILABLE as error:
                logger.warning("study relay: Redis unavailable (%s); retrying", error)
                await asyncio.sleep(delay)
                delay = min(2 * delay, 1.0)
            finally:
                self._listening = False
                with contextlib.suppress(*UNAVAILABLE, TimeoutError):
                    await asyncio.wait_for(pubsub.aclose(), STOP_WAIT_S)

    async def _handle(self, data: bytes) -> None:
        try:
            await self._dispatch(_decode(data))
        except UNAVAILABLE:
            raise
        except Exception:  # one bad message must not stop the relay
            logger.exception("study relay: a message could not be handled")

    async def _dispatch(self, message: _Message) -> None:
        if isinstance(message, _Reply):
            future = self._waiting.get(message.id)
            if future is not None and not future.done():
                future.set_result(message)
        elif isinstance(message, _Push):
            queue = self._streams.get(message.stream)
            if queue is not None:
                queue.put_nowait(message.challenge)
        elif message.op == "unsubscribe":
            task = self._forwards.pop(message.stream, None)
            if task is not None:
                task.cancel()
        else:
            await self._serve(message)

    async def _serve(self, request: _Request) -> None:
        """Run a request for one of our sessions and publish the reply."""
        assert self.redis is not None
        live = self.live
        try:
            body: Any
            if request.op == "heartbeat":
                body = live.heartbeat(
                    request.token, login=request.login, position_ms=request.position_ms,
                    playing=request.playing, now=request.now,
                )  # fmt: skip
            elif request.op == "ack":
                body = live.ack(
                    request.token, login=request.login, seq=request.seq,
                    answer=request.answer, now=request.now,
                )  # fmt: skip
            elif request.op == "revoke":
                body = live.revoke(request.learner, login=request.login or None, now=request.now)
            elif request.op == "release":
                body = live.release(
                    request.slot, request.serial, by_chapter=request.by_chapter, now=request.now
                )
            elif request.op == "subscribe":
                queue = live.subscribe(request.token, login=request.login)
                self._forwards[request.stream] = asyncio.get_running_loop().create_task(
                    self._forward(request, queue)
                )
                body = None
            else:
                raise ValueError(f"unknown study relay request {request.op!r}")
            reply = _Reply(id=request.id, body=msgspec.Raw(_encode(body)))
        except credit.StudyError as error:
            reply = _Reply(
                id=request.id, code=error.code, message=error.message,
                message_zh=error.message_zh,
            )  # fmt: skip
        data = _encode(reply)
        if not await self.redis.spublish(request.reply_to, data):
            # the asker is re-subscribing (a Redis blip): keep trying beside the listener
            task = asyncio.get_running_loop().create_task(self._publish(request.reply_to, data))
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)

    async def _forward(
        self, request: _Request, queue: asyncio.Queue[study.ChallengeView | None]
    ) -> None:
        """Feed a stream held by another worker until the session ends or it leaves."""
        assert self.redis is not None
        try:
            while True:
                challenge = await queue.get()
                push = _Push(stream=request.stream, challenge=challenge)
                await self.redis.spublish(request.reply_to, _encode(push))
                if challenge is None:
                    return
        finally:
            self.live.unsubscribe(request.token, queue)
            self._forwards.pop(request.stream, None)
