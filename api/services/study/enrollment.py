"""A learner in their plans: ``enroll`` (and in the exam the plan unlocks), ``my_plans``
(progress, credit required, completion %, whether a re-study is due), ``restudy`` (a
new cycle after the exam locked) and ``prepare_start`` (what a study session needs:
the plan, the chapter, the cycle, the stored credit and the course's anti-idle
questions).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import Session, col, select

from api.services import attempts, banks
from api.services.study._shared import _dt, _enrollments, _error, _plan_not_found
from api.services.study.plan import _plan
from api.services.study.progress import _credits
from api.services.study.wire import ChallengeOptionView, MyPlans, PlanEntry, Question, StartInfo
from api.store.db import in_chunks
from api.store.tables import Chapter as ChapterRow
from api.store.tables import ChapterProgress, Enrollment, PlanEnrollment
from api.store.tables import Plan as PlanRow
from examengine import credit
from examengine.commerce import unit_fen, yuan
from itembank.errors import ItembankError
from itembank.model import SingleChoice, TrueFalse

#: Anti-idle questions kept per course (drawn in turn, by slot and sequence number).
QUESTIONS_PER_COURSE = 50


def enroll_free(session: Session, *, learner_id: int, plan: str, now: int) -> None:
    """``enroll`` in a plan that costs nothing; a priced plan is entered by an order's
    payment or a code (``api.services.orders``, ``api.services.codes``), and this is
    ``StudyError('purchase_required')`` naming the price."""
    row = session.exec(select(PlanRow).where(PlanRow.key == plan)).first()
    if row is None:
        raise _plan_not_found(plan)
    require_free(row)
    enroll(session, learner_id=learner_id, plan=plan, now=now)


def require_free(row: PlanRow) -> None:
    """``StudyError('purchase_required')`` unless plan ``row`` is free."""
    if row.price_fen > 0:
        price = unit_fen(row.price_fen, row.price_basis, row.required_hours + row.elective_hours)
        raise _error(
            "purchase_required",
            f"plan {row.key!r} costs {yuan(price)} yuan a person: buy it (an employer buys "
            "for its staff in one order) or redeem an activation code",
            f"学习计划 {row.key!r} 每人 {yuan(price)} 元：请购买（单位可为人员团购）或使用激活码",
        )


def enroll_many(session: Session, *, learner_ids: Sequence[int], plan: str, now: int) -> None:
    """``enroll`` for many learners at once (an order's, when it is paid): the missing
    plan and exam enrolments inserted in one statement each, in chunks, instead of four
    round trips a learner."""
    row = session.exec(select(PlanRow).where(PlanRow.key == plan)).first()
    if row is None or row.id is None:
        raise _plan_not_found(plan)
    created = _dt(now)
    for chunk in in_chunks(learner_ids):
        have = set(session.exec(select(PlanEnrollment.learner_id).where(
            PlanEnrollment.plan_id == row.id, col(PlanEnrollment.learner_id).in_(chunk)
        )))  # fmt: skip
        new = [{"learner_id": i, "plan_id": row.id, "cycle": 1, "created_at": created}
               for i in dict.fromkeys(chunk) if i not in have]  # fmt: skip
        if new:
            session.execute(sa.insert(PlanEnrollment), new)
        if row.exam_key:
            have = set(session.exec(select(Enrollment.learner_id).where(
                Enrollment.exam_key == row.exam_key, col(Enrollment.learner_id).in_(chunk)
            )))  # fmt: skip
            new = [{"learner_id": i, "exam_key": row.exam_key, "study_cycle": 1,
                    "study_met": False, "created_at": created}
                   for i in dict.fromkeys(chunk) if i not in have]  # fmt: skip
            if new:
                session.execute(sa.insert(Enrollment), new)
    session.flush()


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
        entries.append(
            PlanEntry(
                progress=progress,
                exam=plan.exam,
                restudy_due=due,
                electives_locked=credit.electives_locked(plan, progress),
            )
        )
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
    return PlanEntry(
        progress=progress,
        exam=spec.exam,
        restudy_due=False,
        electives_locked=credit.electives_locked(spec, progress),
    )


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


def _enrollment_of(session: Session, learner_id: int, plan: str) -> tuple[PlanEnrollment, PlanRow]:
    for enrollment, row in _enrollments(session, learner_id):
        if row.key == plan:
            return enrollment, row
    raise _error("not_enrolled_in_plan", f"you do not study plan {plan!r}",
                 f"您未参加学习计划 {plan!r}")  # fmt: skip


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
            options = tuple(ChallengeOptionView(id=o.id, text=o.text) for o in body.options)
            correct = frozenset(o.id for o in body.options if o.fraction >= 1.0)
        elif isinstance(body, TrueFalse) and body.answer is not None:
            options = (
                ChallengeOptionView(id="true", text="对"),
                ChallengeOptionView(id="false", text="错"),
            )
            correct = frozenset({"true" if body.answer else "false"})
        else:
            continue
        found.append(Question(prompt=item.stem, options=options, correct=correct))
        if len(found) >= QUESTIONS_PER_COURSE:
            break
    return tuple(found)
