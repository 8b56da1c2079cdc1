"""Study use cases and the live study sessions.

Two halves (docs/decisions/0009-credited-study.md):

- **Use cases on the database**, one transaction each on a session the caller opened:
  ``save_plan`` (authoring and demo data), ``enroll``, ``my_plans`` (progress, credit
  required, completion %, whether a re-study is due), ``prepare_start`` (what a study
  session needs: the plan, the chapter, the cycle, the stored credit and the course's
  anti-idle questions), ``restudy`` (a new cycle after the exam locked), and
  ``persist`` (one batch from the ticker: credit, positions, completions and integrity
  events; a completed plan then meets the exam's study requirement).
- **``LiveStudy``**, the live state of every open study session, kept in memory beside
  the challenge scheduler (the slot is the key): begin, heartbeat and ack run on the
  event loop without a database write and without touching numpy beyond O(1) reads
  (acks are list appends); ``tick`` applies the scheduler's issues, passes and misses
  to the core's rules (``examengine.credit``) and returns the batch to persist.

The rules are the core's; this module holds sessions, routes challenges and stores.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from msgspec import Struct
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from api.services import attempts, banks, exams
from api.store.tables import Chapter as ChapterRow
from api.store.tables import ChapterProgress, Enrollment, PlanEnrollment, StudyEvent
from api.store.tables import Course as CourseRow
from api.store.tables import Plan as PlanRow
from api.store.tables import PlanCourse as PlanCourseRow
from examengine import credit
from examengine.challenges import (
    ChallengeKind,
    ChallengePolicy,
    InProcessScheduler,
    SchedulerFull,
)
from itembank.errors import ItembankError
from itembank.model import SingleChoice, TrueFalse

#: The browser sends a heartbeat this often while a chapter plays (it is told so).
HEARTBEAT_S = 15
#: Anti-idle questions kept per course (drawn in turn, by slot and sequence number).
QUESTIONS_PER_COURSE = 50
#: A session with no heartbeat for this long ends (its slot is freed) at the next flush.
IDLE_END_MS = 10 * 60 * 1000
_ENCODER = msgspec.json.Encoder()


# --------------------------------------------------------------------------- wire


class OptionView(Struct, frozen=True, kw_only=True):
    id: str
    text: str


class ChallengeView(Struct, frozen=True, kw_only=True):
    """A challenge as the browser sees it (no key). ``closing``: the check that closes
    the chapter's last segment. Answer with POST /api/study/ack before ``expires_ms``."""

    seq: int
    closing: bool
    kind: str
    prompt: str
    options: tuple[OptionView, ...]
    issued_ms: int
    expires_ms: int


class StudyStatus(Struct, frozen=True, kw_only=True):
    """A study session as the browser sees it: credit so far (verified), what the open
    segment holds (not credit until verified), and a due challenge if there is one."""

    token: str
    chapter: str
    cycle: int
    state: str
    duration_s: int
    credited_s: int
    pending_s: int
    percent: float
    complete: bool
    position_ms: int
    heartbeat_s: int
    server_ms: int
    challenge: ChallengeView | None = None


class AckResult(Struct, frozen=True, kw_only=True):
    """The answer is queued: the next tick (within a second) closes the segment."""

    seq: int
    queued: bool
    server_ms: int


class PlanEntry(Struct, frozen=True, kw_only=True):
    progress: credit.PlanProgress
    exam: str | None
    restudy_due: bool


class MyPlans(Struct, frozen=True, kw_only=True):
    server_ms: int
    plans: tuple[PlanEntry, ...]


class Question(Struct, frozen=True, kw_only=True):
    """An anti-idle question and its key (the key stays on the server)."""

    prompt: str
    options: tuple[OptionView, ...]
    correct: frozenset[str]


class StartInfo(Struct, frozen=True, kw_only=True):
    """What a new study session needs from the database."""

    learner: int
    plan: str
    chapter: credit.Chapter
    chapter_id: int
    cycle: int
    credited_ms: int
    position_ms: int
    course: str
    questions: tuple[Question, ...]
    #: The plan's anti-idle policy (None: the service's default).
    policy: ChallengePolicy | None = None


class Grant(Struct, frozen=True, kw_only=True):
    """One chapter's live credit to store (credit only grows; completion once)."""

    learner: int
    chapter_id: int
    cycle: int
    credited_ms: int
    position_ms: int
    completed_ms: int | None


class StoredEvent(Struct, frozen=True, kw_only=True):
    learner: int
    chapter_id: int
    cycle: int
    event: credit.AnyEvent


class Batch(Struct, frozen=True, kw_only=True):
    """What one tick or flush hands to ``persist``."""

    now: int
    grants: tuple[Grant, ...] = ()
    events: tuple[StoredEvent, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.grants or self.events)


# ------------------------------------------------------------------------- errors


def _error(code: str, en: str, zh: str) -> credit.StudyError:
    return credit.StudyError(code, en, zh)


def _plan_not_found(key: str) -> credit.StudyError:
    return _error("plan_not_found", f"there is no plan {key!r}", f"学习计划 {key!r} 不存在")


# ---------------------------------------------------------------------- use cases


def save_plan(session: Session, plan: credit.Plan, *, now: int) -> None:
    """Store ``plan`` with its courses and chapters (new ones added, existing ones
    updated in place; chapter keys are global). Courses shared by plans are stored once."""
    created = _dt(now)
    row = session.exec(select(PlanRow).where(PlanRow.key == plan.key)).first()
    if row is None:
        row = PlanRow(key=plan.key, title=plan.title, year=plan.year, category=plan.category,
                      required_hours=0, elective_hours=0, created_at=created)  # fmt: skip
    row.title, row.year, row.category = plan.title, plan.year, plan.category
    row.required_hours, row.elective_hours = plan.required_hours, plan.elective_hours
    row.exam_key, row.restudy, row.required_first = plan.exam, plan.restudy, plan.required_first
    row.challenge = None if plan.challenge is None else _ENCODER.encode(plan.challenge).decode()
    session.add(row)
    session.flush()
    assert row.id is not None
    for position, entry in enumerate(plan.courses):
        course_id = _save_course(session, entry.course, created)
        link = session.exec(
            select(PlanCourseRow).where(
                PlanCourseRow.plan_id == row.id, PlanCourseRow.course_id == course_id
            )
        ).first()
        link = link or PlanCourseRow(plan_id=row.id, course_id=course_id, required=True, position=0)
        link.required, link.position = entry.required, position
        session.add(link)
    session.flush()


def _save_course(session: Session, course: credit.Course, created: datetime) -> int:
    row = session.exec(select(CourseRow).where(CourseRow.key == course.key)).first()
    row = row or CourseRow(key=course.key, title=course.title, created_at=created)
    row.title, row.bank = course.title, course.bank
    session.add(row)
    session.flush()
    assert row.id is not None
    for position, chapter in enumerate(course.chapters):
        found = session.exec(select(ChapterRow).where(ChapterRow.key == chapter.key)).first()
        found = found or ChapterRow(course_id=row.id, key=chapter.key, title="", position=0)
        found.course_id, found.title, found.position = row.id, chapter.title, position
        found.duration_ms, found.credit_hours = chapter.duration_ms, chapter.credit_hours
        session.add(found)
    session.flush()
    return row.id


def decode_plan(data: bytes, *, source: str, fmt: Literal["json", "yaml"] = "yaml") -> credit.Plan:
    """The plan in ``data`` (YAML or JSON: the shape of ``examengine.credit.Plan``, its
    ``challenge`` policy included). ``StudyError plan_unreadable`` naming ``source`` and
    the field, or the rule a plan breaks (required courses first, enough hours)."""
    try:
        if fmt == "json":
            return msgspec.json.decode(data, type=credit.Plan)
        return msgspec.yaml.decode(data, type=credit.Plan)
    except msgspec.ValidationError as exc:
        where = exams.field_path(str(exc))
        raise _error("plan_unreadable", f"{source}: {exc}",
                     f"{source}：字段无效（{where}）：{exc}") from None  # fmt: skip
    except msgspec.DecodeError as exc:
        reason = " ".join(str(exc).split())
        raise _error("plan_unreadable", f"{source}: not valid {fmt.upper()}: {reason}",
                     f"{source}：不是有效的 {fmt.upper()} 文件：{reason}") from None  # fmt: skip


def load_plan(session: Session, key: str) -> credit.Plan:
    """The plan ``key`` as the core's Struct; ``StudyError plan_not_found``."""
    row = session.exec(select(PlanRow).where(PlanRow.key == key)).first()
    if row is None:
        raise _plan_not_found(key)
    return _plan(session, row)


def _plan(session: Session, row: PlanRow) -> credit.Plan:
    links = session.exec(
        select(PlanCourseRow, CourseRow)
        .join(CourseRow, col(CourseRow.id) == PlanCourseRow.course_id)
        .where(PlanCourseRow.plan_id == row.id)
        .order_by(col(PlanCourseRow.position))
    ).all()
    courses = []
    for link, course in links:
        chapters = session.exec(
            select(ChapterRow)
            .where(ChapterRow.course_id == course.id)
            .order_by(col(ChapterRow.position))
        ).all()
        courses.append(
            credit.PlanCourse(
                required=link.required,
                course=credit.Course(
                    key=course.key,
                    title=course.title,
                    bank=course.bank,
                    chapters=tuple(
                        credit.Chapter(
                            key=c.key,
                            title=c.title,
                            duration_ms=c.duration_ms,
                            credit_hours=c.credit_hours,
                        )
                        for c in chapters
                    ),
                ),
            )
        )
    return credit.Plan(
        key=row.key,
        title=row.title,
        year=row.year,
        category=row.category,
        required_hours=row.required_hours,
        elective_hours=row.elective_hours,
        courses=tuple(courses),
        exam=row.exam_key,
        restudy=credit.RestudyScope(row.restudy),
        required_first=row.required_first,
        challenge=None
        if row.challenge is None
        else msgspec.json.decode(row.challenge, type=ChallengePolicy),
    )


def enroll(session: Session, *, learner_id: int, plan: str, now: int) -> None:
    """Enroll the learner in ``plan`` (idempotent) and in the exam the plan unlocks
    (study not met yet)."""
    row = session.exec(select(PlanRow).where(PlanRow.key == plan)).first()
    if row is None or row.id is None:
        raise _plan_not_found(plan)
    found = session.exec(
        select(PlanEnrollment).where(
            PlanEnrollment.learner_id == learner_id, PlanEnrollment.plan_id == row.id
        )
    ).first()
    if found is None:
        session.add(PlanEnrollment(learner_id=learner_id, plan_id=row.id, created_at=_dt(now)))
        session.flush()
    if row.exam_key:
        attempts.enroll(session, learner_id=learner_id, exam=row.exam_key, study_met=False, now=now)


def my_plans(session: Session, *, learner_id: int, now: int) -> MyPlans:
    """Every plan the learner studies, with its progress in the current cycle."""
    entries = []
    locked = _locked_exams(session, learner_id, now)
    for enrollment, row in _enrollments(session, learner_id):
        plan = _plan(session, row)
        progress = credit.plan_progress(
            plan, _credits(session, learner_id, plan), cycle=enrollment.cycle
        )
        exam_cycle = locked.get(plan.exam or "")
        due = exam_cycle is not None and credit.restudy_due(
            exam_locked=True, plan_cycle=enrollment.cycle, exam_cycle=exam_cycle
        )
        entries.append(PlanEntry(progress=progress, exam=plan.exam, restudy_due=due))
    return MyPlans(server_ms=now, plans=tuple(entries))


def restudy(session: Session, *, learner_id: int, plan: str, now: int) -> PlanEntry:
    """Open a new study cycle of ``plan`` after the exam locked (two failed attempts):
    what the plan's ``restudy`` scope names starts again from zero. ``StudyError
    restudy_not_due`` otherwise."""
    enrollment, row = _enrollment_of(session, learner_id, plan)
    spec = _plan(session, row)
    exam_cycle = _locked_exams(session, learner_id, now).get(spec.exam or "")
    if exam_cycle is None or not credit.restudy_due(
        exam_locked=True, plan_cycle=enrollment.cycle, exam_cycle=exam_cycle
    ):
        raise _error(
            "restudy_not_due",
            "a re-study opens only after the exam's attempts of this cycle are used up",
            "考试机会用完后才能开始重新学习",
        )
    enrollment.cycle += 1
    session.add(enrollment)
    session.flush()
    progress = credit.plan_progress(
        spec, _credits(session, learner_id, spec), cycle=enrollment.cycle
    )
    return PlanEntry(progress=progress, exam=spec.exam, restudy_due=False)


def prepare_start(session: Session, *, learner_id: int, chapter: str) -> StartInfo:
    """Everything a study session of ``chapter`` needs, from the first plan the learner
    studies that holds it. ``StudyError`` when no such plan, or an elective comes
    before the required courses are done."""
    row = session.exec(select(ChapterRow).where(ChapterRow.key == chapter)).first()
    if row is None or row.id is None:
        raise _error("chapter_not_found", f"there is no chapter {chapter!r}",
                     f"章节 {chapter!r} 不存在")  # fmt: skip
    for enrollment, plan_row in _enrollments(session, learner_id):
        plan = _plan(session, plan_row)
        found = plan.find(chapter)
        if found is None:
            continue
        progress = credit.plan_progress(
            plan, _credits(session, learner_id, plan), cycle=enrollment.cycle
        )
        spec = credit.may_study(plan, progress, chapter)
        stored = session.exec(
            select(ChapterProgress).where(
                ChapterProgress.learner_id == learner_id,
                ChapterProgress.chapter_id == row.id,
                ChapterProgress.cycle == enrollment.cycle,
            )
        ).first()
        return StartInfo(
            learner=learner_id,
            plan=plan.key,
            chapter=spec,
            chapter_id=row.id,
            cycle=enrollment.cycle,
            credited_ms=stored.credited_ms if stored else 0,
            position_ms=stored.position_ms if stored else 0,
            course=found[0].course.key,
            questions=_questions(session, found[0].course.bank),
            policy=plan.challenge,
        )
    raise _error(
        "not_enrolled_in_plan",
        f"chapter {chapter!r} is in none of your plans",
        f"章节 {chapter!r} 不在您的学习计划中",
    )


def persist(session: Session, batch: Batch) -> None:
    """Store one batch from the ticker: credit and positions (credit only grows, a
    completion is set once), the events, and — for learners who completed a chapter —
    the exam's study requirement when their plan is now met."""
    if batch.grants:
        _upsert_progress(session, batch.grants, batch.now)
    if batch.events:
        session.execute(
            sa.insert(StudyEvent),
            [
                {
                    "learner_id": e.learner,
                    "chapter_id": e.chapter_id,
                    "cycle": e.cycle,
                    "kind": e.event.__struct_config__.tag,
                    "seq": getattr(e.event, "seq", None),
                    "at_ms": e.event.at_ms,
                    "data": _ENCODER.encode(e.event).decode(),
                }
                for e in batch.events
            ],
        )
    for learner in sorted({g.learner for g in batch.grants if g.completed_ms is not None}):
        refresh_study_met(session, learner_id=learner, now=batch.now)


def refresh_study_met(session: Session, *, learner_id: int, now: int) -> None:
    """For each plan the learner has met in its current cycle, open the exam: cycle 1
    meets the study requirement; a completed re-study opens the exam's next cycle."""
    for enrollment, row in _enrollments(session, learner_id):
        plan = _plan(session, row)
        if not plan.exam:
            continue
        progress = credit.plan_progress(
            plan, _credits(session, learner_id, plan), cycle=enrollment.cycle
        )
        if not credit.study_met(progress):
            continue
        exam = session.exec(
            select(Enrollment).where(
                Enrollment.learner_id == learner_id, Enrollment.exam_key == plan.exam
            )
        ).first()
        if exam is None or exam.study_cycle >= enrollment.cycle:
            attempts.enroll(session, learner_id=learner_id, exam=plan.exam, study_met=True, now=now)
        else:
            while exam.study_cycle < enrollment.cycle:
                exam.study_cycle = attempts.new_study_cycle(
                    session, learner_id=learner_id, exam=plan.exam
                )


def stored_credit(session: Session, *, learner_id: int, chapter: str, cycle: int = 1) -> int:
    """The chapter's stored credit (ms) in ``cycle`` (0 when none)."""
    found = session.exec(
        select(ChapterProgress.credited_ms)
        .join(ChapterRow, col(ChapterRow.id) == ChapterProgress.chapter_id)
        .where(
            ChapterProgress.learner_id == learner_id,
            ChapterRow.key == chapter,
            ChapterProgress.cycle == cycle,
        )
    ).first()
    return int(found or 0)


# ---------------------------------------------------------------- use-case helpers


def _enrollments(session: Session, learner_id: int) -> Sequence[tuple[PlanEnrollment, PlanRow]]:
    return session.exec(
        select(PlanEnrollment, PlanRow)
        .join(PlanRow, col(PlanRow.id) == PlanEnrollment.plan_id)
        .where(PlanEnrollment.learner_id == learner_id)
        .order_by(col(PlanRow.year).desc(), col(PlanRow.key))
    ).all()


def _enrollment_of(session: Session, learner_id: int, plan: str) -> tuple[PlanEnrollment, PlanRow]:
    for enrollment, row in _enrollments(session, learner_id):
        if row.key == plan:
            return enrollment, row
    raise _error("not_enrolled_in_plan", f"you do not study plan {plan!r}",
                 f"您未参加学习计划 {plan!r}")  # fmt: skip


def _credits(session: Session, learner_id: int, plan: credit.Plan) -> list[credit.ChapterCredit]:
    keys = [c.key for e in plan.courses for c in e.course.chapters]
    rows = session.exec(
        select(ChapterRow.key, ChapterProgress.cycle, ChapterProgress.credited_ms)
        .join(ChapterRow, col(ChapterRow.id) == ChapterProgress.chapter_id)
        .where(ChapterProgress.learner_id == learner_id, col(ChapterRow.key).in_(keys))
    ).all()
    return [credit.ChapterCredit(chapter=k, cycle=c, credited_ms=ms) for k, c, ms in rows]


def _locked_exams(session: Session, learner_id: int, now: int) -> dict[str, int]:
    """The learner's exams locked after the failed attempts of a cycle: exam → cycle."""
    mine = attempts.my_exams(session, learner_id=learner_id, now=now)
    return {e.exam: e.cycle for e in mine.exams if e.locked}


def _questions(session: Session, bank: str | None) -> tuple[Question, ...]:
    """Single-choice and true/false items of the course's bank, as anti-idle questions."""
    if not bank:
        return ()
    try:
        items = banks.load_items(session, bank=bank)
    except ItembankError:
        return ()
    found: list[Question] = []
    for item in items:
        body = item.body
        if isinstance(body, SingleChoice):
            options = tuple(OptionView(id=o.id, text=o.text) for o in body.options)
            correct = frozenset(o.id for o in body.options if o.fraction >= 1.0)
        elif isinstance(body, TrueFalse) and body.answer is not None:
            options = (OptionView(id="true", text="对"), OptionView(id="false", text="错"))
            correct = frozenset({"true" if body.answer else "false"})
        else:
            continue
        found.append(Question(prompt=item.stem, options=options, correct=correct))
        if len(found) >= QUESTIONS_PER_COURSE:
            break
    return tuple(found)


def _upsert_progress(session: Session, grants: Sequence[Grant], now: int) -> None:
    """One INSERT … ON CONFLICT for the batch: credit and position kept at their
    highest, the first completion time kept."""
    target: Any = ChapterProgress.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert(target) if dialect == "postgresql" else sqlite.insert(target)
    excluded = insert.excluded
    statement = insert.on_conflict_do_update(
        index_elements=["learner_id", "chapter_id", "cycle"],
        set_={
            "credited_ms": sa.case(
                (excluded.credited_ms > target.c.credited_ms, excluded.credited_ms),
                else_=target.c.credited_ms,
            ),
            "position_ms": excluded.position_ms,
            "updated_ms": excluded.updated_ms,
            "completed_ms": sa.func.coalesce(target.c.completed_ms, excluded.completed_ms),
        },
    )
    session.execute(
        statement,
        [
            {
                "learner_id": g.learner,
                "chapter_id": g.chapter_id,
                "cycle": g.cycle,
                "credited_ms": g.credited_ms,
                "position_ms": g.position_ms,
                "updated_ms": now,
                "completed_ms": g.completed_ms,
            }
            for g in _last_per_key(grants)
        ],
    )


def _last_per_key(grants: Iterable[Grant]) -> list[Grant]:
    """One grant per (learner, chapter, cycle): the highest credit (a statement may not
    touch one row twice)."""
    best: dict[tuple[int, int, int], Grant] = {}
    for g in grants:
        key = (g.learner, g.chapter_id, g.cycle)
        old = best.get(key)
        if old is None or (g.credited_ms, g.position_ms) >= (old.credited_ms, old.position_ms):
            done = g.completed_ms if g.completed_ms is not None else (old and old.completed_ms)
            best[key] = msgspec.structs.replace(g, completed_ms=done)
    return list(best.values())


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


# --------------------------------------------------------------- live sessions


class _Live:
    """One open study session (mutable; lives in ``LiveStudy._live`` under its slot)."""

    __slots__ = (
        "challenge", "chapter_id", "closing_slot", "dirty", "info", "key", "pool", "serial",
        "session", "slot", "streams",
    )  # fmt: skip

    def __init__(
        self, pool: _Pool, slot: int, serial: int, info: StartInfo, session: credit.StudySession
    ):
        self.pool = pool
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


class _Pool:
    """The schedulers of one challenge policy: ``scheduler`` times the regular
    challenges; ``closing`` (fires one second after arming, the policy's window) the
    check that closes a chapter's last segment. A pool's slots are numbered from
    ``base`` in this process, so a slot number alone names the pool."""

    __slots__ = ("base", "closing", "policy", "scheduler")

    def __init__(
        self,
        policy: ChallengePolicy,
        scheduler: InProcessScheduler,
        closing: InProcessScheduler,
        base: int,
    ):
        self.policy = policy
        self.scheduler = scheduler
        self.closing = closing
        self.base = base

    def slots(self, local: npt.NDArray[np.int64]) -> list[int]:
        """The pool's slots as this process's slot numbers."""
        numbers: list[int] = (local + self.base).tolist()
        return numbers


#: Makes the schedulers of a policy: (regular, closing).
Schedulers = Callable[[ChallengePolicy], tuple[InProcessScheduler, InProcessScheduler]]


def closing_policy(policy: ChallengePolicy) -> ChallengePolicy:
    """The closing check of ``policy``: one second after it is asked for, same window."""
    return msgspec.structs.replace(policy, min_interval_ms=1000, max_interval_ms=1000)


class TickOutcome(Struct, frozen=True, kw_only=True):
    batch: Batch
    issued: int
    passed: int
    missed: int


class Carry(Struct, frozen=True, kw_only=True):
    """What a session taken over hands to the one that replaces it (possibly in another
    worker): unstored credit and the position carry over within the same chapter and
    cycle."""

    chapter: str
    cycle: int
    credited_ms: int
    position_ms: int


class LiveStudy:
    """The live study sessions of this process, beside its challenge schedulers.

    One pool of schedulers per challenge policy in use (the service's ``default`` and
    any plan's own), made on first use by ``schedulers``; a session's slot (in its
    signed token, checked against the scheduler's owner array) names its pool.
    Request handlers call ``begin``, ``heartbeat``, ``ack`` and ``subscribe`` on the
    event loop; the ticker calls ``tick`` and ``flush`` on the same loop, so no lock is
    needed.
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

    def begin(self, info: StartInfo, *, now: int, carried: Carry | None = None) -> StudyStatus:
        """A new session for ``info`` (the learner's other session here, if any, is taken
        over; ``carried`` is what one in another worker handed over). ``StudyError
        study_full`` when the scheduler has no free slot."""
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
        live = _Live(pool, pool.base + int(slots[0]), self._serial, info, session)
        self._live[live.slot] = live
        self._by_learner[info.learner] = live.slot
        self._record(live, events)
        if session.state is credit.SessionState.ACTIVE:
            pool.scheduler.arm(slots, now=now)
        return self._status(live, now)

    def heartbeat(
        self, token: str, *, learner: int, position_ms: int, playing: bool, now: int
    ) -> StudyStatus:
        """Accrue what the core allows; no database write. The reply carries the due
        challenge, if any."""
        live = self._resolve(token, learner)
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

    def ack(self, token: str, *, learner: int, seq: int, answer: str | None, now: int) -> AckResult:
        """Queue the answer to the due challenge (a list append); the tick applies it.
        ``StudyError wrong_answer`` (the learner may try again within the window) or
        ``no_challenge`` (nothing with this number is waiting)."""
        live = self._resolve(token, learner)
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

    def status(self, token: str, *, learner: int, now: int) -> StudyStatus:
        return self._status(self._resolve(token, learner), now)

    def release(self, slot: int, serial: int, *, by_chapter: str, now: int) -> Carry | None:
        """End exactly the session ``slot``/``serial`` names, if it is still open here
        (the learner began another one elsewhere); what it hands over."""
        live = self._live.get(slot)
        if live is None or live.serial != serial:
            return None
        return self._end(live, by_chapter=by_chapter, now=now)

    def subscribe(self, token: str, *, learner: int) -> asyncio.Queue[ChallengeView | None]:
        """A queue that receives the session's challenges as they are issued (and None
        when the session ends): the Server-Sent Events stream reads it."""
        live = self._resolve(token, learner)
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
            options, live.key = (OptionView(id="continue", text="继续学习"),), frozenset()
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

    def _resolve(self, token: str, learner: int) -> _Live:
        """The live session the token names: signed by us, its slot held by this
        learner (the scheduler's owner array), and not taken over since."""
        worker, slot, serial, owner = open_token(token, self._secret)
        live = self._live.get(slot) if worker == self.worker else None
        if live is not None and (
            owner != learner or not live.pool.scheduler.owns(slot - live.pool.base, learner)
        ):
            live = None
        if live is None or live.serial != serial:
            raise _error(
                "session_ended",
                "this study session has ended (studied elsewhere, or idle); start again",
                "本次学习已结束（已在其他窗口学习或长时间未操作），请重新开始",
            )
        return live

    def _status(self, live: _Live, now: int) -> StudyStatus:
        s = live.session
        return StudyStatus(
            token=_make_token(self.worker, live.slot, live.serial, s.learner, self._secret),
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


# ------------------------------------------------------------------------- tokens


def _make_token(worker: str, slot: int, serial: int, learner: int, secret: bytes) -> str:
    body = f"{worker}.{slot}.{serial}.{learner}"
    return f"{body}.{_signature(body, secret)}"


def _signature(body: str, secret: bytes) -> str:
    return hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()[:32]


def open_token(token: str, secret: bytes) -> tuple[str, int, int, int]:
    """(worker, slot, serial, learner) of a token we signed; ``StudyError bad_token``
    otherwise."""
    parts = token.split(".")
    if len(parts) == 5 and parts[0].isalnum() and all(p.isdigit() for p in parts[1:4]):
        body = ".".join(parts[:4])
        if hmac.compare_digest(parts[4], _signature(body, secret)):
            return parts[0], int(parts[1]), int(parts[2]), int(parts[3])
    raise _error("bad_token", "the study token is not valid", "学习凭证无效")


def _slot_of(token: str) -> int:
    parts = token.split(".")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1
