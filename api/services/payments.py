"""How orders are paid: a payment provider interface, and the one built-in provider,
``offline_transfer`` — the buyer transfers the amount to the platform's bank account with
the order number as the remark, and an operator confirms it against the bank statement
(docs/decisions/0026).

An online provider (Alipay, WeChat Pay, UnionPay …) is a ``PaymentProvider`` named in
``EXAMENGINE_PAYMENT_PROVIDERS=module:factory,…``: the factory takes the settings and
returns the provider. Its ``notice`` reads the provider's server-to-server callback and
verifies it with the provider's own signature scheme; the callback route
(``POST /api/payments/{provider}/callback``) books what it returns, once however often
the provider repeats it. None is built in: a provider this project cannot test against
the real service would be a fake.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol

from msgspec import Struct

from api.settings import Settings, plug_in
from examengine.commerce import CommerceError, yuan

OFFLINE = "offline_transfer"


class PayInstructions(Struct, frozen=True, kw_only=True):
    """What the buyer is told to do to pay an order."""

    provider: str
    title: str
    title_zh: str
    #: The steps, as lines to show.
    lines: tuple[str, ...]
    lines_zh: tuple[str, ...]
    #: Where to go to pay online (None: nothing to open, e.g. a bank transfer).
    url: str | None = None


class PaymentNotice(Struct, frozen=True, kw_only=True):
    """What a provider says happened: money in (``payment``) or back (``refund``) for an
    order, under the provider's own unique reference."""

    order: str
    reference: str
    amount_fen: int
    kind: Literal["payment", "refund"] = "payment"


class PaymentProvider(Protocol):
    name: str
    title: str
    title_zh: str

    def instructions(self, *, order: str, amount_fen: int) -> PayInstructions:
        """How to pay ``order`` (its number) of ``amount_fen``."""
        ...

    def notice(self, body: bytes, headers: Mapping[str, str]) -> PaymentNotice:
        """The payment a callback reports, its signature verified; ``CommerceError``
        (``callback_refused``) when it is not genuine or cannot be read."""
        ...


class OfflineTransfer:
    """A bank transfer (对公转账) confirmed by an operator: no callback."""

    name = OFFLINE
    title, title_zh = "Bank transfer", "银行转账"

    def __init__(self, settings: Settings) -> None:
        self.payee = settings.payments.transfer_payee
        self.bank = settings.payments.transfer_bank
        self.account = settings.payments.transfer_account

    def instructions(self, *, order: str, amount_fen: int) -> PayInstructions:
        account = (
            [f"Payee: {self.payee}", f"Bank: {self.bank}", f"Account: {self.account}"]
            if self.account else ["The platform's bank account is on the operator's notice."]
        )  # fmt: skip
        account_zh = (
            [f"户名：{self.payee}", f"开户行：{self.bank}", f"账号：{self.account}"]
            if self.account else ["收款账户见平台通知。"]
        )  # fmt: skip
        return PayInstructions(
            provider=self.name, title=self.title, title_zh=self.title_zh,
            lines=(f"Transfer {yuan(amount_fen)} yuan", *account,
                   f"Write the order number {order} as the transfer's remark.",
                   "The order is paid once an operator has matched the transfer."),
            lines_zh=(f"转账 {yuan(amount_fen)} 元", *account_zh,
                      f"请在转账附言中填写订单号 {order}。",
                      "平台核对到账后，订单即为已支付。"),
        )  # fmt: skip

    def notice(self, body: bytes, headers: Mapping[str, str]) -> PaymentNotice:
        raise CommerceError(
            "callback_refused",
            "bank transfers are confirmed by an operator, not by a callback",
            "银行转账由平台工作人员确认到账，不接受回调",
        )


class Providers:
    """The providers this server offers, by name: ``offline_transfer`` first."""

    def __init__(self, providers: Mapping[str, PaymentProvider]) -> None:
        self.by_name = dict(providers)

    def get(self, name: str) -> PaymentProvider:
        provider = self.by_name.get(name)
        if provider is None:
            offered = ", ".join(self.by_name)
            raise CommerceError(
                "provider_unknown",
                f"there is no payment provider {name!r} (offered: {offered})",
                f"没有名为 {name!r} 的支付方式（可用：{offered}）",
            )
        return provider

    def names(self) -> tuple[str, ...]:
        return tuple(self.by_name)


def load_providers(settings: Settings) -> Providers:
    """The built-in bank transfer and the online providers the settings name."""
    loaded: dict[str, PaymentProvider] = {OFFLINE: OfflineTransfer(settings)}
    for spec in settings.payments.providers:
        provider: PaymentProvider = plug_in(spec, "EXAMENGINE_PAYMENT_PROVIDERS")(settings)
        loaded[provider.name] = provider
    return Providers(loaded)
