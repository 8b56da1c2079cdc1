"""Certificates (docs/decisions/0028): issued when a plan is done, refreshed when the
holder's name or employer changes, revoked by an operator with a reason, and verified
by anyone from the number alone.

- **Issuing** happens in the transaction that makes a certificate due: a formal pass or
  a regrade (``exam_results``, called by the attempts' event store), or the last hours
  of a plan credited (``hours_completed``, called by ``study.refresh_study_met``). The
  rule is ``examengine.records.next_step``; a current certificate already there means
  nothing is done, and a regrade that leaves no formal pass revokes it ("成绩复核").
- **Signing** needs the deployment's key, which the app puts on every session of its
  units of work (``bind``); a session without it (a command-line sweep) issues nothing
  and says so in the log, and the learner's own list (``issue_due``) issues what is due
  the next time they look.
- **Refreshing** (``refresh``): a new certificate with the new name or employer, the
  certified facts unchanged; the old one is ``superseded`` and points to the new one
  internally only: /verify shows nothing personal of it and no link.
- **Revoking** (``revoke``): an operator, with a reason kept internal.
- **Verifying** (``public_view``): the stored record's signature is checked against the
  published keys on every lookup, so an edit of the database shows as not genuine,
  with the reason.

Every issue, supersession and revocation is an entry of the holder's integrity log
(``certificate_issued``, ``certificate_superseded``, ``certificate_revoked``), written
in the same transaction. The PDF is ``api.services.certificate_pdf``.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

import msgspec
import sqlalchemy as sa
from msgspec import Struct
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, func, select

from api.services import keys
from api.services.certificate_pdf import check_pdf, render_pdf
from api.services.evidence import log
from api.services.study._shared import _enrollments
from api.services.study.plan import _plan
from api.services.study.progress import _credits
from api.settings import RecordsSettings
from api.store.db import in_chunks
from api.store.tables import Attempt, Certificate, PlanEnrollment, User
from api.store.tables import Plan as PlanRow
from examengine import credit, records, signing
from examengine.ids import masked
from examengine.records import RecordError

logger = logging.getLogger("api.services.certificates")

#: Where the session of a unit of work carries the records settings (``bind``).
RECORDS_INFO = "examengine.records"
#: The published key set (a JSON Web Key Set).
KEYS_PATH = "/.well-known/examengine-keys.json"
PAGE_SIZE = 20
MAX_REASON = 500
#: Why a certificate was issued.
Cause = Literal["passed", "completed", "employer_changed", "name_changed"]
State = Literal["current", "superseded", "revoked"]
REGRADED = "成绩复核：考试结果改为不合格 / regraded: the exam result is now a fail"


# ------------------------------------------------------------------------ the wire


class CertificateView(Struct, frozen=True, kw_only=True):
    """A certificate as its holder, their employer and operators see it: what it says
    (from the signed record) and where it stands. ``revoked_reason`` and
    ``revoked_by`` are for the holder and operators only."""

    number: str
    state: State
    cause: str
    name: str
    #: The ID number as printed (110105********002X).
    login: str
    employer: str
    plan: str
    plan_title: str
    year: int
    category: str
    required_hours: float
    elective_hours: float
    result: str
    issuer: str
    issued_ms: int
    supersedes: str | None = None
    superseded_by: str | None = None
    superseded_ms: int | None = None
    revoked_ms: int | None = None
    revoked_reason: str | None = None
    revoked_by: str | None = None


class CertificatePage(Struct, frozen=True, kw_only=True):
    total: int
    page: int
    page_size: int
    certificates: tuple[CertificateView, ...]


class Holder(Struct, frozen=True, kw_only=True):
    name: str
    #: The ID number as printed: 110105********002X.
    id_masked: str


class Certified(Struct, frozen=True, kw_only=True):
    """What a current certificate certifies (nothing personal)."""

    plan_title: str
    year: int
    category: str
    category_zh: str
    required_hours: float
    elective_hours: float
    hours: float
    result: str
    result_zh: str
    issuer: str


class Verification(Struct, frozen=True, kw_only=True):
    """What anyone holding a number may learn (``/verify``, ``/api/verify``): whether
    the record is genuine (its signature holds under the published keys), and its
    state. Only a genuine, current certificate shows its holder (name and masked ID
    number) and what it certifies; a superseded or revoked one says so and when,
    nothing more; a record that is not genuine says why."""

    number: str
    genuine: bool
    state: State
    issued_ms: int | None = None
    issued_on: str | None = None
    superseded_ms: int | None = None
    superseded_on: str | None = None
    revoked_ms: int | None = None
    revoked_on: str | None = None
    holder: Holder | None = None
    certificate: Certified | None = None
    problem: str | None = None
    problem_zh: str | None = None
    #: The published keys the signature was checked with.
    keys: str = KEYS_PATH


class CertificateDetail(Struct, frozen=True, kw_only=True):
    """An operator's view: the certificate, what /verify says of it, and every
    certificate of the same holder and plan (newest first)."""

    certificate: CertificateView
    verification: Verification
    history: tuple[CertificateView, ...]


# ------------------------------------------------------------------------- binding


def session_info(settings: RecordsSettings) -> dict[str, RecordsSettings]:
    """What a unit of work carries so that, when it makes a certificate due, it can
    sign it (``bind`` for the app's sessions; the command line's units of work too)."""
    return {RECORDS_INFO: settings}


def bind(sessions: sessionmaker[Session], settings: RecordsSettings) -> None:
    """Give every session ``sessions`` makes the records settings (the app's factory and
    the command-line sweeper call this)."""
    sessions.configure(info=session_info(settings))


def _settings(session: Session, given: RecordsSettings | None = None) -> RecordsSettings | None:
    chosen = given or session.info.get(RECORDS_INFO)
    if not isinstance(chosen, RecordsSettings) or not chosen.signing_secret:
        return None
    return chosen


# ----------------------------------------------------------------------- issuing


class _Candidate(NamedTuple):
    learner_id: int
    enrollment: PlanEnrollment
    plan: PlanRow


def exam_results(session: Session, results: Sequence[tuple[int, str]], *, now: int) -> None:
    """A formal attempt of ``(learner, exam)`` passed, or was regraded, in this
    transaction: issue the certificates of the plans that exam closes that are now due,
    and revoke those whose exam no longer counts as passed. Read in a few statements for
    the whole batch (the sweeper grades hundreds at once)."""
    wanted = set(results)
    learners = sorted({learner for learner, _ in wanted})
    exams = sorted({exam for _, exam in wanted})
    candidates = []
    for chunk in in_chunks(learners):
        for enrollment, row in session.exec(
            select(PlanEnrollment, PlanRow)
            .join(PlanRow, col(PlanRow.id) == PlanEnrollment.plan_id)
            .where(col(PlanEnrollment.learner_id).in_(chunk), col(PlanRow.exam_key).in_(exams))
        ).all():
            if (enrollment.learner_id, row.exam_key) in wanted:
                candidates.append(_Candidate(enrollment.learner_id, enrollment, row))
    _settle(session, candidates, now=now, regraded=True)


def hours_completed(session: Session, *, learner_id: int, now: int) -> None:
    """The learner's plans may be complete now (a chapter was completed): issue what is
    due (a plan without an exam; or one whose exam was passed before)."""
    issue_due(session, learner_id=learner_id, now=now)


def issue_due(
    session: Session, *, learner_id: int, now: int, settings: RecordsSettings | None = None
) -> None:
    """Issue every certificate of the learner that is due and missing (idempotent)."""
    candidates = [_Candidate(learner_id, e, row) for e, row in _enrollments(session, learner_id)]
    _settle(session, candidates, now=now, settings=settings)


def _settle(
    session: Session,
    candidates: Sequence[_Candidate],
    *,
    now: int,
    regraded: bool = False,
    settings: RecordsSettings | None = None,
) -> None:
    """Apply ``records.next_step`` to each learner's plan: what is due issued, what no
    longer passes revoked. The hours are read only where they can decide."""
    if not candidates:
        return
    learners = sorted({c.learner_id for c in candidates})
    current = _currents(session, learners)
    passed = _passes(
        session, learners, sorted({c.plan.exam_key for c in candidates if c.plan.exam_key})
    )
    withheld = _withheld(session, learners)
    plans: dict[int, credit.Plan] = {}
    issued: list[log.NewEntry] = []
    for learner_id, enrollment, row in candidates:
        assert row.id is not None
        key = (learner_id, row.id)
        did_pass = row.exam_key is not None and (learner_id, row.exam_key) in passed
        hours_met = True
        if key not in current and key not in withheld and (row.exam_key is None or did_pass):
            plan = plans.get(row.id) or plans.setdefault(row.id, _plan(session, row))
            progress = credit.plan_progress(
                plan, _credits(session, learner_id, plan), cycle=enrollment.cycle
            )
            hours_met = credit.study_met(progress)
        step = records.next_step(
            current=key in current,
            hours_met=hours_met,
            exam=row.exam_key,
            passed=did_pass,
            results_changed=regraded,
            withheld=key in withheld,
        )
        if step is records.Step.REVOKE:
            _revoke(session, current[key], reason=REGRADED, by=None, now=now)
        elif step is records.Step.ISSUE:
            user = session.get(User, learner_id)
            cause: Cause = "passed" if row.exam_key else "completed"
            made = user and _issue(
                session,
                _record_of(user, row),
                user=user,
                plan=row,
                cause=cause,
                now=now,
                settings=settings,
            )
            if made:
                issued.append(made[1])
    log.append(session, issued)


def _currents(session: Session, learners: Sequence[int]) -> dict[tuple[int, int], Certificate]:
    found = {}
    for chunk in in_chunks(learners):
        for row in session.exec(
            select(Certificate).where(
                col(Certificate.learner_id).in_(chunk), Certificate.state == "current"
            )
        ).all():
            found[row.learner_id, row.plan_id] = row
    return found


def _passes(
    session: Session, learners: Sequence[int], exams: Sequence[str]
) -> set[tuple[int, str]]:
    """The (learner, exam) of ``learners`` and ``exams`` with a formal attempt that
    counts as passed."""
    found: set[tuple[int, str]] = set()
    if not exams:
        return found
    for chunk in in_chunks(learners):
        found.update(
            session.exec(
                select(Attempt.learner_id, Attempt.exam_key)
                .where(
                    col(Attempt.learner_id).in_(chunk),
                    col(Attempt.exam_key).in_(exams),
                    col(Attempt.practice).is_(False),
                    col(Attempt.passed).is_(True),
                )
                .distinct()
            ).all()
        )
    return found


def _withheld(session: Session, learners: Sequence[int]) -> set[tuple[int, int]]:
    """The (learner, plan) of which an operator revoked a certificate (a regrade's
    revocation is the rule's own: a regrade back to a pass may issue again)."""
    found: set[tuple[int, int]] = set()
    for chunk in in_chunks(learners):
        found.update(
            session.exec(
                select(Certificate.learner_id, Certificate.plan_id).where(
                    col(Certificate.learner_id).in_(chunk),
                    Certificate.state == "revoked",
                    col(Certificate.revoked_reason) != REGRADED,
                )
            ).all()
        )
    return found


def _record_of(user: User, plan: PlanRow) -> records.Record:
    """A new record of ``user`` and ``plan`` (number and time filled in by ``_issue``)."""
    return records.Record(
        number="",
        name=user.display_name,
        id_masked=masked(user.resident_id or user.login),
        employer=user.employer or "",
        plan=plan.key,
        plan_title=plan.title,
        year=plan.year,
        category=plan.category,
        required_hours=float(plan.required_hours),
        elective_hours=float(plan.elective_hours),
        result="passed" if plan.exam_key else "completed",
        exam=plan.exam_key,
        issuer="",
        issued_ms=0,
    )


def _issue(
    session: Session,
    template: records.Record,
    *,
    user: User,
    plan: PlanRow,
    cause: Cause,
    now: int,
    settings: RecordsSettings | None,
    supersedes: str | None = None,
) -> tuple[Certificate, log.NewEntry] | None:
    """Sign and store ``template`` as a new current certificate (a fresh random number,
    the issuer and time of now), with its log entry for the caller to append; None when
    it cannot be signed here or another unit of work issued it meanwhile."""
    chosen = _settings(session, settings)
    if chosen is None:
        logger.warning(
            "certificate of %s for %s due but not issued: no signing key bound "
            "to this unit of work (it is issued when the learner next looks)",
            user.id,
            plan.key,
        )
        return None
    assert user.id is not None and plan.id is not None
    for _ in range(3):  # 55 random bits: a clash of numbers is a curiosity, not a plan
        number = records.make_number(template.year, secrets.randbelow(records.RANDOM_BOUND))
        record = msgspec.structs.replace(
            template, number=number, issuer=chosen.issuer, issued_ms=now, supersedes=supersedes
        )
        text = records.encode(record)
        signed = records.sign(keys.current(chosen), text)
        row = Certificate(
            number=number,
            learner_id=user.id,
            plan_id=plan.id,
            year=record.year,
            state="current",
            payload=text,
            kid=signed.kid,
            sig=signed.sig,
            issued_ms=now,
            cause=cause,
            supersedes=supersedes,
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            if _currents(session, [user.id]).get((user.id, plan.id)) is not None:
                logger.info("certificate of %s for %s issued meanwhile", user.id, plan.key)
                return None
            continue  # the number was taken: another one
        return row, _entry(
            row, "certificate_issued", plan=plan.key, cause=cause, supersedes=supersedes
        )
    raise RuntimeError("three random certificate numbers in a row were taken")


def _entry(row: Certificate, kind: str, **data: Any) -> log.NewEntry:
    at = {
        "certificate_issued": row.issued_ms,
        "certificate_superseded": row.superseded_ms,
        "certificate_revoked": row.revoked_ms,
    }[kind]
    assert at is not None
    return log.entry(
        learner=row.learner_id,
        at_ms=at,
        kind=kind,
        ref=f"certificate:{row.number}",
        data={"number": row.number, **data},
    )


# -------------------------------------------------------------------- refreshing


def refresh(
    session: Session,
    *,
    learner_id: int,
    cause: Cause,
    now: int,
    settings: RecordsSettings | None = None,
) -> list[str]:
    """The learner's name or employer changed (``cause``): each current certificate
    that prints another name or employer is superseded by a new one printing the new
    ones (the certified plan, hours and result as they were). Returns the new numbers;
    nothing is done where nothing printed changed, or where no key is bound."""
    user = session.get(User, learner_id)
    if user is None:
        return []
    issued = []
    for old in session.exec(
        select(Certificate)
        .where(Certificate.learner_id == learner_id, Certificate.state == "current")
        .order_by(col(Certificate.issued_ms))
    ).all():
        try:
            was = records.decode(old.payload)
        except (msgspec.DecodeError, msgspec.ValidationError):
            logger.error("certificate %s: its stored record cannot be read", old.number)
            continue
        now_says = msgspec.structs.replace(
            was,
            name=user.display_name,
            id_masked=masked(user.resident_id or user.login),
            employer=user.employer or "",
        )
        if now_says == was:
            continue
        chosen = _settings(session, settings)
        plan = session.get(PlanRow, old.plan_id)
        if chosen is None or plan is None:
            logger.warning("certificate %s not refreshed: no signing key bound", old.number)
            continue
        old.state, old.superseded_ms = "superseded", now
        session.add(old)
        session.flush()  # (one current certificate a plan: the old one steps aside first)
        made = _issue(
            session,
            now_says,
            user=user,
            plan=plan,
            cause=cause,
            now=now,
            settings=chosen,
            supersedes=old.number,
        )
        if made is None:
            continue
        new, entry = made
        old.superseded_by = new.number
        session.add(old)
        log.append(
            session,
            [
                entry,
                _entry(
                    old,
                    "certificate_superseded",
                    plan=plan.key,
                    cause=cause,
                    superseded_by=new.number,
                ),
            ],
        )
        issued.append(new.number)
    session.flush()
    return issued


# ---------------------------------------------------------------------- revoking


def revoke(session: Session, *, number: str, reason: str, by_id: int, now: int) -> CertificateView:
    """An operator revokes the current certificate ``number`` with ``reason`` (kept
    internal: /verify says revoked and when). ``RecordError``: ``certificate_not_found``,
    ``certificate_not_current`` (superseded or revoked already), ``reason_required``."""
    reason = reason.strip()
    if not reason:
        raise RecordError(
            "reason_required",
            "reason: say why the certificate is revoked",
            "撤销原因：请填写撤销证书的原因",
            field="reason",
        )
    row = _row(session, number, lock=True)
    if row.state != "current":
        raise RecordError(
            "certificate_not_current",
            f"certificate {row.number} is {row.state}: only a current certificate is revoked",
            f"证书 {row.number} 已{_STATE_ZH[row.state]}，只能撤销有效的证书",
        )
    _revoke(session, row, reason=reason[:MAX_REASON], by=by_id, now=now)
    return _view(session, row, private=True)


_STATE_ZH = {"current": "有效", "superseded": "被替换", "revoked": "撤销"}


def _revoke(session: Session, row: Certificate, *, reason: str, by: int | None, now: int) -> None:
    row.state, row.revoked_ms, row.revoked_reason, row.revoked_by_id = "revoked", now, reason, by
    session.add(row)
    session.flush()
    plan = session.get(PlanRow, row.plan_id)
    log.append(
        session,
        [
            _entry(
                row, "certificate_revoked", plan=plan.key if plan else None, reason=reason, by_id=by
            )
        ],
    )


# -------------------------------------------------------------------- verifying


def public_view(
    session: Session, *, number: str, trusted: Mapping[str, signing.VerifyKey]
) -> Verification:
    """What /verify says of certificate ``number`` (in its normal form), its stored
    record checked against ``trusted`` (the published keys). ``RecordError``
    ``certificate_not_found``."""
    row = _row(session, number)
    return verification(row, trusted)


def _state(row: Certificate) -> State:
    state = row.state
    assert state in ("current", "superseded", "revoked"), state  # the table's CHECK
    return state  # type: ignore[return-value]


def verification(row: Certificate, trusted: Mapping[str, signing.VerifyKey]) -> Verification:
    state = _state(row)
    record, problem = records.check(
        trusted, row.number, row.payload, signing.Signed(kid=row.kid, sig=row.sig)
    )
    if problem is not None or record is None:
        assert problem is not None
        return Verification(
            number=row.number,
            genuine=False,
            state=state,
            problem=problem.message,
            problem_zh=problem.message_zh,
        )
    dates: dict[str, Any] = {
        "issued_ms": record.issued_ms,
        "issued_on": records.date_iso(record.issued_ms),
    }
    if state == "superseded" and row.superseded_ms is not None:
        dates |= {
            "superseded_ms": row.superseded_ms,
            "superseded_on": records.date_iso(row.superseded_ms),
        }
    if state == "revoked" and row.revoked_ms is not None:
        dates |= {"revoked_ms": row.revoked_ms, "revoked_on": records.date_iso(row.revoked_ms)}
    if state != "current":
        return Verification(number=row.number, genuine=True, state=state, **dates)
    return Verification(
        number=row.number,
        genuine=True,
        state=state,
        **dates,
        holder=Holder(name=record.name, id_masked=record.id_masked),
        certificate=Certified(
            plan_title=record.plan_title,
            year=record.year,
            category=record.category,
            category_zh=records.category_zh(record.category),
            required_hours=record.required_hours,
            elective_hours=record.elective_hours,
            hours=record.hours,
            result=record.result,
            result_zh=records.RESULT_ZH[record.result],
            issuer=record.issuer,
        ),
    )


# -------------------------------------------------------------------------- lists


def mine(session: Session, *, learner_id: int) -> CertificatePage:
    """Every certificate of the learner, newest first, with the reason of a revocation."""
    rows = session.exec(
        select(Certificate)
        .where(Certificate.learner_id == learner_id)
        .order_by(col(Certificate.issued_ms).desc(), col(Certificate.number))
    ).all()
    views = tuple(_view(session, r, private=True, who=False) for r in rows)
    return CertificatePage(
        total=len(views), page=1, page_size=max(1, len(views)), certificates=views
    )


def search(
    session: Session,
    *,
    query: str = "",
    state: State | None = None,
    employer: str | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    private: bool = True,
) -> CertificatePage:
    """Certificates matching ``query`` (a number, a name, an ID number or a plan), of a
    ``state`` and of the learners now at ``employer`` when given, newest first. The
    reason of a revocation only when ``private`` (operators)."""
    statement = (
        select(Certificate)
        .join(User, col(User.id) == Certificate.learner_id)
        .join(PlanRow, col(PlanRow.id) == Certificate.plan_id)
    )
    if state is not None:
        statement = statement.where(Certificate.state == state)
    if employer is not None:
        statement = statement.where(User.employer == employer)
    if query.strip():
        statement = statement.where(_matches(query.strip()))
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    rows = session.exec(
        statement.order_by(col(Certificate.issued_ms).desc(), col(Certificate.number))
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    views = tuple(_view(session, r, private=private, who=private) for r in rows)
    return CertificatePage(total=int(total), page=page, page_size=page_size, certificates=views)


def _matches(query: str) -> Any:
    like = f"%{query}%"
    found: list[Any] = [
        col(User.display_name).like(like),
        col(PlanRow.title).like(like),
        col(PlanRow.key).like(like),
        col(Certificate.number).like(f"%{query.upper()}%"),
    ]
    with contextlib.suppress(RecordError):
        found.append(Certificate.number == records.check_number(query))
    if len(query) >= 11:  # an ID or mobile number, whole: never a part of one
        found += [
            User.login == query.upper(),
            User.resident_id == query.upper(),
            User.phone == query,
        ]
    return sa.or_(*found)


def detail(
    session: Session, *, number: str, trusted: Mapping[str, signing.VerifyKey]
) -> CertificateDetail:
    """An operator's view of certificate ``number``; ``RecordError`` when there is none."""
    row = _row(session, number)
    chain = session.exec(
        select(Certificate)
        .where(Certificate.learner_id == row.learner_id, Certificate.plan_id == row.plan_id)
        .order_by(col(Certificate.issued_ms).desc(), col(Certificate.number))
    ).all()
    return CertificateDetail(
        certificate=_view(session, row, private=True),
        verification=verification(row, trusted),
        history=tuple(_view(session, r, private=True) for r in chain),
    )


# ------------------------------------------------------------------ who may see


def of_learner(session: Session, *, number: str, learner_id: int) -> Certificate:
    """The learner's own certificate ``number``; anyone else's does not exist (404)."""
    row = _row(session, number)
    if row.learner_id != learner_id:
        raise _not_found(number)
    return row


def of_employer(session: Session, *, number: str, employer: str) -> Certificate:
    """Certificate ``number`` of someone now at ``employer``; any other does not exist."""
    row = _row(session, number)
    holder = session.get(User, row.learner_id)
    if holder is None or holder.employer != employer:
        raise _not_found(number)
    return row


def certificate(session: Session, *, number: str) -> Certificate:
    return _row(session, number)


def require_current(row: Certificate) -> None:
    """A PDF is handed out of a current certificate only (409 otherwise)."""
    if row.state != "current":
        raise RecordError(
            "certificate_not_current",
            f"certificate {row.number} is {row.state}: only a current one is printed",
            f"证书 {row.number} 已{_STATE_ZH[row.state]}，只能下载有效的证书",
        )


def pdf(row: Certificate, *, settings: RecordsSettings, verify_base: str) -> bytes:
    """The PDF of ``row`` as issued (``verify_base``: the site's address, which its QR
    code opens ``/verify/<number>`` at)."""
    return render_pdf(
        row.payload,
        signing.Signed(kid=row.kid, sig=row.sig),
        verify_url=f"{verify_base.rstrip('/')}/verify/{row.number}",
        seal_image=settings.seal_image,
        font=settings.pdf_font,
    )


def file_name(row: Certificate) -> str:
    return f"certificate-{row.number}.pdf"


# ------------------------------------------------------------------------ helpers


def _not_found(number: str) -> RecordError:
    return RecordError(
        "certificate_not_found",
        f"there is no certificate {number}",
        f"没有编号为 {number} 的证书",
        field="number",
    )


def _row(session: Session, number: str, *, lock: bool = False) -> Certificate:
    statement = select(Certificate).where(Certificate.number == number)
    if lock:
        statement = statement.with_for_update()
    row = session.exec(statement).first()
    if row is None:
        raise _not_found(number)
    return row


def _view(
    session: Session, row: Certificate, *, private: bool, who: bool = True
) -> CertificateView:
    """``row`` as a list shows it (what its record says; an unreadable record — an
    edit of the database — shows as such rather than failing the list)."""
    try:
        record = records.decode(row.payload)
    except (msgspec.DecodeError, msgspec.ValidationError):
        record = records.Record(
            number=row.number,
            name="?",
            id_masked="?",
            employer="",
            plan="?",
            plan_title="?",
            year=row.year,
            category="",
            required_hours=0.0,
            elective_hours=0.0,
            result="passed",
            exam=None,
            issuer="?",
            issued_ms=row.issued_ms,
        )
    by = None
    if private and who and row.revoked_by_id is not None:
        actor = session.get(User, row.revoked_by_id)
        by = actor.display_name if actor is not None else None
    return CertificateView(
        number=row.number,
        state=_state(row),
        cause=row.cause,
        name=record.name,
        login=record.id_masked,
        employer=record.employer,
        plan=record.plan,
        plan_title=record.plan_title,
        year=record.year,
        category=record.category,
        required_hours=record.required_hours,
        elective_hours=record.elective_hours,
        result=record.result,
        issuer=record.issuer,
        issued_ms=row.issued_ms,
        supersedes=row.supersedes,
        superseded_by=row.superseded_by if private else None,
        superseded_ms=row.superseded_ms,
        revoked_ms=row.revoked_ms,
        revoked_reason=row.revoked_reason if private else None,
        revoked_by=by,
    )


def published(settings: RecordsSettings) -> dict[str, signing.VerifyKey]:
    """The keys /verify checks against (``api.services.keys.published``)."""
    return keys.published(settings)


__all__ = [
    "KEYS_PATH",
    "PAGE_SIZE",
    "CertificateDetail",
    "CertificatePage",
    "CertificateView",
    "Certified",
    "Holder",
    "RecordError",
    "Verification",
    "bind",
    "certificate",
    "check_pdf",
    "detail",
    "exam_results",
    "file_name",
    "hours_completed",
    "issue_due",
    "mine",
    "of_employer",
    "of_learner",
    "pdf",
    "public_view",
    "refresh",
    "render_pdf",
    "require_current",
    "revoke",
    "search",
    "verification",
]
