"""The notifier is chosen by a setting: the built-in log one, or a provider's
``module:factory`` (this module's ``Outbox`` stands for one); a bad name is refused."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pytest

from api.services.notify import LogNotifier, Notice, load_notifier
from api.settings import Settings, SettingsError

NOTICE = Notice(kind="activation", login="110101199003071241", name="李四", phone=None,
                link="https://edu.example.cn/activate#token", expires_ms=1)  # fmt: skip


class Outbox:
    """A provider's adapter as a plug-in would be: it keeps what it was given."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sent: list[Notice] = []

    def send(self, notices: Sequence[Notice]) -> None:
        self.sent.extend(notices)


def settings(tmp_path: Path, notifier: str) -> Settings:
    return Settings.from_env({"EXAMENGINE_VAR_DIR": str(tmp_path), "EXAMENGINE_NOTIFIER": notifier})


def test_the_default_writes_each_link_to_the_notices_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = load_notifier(settings(tmp_path, "log"))
    assert isinstance(notifier, LogNotifier)
    with caplog.at_level(logging.WARNING, logger="examengine.notices"):
        notifier.send([NOTICE])
    [record] = caplog.records
    assert record.name == "examengine.notices" and NOTICE.link in record.getMessage()


def test_a_provider_is_plugged_in_by_its_module_and_factory(tmp_path: Path) -> None:
    chosen = settings(tmp_path, "tests.unit.test_notify:Outbox")
    notifier = load_notifier(chosen)
    assert isinstance(notifier, Outbox) and notifier.settings is chosen
    notifier.send([NOTICE])
    assert notifier.sent == [NOTICE]


@pytest.mark.parametrize("spec", ["sms", "no.such.module:factory", "tests.unit.test_notify:nope"])
def test_a_notifier_that_cannot_be_loaded_is_refused_naming_the_setting(
    tmp_path: Path, spec: str
) -> None:
    with pytest.raises(SettingsError, match="EXAMENGINE_NOTIFIER"):
        load_notifier(settings(tmp_path, spec))
