"""What the study modules share: the StudyError maker, the JSON encoder of stored
policies and events, timestamps, and the plans a learner is enrolled in (read by the
use cases and by ``persist``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec
from sqlmodel import Session, col, select

from api.store.tables import Plan as PlanRow
from api.store.tables import PlanEnrollment
from examengine import credit

_ENCODER = msgspec.json.Encoder()


# ------------------------------------------------------------------------- errors


def _error(code: str, en: str, zh: str) -> credit.StudyError:
    return credit.StudyError(code, en, zh)


def _plan_not_found(key: str) -> credit.StudyError:
    return _error("plan_not_found", f"there is no plan {key!r}", f"学习计划 {key!r} 不存在")


# ---------------------------------------------------------------- use-case helpers


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _enrollments(session: Session, learner_id: int) -> Sequence[tuple[PlanEnrollment, PlanRow]]:
    return session.exec(
        select(PlanEnrollment, PlanRow)
        .join(PlanRow, col(PlanRow.id) == PlanEnrollment.plan_id)
        .where(PlanEnrollment.learner_id == learner_id)
        .order_by(col(PlanRow.year).desc(), col(PlanRow.key))
    ).all()
