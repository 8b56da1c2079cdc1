"""May a learner start an attempt? Each reason with its code and both messages, and how
attempts are counted: formal attempts per study cycle, practice never, two by default
plus any an operator grants (DOMAIN.md, "The exam")."""

import pytest

from examengine.attempt import State
from examengine.eligibility import AttemptRecord, Eligibility, eligibility


def failed(id_, *, cycle=1, state=State.SUBMITTED):
    return AttemptRecord(id=id_, cycle=cycle, practice=False, state=state, passed=False)


def passed(id_, *, cycle=1):
    return AttemptRecord(id=id_, cycle=cycle, practice=False, state=State.SUBMITTED, passed=True)


def practice(id_, *, state=State.SUBMITTED, passed=False, cycle=1):
    return AttemptRecord(id=id_, cycle=cycle, practice=True, state=state, passed=passed)


def open_formal(id_, *, cycle=1, state=State.IN_PROGRESS):
    return AttemptRecord(id=id_, cycle=cycle, practice=False, state=state)


def ask(history=(), **overrides) -> Eligibility:
    options = {"max_attempts": 2, "enrolled": True, "study_met": True, "cycle": 1, "now": 0}
    options.update(overrides)
    return eligibility(list(history), **options)


# ------------------------------------------------------------------ each reason


def test_a_first_formal_attempt_may_start_with_two_left():
    answer = ask()
    assert answer.may_start
    assert answer.code == "ok"
    assert answer.message == "you may start attempt 1 of 2 (2 left)"
    assert answer.message_zh == "可以开始第 1 次考试（共 2 次，剩余 2 次）"
    assert (answer.attempts_used, answer.attempts_allowed, answer.attempts_left) == (0, 2, 2)
    assert not answer.locked
    assert not answer.passed
    assert answer.open_attempt is None
    assert answer.cycle == 1


def test_after_one_failed_attempt_the_second_may_start_with_one_left():
    answer = ask([failed("a1")])
    assert answer.may_start
    assert answer.code == "ok"
    assert answer.message == "you may start attempt 2 of 2 (1 left)"
    assert answer.message_zh == "可以开始第 2 次考试（共 2 次，剩余 1 次）"
    assert answer.attempts_left == 1


def test_a_learner_not_enrolled_may_not_start():
    answer = ask(enrolled=False)
    assert not answer.may_start
    assert answer.code == "not_enrolled"
    assert answer.message == "you are not enrolled for this exam"
    assert answer.message_zh == "您未报名参加本考试"


def test_a_learner_not_enrolled_may_not_practise_either():
    assert ask(enrolled=False, practice=True).code == "not_enrolled"


@pytest.mark.parametrize("state", [State.IN_PROGRESS, State.OVERDUE])
def test_an_open_attempt_must_be_continued_rather_than_a_new_one_started(state):
    answer = ask([open_formal("a1", state=state)])
    assert not answer.may_start
    assert answer.code == "attempt_open"
    assert answer.message == (
        "you have an attempt in progress: continue it before its time runs out"
    )
    assert answer.message_zh == "您有一场正在进行的考试，请在考试时间结束前继续作答"
    assert answer.open_attempt == "a1"
    assert not answer.locked


def test_an_open_practice_attempt_must_be_continued_before_another_practice():
    answer = ask([practice("p1", state=State.IN_PROGRESS)], practice=True)
    assert answer.code == "attempt_open"
    assert answer.open_attempt == "p1"


def test_a_practice_attempt_may_start_when_practice_is_enabled():
    answer = ask(practice=True)
    assert answer.may_start
    assert answer.code == "ok"
    assert answer.message == "you may start a practice attempt"
    assert answer.message_zh == "可以开始模拟练习"


def test_practice_is_refused_when_the_exam_has_none():
    answer = ask(practice=True, practice_enabled=False)
    assert not answer.may_start
    assert answer.code == "practice_disabled"
    assert answer.message == "this exam has no practice"
    assert answer.message_zh == "本考试未开放模拟练习"


def test_practice_needs_neither_finished_study_nor_attempts_left():
    history = [failed("a1"), failed("a2")]
    answer = ask(history, practice=True, study_met=False)
    assert answer.may_start
    assert answer.code == "ok"


def test_a_learner_who_passed_is_done():
    answer = ask([failed("a1"), passed("a2")])
    assert not answer.may_start
    assert answer.code == "already_passed"
    assert answer.message == "you have passed this exam"
    assert answer.message_zh == "您已通过本考试"
    assert answer.passed


def test_a_pass_in_an_earlier_cycle_still_counts():
    answer = ask([passed("a1", cycle=1)], cycle=2)
    assert answer.code == "already_passed"


def test_a_passed_practice_attempt_is_not_a_pass():
    answer = ask([practice("p1", passed=True)])
    assert answer.may_start
    assert answer.code == "ok"
    assert not answer.passed


def test_study_must_be_finished_before_a_formal_attempt():
    answer = ask(study_met=False)
    assert not answer.may_start
    assert answer.code == "study_required"
    assert answer.message == "finish the required study before sitting the exam"
    assert answer.message_zh == "请先完成规定的学习内容再参加考试"
    assert not answer.locked


def test_two_failed_formal_attempts_lock_the_exam():
    answer = ask([failed("a1"), failed("a2")])
    assert not answer.may_start
    assert answer.code == "attempts_exhausted"
    assert answer.message == "you have used all 2 attempts; study again to open new attempts"
    assert answer.message_zh == "您已用完 2 次考试机会，需重新学习后才能再次考试"
    assert answer.locked
    assert (answer.attempts_used, answer.attempts_allowed, answer.attempts_left) == (2, 2, 0)


@pytest.mark.parametrize("closed", [State.EXPIRED, State.TERMINATED, State.SUBMITTED])
def test_expired_and_terminated_attempts_count_as_failed_attempts(closed):
    answer = ask([failed("a1"), failed("a2", state=closed)])
    assert answer.code == "attempts_exhausted"
    assert answer.locked


# ------------------------------------------------------------------ counting


def test_practice_attempts_never_count():
    history = [practice(f"p{i}") for i in range(5)] + [failed("a1")]
    answer = ask(history)
    assert answer.may_start
    assert answer.attempts_used == 1
    assert answer.attempts_left == 1


def test_a_new_study_cycle_resets_the_count():
    history = [failed("a1", cycle=1), failed("a2", cycle=1)]
    assert ask(history, cycle=1).code == "attempts_exhausted"
    answer = ask(history, cycle=2)
    assert answer.may_start
    assert answer.cycle == 2
    assert answer.attempts_used == 0
    assert answer.message == "you may start attempt 1 of 2 (2 left)"


def test_attempts_of_the_new_cycle_count_in_the_new_cycle_only():
    history = [failed("a1", cycle=1), failed("a2", cycle=1), failed("a3", cycle=2)]
    answer = ask(history, cycle=2)
    assert answer.may_start
    assert answer.attempts_used == 1
    assert answer.message == "you may start attempt 2 of 2 (1 left)"
    assert ask([*history, failed("a4", cycle=2)], cycle=2).code == "attempts_exhausted"


def test_extra_attempts_granted_by_an_operator_extend_the_limit():
    history = [failed("a1"), failed("a2")]
    answer = ask(history, extra_attempts=1)
    assert answer.may_start
    assert answer.attempts_allowed == 3
    assert answer.message == "you may start attempt 3 of 3 (1 left)"
    assert answer.message_zh == "可以开始第 3 次考试（共 3 次，剩余 1 次）"
    exhausted = ask([*history, failed("a3")], extra_attempts=1)
    assert exhausted.code == "attempts_exhausted"
    assert exhausted.message == "you have used all 3 attempts; study again to open new attempts"
    assert exhausted.message_zh == "您已用完 3 次考试机会，需重新学习后才能再次考试"


def test_the_limit_comes_from_the_spec():
    assert ask([failed("a1")], max_attempts=1).code == "attempts_exhausted"
    assert ask([failed("a1"), failed("a2")], max_attempts=3).may_start


def test_attempts_left_is_never_negative():
    history = [failed(f"a{i}") for i in range(4)]
    answer = ask(history)
    assert answer.attempts_used == 4
    assert answer.attempts_left == 0


# ------------------------------------------------------------------ order of reasons


def test_not_enrolled_is_said_before_anything_else():
    history = [open_formal("a1"), failed("a2")]
    assert ask(history, enrolled=False, study_met=False).code == "not_enrolled"


def test_an_open_attempt_is_said_before_exhausted_attempts():
    # the second attempt is still running: continue it rather than be told "locked"
    answer = ask([failed("a1"), open_formal("a2")])
    assert answer.code == "attempt_open"
    assert answer.open_attempt == "a2"


def test_already_passed_is_said_before_study_required():
    assert ask([passed("a1")], study_met=False).code == "already_passed"


def test_study_required_is_said_before_exhausted_attempts():
    assert ask([failed("a1"), failed("a2")], study_met=False).code == "study_required"


# ------------------------------------------------------ practice cap and cool-down

#: 2026-11-22 09:00 China Standard Time (01:00 UTC); that day ends at 16:00 UTC.
MORNING = 1_795_309_200_000
MIDNIGHT = 1_795_363_200_000
MINUTE = 60_000


def practised(id_, started, finished):
    return AttemptRecord(
        id=id_,
        cycle=1,
        practice=True,
        state=State.SUBMITTED,
        started_ms=started,
        finished_ms=finished,
    )


def throttled(history, now, **overrides):
    options = {"practice_per_day": 2, "practice_cooldown_ms": 10 * MINUTE}
    return ask(history, practice=True, now=now, **{**options, **overrides})


def test_a_practice_attempt_must_wait_the_cool_down_after_the_last_one_closed():
    history = [practised("p1", MORNING, MORNING + 30 * MINUTE)]
    answer = throttled(history, MORNING + 35 * MINUTE)
    assert not answer.may_start and answer.code == "practice_cooldown"
    assert answer.retry_at_ms == MORNING + 40 * MINUTE
    assert answer.message == (
        "practice attempts must be 10 minute(s) apart; "
        "practice is possible again at 2026-11-22 09:40 (China Standard Time)"
    )
    assert answer.message_zh == (
        "两次模拟练习之间需间隔 10 分钟，2026-11-22 09:40（北京时间）后可再次练习"
    )
    assert throttled(history, MORNING + 40 * MINUTE - 1).code == "practice_cooldown"
    assert throttled(history, MORNING + 40 * MINUTE).may_start


def test_the_daily_cap_counts_practice_started_today_and_lifts_at_midnight_china_time():
    history = [
        practised("y", MORNING - 86_400_000, MORNING - 86_000_000),  # yesterday: not counted
        practised("p1", MORNING, MORNING + MINUTE),
        failed("a1"),  # formal attempts are not practice
    ]
    assert throttled(history, MORNING + 20 * MINUTE).may_start
    history.append(practised("p2", MORNING + 20 * MINUTE, MORNING + 21 * MINUTE))
    answer = throttled(history, MORNING + 60 * MINUTE)
    assert not answer.may_start and answer.code == "practice_daily_cap"
    assert answer.retry_at_ms == MIDNIGHT
    assert "all 2 practice attempts allowed today" in answer.message
    assert "2026-11-23 00:00" in answer.message and "今天的 2 次模拟练习已用完" in answer.message_zh
    assert throttled(history, MIDNIGHT - 1).code == "practice_daily_cap"
    assert throttled(history, MIDNIGHT).may_start


def test_when_the_cool_down_outlasts_the_day_practice_waits_for_both():
    late = MIDNIGHT - 5 * MINUTE
    history = [practised("p1", late - 2 * MINUTE, late), practised("p2", late - 9, late - 8)]
    answer = throttled(history, late + MINUTE)
    assert answer.code == "practice_daily_cap" and answer.retry_at_ms == late + 10 * MINUTE


def test_without_a_cap_or_a_cool_down_practice_is_not_throttled():
    history = [practised(f"p{n}", MORNING + n, MORNING + n) for n in range(10)]
    answer = throttled(history, MORNING + 20, practice_per_day=None, practice_cooldown_ms=0)
    assert answer.may_start and answer.retry_at_ms is None


def test_formal_attempts_are_neither_capped_nor_cooled_down_by_practice():
    history = [practised("p1", MORNING, MORNING + MINUTE), practised("p2", MORNING, MORNING + 2)]
    answer = ask(history, now=MORNING + 2 * MINUTE, practice_per_day=2, practice_cooldown_ms=MINUTE)
    assert answer.may_start and answer.code == "ok"


def test_the_open_attempt_rule_comes_before_the_practice_throttle():
    history = [practised("p1", MORNING, MORNING + MINUTE), open_formal("a1")]
    assert throttled(history, MORNING + 2 * MINUTE).code == "attempt_open"
