"""Pre-assembling the papers of an exam's enrolled learners before it opens, so that a
start at the peak is a cheap state change (decision 0021).

Each learner's paper is the one their next formal start would build: the learner's
reference and the attempt number ``start`` uses (``str(user id)``; one more than the
formal attempts they have), built and stored by ``exams.preassemble`` in vectorised
batches. ``start`` then reads the stored paper in one indexed query; a paper is a pure
function of its seed, so pre-assembly changes a start's cost, never its paper. A learner
without a stored paper still starts: ``start`` builds it as before.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from msgspec import Struct
from sqlmodel import Session, col, select

from api.services import accounts, exams
from api.services.attempts._errors import LearnersNotFoundError
from api.services.attempts.start import _learner_ref
from api.store.db import in_chunks
from api.store.tables import Attempt as AttemptRow
from api.store.tables import Enrollment, Exam


class PreassemblyOutcome(Struct, frozen=True, kw_only=True):
    exam: str
    version: int
    #: Learners whose next formal paper is now stored.
    learners: int
    #: Papers built and stored by this run.
    built: int
    #: Papers that were stored already.
    existing: int


def preassemble(
    session: Session,
    *,
    exam: str,
    secret: bytes,
    now: int,
    logins: Sequence[str] | None = None,
    progress: exams.Progress | None = None,
) -> PreassemblyOutcome:
    """Store the next formal paper of every learner enrolled for ``exam`` (or of the
    enrolled learners among ``logins``: login, resident ID or phone) from its latest
    published version. Raises ``ExamNotFoundError``, ``ExamNotPublishedError``, or
    ``LearnersNotFoundError`` naming every line that names no account or a learner not
    enrolled for the exam (all or nothing)."""
    if session.exec(select(Exam.key).where(Exam.key == exam)).first() is None:
        raise exams.ExamNotFoundError(exam)
    enrolled = set(
        session.exec(select(Enrollment.learner_id).where(Enrollment.exam_key == exam)).all()
    )
    if logins is None:
        wanted = sorted(enrolled)
    else:
        wanted, unknown = [], []
        for line, login in enumerate(logins, start=1):
            user = accounts.find_account(session, login)
            if user is None or user.id not in enrolled:
                unknown.append((line, login))
            elif user.id is not None:
                wanted.append(user.id)
        if unknown:
            raise LearnersNotFoundError(unknown)
    used: dict[int, int] = defaultdict(int)
    for chunk in in_chunks(wanted):
        counted = session.execute(
            sa.select(col(AttemptRow.learner_id), sa.func.count())
            .where(
                col(AttemptRow.exam_key) == exam,
                col(AttemptRow.practice).is_(False),
                col(AttemptRow.learner_id).in_(chunk),
            )
            .group_by(col(AttemptRow.learner_id))
        )
        for learner_id, count in counted:
            used[learner_id] = count
    by_number: dict[int, list[str]] = defaultdict(list)
    for learner_id in dict.fromkeys(wanted):
        by_number[used[learner_id] + 1].append(_learner_ref(learner_id, practice=False))
    built = existing = 0
    version = 0
    for number, refs in sorted(by_number.items()):
        outcome = exams.preassemble(
            session,
            exam=exam,
            learners=refs,
            attempt=number,
            secret=secret,
            now=datetime.fromtimestamp(now / 1000, tz=UTC),
            progress=progress,
        )
        built, existing, version = (
            built + outcome.built,
            existing + outcome.existing,
            outcome.version,
        )
    if (
        not by_number
    ):  # nobody to build for: still say which version, and refuse an unpublished exam
        version = exams.preassemble(
            session, exam=exam, learners=[], attempt=1, secret=secret,
            now=datetime.fromtimestamp(now / 1000, tz=UTC),
        ).version  # fmt: skip
    return PreassemblyOutcome(
        exam=exam, version=version, learners=len(set(wanted)), built=built, existing=existing
    )
