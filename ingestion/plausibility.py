"""When a timestamp can be true for a brand's data: not before the data epoch, not after the
delivery date plus a small tolerance.  A value outside is valid by type but absurd (a
last_seen_at of 9999-12-31, a first_seen_at of 1899) and is quarantined by the loader as
``implausible_timestamp`` / ``implausible_date`` rather than reaching the marts.

Settings: ``TOUCHPOINT_DATA_EPOCH`` (YYYY-MM-DD, default 2000-01-01) and
``TOUCHPOINT_FUTURE_TOLERANCE_DAYS`` (default 2: clock skew and time zones ahead of UTC).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta

DEFAULT_EPOCH = date(2000, 1, 1)
DEFAULT_FUTURE_TOLERANCE_DAYS = 2


@dataclass(frozen=True)
class Window:
    """Inclusive range of calendar dates a timestamp's date part (as written) may take."""
    first: date
    last: date

    def detail(self, day: str) -> str:
        """``before <first>`` or ``after <last>`` for a date (ISO text) outside the window; the
        direction lets the source checks count rows dated in the future, loaded or not."""
        if day < self.first.isoformat():
            return f"before {self.first.isoformat()}"
        return f"after {self.last.isoformat()}"


def data_epoch() -> date:
    value = os.environ.get("TOUCHPOINT_DATA_EPOCH")
    if not value:
        return DEFAULT_EPOCH
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SystemExit(f"TOUCHPOINT_DATA_EPOCH must be YYYY-MM-DD, got {value!r}") from None


def future_tolerance_days() -> int:
    value = os.environ.get("TOUCHPOINT_FUTURE_TOLERANCE_DAYS")
    if not value:
        return DEFAULT_FUTURE_TOLERANCE_DAYS
    try:
        days = int(value)
    except ValueError:
        days = -1
    if days < 0:
        raise SystemExit(f"TOUCHPOINT_FUTURE_TOLERANCE_DAYS must be a whole number of days >= 0, got {value!r}")
    return days


def window_for(delivery_date: date) -> Window:
    """The plausible dates for a delivery of ``delivery_date``."""
    return Window(data_epoch(), delivery_date + timedelta(days=future_tolerance_days()))
