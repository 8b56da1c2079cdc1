"""The errors of the account use cases and how their messages are worded:
``FieldProblem`` (what is wrong with one field or roster column, in English and in
Chinese), the ``AccountError`` family the HTTP shell maps to responses, the field labels
the messages use, and Beijing time, which the messages tell times in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime

from msgspec import Struct

from examengine.clock import BEIJING
from examengine.errors import EngineError

#: Times in messages are Beijing time, which is what learners read on their clocks.

#: Column labels used in messages, English and Chinese.
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "name": ("name", "姓名"),
    "resident_id": ("resident ID number", "身份证号"),
    "phone": ("mobile number", "手机号"),
    "gender": ("gender", "性别"),
    "remark": ("remark", "备注"),
    "employer": ("employer", "单位"),
    "credit_code": ("unified social credit code", "统一社会信用代码"),
    "region": ("region", "所在地区"),
    "district": ("district", "地区"),
    "password": ("password", "密码"),
    "new_password": ("new password", "新密码"),
    "roles": ("roles", "角色"),
    "code": ("activation code", "激活码"),
    "plan": ("plan", "学习计划"),
    "count": ("number of codes", "激活码数量"),
    "logins": ("ID numbers", "身份证号"),
}


class FieldProblem(Struct, frozen=True, kw_only=True):
    """What is wrong with one field (or roster column), in both languages."""

    field: str
    code: str
    message: str
    message_zh: str


class AccountError(EngineError):
    """Root of this module's errors."""

    code = "account_error"


class AccountInvalidError(AccountError):
    """Some fields are invalid; ``problems`` names each field and what is wrong."""

    code = "account_invalid"

    def __init__(
        self, problems: Sequence[FieldProblem],
        labels: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:  # fmt: skip
        """``labels``: a field's words where ``FIELD_LABELS``' would mislead (an
        employer's ``name`` is not a person's 姓名)."""
        self.problems = tuple(problems)
        en = "; ".join(_labelled(p, labels=labels) for p in problems)
        zh = "；".join(_labelled(p, zh=True, labels=labels) for p in problems)
        super().__init__(f"Please correct: {en}.", f"请更正：{zh}。")


class AccountExistsError(AccountError):
    """The resident ID or the phone number belongs to an account already."""

    code = "account_exists"

    def __init__(self, field: str) -> None:
        self.field = field
        if field == "resident_id":
            super().__init__(
                "An account with this resident ID number exists already: sign in, or "
                "reset the password if you have forgotten it.",
                "该身份证号已注册，请直接登录；如忘记密码，请找回密码。",
            )
        elif field == "phone":
            super().__init__(
                "This mobile number belongs to another account.",
                "该手机号已被其他账号使用。",
            )
        else:
            super().__init__(
                "Someone registered the same person at the same moment; please try again.",
                "同一人员正在被同时注册，请重试。",
            )


class EmployerExistsError(AccountExistsError):
    """An employer of this name (``field="name"``) or unified social credit code
    (``"credit_code"``) is registered already: a conflict, as an account that exists."""

    code = "employer_exists"

    def __init__(self, field: str, value: str) -> None:
        self.field = field
        if field == "credit_code":
            message = f"An employer with the unified social credit code {value} is registered."
            message_zh = f"统一社会信用代码为 {value} 的单位已登记。"
        else:
            message = f"An employer named {value!r} is registered already."
            message_zh = f"单位“{value}”已登记。"
        self.problems = (
            FieldProblem(field=field, code="employer_exists", message=message,
                         message_zh=message_zh),
        )  # fmt: skip
        AccountError.__init__(self, message, message_zh)  # not the account's wording


class AccountNotFoundError(AccountError):
    code = "account_not_found"

    def __init__(self, login: str) -> None:
        self.login = login
        super().__init__(f"There is no account {login!r}.", f"账号 {login!r} 不存在。")


class EmployerNotFoundError(AccountNotFoundError):
    """No employer of this name is registered (a 404, as an unknown account)."""

    code = "employer_not_found"

    def __init__(self, name: str) -> None:
        self.login = name
        AccountError.__init__(self, f"There is no employer {name!r}.", f"单位“{name}”未登记。")


class AccountRefusedError(AccountError):
    """The actor may not do this to that account (a 403)."""

    code = "account_refused"

    def __init__(self, message: str, message_zh: str, *, code: str | None = None) -> None:
        if code is not None:
            self.code = code
        super().__init__(message, message_zh)


class RosterUnreadableError(AccountError):
    """The roster as a whole cannot be read (format, encoding, missing columns)."""

    code = "roster_unreadable"


class AccountLockedError(AccountError):
    """Too many failed password checks: signing in to the account is paused until
    ``locked_until_ms`` from this address (or, ``everywhere``, from any address the
    account has not signed in from before)."""

    code = "account_locked"

    def __init__(self, *, locked_until_ms: int, now_ms: int, everywhere: bool = False) -> None:
        self.locked_until_ms = locked_until_ms
        self.retry_after_s = max(1, math.ceil((locked_until_ms - now_ms) / 1000))
        minutes = max(1, math.ceil(self.retry_after_s / 60))
        at = datetime.fromtimestamp(locked_until_ms / 1000, BEIJING).strftime("%H:%M")
        where, where_zh = (
            ("from a new device or network", "从新的设备或网络")
            if everywhere
            else ("from this device or network", "从当前设备或网络")
        )
        super().__init__(
            f"Too many wrong passwords: this account cannot sign in {where} until {at} "
            f"Beijing time. Try again in {minutes} minute(s), or ask your administrator to "
            "reset the password.",
            f"密码错误次数过多，北京时间 {at} 前无法{where_zh}登录此账号。请 {minutes} 分钟后"
            "再试，或联系单位管理员重置密码。",
        )


def _labelled(
    problem: FieldProblem, *, zh: bool = False, labels: Mapping[str, tuple[str, str]] | None = None
) -> str:
    words = (labels or {}).get(problem.field) or FIELD_LABELS.get(problem.field)
    en, chinese = words or (problem.field, problem.field)
    return f"{chinese}：{problem.message_zh}" if zh else f"{en}: {problem.message}"
