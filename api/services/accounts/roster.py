"""Roster import: reading a roster (.xlsx, or CSV in UTF-8 or GB18030), importing its
lines as learner accounts, and the error file of the lines that made none.

A roster is read as employers send it: the header is found among the first rows (the
templates of the source platforms put a notice's title and an instruction line above
it), columns are known by the names employers use (身份证号 / 身份证号码, 手机号 / 手机号码
…), and the report says which row was taken as the header.

Each line is checked on its own. **Errors** make no account (an invalid name or ID
number, a repeated line, a phone that is another account's); **warnings** do (a gender
the ID number contradicts is recorded as the ID number says; a lower-case x is raised)
and are reported, unless the importer asks warnings to block their line. The import is
row by row by default — the valid lines become accounts, lines whose person is
registered already are skipped — or all-or-nothing on request. ``roster_error_file``
writes the lines that made none back out in the employer's own layout (their title
lines, their columns, plus 错误原因 / Reason and 提示 / Warning) to fix and upload again.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any, Literal, NamedTuple
from zipfile import BadZipFile

from msgspec import Struct
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.services.accounts._shared import _events, _taken
from api.services.accounts.activation import NO_PASSWORD, Links, issue_activations
from api.services.accounts.employment import employ_new
from api.services.accounts.error import (
    AccountExistsError,
    FieldProblem,
    RosterUnreadableError,
    _labelled,
)
from api.services.accounts.rule import (
    _identifier,
    _problem,
    beijing_date,
    check_employer,
    check_gender,
    check_name,
    gender_recorded,
    id_corrections,
)
from api.services.notify import Notice
from api.services.sheets import workbook
from api.store.tables import User
from examengine.ids import check_mobile, check_resident_id

#: Lines one roster may hold (the HTTP upload; the command line takes any size).
MAX_ROSTER_LINES = 10_000


#: Roster columns: the field, then the headers accepted for it (compared after NFKC,
#: without case, spaces, a trailing * marking a required column or a bracketed note such
#: as （必填）).
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "name"),
    "resident_id": ("身份证号", "身份证号码", "公民身份号码", "身份证件号码", "证件号码", "证件号",
                    "身份证", "resident_id", "id_number", "idnumber", "residentid"),
    "phone": ("手机号", "手机号码", "手机", "移动电话", "联系电话", "phone", "mobile"),
    "gender": ("性别", "gender", "sex"),
    "remark": ("备注", "remark", "note"),
    "employer": ("单位", "工作单位", "单位名称", "employer"),
    "district": ("地区", "所在地区", "district"),
}  # fmt: skip
REQUIRED_COLUMNS = ("name", "resident_id")
#: Non-empty rows searched for the header: a notice's title and instructions come first.
HEADER_SEARCH_ROWS = 10
#: Columns this module adds to an error file; dropped when such a file is read back.
REASON_HEADER, REASON_EN_HEADER = "错误原因", "Reason"
WARNING_HEADER, WARNING_EN_HEADER = "提示", "Warning"
ROW_HEADER = "原行号 Row"
_ADDED = {REASON_HEADER, REASON_EN_HEADER, WARNING_HEADER, WARNING_EN_HEADER, ROW_HEADER, "行号"}
XLSX_MAGIC = b"PK\x03\x04"


class RosterRow(Struct, frozen=True, kw_only=True):
    """One data line: its row number in the file (counting every line, title lines and
    blank ones included, as a spreadsheet numbers them) and its cells as read (text, or
    numbers from a spreadsheet)."""

    row: int
    values: tuple[Any, ...]


class Roster(Struct, frozen=True, kw_only=True):
    source: str
    format: Literal["xlsx", "csv"]
    headers: tuple[str, ...]
    #: Field → index of its column.
    columns: dict[str, int]
    rows: tuple[RosterRow, ...]
    #: The row taken as the header, and the lines above it as read (kept for the error
    #: file, so it has the employer's title lines too).
    header_row: int = 1
    preamble: tuple[tuple[Any, ...], ...] = ()


class RosterLine(Struct, frozen=True, kw_only=True):
    """A line with something to report: ``skipped`` (registered already), ``failed``
    (its errors, or its warnings when they block), or ``created`` with warnings."""

    row: int
    status: Literal["created", "skipped", "failed"]
    name: str
    resident_id: str
    reason: str = ""
    reason_zh: str = ""
    errors: tuple[FieldProblem, ...] = ()
    warning: str = ""
    warning_zh: str = ""
    warnings: tuple[FieldProblem, ...] = ()


class RosterReport(Struct, frozen=True, kw_only=True):
    source: str
    lines: int
    created: int
    skipped: int
    failed: int
    #: Every line that made no account, in file order.
    problems: tuple[RosterLine, ...]
    #: The lines that made an account and carry warnings, in file order.
    warned: tuple[RosterLine, ...] = ()
    header_row: int = 1
    #: Which row was taken as the header, said to the importer.
    header_note: str = ""
    header_note_zh: str = ""
    #: All-or-nothing: the valid lines not created because others failed.
    held_back: int = 0


def _header_key(text: Any) -> str:
    key = "".join(unicodedata.normalize("NFKC", str(text or "")).split()).lower()
    key = _BRACKETED.sub("", key)
    return key.rstrip("*")


_BRACKETED = re.compile(r"\([^()]*\)$")
_HEADER_FIELDS = {_header_key(h): field for field, names in COLUMNS.items() for h in names}


def _columns(headers: Sequence[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, title in enumerate(headers):
        field = _HEADER_FIELDS.get(_header_key(title))
        if field is not None and field not in columns:
            columns[field] = index
    return columns


def read_roster(data: bytes, *, source: str, max_lines: int | None = None) -> Roster:
    """The lines of a roster (.xlsx, or CSV in UTF-8 or GB18030), told apart by content.

    The header is the first of the first ``HEADER_SEARCH_ROWS`` non-empty rows that
    names the 姓名 and 身份证号 columns; the lines above it are kept as the preamble.
    Unknown columns are ignored. Raises ``RosterUnreadableError`` when the file cannot
    be read, no such row is found (naming the row most like a header and what it
    lacks), or there are more than ``max_lines`` lines.
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
    header_row, headers, columns = _find_header(numbered, source)
    rows = tuple(RosterRow(row=n, values=tuple(r)) for n, r in numbered if n > header_row)
    if max_lines is not None and len(rows) > max_lines:
        raise RosterUnreadableError(
            f"{source} has {len(rows)} lines; at most {max_lines} per upload: split it",
            f"{source} 共 {len(rows)} 行，每次最多 {max_lines} 行，请拆分后上传",
        )
    return Roster(
        source=source, format=fmt, headers=headers, columns=columns, rows=rows,
        header_row=header_row, preamble=tuple(tuple(r) for r in table[: header_row - 1]),
    )  # fmt: skip


def _find_header(
    numbered: Sequence[tuple[int, Sequence[Any]]], source: str
) -> tuple[int, tuple[str, ...], dict[str, int]]:
    """The header's row number, its titles and the known columns' indexes."""
    best: tuple[int, dict[str, int]] | None = None
    for n, row in numbered[:HEADER_SEARCH_ROWS]:
        headers = tuple(_text(h) for h in row)
        columns = _columns(headers)
        if all(f in columns for f in REQUIRED_COLUMNS):
            return n, headers, columns
        if columns and (best is None or len(columns) > len(best[1])):
            best = (n, columns)
    expected = "姓名, 身份证号, 手机号, 性别, 备注"
    if best is None:
        searched = min(len(numbered), HEADER_SEARCH_ROWS)
        raise RosterUnreadableError(
            f"{source}: none of the first {searched} rows names the columns (expected "
            f"{expected}; title lines above the header are fine)",
            f"{source}：前 {searched} 行中没有列名行（应有 姓名、身份证号、手机号、性别、备注；"
            "列名行上方可以有标题行）",
        )
    n, columns = best
    names = "、".join(COLUMNS[f][0] for f in REQUIRED_COLUMNS if f not in columns)
    raise RosterUnreadableError(
        f"{source}: row {n} must name the columns; missing {names} (expected {expected})",
        f"{source}：第 {n} 行应为列名，缺少 {names} 列（应有 姓名、身份证号、手机号、性别、备注）",
    )


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
    warnings: tuple[FieldProblem, ...] = ()


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
    """The line's person (with its warnings), or its errors."""

    def text(field: str) -> str:
        return _text(_cell(roster, row, field))

    name = check_name(text("name"))
    resident_id = _roster_id(_cell(roster, row, "resident_id"), today)
    phone: str | FieldProblem | None = (
        _identifier("phone", check_mobile, text("phone")) if text("phone") else None
    )
    rid = resident_id if isinstance(resident_id, str) else None
    warnings = id_corrections(text("resident_id")) if rid else []
    gender = check_gender(text("gender"), rid)
    if isinstance(gender, FieldProblem) and gender.code == "gender_mismatch" and rid:
        warnings.append(gender_recorded(rid))
        gender = check_gender("", rid)
    problems = [v for v in (name, resident_id, phone, gender) if isinstance(v, FieldProblem)]
    employer = text("employer")  # stored as typed: ``employ_new`` registers it
    if employer and isinstance(checked := check_employer(employer), FieldProblem):
        problems.append(checked)
    for field, limit in (("remark", 200), ("district", 100)):
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
        remark=text("remark") or None, employer=employer or None,
        district=text("district") or None, warnings=tuple(warnings),
    )  # fmt: skip


def _said(problems: Sequence[FieldProblem]) -> tuple[str, str]:
    """Problems as one line of text, in English and in Chinese."""
    return (
        "; ".join(_labelled(p) for p in problems),
        "；".join(_labelled(p, zh=True) for p in problems),
    )


def _failed(
    row: RosterRow, roster: Roster, problems: Sequence[FieldProblem],
    warnings: Sequence[FieldProblem] = (),
) -> RosterLine:  # fmt: skip
    reason, reason_zh = _said(problems)
    warning, warning_zh = _said(warnings)
    return RosterLine(
        row=row.row, status="failed", name=_text(_cell(roster, row, "name")),
        resident_id=_text(_cell(roster, row, "resident_id")), reason=reason,
        reason_zh=reason_zh, errors=tuple(problems), warning=warning, warning_zh=warning_zh,
        warnings=tuple(warnings),
    )  # fmt: skip


def _warned(person: _Person) -> RosterLine:
    warning, warning_zh = _said(person.warnings)
    return RosterLine(
        row=person.row, status="created", name=person.name, resident_id=person.resident_id,
        warning=warning, warning_zh=warning_zh, warnings=person.warnings,
    )  # fmt: skip


class RosterImport(NamedTuple):
    report: RosterReport
    #: The new accounts' activation links, to send once the import has committed.
    notices: list[Notice]


def import_roster(
    session: Session, roster: Roster, *, now: datetime, links: Links,
    actor_id: int | None = None, employer: str | None = None, warnings_block: bool = False,
    all_or_nothing: bool = False,
) -> RosterImport:  # fmt: skip
    """Create a learner account for every valid line of ``roster`` (login = the ID
    number), with no password yet: each gets an activation link (``activation``), in
    the notices returned, for the caller to send once its unit of work has committed.

    Lines whose ID number is registered already are skipped; invalid lines, lines
    repeating an earlier line's ID number or phone, and lines whose phone belongs to
    another account fail; with ``warnings_block``, so do lines with warnings. Each is
    reported with its row number and reason. ``all_or_nothing``: when any line fails,
    no account is made (the valid lines are counted as ``held_back``). ``employer`` (an
    employer administrator's own) overrides the 单位 column. Each new account's employer
    is set by ``employment.employ_new``: the roster's employers looked up or registered
    once, the employments opened in one INSERT.
    """
    people, problems = _check_lines(roster, beijing_date(now), warnings_block=warnings_block)
    new = _unregistered(session, roster, people, problems)
    held_back = 0
    if all_or_nothing and any(p.status == "failed" for p in problems.values()):
        held_back, new = len(new), []
    users = [
        User(
            login=p.resident_id, display_name=p.name, password_hash=NO_PASSWORD,
            roles=["learner"], must_change_password=False, created_at=now,
            resident_id=p.resident_id, phone=p.phone, gender=p.gender, district=p.district,
            remark=p.remark,
        )
        for p in new
    ]  # fmt: skip
    session.add_all(users)
    try:
        employ_new(
            session, [(user, employer or p.employer) for user, p in zip(users, new, strict=True)],
            now_ms=int(now.timestamp() * 1000), actor_id=actor_id,
        )  # fmt: skip
    except IntegrityError:  # a person registered by someone else since the check
        raise AccountExistsError("") from None
    _events(
        session, users, "imported", now=now, actor_id=actor_id,
        details=[{"source": roster.source, "row": person.row} for person in new],
    )  # fmt: skip
    notices = issue_activations(
        session, users, purpose="activation", now=now, ttl_h=links.ttl_h, origin=links.origin,
        actor_id=actor_id,
    )  # fmt: skip
    lines = tuple(problems[n] for n in sorted(problems))
    note, note_zh = _header_note(roster)
    report = RosterReport(
        source=roster.source, lines=len(roster.rows), created=len(users),
        skipped=sum(1 for p in lines if p.status == "skipped"),
        failed=sum(1 for p in lines if p.status == "failed"), problems=lines,
        warned=tuple(_warned(p) for p in new if p.warnings), header_row=roster.header_row,
        header_note=note, header_note_zh=note_zh, held_back=held_back,
    )  # fmt: skip
    return RosterImport(report, notices)


def _header_note(roster: Roster) -> tuple[str, str]:
    """Which row was taken as the header, and what was above it."""
    above = sum(1 for r in roster.preamble if any(_text(v) for v in r))
    n = roster.header_row
    if not above:
        return f"row {n} was taken as the header", f"第 {n} 行被识别为列名"
    return (
        f"row {n} was taken as the header; the {above} line(s) above it (titles, "
        "instructions) were not read as people",
        f"第 {n} 行被识别为列名；其上 {above} 行（标题、说明）未作为人员读取",
    )


def _check_lines(
    roster: Roster, today: date, *, warnings_block: bool
) -> tuple[list[_Person], dict[int, RosterLine]]:
    """The valid people of ``roster`` and, by row, the lines that are invalid (or carry
    warnings, when they block) or repeat an earlier line's ID number or phone."""
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
            problems[row.row] = _failed(row, roster, repeats, checked.warnings)
            continue
        first_id[checked.resident_id] = row.row
        if checked.phone is not None:
            first_phone[checked.phone] = row.row
        if warnings_block and checked.warnings:
            problems[row.row] = _failed(row, roster, _blocking(checked.warnings))
            continue
        people.append(checked)
    return people, problems


def _blocking(warnings: Sequence[FieldProblem]) -> list[FieldProblem]:
    """Warnings as the errors they are when the importer asked warnings to block."""
    return [
        _problem(
            w.field,
            w.code,
            f"{w.message} (warnings block this import)",
            f"{w.message_zh}（本次导入设定：有提示的行不导入）",
        )
        for w in warnings
    ]


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
    """The lines that made no account, in the roster's own layout: its title lines, its
    header and columns where they were, then 错误原因 / Reason, 提示 / Warning and the
    line's row in the uploaded file. Fixed in place, the file can be uploaded again as it
    is (the added columns are ignored, and dropped if it fails again)."""
    keep = [i for i, h in enumerate(roster.headers) if h not in _ADDED]
    added = [REASON_HEADER, REASON_EN_HEADER, WARNING_HEADER, WARNING_EN_HEADER, ROW_HEADER]
    by_row = {row.row: row for row in roster.rows}

    def cells(values: Sequence[Any]) -> list[str]:
        return [_text(values[i]) if i < len(values) else "" for i in keep]

    title = [[_text(v) for v in r] for r in roster.preamble]
    header = [*(roster.headers[i] for i in keep), *added]
    lines = [
        [*cells(by_row[line.row].values), line.reason_zh, line.reason, line.warning_zh,
         line.warning, str(line.row)]
        for line in report.problems
    ]  # fmt: skip
    if fmt == "csv":
        out = io.StringIO(newline="")
        writer = csv.writer(out)
        writer.writerows([*title, header, *lines])
        return out.getvalue().encode("utf-8-sig")  # with a BOM, Excel reads it as UTF-8
    return workbook([*title, header, *lines], title="错误")
