"""Workbooks the app hands out (a roster's error file, a batch of activation codes, an
employer's staff list): one sheet, every cell formatted as text, so that ID numbers,
serials and codes stay exactly as written when the file is edited in Excel."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any


def workbook(rows: Iterable[Sequence[Any]], *, title: str) -> bytes:
    """``rows`` as the one sheet ``title`` of an .xlsx workbook."""
    from openpyxl import Workbook  # noqa: PLC0415 (a heavy import, for downloads only)

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(list(row))
    for cells in sheet.iter_rows():
        for cell in cells:
            cell.number_format = "@"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
