"""The rows the exam use cases share: specs and papers as stored (JSON), a paper's seed,
the check of a paper request, and reading banks' and exams' versions and stored papers
(``IN (…)`` lists in chunks). Nothing here decides anything; the modules that own the use
cases do.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from sqlmodel import Session, col, select

from api.services.exams.error import ExamNotFoundError, PaperRequestInvalidError
from api.store.db import in_chunks
from api.store.tables import Bank, BankVersion, Exam, ExamVersion
from api.store.tables import Paper as PaperRow
from examengine.assembly import Paper, paper_seed
from examengine.blueprint import ExamSpec, SpecProblem
from itembank.errors import BankNotFoundError

MAX_LEARNER_REF = 64


_SPEC_ENCODER = msgspec.json.Encoder()
_SPEC_DECODER = msgspec.json.Decoder(ExamSpec)
_PAPER_ENCODER = msgspec.json.Encoder()
_PAPER_DECODER = msgspec.json.Decoder(Paper)


def _encode_spec(spec: ExamSpec, version: int) -> str:
    return _SPEC_ENCODER.encode(msgspec.structs.replace(spec, version=version)).decode()


def _decode_spec(text: str) -> ExamSpec:
    return _SPEC_DECODER.decode(text)


def _seed(secret: bytes, spec: ExamSpec, learner: str, attempt: int) -> int:
    return paper_seed(
        secret,
        exam=spec.key,
        spec_version=spec.version,
        bank=spec.bank,
        bank_version=spec.bank_version,
        learner=learner,
        attempt=attempt,
        calibration=spec.calibration,
    )


def _check_request(learner: str, attempt: int) -> None:
    if not learner or len(learner) > MAX_LEARNER_REF or learner != learner.strip():
        raise PaperRequestInvalidError(
            f"learner {learner!r}: expected 1 to {MAX_LEARNER_REF} characters, no surrounding "
            "spaces",
            f"考生标识 {learner!r} 无效：应为 1 至 {MAX_LEARNER_REF} 个字符，且首尾无空格",
        )
    if attempt < 1:
        raise PaperRequestInvalidError(
            f"attempt {attempt}: attempts are numbered from 1", f"第 {attempt} 次无效：次数从 1 起"
        )


def _bank_problem(spec: ExamSpec, exc: BankNotFoundError) -> SpecProblem:
    return SpecProblem(
        code="bank-not-found",
        where="bank" if exc.version is None else "bank_version",
        message=exc.message,
        message_zh=exc.message_zh,
    )


def _calibration_problem(spec: ExamSpec) -> SpecProblem:
    """The spec names a calibration its bank does not have."""
    return SpecProblem(
        code="calibration-not-found",
        where="calibration",
        message=f"bank {spec.bank!r} has no calibration {spec.calibration}: calibrate it "
        "first (examengine bank calibrate), or leave calibration out",
        message_zh=f"题库 {spec.bank!r} 没有第 {spec.calibration} 次校准：请先校准"
        "（examengine bank calibrate），或删去 calibration",
    )


def _bank_version_row(session: Session, bank: str, version: int) -> BankVersion:
    found = session.exec(
        select(BankVersion)
        .join(Bank, col(Bank.id) == col(BankVersion.bank_id))
        .where(Bank.name == bank, BankVersion.version == version)
    ).first()
    if found is None:
        exists = session.exec(select(Bank.id).where(Bank.name == bank)).first()
        raise BankNotFoundError(bank, version if exists is not None else None)
    return found


def _exam(session: Session, key: str) -> Exam:
    found = session.exec(select(Exam).where(Exam.key == key)).first()
    if found is None:
        raise ExamNotFoundError(key)
    return found


def _latest(session: Session, exam_row: Exam, *, published: bool = False) -> ExamVersion | None:
    query = select(ExamVersion).where(ExamVersion.exam_id == exam_row.id)
    if published:
        query = query.where(ExamVersion.state == "published")
    return session.exec(query.order_by(col(ExamVersion.version).desc()).limit(1)).first()


def _version(
    session: Session, exam_row: Exam, version: int, *, for_update: bool = False
) -> ExamVersion:
    query = select(ExamVersion).where(
        ExamVersion.exam_id == exam_row.id, ExamVersion.version == version
    )
    if for_update:
        query = query.with_for_update()
    found = session.exec(query).first()
    if found is None:
        raise ExamNotFoundError(exam_row.key, version)
    return found


def _stored(session: Session, version_id: int, learner: str, attempt: int) -> PaperRow | None:
    return session.exec(
        select(PaperRow).where(
            PaperRow.exam_version_id == version_id,
            PaperRow.learner_ref == learner,
            PaperRow.attempt == attempt,
        )
    ).first()


def _seen_keys(
    session: Session,
    version_id: int,
    learners: Sequence[str],
    attempt: int,
    *,
    before_id: int | None = None,
) -> dict[str, set[str]]:
    """Per learner, the item keys of their stored papers of attempts before ``attempt``
    of this version (only papers stored before row ``before_id``, when given)."""
    seen: dict[str, set[str]] = {}
    if attempt <= 1:
        return seen
    for chunk in in_chunks(learners):
        query = select(PaperRow.learner_ref, PaperRow.content).where(
            PaperRow.exam_version_id == version_id,
            PaperRow.attempt < attempt,
            col(PaperRow.learner_ref).in_(chunk),
        )
        if before_id is not None:
            query = query.where(col(PaperRow.id) < before_id)
        for learner, content in session.exec(query):
            keys = seen.setdefault(learner, set())
            try:
                keys.update(i.key for i in _PAPER_DECODER.decode(content).items)
            except msgspec.MsgspecError:  # a damaged record: its audit will say so
                continue
    return seen
