"""The rules an account's fields follow, applied one field at a time: a name, an
employer's name, a gender (and the gender an ID number records), the identifiers
(``examengine.ids``' rules, each failure worded as a ``FieldProblem``), a password's
strength, and the initial password of an imported account. Registration, rosters and
staff resets all check with these.
"""

from __future__ import annotations

import functools
import gzip
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from importlib import resources

from api.services.accounts.error import FieldProblem
from examengine.clock import BEIJING
from examengine.ids import InvalidIdentifier

#: Prefix of the initial password of an imported account: ``edu@`` + the ID's last six.
INITIAL_PASSWORD_PREFIX = "edu@"
MIN_PASSWORD = 8
MAX_NAME = 50
#: Longest employer name (``user.employer``, ``employer.name``).
MAX_EMPLOYER = 200
#: The middle dot between the parts of a name written in Chinese characters for a
#: minority name (阿依古丽·买买提); the only non-letter a name may hold.
NAME_DOT = "·"


def _problem(field: str, code: str, message: str, message_zh: str) -> FieldProblem:
    return FieldProblem(field=field, code=code, message=message, message_zh=message_zh)


def check_name(value: str) -> str | FieldProblem:
    """The name, trimmed, or what is wrong with it: letters of any script only, no
    spaces, digits or symbols (the middle dot · may join the parts of a minority name)."""
    text = value.strip()
    if not text:
        return _problem("name", "name_required", "the name is required", "姓名不能为空")
    if len(text) > MAX_NAME:
        return _problem(
            "name", "name_length", f"at most {MAX_NAME} characters, this has {len(text)}",
            f"最多 {MAX_NAME} 个字，当前为 {len(text)} 个",
        )  # fmt: skip
    if any(c.isspace() for c in text):
        return _problem(
            "name", "name_spaces", "the name must not contain spaces", "姓名中不能有空格"
        )
    bad = sorted({c for c in text if not c.isalpha() and c != NAME_DOT})
    if bad or text[0] == NAME_DOT or text[-1] == NAME_DOT or NAME_DOT * 2 in text:
        shown = "".join(bad) or NAME_DOT
        return _problem(
            "name", "name_symbols",
            f"the name may hold letters only, not digits or symbols ({shown}); "
            f"a {NAME_DOT} may only join two parts of a name",
            f"姓名只能由文字组成，不能有数字或符号（{shown}）；"
            f"间隔号 {NAME_DOT} 只能用在两段姓名之间",
        )  # fmt: skip
    return text


def check_employer(value: str) -> str | FieldProblem:
    """An employer's name as it is stored, or what is wrong with it: NFKC-normalised (the
    full-width letters, digits, brackets and spaces of a Chinese input method become
    one spelling, so one employer is not registered twice), trimmed, 1 to
    ``MAX_EMPLOYER`` characters on one line."""
    text = unicodedata.normalize("NFKC", value).strip()
    if not text:
        return _problem(
            "employer", "employer_required", "the employer's name is required", "单位名称不能为空"
        )
    if len(text) > MAX_EMPLOYER:
        return _problem(
            "employer", "employer_length",
            f"at most {MAX_EMPLOYER} characters, this has {len(text)}",
            f"最多 {MAX_EMPLOYER} 个字，当前为 {len(text)} 个",
        )  # fmt: skip
    if any(unicodedata.category(c) in _LINE_BREAKERS for c in text):
        return _problem(
            "employer", "employer_one_line",
            "the employer's name is one line, without control characters",
            "单位名称须在一行内，不能含换行或控制字符",
        )  # fmt: skip
    return text


#: Control characters and the line and paragraph separators.
_LINE_BREAKERS = frozenset({"Cc", "Zl", "Zp"})


_GENDER_WORDS = {"男": "male", "女": "female", "male": "male", "female": "female",
                 "m": "male", "f": "female"}  # fmt: skip


def gender_of_id(resident_id: str) -> str:
    """The gender a valid ID number records: its 17th digit is odd for men."""
    return "male" if int(resident_id[16]) % 2 else "female"


def check_gender(value: str, resident_id: str | None) -> str | FieldProblem | None:
    """The gender (``male``/``female``; 男/女 accepted), taken from the ID number when
    empty, or what is wrong: an unknown word, or a gender the ID number contradicts."""
    text = value.strip().lower()
    if not text:
        return gender_of_id(resident_id) if resident_id else None
    gender = _GENDER_WORDS.get(text)
    if gender is None:
        return _problem(
            "gender", "gender_unknown", f"{value.strip()!r} is not a gender: use 男 or 女",
            f"无法识别的性别“{value.strip()}”，请填写男或女",
        )  # fmt: skip
    if resident_id and gender != gender_of_id(resident_id):
        return _problem(
            "gender", "gender_mismatch",
            "the gender does not match the ID number (its 17th digit is odd for men, "
            "even for women)",
            "性别与身份证号不符（第 17 位奇数为男，偶数为女）",
        )  # fmt: skip
    return gender


def gender_recorded(resident_id: str) -> FieldProblem:
    """The warning a roster line gets when its gender contradicts its ID number: the
    account is made, with the gender the ID number records (a legal document's, not a
    typed column's)."""
    zh, en = ("男", "male") if gender_of_id(resident_id) == "male" else ("女", "female")
    return _problem(
        "gender", "gender_mismatch",
        "the gender does not match the ID number (its 17th digit is odd for men, even for "
        f"women): recorded as the ID number says, {en}",
        f"性别与身份证号不符（第 17 位奇数为男，偶数为女），已按身份证号记为{zh}",
    )  # fmt: skip


def id_corrections(value: str) -> list[FieldProblem]:
    """What ``check_resident_id`` corrected in a valid ID number ``value`` that its
    holder should be told of: a lower-case final x raised to X (the check character is
    an upper-case X in GB 11643; 身份证号末位 x 已更正为 X)."""
    if unicodedata.normalize("NFKC", value).strip().endswith("x"):
        return [_problem(
            "resident_id", "id_x_corrected", "the final x was corrected to X",
            "末位 x 已更正为 X",
        )]  # fmt: skip
    return []


def _identifier(field: str, check: Callable[[str], str], value: str) -> str | FieldProblem:
    try:
        return check(value)
    except InvalidIdentifier as exc:
        return _problem(field, exc.code, exc.message, exc.message_zh)


#: The most common passwords (data/README.md says where from), as shipped.
COMMON_PASSWORDS_FILE = "common-passwords-100k.txt.gz"


@functools.cache
def common_passwords() -> frozenset[str]:
    """The common passwords long enough to pass the other rules, in lower case (loaded
    once per process: ~40,000 of the 100,000, a few MB)."""
    data = resources.files("api.services.accounts").joinpath("data", COMMON_PASSWORDS_FILE)
    text = gzip.decompress(data.read_bytes()).decode("utf-8", errors="replace")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if len(line.strip()) >= MIN_PASSWORD
    )


def password_problems(
    password: str, *, resident_id: str | None, phone: str | None, field: str = "password"
) -> list[FieldProblem]:
    """What makes ``password`` too weak (empty when it is fine): shorter than 8, one
    kind of character only, one of the 100,000 most common passwords (without regard
    to case), or holding the ID number's last six characters (which is the known
    initial password ``edu@…``) or the phone number."""
    problems = []
    if len(password) < MIN_PASSWORD:
        problems.append(_problem(
            field, "password_too_short",
            f"at least {MIN_PASSWORD} characters, this has {len(password)}",
            f"至少 {MIN_PASSWORD} 位，当前为 {len(password)} 位",
        ))  # fmt: skip
    kinds = {"letter" if c.isalpha() else "digit" if c.isdigit() else "other" for c in password}
    if password and len(kinds) < 2:
        problems.append(_problem(
            field, "password_too_simple",
            "use at least two kinds of characters: letters, digits, symbols",
            "须包含字母、数字、符号中的至少两类",
        ))  # fmt: skip
    lowered = password.lower()
    if lowered in common_passwords():
        problems.append(_problem(
            field, "password_common",
            "this is one of the most common passwords, the first ones an attacker tries: "
            "choose another",
            "该密码是最常见的密码之一，会被优先猜测，请换一个",
        ))  # fmt: skip
    personal = [v.lower() for v in (resident_id and resident_id[-6:], phone) if v]
    if any(v in lowered for v in personal):
        problems.append(_problem(
            field, "password_personal",
            "must not contain the last six characters of the ID number or the mobile number",
            "不能包含身份证号后六位或手机号",
        ))  # fmt: skip
    return problems


def initial_password(resident_id: str) -> str:
    """The initial password of an imported account (the source platforms' rule)."""
    return INITIAL_PASSWORD_PREFIX + resident_id[-6:]


def beijing_date(now: datetime) -> date:
    """The calendar date in China at ``now`` (birth dates are checked against it)."""
    return now.astimezone(BEIJING).date()
