"""CSV item banks: the Excel template's columns and rules, one row per item.

The rows are read by ``itembank.formats._table`` exactly as a spreadsheet's are. The
file may be UTF-8 (with or without the BOM Excel writes), GB18030 (what Chinese Excel
saves as "CSV (逗号分隔)", tried when the file is not UTF-8), or UTF-16 with a BOM
(Excel's "Unicode text", tab-separated). The encoding is not reported: a file that
decodes is read the same whichever it was. Commas separate fields unless the header
line has tabs and no commas. Problems give the physical line where a row starts
(``line``) and the 1-based column (``col``, with its letter in the message).

``dump`` writes UTF-8 with a BOM so that Excel opens Chinese text correctly. Cannot
carry what a table row cannot (see ``_table``), nor number types: every cell is text.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator, Sequence

from itembank.formats import ParseResult
from itembank.formats._table import Row, header, item_row, parse_rows
from itembank.model import Item
from itembank.problems import Problem, at, syntax


def parse(data: bytes, *, source: str = "") -> ParseResult:
    """The items of the CSV file in ``data``; never raises."""
    text = _decode(data)
    if text is None:
        problem = syntax(
            "the file is neither UTF-8, GB18030 nor UTF-16 text; save it as CSV UTF-8",
            "文件编码不是 UTF-8、GB18030 或 UTF-16，请另存为“CSV UTF-8”格式",
            line=1,
        )
        return ParseResult(problems=(at(problem, file=source),))
    problems: list[Problem] = []
    items, row_problems, _, unread = parse_rows(_rows(text, problems))
    problems.extend(row_problems)
    return ParseResult(
        items=tuple(items), problems=tuple(at(p, file=source) for p in problems), unread=unread
    )


def _decode(data: bytes) -> str | None:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _rows(text: str, problems: list[Problem]) -> Iterator[tuple[int, Row]]:
    """``(line where the row starts, cells)``; a broken quote ends reading with a problem."""
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    start = 1
    try:
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1
    except csv.Error as error:
        problems.append(
            syntax(
                f"CSV cannot be read from here on: {error}",
                f"CSV 从此处起无法读取：{error}",
                line=start,
            )
        )


def dump(items: Sequence[Item]) -> bytes:
    """The items as a UTF-8 CSV file (with BOM) in the template's columns."""
    head = header(items)
    options = sum(1 for name in head if name.startswith("选项"))
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(head)
    for item in items:
        writer.writerow(item_row(item, option_columns=options))
    return codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8")
