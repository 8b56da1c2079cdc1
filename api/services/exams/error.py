"""The errors of the exam use cases: the ``ExamServiceError`` family (the request
conflicts with the exams' state), which the HTTP shell maps to responses.
"""

from __future__ import annotations

from examengine.errors import EngineError


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
