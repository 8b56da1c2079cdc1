"""The engine's spec error counts only the problems that are errors (warnings do not stop
a paper), in both languages — what the author reads first (found by mutation testing)."""

from __future__ import annotations

from examengine.blueprint import SpecProblem
from examengine.errors import SpecInvalidError


def problem(severity: str) -> SpecProblem:
    return SpecProblem(code="c", where="w", message="m", message_zh="问", severity=severity)


def test_a_spec_error_counts_its_errors_and_not_its_warnings() -> None:
    error = SpecInvalidError("公需", [problem("error"), problem("warning"), problem("error")])
    assert error.message == "exam '公需' cannot be assembled: 2 problem(s)"
    assert error.message_zh == "试卷 '公需' 无法组卷：2 个问题"
    assert len(error.problems) == 3 and error.code == "spec_invalid"


def test_a_problem_without_a_severity_counts_as_an_error() -> None:
    class Bare:  # a problem from elsewhere, with only a message
        message = "m"

    assert SpecInvalidError("x", [Bare(), problem("warning")]).message.endswith(": 1 problem(s)")
