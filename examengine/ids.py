"""Who a learner is: the resident ID number (GB 11643-1999) and the mobile number; and
who an employer is: the unified social credit code (统一社会信用代码, GB 32100-2015).

``check_resident_id``, ``check_mobile`` and ``check_credit_code`` return the normalised
value or raise ``InvalidIdentifier`` with a code and a message (Chinese and English) for
each way the input can be wrong, so a bulk roster can say exactly what is wrong on each
line. ``identify`` tells which of the two a login is.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Literal

from examengine.errors import EngineError

#: Weights of the 17 digits (2^(17-i) mod 11) and the check character for each remainder.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_RESIDENT = re.compile(r"^[0-9]{17}[0-9X]$")
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
#: The first two digits of a resident ID: the province-level division (GB/T 2260).
_PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50,
     51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83, 91}
)  # fmt: skip


#: GB 32100: the 31 characters a credit code is written in (digits and capitals without
#: I, O, S, V, Z), each worth its index; the weights of the first 17 are 3^i mod 31.
_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
#: Registration authority, category, the registering office's division code (6 digits),
#: the organisation's code (9 characters), the check character.
_CREDIT = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")


class InvalidIdentifier(EngineError):
    """An ID number, phone number or credit code is wrong; ``code`` says how."""

    def __init__(self, code: str, message: str, message_zh: str) -> None:
        super().__init__(message, message_zh)
        self.code = code


def _ascii(value: str) -> str:
    """Full-width digits, letters and signs (typed with a Chinese input method) as ASCII,
    so one person never gets two accounts spelled differently."""
    return unicodedata.normalize("NFKC", value)


def check_character(first17: str) -> str:
    """The GB 11643 check character (0–9 or X) of the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def check_resident_id(value: str, *, today: date | None = None) -> str:
    """The ID number, trimmed and with a lower-case x raised, if it is valid.

    Checks, in order: length, characters, province code, date of birth (a real date, not
    in the future when ``today`` is given, not before 1900), and the check character.
    """
    text = _ascii(value).strip().replace("x", "X")
    if len(text) != 18:
        raise InvalidIdentifier(
            "id_length",
            f"a resident ID number has 18 characters, this one has {len(text)}",
            f"身份证号码应为 18 位，当前为 {len(text)} 位",
        )
    if not _RESIDENT.match(text):
        raise InvalidIdentifier(
            "id_characters",
            "a resident ID number is 17 digits followed by a digit or X",
            "身份证号码应为 17 位数字加 1 位数字或 X",
        )
    if int(text[:2]) not in _PROVINCES:
        raise InvalidIdentifier(
            "id_region",
            f"{text[:2]} is not a province code; check the first two digits",
            f"前两位 {text[:2]} 不是有效的省级行政区划代码",
        )
    _check_birth(text[6:14], today)
    expected = check_character(text[:17])
    if text[17] != expected:
        raise InvalidIdentifier(
            "id_checksum",
            f"the last character should be {expected}, not {text[17]}; a digit is mistyped",
            f"校验位应为 {expected}，而不是 {text[17]}，请检查是否有数字输错",
        )
    return text


def _check_birth(digits: str, today: date | None) -> None:
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        born = None
    if born is None or born.year < 1900 or (today is not None and born > today):
        raise InvalidIdentifier(
            "id_birth_date",
            f"characters 7–14 ({digits}) are not a possible date of birth",
            f"第 7–14 位（{digits}）不是有效的出生日期",
        )


def check_mobile(value: str) -> str:
    """The mobile number without spaces, dashes or a +86 / 0086 prefix, if valid."""
    text = re.sub(r"[\s-]", "", _ascii(value))
    text = re.sub(r"^(\+86|0086)", "", text)
    if not _MOBILE.match(text):
        raise InvalidIdentifier(
            "mobile",
            "a mobile number has 11 digits and starts with 13–19",
            "手机号码应为以 13–19 开头的 11 位数字",
        )
    return text


def credit_check_character(first17: str) -> str:
    """The GB 32100 check character of a credit code's first 17 characters: 31 minus the
    weighted sum mod 31 (31 itself written 0), as one of the code's 31 characters.
    Anything but 17 of those characters is a ``ValueError``."""
    total = sum(_CREDIT_CHARS.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return _CREDIT_CHARS[(31 - total % 31) % 31]


def check_credit_code(value: str) -> str:
    """The unified social credit code, trimmed and in capitals, if it is valid.

    Checks, in order: length (18), characters (digits and capitals but I, O, S, V and Z;
    the third to eighth, a division code, digits), and the check character.
    """
    text = _ascii(value).strip().upper()
    if len(text) != 18:
        raise InvalidIdentifier(
            "credit_code_length",
            f"a unified social credit code has 18 characters, this one has {len(text)}",
            f"统一社会信用代码应为 18 位，当前为 {len(text)} 位",
        )
    if not _CREDIT.match(text):
        raise InvalidIdentifier(
            "credit_code_characters",
            "a unified social credit code is digits and capital letters other than I, O, "
            "S, V and Z, with digits in places 3–8",
            "统一社会信用代码由数字和大写字母（不含 I、O、S、V、Z）组成，第 3–8 位为数字",
        )
    expected = credit_check_character(text[:17])
    if text[17] != expected:
        raise InvalidIdentifier(
            "credit_code_checksum",
            f"the last character should be {expected}, not {text[17]}; a character is mistyped",
            f"校验位应为 {expected}，而不是 {text[17]}，请检查是否有字符输错",
        )
    return text


def identify(login: str) -> tuple[Literal["resident_id", "mobile"], str]:
    """Which kind of identifier ``login`` is, and its normalised form.

    Eleven digits, or a number with a +86 / 0086 prefix, is a mobile number; anything
    else is read as an ID number, and the error is that kind's.
    """
    compact = re.sub(r"[\s-]", "", _ascii(login))
    if re.fullmatch(r"(\+86|0086)?[0-9]{11}", compact):
        return "mobile", check_mobile(compact)
    return "resident_id", check_resident_id(login)


def masked(login: str) -> str:
    """A login as a screen or a list shows it: a resident ID number keeps its first six
    and last four characters (110105********002X), a mobile number its first three and
    last four (138****0001); any other login (staff) as it is. Whoever looks over a
    shoulder learns no ID number."""
    if len(login) == 18:
        return f"{login[:6]}{'*' * 8}{login[-4:]}"
    if len(login) == 11 and login.isdigit():
        return f"{login[:3]}****{login[-4:]}"
    return login
