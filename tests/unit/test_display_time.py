"""One display time zone for every page (docs/decisions/0036): the setting is checked at
start, and times carry the zone's label in both languages."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.settings import Settings, SettingsError
from api.web.common import fmt_ms, fmt_time, tz_label

#: 2026-12-07 01:00 UTC and 2026-07-01 01:00 UTC.
WINTER = int(datetime(2026, 12, 7, 1, 0, tzinfo=UTC).timestamp() * 1000)
SUMMER = int(datetime(2026, 7, 1, 1, 0, tzinfo=UTC).timestamp() * 1000)


def test_the_default_zone_is_beijing_time_labelled_in_both_languages(tmp_path: Path) -> None:
    assert Settings.from_env({"EXAMENGINE_VAR_DIR": str(tmp_path)}).display_timezone == (
        "Asia/Shanghai"
    )
    assert fmt_ms(WINTER) == "2026-12-07 09:00"
    assert fmt_time(WINTER, "zh") == "2026-12-07 09:00（北京时间）"
    assert fmt_time(WINTER, "en") == "2026-12-07 09:00 (China Standard Time, UTC+8)"
    assert fmt_ms(WINTER, seconds=True) == "2026-12-07 09:00:00"
    assert fmt_ms(None) == fmt_time(None, "en") == ""


def test_another_zone_shows_its_own_offset_at_that_moment() -> None:
    assert fmt_time(WINTER, "en", "Europe/Berlin") == "2026-12-07 02:00 (Berlin time, UTC+1)"
    assert fmt_time(SUMMER, "en", "Europe/Berlin") == "2026-07-01 03:00 (Berlin time, UTC+2)"
    assert fmt_time(SUMMER, "zh", "Europe/Berlin") == "2026-07-01 03:00（柏林时间，UTC+2）"
    assert tz_label("en", "UTC") == "UTC" and tz_label("zh", "UTC") == "协调世界时"
    # A zone without a common name: its IANA name and offset.
    assert tz_label("en", "Asia/Kolkata", WINTER) == "Asia/Kolkata, UTC+5:30"
    assert tz_label("zh", "America/Sao_Paulo", WINTER) == "America/Sao_Paulo，UTC-3"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Beijing", "UTC+8", "../../etc/passwd"])
def test_an_unknown_zone_stops_the_start_naming_the_variable(zone: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"EXAMENGINE_DISPLAY_TIMEZONE=.*not a known IANA"):
        Settings.from_env(
            {"EXAMENGINE_DISPLAY_TIMEZONE": zone, "EXAMENGINE_VAR_DIR": str(tmp_path)}
        )


def test_a_known_zone_is_taken(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"EXAMENGINE_DISPLAY_TIMEZONE": "Europe/Berlin", "EXAMENGINE_VAR_DIR": str(tmp_path)}
    )
    assert settings.display_timezone == "Europe/Berlin"
