"""The attempt service's errors: ``AttemptServiceError`` and its kinds. Each carries a
``code`` and its message in English and Chinese; the core's refusals are
``core.AttemptError`` (``examengine.attempt``), not these.
"""

from __future__ import annotations

from collections.abc import Sequence

from examengine.eligibility import Eligibility
from examengine.errors import EngineError

# --------------------------------------------------------------------------- errors


class AttemptServiceError(EngineError):
    """Root of this module's errors (the core's refusals are ``core.AttemptError``)."""

    code = "attempt_service_error"


class AttemptNotFoundError(AttemptServiceError):
    """No such attempt — or not this learner's (the same answer, so ids cannot be probed)."""

    code = "attempt_not_found"

    def __init__(self, attempt_id: str) -> None:
        self.attempt_id = attempt_id
        super().__init__(f"there is no attempt {attempt_id!r}", f"考试记录 {attempt_id!r} 不存在")


class LearnerNotFoundError(AttemptServiceError):
    code = "learner_not_found"

    def __init__(self, login: str) -> None:
        self.login = login
        super().__init__(f"there is no account {login!r}", f"账号 {login!r} 不存在")


class LearnersNotFoundError(AttemptServiceError):
    """Lines of a learner list that name no account: ``problems`` holds each line."""

    code = "learners_not_found"

    def __init__(self, unknown: Sequence[tuple[int, str]]) -> None:
        self.unknown = tuple(unknown)
        self.problems = tuple({"line": line, "login": login} for line, login in unknown)
        shown = ", ".join(f"line {line}: {login!r}" for line, login in unknown[:10])
        shown_zh = "，".join(f"第 {line} 行：{login!r}" for line, login in unknown[:10])
        more = f" (and {len(unknown) - 10} more)" if len(unknown) > 10 else ""
        more_zh = f"（另有 {len(unknown) - 10} 行）" if len(unknown) > 10 else ""
        super().__init__(
            f"{len(unknown)} line(s) name no account: {shown}{more}",
            f"{len(unknown)} 行没有对应的账号：{shown_zh}{more_zh}",
        )


class NotEligibleError(AttemptServiceError):
    """The learner may not start an attempt; ``code`` is eligibility's reason
    (``practice_daily_cap`` and ``practice_cooldown`` among them) and ``problems`` holds
    the whole answer (attempts left, the open attempt, ``retry_at_ms`` …)."""

    def __init__(self, answer: Eligibility, *, now: int | None = None) -> None:
        self.code = answer.code
        self.eligibility = answer
        self.problems = (answer,)
        #: A refusal that only waiting ends (the practice cap, the cool-down) says how
        #: long (→ Retry-After).
        self.retry_after_s: int | None = None
        if answer.retry_at_ms is not None and now is not None:
            self.retry_after_s = max(1, -(-(answer.retry_at_ms - now) // 1000))
        super().__init__(answer.message, answer.message_zh)


class BadAnswerError(AttemptServiceError):
    """A save names an item and carries a response the item cannot take."""

    code = "bad_response"

    def __init__(self, item: str, message: str, message_zh: str) -> None:
        self.item = item
        super().__init__(message, message_zh)
