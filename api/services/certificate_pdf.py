"""A certificate as a PDF, and a certificate PDF checked offline (docs/decisions/0028).

``render_pdf`` draws one A4 landscape page from a signed record alone: the lines of
``examengine.records.printed`` in the embedded CJK font (``api.services.pdf``), the
statement, the issuer with its seal (the configured image, else one drawn in vector: a
red ring, a star and the issuer's name around it) and a QR code of the public
verification page. The record and its signature travel in the PDF's ``/Keywords``
(``records.seal``): the same inputs always give the same bytes (reportlab's invariant
mode: fixed dates and document id), so a PDF can be made again at any time.

``check_pdf`` needs no database: it reads the record the PDF carries, checks its
signature against the published keys, and checks that every printed line of that
record is on the page (pypdf's text extraction). What it finds is said in words; an
empty list is a genuine certificate (whether it is still current is for /verify to
say).
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pypdf
from pypdf.errors import PyPdfError
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.colors import Color, HexColor
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from api.services.pdf import register_font
from examengine import records, signing

logger = logging.getLogger("api.services.certificates")

PAGE_W, PAGE_H = landscape(A4)
RED = HexColor("#a61b1b")
GOLD = HexColor("#b08d3c")
INK = HexColor("#1a1a1a")
MUTED = HexColor("#555555")
SEAL_RED = Color(0.80, 0.08, 0.08, alpha=0.85)
LATIN = "Helvetica"
#: The value column's left edge and width, and the label column's left edge.
LABEL_X, VALUE_X, VALUE_W = 96, 236, 520
#: The lines of the table (the number, the date and the issuer are printed below it).
TABLE = ("name", "id", "employer", "plan", "year", "category", "hours", "result")


def render_pdf(
    record_text: str,
    signed: signing.Signed,
    *,
    verify_url: str,
    seal_image: Path | None = None,
    font: Path | None = None,
) -> bytes:
    """The certificate PDF of ``record_text`` (a stored record) signed by ``signed``;
    ``verify_url`` is what its QR code opens. Raises ``ValueError`` for a record that
    cannot be read."""
    record = records.decode(record_text)
    cjk = register_font(font)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(PAGE_W, PAGE_H), invariant=True, pageCompression=1)
    canvas.setTitle(f"继续教育培训合格证书 {record.number}")
    canvas.setAuthor(record.issuer)
    canvas.setSubject(f"Certificate {record.number}; verify at {verify_url}")
    canvas.setCreator("examengine")
    canvas.setKeywords(records.seal(record_text, signed))
    _frame(canvas)
    _heading(canvas, cjk)
    lines = {line.key: line for line in records.printed(record)}
    bottom = _table(canvas, cjk, [lines[key] for key in TABLE])
    _statement(canvas, cjk, record, min(bottom - 14, 214))
    _qr(canvas, cjk, verify_url)
    _issuer(canvas, cjk, lines, seal_image, record.issuer)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _frame(canvas: Canvas) -> None:
    canvas.setStrokeColor(RED)
    canvas.setLineWidth(4)
    canvas.rect(22, 22, PAGE_W - 44, PAGE_H - 44)
    canvas.setStrokeColor(GOLD)
    canvas.setLineWidth(1.2)
    canvas.rect(32, 32, PAGE_W - 64, PAGE_H - 64)
    for x, y in ((32, 32), (PAGE_W - 32, 32), (32, PAGE_H - 32), (PAGE_W - 32, PAGE_H - 32)):
        canvas.setFillColor(GOLD)
        canvas.circle(x, y, 3.5, stroke=0, fill=1)


def _heading(canvas: Canvas, cjk: str) -> None:
    canvas.setFillColor(RED)
    canvas.setFont(cjk, 30)
    canvas.drawCentredString(PAGE_W / 2, PAGE_H - 92, "继续教育培训合格证书")
    canvas.setFillColor(MUTED)
    canvas.setFont(LATIN, 10.5)
    canvas.drawCentredString(
        PAGE_W / 2, PAGE_H - 112, "CERTIFICATE OF CONTINUING EDUCATION", charSpace=2.2
    )
    canvas.setStrokeColor(GOLD)
    canvas.setLineWidth(0.8)
    canvas.line(PAGE_W / 2 - 150, PAGE_H - 124, PAGE_W / 2 + 150, PAGE_H - 124)


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """``text`` broken into lines no wider than ``width`` (at any character: Chinese has
    no spaces; a Latin word is kept whole where it fits)."""
    lines: list[str] = []
    line = ""
    for char in text:
        if stringWidth(line + char, font, size) <= width or not line:
            line += char
            continue
        cut = line.rfind(" ")
        if char != " " and cut > 0 and line[cut + 1 :].isascii():
            lines.append(line[:cut])
            line = line[cut + 1 :] + char
        else:
            lines.append(line)
            line = char.lstrip()
    if line:
        lines.append(line)
    return lines


def _fitted(text: str, font: str) -> tuple[float, list[str]]:
    """The size and lines of a value: 14 pt on at most two lines, else smaller."""
    for size in (14.0, 12.0, 10.5, 9.0):
        lines = wrap(text, font, size, VALUE_W)
        if len(lines) <= (2 if size >= 12 else 3):
            return size, lines
    return 8.0, wrap(text, font, 8.0, VALUE_W)


def _table(canvas: Canvas, cjk: str, lines: list[records.Printed]) -> float:
    """The labelled lines from the top down; returns the y below the last."""
    y: float = PAGE_H - 162
    for line in lines:
        size, values = _fitted(line.value, cjk)
        canvas.setFillColor(MUTED)
        canvas.setFont(cjk, 11.5)
        canvas.drawString(LABEL_X, y, line.label_zh)
        canvas.setFont(LATIN, 7.5)
        canvas.drawString(LABEL_X, y - 10, line.label_en)
        canvas.setFillColor(INK)
        canvas.setFont(cjk, size)
        for n, text in enumerate(values):
            canvas.drawString(VALUE_X, y - n * (size + 3), text)
        depth = (len(values) - 1) * (size + 3)
        canvas.setStrokeColor(HexColor("#d9d2c3"))
        canvas.setLineWidth(0.5)
        canvas.line(LABEL_X, y - depth - 8, VALUE_X + VALUE_W, y - depth - 8)
        y -= depth + 29
    return y


def _statement(canvas: Canvas, cjk: str, record: records.Record, y: float) -> None:
    done = "，考核合格" if record.result == "passed" else ""
    canvas.setFillColor(INK)
    canvas.setFont(cjk, 11)
    canvas.drawString(LABEL_X, y, f"兹证明上述人员已修满该培训项目规定学时{done}，特发此证。")
    canvas.setFillColor(MUTED)
    canvas.setFont(LATIN, 7.5)
    passed = " and passed its examination" if record.result == "passed" else ""
    canvas.drawString(
        LABEL_X,
        y - 12,
        f"This certifies that the person above completed the plan's credit hours{passed}.",
    )


def _qr(canvas: Canvas, cjk: str, url: str) -> None:
    size = 78
    widget = QrCodeWidget(url, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, LABEL_X - 6, 58)
    canvas.setFillColor(INK)
    canvas.setFont(cjk, 10)
    canvas.drawString(LABEL_X + size, 118, "扫码核验证书真伪")
    canvas.setFillColor(MUTED)
    canvas.setFont(LATIN, 7.5)
    canvas.drawString(LABEL_X + size, 106, "Scan to verify this certificate")
    canvas.setFont(LATIN, 7)
    for n, line in enumerate(wrap(url, LATIN, 7, 230)[:3]):
        canvas.drawString(LABEL_X + size, 92 - n * 9, line)


def _issuer(
    canvas: Canvas,
    cjk: str,
    lines: Mapping[str, records.Printed],
    seal_image: Path | None,
    issuer: str,
) -> None:
    """The number at the top right; the issuer and the date at the bottom right, the
    seal over them (as a seal is pressed on a paper certificate)."""
    right = PAGE_W - 64
    number = lines["number"]
    canvas.setFillColor(MUTED)
    canvas.setFont(cjk, 9)
    canvas.drawRightString(right, PAGE_H - 58, f"{number.label_zh} {number.label_en}")
    canvas.setFillColor(INK)
    canvas.setFont(cjk, 12)
    canvas.drawRightString(right, PAGE_H - 73, number.value)
    # As on a paper certificate: the issuer and the date, unlabelled, under the seal.
    y = 118
    issuer_lines = wrap(lines["issuer"].value, cjk, 13, 230)[:3]
    canvas.setFillColor(INK)
    canvas.setFont(cjk, 13)
    for text in issuer_lines:
        canvas.drawRightString(right, y, text)
        y -= 17
    canvas.drawRightString(right, y - 4, lines["issued"].value)
    _seal(canvas, cjk, right - 62, 100, image=seal_image, issuer=issuer)


def _seal(
    canvas: Canvas, cjk: str, cx: float, cy: float, *, image: Path | None, issuer: str
) -> None:
    radius = 52
    if image is not None:
        try:
            canvas.drawImage(
                ImageReader(str(image)),
                cx - radius,
                cy - radius,
                2 * radius,
                2 * radius,
                mask="auto",
                preserveAspectRatio=True,
            )
            return
        except (OSError, ValueError) as exc:  # a missing or broken file: draw one instead
            logger.warning(
                "the seal image %s cannot be used (%s): a drawn seal instead", image, exc
            )
    canvas.saveState()
    canvas.setStrokeColor(SEAL_RED)
    canvas.setFillColor(SEAL_RED)
    canvas.setLineWidth(3)
    canvas.circle(cx, cy, radius, stroke=1, fill=0)
    canvas.setLineWidth(0.8)
    canvas.circle(cx, cy, radius - 5, stroke=1, fill=0)
    _star(canvas, cx, cy, 14)
    name = issuer[:20]
    size = 11 if len(name) <= 12 else 8.5
    canvas.setFont(cjk, size)
    sweep = min(250.0, 19.0 * len(name) * size / 11)
    for n, char in enumerate(name):
        angle = 90 + sweep / 2 - (sweep * (n + 0.5) / len(name))
        canvas.saveState()
        canvas.translate(
            cx + (radius - 15) * math.cos(math.radians(angle)),
            cy + (radius - 15) * math.sin(math.radians(angle)),
        )
        canvas.rotate(angle - 90)
        canvas.drawCentredString(0, -size / 2.5, char)
        canvas.restoreState()
    canvas.setFont(cjk, 7.5)
    canvas.drawCentredString(cx, cy - 30, "证书专用章")
    canvas.restoreState()


def _star(canvas: Canvas, cx: float, cy: float, radius: float) -> None:
    path = canvas.beginPath()
    for n in range(10):
        r = radius if n % 2 == 0 else radius * 0.4
        angle = math.radians(90 + 36 * n)
        x, y = cx + r * math.cos(angle), cy + r * math.sin(angle)
        if n == 0:
            path.moveTo(x, y)
        else:
            path.lineTo(x, y)
    path.close()
    canvas.drawPath(path, stroke=0, fill=1)


# ---------------------------------------------------------------------- the check


def check_pdf(data: bytes, keys: Mapping[str, signing.VerifyKey]) -> list[str]:
    """What is wrong with the certificate PDF ``data``, in words (an empty list: it is
    a genuine certificate of this deployment): not a PDF, no signed record in it, a
    signature that does not hold under ``keys``, or a signed line missing from the
    page."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        metadata: Mapping[str, Any] = reader.metadata or {}
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        return [f"not a readable PDF: {exc}"]
    keywords = metadata.get("/Keywords")
    if not keywords:
        return ["the PDF carries no signed certificate record (its /Keywords are empty)"]
    try:
        envelope = records.unseal(str(keywords))
    except ValueError as exc:
        return [f"the PDF carries no signed certificate record: {exc}"]
    record, problem = records.check(
        keys, None, envelope.record, signing.Signed(kid=envelope.kid, sig=envelope.sig)
    )
    problems = [problem.message] if problem is not None else []
    if record is not None:
        problems += records.missing_from(record, text)
    return problems


__all__ = ["check_pdf", "render_pdf", "wrap"]
