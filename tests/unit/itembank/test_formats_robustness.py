"""No file, however broken, makes a parser raise: it becomes problems with places.

Valid files of every format are cut short, spliced and sprinkled with bytes; random
bytes are thrown at every parser; each must return a ParseResult.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from itembank import formats
from itembank.formats import ParseResult
from itembank.model import (
    AcceptedText,
    FillBlank,
    Item,
    Matching,
    MultipleChoice,
    Numerical,
    NumericAnswer,
    Option,
    Pair,
    SingleChoice,
    TrueFalse,
)

ITEMS = [
    Item(
        key="s1",
        stem="数字经济中最关键的生产要素是什么？",
        topic="数字经济",
        body=SingleChoice(
            options=(Option(id="A", text="数据", fraction=1.0), Option(id="B", text="土地"))
        ),
    ),
    Item(
        key="m1",
        stem="下列属于新型基础设施的有？",
        topic="数字经济",
        body=MultipleChoice(
            options=(
                Option(id="A", text="5G 基站", fraction=0.5),
                Option(id="B", text="数据中心", fraction=0.5),
                Option(id="C", text="农贸市场", fraction=-0.5),
            ),
            scoring="partial",
        ),
    ),
    Item(key="t1", stem="适度的压力有助于提高工作效率。", body=TrueFalse(answer=True)),
    Item(
        key="f1", stem="AI 的中文是____。", body=FillBlank(answers=(AcceptedText(text="人工智能"),))
    ),
    Item(key="n1", stem="1 GB = ? MB", body=Numerical(answers=(NumericAnswer(value=1024),))),
    Item(
        key="p1",
        stem="配对",
        body=Matching(pairs=(Pair(prompt="甲", answer="1"), Pair(prompt="乙", answer="2"))),
    ),
]

SAMPLES = {name: formats.get(name).dump(ITEMS) for name in formats.FORMAT_NAMES}
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse(name: str, data: bytes) -> ParseResult:
    result = formats.get(name).parse(data, source=f"fuzz.{name}")
    assert isinstance(result, ParseResult)
    for problem in result.problems:
        assert problem.message and problem.message_zh, problem
        assert problem.line >= 0 and problem.col >= 0
    return result


@pytest.mark.parametrize("name", formats.FORMAT_NAMES)
def test_every_format_reads_back_what_it_writes_without_errors(name: str) -> None:
    assert parse(name, SAMPLES[name]).ok


@pytest.mark.parametrize("name", formats.FORMAT_NAMES)
@FUZZ
@given(data=st.data())
def test_a_cut_or_corrupted_file_never_raises(name: str, data: st.DataObject) -> None:
    sample = SAMPLES[name]
    cut = data.draw(st.integers(0, len(sample)))
    noise = data.draw(st.binary(max_size=8))
    at = data.draw(st.integers(0, cut))
    parse(name, sample[:at] + noise + sample[at:cut])


@pytest.mark.parametrize("name", formats.FORMAT_NAMES)
@FUZZ
@given(blob=st.binary(max_size=300))
def test_random_bytes_never_raise(name: str, blob: bytes) -> None:
    parse(name, blob)


def test_a_qti_package_with_a_corrupt_entry_is_a_problem_naming_the_entry() -> None:
    sample = bytearray(SAMPLES["qti"])
    header = sample.find(b"PK\x03\x04", 4)  # the second entry's local header
    sample[header + 4] ^= 0xFF
    sample[header + 1] = 0  # a bad signature: "Bad magic number for file header"
    result = parse("qti", bytes(sample))
    assert not result.ok
    assert any("cannot be read from the zip" in p.message for p in result.problems)
