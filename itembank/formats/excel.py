"""Excel (.xlsx) item banks in the template Chinese course teams use: one row per item.

The columns and the rules that read them are in ``itembank.formats._table`` (shared with
CSV); this module reads cells out of a workbook and writes the template. Every sheet
whose header row names the template's columns is read (an instructions sheet without
one is skipped); problems name the sheet, the row (``line``) and the column (``col``,
1-based, with its letter in the message).

Partial credit goes in the answer cell (``A:50%,B:50%,C:-100%``; ``Xinjiang:50%``).
Cannot carry what a table row cannot (see ``_table``): option feedback and fixed
options, accepted-answer feedback, true/false feedback, case-sensitive blanks, IRT
parameters; ``itembank.exporting`` reports each loss at export. Formulas are read as
their cached values; old binary .xls workbooks are refused with a clear problem.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator, Sequence

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from itembank.formats import ParsedItem, ParseResult
from itembank.formats._table import KIND_ZH, Row, column_letter, header, item_row, parse_rows
from itembank.model import Item
from itembank.problems import Problem, at, syntax

#: The sheet ``dump`` writes the items to.
SHEET = "试题"

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_WIDTHS = {"题型": 10, "题干": 48, "答案": 12, "解析": 36, "知识点": 16, "编号": 18}


def parse(data: bytes, *, source: str = "") -> ParseResult:
    """The items of every template sheet of the workbook in ``data``; never raises."""
    workbook, problem = _open(data)
    if workbook is None:
        return ParseResult(problems=(at(problem, file=source),) if problem else ())
    items: list[ParsedItem] = []
    problems: list[Problem] = []
    found = False
    unread = 0
    try:
        for sheet in workbook.worksheets:
            sheet_items, sheet_problems, has_header, sheet_unread = parse_rows(
                _rows(sheet), sheet=sheet.title, require_header=False
            )
            found = found or has_header
            unread += sheet_unread
            items.extend(sheet_items)
            problems.extend(sheet_problems)
        if not found and workbook.worksheets:
            first = workbook.worksheets[0]
            problems.extend(parse_rows(_rows(first), sheet=first.title)[1])
    except Exception as error:  # damaged sheet XML surfaces only while rows are read
        problems.append(_damaged(error))
    finally:
        workbook.close()
    return ParseResult(
        items=tuple(items), problems=tuple(at(p, file=source) for p in problems), unread=unread
    )


def _open(data: bytes) -> tuple[Workbook | None, Problem | None]:
    """The workbook, or the one problem that says why the file is not one."""
    if data.startswith(_OLE_MAGIC):
        return None, syntax(
            "this is an old binary Excel .xls file; save it as .xlsx (Excel Workbook) and "
            "import that",
            "这是旧版 Excel .xls 文件，请另存为 .xlsx（Excel 工作簿）后再导入",
            line=1,
        )
    try:
        # openpyxl warns about workbook features it drops (extensions, styles); the
        # cell values this format reads are unaffected.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # a damaged file fails anywhere in zipfile, XML or openpyxl
        return None, _damaged(error)
    return workbook, None


def _damaged(error: Exception) -> Problem:
    reason = f"{type(error).__name__}: {error}"
    return syntax(
        f"not an Excel .xlsx workbook, or the file is damaged ({reason})",
        f"不是有效的 Excel .xlsx 工作簿，或文件已损坏（{reason}）",
        line=1,
    )


def _rows(sheet: object) -> Iterator[tuple[int, Row]]:
    """``(row number, values)`` for every row; the dimension a file declares is not
    trusted, since some writers record it wrongly and rows past it would be lost."""
    reset = getattr(sheet, "reset_dimensions", None)
    if reset is not None:
        reset()
    yield from enumerate(sheet.iter_rows(values_only=True), start=1)  # type: ignore[attr-defined]


def dump(items: Sequence[Item]) -> bytes:
    """The items as a template workbook (header styled, 题型 as a dropdown)."""
    workbook = Workbook()
    sheet = workbook.active
    assert isinstance(sheet, Worksheet)  # a new workbook always has one worksheet
    sheet.title = SHEET
    head = header(items)
    options = sum(1 for name in head if name.startswith("选项"))
    sheet.append(head)
    for item in items:
        sheet.append(item_row(item, option_columns=options))
    _style(sheet, head, rows=len(items))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _style(sheet: Worksheet, head: list[str], *, rows: int) -> None:
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for index, name in enumerate(head):
        cell = sheet.cell(row=1, column=index + 1)
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(horizontal="center")
        sheet.column_dimensions[column_letter(index)].width = _WIDTHS.get(name, 14)
    sheet.freeze_panes = "A2"
    kinds = ",".join(KIND_ZH.values())
    validation = DataValidation(type="list", formula1=f'"{kinds}"', allow_blank=True)
    validation.add(f"A2:A{max(rows + 1, 1000)}")
    sheet.add_data_validation(validation)
