"""The table rows (SQLModel ``table=True``): accounts, item banks and their versions, the
items of a version, scored responses for item analysis, exams and their spec versions,
and the learners' papers.

This module owns the shape of the database and nothing else: no queries, no rules.
Services (api/services) read and write these rows inside one transaction
(``api.db.transaction``); domain Structs are converted in one place with
``msgspec.convert(row, X, from_attributes=True)``. Every change here needs a migration in
api/migrations/versions (``tests/contract`` checks that the two agree).

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
BANK_VERSION_STATES = ("draft", "published")
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
    """An account. ``login`` is a resident ID (GB 11643) or a mobile number."""

    __tablename__ = "user"

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=120)
    password_hash: str = Field(max_length=255)
    #: A list of names from ``ROLES``.
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    must_change_password: bool = Field(default=True)
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
