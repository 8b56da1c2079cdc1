"""The risk rules: each at, below and above its threshold, with the evidence behind the
flag; answers faster than reading (batches judged together, a resume shows the paper
again); the similarity index on constructed answers (right answers, blanks and
true/false never count; one learner's two attempts are never a pair; the group bound)."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from examengine.risk import (
    AttemptRecord,
    FirstAnswer,
    Flag,
    GradedAnswer,
    GradedAttempt,
    Mark,
    RiskPolicy,
    StudyMark,
    attempt_checks,
    attempt_flags,
    canonical,
    fast_runs,
    flags_with_pairs,
    item_chars,
    reading_ms,
    similar_pairs,
    similarity,
    study_checks,
    study_flags,
)
from itembank.model import Item, Matching, Option, Pair, SingleChoice, TrueFalse

POLICY = RiskPolicy()
#: A tiny reading model for the timing tests: 1 s to click + 100 ms a character.
READING = RiskPolicy(reading_base_ms=1000, reading_ms_per_char=100, fast_run=3)


def marks(kind: str, count: int, start: int = 100) -> tuple[Mark, ...]:
    return tuple(Mark(kind=kind, at_ms=start + n * 10) for n in range(count))


def record(*marks_: Mark, answers: tuple[FirstAnswer, ...] = ()) -> AttemptRecord:
    return AttemptRecord(attempt="a1", started_ms=0, marks=marks_, answers=answers)


def rules(flags: tuple[Flag, ...]) -> list[str]:
    return [flag.rule for flag in flags]


# --------------------------------------------------------------------------- counts


@pytest.mark.parametrize(("count", "flagged"), [(4, False), (5, True), (6, True)])
def test_focus_losses_and_full_screen_exits_together_are_flagged_from_five(
    count: int, flagged: bool
) -> None:
    losses = marks("focus_lost", count - 2) + marks("fullscreen_exit", 2, start=5000)
    found = attempt_flags(record(*losses, Mark(kind="copy", at_ms=1)), RiskPolicy(copy_paste=9))
    assert rules(found) == (["focus_loss"] if flagged else [])
    if flagged:
        [flag] = found
        assert (flag.threshold, flag.observed) == (5, count)
        assert [e.what for e in flag.evidence][-2:] == ["fullscreen_exit", "fullscreen_exit"]
        assert [e.at_ms for e in flag.evidence] == sorted(m.at_ms for m in losses)


@pytest.mark.parametrize(("count", "flagged"), [(0, False), (1, True), (3, True)])
def test_any_copy_or_paste_is_flagged(count: int, flagged: bool) -> None:
    found = attempt_flags(record(*marks("paste", count)), POLICY)
    assert rules(found) == (["copy_paste"] if flagged else [])


def test_copy_and_paste_below_above_and_at_a_raised_threshold() -> None:
    policy = RiskPolicy(copy_paste=3)
    two = marks("copy", 1) + marks("paste", 1, start=500)
    assert attempt_flags(record(*two), policy) == ()
    [at] = attempt_flags(record(*two, Mark(kind="copy", at_ms=900)), policy)
    assert (at.rule, at.observed, [e.what for e in at.evidence]) == (
        "copy_paste", 3, ["copy", "paste", "copy"],
    )  # fmt: skip
    assert attempt_flags(record(*marks("copy", 4)), policy)[0].observed == 4


@pytest.mark.parametrize(("count", "flagged"), [(0, False), (1, True), (2, True)])
def test_any_take_over_is_flagged_with_the_devices(count: int, flagged: bool) -> None:
    taken = tuple(
        Mark(kind="device_taken_over", at_ms=1000 * (n + 1), detail=f"d{n} → d{n + 1}")
        for n in range(count)
    )
    found = attempt_flags(record(*taken), POLICY)
    assert rules(found) == (["takeover"] if flagged else [])
    if flagged:
        assert [e.detail for e in found[0].evidence] == [m.detail for m in taken]


def test_a_take_over_threshold_of_two_ignores_one() -> None:
    one = (Mark(kind="device_taken_over", at_ms=5),)
    assert attempt_flags(record(*one), RiskPolicy(takeovers=2)) == ()


def test_a_resume_is_no_integrity_event() -> None:
    assert attempt_flags(record(*marks("attempt_resumed", 9)), POLICY) == ()


@pytest.mark.parametrize(("count", "flagged"), [(2, False), (3, True), (4, True)])
def test_missed_challenges_of_a_study_cycle_are_flagged_from_three(
    count: int, flagged: bool
) -> None:
    events = [
        StudyMark(kind="challenge_missed", at_ms=100 * n, chapter=f"ch-{n % 2}", seq=n)
        for n in range(count)
    ]
    found = study_flags(events, POLICY)
    assert rules(found) == (["missed_challenges"] if flagged else [])
    if flagged:
        [flag] = found
        assert (flag.threshold, flag.observed) == (3, count)
        assert [e.chapter for e in flag.evidence] == [e.chapter for e in events]


def test_only_the_same_chapter_opened_again_elsewhere_counts_as_a_study_take_over() -> None:
    moved_on = [
        StudyMark(kind="session_taken_over", at_ms=n, chapter="ch-1", by_chapter="ch-2")
        for n in range(10)
    ]
    assert study_flags(moved_on, POLICY) == ()
    again = [
        StudyMark(kind="session_taken_over", at_ms=n, chapter="ch-1", by_chapter="ch-1")
        for n in range(5)
    ]
    assert study_flags(again[:4] + moved_on, POLICY) == ()
    [flag] = study_flags(again + moved_on, POLICY)
    assert (flag.rule, flag.threshold, flag.observed) == ("study_takeovers", 5, 5)
    checks = study_checks(again[:4], POLICY)
    assert [(c.rule, c.observed, c.flagged) for c in checks] == [
        ("missed_challenges", 0, False), ("study_takeovers", 4, False),
    ]  # fmt: skip


# ---------------------------------------------------------------- reading speed


def single(stem: str, *options: str) -> Item:
    body = SingleChoice(
        options=tuple(Option(id=chr(65 + n), text=t) for n, t in enumerate(options))
    )
    return Item(key="k", stem=stem, body=body)


def test_an_items_length_is_its_stem_options_and_matching_pairs_without_spaces() -> None:
    assert item_chars(single("下列 哪项\n正确？", "甲", "乙丙")) == 10
    matching = Item(
        key="m", stem="配对",
        body=Matching(pairs=(Pair(prompt="一", answer="1"),), distractors=("2",)),
    )  # fmt: skip
    assert item_chars(matching) == 5
    assert item_chars(Item(key="t", stem="对吗", body=TrueFalse(answer=True))) == 2
    assert reading_ms(10, POLICY) == 2000 + 10 * 40


def answers(*times: int, chars: int = 10) -> tuple[FirstAnswer, ...]:
    return tuple(
        FirstAnswer(item=f"i{n}", at_ms=at, seq=n + 1, chars=chars) for n, at in enumerate(times)
    )


def test_a_run_of_answers_faster_than_reading_is_flagged_at_its_length() -> None:
    # 10 characters: 2 s of reading each. 0 → 2000 is just enough; the next three are not.
    slow_then_fast = answers(2000, 3999, 5998, 7997)
    assert rules(attempt_flags(record(answers=slow_then_fast[:3]), READING)) == []
    [flag] = attempt_flags(record(answers=slow_then_fast), READING)
    assert (flag.rule, flag.threshold, flag.observed) == ("fast_answers", 3, 3)
    rows = [(e.item, e.from_ms, e.elapsed_ms, e.needed_ms, e.batch) for e in flag.evidence]
    assert rows == [
        ("i1", 2000, 1999, 2000, 1), ("i2", 3999, 1999, 2000, 1), ("i3", 5998, 1999, 2000, 1),
    ]  # fmt: skip


def test_runs_below_the_length_are_not_flagged_and_a_slow_answer_ends_a_run() -> None:
    times = answers(100, 200, 5000, 5100, 5200, 5300)
    runs = fast_runs(record(answers=times), READING)
    assert [[e.item for e in run] for run in runs] == [["i0", "i1"], ["i3", "i4", "i5"]]
    [flag] = attempt_flags(record(answers=times), READING)
    assert flag.observed == 3 and [e.item for e in flag.evidence] == ["i3", "i4", "i5"]
    assert attempt_flags(record(answers=times), RiskPolicy(fast_run=4)) == ()


def test_items_saved_in_one_request_are_judged_together() -> None:
    # Offline for a while: four answers reach the server in one request, 9 s after the
    # paper was shown: enough to read four 2-second items, so nothing is fast.
    batch = answers(9000, 9000, 9000, 9000)
    assert fast_runs(record(answers=batch), READING) == []
    # The same four 1 s after the start: the whole batch is fast, one run of four.
    [flag] = attempt_flags(record(answers=answers(1000, 1000, 1000, 1000)), READING)
    assert flag.observed == 4
    assert {(e.elapsed_ms, e.needed_ms, e.batch) for e in flag.evidence} == {(1000, 8000, 4)}


def test_the_paper_shown_again_after_a_resume_starts_the_clock_again() -> None:
    resumed = Mark(kind="attempt_resumed", at_ms=60_000)
    late = answers(60_500, 61_000, 61_500)
    [flag] = attempt_flags(record(resumed, answers=late), READING)
    assert [e.from_ms for e in flag.evidence] == [60_000, 60_500, 61_000]
    # Without the resume the first answer had a minute since the start to be read.
    runs = fast_runs(record(answers=late), READING)
    assert [[e.item for e in run] for run in runs] == [["i1", "i2"]]


def test_checks_list_every_attempt_rule_with_what_was_observed() -> None:
    checks = attempt_checks(record(*marks("focus_lost", 3)), POLICY)
    assert [(c.rule, c.threshold, c.observed, c.flagged) for c in checks] == [
        ("focus_loss", 5, 3, False), ("copy_paste", 1, 0, False), ("takeover", 1, 0, False),
        ("fast_answers", 5, 0, False),
    ]  # fmt: skip


# -------------------------------------------------------------------- similarity


def graded(attempt: str, learner: int, **responses: tuple[str, object, bool]) -> GradedAttempt:
    """Answers as item=(kind, response, correct)."""
    return GradedAttempt(
        attempt=attempt,
        learner=learner,
        answers=tuple(
            GradedAnswer(item=item, kind=kind, response=response, correct=correct)
            for item, (kind, response, correct) in responses.items()
        ),
    )


def wrong(n: int, answer: str = "B") -> dict[str, tuple[str, object, bool]]:
    return {f"s{k}": ("single", answer, False) for k in range(n)}


def test_the_index_is_the_share_of_identical_wrong_answers_over_items_both_got_wrong() -> None:
    a = graded("a", 1, **wrong(5), s5=("single", "C", False), x=("single", "D", False))
    b = graded("b", 2, **wrong(5), s5=("single", "D", False), y=("single", "D", False))
    pair = similarity(a, b)
    # s0–s4 identical, s5 different; x and y were answered wrongly by one of them only.
    assert (pair.same, pair.basis, pair.index) == (5, 6, 5 / 6)
    whats = {e.item: e.what for e in pair.evidence}
    assert whats == {**{f"s{k}": "same_wrong_answer" for k in range(5)},
                     "s5": "different_wrong_answer"}  # fmt: skip
    s5 = next(e for e in pair.evidence if e.item == "s5")
    assert (s5.response, s5.other_response) == ('"C"', '"D"')


def test_shared_right_answers_blanks_and_true_false_never_count() -> None:
    right = {f"r{k}": ("single", "A", True) for k in range(30)}
    blanks = {f"e{k}": ("fill_blank", "  ", False) for k in range(10)}
    true_false = {f"t{k}": ("true_false", False, False) for k in range(10)}
    a = graded("a", 1, **right, **blanks, **true_false, **wrong(4))
    b = graded("b", 2, **right, **blanks, **true_false, **wrong(4))
    pair = similarity(a, b)
    assert (pair.same, pair.basis) == (4, 4)
    # 4 identical wrong answers are fewer than the 5 the index needs: no pair.
    assert similar_pairs([a, b], POLICY) == ()


@pytest.mark.parametrize(
    ("same", "flagged"), [(7, False), (8, True), (10, True)]
)  # of 10 both-wrong items; threshold 0.8
def test_a_pair_is_flagged_from_the_threshold_share(same: int, flagged: bool) -> None:
    a = graded("a", 1, **wrong(10, "B"))
    b = graded("b", 2, **wrong(same, "B"), **{f"s{k}": ("single", "C", False)
                                                for k in range(same, 10)})  # fmt: skip
    found = similar_pairs([a, b], POLICY)
    assert bool(found) is flagged
    if flagged:
        [pair] = found
        assert (pair.attempt, pair.other, pair.same, pair.basis) == ("a", "b", same, 10)


@pytest.mark.parametrize(("items", "flagged"), [(4, False), (5, True), (6, True)])
def test_a_pair_needs_the_minimum_count_of_items_both_got_wrong(items: int, flagged: bool) -> None:
    a, b = graded("a", 1, **wrong(items)), graded("b", 2, **wrong(items))
    assert bool(similar_pairs([a, b], POLICY)) is flagged


def test_answers_are_compared_as_scoring_reads_them() -> None:
    assert canonical("multiple", ["C", "A"]) == canonical("multiple", ["A", "C"])
    assert canonical("fill_blank", " ＡＢＣ  d ") == canonical("fill_blank", "abc d")
    assert canonical("numerical", "1,000") == canonical("numerical", 1000)
    assert canonical("matching", ["", ""]) is None
    assert canonical("single", None) is None and canonical("multiple", []) is None
    assert msgspec.json.decode(canonical("matching", ["一", "二"]) or "") == ["一", "二"]


def test_only_pairs_of_different_learners_at_or_above_the_line_are_found() -> None:
    group = [
        graded("a1", 1, **wrong(6)),
        graded("a2", 1, **wrong(6)),  # the same learner's second attempt
        graded("b1", 2, **wrong(6)),
        graded("c1", 3, **wrong(6, "D")),
    ]
    found = similar_pairs(group, POLICY)
    assert sorted((p.attempt, p.other) for p in found) == [("a1", "b1"), ("a2", "b1")]
    flags = flags_with_pairs({"a1": (), "c1": ()}, found, POLICY)
    assert flags["c1"] == ()
    assert [f.other for f in flags["b1"]] == ["a1", "a2"]
    [flag] = flags["a1"]
    assert (flag.rule, flag.threshold, flag.observed, flag.basis, flag.basis_min) == (
        "similar_answers", 0.8, 1.0, 6, 5,
    )  # fmt: skip


def test_each_side_of_a_pair_sees_its_own_answer_first() -> None:
    a = graded("a", 1, **wrong(5), s5=("single", "C", False))
    b = graded("b", 2, **wrong(5), s5=("single", "D", False))
    [pair] = similar_pairs([a, b], POLICY)
    flags = flags_with_pairs({}, [pair], POLICY)
    mine = next(e for e in flags["a"][0].evidence if e.item == "s5")
    theirs = next(e for e in flags["b"][0].evidence if e.item == "s5")
    assert (mine.response, mine.other_response) == ('"C"', '"D"')
    assert (theirs.response, theirs.other_response) == ('"D"', '"C"')


def test_only_the_first_attempts_of_a_group_up_to_the_bound_are_compared() -> None:
    group = [graded(f"x{n}", n, **wrong(6)) for n in range(5)]
    assert len(similar_pairs(group, POLICY)) == 10
    assert len(similar_pairs(group, RiskPolicy(similarity_group=3))) == 3
    assert similar_pairs(group[:1], POLICY) == ()


def test_the_similarity_check_reports_the_highest_index_over_enough_items() -> None:
    a = graded("a", 1, **wrong(6))
    half = {**wrong(3), **{f"s{k}": ("single", "C", False) for k in range(3, 6)}}
    close = similarity(a, graded("b", 2, **half))
    few = similarity(a, graded("c", 3, **wrong(2)))
    checks = attempt_checks(record(), POLICY, compared=[close, few])
    assert (checks[-1].rule, checks[-1].observed, checks[-1].flagged) == (
        "similar_answers", 0.5, False,
    )  # fmt: skip
    assert [c.rule for c in attempt_checks(record(), POLICY)][-1] == "fast_answers"


def test_a_group_at_the_bound_finds_the_one_copied_paper_among_124750_pairs() -> None:
    # 500 learners, 60 wrong answers each spread at random over 3 distractors; the last
    # copied the first. Chance agreement is about a third: far below the line.
    rng = np.random.default_rng(np.random.SeedSequence(16, spawn_key=(1,)))
    choices = rng.integers(0, 3, size=(500, 60))
    choices[499] = choices[0]
    group = [
        graded(f"a{n}", n, **{f"s{k}": ("single", "BCD"[c], False) for k, c in enumerate(row)})
        for n, row in enumerate(choices)
    ]
    [pair] = similar_pairs(group, POLICY)
    assert (pair.attempt, pair.other, pair.same, pair.basis) == ("a0", "a499", 60, 60)
