"""Calibrated assembly and the equated pass standard (issue 18, decision 0038): the spec's
new fields and their validation, the seed with a calibration, θ_c, the pass mark of each
paper, and that the same ability passes as often on an easy paper as on a hard one."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from examengine.assembly import (
    CompiledExam,
    PaperItem,
    assemble,
    build_paper,
    compile_exam,
    paper_seed,
)
from examengine.blueprint import ExamSpec, PassStandard, Section, validate
from examengine.equating import (
    cut_theta,
    expected_points,
    explain,
    paper_pass_score,
    pass_probability,
    round_up,
    score_distribution,
)
from examengine.errors import SpecInvalidError
from itembank.irt import ItemParameters, probability, true_score
from itembank.model import Difficulty, Item, ItemKind, TrueFalse

SECRET = b"equating-secret"


def tf_bank(
    n: int, seed: int = 7, *, topics: int = 2
) -> tuple[list[Item], dict[str, ItemParameters]]:
    """``n`` true/false items and 2PL parameters for them (b ~ N(0, 1), a ~ lognormal)."""
    rng = np.random.default_rng(seed)
    items, parameters = [], {}
    for i in range(n):
        key = f"t{i:04d}"
        b = float(rng.normal())
        items.append(
            Item(
                key=key,
                stem=key,
                body=TrueFalse(answer=True),
                topic=f"topic{i % topics}",
                difficulty=Difficulty(band=3),
            )
        )
        parameters[key] = ItemParameters(a=float(rng.lognormal(0.0, 0.3)), b=b)
    return items, parameters


def spec(count: int = 20, **changes: object) -> ExamSpec:
    base = ExamSpec(
        key="eq",
        title="equated",
        bank="b",
        bank_version=1,
        sections=(Section(title="判断", kind=ItemKind.TRUE_FALSE, count=count),),
    )
    return msgspec.structs.replace(base, **changes)


EQUATED = {"calibration": 3, "pass_standard": PassStandard.EQUATED}


# ------------------------------------------------------------------------ the spec


def test_an_equated_standard_without_a_calibration_is_refused_in_both_languages():
    items, _ = tf_bank(60)
    problems = validate(spec(pass_standard=PassStandard.EQUATED), items)
    assert [p.code for p in problems] == ["equated-needs-calibration"]
    assert problems[0].where == "pass_standard"
    assert "calibration" in problems[0].message and "校准" in problems[0].message_zh
    with pytest.raises(SpecInvalidError):
        compile_exam(spec(pass_standard=PassStandard.EQUATED), items)


def test_an_equated_standard_compiled_without_parameters_is_refused():
    items, _ = tf_bank(60)
    with pytest.raises(SpecInvalidError) as raised:
        compile_exam(spec(**EQUATED), items)
    assert [p.code for p in raised.value.problems] == ["equated-needs-calibration"]


def test_the_new_fields_decode_from_json_and_are_bounded():
    decoded = msgspec.json.decode(
        msgspec.json.encode(spec(**EQUATED, theta_cut=0.25)), type=ExamSpec
    )
    assert (decoded.calibration, decoded.pass_standard, decoded.theta_cut) == (3, "equated", 0.25)
    for bad in ({"theta_cut": 4.5}, {"calibration": 0}, {"pass_standard": "curved"}):
        text = msgspec.json.encode({**msgspec.to_builtins(spec()), **bad})
        with pytest.raises(msgspec.ValidationError):
            msgspec.json.decode(text, type=ExamSpec)


def test_an_old_spec_decodes_with_the_raw_standard_and_no_calibration():
    old = msgspec.to_builtins(spec())
    for field in ("calibration", "pass_standard", "theta_cut"):
        del old[field]
    decoded = msgspec.json.decode(msgspec.json.encode(old), type=ExamSpec)
    assert (decoded.calibration, decoded.pass_standard, decoded.theta_cut) == (None, "raw", None)


# ------------------------------------------------------------------------ seeds

INPUTS = {
    "exam": "eq",
    "spec_version": 1,
    "bank": "b",
    "bank_version": 2,
    "learner": "u-1",
    "attempt": 1,
}


def test_a_seed_without_a_calibration_is_the_one_it_always_was():
    assert paper_seed(SECRET, **INPUTS, calibration=None) == paper_seed(SECRET, **INPUTS)
    assert (
        paper_seed(SECRET, **INPUTS) == 0x2D3AA71955C2FB06
    )  # computed with the code before calibrations


def test_the_calibration_is_part_of_the_seed():
    seeds = {paper_seed(SECRET, **INPUTS, calibration=c) for c in (None, 1, 2, 12)}
    assert len(seeds) == 4
    assert paper_seed(SECRET, **INPUTS, calibration=2) == paper_seed(
        SECRET, **INPUTS, calibration=2
    )


# ------------------------------------------------------------------------ calibrated papers


def calibrated(count: int = 20, n: int = 200, **changes: object) -> CompiledExam:
    items, parameters = tf_bank(n)
    return compile_exam(spec(count, **{**EQUATED, **changes}), items, parameters)


def test_a_calibrated_paper_carries_theta_cut_information_and_its_pass_score():
    exam = calibrated()
    paper = build_paper(exam, 42)
    theta = cut_theta(exam)
    assert paper.theta_cut == pytest.approx(theta, abs=1e-6)
    keys = [entry.key for entry in paper.items]
    numbers = [exam.number[k] for k in keys]
    info = float(
        (
            exam.a[numbers] ** 2
            * probability(theta, exam.a[numbers], exam.b[numbers])
            * (1 - probability(theta, exam.a[numbers], exam.b[numbers]))
        ).sum()
    )
    assert paper.information == pytest.approx(info, abs=1e-6)
    expected = float(true_score(theta, exam.a[numbers], exam.b[numbers], [1.0] * len(keys)))
    assert paper.pass_score == paper_pass_score(exam, paper.items) == round_up(expected)
    assert expected <= paper.pass_score < expected + 0.01


def test_a_raw_calibrated_paper_has_information_but_no_pass_score():
    items, parameters = tf_bank(200)
    exam = compile_exam(spec(calibration=3), items, parameters)
    paper = build_paper(exam, 42)
    assert paper.information is not None and paper.theta_cut is not None
    assert paper.pass_score is None


def test_theta_cut_makes_the_expected_paper_score_the_pass_mark():
    exam = calibrated(pass_mark=0.7)
    weight = exam.item_points * exam.inclusion
    at_cut = true_score(cut_theta(exam), exam.a, exam.b, weight)
    assert at_cut == pytest.approx(0.7 * weight.sum(), rel=1e-8)


def test_the_specs_theta_cut_is_used_as_given():
    assert cut_theta(calibrated(theta_cut=-0.5)) == -0.5


def test_an_uncalibrated_exam_has_no_theta_cut():
    items, _ = tf_bank(60)
    exam = compile_exam(spec(), items)
    with pytest.raises(ValueError, match="without item parameters"):
        cut_theta(exam)
    assert build_paper(exam, 1).information is None


def test_items_without_parameters_keep_their_authored_logit_with_a_of_one():
    items, parameters = tf_bank(60)
    del parameters["t0001"]
    parameters["t0002"] = ItemParameters(a=1.0, b=0.0, provisional=True)
    exam = compile_exam(spec(**EQUATED), items, parameters)
    n = exam.number["t0001"]
    assert (exam.a[n], exam.b[n], bool(exam.provisional[n])) == (1.0, 0.0, True)
    assert bool(exam.provisional[exam.number["t0002"]])
    assert not bool(exam.provisional[exam.number["t0003"]])


def test_rounding_goes_up_to_the_next_hundredth_of_a_point():
    assert round_up(57.5) == 57.5
    assert round_up(57.50000000001) == 57.5  # float noise is forgiven
    assert round_up(57.501) == 57.51
    assert round_up(12.0) == 12.0


def test_the_explanation_adds_up_to_the_pass_score():
    exam = calibrated(count=10)
    paper = build_paper(exam, 5)
    why = explain(exam, paper.items)
    assert why.standard == "equated" and why.calibration == 3
    assert why.derived_from == "pass_mark"
    assert why.theta_cut == cut_theta(exam)
    assert why.reference_cut == pytest.approx(0.6 * why.reference_max)
    assert sum(item.expected for item in why.items) == pytest.approx(why.expected_points, abs=1e-5)
    assert why.expected_points == pytest.approx(expected_points(exam, paper.items))
    assert why.pass_score == paper.pass_score
    assert why.raw_pass_score == 6.0 and why.max_score == 10.0
    assert why.provisional_items == 0


def test_the_batch_holds_information_and_expected_points_per_paper():
    exam = calibrated()
    batch = assemble(exam, np.arange(50, dtype=np.uint64))
    assert batch.information is not None and batch.expected is not None
    assert batch.information.shape == batch.expected.shape == (50,)
    single = build_paper(exam, 7)
    assert single.information == pytest.approx(float(batch.information[7]), abs=1e-6)
    entries = [PaperItem(key=e.key, section=e.section, points=e.points) for e in single.items]
    assert paper_pass_score(exam, entries) == single.pass_score


# ------------------------------------------------------------------------ pass probabilities


def test_the_score_distribution_of_small_papers_is_exact():
    assert score_distribution(np.array([[0.5, 0.5]]), [1, 1]).tolist() == [[0.25, 0.5, 0.25]]
    assert score_distribution(np.array([[0.5, 0.5]]), [1, 2]).tolist() == [[0.25] * 4]
    two = score_distribution(np.array([[0.2, 0.9], [1.0, 0.0]]), [2, 1])
    assert two == pytest.approx(np.array([[0.08, 0.72, 0.02, 0.18], [0.0, 0.0, 1.0, 0.0]]))


def test_the_recursion_agrees_with_simulated_learners():
    rng = np.random.default_rng(3)
    p = rng.uniform(0.1, 0.9, size=(1, 30))
    points = [1, 2, 1] * 10
    exact = score_distribution(p, points)[0]
    answers = rng.random((40_000, 30)) < p
    scores = (answers * np.array(points)).sum(axis=1)
    simulated = np.bincount(scores, minlength=len(exact)) / len(scores)
    assert np.abs(simulated - exact).max() < 0.01
    assert pass_probability(p, points, 24.5)[0] == pytest.approx(exact[25:].sum())


def test_equating_gives_learners_at_the_cut_the_same_chance_on_easy_and_hard_papers():
    # 50 items from a bank of 500 on four topics: the easiest and the hardest of 2,000
    # papers (their expected scores at θ_c differ by several points).
    items, parameters = tf_bank(500, topics=4)
    exam = compile_exam(spec(50, **EQUATED), items, parameters)
    batch = assemble(exam, np.arange(2_000, dtype=np.uint64))
    assert batch.expected is not None
    easiest, hardest = int(np.argmax(batch.expected)), int(np.argmin(batch.expected))
    papers = [build_paper(exam, int(batch.seeds[row])) for row in (easiest, hardest)]
    assert papers[0].pass_score - papers[1].pass_score > 3  # the easy paper asks for more
    theta = cut_theta(exam)
    numbers = np.array([[exam.number[e.key] for e in paper.items] for paper in papers])
    p = probability(theta, exam.a[numbers], exam.b[numbers])
    points = [1] * 50
    equated = pass_probability(p, points, np.array([paper.pass_score for paper in papers]))
    raw = pass_probability(p, points, 0.6 * 50)
    # Learners at θ_c simulated on each paper agree with the exact probabilities.
    rng = np.random.default_rng(11)
    for row, paper in enumerate(papers):
        scores = (rng.random((20_000, 50)) < p[row]).sum(axis=1)
        assert np.mean(scores >= paper.pass_score) == pytest.approx(equated[row], abs=0.015)
    # Whole points: a pass mark between two scores rounds up to the next, which moves the
    # chance by at most the density of the score at the mark, about 0.4 / SD of scores.
    spread = np.sqrt((p * (1 - p)).sum(axis=1)).min()
    assert abs(equated[0] - equated[1]) <= 0.4 / spread
    assert raw[0] - raw[1] > 0.3  # the raw 60 % favours the easy paper


def test_parameters_assembly_cannot_use_count_as_missing():
    items, parameters = tf_bank(60)
    parameters["t0004"] = ItemParameters(a=-0.4, b=0.3)  # discriminates the wrong way
    parameters["t0005"] = ItemParameters(a=float("nan"), b=0.3)
    exam = compile_exam(spec(**EQUATED), items, parameters)
    for key in ("t0004", "t0005"):
        n = exam.number[key]
        assert (exam.a[n], exam.b[n], bool(exam.provisional[n])) == (1.0, 0.0, True)


def test_the_explanation_of_a_given_theta_cut_names_the_points_it_means_on_the_expected_paper():
    exam = calibrated(count=10, theta_cut=0.4)
    why = explain(exam, build_paper(exam, 9).items)
    assert (why.derived_from, why.theta_cut) == ("theta_cut", 0.4)
    weight = exam.item_points * exam.inclusion
    assert why.reference_cut == pytest.approx(float(true_score(0.4, exam.a, exam.b, weight)))
    assert 0 < why.reference_cut < why.reference_max
