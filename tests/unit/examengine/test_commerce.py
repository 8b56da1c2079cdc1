"""The rules of buying a plan: prices in fen, where an order may go, what a payment must
match, China's calendar year, and the invoice rules of the source platforms."""

from __future__ import annotations

from datetime import datetime

import pytest

from examengine.clock import year_of
from examengine.commerce import (
    CommerceError,
    OrderState,
    PriceBasis,
    check_amount,
    check_invoice_correction,
    check_invoice_request,
    move,
    normal_tax_id,
    order_number,
    unit_fen,
    yuan,
)

DAY = 86_400_000


def ms(text: str) -> int:
    """An ISO time with its offset, in UTC milliseconds."""
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def test_prices_per_person_and_per_credit_hour_in_whole_fen() -> None:
    assert unit_fen(3300, PriceBasis.PERSON, 90) == 3300  # 33 yuan a person a year (000)
    assert unit_fen(150, "hour", 90) == 13_500  # 1.5 yuan an hour of a 90-hour plan (001)
    assert unit_fen(250, "hour", 90) == 22_500  # 2.5 yuan an hour (004)
    assert unit_fen(3, "hour", 0.5) == 2  # 1.5 fen: half up, once, for one place
    assert unit_fen(0, "hour", 90) == 0
    with pytest.raises(ValueError, match="outside"):
        unit_fen(-1, "person", 1)
    assert (yuan(13_500), yuan(5), yuan(0), yuan(-250)) == ("135.00", "0.05", "0.00", "-2.50")


def test_an_order_moves_pending_to_paid_to_refunded_or_is_cancelled_unpaid() -> None:
    assert move("pending", OrderState.PAID) is OrderState.PAID
    assert move("pending", OrderState.CANCELLED) is OrderState.CANCELLED
    assert move("paid", OrderState.REFUNDED) is OrderState.REFUNDED
    for state, to in (
        ("paid", OrderState.CANCELLED),
        ("pending", OrderState.REFUNDED),
        ("cancelled", OrderState.PAID),
        ("refunded", OrderState.PAID),
        ("paid", OrderState.PAID),
    ):
        with pytest.raises(CommerceError) as refused:
            move(state, to)
        assert refused.value.code == "order_state"
    with pytest.raises(CommerceError) as refused:
        move("paid", OrderState.CANCELLED)
    assert refused.value.message_zh == "订单当前为“已支付”，不能变为“已取消”"


def test_a_payment_settles_only_the_whole_amount() -> None:
    check_amount(13_500, 13_500)
    for paid in (13_499, 13_501):
        with pytest.raises(CommerceError) as refused:
            check_amount(13_500, paid)
        assert refused.value.code == "amount_mismatch"
    assert _zh(lambda: check_amount(13_500, 13_499)) == "付款金额 134.99 元与订单金额 135.00 元不符"


def test_years_and_order_numbers_follow_china_time() -> None:
    # 23:30 on 31 December in Beijing is 15:30 UTC: that year's, not the next's.
    assert year_of(ms("2026-12-31T23:30:00+08:00")) == 2026
    assert year_of(ms("2027-01-01T00:10:00+08:00")) == 2027
    assert year_of(ms("2026-12-31T16:10:00+00:00")) == 2027  # already 1 January in China
    assert order_number(ms("2026-12-31T16:10:00+00:00"), 42) == "2027010100000042"


def test_an_invoice_is_asked_for_in_the_year_of_payment() -> None:
    paid = ms("2026-12-31T22:00:00+08:00")
    check_invoice_request(paid_ms=None, now_ms=paid)  # with the order, before paying
    check_invoice_request(paid_ms=paid, now_ms=ms("2026-12-31T23:59:00+08:00"))
    with pytest.raises(CommerceError) as late:
        check_invoice_request(paid_ms=paid, now_ms=ms("2027-01-01T00:01:00+08:00"))
    assert late.value.code == "invoice_year_closed"
    assert late.value.message_zh == "2026 年的缴费只能在当年申请发票，不能跨年补开"


def test_an_invoice_is_corrected_once_within_15_days_and_not_across_the_year() -> None:
    asked = ms("2026-06-01T10:00:00+08:00")
    check_invoice_correction(requested_ms=asked, corrections=0, now_ms=asked + 15 * DAY)
    cases = (
        (1, asked + DAY, "invoice_corrected_already"),
        (0, asked + 15 * DAY + 1, "invoice_correction_late"),
        (0, ms("2027-01-01T00:00:00+08:00"), "invoice_correction_late"),
    )
    for corrections, now, code in cases:
        with pytest.raises(CommerceError) as refused:
            check_invoice_correction(requested_ms=asked, corrections=corrections, now_ms=now)
        assert refused.value.code == code
    december = ms("2026-12-25T10:00:00+08:00")
    with pytest.raises(CommerceError) as across:
        check_invoice_correction(
            requested_ms=december, corrections=0, now_ms=ms("2027-01-02T10:00:00+08:00")
        )
    assert (across.value.code, across.value.message_zh) == (
        "invoice_year_closed",
        "发票不能跨年修改",
    )


def test_taxpayer_numbers_typed_with_a_chinese_input_method_are_made_ascii() -> None:
    assert normal_tax_id("９１５００１０３ma5u3k5r7b") == "91500103MA5U3K5R7B"
    assert normal_tax_id("9150 0103 MA5U 3K5R 7B") == "91500103MA5U3K5R7B"
    assert normal_tax_id("500103123456789") == "500103123456789"  # a 15-character older one
    for bad in ("9150010", "91500103MA5U3K5R7B-", "9150010３MA5U3K5R7*"):
        with pytest.raises(CommerceError) as refused:
            normal_tax_id(bad)
        assert refused.value.code == "tax_id"


def _zh(call: object) -> str:
    try:
        call()  # type: ignore[operator]
    except CommerceError as error:
        return error.message_zh
    raise AssertionError("no refusal")
