"""Certificates as rules (docs/decisions/0028): the number, the signed record, what a
certificate prints, when one is due, and the checks a verifier makes.

**The number** is the plan's year and eleven random Crockford base-32 symbols (55 bits,
drawn by the caller: never a counter, so a number says nothing of its neighbours and
cannot be guessed from one) and a check symbol (Luhn mod 32 over the whole number), in
groups: ``2026-7K3M-Q9XD-4TZP``. ``check_number`` reads a number as people type it (lower
case, without the hyphens, O for 0, I or L for 1, full-width characters) and returns its
normal form, or raises ``RecordError`` naming the field and what is wrong: a mistyped
symbol, or two swapped neighbours, fail the check.

**The record** (``Record``) is what is signed: canonical JSON of the Struct
(``examengine.signing.canonical``), with its schema's version. ``printed`` lists the
fields the certificate prints, each with its label; the PDF prints them and a verifier
of a PDF (``missing_from``) finds every one of them in the page's text.

**When one is due** (``next_step``): the plan's required and elective hours are
credited and, if the plan has an exam, a formal attempt passed. A current certificate
whose exam no longer counts as passed (a regrade turned the best result into a fail) is
revoked; nothing else takes one away.

Pure: no clock (times are passed in), no randomness (the random part is an argument),
no files.
"""

from __future__ import annotations

import binascii
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from examengine import signing
from examengine.clock import BEIJING
from examengine.errors import EngineError

#: The schema of a signed certificate record; a new field means a new version.
SCHEMA: Literal["examengine.certificate/1"] = "examengine.certificate/1"
#: The schema of the signed record a certificate PDF carries in its metadata.
ENVELOPE: Literal["examengine.certificate-pdf/1"] = "examengine.certificate-pdf/1"

#: Crockford's base 32: digits and letters without I, L, O and U.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {c: n for n, c in enumerate(ALPHABET)}
#: Read as people type: the letters Crockford maps to digits.
_ALIASES = {"O": "0", "I": "1", "L": "1"}
#: Random symbols in a number (55 bits), and the bound of the random integer passed in.
RANDOM_SYMBOLS = 11
RANDOM_BOUND = 32**RANDOM_SYMBOLS
#: A number's length in its normal form: ``2026-XXXX-XXXX-XXXX``.
NUMBER_LENGTH = 19
EXAMPLE = "2026-7K3M-Q9XD-4TZP"

#: The printed name of each plan category (the certificate is a Chinese document).
CATEGORY_ZH = {"public": "公需科目", "professional": "专业科目"}
CATEGORY_EN = {"public": "Public subjects", "professional": "Professional subjects"}

Hours = Annotated[float, Meta(ge=0, le=1000)]
Result = Literal["passed", "completed"]
#: What a certificate prints as its result: the exam passed, or (a plan without an
#: exam) its hours completed.
RESULT_ZH = {"passed": "考核合格", "completed": "学时已修满"}
RESULT_EN = {"passed": "Passed", "completed": "Hours completed"}


class RecordError(EngineError):
    """A certificate request was refused; ``code`` says why, ``field`` names the input
    at fault (or is None)."""

    code = "certificate_refused"

    def __init__(
        self, code: str, message: str, message_zh: str, *, field: str | None = None
    ) -> None:
        super().__init__(message, message_zh)
        self.code = code
        self.field = field


# ----------------------------------------------------------------------- the number


def _check_value(values: Sequence[int]) -> int:
    """The Luhn mod 32 check value of ``values``: it makes the weighted sum of the whole
    a multiple of 32, so one wrong symbol or two swapped neighbours never pass."""
    total, factor = 0, 2
    for value in reversed(values):
        addend = factor * value
        total += addend // 32 + addend % 32
        factor = 3 - factor
    return (32 - total % 32) % 32


def _holds(values: Sequence[int]) -> bool:
    total, factor = 0, 1
    for value in reversed(values):
        addend = factor * value
        total += addend // 32 + addend % 32
        factor = 3 - factor
    return total % 32 == 0


def _grouped(year: int, symbols: str) -> str:
    return f"{year:04d}-{symbols[0:4]}-{symbols[4:8]}-{symbols[8:12]}"


def make_number(year: int, random: int) -> str:
    """The number of a certificate of ``year`` from ``random`` (0 ≤ random <
    ``RANDOM_BOUND``, drawn by the caller from a secure source)."""
    if not 1000 <= year <= 9999:
        raise ValueError(f"a certificate's year has four digits, not {year}")
    if not 0 <= random < RANDOM_BOUND:
        raise ValueError(f"the random part is 0 ≤ n < 32**{RANDOM_SYMBOLS}")
    symbols = ""
    for _ in range(RANDOM_SYMBOLS):
        random, digit = divmod(random, 32)
        symbols = ALPHABET[digit] + symbols
    values = [int(d) for d in f"{year:04d}"] + [_VALUE[c] for c in symbols]
    return _grouped(year, symbols + ALPHABET[_check_value(values)])


def _bad_number(field: str, what: str, what_zh: str) -> RecordError:
    return RecordError(
        "certificate_number",
        f"{field}: {what} (a certificate number looks like {EXAMPLE})",
        f"证书编号（{field}）：{what_zh}（证书编号形如 {EXAMPLE}）",
        field=field,
    )


def check_number(text: str, *, field: str = "number") -> str:
    """``text`` as a certificate number in its normal form (``2026-7K3M-Q9XD-4TZP``);
    ``RecordError`` (code ``certificate_number``, naming ``field``) when it is none."""
    compact = "".join(
        _ALIASES.get(c, c)
        for c in unicodedata.normalize("NFKC", text).upper()
        if not c.isspace() and c not in "-‐‑‒–—―_."
    )
    if not compact:
        raise _bad_number(field, "it is empty", "未填写")
    if len(compact) != 16:
        raise _bad_number(
            field,
            f"it has {len(compact)} letters and digits, not 16",
            f"应为 16 位字母和数字，实为 {len(compact)} 位",
        )
    for c in compact:
        if c not in _VALUE:
            shown = repr(c) if c.isprintable() else f"U+{ord(c):04X}"
            raise _bad_number(
                field,
                f"{shown} is not a letter or digit of a number",
                f"{shown} 不是证书编号中的字母或数字",
            )
    if not compact[:4].isdigit():
        raise _bad_number(field, "it does not begin with a year", "应以年份开头")
    if not _holds([_VALUE[c] for c in compact]):
        raise _bad_number(
            field,
            "its check character does not match: a character is mistyped or two are swapped",
            "校验位不符：有字符输入错误或相邻字符颠倒",
        )
    return _grouped(int(compact[:4]), compact[4:])


# ----------------------------------------------------------------------- the record


class Record(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a certificate says, signed as canonical JSON. ``id_masked`` is the holder's
    ID number as printed (110105********002X): the whole number is never in a record.
    ``employer`` is "" for someone of no employer."""

    schema: Literal["examengine.certificate/1"] = SCHEMA
    number: str
    name: str
    id_masked: str
    employer: str
    plan: str
    plan_title: str
    year: int
    category: str
    required_hours: Hours
    elective_hours: Hours
    result: Result
    #: The exam passed (None: the plan has none).
    exam: str | None
    issuer: str
    issued_ms: int
    #: The certificate this one replaces (a new name or employer), or None.
    supersedes: str | None = None

    @property
    def hours(self) -> float:
        return self.required_hours + self.elective_hours


def encode(record: Record) -> str:
    """The record's canonical JSON text: what is stored and signed."""
    return signing.canonical(record).decode()


def sign(key: signing.SigningKey, record_text: str) -> signing.Signed:
    """The signature of a record's text (its bytes, as stored)."""
    return signing.sign(key, msgspec.Raw(record_text.encode()))


def decode(text: str | bytes) -> Record:
    """A stored or embedded record; ``msgspec.DecodeError`` / ``ValidationError``."""
    return msgspec.json.decode(text, type=Record)


def hours_text(value: float) -> str:
    return f"{value:g}"


def date_zh(ms: int) -> str:
    """A moment's date in Beijing, as a Chinese document writes it: 2026年11月22日."""
    day = datetime.fromtimestamp(ms / 1000, UTC).astimezone(BEIJING)
    return f"{day.year}年{day.month}月{day.day}日"


def date_iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(BEIJING).date().isoformat()


class Printed(Struct, frozen=True, kw_only=True):
    """One line of a certificate: its label in both languages and its value."""

    key: str
    label_zh: str
    label_en: str
    value: str


def category_zh(code: str) -> str:
    return CATEGORY_ZH.get(code, code)


def printed(record: Record) -> tuple[Printed, ...]:
    """The lines a certificate prints, in order: the same for the PDF and for its check."""
    hours = (
        f"必修 {hours_text(record.required_hours)} 学时，选修 "
        f"{hours_text(record.elective_hours)} 学时，合计 {hours_text(record.hours)} 学时"
    )
    return (
        Printed(key="name", label_zh="姓名", label_en="Name", value=record.name),
        Printed(key="id", label_zh="身份证号", label_en="ID number", value=record.id_masked),
        Printed(
            key="employer", label_zh="工作单位", label_en="Employer", value=record.employer or "无"
        ),
        Printed(key="plan", label_zh="培训项目", label_en="Plan", value=record.plan_title),
        Printed(key="year", label_zh="年度", label_en="Year", value=f"{record.year} 年度"),
        Printed(
            key="category", label_zh="类别", label_en="Category", value=category_zh(record.category)
        ),
        Printed(key="hours", label_zh="学时", label_en="Credit hours", value=hours),
        Printed(
            key="result", label_zh="考核结果", label_en="Result", value=RESULT_ZH[record.result]
        ),
        Printed(key="number", label_zh="证书编号", label_en="Certificate no.", value=record.number),
        Printed(
            key="issued",
            label_zh="发证日期",
            label_en="Date of issue",
            value=date_zh(record.issued_ms),
        ),
        Printed(key="issuer", label_zh="发证机构", label_en="Issued by", value=record.issuer),
    )


def _squeezed(text: str) -> str:
    """Text without any white space: how a PDF's extracted text is compared (a line
    may break, or a space come and go, anywhere)."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def missing_from(record: Record, page_text: str) -> list[str]:
    """Each printed line of ``record`` whose value is not in ``page_text`` (the text of
    a certificate's page), in words; empty when all are there."""
    found = _squeezed(page_text)
    return [
        f"the page does not show the signed {line.label_en.lower()} {line.value!r}"
        for line in printed(record)
        if _squeezed(line.value) not in found
    ]


# ------------------------------------------------------------------ the PDF's record


class Envelope(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The signed record as a certificate PDF carries it (its /Keywords metadata, as
    base64url of this Struct's canonical JSON): the record's text, and who signed it."""

    schema: Literal["examengine.certificate-pdf/1"] = ENVELOPE
    record: str
    kid: str
    sig: str


def seal(record_text: str, signed: signing.Signed) -> str:
    """The metadata text of a PDF carrying ``record_text`` signed by ``signed``."""
    envelope = Envelope(record=record_text, kid=signed.kid, sig=signed.sig)
    return signing.b64url(signing.canonical(envelope))


def unseal(text: str) -> Envelope:
    """The envelope in a PDF's metadata text; ``ValueError`` saying why there is none."""
    try:
        return msgspec.json.decode(signing.unb64url(text.strip()), type=Envelope)
    except (ValueError, binascii.Error, msgspec.DecodeError) as exc:
        raise ValueError(f"its metadata holds no signed certificate record ({exc})") from None


# ----------------------------------------------------------------------- the checks


class Problem(Struct, frozen=True, kw_only=True):
    """Why a certificate is not genuine, in both languages."""

    code: Literal["unreadable", "unknown_key", "bad_signature", "wrong_number"]
    message: str
    message_zh: str


def check(
    keys: Mapping[str, signing.VerifyKey],
    number: str | None,
    record_text: str,
    signed: signing.Signed,
) -> tuple[Record | None, Problem | None]:
    """The record and None when ``record_text`` is a record (of certificate ``number``,
    unless None) signed by ``signed`` with one of ``keys``; otherwise what is wrong (and
    the record when it could be read)."""
    try:
        record = decode(record_text)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return None, Problem(
            code="unreadable",
            message=f"the signed record cannot be read: {exc}",
            message_zh=f"证书记录无法读取：{exc}",
        )
    # The signature is over the record's bytes as stored, not over a re-encoding of them.
    said = signing.check(keys, msgspec.Raw(record_text.encode()), signed)
    if said is not None:
        if signed.kid not in keys:
            return record, Problem(
                code="unknown_key",
                message=said,
                message_zh=f"签发密钥 {signed.kid} 不在可信密钥之中",
            )
        return record, Problem(
            code="bad_signature", message=said, message_zh=f"密钥 {signed.kid} 的签名与证书内容不符"
        )
    if number is not None and record.number != number:
        return record, Problem(
            code="wrong_number",
            message=f"the signed record is of certificate {record.number}, not {number}",
            message_zh=f"签名记录属于证书 {record.number}，而非 {number}",
        )
    return record, None


# ---------------------------------------------------------------------- when it's due


class Step(StrEnum):
    """What a learner's certificate of a plan needs now."""

    ISSUE = "issue"
    REVOKE = "revoke"
    NOTHING = "nothing"


def due(*, hours_met: bool, exam: str | None, passed: bool) -> bool:
    """A certificate is due when the plan's hours are credited and its exam (if it has
    one) was passed in a formal attempt."""
    return hours_met and (exam is None or passed)


def next_step(
    *,
    current: bool,
    hours_met: bool,
    exam: str | None,
    passed: bool,
    results_changed: bool,
    withheld: bool = False,
) -> Step:
    """Issue when due and there is no current certificate, unless an operator revoked
    one of this plan (``withheld``: a person decided, the rule does not undo it); revoke
    a current one when the exam's results changed (``results_changed``: a pass or a
    regrade was just stored) and no formal attempt counts as passed any more. Hours
    never take a certificate away (a new study cycle resets them after two fails, never
    after a pass)."""
    if not current:
        if withheld:
            return Step.NOTHING
        return Step.ISSUE if due(hours_met=hours_met, exam=exam, passed=passed) else Step.NOTHING
    if results_changed and exam is not None and not passed:
        return Step.REVOKE
    return Step.NOTHING


__all__ = [
    "ALPHABET",
    "CATEGORY_EN",
    "CATEGORY_ZH",
    "ENVELOPE",
    "EXAMPLE",
    "RANDOM_BOUND",
    "RESULT_EN",
    "RESULT_ZH",
    "SCHEMA",
    "Envelope",
    "Printed",
    "Problem",
    "Record",
    "RecordError",
    "Step",
    "check",
    "check_number",
    "date_iso",
    "date_zh",
    "decode",
    "due",
    "encode",
    "make_number",
    "missing_from",
    "next_step",
    "printed",
    "seal",
    "sign",
    "unseal",
]
