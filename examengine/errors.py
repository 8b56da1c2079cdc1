"""The engine's errors: one root, structured fields, no HTTP status (api/errors.py maps
them). ``code`` is stable and machine-readable; messages come in English and Chinese."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class EngineError(Exception):
    """Root of examengine's errors."""

    code = "engine_error"

    def __init__(self, message: str, message_zh: str) -> None:
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh


class SpecInvalidError(EngineError):
    """An exam spec cannot be assembled from its bank; ``problems`` says why."""

    code = "spec_invalid"

    def __init__(self, exam: str, problems: Sequence[Any]) -> None:
        self.problems = tuple(problems)
        errors = sum(1 for p in problems if getattr(p, "severity", "error") == "error")
        super().__init__(
            f"exam {exam!r} cannot be assembled: {errors} problem(s)",
            f"试卷 {exam!r} 无法组卷：{errors} 个问题",
        )
