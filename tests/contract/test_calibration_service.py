"""The calibration service against each database (decision 0039): a calibration fitted to
the stored formal responses of a bank version, numbered and read back; too few
responses keep the authored labels with a note; a later calibration is linked to the
earlier scale through the common items; DIF by gender finds the item that is harder
for one group; an exam naming a calibration is assembled on it — its papers carry their
equated pass mark, grading uses it, the audit explains it, the seed includes the
calibration — and a spec naming a calibration the bank lacks is refused.

The responses are simulated from known 2PL items (a fixed seed) and stored as the
grader stores them: one ``item_response`` row per item of a formal paper, named by the
attempt's id; each simulated learner is an account with an attempt, so DIF can read
their group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
import numpy as np
import numpy.typing as npt
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from api.services import attempts, banks, exams
from api.services import calibration as calibrations
from api.settings import DatabaseSettings
from api.store.db import make_engine, migrate, session_factory, transaction
from api.store.tables import Attempt, Bank, BankVersion, ItemResponse, User
from api.store.tables import Paper as PaperRow
from examengine.assembly import paper_seed
from examengine.errors import SpecInvalidError
from itembank.errors import BankNotFoundError
from itembank.model import BAND_LOGITS

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
T0 = 1_800_000_000_000
SECRET = b"calibration-contract-paper-secret-0123456789"
BANK = "校准题库"
EXAM = "校准考试"
ITEMS = 30
T = TypeVar("T")

RNG = np.random.default_rng(20261208)
#: The true items: discrimination 0.8–2.0, difficulty spread over −1.5 … 1.5.
TRUE_A = RNG.uniform(0.8, 2.0, ITEMS + 5)
TRUE_B = np.linspace(-1.5, 1.5, ITEMS + 5)[RNG.permutation(ITEMS + 5)]


def bank_yaml(count: int = ITEMS) -> bytes:
    """``count`` single-choice items (甲 right), difficulty bands 1–5."""
    lines = ["format: examengine-bank", "items:"]
    for j in range(count):
        lines += [
            f"  - key: q{j:02d}",
            "    kind: single",
            "    topic: 通用",
            f"    difficulty: {{band: {j % 5 + 1}}}",
            f"    stem: 第 {j} 题",
            "    options: [{text: 甲, correct: true}, {text: 乙}, {text: 丙}, {text: 丁}]",
        ]
    return "\n".join(lines).encode()


def spec(key: str = EXAM, **changes: Any) -> exams.ExamSpec:
    body: dict[str, Any] = {
        "key": key,
        "title": "校准考试",
        "bank": BANK,
        "bank_version": 1,
        "duration_s": 600,
        "sections": [{"title": "单选", "kind": "single", "count": 10, "points": 10}],
    }
    return msgspec.convert({**body, **changes}, exams.ExamSpec)


@dataclass
class World:
    sessions: sessionmaker[Session]
    paper_id: int
    exam_version_id: int
    learners: int = 0

    def run(self, fn: Callable[[Session], T]) -> T:
        with transaction(self.sessions) as session:
            return fn(session)

    def cohort(
        self,
        count: int,
        *,
        version: int = 1,
        items: int = ITEMS,
        seen: int | None = 20,
        theta_mean: float = 0.0,
        genders: Sequence[str] = ("male", "female"),
        harder_for_female: dict[int, float] | None = None,
        practice: bool = False,
        seed: int = 1,
    ) -> None:
        """``count`` simulated learners (accounts with one graded attempt each) whose
        papers held ``seen`` of the first ``items`` items (all when None), answered by
        the true 2PL items at θ ~ N(theta_mean, 1)."""
        rng = np.random.default_rng(seed)
        theta = rng.normal(theta_mean, 1.0, count)
        gender = [genders[i % len(genders)] for i in range(count)]
        b = np.tile(TRUE_B[:items], (count, 1))
        for j, shift in (harder_for_female or {}).items():
            b[[g == "female" for g in gender], j] += shift
        p = 1.0 / (1.0 + np.exp(-TRUE_A[:items] * (theta[:, None] - b)))
        right = rng.random((count, items)) < p
        start = self.learners
        self.learners += count

        def store(s: Session) -> None:
            version_id = s.exec(
                select(BankVersion.id)
                .join(Bank)
                .where(Bank.name == BANK, BankVersion.version == version)
            ).one()
            users = [
                {
                    "login": f"sim{start + i:06d}",
                    "display_name": f"模拟 {start + i}",
                    "password_hash": "x",
                    "roles": ["learner"],
                    "gender": gender[i],
                    "employer": f"单位{(start + i) % 3}",
                    "must_change_password": False,
                    "session_generation": 0,
                    "created_at": NOW,
                }
                for i in range(count)
            ]
            s.execute(sa.insert(User), users)
            ids = dict(
                s.exec(
                    select(User.login, User.id).where(
                        sa.column("login").in_([u["login"] for u in users])
                    )
                ).all()
            )
            rows, responses = [], []
            for i in range(count):
                ref = f"{start + i:032x}"
                rows.append(
                    {
                        "id": ref, "learner_id": ids[f"sim{start + i:06d}"], "exam_key": EXAM,
                        "exam_version_id": self.exam_version_id, "paper_id": self.paper_id,
                        "number": 1, "cycle": 1, "practice": practice, "state": "submitted",
                        "policy": "expire_fail", "grace_ms": 0, "started_ms": T0,
                        "deadline_ms": T0 + 600_000, "device": "d", "last_seq": 0,
                        "flags": "[]",
                    }
                )  # fmt: skip
                held = range(items) if seen is None else rng.choice(items, seen, replace=False)
                responses += [
                    {
                        "bank_version_id": version_id, "item_key": f"q{j:02d}",
                        "learner_ref": ref, "response": "A" if right[i, j] else "B",
                        "score": 10.0 if right[i, j] else 0.0, "max_score": 10.0,
                        "created_at": NOW,
                    }
                    for j in held
                ]  # fmt: skip
            s.execute(sa.insert(Attempt), rows)
            s.execute(sa.insert(ItemResponse), responses)

        self.run(store)

    def calibrate(self, **kwargs: Any) -> calibrations.CalibrationRecord:
        return self.run(
            lambda s: calibrations.calibrate(s, bank=BANK, actor=None, now=NOW, **kwargs)
        )


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    migrate(db_url)
    exams.COMPILED.clear()
    attempts.ITEMS.clear()
    engine = make_engine(DatabaseSettings(url=db_url))
    factory = session_factory(engine)
    with transaction(factory) as s:
        banks.import_file(s, data=bank_yaml(), source="b.yaml", bank=BANK, now=NOW)
        banks.publish(s, bank=BANK, version=1, now=NOW)
        saved = exams.save_spec(s, spec(), now=NOW)
        exams.publish(s, exam=EXAM, version=saved.version.version, now=NOW)
        record = exams.build_or_get_paper(
            s, exam=EXAM, learner="sim-paper", attempt=1, secret=SECRET, now=NOW
        )
        paper = s.exec(select(PaperRow).where(PaperRow.learner_ref == "sim-paper")).one()
        assert paper.id is not None and record.created
        version_id = paper.exam_version_id
    yield World(sessions=factory, paper_id=paper.id, exam_version_id=version_id)
    engine.dispose()


def b_of(record: calibrations.CalibrationRecord) -> npt.NDArray[np.float64]:
    return np.array([item.b for item in record.items])


# ------------------------------------------------------------------ calibrating


def test_a_calibration_fits_the_stored_formal_responses_and_is_numbered(world: World) -> None:
    world.cohort(800)
    # practice attempts are never recorded; a row of one is skipped all the same
    world.cohort(60, practice=True, theta_mean=-3.0, seed=2)
    first = world.calibrate()
    assert (first.number, first.bank, first.bank_version, first.model) == (1, BANK, 1, "2pl")
    assert first.learners == 800
    assert [item.key for item in first.items] == [f"q{j:02d}" for j in range(ITEMS)]
    assert not any(item.provisional for item in first.items)
    assert all(470 <= item.responses <= 600 for item in first.items)  # 20 of 30 seen
    rmse = float(np.sqrt(np.mean((b_of(first) - TRUE_B[:ITEMS]) ** 2)))
    assert rmse < 0.3, rmse
    second = world.calibrate(model="rasch")
    assert (second.number, second.model, second.link.previous) == (2, "rasch", 1)
    assert world.run(lambda s: calibrations.get(s, BANK, 1)) == first
    assert world.run(lambda s: calibrations.latest(s, BANK)) == second
    listed = world.run(lambda s: calibrations.listing(s, BANK))
    assert [(c.number, c.items, c.provisional) for c in listed] == [(2, 30, 0), (1, 30, 0)]
    parameters = world.run(lambda s: calibrations.parameters(s, BANK, 1))
    assert parameters["q07"].b == first.items[7].b and not parameters["q07"].provisional


def test_too_few_responses_keep_the_authored_labels_with_a_note(world: World) -> None:
    world.cohort(30)
    record = world.calibrate()
    assert all(item.provisional for item in record.items)
    assert [item.b for item in record.items] == [BAND_LOGITS[j % 5 + 1] for j in range(ITEMS)]
    assert all(item.a == 1.0 for item in record.items)
    assert record.notes, "a calibration of provisional items says why"
    stored = world.run(lambda s: calibrations.get(s, BANK, record.number))
    assert stored.notes == record.notes


def test_the_minimum_of_responses_is_the_callers(world: World) -> None:
    world.cohort(30)
    record = world.calibrate(min_responses=10, model="rasch")
    assert record.min_responses == 10
    assert not any(item.provisional for item in record.items)


def test_unknown_banks_versions_numbers_and_models_are_refused_by_name(world: World) -> None:
    with pytest.raises(calibrations.CalibrationRequestError) as bad_model:
        world.calibrate(model="3pl")
    assert bad_model.value.field == "model" and "rasch" in bad_model.value.message_zh
    with pytest.raises(BankNotFoundError):
        world.run(lambda s: calibrations.calibrate(s, bank="无此题库", actor=None, now=NOW))
    with pytest.raises(BankNotFoundError):
        world.calibrate(version=9)
    with pytest.raises(calibrations.CalibrationNotFoundError) as missing:
        world.run(lambda s: calibrations.get(s, BANK, 3))
    assert (
        missing.value.code == "calibration_not_found" and "第 3 次校准" in missing.value.message_zh
    )


def test_a_later_calibration_is_linked_to_the_earlier_scale(world: World) -> None:
    world.cohort(800, seen=None)
    first = world.calibrate()
    # a new version: the 30 items and 5 new ones, sat by an abler cohort (+0.8 logit)
    world.run(
        lambda s: banks.import_file(
            s, data=bank_yaml(ITEMS + 5), source="b2.yaml", bank=BANK, now=NOW
        )
    )
    world.run(lambda s: banks.publish(s, bank=BANK, version=2, now=NOW))
    world.cohort(800, version=2, items=ITEMS + 5, seen=None, theta_mean=0.8, seed=3)
    second = world.calibrate(version=2)
    assert second.bank_version == 2 and second.link.previous == 1
    assert second.link.method != "none" and second.link.anchors >= 5
    common = b_of(second)[:ITEMS]
    # free, the abler cohort would make every item look 0.8 easier; linked, the common
    # items keep their place on the first scale
    assert float(np.mean(np.abs(common - b_of(first)))) < 0.2
    assert second.link.B > 0.4
    new = b_of(second)[ITEMS:]
    assert float(np.sqrt(np.mean((new - TRUE_B[ITEMS : ITEMS + 5]) ** 2))) < 0.4


# -------------------------------------------------------------------------- DIF


def test_dif_by_gender_finds_the_item_harder_for_one_group(world: World) -> None:
    world.cohort(1000, seen=None, harder_for_female={5: 1.5})
    record = world.calibrate()
    report = world.run(
        lambda s: calibrations.dif(
            s, BANK, record.number, group="gender", focal="female", reference="male"
        )
    )
    assert (report.focal_learners, report.reference_learners) == (500, 500)
    by_key = {item.key: item for item in report.items}
    assert by_key["q05"].ets == "C"
    assert sum(1 for item in report.items if item.ets == "C") <= 2
    assert sum(1 for item in report.items if item.ets == "A") >= 20
    # the groups offered are the large ones, counted; no learner is named anywhere
    groups = world.run(lambda s: calibrations.dif_groups(s, BANK, record.number, group="employer"))
    assert [(g.label, g.learners) for g in groups] == [
        ("单位0", 334), ("单位1", 333), ("单位2", 333)
    ]  # fmt: skip
    assert "sim0" not in msgspec.json.encode(report).decode()


def test_groups_too_small_are_neither_judged_nor_named(world: World) -> None:
    world.cohort(150, seen=None)
    record = world.calibrate()
    report = world.run(
        lambda s: calibrations.dif(s, BANK, record.number, group="gender", focal="female")
    )
    assert report.focal_learners == 75
    assert all(item.ets is None for item in report.items)
    groups = world.run(lambda s: calibrations.dif_groups(s, BANK, record.number, group="gender"))
    assert groups == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"group": "religion", "focal": "x"}, "group"),
        ({"group": "gender", "focal": "other"}, "focal"),
        ({"group": "gender", "focal": "female", "reference": "female"}, "reference"),
        ({"group": "employer", "focal": "  "}, "focal"),
    ],
)
def test_a_bad_dif_request_names_its_field(
    world: World, changes: dict[str, Any], field: str
) -> None:
    world.cohort(30)
    record = world.calibrate()
    with pytest.raises(calibrations.CalibrationRequestError) as refused:
        world.run(lambda s: calibrations.dif(s, BANK, record.number, **changes))
    assert refused.value.field == field
    assert refused.value.message_zh.startswith(field)


# ----------------------------------------------------------- exams on a calibration

EQUATED = "校准考试-等值"


def test_an_equated_exam_paper_carries_its_pass_score_and_grading_uses_it(world: World) -> None:
    world.cohort(800)
    record = world.calibrate()
    # θ_c high enough that 7 of 10 right (70 points, a raw pass at 60 %) is not enough
    equated = spec(EQUATED, calibration=record.number, pass_standard="equated", theta_cut=1.5)

    def publish(s: Session) -> int:
        saved = exams.save_spec(s, equated, now=NOW)
        exams.publish(s, exam=EQUATED, version=saved.version.version, now=NOW)
        user = User(login="11010519491231002X", display_name="张三", password_hash="x",
                    roles=["learner"])  # fmt: skip
        s.add(user)
        s.flush()
        assert user.id is not None
        attempts.enroll(s, learner_id=user.id, exam=EQUATED, study_met=True, now=T0)
        return user.id

    learner = world.run(publish)
    view = world.run(
        lambda s: attempts.start(
            s, learner_id=learner, exam=EQUATED, practice=False, device="d", now=T0,
            secret=SECRET,
        )
    )  # fmt: skip
    stored = world.run(
        lambda s: exams.build_or_get_paper(
            s, exam=EQUATED, learner=str(learner), attempt=1, secret=SECRET, now=NOW
        )
    )
    assert not stored.created
    paper = stored.paper
    assert paper.pass_score is not None and 70 < paper.pass_score < 100
    assert paper.theta_cut == 1.5
    saves = [
        attempts.Save(item=item.item, seq=n + 1, response="A" if n < 7 else "B")
        for n, item in enumerate(view.items)
    ]
    world.run(
        lambda s: attempts.save_answers(
            s, learner_id=learner, attempt_id=view.attempt, saves=saves, device="d", now=T0 + 1
        )
    )
    result = world.run(
        lambda s: attempts.submit(
            s, learner_id=learner, attempt_id=view.attempt, sent_ms=None,
            network_grace_ms=30_000, now=T0 + 2,
        )
    )  # fmt: skip
    assert (result.score, result.max_score) == (70.0, 100.0)
    assert result.passed is False  # 70 ≥ 60 % of 100, but below this paper's pass score
    assert (result.pass_standard, result.pass_score) == ("equated", paper.pass_score)
    assert result.pass_mark == pytest.approx(paper.pass_score / 100)
    # the audit rebuilds it and shows how the pass mark was computed
    audit = world.run(
        lambda s: exams.show_paper(s, exam=EQUATED, learner=str(learner), attempt=1, secret=SECRET)
    )
    assert audit.identical
    how = audit.pass_explanation
    assert how is not None
    assert (how.standard, how.calibration, how.theta_cut) == ("equated", 1, 1.5)
    assert how.pass_score == paper.pass_score and how.raw_pass_score == 60
    assert [i.key for i in how.items] == [i.key for i in paper.items]
    assert sum(i.expected for i in how.items) == pytest.approx(how.expected_points, abs=1e-5)


def test_a_raw_exam_result_keeps_the_share_and_no_pass_score(world: World) -> None:
    world.cohort(30)
    world.calibrate()
    raw = spec("校准考试-原始", calibration=1)
    world.run(lambda s: exams.save_spec(s, raw, now=NOW))
    world.run(lambda s: exams.publish(s, exam=raw.key, version=1, now=NOW))
    paper = world.run(
        lambda s: exams.build_or_get_paper(
            s, exam=raw.key, learner="sim-raw", attempt=1, secret=SECRET, now=NOW
        )
    ).paper
    assert paper.pass_score is None and paper.theta_cut is not None


def test_the_paper_seed_includes_the_calibration(world: World) -> None:
    world.cohort(30)
    world.calibrate()
    world.calibrate()
    seeds = {}
    for number in (None, 1, 2):
        key = f"校准考试-种子{number}"

        def build(s: Session, key: str = key, number: int | None = number) -> exams.PaperRecord:
            exams.save_spec(s, spec(key, calibration=number), now=NOW)
            exams.publish(s, exam=key, version=1, now=NOW)
            return exams.build_or_get_paper(
                s, exam=key, learner="sim-seed", attempt=1, secret=SECRET, now=NOW
            )

        stored = world.run(build)
        expected = paper_seed(
            SECRET, exam=key, spec_version=1, bank=BANK, bank_version=1, learner="sim-seed",
            attempt=1, calibration=number,
        )  # fmt: skip
        assert stored.paper.seed == f"{expected:016x}"
        without = paper_seed(
            SECRET, exam=key, spec_version=1, bank=BANK, bank_version=1, learner="sim-seed",
            attempt=1,
        )  # fmt: skip
        assert (stored.paper.seed == f"{without:016x}") is (number is None)
        seeds[number] = stored.paper.seed
    assert len(set(seeds.values())) == 3


def test_a_spec_naming_a_calibration_the_bank_lacks_is_refused(world: World) -> None:
    with pytest.raises(SpecInvalidError) as refused:
        world.run(lambda s: exams.save_spec(s, spec("校准考试-无", calibration=4), now=NOW))
    (problem,) = [p for p in refused.value.problems if p.severity == "error"]
    assert (problem.code, problem.where) == ("calibration-not-found", "calibration")
    assert "第 4 次校准" in problem.message_zh and "calibration 4" in problem.message
    assert world.run(lambda s: exams.validate_spec(s, spec("x", calibration=4))) == [problem]


def test_the_information_band_of_an_exams_papers(world: World) -> None:
    world.cohort(800)
    world.calibrate()
    key = "校准考试-信息"
    world.run(lambda s: exams.save_spec(s, spec(key, calibration=1, theta_cut=0.5), now=NOW))
    band = world.run(lambda s: calibrations.exam_information(s, key, papers=100))
    assert (band.exam, band.version, band.calibration, band.papers) == (key, 1, 1, 100)
    assert len(band.thetas) == len(band.mean) == len(band.p5) == len(band.p95) == 33
    assert all(lo <= m <= hi for lo, m, hi in zip(band.p5, band.mean, band.p95, strict=True))
    assert band.theta_cut == 0.5 and band.at_cut is not None
    assert band.at_cut[1] <= band.at_cut[0] <= band.at_cut[2]
    # the same band every time (fixed seeds)
    assert world.run(lambda s: calibrations.exam_information(s, key, papers=100)) == band
    # an uncalibrated exam: authored labels, a = 1, no θ_c
    plain = world.run(lambda s: calibrations.exam_information(s, EXAM, papers=20))
    assert plain.calibration is None and plain.theta_cut is None
