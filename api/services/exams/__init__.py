"""Exam use cases: save, validate and publish exam specs; build, preassemble, preview and
audit the learners' papers.

Each function is one unit of work on a session the caller opened (``api.store.db.transaction``)
and takes the time as ``now`` and the paper secret as bytes (``Settings.security
.paper_secret``, encoded by the caller). The rules are examengine's (``validate``,
``paper_seed``, ``compile_exam``, ``assemble``); this package reads and writes rows.

The modules, by concept (callers import from the package, which re-exports them all):

- ``error``: the ``ExamServiceError`` family;
- ``spec``: reading, validating, saving and publishing specs as versions (a draft
  changes in place, ``publish`` freezes it), listing exams and their versions;
- ``paper``: building a learner's paper from a published version, preassembling many;
- ``preview``: papers of a spec or a stored version for authors, stored nowhere;
- ``audit``: a stored paper rebuilt from its seed and compared with the record;
- ``cache``: the compiled exams (``COMPILED``), shared by the three above;
- ``_row``: the rows they share (specs and papers as JSON, seeds, version look-ups).

Papers are built from published versions only. A paper is stored once per (exam version,
learner, attempt) and never rebuilt over: the stored paper is the record, its seed lets
an auditor rebuild it (``show_paper``).
"""

from api.services.exams._row import MAX_LEARNER_REF
from api.services.exams.audit import MAX_DIFFERENCES, AuditResult, AuditStatus, show_paper
from api.services.exams.cache import COMPILED
from api.services.exams.error import (
    BankVersionNotPublishedError,
    ExamNotFoundError,
    ExamNotPublishedError,
    ExamServiceError,
    PaperRequestInvalidError,
    SpecUnreadableError,
)
from api.services.exams.paper import (
    PREASSEMBLE_CHUNK,
    PaperRecord,
    PreassembleOutcome,
    Progress,
    build_or_get_paper,
    preassemble,
)
from api.services.exams.preview import PaperPreview, PreviewItem, preview_paper, sample_paper
from api.services.exams.spec import (
    ExamDetail,
    ExamVersionInfo,
    SaveOutcome,
    ValidationOutcome,
    convert_spec,
    decode_spec,
    exam_detail,
    field_path,
    list_exams,
    publish,
    save_spec,
    validate_spec,
)

# The core's types that callers reach through this package (``exams.ExamSpec``).
from examengine.assembly import Paper
from examengine.blueprint import ExamSpec

__all__ = [
    "COMPILED",
    "MAX_DIFFERENCES",
    "MAX_LEARNER_REF",
    "PREASSEMBLE_CHUNK",
    "AuditResult",
    "AuditStatus",
    "BankVersionNotPublishedError",
    "ExamDetail",
    "ExamNotFoundError",
    "ExamNotPublishedError",
    "ExamServiceError",
    "ExamSpec",
    "ExamVersionInfo",
    "Paper",
    "PaperPreview",
    "PaperRecord",
    "PaperRequestInvalidError",
    "PreassembleOutcome",
    "PreviewItem",
    "Progress",
    "SaveOutcome",
    "SpecUnreadableError",
    "ValidationOutcome",
    "build_or_get_paper",
    "convert_spec",
    "decode_spec",
    "exam_detail",
    "field_path",
    "list_exams",
    "preassemble",
    "preview_paper",
    "publish",
    "sample_paper",
    "save_spec",
    "show_paper",
    "validate_spec",
]
