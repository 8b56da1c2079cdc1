"""``LiveStudy``, the live state of every open study session, kept in memory beside the
challenge scheduler (the slot is the key): begin, heartbeat and ack run on the event
loop without a database write and without touching numpy beyond O(1) reads (acks are
list appends); ``tick`` applies the scheduler's issues, passes and misses to the core's
rules (``examengine.credit``) and returns the batch to persist.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Iterable, Sequence

import numpy as np

from api.services.study._shared import _error
from api.services.study.pool import Schedulers, _Pool
from api.services.study.token import _make_token, _slot_of, open_token
from api.services.study.wire import (
    AckResult,
    Batch,
    Carry,
    ChallengeOptionView,
    ChallengeView,
    Grant,
    StartInfo,
    StoredEvent,
    StudyStatus,
    TickOutcome,
)
from examengine import credit
from examengine.challenges import ChallengeKind, ChallengePolicy, SchedulerFull

#: The browser sends a heartbeat this often while a chapter plays (it is told so).
HEARTBEAT_S = 15
#: A session with no heartbeat for this long ends (its slot is freed) at the next flush.
IDLE_END_MS = 10 * 60 * 1000


# --------------------------------------------------------------- live sessions


class _Live:
    """One open study session (mutable; lives in ``LiveStudy._live`` under its slot)."""

    __slots__ = (
        "challenge", "chapter_id", "closing_slot", "dirty", "info", "key", "login", "pool",
        "serial", "session", "slot", "streams", "token",
    )  # fmt: skip

    def __init__(
        self,
        pool: _Pool,
        slot: int,
        serial: int,
        info: StartInfo,
        session: credit.StudySession,
        *,
        login: str,
    ):
        self.pool = pool
        #: The tag of the sign-in that began it (``token.login_tag``): only that sign-in
        #: may heartbeat, answer or follow it, and its end ends the session.
        self.login = login
        self.token = ""  # its signed token, made once (LiveStudy.begin)
        #: This process's slot number: the pool's base plus the pool scheduler's slot.
        self.slot = slot
        self.serial = serial
        self.info = info
        self.chapter_id = info.chapter_id
        self.session = session
        self.challenge: ChallengeView | None = None
        self.key: frozenset[str] = frozenset()
        self.closing_slot = -1
        self.dirty = False
        self.streams: list[asyncio.Queue[ChallengeView | None]] = []


class LiveStudy:
    """The live study sessions of this process, beside its challenge schedulers.

    One pool of schedulers per challenge policy in use (the service's ``default`` and
    any plan's own), made on first use by ``schedulers``; a session's slot (in its
    signed token, checked against the scheduler's owner array) names its pool.
    Request handlers call ``begin``, ``heartbeat``, ``ack`` and ``subscribe`` on the
    event loop; the ticker calls ``tick`` and ``flush`` on the same loop, so no lock is
    needed.

    Who may act on a session: the bearer of its token (signed: it names the learner)
    who is signed in under the same sign-in that began it — every call but ``begin``
    takes that sign-in's ``login`` tag (``token.login_tag`` of the session cookie), so
    the hot path needs no session-store read (decision 0022). ``revoke`` ends a
    learner's session when the sign-in ends.
    """

    def __init__(
        self,
        schedulers: Schedulers,
        *,
        default: ChallengePolicy,
        secret: bytes,
        rules: credit.StudyRules | None = None,
        worker: str = "w",
    ) -> None:
        if not worker.isalnum():
            raise ValueError("a worker id is letters and digits")
        #: This process's name in its tokens (api/study_relay.py routes by it).
        self.worker = worker
        self.default = default
        self.rules = rules or credit.StudyRules()
        self._schedulers = schedulers
        self._pools: list[_Pool] = []
        self._pool_of: dict[ChallengePolicy, _Pool] = {}
        self._secret = secret
        self._live: dict[int, _Live] = {}
        self._by_learner: dict[int, int] = {}
        self._by_closing: dict[int, int] = {}
        self._serial = 0
        self._closing_wanted: list[int] = []
        self._events: list[StoredEvent] = []
        self._grants: list[Grant] = []

    @property
    def open_sessions(self) -> int:
        return len(self._live)

    # -- requests ----------------------------------------------------------------

    def begin(
        self, info: StartInfo, *, now: int, login: str = "", carried: Carry | None = None
    ) -> StudyStatus:
        """A new session for ``info``, begun by the sign-in ``login`` (the learner's other
        session here, if any, is taken over; ``carried`` is what one in another worker
        handed over). ``StudyError study_full`` when the scheduler has no free slot."""
        old_slot = self._by_learner.get(info.learner)
        if old_slot is not None:
            carried = self._end(self._live[old_slot], by_chapter=info.chapter.key, now=now)
        credited = info.credited_ms
        position = info.position_ms
        if carried and (carried.chapter, carried.cycle) == (info.chapter.key, info.cycle):
            credited = max(credited, carried.credited_ms)
            position = carried.position_ms
        pool = self._pool(info.policy or self.default)
        owners = np.array([info.learner], dtype=np.int64)
        try:
            slots = pool.scheduler.allocate(1, owners)
        except SchedulerFull:
            raise _error("study_full", "too many learners are studying; try again shortly",
                         "当前学习人数过多，请稍后再试") from None  # fmt: skip
        session, events = credit.begin(
            learner=info.learner,
            chapter=info.chapter,
            cycle=info.cycle,
            credited_ms=credited,
            position_ms=position,
            now=now,
        )
        self._serial += 1
        live = _Live(pool, pool.base + int(slots[0]), self._serial, info, session, login=login)
        live.token = _make_token(self.worker, live.slot, live.serial, info.learner, self._secret)
        self._live[live.slot] = live
        self._by_learner[info.learner] = live.slot
        self._record(live, events)
        if session.state is credit.SessionState.ACTIVE:
            pool.scheduler.arm(slots, now=now)
        return self._status(live, now)

    def heartbeat(
        self, token: str, *, login: str, position_ms: int, playing: bool, now: int
    ) -> StudyStatus:
        """Accrue what the core allows; no database write. The reply carries the due
        challenge, if any."""
        live = self._resolve(token, login)
        session, events = credit.heartbeat(
            live.session, position_ms=position_ms, playing=playing, now=now, rules=self.rules
        )
        live.session = session
        live.dirty = True
        if events:
            self._record(live, events)
        if session.state is credit.SessionState.CLOSING and live.closing_slot < 0:
            self._closing_wanted.append(live.slot)
        return self._status(live, now)

    def ack(self, token: str, *, login: str, seq: int, answer: str | None, now: int) -> AckResult:
        """Queue the answer to the due challenge (a list append); the tick applies it.
        ``StudyError wrong_answer`` (the learner may try again within the window) or
        ``no_challenge`` (nothing with this number is waiting)."""
        live = self._resolve(token, login)
        challenge = live.challenge
        if challenge is None or challenge.seq != seq:
            raise _error("no_challenge", f"no challenge {seq} is waiting for an answer",
                         f"没有待回答的第 {seq} 个验证问题")  # fmt: skip
        if live.key and answer not in live.key:
            raise _error("wrong_answer", "that is not the right answer; try again",
                         "回答不正确，请重试")  # fmt: skip
        pool = live.pool
        if challenge.closing:
            pool.closing.ack(live.closing_slot - pool.base, seq, now)
        else:
            pool.scheduler.ack(live.slot - pool.base, seq, now)
        return AckResult(seq=seq, queued=True, server_ms=now)

    def status(self, token: str, *, login: str, now: int) -> StudyStatus:
        return self._status(self._resolve(token, login), now)

    def release(self, slot: int, serial: int, *, by_chapter: str, now: int) -> Carry | None:
        """End exactly the session ``slot``/``serial`` names, if it is still open here
        (the learner began another one elsewhere); what it hands over."""
        live = self._live.get(slot)
        if live is None or live.serial != serial:
            return None
        return self._end(live, by_chapter=by_chapter, now=now)

    def revoke(self, learner: int, *, login: str | None, now: int) -> bool:
        """End the learner's session here if the sign-in ``login`` began it (any sign-in
        when None: the account's sessions were ended — a password or role change). What
        it verified is kept (the next flush stores it), as when a session idles out.
        Whether one was ended."""
        slot = self._by_learner.get(learner)
        live = None if slot is None else self._live.get(slot)
        if live is None or (login is not None and live.login != login):
            return False
        self._end(live, by_chapter="", now=now)
        return True

    def subscribe(self, token: str, *, login: str) -> asyncio.Queue[ChallengeView | None]:
        """A queue that receives the session's challenges as they are issued (and None
        when the session ends): the Server-Sent Events stream reads it."""
        live = self._resolve(token, login)
        queue: asyncio.Queue[ChallengeView | None] = asyncio.Queue()
        if live.challenge is not None:
            queue.put_nowait(live.challenge)
        live.streams.append(queue)
        return queue

    def unsubscribe(self, token: str, queue: asyncio.Queue[ChallengeView | None]) -> None:
        live = self._live.get(_slot_of(token))
        if live is not None and queue in live.streams:
            live.streams.remove(queue)

    # -- the tick ----------------------------------------------------------------

    def tick(self, *, now: int) -> TickOutcome:
        """Arm the closing checks asked for, tick every pool's schedulers, apply what
        they report to the rules; returns the batch to persist now (credit granted,
        chapters completed, integrity events)."""
        self._arm_closing(now)
        counts = [0, 0, 0]
        for pool in self._pools:
            regular = pool.scheduler.tick(now=now)
            closing = pool.closing.tick(now=now)
            done: list[int] = []
            for result, is_closing in ((regular, False), (closing, True)):
                issued = zip(pool.slots(result.issued), result.issued_seq.tolist(), strict=True)
                for slot, seq in issued:
                    self._issued(self._find(slot, is_closing), seq, is_closing, now)
                passed = zip(pool.slots(result.passed), result.passed_ms.tolist(), strict=True)
                for slot, at in passed:
                    self._answered(self._find(slot, is_closing), is_closing, at, passed=True)
                for slot in pool.slots(result.missed):
                    self._answered(self._find(slot, is_closing), is_closing, now, passed=False)
                if is_closing:
                    done += pool.slots(result.passed) + pool.slots(result.missed)
                counts[0] += len(result.issued)
                counts[1] += len(result.passed)
                counts[2] += len(result.missed)
            self._release_closing(done)
        batch = Batch(now=now, grants=tuple(self._grants), events=tuple(self._events))
        self._grants, self._events = [], []
        return TickOutcome(batch=batch, issued=counts[0], passed=counts[1], missed=counts[2])

    def flush(self, *, now: int) -> Batch:
        """The live progress of every session that changed since the last flush (the
        crash bound is the interval between two flushes), and the end of idle sessions."""
        grants = []
        idle = []
        for live in self._live.values():
            if live.dirty:
                grants.append(self._grant(live, completed=None))
                live.dirty = False
            if now - live.session.last_beat_ms > IDLE_END_MS:
                idle.append(live)
        for live in idle:
            self._end(live, by_chapter="", now=now)
        events, self._events = tuple(self._events), []
        return Batch(now=now, grants=tuple(grants), events=events)

    def requeue(self, batch: Batch) -> None:
        """A batch that could not be stored goes out again with the next one."""
        self._grants[:0] = batch.grants
        self._events[:0] = batch.events

    def session_of(self, learner: int) -> credit.StudySession | None:
        """The learner's live session (tests and operators)."""
        slot = self._by_learner.get(learner)
        return None if slot is None else self._live[slot].session

    # -- internals ---------------------------------------------------------------

    def _pool(self, policy: ChallengePolicy) -> _Pool:
        """The pool of ``policy``, made on first use."""
        pool = self._pool_of.get(policy)
        if pool is None:
            scheduler, closing = self._schedulers(policy)
            if scheduler.capacity != closing.capacity:
                raise ValueError("a pool's two schedulers hold as many slots")
            last = self._pools[-1] if self._pools else None
            base = last.base + last.scheduler.capacity if last else 0
            pool = _Pool(policy, scheduler, closing, base)
            self._pools.append(pool)
            self._pool_of[policy] = pool
        return pool

    def _pool_at(self, slot: int) -> _Pool:
        return next(p for p in reversed(self._pools) if p.base <= slot)

    def _find(self, slot: int, is_closing: bool) -> _Live | None:
        if is_closing:
            slot = self._by_closing.get(slot, -1)
        return self._live.get(slot)

    def _issued(self, live: _Live | None, seq: int, is_closing: bool, now: int) -> None:
        if live is None or live.session.state not in credit.LIVE or live.challenge is not None:
            return  # one challenge at a time: a second one (regular beside closing) waits out
        policy = live.pool.policy
        questions = live.info.questions if policy.kind is ChallengeKind.QUESTION else ()
        kind = ChallengeKind.QUESTION if questions else ChallengeKind.PROMPT
        if questions:
            question = questions[(live.slot * 7919 + seq) % len(questions)]
            prompt, options, live.key = question.prompt, question.options, question.correct
        else:
            prompt = "请点击“继续学习”确认您仍在学习"
            options, live.key = (ChallengeOptionView(id="continue", text="继续学习"),), frozenset()
        window = policy.window_ms
        live.challenge = ChallengeView(
            seq=seq, closing=is_closing, kind=kind.value, prompt=prompt, options=options,
            issued_ms=now, expires_ms=now + window,
        )  # fmt: skip
        _, events = credit.challenge_issued(live.session, seq=seq, closing=is_closing, at=now)
        self._record(live, events)
        for stream in live.streams:
            stream.put_nowait(live.challenge)

    def _answered(self, live: _Live | None, is_closing: bool, at: int, *, passed: bool) -> None:
        if live is None or live.challenge is None or live.challenge.closing != is_closing:
            return
        seq = live.challenge.seq
        before = live.session
        if passed:
            live.session, events = credit.challenge_passed(
                live.session, seq=seq, closing=is_closing, at=at
            )
        else:
            live.session, events = credit.challenge_missed(
                live.session, seq=seq, closing=is_closing, at=at, on_miss=live.pool.policy.on_miss
            )
            if live.session.state is credit.SessionState.ACTIVE and not is_closing:
                # the policy lets it play on: the next challenge counts from the miss
                pool = live.pool
                pool.scheduler.arm(np.array([live.slot - pool.base], dtype=np.int64), now=at)
        live.challenge, live.key = None, frozenset()
        live.dirty = True
        self._record(live, events)
        completed = (
            live.session.state is credit.SessionState.COMPLETE and before.state in credit.LIVE
        )
        if live.session.credited_ms != before.credited_ms or completed:
            self._grants.append(self._grant(live, completed=at if completed else None))
        if live.session.state not in credit.LIVE and live.closing_slot >= 0 and not is_closing:
            self._release_closing([live.closing_slot])

    def _arm_closing(self, now: int) -> None:
        wanted = [
            s for s in dict.fromkeys(self._closing_wanted)
            if s in self._live and self._live[s].closing_slot < 0
            and self._live[s].session.state is credit.SessionState.CLOSING
        ]  # fmt: skip
        self._closing_wanted = []
        for pool in self._pools:
            mine = [s for s in wanted if self._live[s].pool is pool]
            if not mine:
                continue
            owners = np.array([self._live[s].session.learner for s in mine], dtype=np.int64)
            local = pool.closing.allocate(len(mine), owners)
            pool.closing.arm(local, now=now)
            for slot, closing_slot in zip(mine, pool.slots(local), strict=True):
                self._live[slot].closing_slot = closing_slot
                self._by_closing[closing_slot] = slot

    def _release_closing(self, closing_slots: Sequence[int]) -> None:
        """Free closing slots (process numbers, all of one pool)."""
        if not closing_slots:
            return
        pool = self._pool_at(closing_slots[0])
        pool.closing.disarm(np.array(closing_slots, dtype=np.int64) - pool.base)
        for closing_slot in closing_slots:
            slot = self._by_closing.pop(closing_slot, None)
            live = self._live.get(slot) if slot is not None else None
            if live is not None:
                live.closing_slot = -1
                if live.challenge is not None and live.challenge.closing:
                    live.challenge, live.key = None, frozenset()

    def _end(self, live: _Live, *, by_chapter: str, now: int) -> Carry:
        live.session, events = credit.take_over(live.session, by_chapter=by_chapter, now=now)
        self._record(live, events)
        self._grants.append(self._grant(live, completed=None))
        if live.closing_slot >= 0:
            self._release_closing([live.closing_slot])
        live.pool.scheduler.disarm(np.array([live.slot - live.pool.base], dtype=np.int64))
        del self._live[live.slot]
        if self._by_learner.get(live.session.learner) == live.slot:
            del self._by_learner[live.session.learner]
        for stream in live.streams:
            stream.put_nowait(None)
        s = live.session
        return Carry(
            chapter=s.chapter, cycle=s.cycle, credited_ms=s.credited_ms, position_ms=s.position_ms
        )

    def _grant(self, live: _Live, *, completed: int | None) -> Grant:
        return Grant(
            learner=live.session.learner,
            chapter_id=live.chapter_id,
            cycle=live.session.cycle,
            credited_ms=live.session.credited_ms,
            position_ms=live.session.position_ms,
            completed_ms=completed,
        )

    def _record(self, live: _Live, events: Iterable[credit.AnyEvent]) -> None:
        self._events.extend(
            StoredEvent(
                learner=live.session.learner,
                chapter_id=live.chapter_id,
                cycle=live.session.cycle,
                event=e,
            )
            for e in events
        )

    def _resolve(self, token: str, login: str) -> _Live:
        """The live session the token names: signed by us, its slot held by the learner
        it names (the scheduler's owner array), not taken over since — and begun by the
        sign-in ``login`` (``StudyError not_your_session`` otherwise)."""
        worker, slot, serial, learner = open_token(token, self._secret)
        live = self._live.get(slot) if worker == self.worker else None
        if live is not None and not live.pool.scheduler.owns(slot - live.pool.base, learner):
            live = None
        if live is None or live.serial != serial:
            raise _error(
                "session_ended",
                "this study session has ended (studied elsewhere, signed out, or idle); "
                "start again",
                "本次学习已结束（已在其他窗口学习、已退出登录或长时间未操作），请重新开始",
            )
        if not hmac.compare_digest(live.login, login):
            raise _error(
                "not_your_session",
                "this study session was begun by another sign-in; open the chapter again",
                "本次学习由其他登录开始，请重新打开该章节",
            )
        return live

    def _status(self, live: _Live, now: int) -> StudyStatus:
        s = live.session
        return StudyStatus(
            token=live.token,
            chapter=s.chapter,
            cycle=s.cycle,
            state=s.state.value,
            duration_s=s.duration_ms // 1000,
            credited_s=s.credited_ms // 1000,
            pending_s=s.open_ms // 1000,
            percent=round(100 * s.credited_ms / s.duration_ms, 1),
            complete=s.complete,
            position_ms=s.position_ms,
            heartbeat_s=HEARTBEAT_S,
            server_ms=now,
            challenge=live.challenge,
        )
