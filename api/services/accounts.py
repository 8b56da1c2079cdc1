"""Account use cases: self-registration, roster import, password resets and role changes
by staff, finding an account by any of its identifiers, the password rules, and the
per-account login lock.

Each database function is one unit of work on a session the caller opened
(``api.store.db.transaction``) and takes the time as ``now``; hashing is passed in as
``hasher`` (``api.http.auth.hash_password``), so this module never imports the HTTP shell.
The identifier rules are examengine's (``examengine.ids``); this module applies them to
whole requests and rosters and says, per field or per line, what is wrong — in English
and in Chinese.

A roster is **not** all-or-nothing (unlike a bank import): the valid lines become
accounts, lines whose person is registered already are skipped, every other line is
reported with its row number and reason, and ``roster_error_file`` writes those lines
back out (same columns, plus 错误原因) so the employer can fix and upload them again.

The login lock (``LoginLocks``) counts consecutive failed logins per account in a
Litestar store (files by default, Redis when configured) rather than in the database:
a failed login's transaction is rolled back, the counters expire by themselves, and a
peak of wrong passwords costs the database nothing. See docs/decisions/0006-accounts.md.
"""

from __future__ import annotations

import csv
import io
import math
import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any, Literal
from zipfile import BadZipFile

import msgspec
import sqlalchemy as sa
from litestar.stores.base import Store
from msgspec import Meta, Struct
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.store.tables import ROLES, AccountEvent, User
from examengine.errors import EngineError
from examengine.ids import InvalidIdentifier, check_mobile, check_resident_id, identify

Hasher = Callable[[str], str]
"""``api.http.auth.hash_password``: a password → its argon2id hash."""

#: Prefix of the initial password of an imported account: ``edu@`` + the ID's last six.
INITIAL_PASSWORD_PREFIX = "edu@"
MIN_PASSWORD = 8
MAX_NAME = 50
#: The middle dot between the parts of a name written in Chinese characters for a
#: minority name (阿依古丽·买买提); the only non-letter a name may hold.
NAME_DOT = "·"
#: Lines one roster may hold (the HTTP upload; the command line takes any size).
MAX_ROSTER_LINES = 5_000
#: Values per ``IN (…)`` list, well under SQLite's bound-parameter limit.
IN_CHUNK = 500
#: Times in messages are Beijing time, which is what learners read on their clocks.
BEIJING = timezone(timedelta(hours=8), "Beijing")

#: Column labels used in messages, English and Chinese.
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "name": ("name", "姓名"),
    "resident_id": ("resident ID number", "身份证号"),
    "phone": ("mobile number", "手机号"),
    "gender": ("gender", "性别"),
    "remark": ("remark", "备注"),
    "employer": ("employer", "单位"),
    "district": ("district", "地区"),
    "password": ("password", "密码"),
    "new_password": ("new password", "新密码"),
    "roles": ("roles", "角色"),
}

ShortText = Annotated[str, Meta(max_length=64)]
LongText = Annotated[str, Meta(max_length=200)]
PasswordText = Annotated[str, Meta(max_length=256)]


# --------------------------------------------------------------------------- errors


class FieldProblem(Struct, frozen=True, kw_only=True):
    """What is wrong with one field (or roster column), in both languages."""

    field: str
    code: str
    message: str
    message_zh: str


class AccountError(EngineError):
    """Root of this module's errors."""

    code = "account_error"


class AccountInvalidError(AccountError):
    """Some fields are invalid; ``problems`` names each field and what is wrong."""

    code = "account_invalid"

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            "Please correct: " + "; ".join(_labelled(p) for p in problems) + ".",
            "请更正：" + "；".join(_labelled(p, zh=True) for p in problems) + "。",
        )


class AccountExistsError(AccountError):
    """The resident ID or the phone number belongs to an account already."""

    code = "account_exists"

    def __init__(self, field: str) -> None:
        self.field = field
        if field == "resident_id":
            super().__init__(
                "An account with this resident ID number exists already: sign in, or "
                "reset the password if you have forgotten it.",
                "该身份证号已注册，请直接登录；如忘记密码，请找回密码。",
            )
        elif field == "phone":
            super().__init__(
                "This mobile number belongs to another account.",
                "该手机号已被其他账号使用。",
            )
        else:
            super().__init__(
                "Someone registered the same person at the same moment; please try again.",
                "同一人员正在被同时注册，请重试。",
            )


class AccountNotFoundError(AccountError):
    code = "account_not_found"

    def __init__(self, login: str) -> None:
        self.login = login
        super().__init__(f"There is no account {login!r}.", f"账号 {login!r} 不存在。")


class AccountRefusedError(AccountError):
    """The actor may not do this to that account (a 403)."""

    code = "account_refused"

    def __init__(self, message: str, message_zh: str, *, code: str | None = None) -> None:
        if code is not None:
            self.code = code
        super().__init__(message, message_zh)


class RosterUnreadableError(AccountError):
    """The roster as a whole cannot be read (format, encoding, missing columns)."""

    code = "roster_unreadable"


class AccountLockedError(AccountError):
    """Too many failed logins: the account is locked until ``locked_until_ms``."""

    code = "account_locked"

    def __init__(self, *, locked_until_ms: int, now_ms: int) -> None:
        self.locked_until_ms = locked_until_ms
        self.retry_after_s = max(1, math.ceil((locked_until_ms - now_ms) / 1000))
        minutes = max(1, math.ceil(self.retry_after_s / 60))
        at = datetime.fromtimestamp(locked_until_ms / 1000, BEIJING).strftime("%H:%M")
        super().__init__(
            f"Too many failed logins: this account is locked until {at} Beijing time. "
            f"Try again in {minutes} minute(s), or ask your administrator to reset the "
            "password.",
            f"登录失败次数过多，账号已锁定至北京时间 {at}。请 {minutes} 分钟后再试，"
            "或联系单位管理员重置密码。",
        )


def _labelled(problem: FieldProblem, *, zh: bool = False) -> str:
    en, chinese = FIELD_LABELS.get(problem.field, (problem.field, problem.field))
    return f"{chinese}：{problem.message_zh}" if zh else f"{en}: {problem.message}"


# ------------------------------------------------------------------------ the rules


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


def _identifier(field: str, check: Callable[[str], str], value: str) -> str | FieldProblem:
    try:
        return check(value)
    except InvalidIdentifier as exc:
        return _problem(field, exc.code, exc.message, exc.message_zh)


def password_problems(
    password: str, *, resident_id: str | None, phone: str | None, field: str = "password"
) -> list[FieldProblem]:
    """What makes ``password`` too weak (empty when it is fine): shorter than 8, one
    kind of character only, or holding the ID number's last six characters (which is
    the known initial password ``edu@…``) or the phone number."""
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


# ------------------------------------------------------------------------- accounts


class Account(Struct, frozen=True, kw_only=True):
    """An account as the API shows it to the holder and to staff."""

    id: int
    login: str
    name: str
    resident_id: str | None
    phone: str | None
    gender: str | None
    employer: str | None
    district: str | None
    roles: tuple[str, ...]
    must_change_password: bool
    created_at: datetime


def account(user: User) -> Account:
    assert user.id is not None
    return Account(
        id=user.id, login=user.login, name=user.display_name, resident_id=user.resident_id,
        phone=user.phone, gender=user.gender, employer=user.employer, district=user.district,
        roles=tuple(user.roles), must_change_password=user.must_change_password,
        created_at=user.created_at,
    )  # fmt: skip


class Registration(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A learner registering themself; every field is checked by ``register``."""

    name: ShortText
    resident_id: ShortText
    phone: ShortText
    password: PasswordText
    #: 男/女 or male/female; taken from the ID number when empty.
    gender: ShortText = ""
    employer: LongText = ""
    district: ShortText = ""


def find_account(session: Session, identifier: str) -> User | None:
    """The account whose login, resident ID or phone is ``identifier`` (normalised the
    way ``examengine.ids.identify`` does: lower-case x, +86, spaces), or None."""
    text = identifier.strip()
    user = session.exec(select(User).where(User.login == text)).first()
    if user is not None:
        return user
    try:
        kind, value = identify(text)
    except InvalidIdentifier:
        return None
    column = User.resident_id if kind == "resident_id" else User.phone
    return (
        session.exec(select(User).where(column == value)).first()
        or session.exec(select(User).where(User.login == value)).first()
    )


def lock_key(user: User | None, identifier: str) -> str:
    """The login-lock counter for an attempt: the account's, or, for an unknown login,
    the text's own (so an unknown login locks like a real one and reveals nothing)."""
    if user is not None:
        return f"user:{user.id}"
    return "login:" + "".join(identifier.split()).lower()[:64]


def _get(session: Session, login: str) -> User:
    user = find_account(session, login)
    if user is None:
        raise AccountNotFoundError(login)
    return user


def _taken(session: Session, column: Any, values: Iterable[str]) -> set[str]:
    """Which of ``values`` are already the ``column`` or the login of some account."""
    wanted = sorted(set(values))
    found: set[str] = set()
    for start in range(0, len(wanted), IN_CHUNK):
        chunk = wanted[start : start + IN_CHUNK]
        rows = session.execute(
            sa.select(column, col(User.login)).where(
                sa.or_(col(column).in_(chunk), col(User.login).in_(chunk))
            )
        )
        for value, login in rows:
            found.update(v for v in (value, login) if v in chunk)
    return found


def _event(
    session: Session, user: User, kind: str, *, now: datetime, actor_id: int | None,
    **detail: Any,
) -> None:  # fmt: skip
    assert user.id is not None
    session.add(
        AccountEvent(user_id=user.id, actor_id=actor_id, kind=kind, detail=detail, created_at=now)
    )


def register(session: Session, data: Registration, *, now: datetime, hasher: Hasher) -> Account:
    """Create a learner's account from a self-registration (login = the ID number).

    Raises ``AccountInvalidError`` listing every invalid field, ``AccountExistsError``
    when the ID number or the phone is registered already.
    """
    problems: list[FieldProblem] = []
    name = check_name(data.name)
    resident_id = _identifier(
        "resident_id", lambda v: check_resident_id(v, today=beijing_date(now)), data.resident_id
    )
    phone = _identifier("phone", check_mobile, data.phone)
    for value in (name, resident_id, phone):
        if isinstance(value, FieldProblem):
            problems.append(value)
    rid = resident_id if isinstance(resident_id, str) else None
    gender = check_gender(data.gender, rid)
    if isinstance(gender, FieldProblem):
        problems.append(gender)
    problems += password_problems(
        data.password, resident_id=rid, phone=phone if isinstance(phone, str) else None
    )
    if problems:
        raise AccountInvalidError(problems)
    assert isinstance(name, str) and isinstance(phone, str) and rid is not None
    assert not isinstance(gender, FieldProblem)
    if _taken(session, User.resident_id, [rid]):
        raise AccountExistsError("resident_id")
    if _taken(session, User.phone, [phone]):
        raise AccountExistsError("phone")
    user = User(
        login=rid, display_name=name, password_hash=hasher(data.password), roles=["learner"],
        must_change_password=False, created_at=now, resident_id=rid, phone=phone,
        gender=gender, employer=data.employer.strip() or None,
        district=data.district.strip() or None,
    )  # fmt: skip
    session.add(user)
    try:
        session.flush()
    except IntegrityError:  # registered by a concurrent request since the check
        raise AccountExistsError("") from None
    _event(session, user, "registered", now=now, actor_id=user.id)
    return account(user)


class PasswordReset(Struct, frozen=True, kw_only=True):
    account: Account
    #: The new initial password, to hand to the account holder (who must change it).
    initial_password: str


def _may_act_on(actor: User, target: User) -> None:
    """Operators may act on any account; an employer administrator only on the
    learners of their own employer."""
    if "operator" in actor.roles:
        return
    if (
        "employer_admin" in actor.roles
        and actor.employer
        and target.employer == actor.employer
        and set(target.roles) <= {"learner"}
    ):
        return
    raise AccountRefusedError(
        "An employer administrator may only act on the learners of their own employer.",
        "单位管理员只能为本单位的学员操作。",
        code="not_your_learner",
    )


def reset_password(
    session: Session, *, login: str, actor_id: int, now: datetime, hasher: Hasher,
    password: str | None = None,
) -> PasswordReset:  # fmt: skip
    """Give ``login`` a new initial password, to be changed at the next login.

    Without ``password``: ``edu@`` + the ID number's last six characters for a learner
    with an ID number, a random one otherwise. Records who did it. Raises
    ``AccountNotFoundError``, ``AccountRefusedError`` (not the actor's to reset) or
    ``AccountInvalidError`` (a weak ``password``).
    """
    actor = session.get(User, actor_id)
    target = _get(session, login)
    if actor is None:
        raise AccountNotFoundError(str(actor_id))
    _may_act_on(actor, target)
    if password is not None:
        problems = password_problems(password, resident_id=None, phone=None)
        if problems:
            raise AccountInvalidError(problems)
        new, how = password, "chosen"
    elif target.resident_id:
        new, how = initial_password(target.resident_id), "initial"
    else:
        new, how = secrets.token_urlsafe(9), "random"
    target.password_hash = hasher(new)
    target.must_change_password = True
    session.add(target)
    _event(session, target, "password_reset", now=now, actor_id=actor_id, password=how)
    return PasswordReset(account=account(target), initial_password=new)


def set_roles(
    session: Session, *, login: str, roles: Sequence[str], actor_id: int, now: datetime
) -> Account:
    """Replace the roles of ``login`` (they take effect at its next login).

    Raises ``AccountInvalidError`` for no role or an unknown one, ``AccountRefusedError``
    when an operator would remove their own operator role (nobody could give it back).
    """
    unknown = sorted(set(roles) - set(ROLES))
    if unknown or not roles:
        raise AccountInvalidError([_problem(
            "roles", "roles_invalid",
            f"give one or more of {', '.join(ROLES)}" + (f"; unknown: {', '.join(unknown)}"
                                                        if unknown else ""),
            f"请给出以下角色中的一个或多个：{', '.join(ROLES)}"
            + (f"；无法识别：{', '.join(unknown)}" if unknown else ""),
        )])  # fmt: skip
    target = _get(session, login)
    new = sorted(set(roles))
    if target.id == actor_id and "operator" in target.roles and "operator" not in new:
        raise AccountRefusedError(
            "You cannot remove your own operator role.",
            "不能移除自己的运维角色。",
            code="own_operator_role",
        )
    old = list(target.roles)
    target.roles = new
    session.add(target)
    _event(session, target, "roles_changed", now=now, actor_id=actor_id, old=old, new=new)
    return account(target)


# --------------------------------------------------------------------------- roster

#: Roster columns: the field, then the headers accepted for it (compared without case,
#: spaces or a trailing * marking a required column).
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "name"),
    "resident_id": ("身份证号", "身份证号码", "证件号码", "身份证", "resident_id", "id_number",
                    "idnumber", "residentid"),
    "phone": ("手机号", "手机号码", "手机", "联系电话", "phone", "mobile"),
    "gender": ("性别", "gender", "sex"),
    "remark": ("备注", "remark", "note"),
    "employer": ("单位", "工作单位", "employer"),
    "district": ("地区", "所在地区", "district"),
}  # fmt: skip
REQUIRED_COLUMNS = ("name", "resident_id")
#: Columns this module adds to an error file; dropped when such a file is read back.
ROW_HEADER, REASON_HEADER, REASON_EN_HEADER = "行号", "错误原因", "Reason"
_ADDED = {ROW_HEADER, REASON_HEADER, REASON_EN_HEADER}
XLSX_MAGIC = b"PK\x03\x04"


class RosterRow(Struct, frozen=True, kw_only=True):
    """One data line: its row number in the file (the header is row 1 when it is the
    first line) and its cells as read (text, or numbers from a spreadsheet)."""

    row: int
    values: tuple[Any, ...]


class Roster(Struct, frozen=True, kw_only=True):
    source: str
    format: Literal["xlsx", "csv"]
    headers: tuple[str, ...]
    #: Field → index of its column.
    columns: dict[str, int]
    rows: tuple[RosterRow, ...]


class RosterLine(Struct, frozen=True, kw_only=True):
    """A line that made no account: ``skipped`` (registered already) or ``failed``."""

    row: int
    status: Literal["skipped", "failed"]
    name: str
    resident_id: str
    reason: str
    reason_zh: str
    errors: tuple[FieldProblem, ...] = ()


class RosterReport(Struct, frozen=True, kw_only=True):
    source: str
    lines: int
    created: int
    skipped: int
    failed: int
    #: Every line that made no account, in file order.
    problems: tuple[RosterLine, ...]


def _header_key(text: Any) -> str:
    return "".join(str(text or "").split()).rstrip("*").lower()


_HEADER_FIELDS = {_header_key(h): field for field, names in COLUMNS.items() for h in names}


def read_roster(data: bytes, *, source: str, max_lines: int | None = None) -> Roster:
    """The lines of a roster (.xlsx, or CSV in UTF-8 or GB18030), told apart by content.

    The header is the first non-empty line; unknown columns are ignored. Raises
    ``RosterUnreadableError`` when the file cannot be read, lacks the 姓名 or 身份证号
    column, or has more than ``max_lines`` lines.
    """
    if data.startswith(XLSX_MAGIC):
        fmt: Literal["xlsx", "csv"] = "xlsx"
        table: list[Sequence[Any]] = list(_xlsx_rows(data, source))
    elif source.lower().endswith((".xls", ".xlsx", ".et")) or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise RosterUnreadableError(
            f"{source} is not an .xlsx workbook: save it as .xlsx (Excel 2007 or later) or CSV",
            f"{source} 不是 .xlsx 文件，请另存为 .xlsx（Excel 2007 及以上）或 CSV 格式",
        )
    else:
        fmt = "csv"
        table = list(_csv_rows(data, source))
    numbered = [(n, row) for n, row in enumerate(table, start=1) if any(_text(v) for v in row)]
    if not numbered:
        raise RosterUnreadableError(f"{source} is empty", f"{source} 是空文件")
    header_row, header = numbered[0]
    headers = tuple(_text(h) for h in header)
    columns: dict[str, int] = {}
    for index, title in enumerate(headers):
        field = _HEADER_FIELDS.get(_header_key(title))
        if field is not None and field not in columns:
            columns[field] = index
    missing = [f for f in REQUIRED_COLUMNS if f not in columns]
    if missing:
        names = "、".join(COLUMNS[f][0] for f in missing)
        raise RosterUnreadableError(
            f"{source}: row {header_row} must name the columns; missing {names} "
            f"(expected 姓名, 身份证号, 手机号, 性别, 备注)",
            f"{source}：第 {header_row} 行应为列名，缺少 {names} 列"
            f"（应有 姓名、身份证号、手机号、性别、备注）",
        )
    rows = tuple(RosterRow(row=n, values=tuple(r)) for n, r in numbered[1:])
    if max_lines is not None and len(rows) > max_lines:
        raise RosterUnreadableError(
            f"{source} has {len(rows)} lines; at most {max_lines} per upload: split it",
            f"{source} 共 {len(rows)} 行，每次最多 {max_lines} 行，请拆分后上传",
        )
    return Roster(source=source, format=fmt, headers=headers, columns=columns, rows=rows)


def _xlsx_rows(data: bytes, source: str) -> Iterator[tuple[Any, ...]]:
    from openpyxl import load_workbook  # noqa: PLC0415 (a heavy import, for rosters only)

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (BadZipFile, KeyError, OSError, ValueError) as exc:
        raise RosterUnreadableError(
            f"{source} is not a readable .xlsx workbook ({exc})",
            f"{source} 不是可读取的 .xlsx 文件",
        ) from None
    try:
        sheet = book.worksheets[0]
        yield from sheet.iter_rows(values_only=True)
    finally:
        book.close()


def _csv_rows(data: bytes, source: str) -> Iterator[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes nearly anything
        raise RosterUnreadableError(
            f"{source} is neither UTF-8 nor GB18030 text", f"{source} 不是 UTF-8 或 GB18030 编码"
        )
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    try:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    except csv.Error as exc:
        raise RosterUnreadableError(
            f"{source} is not valid CSV ({exc})", f"{source} 不是有效的 CSV 文件"
        ) from None


def _text(value: Any) -> str:
    """A cell as text: numbers without a trailing .0, times in ISO form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


class _Person(Struct, frozen=True, kw_only=True):
    row: int
    name: str
    resident_id: str
    phone: str | None
    gender: str | None
    remark: str | None
    employer: str | None
    district: str | None


def _cell(roster: Roster, row: RosterRow, field: str) -> Any:
    index = roster.columns.get(field)
    return row.values[index] if index is not None and index < len(row.values) else None


def _roster_id(value: Any, today: date) -> str | FieldProblem:
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Excel keeps 15 significant digits: an 18-digit number has lost its last ones.
        checked = _identifier(
            "resident_id", lambda v: check_resident_id(v, today=today), _text(value)
        )
        if isinstance(checked, str):
            return checked
        return _problem(
            "resident_id", "id_as_number",
            "the ID number is stored as a number, so Excel has rounded it: format the "
            "column as text and type the number again",
            "身份证号被存成了数字，Excel 已将其末几位改变：请将该列设为文本格式后重新填写",
        )  # fmt: skip
    return _identifier("resident_id", lambda v: check_resident_id(v, today=today), _text(value))


def _check_line(roster: Roster, row: RosterRow, today: date) -> _Person | list[FieldProblem]:
    def text(field: str) -> str:
        return _text(_cell(roster, row, field))

    name = check_name(text("name"))
    resident_id = _roster_id(_cell(roster, row, "resident_id"), today)
    phone: str | FieldProblem | None = (
        _identifier("phone", check_mobile, text("phone")) if text("phone") else None
    )
    rid = resident_id if isinstance(resident_id, str) else None
    gender = check_gender(text("gender"), rid)
    problems = [v for v in (name, resident_id, phone, gender) if isinstance(v, FieldProblem)]
    for field, limit in (("remark", 200), ("employer", 200), ("district", 100)):
        if len(text(field)) > limit:
            problems.append(_problem(
                field, f"{field}_length", f"at most {limit} characters",
                f"最多 {limit} 个字",
            ))  # fmt: skip
    if problems:
        return problems
    assert isinstance(name, str) and rid is not None
    assert not isinstance(phone, FieldProblem) and not isinstance(gender, FieldProblem)
    return _Person(
        row=row.row, name=name, resident_id=rid, phone=phone, gender=gender,
        remark=text("remark") or None, employer=text("employer") or None,
        district=text("district") or None,
    )  # fmt: skip


def _failed(row: RosterRow, roster: Roster, problems: Sequence[FieldProblem]) -> RosterLine:
    return RosterLine(
        row=row.row, status="failed", name=_text(_cell(roster, row, "name")),
        resident_id=_text(_cell(roster, row, "resident_id")),
        reason="; ".join(_labelled(p) for p in problems),
        reason_zh="；".join(_labelled(p, zh=True) for p in problems),
        errors=tuple(problems),
    )  # fmt: skip


def _hash_all(passwords: Sequence[str], hasher: Hasher) -> list[str]:
    """Hashes on every core: argon2 releases the GIL, and each hash takes ~45 ms."""
    if len(passwords) < 4:
        return [hasher(p) for p in passwords]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(hasher, passwords))


def import_roster(
    session: Session, roster: Roster, *, now: datetime, hasher: Hasher,
    actor_id: int | None = None, employer: str | None = None,
) -> RosterReport:  # fmt: skip
    """Create a learner account for every valid line of ``roster``: login = the ID
    number, password ``edu@`` + its last six characters, to be changed at first login.

    Lines whose ID number is registered already are skipped; invalid lines, lines
    repeating an earlier line's ID number or phone, and lines whose phone belongs to
    another account fail. Either kind is reported with its row number and reason.
    ``employer`` (an employer administrator's own) overrides the 单位 column.
    """
    people, problems = _check_lines(roster, beijing_date(now))
    new = _unregistered(session, roster, people, problems)
    hashes = _hash_all([initial_password(p.resident_id) for p in new], hasher)
    users = [
        User(
            login=p.resident_id, display_name=p.name, password_hash=h, roles=["learner"],
            must_change_password=True, created_at=now, resident_id=p.resident_id,
            phone=p.phone, gender=p.gender, employer=employer or p.employer,
            district=p.district, remark=p.remark,
        )
        for p, h in zip(new, hashes, strict=True)
    ]  # fmt: skip
    session.add_all(users)
    try:
        session.flush()
    except IntegrityError:  # a person registered by someone else since the check
        raise AccountExistsError("") from None
    for person, user in zip(new, users, strict=True):
        _event(
            session, user, "imported", now=now, actor_id=actor_id, source=roster.source,
            row=person.row,
        )  # fmt: skip
    lines = tuple(problems[n] for n in sorted(problems))
    return RosterReport(
        source=roster.source, lines=len(roster.rows), created=len(users),
        skipped=sum(1 for p in lines if p.status == "skipped"),
        failed=sum(1 for p in lines if p.status == "failed"), problems=lines,
    )  # fmt: skip


def _check_lines(roster: Roster, today: date) -> tuple[list[_Person], dict[int, RosterLine]]:
    """The valid people of ``roster`` and, by row, the lines that are invalid or repeat
    an earlier line's ID number or phone."""
    problems: dict[int, RosterLine] = {}
    people: list[_Person] = []
    first_id: dict[str, int] = {}
    first_phone: dict[str, int] = {}
    for row in roster.rows:
        checked = _check_line(roster, row, today)
        if isinstance(checked, list):
            problems[row.row] = _failed(row, roster, checked)
            continue
        repeats = []
        if (n := first_id.get(checked.resident_id)) is not None:
            repeats.append(_problem(
                "resident_id", "id_repeated", f"the same as on row {n}", f"与第 {n} 行重复",
            ))  # fmt: skip
        if checked.phone is not None and (n := first_phone.get(checked.phone)) is not None:
            repeats.append(_problem(
                "phone", "phone_repeated", f"the same as on row {n}", f"与第 {n} 行重复",
            ))  # fmt: skip
        if repeats:
            problems[row.row] = _failed(row, roster, repeats)
            continue
        first_id[checked.resident_id] = row.row
        if checked.phone is not None:
            first_phone[checked.phone] = row.row
        people.append(checked)
    return people, problems


def _unregistered(
    session: Session, roster: Roster, people: list[_Person], problems: dict[int, RosterLine]
) -> list[_Person]:
    """The ``people`` who have no account yet; the others go into ``problems``: skipped
    when the ID number is registered, failed when the phone is another account's."""
    by_row = {row.row: row for row in roster.rows}
    registered = _taken(session, User.resident_id, [p.resident_id for p in people])
    phones = _taken(session, User.phone, [p.phone for p in people if p.phone])
    new: list[_Person] = []
    for person in people:
        if person.resident_id in registered:
            problems[person.row] = RosterLine(
                row=person.row, status="skipped", name=person.name,
                resident_id=person.resident_id,
                reason="registered already: skipped", reason_zh="该身份证号已注册，已跳过",
            )  # fmt: skip
        elif person.phone in phones:
            problems[person.row] = _failed(by_row[person.row], roster, [_problem(
                "phone", "phone_taken", "this mobile number belongs to another account",
                "该手机号已被其他账号使用",
            )])  # fmt: skip
        else:
            new.append(person)
    return new


def roster_error_file(
    roster: Roster, report: RosterReport, *, fmt: Literal["xlsx", "csv"]
) -> bytes:
    """The lines that made no account, as the roster had them, with 行号 (row) first and
    错误原因 / Reason last. The other columns keep the roster's headers, so the fixed
    file can be uploaded again as it is."""
    keep = [i for i, h in enumerate(roster.headers) if h not in _ADDED]
    header = [ROW_HEADER, *(roster.headers[i] for i in keep), REASON_HEADER, REASON_EN_HEADER]
    by_row = {row.row: row for row in roster.rows}
    lines = [
        [
            str(line.row),
            *(_text(by_row[line.row].values[i]) if i < len(by_row[line.row].values) else ""
              for i in keep),
            line.reason_zh,
            line.reason,
        ]
        for line in report.problems
    ]  # fmt: skip
    if fmt == "csv":
        out = io.StringIO(newline="")
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(lines)
        return out.getvalue().encode("utf-8-sig")  # with a BOM, Excel reads it as UTF-8
    return _xlsx(header, lines)


def _xlsx(header: list[str], lines: list[list[str]]) -> bytes:
    from openpyxl import Workbook  # noqa: PLC0415 (a heavy import, for rosters only)

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "错误"
    sheet.append(header)
    for line in lines:
        sheet.append(line)
    # Every cell is text ("@"): ID numbers stay exact when the file is edited.
    for row in sheet.iter_rows():
        for cell in row:
            cell.number_format = "@"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# ----------------------------------------------------------------------- login lock


class LockPolicy(Struct, frozen=True, kw_only=True):
    #: Consecutive failed logins that lock an account.
    max_failures: int = 5
    #: Seconds the account stays locked; failures older than this are forgotten too.
    lock_s: int = 15 * 60


class LockState(Struct, frozen=True, kw_only=True):
    failures: int = 0
    locked_until_ms: int = 0


def record_failure(state: LockState, policy: LockPolicy, *, now_ms: int) -> LockState:
    """The state after one more failed login: locked (and the count restarted) when it
    is the ``max_failures``-th in a row."""
    failures = state.failures + 1
    if failures >= policy.max_failures:
        return LockState(failures=0, locked_until_ms=now_ms + policy.lock_s * 1000)
    return LockState(failures=failures, locked_until_ms=state.locked_until_ms)


class LoginLocks:
    """Failed-login counters in a Litestar store, keyed by ``lock_key``.

    Each entry expires ``policy.lock_s`` after the last failure, so a lock lifts and
    old failures are forgotten without a sweeper. Increments are read-then-write, not
    atomic: concurrent failures on one account may count once, which delays a lock by
    a few attempts at most (the per-address rate limit still applies).
    """

    def __init__(self, store: Store, policy: LockPolicy | None = None) -> None:
        self.store = store
        self.policy = policy or LockPolicy()

    async def state(self, key: str) -> LockState:
        raw = await self.store.get(key)
        if raw is None:
            return LockState()
        try:
            return msgspec.json.decode(raw, type=LockState)
        except msgspec.DecodeError:  # written by another version: start again
            return LockState()

    async def check(self, key: str, *, now_ms: int) -> None:
        """Raises ``AccountLockedError`` while ``key`` is locked."""
        state = await self.state(key)
        if state.locked_until_ms > now_ms:
            raise AccountLockedError(locked_until_ms=state.locked_until_ms, now_ms=now_ms)

    async def failed(self, key: str, *, now_ms: int) -> LockState:
        """Count a failed login; raises ``AccountLockedError`` when this one locks."""
        state = record_failure(await self.state(key), self.policy, now_ms=now_ms)
        await self.store.set(key, msgspec.json.encode(state), expires_in=self.policy.lock_s)
        if state.locked_until_ms > now_ms:
            raise AccountLockedError(locked_until_ms=state.locked_until_ms, now_ms=now_ms)
        return state

    async def clear(self, key: str) -> None:
        """Forget the failures of ``key`` (a successful login, a password reset)."""
        await self.store.delete(key)
