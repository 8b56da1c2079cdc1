"""Unified social credit codes (统一社会信用代码, GB 32100-2015): the check character by the
text of the standard, what is accepted and how it is normalised, and the code and both
messages of every way a code can be wrong."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from examengine.errors import EngineError
from examengine.ids import InvalidIdentifier, check_credit_code, credit_check_character

#: The standard's character set: digits and capitals without I, O, S, V and Z.
CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"

#: Codes of real, registered companies, as printed on their business licences.
REAL = (
    "9144030071526726XG",
    "91350100M000100Y43",
    "91110000802100433B",
    "911100001000044477",
)


def by_the_standard(first17: str) -> str:
    """The check character computed from the text of the standard, not from the module's
    tables: weights 3^(i-1) mod 31, check = 31 - (sum mod 31), 31 written 0."""
    total = sum(CHARS.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    value = 31 - total % 31
    return CHARS[0 if value == 31 else value]


def refused(value: str) -> InvalidIdentifier:
    with pytest.raises(InvalidIdentifier) as caught:
        check_credit_code(value)
    return caught.value


first17s = st.builds(
    lambda head, division, organisation: head + division + organisation,
    st.text(CHARS, min_size=2, max_size=2),
    st.text("0123456789", min_size=6, max_size=6),
    st.text(CHARS, min_size=9, max_size=9),
)


# ------------------------------------------------------------------ valid codes


@pytest.mark.parametrize("code", REAL)
def test_the_codes_of_real_companies_are_valid(code: str) -> None:
    assert check_credit_code(code) == code
    assert credit_check_character(code[:17]) == by_the_standard(code[:17]) == code[-1]


@given(first17s)
def test_every_code_built_with_its_check_character_is_valid(first17: str) -> None:
    check = credit_check_character(first17)
    assert check == by_the_standard(first17)
    assert check_credit_code(first17 + check) == first17 + check


def test_every_one_of_the_31_check_characters_occurs() -> None:
    seen = {credit_check_character(f"91110000{n:09d}") for n in range(400)}
    assert seen == set(CHARS)


def test_a_sum_divisible_by_31_has_the_check_character_0() -> None:
    # 31 - 0 is 31, which the standard writes as 0 (not as a 32nd character)
    candidates = (f"91110000{n:09d}" for n in range(400))
    first17 = next(c for c in candidates if by_the_standard(c) == "0")
    assert credit_check_character(first17) == "0"


def test_lower_case_full_width_and_surrounding_space_are_normalised() -> None:
    assert check_credit_code(" 9144030071526726xg\t") == "9144030071526726XG"
    full_width = "９１４４０３００７１５２６７２６ＸＧ"
    assert check_credit_code(full_width) == "9144030071526726XG"


@pytest.mark.parametrize("length", [16, 18])
def test_the_check_character_covers_exactly_17_characters(length: int) -> None:
    with pytest.raises(ValueError):
        credit_check_character("9" * length)


# ------------------------------------------------------------------ each error


def test_a_code_of_the_wrong_length_is_refused_with_its_length() -> None:
    error = refused("9144030071526726X")
    assert error.code == "credit_code_length"
    assert error.message == "a unified social credit code has 18 characters, this one has 17"
    assert error.message_zh == "统一社会信用代码应为 18 位，当前为 17 位"


@pytest.mark.parametrize(
    "value",
    [
        "9144030071526726XI",  # I, O, S, V and Z are not in the set
        "91440300715267O6XG",
        "9S44030071526726XG",
        "914403007152672VXG",
        "Z144030071526726XG",
        "91A4030071526726XG",  # places 3–8 are a division code: digits
        "9144030-71526726XG",
    ],
)
def test_characters_outside_the_set_are_refused(value: str) -> None:
    error = refused(value)
    assert error.code == "credit_code_characters"
    assert "other than I, O, S, V and Z" in error.message
    assert error.message_zh.startswith("统一社会信用代码由数字和大写字母")


def test_a_wrong_check_character_is_refused_naming_the_expected_one() -> None:
    error = refused("9144030071526726XH")
    assert error.code == "credit_code_checksum"
    assert error.message == "the last character should be G, not H; a character is mistyped"
    assert error.message_zh == "校验位应为 G，而不是 H，请检查是否有字符输错"


@given(first17s, st.integers(0, 16), st.sampled_from(CHARS))
def test_any_one_character_mistyped_is_refused(first17: str, place: int, char: str) -> None:
    code = first17 + credit_check_character(first17)
    typed = code[:place] + char + code[place + 1 :]
    if typed != code and typed[2:8].isdigit():
        # weights are non-zero mod the prime 31: one changed character changes the sum
        assert refused(typed).code == "credit_code_checksum"


def test_an_invalid_credit_code_is_an_engine_error() -> None:
    assert isinstance(refused("1"), EngineError)
