"""Resident ID numbers (GB 11643) and mobile numbers: what is accepted, how it is
normalised, and the code and both messages of every way the input can be wrong."""

from datetime import date

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from examengine.errors import EngineError
from examengine.ids import (
    InvalidIdentifier,
    check_character,
    check_mobile,
    check_resident_id,
    identify,
)

#: The example of GB 11643-1999 itself: Beijing Chaoyang, born 1949-12-31, check X.
STANDARD_EXAMPLE = "11010519491231002X"

PROVINCES = (
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50,
    51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83, 91,
)  # fmt: skip


def by_the_standard(first17: str) -> str:
    """The check character computed from the text of the standard, not from the module's
    tables: weights 2^(17-i) mod 11, check = (12 - sum mod 11) mod 11, 10 written X."""
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def with_check(first17: str) -> str:
    return first17 + check_character(first17)


def refused(value: str, **kwargs) -> InvalidIdentifier:
    with pytest.raises(InvalidIdentifier) as caught:
        check_resident_id(value, **kwargs)
    return caught.value


# ------------------------------------------------------------------ valid numbers


def test_the_example_of_the_standard_is_valid():
    assert check_resident_id(STANDARD_EXAMPLE) == STANDARD_EXAMPLE


def test_the_check_character_of_the_standard_example_is_x():
    # 1·7+1·9+0·10+1·5+0·8+5·4+1·2+9·1+4·6+9·3+1·7+2·9+3·10+1·5+0·8+0·4+2·2 = 167;
    # 167 mod 11 = 2, and remainder 2 gives X.
    assert check_character("11010519491231002") == "X"
    assert by_the_standard("11010519491231002") == "X"


@pytest.mark.parametrize(
    "first17",
    [
        "11010519491231002",
        "50010119900307123",
        "51010720000229004",  # born on a leap day
        "44030419000101001",  # born on the first day accepted
        "65010119851231999",
        "81000020101010555",
    ],
)
def test_numbers_built_with_their_check_character_are_valid(first17):
    number = with_check(first17)
    assert number[-1] == by_the_standard(first17)
    assert check_resident_id(number) == number


def test_every_check_character_from_0_to_x_occurs_and_validates():
    seen = {}
    for serial in range(200):
        first17 = f"11010519491231{serial:03d}"
        seen.setdefault(check_character(first17), first17)
    assert set(seen) == set("0123456789X")
    for char, first17 in seen.items():
        assert check_resident_id(first17 + char) == first17 + char


def test_a_lower_case_x_is_raised_to_upper_case():
    assert check_resident_id("11010519491231002x") == STANDARD_EXAMPLE


def test_surrounding_white_space_is_trimmed():
    assert check_resident_id(f"  {STANDARD_EXAMPLE}\t\n") == STANDARD_EXAMPLE


def test_a_birth_date_of_today_is_accepted():
    number = with_check("11010520240101002")
    assert check_resident_id(number, today=date(2024, 1, 1)) == number


# ------------------------------------------------------------------ each error


def test_a_number_of_the_wrong_length_is_refused_with_its_length():
    error = refused("1101051949123100")
    assert error.code == "id_length"
    assert error.message == "a resident ID number has 18 characters, this one has 16"
    assert error.message_zh == "身份证号码应为 18 位，当前为 16 位"


def test_the_length_is_counted_after_trimming():
    error = refused(f" {STANDARD_EXAMPLE}0 ")
    assert error.code == "id_length"
    assert error.message.endswith("this one has 19")


@pytest.mark.parametrize(
    "value",
    ["11010519491231002Y", "1101051949123I002X", "X1010519491231002X", "110105-9491231002X"],
)
def test_letters_other_than_a_final_x_are_refused(value):
    error = refused(value)
    assert error.code == "id_characters"
    assert error.message == "a resident ID number is 17 digits followed by a digit or X"
    assert error.message_zh == "身份证号码应为 17 位数字加 1 位数字或 X"


@pytest.mark.parametrize("region", ["00", "10", "19", "47", "66", "99"])
def test_a_number_outside_every_province_is_refused_naming_the_two_digits(region):
    error = refused(with_check(region + "010519491231002"))
    assert error.code == "id_region"
    assert error.message == f"{region} is not a province code; check the first two digits"
    assert error.message_zh == f"前两位 {region} 不是有效的省级行政区划代码"


@pytest.mark.parametrize(
    ("birth", "today"),
    [
        ("19490230", None),  # 30 February
        ("19491301", None),  # month 13
        ("19490100", None),  # day 0
        ("19000229", None),  # 1900 was not a leap year
        ("18991231", None),  # before 1900
        ("20240102", date(2024, 1, 1)),  # tomorrow
    ],
)
def test_an_impossible_date_of_birth_is_refused_naming_the_digits(birth, today):
    error = refused(with_check(f"110105{birth}002"), today=today)
    assert error.code == "id_birth_date"
    assert error.message == f"characters 7–14 ({birth}) are not a possible date of birth"
    assert error.message_zh == f"第 7–14 位（{birth}）不是有效的出生日期"


def test_a_future_date_of_birth_is_only_refused_when_today_is_given():
    number = with_check("11010520991231002")
    assert check_resident_id(number) == number
    assert refused(number, today=date(2024, 6, 1)).code == "id_birth_date"


def test_a_wrong_check_character_is_refused_naming_the_expected_one():
    error = refused("110105194912310021")
    assert error.code == "id_checksum"
    assert error.message == "the last character should be X, not 1; a digit is mistyped"
    assert error.message_zh == "校验位应为 X，而不是 1，请检查是否有数字输错"


def test_a_check_character_x_where_a_digit_is_expected_is_refused():
    number = with_check("50010119900307123")
    assert number[-1] != "X"
    error = refused(number[:17] + "x")
    assert error.code == "id_checksum"
    assert error.message == (
        f"the last character should be {number[-1]}, not X; a digit is mistyped"
    )


def test_two_swapped_digits_are_refused():
    # the commonest typing error: 1949 typed as 1994
    assert refused("11010519941231002X").code == "id_checksum"


def test_errors_are_reported_in_order_length_characters_region_birth_checksum():
    # each of these is wrong in two ways; the first check that fails speaks
    assert refused("9901051949023000").code == "id_length"
    assert refused("99010519490230002Y").code == "id_characters"
    assert refused("990105194902300021").code == "id_region"
    assert refused("110105194902300021").code == "id_birth_date"


def test_full_width_digits_are_never_returned_as_an_id_number():
    # typed with a Chinese input method: re's \d matches them, so they must be either
    # folded to ASCII or refused, never stored as a second spelling of the same number
    full_width = STANDARD_EXAMPLE[:17].translate(
        str.maketrans("0123456789", "０１２３４５６７８９")
    )
    try:
        result = check_resident_id(full_width + "X")
    except InvalidIdentifier as error:
        assert error.code == "id_characters"
    else:
        assert result == STANDARD_EXAMPLE


def test_an_invalid_identifier_is_an_engine_error():
    assert isinstance(refused("1"), EngineError)


# ------------------------------------------------------------------ mobile numbers


@pytest.mark.parametrize(
    "value",
    [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        " 138 1234-5678 ",
        "+8613812345678",
        "+86 138 1234 5678",
        "+86-138-1234-5678",
        "008613812345678",
        "0086 138 1234 5678",
    ],
)
def test_a_mobile_number_loses_spaces_dashes_and_the_country_prefix(value):
    assert check_mobile(value) == "13812345678"


@pytest.mark.parametrize("second", "3456789")
def test_mobile_numbers_may_start_with_13_to_19(second):
    assert check_mobile(f"1{second}012345678") == f"1{second}012345678"


@pytest.mark.parametrize(
    "value",
    [
        "12812345678",  # 12 is no mobile prefix
        "23812345678",
        "1381234567",  # ten digits
        "138123456789",  # twelve digits
        "8613812345678",  # 86 without + or 00
        "+85213812345678",  # another country
        "1381234567a",
        "",
    ],
)
def test_a_wrong_mobile_number_is_refused_in_both_languages(value):
    with pytest.raises(InvalidIdentifier) as caught:
        check_mobile(value)
    assert caught.value.code == "mobile"
    assert caught.value.message == "a mobile number has 11 digits and starts with 13–19"
    assert caught.value.message_zh == "手机号码应为以 13–19 开头的 11 位数字"


def test_full_width_digits_are_never_returned_as_a_mobile_number():
    typed = "138" + "１２３４５６７８"
    try:
        result = check_mobile(typed)
    except InvalidIdentifier as error:
        assert error.code == "mobile"
    else:
        assert result == "13812345678"


# ------------------------------------------------------------------ identify


@pytest.mark.parametrize(
    ("login", "kind", "value"),
    [
        ("13812345678", "mobile", "13812345678"),
        ("+86 138-1234-5678", "mobile", "13812345678"),
        ("0086 13812345678", "mobile", "13812345678"),
        ("11010519491231002x", "resident_id", STANDARD_EXAMPLE),
        (f" {STANDARD_EXAMPLE} ", "resident_id", STANDARD_EXAMPLE),
    ],
)
def test_identify_tells_a_mobile_number_from_an_id_number(login, kind, value):
    assert identify(login) == (kind, value)


@pytest.mark.parametrize(
    ("login", "code"),
    [
        ("12812345678", "mobile"),  # eleven digits: read as a phone, refused as one
        ("+86 128 1234 5678", "mobile"),
        ("110105194912310021", "id_checksum"),
        ("1101051949", "id_length"),
        ("zhangsan", "id_length"),
    ],
)
def test_identify_reports_the_error_of_the_kind_it_read(login, code):
    with pytest.raises(InvalidIdentifier) as caught:
        identify(login)
    assert caught.value.code == code


# ------------------------------------------------------------------ property

REGIONS = st.sampled_from(PROVINCES).map(lambda p: f"{p:02d}")
DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=1)
PREFIXES = st.builds(
    lambda region, district, born, serial: region + district + born.strftime("%Y%m%d") + serial,
    REGIONS,
    st.text(alphabet="0123456789", min_size=4, max_size=4),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2024, 12, 31)),
    st.text(alphabet="0123456789", min_size=3, max_size=3),
)


@settings(max_examples=200, deadline=None)
@given(first17=PREFIXES)
def test_a_valid_prefix_with_its_check_character_always_validates(first17):
    assert check_character(first17) == by_the_standard(first17)
    number = first17 + check_character(first17)
    assert check_resident_id(number) == number
    assert check_resident_id(number.lower()) == number


@settings(max_examples=200, deadline=None)
@given(first17=PREFIXES, position=st.integers(0, 16), shift=st.integers(1, 9))
def test_changing_any_one_digit_always_fails_the_checksum(first17, position, shift):
    check = check_character(first17)
    digit = str((int(first17[position]) + shift) % 10)
    changed = first17[:position] + digit + first17[position + 1 :]
    assert check_character(changed) != check
    with pytest.raises(InvalidIdentifier) as caught:
        check_resident_id(changed + check)
    if position in (2, 3, 4, 5, 14, 15, 16):  # digits that carry no region or date
        assert caught.value.code == "id_checksum"
    else:
        assert caught.value.code in {"id_region", "id_birth_date", "id_checksum"}


@settings(max_examples=100, deadline=None)
@given(first17=PREFIXES, wrong=st.sampled_from("0123456789X"))
def test_any_other_check_character_fails_the_checksum(first17, wrong):
    check = check_character(first17)
    assume(wrong != check)
    with pytest.raises(InvalidIdentifier) as caught:
        check_resident_id(first17 + wrong)
    assert caught.value.code == "id_checksum"
    assert caught.value.message.startswith(f"the last character should be {check}, not {wrong}")
