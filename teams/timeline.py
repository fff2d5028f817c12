"""The timeline's geometry: pure functions, no database, no clock.

A window is a stretch of local days in the team's zone (four weeks from a Monday, or a calendar month); a
segment of the merged schedule becomes a bar at left%/width% of it, measured in real time, so a day with a
daylight-saving change is an hour longer or shorter on the page, as it is on the phone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from teams import rota

WEEKS = 4


@dataclass(frozen=True)
class Window:
    """[start, end) as instants; first_day/days: the local days it spans; month set for a month view."""

    start: dt.datetime
    end: dt.datetime
    first_day: dt.date
    days: int
    month: dt.date | None = None


@dataclass(frozen=True)
class Bar:
    segment: rota.Segment
    left: float
    width: float


def window_of_days(first_day: dt.date, days: int, tz: ZoneInfo, *, month: dt.date | None = None) -> Window:
    return Window(*rota.local_days(first_day, days, tz), first_day, days, month)


def week_window(day: dt.date, tz: ZoneInfo, *, weeks: int = WEEKS) -> Window:
    """`weeks` weeks from local midnight of the Monday of `day`'s week."""
    monday = day - dt.timedelta(days=day.weekday())
    return window_of_days(monday, 7 * weeks, tz)


def month_window(year: int, month: int, tz: ZoneInfo) -> Window:
    """From local midnight of the 1st to local midnight of the 1st of the next month."""
    first = dt.date(year, month, 1)
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return window_of_days(first, (following - first).days, tz, month=first)


def position(instant: dt.datetime, start: dt.datetime, end: dt.datetime) -> float | None:
    """Where `instant` falls in [start, end), in percent; None outside."""
    if not start <= instant < end:
        return None
    return 100 * (instant - start) / (end - start)


def bars(segments: Iterable[rota.Segment], start: dt.datetime, end: dt.datetime) -> list[Bar]:
    """The segments clipped to [start, end) as bars: left and width in percent of the window."""
    total = end - start
    placed = []
    for segment in segments:
        seg_start, seg_end = max(segment.start, start), min(segment.end, end)
        if seg_start >= seg_end:
            continue
        placed.append(Bar(segment, 100 * (seg_start - start) / total, 100 * (seg_end - seg_start) / total))
    return placed


def day_marks(window: Window, tz: ZoneInfo) -> list[tuple[dt.date, float]]:
    """Each local day of the window and where its midnight falls, in percent."""
    marks = []
    for n in range(window.days):
        day = window.first_day + dt.timedelta(days=n)
        at = position(rota.local_days(day, 1, tz)[0], window.start, window.end)
        marks.append((day, at if at is not None else 0.0))
    return marks


PALETTE = (
    "#8ecae6",
    "#ffb703",
    "#90be6d",
    "#cdb4db",
    "#f4a261",
    "#80cbc4",
    "#e9c46a",
    "#a3c4f3",
    "#f6bd60",
    "#b5e48c",
)


def colours(member_ids: Iterable[int]) -> dict[int, str]:
    """A light colour per person on the page (distinct for up to ten people; dark text reads on each)."""
    return {member_id: PALETTE[n % len(PALETTE)] for n, member_id in enumerate(sorted(set(member_ids)))}
