"""May this learner start an attempt now? The one rule, for the API, the pages and the CLI.

Formal attempts count per *study cycle*: the spec allows ``max_attempts`` (default two,
the source rule) plus any granted by an operator; after that the exam is locked until
the learner studies again, which opens a new cycle (``examengine.credit`` decides when).
Practice attempts are unlimited and never count. A learner who passed is done.
"""

from __future__ import annotations

from collections.abc import Sequence

from msgspec import Struct

from examengine.attempt import OPEN, State


class AttemptRecord(Struct, frozen=True, kw_only=True):
    """What eligibility needs of an earlier attempt."""

    id: str
    cycle: int
    practice: bool
    state: State
    passed: bool | None = None


class Eligibility(Struct, frozen=True, kw_only=True):
    """The answer, with the reason in both languages and what the learner has left."""

    may_start: bool
    code: str
    message: str
    message_zh: str
    cycle: int
    attempts_used: int
    attempts_allowed: int
    locked: bool = False
    passed: bool = False
    open_attempt: str | None = None

    @property
    def attempts_left(self) -> int:
        return max(0, self.attempts_allowed - self.attempts_used)


def eligibility(
    history: Sequence[AttemptRecord],
    *,
    max_attempts: int,
    extra_attempts: int = 0,
    enrolled: bool,
    study_met: bool,
    cycle: int,
    practice: bool = False,
    practice_enabled: bool = True,
) -> Eligibility:
    """Whether a (formal or practice) attempt may start, and why not."""
    used = sum(1 for a in history if not a.practice and a.cycle == cycle)
    allowed = max_attempts + extra_attempts
    passed = any(a.passed for a in history if not a.practice)
    # Any open attempt, formal or practice, must be finished first: a practice paper
    # beside a running formal exam would be a window onto the formal bank.
    open_attempt = next((a.id for a in history if a.state in OPEN), None)

    def answer(
        code: str, en: str, zh: str, *, ok: bool = False, locked: bool = False
    ) -> Eligibility:
        return Eligibility(
            may_start=ok,
            code=code,
            message=en,
            message_zh=zh,
            cycle=cycle,
            attempts_used=used,
            attempts_allowed=allowed,
            locked=locked,
            passed=passed,
            open_attempt=open_attempt,
        )

    if not enrolled:
        return answer("not_enrolled", "you are not enrolled for this exam", "您未报名参加本考试")
    if open_attempt is not None:
        return answer(
            "attempt_open",
            "you have an attempt in progress: continue it before its time runs out",
            "您有一场正在进行的考试，请在考试时间结束前继续作答",
        )
    if practice:
        if not practice_enabled:
            return answer("practice_disabled", "this exam has no practice", "本考试未开放模拟练习")
        return answer("ok", "you may start a practice attempt", "可以开始模拟练习", ok=True)
    if passed:
        return answer("already_passed", "you have passed this exam", "您已通过本考试")
    if not study_met:
        return answer(
            "study_required",
            "finish the required study before sitting the exam",
            "请先完成规定的学习内容再参加考试",
        )
    if used >= allowed:
        return answer(
            "attempts_exhausted",
            f"you have used all {allowed} attempts; study again to open new attempts",
            f"您已用完 {allowed} 次考试机会，需重新学习后才能再次考试",
            locked=True,
        )
    left = allowed - used
    return answer(
        "ok",
        f"you may start attempt {used + 1} of {allowed} ({left} left)",
        f"可以开始第 {used + 1} 次考试（共 {allowed} 次，剩余 {left} 次）",
        ok=True,
    )
