"""Plans on the database: ``save_plan`` (authoring and demo data; courses shared by
plans are stored once, chapter keys are global), ``decode_plan`` (a plan file, YAML or
JSON) and ``load_plan`` (a stored plan back as the core's ``credit.Plan``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec
from sqlmodel import Session, col, select

from api.services import exams
from api.services.study._shared import _ENCODER, _dt, _error, _plan_not_found
from api.store.tables import Chapter as ChapterRow
from api.store.tables import Course as CourseRow
from api.store.tables import Plan as PlanRow
from api.store.tables import PlanCourse as PlanCourseRow
from examengine import credit
from examengine.challenges import ChallengePolicy
from examengine.commerce import PriceBasis


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
    row.price_fen, row.price_basis = plan.price_fen, plan.price_basis.value
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


def set_price(session: Session, *, plan: str, price_fen: int, basis: PriceBasis) -> credit.Plan:
    """Plan ``plan`` priced anew; orders placed before keep the price they were placed at
    (``purchase_order.unit_fen``)."""
    row = session.exec(select(PlanRow).where(PlanRow.key == plan)).first()
    if row is None:
        raise _plan_not_found(plan)
    row.price_fen, row.price_basis = price_fen, basis.value
    session.add(row)
    session.flush()
    return _plan(session, row)


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
        price_fen=row.price_fen,
        price_basis=PriceBasis(row.price_basis),
    )
