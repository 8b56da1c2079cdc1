"""Credited study: plans, courses and chapters; the study-segment rules; completion.

This module owns what counts as studied. It reads no clock and stores nothing: every
rule takes ``now`` or ``at`` (UTC milliseconds, keyword-only) and returns the new state
and the events it produced; the shell (api/services/study/) keeps the live sessions
beside the challenge scheduler, feeds them the scheduler's issues, passes and misses,
and persists the credit in batches.

**Segments** (the anti-idle rule, 防挂机). While a chapter plays the browser sends a
heartbeat every ~15 s. Time accrues into the *open segment* only as it really passes:
an interval between two heartbeats counts when the earlier one said "playing", the
position moved forward and the gap is at most ``StudyRules.max_gap_ms``; it counts for
its wall-clock length, never more, and never past the chapter's duration. Accrued time
is not credit yet:

- a **passed** challenge closes the open segment: the time accrued up to the moment the
  answer arrived becomes credit (``challenge_passed``);
- a **missed** challenge voids the open segment and pauses the chapter: nothing accrues
  until the learner starts the chapter again (``challenge_missed``);
- when the open segment would complete the chapter, accrual stops and a *closing
  check* is due (``ClosingCheckDue``): its pass completes the chapter;
- one learner studies one chapter in one tab at a time: starting again anywhere takes
  over (``take_over``) and the old session's open segment, never verified, is voided.

Invariant (tests/unit/examengine/test_credit.py, a hypothesis property): credit never
exceeds the wall-clock time of the verified segments, and never grows after a miss
until the chapter is started again.

**Completion**: a chapter is complete when its credit reaches its duration; a course
is credited (its credit hours) only when every chapter is complete; a plan's study is
met when both its required and its elective hours are credited (``plan_progress``).

**Re-study** (the source rule: two failed attempts → study again): the exam's
eligibility locks the exam; ``restudy_due`` then says a new study cycle may open. In the
new cycle the plan's ``restudy`` scope decides what must be studied again: ``required``
(the default) — the required courses start from zero while elective credit carries
over; ``all`` — everything starts from zero. When the new cycle's study is met, the exam
opens a new cycle of attempts.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated

import msgspec
from msgspec import Meta, Struct

from examengine.challenges.policy import ChallengePolicy, OnMiss
from examengine.commerce import MAX_PRICE_FEN, PriceBasis
from examengine.errors import EngineError

DurationMs = Annotated[int, Meta(ge=1_000, le=24 * 3600 * 1000)]
Hours = Annotated[float, Meta(ge=0, le=1000)]
Key = Annotated[str, Meta(min_length=1, max_length=120)]
PriceFen = Annotated[int, Meta(ge=0, le=MAX_PRICE_FEN)]


class StudyError(EngineError):
    """A study request was refused; ``code`` says why."""

    code = "study_refused"

    def __init__(self, code: str, message: str, message_zh: str) -> None:
        super().__init__(message, message_zh)
        self.code = code


# ------------------------------------------------------------------------- the plan


class Chapter(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    key: Key
    title: str
    duration_ms: DurationMs
    credit_hours: Hours = 0.0


class Course(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A course; ``bank`` names the item bank its anti-idle questions come from (None:
    a "click to continue" prompt)."""

    key: Key
    title: str
    chapters: tuple[Chapter, ...]
    bank: str | None = None

    @property
    def credit_hours(self) -> float:
        return sum(c.credit_hours for c in self.chapters)

    @property
    def duration_ms(self) -> int:
        return sum(c.duration_ms for c in self.chapters)


class PlanCourse(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    course: Course
    required: bool


class RestudyScope(StrEnum):
    #: After two failed attempts the required courses are studied again; electives carry over.
    REQUIRED = "required"
    #: Everything is studied again.
    ALL = "all"


class Plan(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A training plan: required courses first, then electives; both totals must be met.
    ``exam`` is the exam its study unlocks."""

    key: Key
    title: str
    year: int
    category: str
    required_hours: Hours
    elective_hours: Hours
    courses: tuple[PlanCourse, ...]
    exam: str | None = None
    restudy: RestudyScope = RestudyScope.REQUIRED
    required_first: bool = True
    #: The plan's anti-idle policy (how often, how long to answer, a question or a
    #: prompt, what a miss does); None: the service's default.
    challenge: ChallengePolicy | None = None
    #: The price in fen (分) per ``price_basis``: per person, or per credit hour of the
    #: plan (required + elective hours); 0: free (enrolled without an order).
    price_fen: PriceFen = 0
    price_basis: PriceBasis = PriceBasis.PERSON

    def __post_init__(self) -> None:
        flags = [c.required for c in self.courses]
        if flags != sorted(flags, reverse=True):
            raise ValueError("required courses come before the electives")
        for required, wanted in ((True, self.required_hours), (False, self.elective_hours)):
            offered = sum(c.course.credit_hours for c in self.courses if c.required is required)
            if offered + 1e-9 < wanted:
                kind = "required" if required else "elective"
                raise ValueError(f"the {kind} courses offer {offered:g} h, less than {wanted:g} h")

    def find(self, chapter: str) -> tuple[PlanCourse, Chapter] | None:
        for entry in self.courses:
            for c in entry.course.chapters:
                if c.key == chapter:
                    return entry, c
        return None


# --------------------------------------------------------------------- progress


class ChapterCredit(Struct, frozen=True, kw_only=True):
    """Stored credit of one chapter in one study cycle."""

    chapter: str
    cycle: int
    credited_ms: int


class ChapterProgress(Struct, frozen=True, kw_only=True):
    chapter: str
    title: str
    duration_ms: int
    credited_ms: int
    complete: bool


class CourseProgress(Struct, frozen=True, kw_only=True):
    course: str
    title: str
    required: bool
    credit_hours: float
    #: The course's hours once every chapter is complete, else 0.
    credited_hours: float
    percent: float
    complete: bool
    chapters: tuple[ChapterProgress, ...]


class PlanProgress(Struct, frozen=True, kw_only=True):
    """What the learner sees: credit required, credit earned, completion %."""

    plan: str
    title: str
    cycle: int
    required_hours: float
    elective_hours: float
    credit_required: float
    required_done: float
    elective_done: float
    credited_hours: float
    percent: float
    met: bool
    courses: tuple[CourseProgress, ...]


def counts_again(plan: Plan, entry: PlanCourse) -> bool:
    """Whether ``entry`` must be studied again in every new cycle (the re-study scope)."""
    return plan.restudy is RestudyScope.ALL or entry.required


def plan_progress(plan: Plan, credits: Iterable[ChapterCredit], *, cycle: int) -> PlanProgress:
    """The plan's progress in study cycle ``cycle``: a course studied again counts only
    this cycle's credit; one carried over counts its best credit of any cycle so far."""
    this_cycle: dict[str, int] = {}
    best: dict[str, int] = {}
    for c in credits:
        if c.cycle == cycle:
            this_cycle[c.chapter] = max(this_cycle.get(c.chapter, 0), c.credited_ms)
        if c.cycle <= cycle:
            best[c.chapter] = max(best.get(c.chapter, 0), c.credited_ms)
    courses = []
    for entry in plan.courses:
        source = this_cycle if cycle == 1 or counts_again(plan, entry) else best
        chapters = tuple(
            ChapterProgress(
                chapter=ch.key,
                title=ch.title,
                duration_ms=ch.duration_ms,
                credited_ms=min(ch.duration_ms, source.get(ch.key, 0)),
                complete=source.get(ch.key, 0) >= ch.duration_ms,
            )
            for ch in entry.course.chapters
        )
        complete = all(c.complete for c in chapters)
        total = sum(c.duration_ms for c in chapters)
        courses.append(
            CourseProgress(
                course=entry.course.key,
                title=entry.course.title,
                required=entry.required,
                credit_hours=entry.course.credit_hours,
                credited_hours=entry.course.credit_hours if complete else 0.0,
                percent=round(100 * sum(c.credited_ms for c in chapters) / total, 1),
                complete=complete,
                chapters=chapters,
            )
        )
    required_done = sum(c.credited_hours for c in courses if c.required)
    elective_done = sum(c.credited_hours for c in courses if not c.required)
    wanted = plan.required_hours + plan.elective_hours
    earned = min(required_done, plan.required_hours) + min(elective_done, plan.elective_hours)
    return PlanProgress(
        plan=plan.key,
        title=plan.title,
        cycle=cycle,
        required_hours=plan.required_hours,
        elective_hours=plan.elective_hours,
        credit_required=wanted,
        required_done=required_done,
        elective_done=elective_done,
        credited_hours=required_done + elective_done,
        percent=100.0 if wanted == 0 else round(100 * earned / wanted, 1),
        met=required_done + 1e-9 >= plan.required_hours
        and elective_done + 1e-9 >= plan.elective_hours,
        courses=tuple(courses),
    )


def study_met(progress: PlanProgress) -> bool:
    """The exam's study requirement: the plan's required and elective hours are credited."""
    return progress.met


def electives_locked(plan: Plan, progress: PlanProgress) -> bool:
    """Whether the plan's electives wait for its required hours (``required_first``)."""
    return plan.required_first and progress.required_done + 1e-9 < plan.required_hours


def may_study(plan: Plan, progress: PlanProgress, chapter: str) -> Chapter:
    """The chapter, if the learner may study it now; ``StudyError`` otherwise (not in
    the plan; an elective before the required hours are done, when required comes first)."""
    found = plan.find(chapter)
    if found is None:
        raise StudyError(
            "chapter_not_in_plan",
            f"chapter {chapter!r} is not part of this plan",
            f"章节 {chapter!r} 不属于本学习计划",
        )
    entry, found_chapter = found
    if not entry.required and electives_locked(plan, progress):
        raise StudyError(
            "required_first",
            "finish the required courses before the electives",
            "请先完成必修课程，再学习选修课程",
        )
    return found_chapter


def restudy_due(*, exam_locked: bool, plan_cycle: int, exam_cycle: int) -> bool:
    """Whether a new study cycle may open: the exam is locked after the failed attempts
    of the current cycle and no re-study is under way yet."""
    return exam_locked and plan_cycle == exam_cycle


# ------------------------------------------------------------------ live sessions


class SessionState(StrEnum):
    ACTIVE = "active"
    #: The open segment would complete the chapter: waiting for the closing check.
    CLOSING = "closing"
    #: A challenge was missed: nothing accrues until the chapter is started again.
    PAUSED = "paused"
    COMPLETE = "complete"
    #: Taken over by another chapter or tab.
    ENDED = "ended"


LIVE = frozenset({SessionState.ACTIVE, SessionState.CLOSING})


class StudyRules(Struct, frozen=True, kw_only=True):
    #: A longer silence between two heartbeats is not credited (the browser was away).
    max_gap_ms: Annotated[int, Meta(ge=1_000)] = 45_000


class StudySession(Struct, frozen=True, kw_only=True, gc=False):
    """One learner studying one chapter. ``credited_ms`` is the chapter's verified
    credit (this cycle); ``open_ms`` the time accrued in the open segment up to
    ``open_until_ms``; the segment opened at ``segment_from_ms``. ``gc=False``: a
    million of these must not slow the garbage collector (they hold no references)."""

    learner: int
    chapter: str
    cycle: int
    duration_ms: int
    credited_ms: int
    segment_from_ms: int
    last_beat_ms: int
    open_ms: int = 0
    open_until_ms: int = 0
    position_ms: int = 0
    playing: bool = False
    state: SessionState = SessionState.ACTIVE

    @property
    def complete(self) -> bool:
        return self.credited_ms >= self.duration_ms


class Event(Struct, frozen=True, kw_only=True, tag_field="event"):
    learner: int
    chapter: str
    at_ms: int


class SessionStarted(Event, frozen=True, kw_only=True, tag="session_started"):
    cycle: int
    credited_ms: int


class SessionTakenOver(Event, frozen=True, kw_only=True, tag="session_taken_over"):
    by_chapter: str


class ClosingCheckDue(Event, frozen=True, kw_only=True, tag="closing_check_due"):
    open_ms: int


class ChallengeIssued(Event, frozen=True, kw_only=True, tag="challenge_issued"):
    seq: int
    closing: bool


class ChallengePassed(Event, frozen=True, kw_only=True, tag="challenge_passed"):
    seq: int
    closing: bool


class ChallengeMissed(Event, frozen=True, kw_only=True, tag="challenge_missed"):
    seq: int
    closing: bool


class SegmentVerified(Event, frozen=True, kw_only=True, tag="segment_verified"):
    from_ms: int
    verified_ms: int
    credited_ms: int


class SegmentVoided(Event, frozen=True, kw_only=True, tag="segment_voided"):
    from_ms: int
    voided_ms: int
    reason: str


class ChapterCompleted(Event, frozen=True, kw_only=True, tag="chapter_completed"):
    credited_ms: int


AnyEvent = (
    SessionStarted
    | SessionTakenOver
    | ClosingCheckDue
    | ChallengeIssued
    | ChallengePassed
    | ChallengeMissed
    | SegmentVerified
    | SegmentVoided
    | ChapterCompleted
)
Events = list[AnyEvent]
#: The integrity events (the event-log issue chains them).
INTEGRITY = (ChallengeIssued, ChallengePassed, ChallengeMissed, SegmentVoided, SessionTakenOver)


def begin(
    *,
    learner: int,
    chapter: Chapter,
    cycle: int,
    credited_ms: int,
    position_ms: int,
    now: int,
) -> tuple[StudySession, Events]:
    """A new session on ``chapter`` with the credit stored so far; the first segment
    opens now. A chapter already complete starts (and stays) complete."""
    credited = min(credited_ms, chapter.duration_ms)
    session = StudySession(
        learner=learner,
        chapter=chapter.key,
        cycle=cycle,
        duration_ms=chapter.duration_ms,
        credited_ms=credited,
        segment_from_ms=now,
        last_beat_ms=now,
        open_until_ms=now,
        position_ms=position_ms,
        state=SessionState.COMPLETE if credited >= chapter.duration_ms else SessionState.ACTIVE,
    )
    return session, [
        SessionStarted(
            learner=learner, chapter=chapter.key, at_ms=now, cycle=cycle, credited_ms=credited
        )
    ]


def heartbeat(
    session: StudySession, *, position_ms: int, playing: bool, now: int, rules: StudyRules
) -> tuple[StudySession, Events]:
    """The browser says where it is. The interval since the last heartbeat accrues into
    the open segment if it was playing then, the position moved forward and the gap is
    at most ``rules.max_gap_ms`` — for its wall-clock length, capped at what the chapter
    has left. Refused (``StudyError session_ended``) once the session was taken over."""
    if session.state is SessionState.ENDED:
        raise StudyError(
            "session_ended",
            "this chapter is being studied in another window; continue there or start again",
            "该学习已在其他窗口继续，请在那里学习或重新开始",
        )
    elapsed = now - session.last_beat_ms
    gain = 0
    if (
        session.state is SessionState.ACTIVE
        and session.playing
        and position_ms > session.position_ms
        and 0 < elapsed <= rules.max_gap_ms
    ):
        # Only the part of the interval inside the open segment (a pass may have closed
        # the previous one after the last heartbeat).
        inside = now - max(session.last_beat_ms, session.segment_from_ms)
        gain = max(0, min(inside, session.duration_ms - session.credited_ms - session.open_ms))
    changes: dict[str, object] = {
        "last_beat_ms": max(now, session.last_beat_ms),
        "position_ms": position_ms,
        "playing": playing,
    }
    events: Events = []
    open_ms = session.open_ms + gain
    if gain > 0:
        changes["open_ms"] = open_ms
        changes["open_until_ms"] = now
    if (
        session.state is SessionState.ACTIVE
        and session.credited_ms + open_ms >= session.duration_ms
    ):
        changes["state"] = SessionState.CLOSING
        events.append(
            ClosingCheckDue(
                learner=session.learner, chapter=session.chapter, at_ms=now, open_ms=open_ms
            )
        )
    return msgspec.structs.replace(session, **changes), events


def challenge_issued(
    session: StudySession, *, seq: int, closing: bool, at: int
) -> tuple[StudySession, Events]:
    """A challenge went out (recorded; the state does not change)."""
    return session, [
        ChallengeIssued(
            learner=session.learner, chapter=session.chapter, at_ms=at, seq=seq, closing=closing
        )
    ]


def challenge_passed(
    session: StudySession, *, seq: int, closing: bool, at: int
) -> tuple[StudySession, Events]:
    """A challenge was answered in time at ``at``: the open segment closes there. Time
    accrued after ``at`` (heartbeats that arrived before the tick applied the answer)
    stays open: at most ``open_until_ms - at`` of it, so that much is held back."""
    events: Events = [
        ChallengePassed(
            learner=session.learner, chapter=session.chapter, at_ms=at, seq=seq, closing=closing
        )
    ]
    if session.state not in LIVE:
        return session, events
    after = max(0, session.open_until_ms - at)
    verified = max(0, session.open_ms - after)
    credited = min(session.duration_ms, session.credited_ms + verified)
    events.append(
        SegmentVerified(
            learner=session.learner,
            chapter=session.chapter,
            at_ms=at,
            from_ms=session.segment_from_ms,
            verified_ms=verified,
            credited_ms=credited,
        )
    )
    state = SessionState.ACTIVE
    if credited >= session.duration_ms:
        state = SessionState.COMPLETE
        events.append(
            ChapterCompleted(
                learner=session.learner, chapter=session.chapter, at_ms=at, credited_ms=credited
            )
        )
    moved = msgspec.structs.replace(
        session,
        credited_ms=credited,
        open_ms=session.open_ms - verified,
        segment_from_ms=max(at, session.segment_from_ms),
        state=state,
    )
    return moved, events


def challenge_missed(
    session: StudySession,
    *,
    seq: int,
    closing: bool,
    at: int,
    on_miss: OnMiss = OnMiss.VOID_AND_PAUSE,
) -> tuple[StudySession, Events]:
    """The answer window ran out at ``at``: the open segment is voided and the chapter
    pauses until the learner starts it again (the source rule); with ``OnMiss.VOID``
    (a plan's gentler policy) it plays on and a new segment opens at ``at``."""
    events: Events = [
        ChallengeMissed(
            learner=session.learner, chapter=session.chapter, at_ms=at, seq=seq, closing=closing
        )
    ]
    if session.state not in LIVE:
        return session, events
    events.append(_voided(session, at, "challenge_missed"))
    after = msgspec.structs.replace(
        session,
        open_ms=0,
        open_until_ms=max(at, session.open_until_ms),
        segment_from_ms=at,
        state=SessionState.ACTIVE if on_miss is OnMiss.VOID else SessionState.PAUSED,
    )
    return after, events


def take_over(session: StudySession, *, by_chapter: str, now: int) -> tuple[StudySession, Events]:
    """Another chapter or tab starts: this session ends; its open segment, never
    verified, is voided. Its credit so far is kept (it was verified)."""
    events: Events = []
    if session.state in LIVE and session.open_ms > 0:
        events.append(_voided(session, now, "taken_over"))
    events.append(
        SessionTakenOver(
            learner=session.learner, chapter=session.chapter, at_ms=now, by_chapter=by_chapter
        )
    )
    ended = msgspec.structs.replace(session, open_ms=0, state=SessionState.ENDED)
    return ended, events


def _voided(session: StudySession, at: int, reason: str) -> SegmentVoided:
    return SegmentVoided(
        learner=session.learner,
        chapter=session.chapter,
        at_ms=at,
        from_ms=session.segment_from_ms,
        voided_ms=session.open_ms,
        reason=reason,
    )
