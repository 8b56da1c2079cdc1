"""Papers and seeds of exams without a calibration are exactly what the assembler built
before calibrated assembly existed (issue 18): the expected values below were computed
with that code and stored here, so a stored paper still rebuilds from its seed."""

from __future__ import annotations

import hashlib

import msgspec
import numpy as np

from examengine.assembly import assemble, build_paper, compile_exam, paper_from_batch, paper_seed
from examengine.blueprint import Cell, ExamSpec, Section
from itembank.model import (
    Difficulty,
    Item,
    ItemKind,
    Option,
    SingleChoice,
    TrueFalse,
    option_id,
)

SECRET = b"pinned-paper-secret"


def bank() -> list[Item]:
    rng = np.random.default_rng(18)
    items = []
    for n in range(120):
        topic = ("alpha", "beta", "gamma")[n % 3]
        if n % 2:
            body: SingleChoice | TrueFalse = TrueFalse(answer=bool(n % 4 == 1))
        else:
            body = SingleChoice(
                options=tuple(
                    Option(id=option_id(j), text=f"o{j}", fraction=float(j == 0), fixed=j == 3)
                    for j in range(4)
                )
            )
        form = n % 3
        difficulty = (
            Difficulty(irt_b=round(float(rng.normal()), 3))
            if form == 0
            else Difficulty(band=int(rng.integers(1, 6)))
            if form == 1
            else Difficulty(facility=round(float(rng.uniform(0.1, 0.9)), 3))
        )
        items.append(
            Item(
                key=f"p{n:03d}",
                stem=f"s{n}",
                body=body,
                topic=topic,
                difficulty=difficulty,
                enemy_group=f"g{n % 7}" if n % 5 == 0 else None,
                points=float(1 + n % 2),
            )
        )
    return items


SPEC = ExamSpec(
    key="pinned",
    title="pinned",
    bank="b",
    bank_version=1,
    r_max=0.5,
    sections=(
        Section(
            title="single",
            kind=ItemKind.SINGLE,
            count=6,
            cells=(
                Cell(topic="alpha", count=2),
                Cell(topic="beta", count=2),
                Cell(topic="gamma", count=2),
            ),
        ),
        Section(title="tf", kind=ItemKind.TRUE_FALSE, count=5, points=2.0),
    ),
)


def seed(learner: str, attempt: int = 1) -> int:
    return paper_seed(
        SECRET,
        exam="pinned",
        spec_version=1,
        bank="b",
        bank_version=1,
        learner=learner,
        attempt=attempt,
    )


def digest(papers: list[object]) -> str:
    return hashlib.sha256(b"\n".join(msgspec.json.encode(p) for p in papers)).hexdigest()


EXPECTED_SEEDS = {
    "u0": 18225981256340743827,
    "u1": 17286690103211376888,
    "u2": 11678473282530800018,
}
EXPECTED_PAPER = (
    b'{"seed":"fcefb163231e2693","items":[["p016",0,1.0,["A","C","B","D"]],["p034",0,1'
    b'.0,["C","A","B","D"]],["p090",0,1.0,["A","B","C","D"]],["p044",0,1.0,["B","C","A'
    b'","D"]],["p036",0,1.0,["C","B","A","D"]],["p008",0,1.0,["A","B","C","D"]],["p051'
    b'",1,2.0,[]],["p077",1,2.0,[]],["p013",1,2.0,[]],["p063",1,2.0,[]],["p109",1,2.0,'
    b'[]]],"difficulty":0.22947,"repeats":0}'
)
EXPECTED_RETAKE = (
    b'{"seed":"cab77a3ab9948922","items":[["p070",0,1.0,["B","C","A","D"]],["p020",0,1'
    b'.0,["C","B","A","D"]],["p004",0,1.0,["C","B","A","D"]],["p056",0,1.0,["C","B","A'
    b'","D"]],["p030",0,1.0,["C","B","A","D"]],["p066",0,1.0,["C","B","A","D"]],["p043'
    b'",1,2.0,[]],["p093",1,2.0,[]],["p045",1,2.0,[]],["p031",1,2.0,[]],["p017",1,2.0,'
    b'[]]],"difficulty":0.181251,"repeats":0}'
)
EXPECTED_BATCH = "fe813858ed0a2e6a8579433e891419648537734f3f2d7a6ef6239fe2c4c8d711"


def test_seeds_without_a_calibration_are_unchanged():
    assert {f"u{n}": seed(f"u{n}") for n in range(3)} == EXPECTED_SEEDS


def test_a_paper_without_parameters_is_byte_identical_to_the_one_built_before():
    exam = compile_exam(SPEC, bank())
    assert msgspec.json.encode(build_paper(exam, seed("u0"))) == EXPECTED_PAPER


def test_a_retake_without_parameters_is_byte_identical_to_the_one_built_before():
    exam = compile_exam(SPEC, bank())
    first = build_paper(exam, seed("u1"))
    retake = build_paper(exam, seed("u1", 2), exclude={p.key for p in first.items})
    assert msgspec.json.encode(retake) == EXPECTED_RETAKE


def test_a_batch_of_200_papers_without_parameters_is_unchanged():
    exam = compile_exam(SPEC, bank())
    seeds = [seed(f"learner-{n}") for n in range(200)]
    batch = assemble(exam, seeds)
    assert digest([paper_from_batch(exam, batch, row) for row in range(200)]) == EXPECTED_BATCH
