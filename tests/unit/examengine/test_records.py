"""Certificates as rules: the number (random, grouped, a check symbol that catches every
mistyped symbol and every swap of two neighbours, read as people type it), the signed
record and its check, what a certificate prints, and when one is due."""

from __future__ import annotations

import msgspec
import pytest

from examengine import records, signing
from examengine.records import Record, RecordError, Step

KEY = signing.SigningKey.from_secret("unit test signing secret " + "u" * 20)
TRUSTED = {KEY.kid: KEY.verify_key}
#: 16:30 UTC on 17 November 2026: 00:30 on the 18th in Beijing, the certificate's date.
T0 = 1_794_933_000_000


def record(**changes: object) -> Record:
    base = Record(
        number=records.make_number(2026, 1234567),
        name="张三",
        id_masked="110105********002X",
        employer="重庆市第一中学",
        plan="2026-公需",
        plan_title="2026 年度公需科目培训",
        year=2026,
        category="public",
        required_hours=60.0,
        elective_hours=30.0,
        result="passed",
        exam="公需-2026",
        issuer="继续教育考试中心",
        issued_ms=T0,
    )
    return msgspec.structs.replace(base, **changes)


# ----------------------------------------------------------------------- the number


def test_a_number_is_the_year_and_three_groups_of_crockford_base32() -> None:
    assert records.make_number(2026, 0) == "2026-0000-0000-000" + records.make_number(2026, 0)[-1]
    number = records.make_number(2026, records.RANDOM_BOUND - 1)
    assert number.startswith("2026-ZZZZ-ZZZZ-ZZZ")
    assert len(number) == records.NUMBER_LENGTH == 19
    assert set(number.replace("-", "")) <= set(records.ALPHABET)
    assert not set("ILOU") & set(records.ALPHABET)
    assert records.check_number(records.EXAMPLE) == records.EXAMPLE


def test_neighbouring_random_integers_give_numbers_that_share_no_order() -> None:
    """Numbers come from the random part, never from a counter: one number says nothing
    of the next one issued (the caller draws 55 random bits)."""
    numbers = [records.make_number(2026, n) for n in range(1000, 1010)]
    assert len(set(numbers)) == 10
    assert all(records.check_number(n) == n for n in numbers)


def test_make_number_refuses_what_is_not_a_year_or_a_random_part() -> None:
    for year, random in ((999, 1), (10_000, 1), (2026, -1), (2026, records.RANDOM_BOUND)):
        with pytest.raises(ValueError):
            records.make_number(year, random)


def test_a_number_is_read_as_people_type_it() -> None:
    number = records.make_number(2026, 98_765_432_101)
    compact = number.replace("-", "")
    for typed in (
        number.lower(),
        compact,
        f"  {compact[:8]} {compact[8:]}  ",
        number.replace("-", "—"),
        "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in number),  # full width
        number.replace("0", "o").replace("1", "l"),
    ):
        assert records.check_number(typed) == number, typed


@pytest.mark.parametrize("position", range(16))
def test_every_mistyped_symbol_is_caught_by_the_check(position: int) -> None:
    compact = records.make_number(2026, 31_415_926_535).replace("-", "")
    for symbol in records.ALPHABET:
        if symbol == compact[position] or (position < 4 and not symbol.isdigit()):
            continue
        typo = compact[:position] + symbol + compact[position + 1 :]
        with pytest.raises(RecordError) as caught:
            records.check_number(typo)
        assert caught.value.code == "certificate_number" and caught.value.field == "number"


def test_every_swap_of_two_different_neighbours_is_caught() -> None:
    for random in (31_415_926_535, 27_182_818_284, 16_180_339_887):
        compact = records.make_number(2026, random).replace("-", "")
        for i in range(15):
            if compact[i] == compact[i + 1]:
                continue
            swapped = compact[:i] + compact[i + 1] + compact[i] + compact[i + 2 :]
            with pytest.raises(RecordError):
                records.check_number(swapped)


@pytest.mark.parametrize(
    ("typed", "message", "message_zh"),
    [
        ("", "number: it is empty", "证书编号（number）：未填写"),
        (
            "2026-ABCD",
            "number: it has 8 letters and digits, not 16",
            "证书编号（number）：应为 16 位字母和数字，实为 8 位",
        ),
        (
            "2026-ABCD-EFGH-JKMU",
            "number: 'U' is not a letter or digit of a number",
            "证书编号（number）：'U' 不是证书编号中的字母或数字",
        ),
        (
            "ABCD-ABCD-EFGH-JKMN",
            "number: it does not begin with a year",
            "证书编号（number）：应以年份开头",
        ),
    ],
)
def test_a_malformed_number_is_refused_naming_the_field_in_both_languages(
    typed: str, message: str, message_zh: str
) -> None:
    with pytest.raises(RecordError) as caught:
        records.check_number(typed)
    suffix = f" (a certificate number looks like {records.EXAMPLE})"
    assert caught.value.message == message + suffix
    assert caught.value.message_zh == message_zh + f"（证书编号形如 {records.EXAMPLE}）"
    with pytest.raises(RecordError) as named:
        records.check_number(typed, field="certificate")
    assert named.value.field == "certificate" and named.value.message.startswith("certificate:")


# ----------------------------------------------------------------------- the record


def test_the_record_is_signed_as_stored_and_checks() -> None:
    text = records.encode(record())
    assert text == signing.canonical(record()).decode()
    assert '"schema":"examengine.certificate/1"' in text
    signed = records.sign(KEY, text)
    assert records.check(TRUSTED, record().number, text, signed) == (record(), None)
    assert records.check(TRUSTED, None, text, signed) == (record(), None)


def test_an_edited_record_a_moved_one_and_a_stranger_s_key_are_told_apart() -> None:
    text = records.encode(record())
    signed = records.sign(KEY, text)
    edited = text.replace("张三", "王五")
    found, problem = records.check(TRUSTED, record().number, edited, signed)
    assert found == record(name="王五")
    assert problem == records.Problem(
        code="bad_signature",
        message=f"the signature by {KEY.kid} does not match the signed content",
        message_zh=f"密钥 {KEY.kid} 的签名与证书内容不符",
    )
    other = records.make_number(2026, 1)
    assert records.check(TRUSTED, other, text, signed)[1] == records.Problem(
        code="wrong_number",
        message=f"the signed record is of certificate {record().number}, not {other}",
        message_zh=f"签名记录属于证书 {record().number}，而非 {other}",
    )
    stranger = signing.SigningKey.from_secret("somebody else's secret " + "z" * 20)
    problem = records.check(TRUSTED, None, text, records.sign(stranger, text))[1]
    assert problem is not None and problem.code == "unknown_key"
    assert problem.message == f"signed by key {stranger.kid}, which is not among the trusted keys"
    unreadable = records.check(TRUSTED, None, text[:-1], signed)
    assert unreadable[0] is None and unreadable[1] is not None
    assert unreadable[1].code == "unreadable"


def test_the_signature_covers_the_bytes_as_stored_even_reordered_json() -> None:
    """A stored record re-serialised (other key order, same content) is not the signed
    text: the check is of the bytes, not of a re-encoding."""
    text = records.encode(record())
    signed = records.sign(KEY, text)
    fields = msgspec.json.decode(text)
    reordered = msgspec.json.encode(dict(reversed(list(fields.items())))).decode()
    assert reordered != text and msgspec.json.decode(reordered) == fields
    found, problem = records.check(TRUSTED, None, reordered, signed)
    assert found == record() and problem is not None and problem.code == "bad_signature"


def test_a_certificate_prints_its_lines_in_chinese_with_english_labels() -> None:
    lines = records.printed(record(employer=""))
    assert [(p.key, p.label_zh, p.value) for p in lines] == [
        ("name", "姓名", "张三"),
        ("id", "身份证号", "110105********002X"),
        ("employer", "工作单位", "无"),
        ("plan", "培训项目", "2026 年度公需科目培训"),
        ("year", "年度", "2026 年度"),
        ("category", "类别", "公需科目"),
        ("hours", "学时", "必修 60 学时，选修 30 学时，合计 90 学时"),
        ("result", "考核结果", "考核合格"),
        ("number", "证书编号", record().number),
        ("issued", "发证日期", "2026年11月18日"),
        ("issuer", "发证机构", "继续教育考试中心"),
    ]
    assert records.printed(record(result="completed", elective_hours=0.5))[7].value == "学时已修满"
    assert records.printed(record(category="其他"))[5].value == "其他"
    assert records.date_iso(T0) == "2026-11-18"


def test_a_page_missing_a_printed_line_is_named_line_by_line() -> None:
    page = "\n".join(f"{p.label_zh} {p.value}" for p in records.printed(record()))
    assert records.missing_from(record(), page) == []
    # Line breaks and spaces moved by the extraction do not matter.
    assert records.missing_from(record(), page.replace(" ", "").replace("继续", "继\n续")) == []
    doctored = page.replace("张三", "王五").replace("考核合格", "考核优秀")
    assert records.missing_from(record(), doctored) == [
        "the page does not show the signed name '张三'",
        "the page does not show the signed result '考核合格'",
    ]


def test_the_pdf_envelope_round_trips_and_refuses_what_is_not_one() -> None:
    text = records.encode(record())
    signed = records.sign(KEY, text)
    sealed = records.seal(text, signed)
    assert sealed.isascii() and "=" not in sealed
    assert records.unseal(sealed) == records.Envelope(record=text, kid=signed.kid, sig=signed.sig)
    for junk in ("", "not base64 at all!", signing.b64url(b'{"schema":"other"}')):
        with pytest.raises(ValueError, match="holds no signed certificate record"):
            records.unseal(junk)


# ---------------------------------------------------------------------- when it's due


@pytest.mark.parametrize(
    ("hours_met", "exam", "passed", "due"),
    [
        (True, "e", True, True),
        (True, "e", False, False),
        (False, "e", True, False),
        (True, None, False, True),
        (False, None, False, False),
    ],
)
def test_a_certificate_is_due_with_the_hours_and_a_pass_or_no_exam(
    hours_met: bool, exam: str | None, passed: bool, due: bool
) -> None:
    assert records.due(hours_met=hours_met, exam=exam, passed=passed) is due
    step = records.next_step(
        current=False, hours_met=hours_met, exam=exam, passed=passed, results_changed=True
    )
    assert step is (Step.ISSUE if due else Step.NOTHING)


def test_a_current_one_is_revoked_only_by_results_that_no_longer_pass() -> None:
    def step(**kw: object) -> Step:
        args: dict[str, object] = {
            "current": True,
            "hours_met": True,
            "exam": "e",
            "passed": True,
            "results_changed": True,
        } | kw
        return records.next_step(**args)  # type: ignore[arg-type]

    assert step(passed=False) is Step.REVOKE
    assert step() is Step.NOTHING  # still passed: nothing (idempotent)
    assert step(passed=False, results_changed=False) is Step.NOTHING  # no regrade: kept
    assert step(hours_met=False, passed=True) is Step.NOTHING  # hours never take it away
    assert step(exam=None, passed=False) is Step.NOTHING  # no exam to fail


def test_an_operator_s_revocation_is_not_undone_by_the_rule() -> None:
    assert (
        records.next_step(
            current=False,
            hours_met=True,
            exam="e",
            passed=True,
            results_changed=True,
            withheld=True,
        )
        is Step.NOTHING
    )
