"""The itembank's errors: one root, structured fields, no HTTP status.

The API maps each class to a response in one place (api/errors.py); the CLI prints the
message. Messages come in English and Chinese.
"""

from __future__ import annotations

from collections.abc import Sequence

from itembank.problems import Problem


class ItembankError(Exception):
    """Root of this package's errors. ``code`` is stable and machine-readable."""

    code = "itembank_error"

    def __init__(self, message: str, message_zh: str) -> None:
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh


class BankNotFoundError(ItembankError):
    code = "bank_not_found"

    def __init__(self, bank: str, version: int | None = None) -> None:
        self.bank = bank
        self.version = version
        if version is None:
            super().__init__(f"there is no bank {bank!r}", f"题库 {bank!r} 不存在")
        else:
            super().__init__(
                f"bank {bank!r} has no version {version}", f"题库 {bank!r} 没有第 {version} 版"
            )


class ItemNotFoundError(ItembankError):
    code = "item_not_found"

    def __init__(self, bank: str, key: str) -> None:
        self.bank = bank
        self.key = key
        super().__init__(
            f"bank {bank!r} has no item {key!r}", f"题库 {bank!r} 中没有编号为 {key!r} 的试题"
        )


class ImportRefusedError(ItembankError):
    """The file has errors; nothing of it was stored (imports are all-or-nothing)."""

    code = "import_refused"

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        errors = sum(1 for p in problems if p.severity == "error")
        super().__init__(
            f"{source}: {errors} error(s); nothing was imported",
            f"{source}：发现 {errors} 个错误，未导入任何试题",
        )


class VersionPublishedError(ItembankError):
    """A published version never changes; edits go to a new version."""

    code = "version_published"

    def __init__(self, bank: str, version: int) -> None:
        self.bank = bank
        self.version = version
        super().__init__(
            f"version {version} of bank {bank!r} is published and cannot change; "
            "edit to create a new version",
            f"题库 {bank!r} 第 {version} 版已发布，不能修改；编辑将生成新版本",
        )


class InvalidItemError(ItembankError):
    """An item sent for editing has errors (the lint's problems)."""

    code = "invalid_item"

    def __init__(self, key: str, problems: Sequence[Problem]) -> None:
        self.key = key
        self.problems = tuple(problems)
        super().__init__(f"item {key!r} has errors", f"试题 {key!r} 存在错误")
