"""Exam use cases: save, validate and publish exam specs; build, preassemble, preview and
audit the learners' papers.

Each function is one unit of work on a session the caller opened (``api.store.db.transaction``)
and takes the time as ``now`` and the paper secret as bytes (``Settings.security
.paper_secret``, encoded by the caller). The rules are examengine's (``validate``,
``paper_seed``, ``compile_exam``, ``assemble``); this module reads and writes rows.

Versions: saving a spec makes a new *draft* version, or replaces the latest version in
place while that is still a draft; ``publish`` freezes a draft for good. A spec identical
to the latest version's makes no new version. The server numbers the versions: the
``version`` field of a submitted spec is ignored, and a stored spec carries its row's
number (it is an input of every paper's seed).

Papers are built from published versions only. A paper is stored once per (exam version,
learner, attempt) and never rebuilt over: the stored paper is the record, its seed lets
an auditor rebuild it (``show_paper``).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

import msgspec
import numpy as np
from msgspec import Struct
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from api.services import banks
from api.store.tables import Bank, BankVersion, Exam, ExamVersion
from api.store.tables import Paper as PaperRow
from examengine.assembly import (
    CompiledExam,
    Paper,
    assemble,
    build_paper,
    compile_exam,
    paper_from_batch,
    paper_seed,
)
from examengine.blueprint import ExamSpec, SpecProblem, validate
from examengine.errors import EngineError, SpecInvalidError
from itembank.errors import BankNotFoundError
from itembank.model import Item

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` during long runs (the CLI's bar)."""

#: Papers assembled and inserted per batch in ``preassemble`` (bounds the arrays' memory).
PREASSEMBLE_CHUNK = 2000
#: Values per ``IN (…)`` list, well under SQLite's bound-parameter limit.
IN_CHUNK = 500
#: Most differences an audit lists one by one.
MAX_DIFFERENCES = 20

MAX_LEARNER_REF = 64


# --------------------------------------------------------------------------- errors


class ExamServiceError(EngineError):
    """Root of this module's errors: the request conflicts with the exams' state."""

    code = "exam_error"


class ExamNotFoundError(ExamServiceError):
    code = "exam_not_found"

    def __init__(self, exam: str, version: int | None = None) -> None:
        self.exam = exam
        self.version = version
        if version is None:
            super().__init__(f"there is no exam {exam!r}", f"考试 {exam!r} 不存在")
        else:
            super().__init__(
                f"exam {exam!r} has no version {version}", f"考试 {exam!r} 没有第 {version} 版"
            )


class ExamNotPublishedError(ExamServiceError):
    """Papers are built from published versions only."""

    code = "exam_not_published"

    def __init__(self, exam: str, version: int | None = None) -> None:
        self.exam = exam
        self.version = version
        if version is None:
            super().__init__(
                f"exam {exam!r} has no published version yet; publish one before papers are built",
                f"考试 {exam!r} 尚无已发布的版本；请先发布再组卷",
            )
        else:
            super().__init__(
                f"version {version} of exam {exam!r} is a draft; papers are built only from "
                "published versions",
                f"考试 {exam!r} 第 {version} 版是草稿；只能用已发布的版本组卷",
            )


class BankVersionNotPublishedError(ExamServiceError):
    """A published exam must draw from a bank version that can no longer change."""

    code = "bank_version_not_published"

    def __init__(self, exam: str, version: int, bank: str, bank_version: int) -> None:
        self.exam = exam
        self.bank = bank
        self.bank_version = bank_version
        super().__init__(
            f"exam {exam!r} v{version} draws from version {bank_version} of bank {bank!r}, "
            "which is still a draft; publish that bank version first",
            f"考试 {exam!r} 第 {version} 版使用题库 {bank!r} 第 {bank_version} 版，"
            "该版本仍是草稿；请先发布该题库版本",
        )


class SpecUnreadableError(ExamServiceError):
    """A spec file is not YAML/JSON, or a field has the wrong shape (named in the message)."""

    code = "spec_unreadable"


class PaperRequestInvalidError(ExamServiceError):
    """A learner reference or attempt number that no paper can have."""

    code = "paper_request_invalid"


# ----------------------------------------------------------------------------- wire


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


class PaperRecord(Struct, frozen=True, kw_only=True):
    exam: str
    version: int
    learner: str
    attempt: int
    paper: Paper
    #: True when this call built and stored it; False when it was stored already.
    created: bool


class PreassembleOutcome(Struct, frozen=True, kw_only=True):
    exam: str
    version: int
    attempt: int
    #: Papers built and stored by this run.
    built: int
    #: Learners who had a stored paper for this attempt already.
    existing: int


AuditStatus = Literal["identical", "differs", "none"]


class AuditResult(Struct, frozen=True, kw_only=True):
    """A paper rebuilt from its seed, compared with the stored record."""

    exam: str
    version: int
    learner: str
    attempt: int
    seed: str
    rebuilt: Paper
    #: The stored paper; None when there is none or it cannot be read.
    stored: Paper | None
    #: "none" when no paper is stored for this learner and attempt.
    status: AuditStatus
    identical: bool
    #: What differs, one line each (empty when identical).
    differences: tuple[str, ...] = ()
    #: The section titles, indexed by ``PaperItem.section``.
    sections: tuple[str, ...] = ()


class PreviewItem(Struct, frozen=True, kw_only=True):
    """One item of a preview paper, whole (the key included: previews are for authors)."""

    position: int
    section: int
    section_title: str
    points: float
    #: The order its options (or a matching item's answers) are shown in.
    order: tuple[str, ...]
    item: Item


class PaperPreview(Struct, frozen=True, kw_only=True):
    exam: str
    version: int
    learner: str
    attempt: int
    seed: str
    difficulty: float
    repeats: int
    items: tuple[PreviewItem, ...]


class ValidationOutcome(Struct, frozen=True, kw_only=True):
    ok: bool
    problems: tuple[SpecProblem, ...]


# --------------------------------------------------------------------------- specs


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

    An unknown bank or bank version is a problem too (``bank-not-found``), not an error.
    """
    try:
        _bank_version_row(session, spec.bank, spec.bank_version)
    except BankNotFoundError as exc:
        return [_bank_problem(spec, exc)]
    return validate(spec, banks.load_items(session, bank=spec.bank, version=spec.bank_version))


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
        if text == latest.spec:
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


# -------------------------------------------------------------------------- papers


def build_or_get_paper(
    session: Session,
    *,
    exam: str,
    learner: str,
    attempt: int,
    secret: bytes,
    now: datetime,
    version: int | None = None,
    exclude_seen_from_previous: bool = True,
) -> PaperRecord:
    """The learner's paper for ``attempt`` of a published version (the latest when
    ``version`` is None): the stored one if there is one, else built and stored.

    When the spec excludes seen items (and ``exclude_seen_from_previous``), the items of
    the learner's stored papers of earlier attempts of the same version are kept off it.
    Raises ``ExamNotFoundError`` or ``ExamNotPublishedError``.
    """
    _check_request(learner, attempt)
    exam_row, row = _published_version(session, exam, version)
    assert row.id is not None
    found = _stored(session, row.id, learner, attempt)
    if found is not None:
        return _record(exam_row, row, found, created=False)
    spec = _decode_spec(row.spec)
    compiled = _compiled(session, spec)
    seen: dict[str, set[str]] = {}
    if exclude_seen_from_previous and spec.exclude_seen:
        seen = _seen_keys(session, row.id, [learner], attempt)
    paper = build_paper(
        compiled, _seed(secret, spec, learner, attempt), exclude=seen.get(learner, set())
    )
    created = _insert_papers(session, row.id, attempt, [(learner, paper)], now) == 1
    # Whoever stored it first (a concurrent request may have), that is the record.
    stored = _stored(session, row.id, learner, attempt)
    assert stored is not None
    return _record(exam_row, row, stored, created=created)


def preassemble(
    session: Session,
    *,
    exam: str,
    learners: Iterable[str],
    attempt: int,
    secret: bytes,
    now: datetime,
    version: int | None = None,
    progress: Progress | None = None,
) -> PreassembleOutcome:
    """Build and store the missing papers of many learners at once (before an exam peak).

    Papers are assembled in vectorised batches of ``PREASSEMBLE_CHUNK`` and inserted in
    bulk; each equals the paper ``build_or_get_paper`` would build (a paper depends only
    on its own seed and exclusions). Learners with a stored paper are left alone.
    """
    wanted = list(dict.fromkeys(learners))
    for learner in wanted:
        _check_request(learner, attempt)
    exam_row, row = _published_version(session, exam, version)
    assert row.id is not None
    existing = _learners_with_paper(session, row.id, wanted, attempt)
    todo = [learner for learner in wanted if learner not in existing]
    if todo:
        spec = _decode_spec(row.spec)
        compiled = _compiled(session, spec)
        seen = _seen_keys(session, row.id, todo, attempt) if spec.exclude_seen else {}
        for start in range(0, len(todo), PREASSEMBLE_CHUNK):
            chunk = todo[start : start + PREASSEMBLE_CHUNK]
            seeds = np.array(
                [_seed(secret, spec, learner, attempt) for learner in chunk], dtype=np.uint64
            )
            batch = assemble(compiled, seeds, exclude=[seen.get(lr, set()) for lr in chunk])
            papers = [(lr, paper_from_batch(compiled, batch, n)) for n, lr in enumerate(chunk)]
            _insert_papers(session, row.id, attempt, papers, now)
            if progress:
                progress("assemble", start + len(chunk), len(todo))
    return PreassembleOutcome(
        exam=exam_row.key,
        version=row.version,
        attempt=attempt,
        built=len(todo),
        existing=len(existing),
    )


def show_paper(
    session: Session,
    *,
    exam: str,
    learner: str,
    attempt: int,
    secret: bytes,
    version: int | None = None,
) -> AuditResult:
    """The audit: the learner's paper rebuilt from its seed, compared with the stored one.

    The version is the one holding the stored paper (the newest if several do), else the
    latest published one. The rebuild excludes exactly what the original build could
    have excluded: the items of this learner's papers of earlier attempts that were
    stored before this one.
    """
    _check_request(learner, attempt)
    exam_row = _exam(session, exam)
    if version is not None:
        row = _version(session, exam_row, version)
        assert row.id is not None
        found = _stored(session, row.id, learner, attempt)
    else:
        row, found = _newest_stored(session, exam_row, learner, attempt)
    assert row.id is not None
    spec = _decode_spec(row.spec)
    seen: dict[str, set[str]] = {}
    if spec.exclude_seen:
        before = found.id if found is not None else None
        seen = _seen_keys(session, row.id, [learner], attempt, before_id=before)
    seed = _seed(secret, spec, learner, attempt)
    rebuilt = build_paper(_compiled(session, spec), seed, exclude=seen.get(learner, set()))
    stored, differences = _compare(found, rebuilt)
    status: AuditStatus = "none" if found is None else ("differs" if differences else "identical")
    return AuditResult(
        exam=exam_row.key,
        version=row.version,
        learner=learner,
        attempt=attempt,
        seed=rebuilt.seed,
        rebuilt=rebuilt,
        stored=stored,
        status=status,
        identical=status == "identical",
        differences=tuple(differences),
        sections=tuple(s.title for s in spec.sections),
    )


def sample_paper(
    session: Session,
    *,
    secret: bytes,
    spec: ExamSpec | None = None,
    exam: str | None = None,
    version: int | None = None,
    learner: str = "preview",
    attempt: int = 1,
) -> Paper:
    """A paper for a preview, stored nowhere: of ``spec`` as given, or of a stored version
    of ``exam`` (the latest, draft or not, when ``version`` is None).

    Raises ``SpecInvalidError`` when the spec cannot be assembled from its bank version.
    """
    return _sample(
        session, secret=secret, spec=spec, exam=exam, version=version, learner=learner,
        attempt=attempt,
    )[1]  # fmt: skip


def preview_paper(
    session: Session,
    *,
    secret: bytes,
    exam: str,
    version: int | None = None,
    learner: str = "preview",
    attempt: int = 1,
) -> PaperPreview:
    """``sample_paper`` of a stored version, with each item whole (for authors)."""
    spec, paper, compiled = _sample(
        session, secret=secret, spec=None, exam=exam, version=version, learner=learner,
        attempt=attempt,
    )  # fmt: skip
    by_key = dict(zip(compiled.keys, compiled.items, strict=True))
    items = tuple(
        PreviewItem(
            position=n,
            section=i.section,
            section_title=spec.sections[i.section].title,
            points=i.points,
            order=i.order,
            item=by_key[i.key],
        )
        for n, i in enumerate(paper.items, start=1)
    )
    return PaperPreview(
        exam=spec.key,
        version=spec.version,
        learner=learner,
        attempt=attempt,
        seed=paper.seed,
        difficulty=paper.difficulty,
        repeats=paper.repeats,
        items=items,
    )


def _sample(
    session: Session,
    *,
    secret: bytes,
    spec: ExamSpec | None,
    exam: str | None,
    version: int | None,
    learner: str,
    attempt: int,
) -> tuple[ExamSpec, Paper, CompiledExam]:
    _check_request(learner, attempt)
    if spec is None:
        if exam is None:
            raise TypeError("sample_paper needs a spec or an exam")
        exam_row = _exam(session, exam)
        row = (
            _version(session, exam_row, version)
            if version is not None
            else _latest(session, exam_row)
        )
        if row is None:
            raise ExamNotFoundError(exam)
        spec = _decode_spec(row.spec)
    compiled = _compiled(session, spec)
    return spec, build_paper(compiled, _seed(secret, spec, learner, attempt)), compiled


# ------------------------------------------------------------------ compiled exams


class _CompiledCache:
    """A small LRU of compiled exams (compiling takes ~50 ms on a 10k-item bank).

    The key is (bank version id, the bank version's content hash, a digest of the spec's
    JSON). That is safe because a compiled exam is a pure function of the spec and the
    bank version's items: a published exam version and a published bank version never
    change, so their entries can never go stale; a draft exam version changed in place
    has a new spec digest, and a draft bank version edited in place (``banks.save_item``)
    has a new content hash, so an edit is a miss, never a stale hit. Entries are read by
    many request threads: a lock guards the dict; a compile runs outside it (two threads
    may compile the same exam once each, harmlessly).
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[int, str, str], CompiledExam] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[int, str, str], build: Callable[[], CompiledExam]) -> CompiledExam:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        compiled = build()
        with self._lock:
            self._entries[key] = compiled
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return compiled

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


COMPILED = _CompiledCache(size=16)


def _compiled(session: Session, spec: ExamSpec) -> CompiledExam:
    """The compiled exam of ``spec`` (cached); ``SpecInvalidError`` if it has errors."""
    try:
        bank_row = _bank_version_row(session, spec.bank, spec.bank_version)
    except BankNotFoundError as exc:
        raise SpecInvalidError(spec.key, [_bank_problem(spec, exc)]) from None
    assert bank_row.id is not None
    digest = hashlib.blake2b(_SPEC_ENCODER.encode(spec), digest_size=16).hexdigest()
    key = (bank_row.id, bank_row.content_hash, digest)

    def build() -> CompiledExam:
        items = banks.load_items(session, bank=spec.bank, version=spec.bank_version)
        return compile_exam(spec, items)

    return COMPILED.get(key, build)


# ---------------------------------------------------------------------------- rows


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


def _exam(session: Session, key: str) -> Exam:
    found = session.exec(select(Exam).where(Exam.key == key)).first()
    if found is None:
        raise ExamNotFoundError(key)
    return found


def _get_or_create_exam(session: Session, key: str, now: datetime) -> Exam:
    found = session.exec(select(Exam).where(Exam.key == key)).first()
    if found is not None:
        return found
    row = Exam(key=key, created_at=now)
    session.add(row)
    session.flush()
    return row


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


def _published_version(
    session: Session, exam: str, version: int | None
) -> tuple[Exam, ExamVersion]:
    exam_row = _exam(session, exam)
    if version is None:
        row = _latest(session, exam_row, published=True)
        if row is None:
            raise ExamNotPublishedError(exam)
        return exam_row, row
    row = _version(session, exam_row, version)
    if row.state != "published":
        raise ExamNotPublishedError(exam, version)
    return exam_row, row


def _stored(session: Session, version_id: int, learner: str, attempt: int) -> PaperRow | None:
    return session.exec(
        select(PaperRow).where(
            PaperRow.exam_version_id == version_id,
            PaperRow.learner_ref == learner,
            PaperRow.attempt == attempt,
        )
    ).first()


def _newest_stored(
    session: Session, exam_row: Exam, learner: str, attempt: int
) -> tuple[ExamVersion, PaperRow | None]:
    """The newest version holding this learner's paper for ``attempt``, and the paper;
    else the latest published version and None."""
    found = session.exec(
        select(ExamVersion, PaperRow)
        .join(PaperRow, col(PaperRow.exam_version_id) == col(ExamVersion.id))
        .where(
            ExamVersion.exam_id == exam_row.id,
            PaperRow.learner_ref == learner,
            PaperRow.attempt == attempt,
        )
        .order_by(col(ExamVersion.version).desc())
        .limit(1)
    ).first()
    if found is not None:
        return found[0], found[1]
    latest = _latest(session, exam_row, published=True)
    if latest is None:
        raise ExamNotPublishedError(exam_row.key)
    return latest, None


def _record(exam_row: Exam, row: ExamVersion, stored: PaperRow, *, created: bool) -> PaperRecord:
    return PaperRecord(
        exam=exam_row.key,
        version=row.version,
        learner=stored.learner_ref,
        attempt=stored.attempt,
        paper=_PAPER_DECODER.decode(stored.content),
        created=created,
    )


def _chunks(values: Sequence[str], size: int = IN_CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _learners_with_paper(
    session: Session, version_id: int, learners: Sequence[str], attempt: int
) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(learners):
        found.update(
            session.exec(
                select(PaperRow.learner_ref).where(
                    PaperRow.exam_version_id == version_id,
                    PaperRow.attempt == attempt,
                    col(PaperRow.learner_ref).in_(chunk),
                )
            ).all()
        )
    return found


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
    for chunk in _chunks(learners):
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


def _insert_papers(
    session: Session,
    version_id: int,
    attempt: int,
    papers: Sequence[tuple[str, Paper]],
    now: datetime,
) -> int:
    """Insert papers, skipping any (version, learner, attempt) stored meanwhile by a
    concurrent request; returns the rows inserted (-1 when the driver cannot tell)."""
    values = [
        {
            "exam_version_id": version_id,
            "learner_ref": learner,
            "attempt": attempt,
            "seed": paper.seed,
            "content": _PAPER_ENCODER.encode(paper).decode(),
            "created_at": now,
        }
        for learner, paper in papers
    ]
    if not values:
        return 0
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = PaperRow.metadata.tables[PaperRow.__tablename__]
    statement = insert(table).on_conflict_do_nothing()
    if len(values) == 1:  # RETURNING tells whether it went in (rowcount may be -1)
        inserted = session.execute(statement.values(**values[0]).returning(table.c.id))
        return len(inserted.all())
    session.execute(statement, values)
    return -1


# ------------------------------------------------------------------------- audits


def _compare(found: PaperRow | None, rebuilt: Paper) -> tuple[Paper | None, list[str]]:
    """The stored paper (if readable) and what differs from the rebuilt one."""
    if found is None:
        return None, []
    try:
        stored = _PAPER_DECODER.decode(found.content)
    except msgspec.MsgspecError as exc:
        return None, [f"the stored paper cannot be read ({' '.join(str(exc).split())})"]
    differences = []
    if found.seed != rebuilt.seed:
        differences.append(f"seed column {found.seed} ≠ {rebuilt.seed}")
    differences += _paper_differences(stored, rebuilt)
    if len(differences) > MAX_DIFFERENCES:
        more = len(differences) - MAX_DIFFERENCES
        differences = [*differences[:MAX_DIFFERENCES], f"… and {more} more"]
    return stored, differences


def _paper_differences(stored: Paper, rebuilt: Paper) -> list[str]:
    out = []
    if stored.seed != rebuilt.seed:
        out.append(f"seed {stored.seed} ≠ {rebuilt.seed}")
    if len(stored.items) != len(rebuilt.items):
        out.append(f"{len(stored.items)} items stored, {len(rebuilt.items)} rebuilt")
    for position, (a, b) in enumerate(zip(stored.items, rebuilt.items, strict=False), start=1):
        if a.key != b.key:
            out.append(f"position {position}: item {a.key} ≠ {b.key}")
        elif a.order != b.order:
            out.append(
                f"position {position} ({a.key}): option order "
                f"{' '.join(a.order)} ≠ {' '.join(b.order)}"
            )
        elif (a.section, a.points) != (b.section, b.points):
            out.append(
                f"position {position} ({a.key}): section/points {a.section}/{a.points} ≠ "
                f"{b.section}/{b.points}"
            )
    if stored.difficulty != rebuilt.difficulty:
        out.append(f"mean difficulty {stored.difficulty} ≠ {rebuilt.difficulty}")
    if stored.repeats != rebuilt.repeats:
        out.append(f"repeats {stored.repeats} ≠ {rebuilt.repeats}")
    return out
