"""May this learner start an attempt now? The one rule, for the API, the pages and the CLI.

Formal attempts count per *study cycle*: the spec allows ``max_attempts`` (default two,
the source rule) plus any granted by an operator; after that the exam is locked until
the learner studies again, which opens a new cycle (``examengine.credit`` decides when).
Practice attempts never count; a learner may start ``per_day`` of them per calendar day
(China Standard Time, UTC+8 with no daylight saving: the day a learner sees) and must
wait ``cooldown`` after one closes before starting the next (decision 0013): each
practice result is a score, and an unthrottled score is an oracle for the key. A
refusal that only time ends carries ``retry_at_ms``. A learner who passed is done.

A staggered start (``ExamSpec.start_window``, decision 0021): each learner's formal start
opens at their own moment in the first minutes after the exam opens,
``start_opens_ms``, a hash of the exam and the learner, so it is the same on
every worker and on every visit, and spread evenly over the window.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from msgspec import Struct

from examengine.attempt import OPEN, State


class AttemptRecord(Struct, frozen=True, kw_only=True):
    """What eligibility needs of an earlier attempt."""

    id: str
    cycle: int
    practice: bool
    state: State
    passed: bool | None = None
    started_ms: int = 0
    finished_ms: int | None = None


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
    #: When a refusal that only waiting ends (the practice cap, the cool-down) ends.
    retry_at_ms: int | None = None

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
    now: int,
    practice: bool = False,
    practice_enabled: bool = True,
    practice_per_day: int | None = None,
    practice_cooldown_ms: int = 0,
    start_at_ms: int | None = None,
) -> Eligibility:
    """Whether a (formal or practice) attempt may start at ``now``, and why not.

    ``practice_per_day`` (None: no cap) and ``practice_cooldown_ms`` throttle practice;
    ``start_at_ms`` (``start_opens_ms``; None: no start window) holds formal starts back.
    """
    used = sum(1 for a in history if not a.practice and a.cycle == cycle)
    allowed = max_attempts + extra_attempts
    passed = not formal_ahead(history)
    # Any open attempt, formal or practice, must be finished first: a practice paper
    # beside a running formal exam would be a window onto the formal bank.
    open_attempt = next((a.id for a in history if a.state in OPEN), None)

    def answer(
        code: str,
        en: str,
        zh: str,
        *,
        ok: bool = False,
        locked: bool = False,
        retry_at_ms: int | None = None,
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
            retry_at_ms=retry_at_ms,
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
        wait = practice_wait(
            history, now=now, per_day=practice_per_day, cooldown_ms=practice_cooldown_ms
        )
        if wait is not None:
            code, until = wait
            at = datetime.fromtimestamp(until / 1000, tz=CST).strftime("%Y-%m-%d %H:%M")
            minutes = -(-practice_cooldown_ms // 60_000)
            if code == "practice_daily_cap":
                return answer(
                    code,
                    f"you have started all {practice_per_day} practice attempts allowed today; "
                    f"practice is possible again at {at} (China Standard Time)",
                    f"今天的 {practice_per_day} 次模拟练习已用完，{at}（北京时间）后可再次练习",
                    retry_at_ms=until,
                )
            return answer(
                code,
                f"practice attempts must be {minutes} minute(s) apart; "
                f"practice is possible again at {at} (China Standard Time)",
                f"两次模拟练习之间需间隔 {minutes} 分钟，{at}（北京时间）后可再次练习",
                retry_at_ms=until,
            )
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
    if start_at_ms is not None and now < start_at_ms:
        at = datetime.fromtimestamp(start_at_ms / 1000, tz=CST).strftime("%Y-%m-%d %H:%M:%S")
        return answer(
            "start_not_open",
            f"your start opens at {at} (China Standard Time): the exam's starts are "
            "spread over its first minutes",
            f"您的开考时间为 {at}（北京时间）：本考试的考生分批开考",
            retry_at_ms=start_at_ms,
        )
    left = allowed - used
    return answer(
        "ok",
        f"you may start attempt {used + 1} of {allowed} ({left} left)",
        f"可以开始第 {used + 1} 次考试（共 {allowed} 次，剩余 {left} 次）",
        ok=True,
    )


#: China Standard Time: UTC+8 all year (no daylight saving).
CST = timezone(timedelta(hours=8), "CST")
CST_OFFSET_MS = 8 * 3600 * 1000
DAY_MS = 24 * 3600 * 1000


def start_opens_ms(*, exam: str, learner: str, opens_ms: int, spread_ms: int) -> int:
    """When ``learner``'s formal start of ``exam`` opens (UTC ms): ``opens_ms`` plus a
    share of ``spread_ms`` from a hash of the exam and the learner (BLAKE2b), so the
    same learner gets the same moment everywhere, different exams spread differently,
    and a cohort's moments fall evenly over the window. Whole seconds, so the moment
    the page shows is the moment the server holds to.
    """
    if spread_ms <= 0:
        return opens_ms
    message = f"{exam}\x00{learner}".encode()
    digest = hashlib.blake2b(message, digest_size=8, person=b"start-window").digest()
    share = int.from_bytes(digest, "big") / 2**64
    return opens_ms + int(share * (spread_ms // 1000)) * 1000


def formal_ahead(history: Sequence[AttemptRecord]) -> bool:
    """May the learner still sit a formal attempt of the exam, now or after studying
    again? Yes until they pass it: attempts used up only lock the exam until the next
    study cycle, which opens new attempts (with new papers)."""
    return not any(a.passed for a in history if not a.practice)


def day_start_ms(now: int) -> int:
    """The start (UTC ms) of the calendar day in China Standard Time that holds ``now``."""
    return (now + CST_OFFSET_MS) // DAY_MS * DAY_MS - CST_OFFSET_MS


def practice_wait(
    history: Sequence[AttemptRecord], *, now: int, per_day: int | None, cooldown_ms: int
) -> tuple[str, int] | None:
    """Why a practice attempt may not start at ``now`` and when it may (the later of
    the end of the day when the cap is reached and the end of the cool-down), or None.

    The cap counts practice attempts *started* on today's calendar day; the cool-down
    runs from the close of the latest practice attempt.
    """
    practices = [a for a in history if a.practice]
    today = day_start_ms(now)
    capped = per_day is not None and sum(1 for a in practices if a.started_ms >= today) >= per_day
    last_close = max((a.finished_ms for a in practices if a.finished_ms is not None), default=None)
    cooling = last_close is not None and now < last_close + cooldown_ms
    cool_end = last_close + cooldown_ms if last_close is not None else now
    if capped:
        return "practice_daily_cap", max(today + DAY_MS, cool_end)
    if cooling:
        return "practice_cooldown", cool_end
    return None
