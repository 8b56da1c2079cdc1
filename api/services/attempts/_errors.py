"""The attempt service's errors: ``AttemptServiceError`` and its kinds. Each carries a
``code`` and its message in English and Chinese; the core's refusals are
``core.AttemptError`` (``examengine.attempt``), not these.
"""

from __future__ import annotations

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


class NotEligibleError(AttemptServiceError):
    """The learner may not start an attempt; ``code`` is eligibility's reason and
    ``problems`` holds the whole answer (attempts left, the open attempt …)."""

    def __init__(self, answer: Eligibility) -> None:
        self.code = answer.code
        self.eligibility = answer
        self.problems = (answer,)
        super().__init__(answer.message, answer.message_zh)


class BadAnswerError(AttemptServiceError):
    """A save names an item and carries a response the item cannot take."""

    code = "bad_response"

    def __init__(self, item: str, message: str, message_zh: str) -> None:
        self.item = item
        super().__init__(message, message_zh)
