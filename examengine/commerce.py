"""The rules of buying a plan, no I/O: what one person's place on a plan costs, how an
order may move (pending → paid → refunded, or pending → cancelled), what a payment must
match, and the invoice rules of the source platforms (docs/decisions/0026):

- an invoice is asked for at payment or later, in the calendar year of the payment only
  ("不能跨年补开发票，请在缴费当年申请发票");
- it may be corrected once, within 15 days of the request, and not across the year
  ("申请开票成功15日内可修改发票1次，跨年不可修改").

Money is integer fen (分) throughout; a price per credit hour is rounded half up to the
fen once, for one person's place, so an order's amount is its lines' sum exactly.
Years are China's calendar (UTC+8): a payment at 23:30 on 31 December in Beijing is that
year's, whatever a server's clock zone says.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from examengine.clock import BEIJING, year_of
from examengine.errors import EngineError

#: The most a place on one plan may cost (¥100,000), a guard against a typo in a price.
MAX_PRICE_FEN = 10_000_000
#: Days after the request in which an invoice may be corrected, and how many times.
INVOICE_CORRECTION_DAYS, INVOICE_CORRECTIONS = 15, 1
_DAY_MS = 86_400_000


class PriceBasis(StrEnum):
    #: One price for one person's place on the plan (e.g. 33 yuan a year).
    PERSON = "person"
    #: A price per credit hour of the plan (e.g. 1.5 yuan an hour of a 90-hour plan).
    HOUR = "hour"


class OrderState(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


#: Where an order may go from each state (closed states go nowhere).
_MOVES: dict[OrderState, frozenset[OrderState]] = {
    OrderState.PENDING: frozenset({OrderState.PAID, OrderState.CANCELLED}),
    OrderState.PAID: frozenset({OrderState.REFUNDED}),
    OrderState.CANCELLED: frozenset(),
    OrderState.REFUNDED: frozenset(),
}
#: Whether an order in this state holds its learners' places (no second order for them).
HOLDS_PLACES = frozenset({OrderState.PENDING, OrderState.PAID})

_STATE_ZH = {"pending": "待支付", "paid": "已支付", "cancelled": "已取消", "refunded": "已退款"}


class CommerceError(EngineError):
    """A purchase rule refused something; ``code`` says which rule."""

    code = "commerce_error"

    def __init__(self, code: str, message: str, message_zh: str) -> None:
        super().__init__(message, message_zh)
        self.code = code


def yuan(fen: int) -> str:
    """``1234`` → ``"12.34"``: fen as yuan, for people to read."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def unit_fen(price_fen: int, basis: PriceBasis | str, hours: float) -> int:
    """What one person's place costs: ``price_fen`` per person, or per credit hour of a
    plan of ``hours`` (rounded half up to the fen)."""
    if not 0 <= price_fen <= MAX_PRICE_FEN:
        raise ValueError(f"price {price_fen} fen is outside 0…{MAX_PRICE_FEN}")
    if PriceBasis(basis) is PriceBasis.PERSON:
        return price_fen
    exact = Decimal(price_fen) * Decimal(str(hours))
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def move(state: OrderState | str, to: OrderState) -> OrderState:
    """``to``, if an order in ``state`` may go there; else ``CommerceError('order_state')``
    saying where it stands."""
    now = OrderState(state)
    if to not in _MOVES[now]:
        raise CommerceError(
            "order_state",
            f"the order is {now.value} and cannot become {to.value}",
            f"订单当前为“{_STATE_ZH[now.value]}”，不能变为“{_STATE_ZH[to.value]}”",
        )
    return to


def check_amount(due_fen: int, paid_fen: int) -> None:
    """A payment settles an order only for its whole amount (a bank transfer short or
    over is sorted out by people, not booked)."""
    if paid_fen != due_fen:
        raise CommerceError(
            "amount_mismatch",
            f"the payment is {yuan(paid_fen)} yuan but the order is {yuan(due_fen)} yuan",
            f"付款金额 {yuan(paid_fen)} 元与订单金额 {yuan(due_fen)} 元不符",
        )


def order_number(created_ms: int, serial: int) -> str:
    """``20261207`` + the order's serial in 8 digits: sorts by day, quoted on the phone,
    written in a bank transfer's remark."""
    day = datetime.fromtimestamp(created_ms / 1000, UTC).astimezone(BEIJING)
    return f"{day:%Y%m%d}{serial:08d}"


def check_invoice_request(*, paid_ms: int | None, now_ms: int) -> None:
    """An invoice may be asked for with the order (it waits for the payment) or after,
    in the payment's year."""
    if paid_ms is not None and year_of(now_ms) != year_of(paid_ms):
        raise CommerceError(
            "invoice_year_closed",
            f"invoices for payments of {year_of(paid_ms)} could only be asked for in that year",
            f"{year_of(paid_ms)} 年的缴费只能在当年申请发票，不能跨年补开",
        )


def check_invoice_correction(*, requested_ms: int, corrections: int, now_ms: int) -> None:
    """One correction, within ``INVOICE_CORRECTION_DAYS`` days of the request, in the
    year of the request."""
    if corrections >= INVOICE_CORRECTIONS:
        raise CommerceError(
            "invoice_corrected_already",
            "this invoice has been corrected once already; it cannot be changed again",
            "该发票已修改过一次，不能再次修改",
        )
    if now_ms - requested_ms > INVOICE_CORRECTION_DAYS * _DAY_MS:
        raise CommerceError(
            "invoice_correction_late",
            f"an invoice may be corrected within {INVOICE_CORRECTION_DAYS} days of the request",
            f"发票只能在申请后 {INVOICE_CORRECTION_DAYS} 日内修改",
        )
    if year_of(now_ms) != year_of(requested_ms):
        raise CommerceError(
            "invoice_year_closed",
            "an invoice cannot be corrected in a later year",
            "发票不能跨年修改",
        )


#: A taxpayer number: the 18-character unified social credit code, or the older 15-,
#: 17- or 20-character numbers still on some invoices.
_TAX_ID = re.compile(r"^[0-9A-Z]{15}$|^[0-9A-Z]{17,18}$|^[0-9A-Z]{20}$")


def normal_tax_id(value: str) -> str:
    """A taxpayer number as the tax system wants it: full-width and lower case typed by
    a Chinese input method made ASCII upper case, spaces dropped; else
    ``CommerceError('tax_id')``."""
    text = unicodedata.normalize("NFKC", value).replace(" ", "").upper()
    if not _TAX_ID.match(text):
        raise CommerceError(
            "tax_id",
            "a taxpayer number is 15, 17, 18 or 20 letters and digits "
            "(the unified social credit code has 18)",
            "纳税人识别号应为 15、17、18 或 20 位字母和数字（统一社会信用代码为 18 位）",
        )
    return text
