"""The staggered start window (decision 0021): each learner's formal start opens at
their own moment in the first minutes after the exam opens, the same moment on every
call, spread over the window; before it a start is refused with the moment named."""

from datetime import UTC, datetime

import msgspec
import pytest

from examengine.blueprint import ExamSpec, validate
from examengine.eligibility import eligibility, start_opens_ms

OPENS = 1_800_000_000_000  # 2027-01-15 08:00:00 UTC = 16:00:00 China Standard Time
SPREAD = 600_000


def moment(learner: str, exam: str = "law-2026") -> int:
    return start_opens_ms(exam=exam, learner=learner, opens_ms=OPENS, spread_ms=SPREAD)


def ask(now: int, start_at_ms: int | None, **overrides: object):
    options: dict[str, object] = {
        "max_attempts": 2, "enrolled": True, "study_met": True, "cycle": 1, "now": now,
        "start_at_ms": start_at_ms,
    }  # fmt: skip
    options.update(overrides)
    return eligibility([], **options)  # type: ignore[arg-type]


def test_a_learners_moment_is_the_same_on_every_call_and_inside_the_window():
    for n in range(200):
        first = moment(f"learner-{n}")
        assert first == moment(f"learner-{n}")
        assert OPENS <= first < OPENS + SPREAD
        assert first % 1000 == 0  # whole seconds: what the page shows is what holds


def test_moments_spread_over_the_whole_window():
    moments = [moment(str(n)) for n in range(2000)]
    # ten one-minute slices, each holding about a tenth of the cohort
    counts = [sum(1 for m in moments if OPENS + k * 60_000 <= m < OPENS + (k + 1) * 60_000)
              for k in range(10)]  # fmt: skip
    assert all(140 <= c <= 260 for c in counts), counts


def test_another_exam_orders_the_learners_differently():
    a = [moment(str(n), "law-2026") for n in range(50)]
    b = [moment(str(n), "economy-2026") for n in range(50)]
    assert a != b


def test_no_spread_opens_everyone_at_the_exams_opening():
    assert start_opens_ms(exam="e", learner="1", opens_ms=OPENS, spread_ms=0) == OPENS


def test_before_their_moment_a_learner_is_refused_with_the_moment_named_in_both_languages():
    at = OPENS + 90_000  # 16:01:30 CST
    answer = ask(at - 1, at)
    assert not answer.may_start
    assert answer.code == "start_not_open"
    assert answer.retry_at_ms == at
    assert "2027-01-15 16:01:30 (China Standard Time)" in answer.message
    assert "2027-01-15 16:01:30（北京时间）" in answer.message_zh


def test_from_their_moment_on_a_learner_may_start():
    at = OPENS + 90_000
    assert ask(at, at).may_start
    assert ask(at + 3_600_000, at).may_start


def test_practice_is_not_held_back_by_the_start_window():
    answer = ask(OPENS - 1, OPENS, practice=True)
    assert answer.may_start


def test_a_stronger_reason_comes_before_the_window():
    answer = ask(OPENS - 1, OPENS, study_met=False)
    assert answer.code == "study_required"


def spec(window: dict[str, object] | None) -> ExamSpec:
    raw: dict[str, object] = {
        "key": "e", "title": "E", "bank": "b", "bank_version": 1,
        "sections": [{"title": "s", "count": 1, "points": 1}],
    }  # fmt: skip
    if window is not None:
        raw["start_window"] = window
    return msgspec.convert(raw, ExamSpec)


def test_a_spec_reads_its_start_window_from_an_iso_time_with_offset():
    got = spec({"opens_at": "2027-01-15T16:00:00+08:00", "spread_s": 300}).start_window
    assert got is not None
    assert got.opens_at == datetime(2027, 1, 15, 8, tzinfo=UTC)
    assert got.spread_s == 300


def test_a_start_window_without_an_offset_is_a_problem_naming_the_field():
    problems = validate(spec({"opens_at": "2027-01-15T16:00:00"}), [])
    codes = {p.code: p for p in problems}
    assert codes["opens-at-naive"].where == "start_window.opens_at"


@pytest.mark.parametrize("spread", [-1, 4 * 3600 + 1])
def test_a_spread_out_of_range_is_refused(spread: int):
    with pytest.raises(msgspec.ValidationError, match="spread_s"):
        spec({"opens_at": "2027-01-15T16:00:00+08:00", "spread_s": spread})
