"""Time, passed in: the Clock protocol and a manual clock for tests; China's calendar.

The core never reads the clock; the shell reads it once per request or tick
(``api.clock.SystemClock``) and passes ``now`` (UTC milliseconds) to the rules. Tests
drive a ``ManualClock`` with tiny literal times (start at 100, deadline at 7_200_100 …).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Protocol

#: China's one time zone (UTC+8, no daylight saving): the calendar of study years,
#: invoices and order numbers, and the times people are shown.
BEIJING = timezone(timedelta(hours=8), "Beijing")


def year_of(at_ms: int) -> int:
    """The calendar year in China of a moment: 23:30 on 31 December in Beijing is that
    year's, whatever a server's clock zone says."""
    return datetime.fromtimestamp(at_ms / 1000, UTC).astimezone(BEIJING).year


class Clock(Protocol):
    def now_ms(self) -> int:
        """UTC milliseconds since the Unix epoch."""
        ...


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now = start_ms

    def now_ms(self) -> int:
        return self._now

    def advance(self, ms: int) -> int:
        """Move forward ``ms`` milliseconds; returns the new time."""
        if ms < 0:
            raise ValueError("a clock does not go back")
        self._now += ms
        return self._now

    def set(self, now_ms: int) -> None:
        if now_ms < self._now:
            raise ValueError("a clock does not go back")
        self._now = now_ms
