"""Exam specs: reading them (YAML or JSON), validating them against their bank version's
items, saving them as versions, publishing a version, and listing exams and versions.

Versions: saving a spec makes a new *draft* version, or replaces the latest version in
place while that is still a draft; ``publish`` freezes a draft for good. A spec identical
to the latest version's makes no new version. The server numbers the versions: the
``version`` field of a submitted spec is ignored, and a stored spec carries its row's
number (it is an input of every paper's seed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec
from msgspec import Struct
from sqlmodel import Session, col, select

from api.services import banks
from api.services import calibration as calibrations
from api.services.exams._row import (
    _bank_problem,
    _bank_version_row,
    _calibration_problem,
    _decode_spec,
    _encode_spec,
    _exam,
    _latest,
    _version,
)
from api.services.exams.error import (
    BankVersionNotPublishedError,
    ExamNotFoundError,
    SpecUnreadableError,
)
from api.store.tables import Exam, ExamVersion
from examengine.blueprint import ExamSpec, SpecProblem, validate
from examengine.errors import SpecInvalidError
from itembank.errors import BankNotFoundError


class ExamVersionInfo(Struct, frozen=True, kw_only=True):
    exam: str
    version: int
    state: str
    title: str
    bank: str
    bank_version: int
    #: Items on every paper.
    length: int
    created_at: datetime
    published_at: datetime | None = None


class SaveOutcome(Struct, frozen=True, kw_only=True):
    version: ExamVersionInfo
    #: True when the spec equals the latest version's: nothing was stored.
    unchanged: bool
    #: Problems that do not stop assembly (a topic whose share rounds to zero).
    warnings: tuple[SpecProblem, ...] = ()


class ExamDetail(Struct, frozen=True, kw_only=True):
    """An exam's latest version with its spec, and every version."""

    version: ExamVersionInfo
    spec: ExamSpec
    #: The latest published version, the one papers are built from (None: none yet).
    published: int | None
    versions: tuple[ExamVersionInfo, ...]


class ValidationOutcome(Struct, frozen=True, kw_only=True):
    ok: bool
    problems: tuple[SpecProblem, ...]


def decode_spec(data: bytes, *, source: str, fmt: Literal["json", "yaml"] = "yaml") -> ExamSpec:
    """The spec in ``data`` (YAML, or JSON, which YAML also reads).

    Raises ``SpecUnreadableError`` naming ``source`` and, for a wrong shape, the field.
    """
    try:
        if fmt == "json":
            return msgspec.json.decode(data, type=ExamSpec)
        return msgspec.yaml.decode(data, type=ExamSpec)
    except msgspec.ValidationError as exc:
        raise _wrong_shape(source, exc) from None
    except msgspec.DecodeError as exc:
        reason = " ".join(str(exc).split())
        raise SpecUnreadableError(
            f"{source}: not valid {fmt.upper()}: {reason}",
            f"{source}：不是有效的 {fmt.upper()} 文件：{reason}",
        ) from None


def convert_spec(value: Any, *, source: str) -> ExamSpec:
    """The spec in ``value`` (decoded JSON); ``SpecUnreadableError`` naming the field."""
    try:
        return msgspec.convert(value, ExamSpec)
    except msgspec.ValidationError as exc:
        raise _wrong_shape(source, exc) from None


def _wrong_shape(source: str, exc: msgspec.ValidationError) -> SpecUnreadableError:
    return SpecUnreadableError(
        f"{source}: {exc}", f"{source}：字段无效（{field_path(str(exc))}）：{exc}"
    )


def field_path(message: str) -> str:
    """The ``$.sections[0].count`` part of a msgspec validation message (the field a
    bad spec or plan file gets wrong)."""
    _, _, path = message.rpartition(" - at ")
    return path.strip("`") or "$"


def validate_spec(session: Session, spec: ExamSpec) -> list[SpecProblem]:
    """Every problem of ``spec`` against its bank version's items (the live check).

    An unknown bank or bank version is a problem too (``bank-not-found``), not an error,
    and so is a calibration the bank does not have (``calibration-not-found``).
    """
    try:
        _bank_version_row(session, spec.bank, spec.bank_version)
    except BankNotFoundError as exc:
        return [_bank_problem(spec, exc)]
    problems = validate(spec, banks.load_items(session, bank=spec.bank, version=spec.bank_version))
    if spec.calibration is not None and not calibrations.exists(
        session, spec.bank, spec.calibration
    ):
        problems.append(_calibration_problem(spec))
    return problems


def save_spec(
    session: Session, spec: ExamSpec, *, now: datetime, author_id: int | None = None
) -> SaveOutcome:
    """Store ``spec`` as the exam's new draft version (or as its draft, changed in place).

    Raises ``SpecInvalidError`` with every problem, storing nothing, when the spec cannot
    be assembled from its bank version. A spec equal to the latest version's is not
    stored again (``unchanged``).
    """
    problems = validate_spec(session, spec)
    if any(p.severity == "error" for p in problems):
        raise SpecInvalidError(spec.key, problems)
    warnings = tuple(p for p in problems if p.severity != "error")
    bank_row = _bank_version_row(session, spec.bank, spec.bank_version)
    assert bank_row.id is not None
    exam_row = _get_or_create_exam(session, spec.key, now)
    latest = _latest(session, exam_row)
    if latest is not None:
        text = _encode_spec(spec, latest.version)
        # compared decoded: a version stored before a spec field was added lacks its key
        if _decode_spec(latest.spec) == msgspec.structs.replace(spec, version=latest.version):
            return SaveOutcome(version=_info(exam_row, latest), unchanged=True, warnings=warnings)
        if latest.state == "draft":
            latest.spec, latest.bank_version_id = text, bank_row.id
            latest.created_at, latest.created_by = now, author_id
            session.add(latest)
            session.flush()
            return SaveOutcome(version=_info(exam_row, latest), unchanged=False, warnings=warnings)
    number = latest.version + 1 if latest is not None else 1
    row = ExamVersion(
        exam_id=exam_row.id,  # type: ignore[arg-type]
        version=number,
        state="draft",
        spec=_encode_spec(spec, number),
        bank_version_id=bank_row.id,
        created_at=now,
        created_by=author_id,
    )
    session.add(row)
    session.flush()
    return SaveOutcome(version=_info(exam_row, row), unchanged=False, warnings=warnings)


def publish(session: Session, *, exam: str, version: int, now: datetime) -> ExamVersionInfo:
    """Freeze a draft version; publishing a published version is a no-op.

    Raises ``BankVersionNotPublishedError`` when its bank version is a draft (it could
    still change under the papers) and ``SpecInvalidError`` when the spec can no longer
    be assembled from that bank version.
    """
    exam_row = _exam(session, exam)
    row = _version(session, exam_row, version, for_update=True)
    if row.state == "published":
        return _info(exam_row, row)
    spec = _decode_spec(row.spec)
    bank_row = _bank_version_row(session, spec.bank, spec.bank_version)
    if bank_row.state != "published":
        raise BankVersionNotPublishedError(exam, version, spec.bank, spec.bank_version)
    problems = validate_spec(session, spec)
    if any(p.severity == "error" for p in problems):
        raise SpecInvalidError(exam, problems)
    row.state, row.published_at = "published", now
    session.add(row)
    session.flush()
    return _info(exam_row, row)


def list_exams(session: Session) -> list[ExamVersionInfo]:
    """The latest version of every exam, by key."""
    out = []
    for exam_row in session.exec(select(Exam).order_by(col(Exam.key))):
        latest = _latest(session, exam_row)
        if latest is not None:
            out.append(_info(exam_row, latest))
    return out


def exam_detail(session: Session, *, exam: str) -> ExamDetail:
    """The latest version and its spec, the latest published version, every version."""
    exam_row = _exam(session, exam)
    rows = session.exec(
        select(ExamVersion)
        .where(ExamVersion.exam_id == exam_row.id)
        .order_by(col(ExamVersion.version))
    ).all()
    if not rows:
        raise ExamNotFoundError(exam)
    published = [r.version for r in rows if r.state == "published"]
    return ExamDetail(
        version=_info(exam_row, rows[-1]),
        spec=_decode_spec(rows[-1].spec),
        published=published[-1] if published else None,
        versions=tuple(_info(exam_row, r) for r in rows),
    )


def _info(exam_row: Exam, row: ExamVersion) -> ExamVersionInfo:
    spec = _decode_spec(row.spec)
    return ExamVersionInfo(
        exam=exam_row.key,
        version=row.version,
        state=row.state,
        title=spec.title,
        bank=spec.bank,
        bank_version=spec.bank_version,
        length=spec.length,
        created_at=row.created_at,
        published_at=row.published_at,
    )


def _get_or_create_exam(session: Session, key: str, now: datetime) -> Exam:
    found = session.exec(select(Exam).where(Exam.key == key)).first()
    if found is not None:
        return found
    row = Exam(key=key, created_at=now)
    session.add(row)
    session.flush()
    return row
