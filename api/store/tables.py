"""The table rows (SQLModel ``table=True``): accounts, item banks and their versions, the
items of a version, scored responses for item analysis, exams and their spec versions,
and the learners' papers.

This module owns the shape of the database and nothing else: no queries, no rules.
Services (api/services) read and write these rows inside one transaction
(``api.store.db.transaction``); domain Structs are converted in one place with
``msgspec.convert(row, X, from_attributes=True)``. Every change here needs a migration in
api/store/migrations/versions (``tests/contract`` checks that the two agree).

Rows are **not validated** when built (SQLModel skips validation for ``table=True``):
validate input as a msgspec Struct first, then build the row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel

#: Constraint names for every backend, so later migrations (SQLite batch mode included)
#: can refer to constraints by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

ROLES = ("learner", "author", "employer_admin", "proctor", "operator")
GENDERS = ("male", "female")
ACCOUNT_EVENT_KINDS = (
    "registered", "imported", "password_reset", "roles_changed", "activation_sent", "activated",
    "initial_password_used", "code_redeemed", "code_refused", "employer_changed",
)  # fmt: skip
#: What an activation link is for: a new account's first password, or a staff reset.
ACTIVATION_PURPOSES = ("activation", "password_reset")
BANK_VERSION_STATES = ("draft", "published")
#: An order's life (``examengine.commerce.OrderState``) and its kinds.
ORDER_STATES = ("pending", "paid", "cancelled", "refunded")
ORDER_KINDS = ("individual", "group")
#: What is recorded of an order: created, paid, cancelled, refunded, and the invoice's
#: request, correction and issue.
ORDER_EVENT_KINDS = (
    "created", "paid", "cancelled", "refunded", "invoice_requested", "invoice_corrected",
    "invoice_issued",
)  # fmt: skip
INVOICE_STATES = ("requested", "issued")
#: How a plan is priced: per person, or per credit hour of the plan.
PRICE_BASES = ("person", "hour")
EXAM_VERSION_STATES = ("draft", "published")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so values are stored in
    UTC and given ``tzinfo=UTC`` when read. Naive datetimes are refused on the way in:
    a naive time is a bug (whose clock?).
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware UTC time")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _created_at() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False))


class User(SQLModel, table=True):
    """An account. ``login`` is the unique login name: the resident ID (GB 11643) for
    learners, a mobile number or a chosen name for staff. ``display_name`` is the
    person's real name (it is printed on certificates).

    ``resident_id`` and ``phone`` are the normalised identifiers a learner may also log in
    with (upper-case X, no +86); both are unique and empty for staff created by the CLI.
    The profile fields are nullable because accounts made before them have none.
    """

    __tablename__ = "user"
    __table_args__ = (sa.CheckConstraint("gender IN ('male', 'female')", name="gender"),)

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=120)
    password_hash: str = Field(max_length=255)
    #: A list of names from ``ROLES``.
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    must_change_password: bool = Field(default=True)
    created_at: datetime = _created_at()
    resident_id: str | None = Field(default=None, max_length=18, unique=True)
    phone: str | None = Field(default=None, max_length=11, unique=True)
    #: One of ``GENDERS``.
    gender: str | None = Field(default=None, max_length=8)
    #: The employer (单位), as registered; employer administrators act on their own only.
    employer: str | None = Field(default=None, max_length=200)
    district: str | None = Field(default=None, max_length=100)
    remark: str | None = Field(default=None, max_length=200)
    #: Moved on by a password change, a reset and a role change: a login session made
    #: under an older generation is over (docs/decisions/0014).
    session_generation: int = Field(
        default=0, sa_column_kwargs={"server_default": "0", "nullable": False}
    )


class AccountEvent(SQLModel, table=True):
    """What happened to an account and who did it (registered, imported from a roster,
    password reset, roles changed): append-only, never updated."""

    __tablename__ = "account_event"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    #: Who did it (None: the account holder, or the command line).
    actor_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    #: One of ``ACCOUNT_EVENT_KINDS``.
    kind: str = Field(max_length=32)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _created_at()


class Bank(SQLModel, table=True):
    __tablename__ = "bank"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    created_at: datetime = _created_at()


class BankVersion(SQLModel, table=True):
    """One version of a bank. A published version never changes; drafts may be replaced."""

    __tablename__ = "bank_version"
    __table_args__ = (
        sa.UniqueConstraint("bank_id", "version"),
        sa.CheckConstraint("state IN ('draft', 'published')", name="state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="bank.id", index=True)
    version: int
    state: str = Field(default="draft", max_length=16)
    #: The format it was imported from ("native", "gift", "aiken", "moodle_xml", "qti").
    source_format: str = Field(max_length=32)
    source_name: str = Field(default="", max_length=255)
    #: Hex digest over the encoded items, to spot identical re-imports.
    content_hash: str = Field(max_length=128)
    item_count: int = 0
    created_at: datetime = _created_at()
    published_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    created_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")


class BankItem(SQLModel, table=True):
    """One item of a bank version; ``data`` is the item as msgspec JSON text
    (``itembank.model.encode_item``): text rather than a JSON column, because it is
    written and read whole, in bulk (msgspec is several times faster than the JSON
    column's ``json.dumps``), and stem search is a plain LIKE on every backend.

    ``key``, ``kind``, ``topic`` and ``status`` repeat fields of ``data`` so assembly can
    select items without decoding them.
    """

    __tablename__ = "bank_item"
    __table_args__ = (
        sa.UniqueConstraint("bank_version_id", "key"),
        sa.Index("ix_bank_item_bank_version_id_topic", "bank_version_id", "topic"),
    )

    id: int | None = Field(default=None, primary_key=True)
    bank_version_id: int = Field(foreign_key="bank_version.id", ondelete="CASCADE")
    position: int
    key: str = Field(max_length=120)
    kind: str = Field(max_length=32)
    topic: str = Field(default="", max_length=200)
    status: str = Field(default="active", max_length=16)
    data: str = Field(sa_column=Column(sa.Text, nullable=False))


class BankMedia(SQLModel, table=True):
    """An image a bank's items refer to as ``media:<sha256>`` (``itembank.media``), stored
    once per bank by its content hash, so every version of the bank shares it; served at
    ``/media/{sha256}`` to those who may see an item referring to it (decision 0032).
    ``bank_version_id``: the version whose import brought it."""

    __tablename__ = "bank_media"
    __table_args__ = (sa.UniqueConstraint("bank_id", "sha256"),)

    id: int | None = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="bank.id")
    sha256: str = Field(max_length=64, index=True)
    bank_version_id: int | None = Field(
        default=None, foreign_key="bank_version.id", ondelete="SET NULL"
    )
    mime: str = Field(max_length=32)
    name: str = Field(default="", max_length=255)
    size: int
    data: bytes = Field(sa_column=Column(sa.LargeBinary, nullable=False))
    created_at: datetime = _created_at()


class ItemResponse(SQLModel, table=True):
    """A scored response to one item, the input of item analysis (facility, discrimination)."""

    __tablename__ = "item_response"
    __table_args__ = (
        sa.Index("ix_item_response_bank_version_id_item_key", "bank_version_id", "item_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    bank_version_id: int = Field(foreign_key="bank_version.id")
    item_key: str = Field(max_length=120)
    #: Who answered, pseudonymous (an attempt id or a hash), never a login.
    learner_ref: str = Field(max_length=64)
    response: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    score: float
    max_score: float
    created_at: datetime = _created_at()


#: The IRT models a calibration may fit, and how it was linked to the bank's scale
#: (``itembank.calibration``).
CALIBRATION_MODELS = ("rasch", "2pl")
LINK_METHODS = ("none", "stocking_lord", "mean_sigma")


class Calibration(SQLModel, table=True):
    """A calibration of a bank (docs/decisions/0039): IRT parameters fitted to the
    stored formal responses of one bank version (``bank_version_id``), numbered per bank
    from 1, never changed once stored. ``link_*`` is how it was put on the scale of the
    bank's previous calibration (θ_previous = A·θ + B over ``link_anchors`` common
    items; ``link_previous`` its number). ``notes`` (a JSON list of strings): what a
    reader must know (too few responses, simulated learners)."""

    __tablename__ = "calibration"
    __table_args__ = (
        sa.UniqueConstraint("bank_id", "number"),
        sa.CheckConstraint("model IN ('rasch', '2pl')", name="model"),
        sa.CheckConstraint(
            "link_method IN ('none', 'stocking_lord', 'mean_sigma')", name="link_method"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="bank.id")
    number: int
    bank_version_id: int = Field(foreign_key="bank_version.id", index=True)
    #: One of ``CALIBRATION_MODELS``.
    model: str = Field(max_length=8)
    #: What fitted it, e.g. "girth 0.8.0 MML".
    fitter: str = Field(max_length=120)
    created_at: datetime = _created_at()
    created_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    learners: int
    #: One of ``LINK_METHODS``.
    link_method: str = Field(default="none", max_length=16)
    link_a: float = 1.0
    link_b: float = 0.0
    link_anchors: int = 0
    link_previous: int | None = None
    converged: bool
    iterations: int
    log_likelihood: float | None = None
    min_responses: int
    notes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class CalibrationItem(SQLModel, table=True):
    """One item's parameters in a calibration (``itembank.calibration.CalibratedItem``),
    in the bank version's item order (``position``). ``flags``: a JSON list of
    ``misfit``, ``drift``, ``few_responses``, ``not_converged``, ``extreme``."""

    __tablename__ = "calibration_item"
    __table_args__ = (sa.UniqueConstraint("calibration_id", "item_key"),)

    id: int | None = Field(default=None, primary_key=True)
    calibration_id: int = Field(foreign_key="calibration.id", ondelete="CASCADE")
    position: int
    item_key: str = Field(max_length=120)
    a: float
    b: float
    se_a: float | None = None
    se_b: float | None = None
    responses: int
    p_value: float | None = None
    infit: float | None = None
    outfit: float | None = None
    provisional: bool
    anchor: bool
    drift_a: float | None = None
    drift_b: float | None = None
    flags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class Exam(SQLModel, table=True):
    """An exam, named by the ``key`` of its specs; what it asks is in its versions."""

    __tablename__ = "exam"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=120, unique=True)
    created_at: datetime = _created_at()


class ExamVersion(SQLModel, table=True):
    """One version of an exam spec. A published version never changes (papers are built
    from it and must be rebuildable); a draft may be replaced in place.

    ``spec`` is the ``examengine.blueprint.ExamSpec`` as msgspec JSON text, its
    ``version`` field equal to this row's ``version``.
    """

    __tablename__ = "exam_version"
    __table_args__ = (
        sa.UniqueConstraint("exam_id", "version"),
        sa.CheckConstraint("state IN ('draft', 'published')", name="state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    exam_id: int = Field(foreign_key="exam.id")
    version: int
    state: str = Field(default="draft", max_length=16)
    spec: str = Field(sa_column=Column(sa.Text, nullable=False))
    bank_version_id: int = Field(foreign_key="bank_version.id", index=True)
    created_at: datetime = _created_at()
    published_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    created_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")


class Paper(SQLModel, table=True):
    """A learner's paper for one attempt: the record (``content``, an
    ``examengine.assembly.Paper`` as msgspec JSON text) and the seed it was built from,
    so an auditor can rebuild it and compare."""

    __tablename__ = "paper"
    __table_args__ = (sa.UniqueConstraint("exam_version_id", "learner_ref", "attempt"),)

    id: int | None = Field(default=None, primary_key=True)
    exam_version_id: int = Field(foreign_key="exam_version.id")
    #: The learner's stable id (a login or a user id as text).
    learner_ref: str = Field(max_length=64)
    attempt: int
    #: The 64-bit seed in hex (16 digits).
    seed: str = Field(max_length=16)
    content: str = Field(sa_column=Column(sa.Text, nullable=False))
    created_at: datetime = _created_at()


# ------------------------------------------------------------------------ attempts
#: States of an attempt (``examengine.attempt.State``) and its expiry policies.
ATTEMPT_STATES = ("in_progress", "overdue", "submitted", "expired", "terminated")


def _ms(*, nullable: bool = False, default: int | None = None) -> Any:
    """A time in UTC milliseconds from the one server clock (BIGINT: ms overflow INT)."""
    column = Column(sa.BigInteger, nullable=nullable)
    return Field(default=default, sa_column=column)


class Activation(SQLModel, table=True):
    """A one-time link that lets an account holder set their password (a new account
    from a roster, or a reset by staff). Only the token's SHA-256 is kept: the token is
    192 random bits, sent to the holder and nowhere else (docs/decisions/0023)."""

    __tablename__ = "activation"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True)
    #: One of ``ACTIVATION_PURPOSES``.
    purpose: str = Field(max_length=16)
    created_ms: int = _ms()
    expires_ms: int = _ms()
    #: When it was used, or replaced by a newer link for the same account.
    used_ms: int | None = _ms(nullable=True)
    replaced_ms: int | None = _ms(nullable=True)


class PlanCode(SQLModel, table=True):
    """An activation code sold for a bank transfer (``serial`` printed beside it): one
    use, bound to a plan (and so a year), maybe to an employer's staff, until it
    expires. Only the code's SHA-256 is kept; the code itself went out once, in the
    issuing batch's file (docs/decisions/0024)."""

    __tablename__ = "plan_code"

    id: int | None = Field(default=None, primary_key=True)
    serial: str = Field(max_length=32, unique=True)
    code_hash: str = Field(max_length=64, unique=True)
    batch: str = Field(max_length=32, index=True)
    plan_id: int = Field(foreign_key="plan.id")
    #: Only this employer's learners may redeem it (None: anyone).
    employer: str | None = Field(default=None, max_length=200)
    created_ms: int = _ms()
    expires_ms: int = _ms()
    issued_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    redeemed_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    redeemed_ms: int | None = _ms(nullable=True)


class Enrollment(SQLModel, table=True):
    """A learner may sit an exam. ``study_cycle`` counts the learner's rounds of study
    (formal attempts count per cycle); ``study_met`` says the required study is done."""

    __tablename__ = "enrollment"
    __table_args__ = (sa.UniqueConstraint("learner_id", "exam_key"),)

    id: int | None = Field(default=None, primary_key=True)
    learner_id: int = Field(foreign_key="user.id")
    exam_key: str = Field(max_length=120)
    study_cycle: int = 1
    study_met: bool = False
    created_at: datetime = _created_at()


class Attempt(SQLModel, table=True):
    """One attempt (``examengine.attempt.Attempt`` as a row). ``next_check_ms`` is when
    the sweeper must look at it (None once closed); its index is the sweeper's query.
    ``number`` counts the learner's formal attempts at the exam over every cycle (and,
    separately, practice attempts): it is the paper's attempt number."""

    __tablename__ = "attempt"
    __table_args__ = (
        sa.UniqueConstraint("learner_id", "exam_key", "practice", "number"),
        sa.CheckConstraint(
            "state IN ('in_progress', 'overdue', 'submitted', 'expired', 'terminated')",
            name="state",
        ),
    )

    id: str = Field(primary_key=True, max_length=32)
    learner_id: int = Field(foreign_key="user.id")
    exam_key: str = Field(max_length=120)
    exam_version_id: int = Field(foreign_key="exam_version.id")
    paper_id: int = Field(foreign_key="paper.id")
    number: int
    cycle: int
    practice: bool
    state: str = Field(max_length=16)
    policy: str = Field(max_length=16)
    grace_ms: int = 0
    started_ms: int = _ms()
    deadline_ms: int = _ms()
    next_check_ms: int | None = Field(
        default=None, sa_column=Column(sa.BigInteger, nullable=True, index=True)
    )
    device: str = Field(max_length=64)
    last_seq: int = 0
    finished_ms: int | None = _ms(nullable=True)
    #: When the close was stored (the sweeper's or a request's clock); ``finished_ms`` is
    #: the rule's finish (the deadline, for an attempt closed by the clock).
    closed_ms: int | None = _ms(nullable=True)
    score: float | None = None
    max_score: float | None = None
    passed: bool | None = None
    reason: str = Field(default="", max_length=500)
    #: The item keys the learner flagged for review, as a JSON list (decision 0031).
    flags: str = Field(default="[]", sa_column=Column(sa.Text, nullable=False, server_default="[]"))


class AnswerStep(SQLModel, table=True):
    """One accepted answer change, append-only: never updated, never deleted. The latest
    step of each item is the learner's answer; a regrade replays them."""

    __tablename__ = "answer_step"
    __table_args__ = (sa.UniqueConstraint("attempt_id", "item_key", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    attempt_id: str = Field(foreign_key="attempt.id", max_length=32)
    item_key: str = Field(max_length=120)
    seq: int
    #: The response as JSON text (``None`` → ``null``: the answer was cleared).
    response: str = Field(sa_column=Column(sa.Text, nullable=False))
    saved_ms: int = _ms()
    device: str = Field(max_length=64)


class AttemptEvent(SQLModel, table=True):
    """Every event the attempt core returned, in order (``data`` is the event as msgspec
    JSON text, its tag included), integrity events too."""

    __tablename__ = "attempt_event"

    id: int | None = Field(default=None, primary_key=True)
    attempt_id: str = Field(foreign_key="attempt.id", max_length=32, index=True)
    kind: str = Field(max_length=40)
    at_ms: int = _ms()
    data: str = Field(sa_column=Column(sa.Text, nullable=False))


class AttemptOverride(SQLModel, table=True):
    """An operator's allowance, with who and why: extra attempts for the learner's
    study cycle ``cycle``, extra time for every later attempt of the exam, or (with
    ``attempt_id``) the extra time given to one running attempt."""

    __tablename__ = "attempt_override"
    __table_args__ = (
        sa.Index("ix_attempt_override_learner_id_exam_key", "learner_id", "exam_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    learner_id: int = Field(foreign_key="user.id")
    exam_key: str = Field(max_length=120)
    cycle: int
    attempt_id: str | None = Field(default=None, foreign_key="attempt.id", max_length=32)
    extra_time_ms: int = _ms(default=0)
    extra_attempts: int = 0
    by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    reason: str = Field(max_length=500)
    at_ms: int = _ms()


# --------------------------------------------------------------------------- study
#: Kinds of ``study_event`` rows (``examengine.credit`` event tags).
STUDY_EVENT_KINDS = (
    "challenge_issued",
    "challenge_passed",
    "challenge_missed",
    "segment_voided",
    "session_taken_over",
    "chapter_completed",
)


class Plan(SQLModel, table=True):
    """A training plan (学习计划): required and elective hours, the exam it unlocks, and
    what must be studied again after two failed attempts (``restudy``)."""

    __tablename__ = "plan"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=120, unique=True)
    title: str = Field(max_length=200)
    year: int
    category: str = Field(max_length=32)
    required_hours: float
    elective_hours: float
    exam_key: str | None = Field(default=None, max_length=120)
    restudy: str = Field(default="required", max_length=16)
    required_first: bool = True
    #: The plan's anti-idle policy as JSON (``examengine.challenges.ChallengePolicy``);
    #: None: the service's default.
    challenge: str | None = Field(default=None, max_length=1000)
    created_at: datetime = _created_at()
    #: The price in fen (分), per ``price_basis`` (one of ``PRICE_BASES``); 0: free.
    price_fen: int = Field(
        default=0, sa_column=Column(sa.BigInteger, nullable=False, server_default="0")
    )
    price_basis: str = Field(
        default="person", max_length=8, sa_column_kwargs={"server_default": "person"}
    )


class Course(SQLModel, table=True):
    """A course; ``bank`` names the item bank of its anti-idle questions (None: prompts)."""

    __tablename__ = "course"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=120, unique=True)
    title: str = Field(max_length=200)
    bank: str | None = Field(default=None, max_length=200)
    created_at: datetime = _created_at()


class PlanCourse(SQLModel, table=True):
    """A course in a plan: required or elective, in order (required first)."""

    __tablename__ = "plan_course"
    __table_args__ = (sa.UniqueConstraint("plan_id", "course_id"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id")
    course_id: int = Field(foreign_key="course.id")
    required: bool
    position: int


class Chapter(SQLModel, table=True):
    """A chapter of a course: its playing time and the credit hours it carries."""

    __tablename__ = "chapter"

    id: int | None = Field(default=None, primary_key=True)
    course_id: int = Field(foreign_key="course.id", index=True)
    key: str = Field(max_length=120, unique=True)
    title: str = Field(max_length=200)
    position: int
    duration_ms: int = _ms()
    credit_hours: float = 0.0


class PlanEnrollment(SQLModel, table=True):
    """A learner studies a plan; ``cycle`` is the study cycle (a re-study opens the next)."""

    __tablename__ = "plan_enrollment"
    __table_args__ = (sa.UniqueConstraint("learner_id", "plan_id"),)

    id: int | None = Field(default=None, primary_key=True)
    learner_id: int = Field(foreign_key="user.id")
    plan_id: int = Field(foreign_key="plan.id")
    cycle: int = 1
    created_at: datetime = _created_at()


class ChapterProgress(SQLModel, table=True):
    """A learner's verified credit on a chapter in one study cycle. ``credited_ms`` only
    grows (written in batches by the study ticker); ``completed_ms`` is set once, when
    the credit reaches the duration; ``position_ms`` is where playing resumes."""

    __tablename__ = "chapter_progress"
    __table_args__ = (sa.UniqueConstraint("learner_id", "chapter_id", "cycle"),)

    id: int | None = Field(default=None, primary_key=True)
    learner_id: int = Field(foreign_key="user.id")
    chapter_id: int = Field(foreign_key="chapter.id")
    cycle: int
    credited_ms: int = _ms(default=0)
    position_ms: int = _ms(default=0)
    updated_ms: int = _ms(default=0)
    completed_ms: int | None = _ms(nullable=True)


class StudyEvent(SQLModel, table=True):
    """Integrity events of study (challenge issued, passed, missed; segment voided;
    session taken over; chapter completed), append-only; ``data`` is the core's event as
    msgspec JSON text. The event-log issue chains them."""

    __tablename__ = "study_event"

    id: int | None = Field(default=None, primary_key=True)
    learner_id: int = Field(foreign_key="user.id", index=True)
    chapter_id: int = Field(foreign_key="chapter.id")
    cycle: int
    kind: str = Field(max_length=40)
    seq: int | None = None
    at_ms: int = _ms()
    data: str = Field(sa_column=Column(sa.Text, nullable=False))


# ------------------------------------------------------------------------ employers
class Employer(SQLModel, table=True):
    """An employer (单位): the registry of the names learners and administrators carry
    in ``User.employer`` (the current one), with its unified social credit code when
    known. Who worked where, and when, is in ``Employment``."""

    __tablename__ = "employer"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    #: 统一社会信用代码 (GB 32100), 18 characters, when known.
    credit_code: str | None = Field(default=None, max_length=18, unique=True)
    region: str | None = Field(default=None, max_length=100)
    created_at: datetime = _created_at()


class Employment(SQLModel, table=True):
    """A learner belonged to an employer from ``start_ms`` until ``end_ms`` (None: still
    does). At most one open row per learner; rows are closed, never deleted, so a
    certificate can name the employer of its time."""

    __tablename__ = "employment"
    __table_args__ = (
        sa.Index(
            "uq_employment_current", "user_id", unique=True,
            sqlite_where=sa.text("end_ms IS NULL"), postgresql_where=sa.text("end_ms IS NULL"),
        ),
    )  # fmt: skip

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    employer_id: int = Field(foreign_key="employer.id", index=True)
    start_ms: int = _ms()
    end_ms: int | None = _ms(nullable=True)
    #: Who made the change (None: the account holder, or the command line).
    actor_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")


# ------------------------------------------------------------------- orders, invoices
class PurchaseOrder(SQLModel, table=True):
    """An order for one plan: a learner's own (``individual``) or an employer's for its
    staff (``group``, one line per learner). Amounts are integer fen. ``number`` is what
    people quote (and a bank transfer's remark carries)."""

    __tablename__ = "purchase_order"
    __table_args__ = (
        sa.CheckConstraint("state IN ('pending', 'paid', 'cancelled', 'refunded')", name="state"),
        sa.CheckConstraint("kind IN ('individual', 'group')", name="kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=24, unique=True)
    kind: str = Field(max_length=16)
    buyer_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    #: The employer a group order is for (None: an individual's).
    employer: str | None = Field(default=None, max_length=200, index=True)
    plan_id: int = Field(foreign_key="plan.id")
    unit_fen: int = Field(sa_column=Column(sa.BigInteger, nullable=False))
    amount_fen: int = Field(sa_column=Column(sa.BigInteger, nullable=False))
    state: str = Field(default="pending", max_length=16)
    #: The payment provider chosen (``api.services.payments``).
    provider: str = Field(max_length=32)
    created_ms: int = _ms()
    paid_ms: int | None = _ms(nullable=True)
    closed_ms: int | None = _ms(nullable=True)


class OrderLine(SQLModel, table=True):
    """One learner on an order. While ``active`` (the order pending or paid) no other
    active line may hold the same learner and plan: two buyers at once make one order."""

    __tablename__ = "order_line"
    __table_args__ = (
        sa.Index(
            "uq_order_line_active", "learner_id", "plan_id", unique=True,
            sqlite_where=sa.text("active"), postgresql_where=sa.text("active"),
        ),
    )  # fmt: skip

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True)
    learner_id: int = Field(foreign_key="user.id", index=True)
    plan_id: int = Field(foreign_key="plan.id")
    amount_fen: int = Field(sa_column=Column(sa.BigInteger, nullable=False))
    active: bool = True


class Payment(SQLModel, table=True):
    """Money in (``payment``) or back (``refund``) for an order, as a provider reported
    it: ``reference`` is the provider's (a bank transfer's serial) and is unique per
    provider and kind, so a callback told twice is stored once."""

    __tablename__ = "payment"
    __table_args__ = (sa.UniqueConstraint("provider", "reference", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True)
    kind: str = Field(max_length=16)
    provider: str = Field(max_length=32)
    reference: str = Field(max_length=64)
    amount_fen: int = Field(sa_column=Column(sa.BigInteger, nullable=False))
    at_ms: int = _ms()
    actor_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")


class OrderEvent(SQLModel, table=True):
    """What happened to an order or its invoice, who did it and the detail:
    append-only."""

    __tablename__ = "order_event"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True)
    #: One of ``ORDER_EVENT_KINDS``.
    kind: str = Field(max_length=32)
    actor_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at_ms: int = _ms()


class Invoice(SQLModel, table=True):
    """An electronic invoice (电子发票) asked for an order: its title (抬头) and tax
    number, issued by the finance system (``number``) from the export. One correction
    (``corrections``) within 15 days of the request, in the year of payment."""

    __tablename__ = "invoice"
    __table_args__ = (sa.CheckConstraint("state IN ('requested', 'issued')", name="state"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", unique=True)
    title: str = Field(max_length=100)
    tax_id: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=254)
    amount_fen: int = Field(sa_column=Column(sa.BigInteger, nullable=False))
    state: str = Field(default="requested", max_length=16)
    number: str | None = Field(default=None, max_length=32)
    requested_ms: int = _ms()
    issued_ms: int | None = _ms(nullable=True)
    corrections: int = 0


# -------------------------------------------------------------- records and evidence
#: A certificate's life: the current one of its learner and plan, replaced by a newer
#: one (a change of employer or name), or revoked by an operator.
CERTIFICATE_STATES = ("current", "superseded", "revoked")


class IntegrityCheckpoint(SQLModel, table=True):
    """A signed checkpoint of the integrity log (``examengine.integrity.Checkpoint``):
    the Merkle root over the heads of the chains that grew since the previous one."""

    __tablename__ = "integrity_checkpoint"

    id: int | None = Field(default=None, primary_key=True)
    at_ms: int = _ms()
    prev: str = Field(max_length=64)
    root: str = Field(max_length=64)
    leaves: int
    kid: str = Field(max_length=40)
    sig: str = Field(max_length=100)


class IntegrityEntry(SQLModel, table=True):
    """One entry of a learner's hash chain (``examengine.integrity.Entry``): append-only.
    ``checkpoint_id`` (outside the hash) names the checkpoint that signed this entry as
    its chain's head, when one did."""

    __tablename__ = "integrity_entry"
    __table_args__ = (sa.UniqueConstraint("learner_id", "seq"),)

    id: int | None = Field(default=None, sa_column=Column(sa.BigInteger().with_variant(
        sa.Integer(), "sqlite"), primary_key=True, autoincrement=True))  # fmt: skip
    learner_id: int = Field(foreign_key="user.id")
    seq: int
    at_ms: int = _ms()
    kind: str = Field(max_length=40)
    #: What the event is about: ``attempt:<id>``, ``chapter:<key>``, ``certificate:<no>``.
    ref: str = Field(max_length=160)
    data: str = Field(sa_column=Column(sa.Text, nullable=False))
    prev: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    checkpoint_id: int | None = Field(
        default=None, foreign_key="integrity_checkpoint.id", index=True
    )


class IntegrityHead(SQLModel, table=True):
    """The last entry of each learner's chain; appends lock it, so a chain grows one
    writer at a time. ``pending``: grown since the last checkpoint."""

    __tablename__ = "integrity_head"
    __table_args__ = (
        sa.Index("ix_integrity_head_pending", "learner_id",
                 sqlite_where=sa.text("pending"), postgresql_where=sa.text("pending")),
    )  # fmt: skip

    learner_id: int = Field(
        foreign_key="user.id", primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    seq: int
    hash: str = Field(max_length=64)
    pending: bool = True


class Certificate(SQLModel, table=True):
    """A certificate of a completed plan (docs/decisions/0027): ``payload`` is the
    signed record as canonical JSON (what the PDF prints and /verify shows), ``sig`` its
    Ed25519 signature by key ``kid``. Never deleted: a newer one supersedes it, or an
    operator revokes it, with the reason."""

    __tablename__ = "certificate"
    __table_args__ = (
        sa.CheckConstraint("state IN ('current', 'superseded', 'revoked')", name="state"),
        sa.Index("uq_certificate_current", "learner_id", "plan_id", unique=True,
                 sqlite_where=sa.text("state = 'current'"),
                 postgresql_where=sa.text("state = 'current'")),
    )  # fmt: skip

    number: str = Field(primary_key=True, max_length=24)
    learner_id: int = Field(foreign_key="user.id", index=True)
    plan_id: int = Field(foreign_key="plan.id")
    year: int
    state: str = Field(default="current", max_length=16)
    payload: str = Field(sa_column=Column(sa.Text, nullable=False))
    kid: str = Field(max_length=40)
    sig: str = Field(max_length=100)
    issued_ms: int = _ms()
    #: Why it was issued: ``passed``, ``employer_changed``, ``name_changed``, ``reissued``.
    cause: str = Field(max_length=32)
    supersedes: str | None = Field(default=None, max_length=24)
    superseded_by: str | None = Field(default=None, max_length=24)
    superseded_ms: int | None = _ms(nullable=True)
    revoked_ms: int | None = _ms(nullable=True)
    revoked_reason: str | None = Field(default=None, max_length=500)
    revoked_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
