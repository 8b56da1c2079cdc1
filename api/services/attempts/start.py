"""Enrollment, the learner's exams, and starting an attempt.

``enroll`` and ``new_study_cycle`` keep the enrollment row; ``my_exams`` says, per
enrolled exam, whether a formal attempt may start, what is left and what is open
(examengine's ``eligibility``); ``start`` makes a new attempt (eligibility, the paper
built or the stored one, the core's start) with the enrollment row locked, so two
starts at once cannot both pass the eligibility check; ``resume`` (this device or
another, which takes over) and ``paper_view`` give the paper back with the saved
answers. The paper goes out without its key: ``_item_view`` builds each item field by
field.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from api.services import accounts, exams, markup
from api.services.attempts._errors import LearnersNotFoundError, NotEligibleError
from api.services.attempts._loading import (
    _PAPER_DECODER,
    _Context,
    _items,
    _Loader,
    _published_spec,
)
from api.services.attempts._rows import (
    OPEN_STATES,
    _add_events,
    _call,
    _close_due,
    _close_if_due,
    _domain,
    _enrollment,
    _extra_attempts,
    _flags_of,
    _history_rows,
    _lock_sqlite,
    _locked,
    _not_enrolled,
    _owned,
    _records,
    _store,
)
from api.services.attempts._wire import (
    AnswerView,
    AttemptSummary,
    EnrollOutcome,
    ExamEntry,
    MyExams,
    OpenAttempt,
    PaperItemView,
    PaperOptionView,
    PaperView,
)
from api.store.tables import Attempt as AttemptRow
from api.store.tables import AttemptOverride, Enrollment, Exam, ExamVersion
from api.store.tables import Paper as PaperRow
from examengine import attempt as core
from examengine.assembly import Paper, PaperItem
from examengine.blueprint import ExamSpec
from examengine.eligibility import Eligibility, eligibility, start_opens_ms
from itembank.model import Item, Matching, MultipleChoice, SingleChoice

# ------------------------------------------------------------------------ enrollment


def enroll(session: Session, *, learner_id: int, exam: str, study_met: bool, now: int) -> None:
    """Enroll the learner for ``exam`` (idempotent; ``study_met`` True is kept)."""
    row = session.exec(
        select(Enrollment).where(Enrollment.learner_id == learner_id, Enrollment.exam_key == exam)
    ).first()
    if row is None:
        session.add(
            Enrollment(
                learner_id=learner_id, exam_key=exam, study_met=study_met, created_at=_dt(now)
            )
        )
    elif study_met and not row.study_met:
        row.study_met = True
        session.add(row)
    session.flush()


def enroll_learners(
    session: Session, *, exam: str, logins: Sequence[str], study_met: bool, now: int
) -> EnrollOutcome:
    """Enroll many learners (by login, resident ID or phone) for ``exam`` at once, all
    or nothing: ``ExamNotFoundError`` for an unknown exam, ``LearnersNotFoundError``
    naming every unknown line; ``study_met`` marks the study requirement met (learners
    who studied elsewhere, or a load test's)."""
    if session.exec(select(Exam.key).where(Exam.key == exam)).first() is None:
        raise exams.ExamNotFoundError(exam)
    found: dict[str, int] = {}
    unknown: list[tuple[int, str]] = []
    for line, login in enumerate(logins, start=1):
        user = accounts.find_account(session, login)
        if user is None or user.id is None:
            unknown.append((line, login))
        else:
            found.setdefault(login, user.id)
    if unknown:
        raise LearnersNotFoundError(unknown)
    rows = session.exec(
        select(Enrollment.learner_id).where(
            Enrollment.exam_key == exam, col(Enrollment.learner_id).in_(list(found.values()))
        )
    ).all()
    before = set(rows)
    for learner_id in found.values():
        enroll(session, learner_id=learner_id, exam=exam, study_met=study_met, now=now)
    return EnrollOutcome(enrolled=len(set(found.values()) - before), already=len(before))


def new_study_cycle(session: Session, *, learner_id: int, exam: str) -> int:
    """The learner studied again: a new cycle with its own attempts opens (what
    examengine.credit will decide; called by tests and operators until then)."""
    _lock_sqlite(session)
    row = _enrollment(session, learner_id, exam, for_update=True)
    if row is None:
        raise _not_enrolled(exam)
    row.study_cycle += 1
    row.study_met = True
    session.add(row)
    session.flush()
    return row.study_cycle


# --------------------------------------------------------------------------- learner


def my_exams(session: Session, *, learner_id: int, now: int) -> MyExams:
    """Every exam the learner is enrolled for: may they start, what is left, what is
    open (read-only: an attempt past its deadline shows 0 s until the sweeper closes it)."""
    entries = []
    enrollments = session.exec(
        select(Enrollment)
        .where(Enrollment.learner_id == learner_id)
        .order_by(col(Enrollment.exam_key))
    ).all()
    for enrollment in enrollments:
        found = _published_spec(session, enrollment.exam_key)
        if found is None:
            continue
        spec = found[1]
        rows = _history_rows(session, learner_id, enrollment.exam_key)
        answer = _eligibility(session, enrollment, spec, rows, practice=False, now=now)
        practice = _eligibility(session, enrollment, spec, rows, practice=True, now=now)
        entries.append(
            ExamEntry(
                exam=enrollment.exam_key,
                title=spec.title,
                duration_s=spec.duration_s,
                may_start=answer.may_start,
                code=answer.code,
                message=answer.message,
                message_zh=answer.message_zh,
                cycle=answer.cycle,
                attempts_used=answer.attempts_used,
                attempts_allowed=answer.attempts_allowed,
                attempts_left=answer.attempts_left,
                locked=answer.locked,
                passed=answer.passed,
                start_opens_ms=_start_at_ms(spec, learner_id),
                practice_enabled=spec.practice.enabled and practice.code != "practice_disabled",
                practice_may_start=practice.may_start,
                practice_code=practice.code,
                practice_message=practice.message,
                practice_message_zh=practice.message_zh,
                practice_retry_ms=practice.retry_at_ms,
                practice_per_day=spec.practice.per_day if spec.practice.enabled else 0,
                practice_cooldown_s=spec.practice.cooldown_s if spec.practice.enabled else 0,
                open_attempt=_open_of(rows, practice=False, now=now),
                open_practice=_open_of(rows, practice=True, now=now),
                history=tuple(_summary(r) for r in rows),
            )
        )
    return MyExams(server_ms=now, exams=tuple(entries))


def start(
    session: Session,
    *,
    learner_id: int,
    exam: str,
    practice: bool,
    device: str,
    now: int,
    secret: bytes,
) -> PaperView:
    """A new attempt: eligibility, the paper (built or the stored one), the core's start.

    Attempts of this exam past their deadline are closed first. Raises
    ``NotEligibleError`` (not enrolled, an attempt open, attempts used up, study
    required, passed, no practice) or the exams service's errors.
    """
    _lock_sqlite(session)
    enrollment = _enrollment(session, learner_id, exam, for_update=True)
    if enrollment is None:
        raise _not_enrolled(exam)
    found = _published_spec(session, exam)
    if found is None:
        raise exams.ExamNotPublishedError(exam)
    version_row, spec = found
    _close_due(session, learner_id, exam, now)
    rows = _history_rows(session, learner_id, exam)
    answer = _eligibility(session, enrollment, spec, rows, practice=practice, now=now)
    if not answer.may_start:
        raise NotEligibleError(answer, now=now)
    number = 1 + sum(1 for r in rows if r.practice == practice)
    paper_id, paper = _paper_for(
        session,
        version_row=version_row,
        exam=exam,
        learner_ref=_learner_ref(learner_id, practice=practice),
        number=number,
        secret=secret,
        now=now,
    )
    attempt, events = core.start(
        attempt_id=uuid.uuid4().hex,
        learner=str(learner_id),
        exam=exam,
        number=number,
        cycle=enrollment.study_cycle,
        practice=practice,
        duration_ms=spec.duration_s * 1000,
        extra_ms=_standing_extra_ms(session, learner_id, exam),
        policy=spec.expiry,
        grace_ms=spec.grace_s * 1000,
        device=device,
        now=now,
    )
    assert version_row.id is not None and paper_id is not None
    row = AttemptRow(
        id=attempt.id,
        learner_id=learner_id,
        exam_key=exam,
        exam_version_id=version_row.id,
        paper_id=paper_id,
        number=number,
        cycle=attempt.cycle,
        practice=practice,
        state=attempt.state.value,
        policy=attempt.policy.value,
        grace_ms=attempt.grace_ms,
        started_ms=attempt.started_ms,
        deadline_ms=attempt.deadline_ms,
        next_check_ms=attempt.next_check_ms,
        device=device,
    )
    session.add(row)
    session.flush()
    _add_events(session, events, (row,), now=now)
    context = _Context(spec=spec, paper=paper, items=_items(session, version_row))
    return _paper_view(row, attempt, context, {}, now=now)


def resume(
    session: Session, *, learner_id: int, attempt_id: str, device: str, now: int
) -> PaperView:
    """Back before the deadline (this device or another, which takes over): the paper,
    the saved answers, the clock still running. Past the deadline the attempt is closed
    (and the close stored) and the resume refused with the reason (``core.AttemptError``)."""
    row = _locked(session, attempt_id, learner_id=learner_id)
    loader = _Loader(session, now=now)
    attempt = _domain(row)
    attempt, events = _call(
        session,
        row,
        now,
        lambda: core.resume(attempt, device=device, now=now, grade=loader.grader(row)),
    )
    _store(session, row, attempt, events, now=now)
    context = loader.context(row)
    return _paper_view(row, attempt, context, loader.latest(row.id), now=now)


def paper_view(
    session: Session, *, learner_id: int, attempt_id: str, device: str, now: int
) -> PaperView:
    """The learner's paper without its key, and their latest answers. An attempt whose
    time is up is closed first (the view then says so; the key stays out of it)."""
    row = _close_if_due(session, _owned(session, attempt_id, learner_id), now)
    loader = _Loader(session, now=now)
    return _paper_view(row, _domain(row), loader.context(row), loader.latest(row.id), now=now)


def _paper_for(
    session: Session,
    *,
    version_row: ExamVersion,
    exam: str,
    learner_ref: str,
    number: int,
    secret: bytes,
    now: int,
) -> tuple[int, Paper]:
    """The paper of attempt ``number``: the stored one (pre-assembled before the exam
    opened, ``preassemble``) in one indexed read, else built and stored as
    ``exams.build_or_get_paper`` does. Either way it is the paper of the same seed: a
    stored paper is the record, and an auditor rebuilds it from its seed."""
    query = sa.select(col(PaperRow.id), col(PaperRow.content)).where(
        col(PaperRow.exam_version_id) == version_row.id,
        col(PaperRow.learner_ref) == learner_ref,
        col(PaperRow.attempt) == number,
    )
    found = session.execute(query).first()
    if found is None:
        exams.build_or_get_paper(
            session,
            exam=exam,
            learner=learner_ref,
            attempt=number,
            secret=secret,
            now=_dt(now),
            version=version_row.version,
        )
        found = session.execute(query).one()  # whoever stored it first: the record
    paper_id, content = found
    return int(paper_id), _PAPER_DECODER.decode(content)


# ----------------------------------------------------------------------- eligibility


def _standing_extra_ms(session: Session, learner_id: int, exam: str) -> int:
    total = session.exec(
        select(sa.func.coalesce(sa.func.sum(AttemptOverride.extra_time_ms), 0)).where(
            AttemptOverride.learner_id == learner_id,
            AttemptOverride.exam_key == exam,
            col(AttemptOverride.attempt_id).is_(None),
        )
    ).one()
    return int(total)


def _eligibility(
    session: Session,
    enrollment: Enrollment,
    spec: ExamSpec,
    rows: Sequence[AttemptRow],
    *,
    practice: bool,
    now: int,
) -> Eligibility:
    return eligibility(
        _records(rows),
        max_attempts=spec.max_attempts,
        extra_attempts=_extra_attempts(
            session, enrollment.learner_id, enrollment.exam_key, enrollment.study_cycle
        ),
        enrolled=True,
        study_met=enrollment.study_met,
        cycle=enrollment.study_cycle,
        now=now,
        practice=practice,
        practice_enabled=spec.practice.enabled,
        practice_per_day=spec.practice.per_day,
        practice_cooldown_ms=spec.practice.cooldown_s * 1000,
        start_at_ms=_start_at_ms(spec, enrollment.learner_id),
    )


def _start_at_ms(spec: ExamSpec, learner_id: int) -> int | None:
    """When the learner's formal start opens under the spec's start window (None: no
    window). The rule is the core's ``start_opens_ms``."""
    window = spec.start_window
    if window is None:
        return None
    opens_at = window.opens_at if window.opens_at.tzinfo else window.opens_at.replace(tzinfo=UTC)
    return start_opens_ms(
        exam=spec.key,
        learner=str(learner_id),
        opens_ms=int(opens_at.timestamp() * 1000),
        spread_ms=window.spread_s * 1000,
    )


def _learner_ref(learner_id: int, *, practice: bool) -> str:
    """Whose paper: the user id, or ``<id>/practice`` for practice attempts, so practice
    papers have their own attempt numbers (and seeds) and never take a formal paper."""
    return f"{learner_id}/practice" if practice else str(learner_id)


# ----------------------------------------------------------------------------- views


def _paper_view(
    row: AttemptRow,
    attempt: core.Attempt,
    context: _Context,
    latest: Mapping[str, tuple[int, Any]],
    *,
    now: int,
) -> PaperView:
    sections = context.spec.sections
    items = tuple(
        _item_view(n, entry, sections[entry.section].title, context.items[entry.key])
        for n, entry in enumerate(context.paper.items, start=1)
    )
    return PaperView(
        attempt=row.id,
        exam=row.exam_key,
        title=context.spec.title,
        practice=row.practice,
        number=row.number,
        state=attempt.state.value,
        seconds_left=attempt.seconds_left(now=now),
        deadline_ms=attempt.deadline_ms,
        server_ms=now,
        last_seq=attempt.last_seq,
        items=items,
        answers=tuple(
            AnswerView(item=key, seq=seq, response=response)
            for key, (seq, response) in latest.items()
        ),
        flags=_flags_of(row),
    )


def _item_view(position: int, entry: PaperItem, section_title: str, item: Item) -> PaperItemView:
    """The item without its key — built field by field, never from the item whole."""
    options: tuple[PaperOptionView, ...] = ()
    prompts: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()
    body = item.body
    if isinstance(body, SingleChoice | MultipleChoice):
        by_id = {o.id: o for o in body.options}
        ids = entry.order or [o.id for o in body.options]
        options = tuple(
            PaperOptionView(id=i, text=by_id[i].text, text_html=markup.inline_html(by_id[i].text))
            for i in ids
            if i in by_id
        )
    elif isinstance(body, Matching):
        prompts = tuple(p.prompt for p in body.pairs)
        answers = entry.order or (*(p.answer for p in body.pairs), *body.distractors)
    return PaperItemView(
        position=position,
        item=entry.key,
        kind=item.kind.value,
        section=entry.section,
        section_title=section_title,
        stem=item.stem,
        stem_html=markup.html(item.stem),
        points=entry.points,
        options=options,
        prompts=prompts,
        answers=answers,
    )


def _summary(row: AttemptRow) -> AttemptSummary:
    return AttemptSummary(
        attempt=row.id,
        number=row.number,
        cycle=row.cycle,
        practice=row.practice,
        state=row.state,
        started_ms=row.started_ms,
        finished_ms=row.finished_ms,
        score=row.score,
        max_score=row.max_score,
        passed=row.passed,
    )


def _open_of(rows: Iterable[AttemptRow], *, practice: bool, now: int) -> OpenAttempt | None:
    for row in rows:
        if row.practice == practice and row.state in OPEN_STATES:
            return OpenAttempt(
                attempt=row.id,
                practice=practice,
                seconds_left=_domain(row).seconds_left(now=now),
                deadline_ms=row.deadline_ms,
            )
    return None


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
