"""Time helpers.  Simulation time is integer epoch seconds (UTC); output is KST (+09:00).

Never reads the wall clock: everything derives from the --start date.
"""
from __future__ import annotations

import calendar
import datetime as dt
import time

KST_OFFSET = 9 * 3600
DAY = 86400


def midnight_kst_epoch(day: dt.date) -> int:
    """Epoch seconds of 00:00 Asia/Seoul on ``day`` (Korea has no DST)."""
    return calendar.timegm(day.timetuple()) - KST_OFFSET


def kst_iso(epoch: int) -> str:
    t = time.gmtime(epoch + KST_OFFSET)
    return "%04d-%02d-%02dT%02d:%02d:%02d+09:00" % (t[0], t[1], t[2], t[3], t[4], t[5])


def kst_naive(epoch: int) -> str:
    t = time.gmtime(epoch + KST_OFFSET)
    return "%04d-%02d-%02d %02d:%02d:%02d" % (t[0], t[1], t[2], t[3], t[4], t[5])


def kst_date(epoch: int) -> str:
    t = time.gmtime(epoch + KST_OFFSET)
    return "%04d-%02d-%02d" % (t[0], t[1], t[2])
