"""The rota engine: pure functions over times and plain data. No database, no clock.

Hand-offs happen at start + n × length in the team's local wall-clock time, so a 09:00 Monday hand-off
stays at 09:00 across daylight saving. A wall time that does not exist (spring forward) moves forward to
the first valid instant; an ambiguous one (fall back) takes the first occurrence.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.utils import dates  # the day and month names, translated (no database, no clock)
from django.utils.text import capfirst

UTC = dt.UTC
SHIFT = "shift"
OVERRIDE = "override"
# Why a gap is a gap, when it is not simply that nobody is planned.
TIME_OFF = "time_off"


# The years a rota date may fall in: wide enough for any plan, narrow enough that the arithmetic (and the
# database's date types) never overflow.
MIN_YEAR, MAX_YEAR = 1970, 2999


def year_problem(year: int, *, what: str) -> str | None:
    """Why `year` is refused for `what` ("a start"), or None."""
    if MIN_YEAR <= year <= MAX_YEAR:
        return None
    return f"Give {what} between the years {MIN_YEAR} and {MAX_YEAR}."


@dataclass(frozen=True)
class PlannedShift:
    """A shift a rotation calls for: the n-th hand-off to the next one."""

    sequence: int
    member_id: int
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True)
class Assignment:
    """A stored shift or override: who covers a role from start to end."""

    member_id: int
    start: dt.datetime
    end: dt.datetime
    source: str = SHIFT
    ref_id: int | None = None


@dataclass(frozen=True)
class Segment:
    """A piece of the final schedule: member_id is None in a gap.

    A gap left by a shift whose person is away has reason TIME_OFF, absent_member_id that person and
    ref_id the time off behind it.
    """

    member_id: int | None
    start: dt.datetime
    end: dt.datetime
    source: str | None
    ref_id: int | None = None
    reason: str | None = None
    absent_member_id: int | None = None


def subtract(
    start: dt.datetime, end: dt.datetime, intervals: Iterable[tuple[dt.datetime, dt.datetime]]
) -> list[tuple[dt.datetime, dt.datetime]]:
    """[start, end) minus the intervals (in any order, overlapping or not): the non-empty pieces, in order."""
    pieces = []
    for cut_start, cut_end in sorted(intervals):
        if cut_end <= start or cut_start >= end or cut_end <= cut_start:
            continue
        if start < cut_start:
            pieces.append((start, cut_start))
        start = max(start, cut_end)
    if start < end:
        pieces.append((start, end))
    return pieces


def localize(wall: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The UTC instant of a naive local wall time in `tz`.

    Ambiguous times take the first occurrence (fold=0). A time inside a spring-forward gap moves forward to
    the first valid instant, the moment the clocks jump.
    """
    if wall.tzinfo is not None:
        raise ValueError("localize() takes a naive wall-clock time")
    first = wall.replace(tzinfo=tz, fold=0)
    as_utc = first.astimezone(UTC)
    if as_utc.astimezone(tz).replace(tzinfo=None) == wall:
        return as_utc
    # Nonexistent: fold=0 applies the offset from before the jump (later instant), fold=1 the one after
    # (earlier instant). The jump lies between; find it to the second.
    low = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = as_utc
    if low > high:
        low, high = high, low
    offset_after = high.astimezone(tz).utcoffset()
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == offset_after:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def to_local_wall(instant: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def wall_time_kind(wall: dt.datetime, tz: ZoneInfo) -> str | None:
    """ "nonexistent" for a naive wall time skipped by a spring-forward jump, "ambiguous" for one that a
    fall-back repeats, None for an ordinary one (`localize` says what each becomes)."""
    first, second = wall.replace(tzinfo=tz, fold=0), wall.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return None
    if to_local_wall(first.astimezone(UTC), tz) == wall == to_local_wall(second.astimezone(UTC), tz):
        return "ambiguous"
    return "nonexistent"


def local_days(first_day: dt.date, days: int, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The instants from local midnight of `first_day` to local midnight `days` days later (a day may be 23
    or 25 hours long)."""
    start = localize(dt.datetime.combine(first_day, dt.time()), tz)
    end = localize(dt.datetime.combine(first_day + dt.timedelta(days=days), dt.time()), tz)
    return start, end


def format_local(instant: dt.datetime, tz: ZoneInfo, *, year: bool = True, zone: bool = True) -> str:
    """An instant as a person in `tz` reads it: "Mon 7 Dec 2026 09:00 CET (Europe/Berlin)"; without the year
    and the zone for short texts ("Mon 7 Dec 09:00")."""
    local = instant.astimezone(tz)
    text = format_wall(local, year=year)
    return f"{text} {local.tzname()} ({tz.key})" if zone else text


def format_wall(wall: dt.datetime, *, year: bool = True) -> str:
    """A wall-clock time as it reads, whatever its zone: "Mon 7 Dec 2026 09:00" ("Mon 7 Dec 09:00"), the day
    and month named in the active language (Django's own names: "Seg 7 Dez 2026 09:00" in Portuguese)."""
    named = f"{capfirst(dates.WEEKDAYS_ABBR[wall.weekday()])} {wall.day} {capfirst(dates.MONTHS_3[wall.month])}"
    return named + (f" {wall.year}" if year else "") + f" {wall:%H:%M}"


# Shift lengths are ISO-8601 durations wherever a person or a program reads or types one (API and admin).
_DURATION = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_CALENDAR_UNITS = re.compile(r"^P(?:\d+Y)|^P(?:\d+Y)?\d+M")


def parse_duration(text: str) -> dt.timedelta:
    """An ISO-8601 duration of weeks, days, hours, minutes, seconds (P7D, PT12H, P1DT6H). ValueError if bad."""
    text = (text or "").strip().upper()
    if _CALENDAR_UNITS.match(text):
        raise ValueError("Months and years have no fixed length: give days instead, e.g. P28D.")
    match = _DURATION.match(text)
    if not match or text.endswith("T"):
        raise ValueError(f"'{text}' is not an ISO-8601 duration such as P7D, P1D or PT12H.")
    parts = {name: int(value) for name, value in match.groupdict().items() if value}
    try:
        return dt.timedelta(**parts)
    except OverflowError as exc:
        raise ValueError("This duration is far too long.") from exc


def format_duration(value: dt.timedelta) -> str:
    """The ISO-8601 form of a duration, in days and time: P7D, PT12H, P1DT6H30M."""
    days, seconds = value.days, value.seconds
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = "P" + (f"{days}D" if days else "")
    clock = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + (f"{seconds}S" if seconds else "")
    if clock:
        text += "T" + clock
    return text if text != "P" else "PT0S"


def handoff(start_local: dt.datetime, length: dt.timedelta, n: int, tz: ZoneInfo) -> dt.datetime:
    """The n-th hand-off instant (UTC)."""
    return localize(start_local + n * length, tz)


def first_index_at_or_before(start_local: dt.datetime, length: dt.timedelta, tz: ZoneInfo, instant: dt.datetime) -> int:
    """The largest n >= 0 whose hand-off is at or before `instant` (0 if the rotation starts later)."""
    wall = to_local_wall(instant, tz)
    # Wall-clock and real time differ by at most a day's worth of offset change; step back enough
    # hand-offs to be safe, then walk forward.
    slack = math.ceil(dt.timedelta(hours=26) / length) + 1
    n = max(0, math.floor((wall - start_local) / length) - slack)
    while handoff(start_local, length, n + 1, tz) <= instant:
        n += 1
    return n


def generate(
    *,
    start_local: dt.datetime,
    length: dt.timedelta,
    member_ids: Sequence[int],
    tz: ZoneInfo,
    window_start: dt.datetime,
    window_end: dt.datetime,
) -> list[PlannedShift]:
    """Shifts of a rotation that overlap [window_start, window_end), in order.

    The member of shift n is member_ids[n % len(member_ids)], so nobody is skipped or doubled at a year's
    end. A shift swallowed whole by a spring-forward gap (zero length) is left out.
    """
    if not member_ids:
        return []
    if length <= dt.timedelta(0):
        raise ValueError("shift length must be positive")
    shifts = []
    n = first_index_at_or_before(start_local, length, tz, window_start)
    start = handoff(start_local, length, n, tz)
    while start < window_end:
        end = handoff(start_local, length, n + 1, tz)
        if end > window_start and end > start:
            shifts.append(PlannedShift(n, member_ids[n % len(member_ids)], start, end))
        n += 1
        start = end
    return shifts


def _covering(
    items: Sequence[Assignment], starts: Sequence[dt.datetime], reach: Sequence[dt.datetime], at: dt.datetime
) -> Assignment | None:
    """The item covering `at` with the latest start (items sorted by start, reach from _reach)."""
    i = bisect.bisect_right(starts, at) - 1
    # Items do not overlap (validated), but stay right if they do: look back while an earlier item can
    # still reach `at` (a long row may hide behind short ones that ended).
    while i >= 0 and reach[i] > at:
        if items[i].end > at:
            return items[i]
        i -= 1
    return None


def _reach(items: Sequence[Assignment]) -> list[dt.datetime]:
    """reach[i]: the latest end among items[0..i]."""
    reach: list[dt.datetime] = []
    for item in items:
        reach.append(max(reach[-1], item.end) if reach else item.end)
    return reach


def _latest_covering(items: Iterable[Assignment], at: dt.datetime) -> Assignment | None:
    covering = [item for item in items if item.start <= at < item.end]
    return max(covering, key=lambda item: item.start) if covering else None


def _away(time_off: Iterable[Assignment], member_id: int, at: dt.datetime) -> Assignment | None:
    """The time off of `member_id` covering `at`, if any."""
    for item in time_off:
        if item.member_id == member_id and item.start <= at < item.end:
            return item
    return None


def oncall_at(
    shifts: Iterable[Assignment],
    overrides: Iterable[Assignment],
    at: dt.datetime,
    time_off: Sequence[Assignment] = (),
) -> Assignment | None:
    """The override covering `at`, else the shift covering it unless its person is away, else None."""
    override = _latest_covering(overrides, at)
    if override is not None:
        return override
    shift = _latest_covering(shifts, at)
    if shift is not None and _away(time_off, shift.member_id, at) is None:
        return shift
    return None


def shift_absence_at(
    shifts: Iterable[Assignment], at: dt.datetime, time_off: Sequence[Assignment]
) -> Assignment | None:
    """The time off of the person whose shift covers `at`, if they are away then. It leaves the role
    uncovered when no override covers `at` either (oncall_at is None)."""
    shift = _latest_covering(shifts, at)
    return _away(time_off, shift.member_id, at) if shift is not None else None


def schedule(
    shifts: Iterable[Assignment],
    overrides: Iterable[Assignment],
    window_start: dt.datetime,
    window_end: dt.datetime,
    time_off: Iterable[Assignment] = (),
) -> list[Segment]:
    """The final schedule of one role over the window: contiguous segments, gaps included.

    Overrides beat shifts. A shift's person on time off leaves a gap (reason TIME_OFF) unless an override
    covers it. Adjacent pieces with the same member, source and reason are merged.
    """
    if window_end <= window_start:
        return []
    away = [item for item in time_off if item.end > window_start and item.start < window_end]
    layers = []
    points = {window_start, window_end}
    points.update(p for item in away for p in (item.start, item.end) if window_start < p < window_end)
    for items in (overrides, shifts):
        kept = sorted(
            (item for item in items if item.end > window_start and item.start < window_end),
            key=lambda item: (item.start, item.end),
        )
        layers.append((kept, [item.start for item in kept], _reach(kept)))
        for item in kept:
            points.update(p for p in (item.start, item.end) if window_start < p < window_end)
    bounds = sorted(points)
    segments: list[Segment] = []
    for start, end in zip(bounds, bounds[1:], strict=False):
        chosen = None
        for items, starts, reach in layers:
            chosen = _covering(items, starts, reach, start)
            if chosen is not None:
                break
        absence = _away(away, chosen.member_id, start) if chosen and chosen.source == SHIFT else None
        if absence is not None:
            piece = Segment(None, start, end, None, absence.ref_id, TIME_OFF, absence.member_id)
        elif chosen is not None:
            piece = Segment(chosen.member_id, start, end, chosen.source, chosen.ref_id)
        else:
            piece = Segment(None, start, end, None)
        last = segments[-1] if segments else None
        same = last is not None and (last.member_id, last.source, last.reason, last.absent_member_id) == (
            piece.member_id,
            piece.source,
            piece.reason,
            piece.absent_member_id,
        )
        if same and last.ref_id == piece.ref_id:
            segments[-1] = Segment(**{**piece.__dict__, "start": last.start})
        elif same and (piece.source == SHIFT or piece.member_id is None):
            # Back-to-back shifts of one person read as one stretch on call.
            segments[-1] = Segment(**{**piece.__dict__, "start": last.start, "ref_id": last.ref_id})
        else:
            segments.append(piece)
    return segments


def gaps(segments: Iterable[Segment]) -> list[Segment]:
    """The segments in which nobody is on call."""
    return [segment for segment in segments if segment.member_id is None]


def segment_at(segments: Sequence[Segment], at: dt.datetime) -> Segment | None:
    for segment in segments:
        if segment.start <= at < segment.end:
            return segment
    return None


def _stretch(segments: Sequence[Segment], i: int, *, backward: bool = True) -> Segment:
    """segments[i] widened over the neighbours in which the same person stays on call without a break."""
    segment = segments[i]
    low = high = i
    if backward:
        while (
            low > 0
            and segments[low - 1].member_id == segment.member_id
            and segments[low - 1].end == segments[low].start
        ):
            low -= 1
    while (
        high + 1 < len(segments)
        and segments[high + 1].member_id == segment.member_id
        and segments[high].end == segments[high + 1].start
    ):
        high += 1
    return Segment(segment.member_id, segments[low].start, segments[high].end, segment.source, segment.ref_id)


def stretch_at(segments: Sequence[Segment], at: dt.datetime) -> Segment | None:
    """The person on call at `at` and the whole stretch they are on call without a break.

    Back-to-back shifts, or a shift and an override of the same person, read as one stretch: start is when
    they took over, end when they hand over (both bounded by the segments given). Source and ref_id are
    those of the piece covering `at`. None when nobody is on call at `at`.
    """
    for i, segment in enumerate(segments):
        if segment.start <= at < segment.end:
            return _stretch(segments, i) if segment.member_id is not None else None
    return None


def next_person(segments: Sequence[Segment], at: dt.datetime) -> Segment | None:
    """Who takes over after the stretch on call at `at`: the first person on call after it ends.

    That is someone else, or the same person again after a gap. The result spans their whole stretch
    (from its start, forward). None when nobody is planned in the segments.
    """
    current = stretch_at(segments, at)
    after = current.end if current is not None else at
    for i, segment in enumerate(segments):
        if segment.member_id is None or segment.start < after or (current is None and segment.start <= at):
            continue
        return _stretch(segments, i, backward=False)
    return None


@dataclass(frozen=True)
class Handoff:
    at: dt.datetime
    outgoing_member_id: int | None
    incoming_member_id: int | None
    incoming_until: dt.datetime


def handoffs(segments: Sequence[Segment]) -> list[Handoff]:
    """Every change of the person on call between consecutive segments."""
    result = []
    for i in range(1, len(segments)):
        before, after = segments[i - 1], segments[i]
        if before.member_id == after.member_id:
            continue
        until = after.end
        for later in segments[i + 1 :]:
            if later.member_id != after.member_id:
                break
            until = later.end
        result.append(Handoff(after.start, before.member_id, after.member_id, until))
    return result


@dataclass(frozen=True)
class Change:
    """A stretch in which a role's person differs between two schedules (None: nobody)."""

    start: dt.datetime
    end: dt.datetime
    before_member_id: int | None
    after_member_id: int | None


def _member_at(segments: Sequence[Segment], at: dt.datetime) -> int | None:
    segment = segment_at(segments, at)
    return segment.member_id if segment else None


def schedule_changes(before: Sequence[Segment], after: Sequence[Segment]) -> list[Change]:
    """Where two schedules of one role put different people, as maximal stretches, in order."""
    bounds = sorted({s.start for s in (*before, *after)} | {s.end for s in (*before, *after)})
    changes: list[Change] = []
    for start, end in zip(bounds, bounds[1:], strict=False):
        old, new = _member_at(before, start), _member_at(after, start)
        if old == new:
            continue
        if (
            changes
            and changes[-1].end == start
            and (changes[-1].before_member_id, changes[-1].after_member_id)
            == (
                old,
                new,
            )
        ):
            changes[-1] = Change(changes[-1].start, end, old, new)
        else:
            changes.append(Change(start, end, old, new))
    return changes


def double_bookings(first: Sequence[Segment], second: Sequence[Segment]) -> list[Segment]:
    """Where the same person is on call in both schedules (primary and secondary) at once, merged into
    stretches, in order of start (member_id is the person, source None)."""
    found: list[Segment] = []
    for a in first:
        if a.member_id is None:
            continue
        for b in second:
            if b.member_id != a.member_id:
                continue
            start, end = max(a.start, b.start), min(a.end, b.end)
            if start < end:
                found.append(Segment(a.member_id, start, end, None))
    found.sort(key=lambda s: (s.start, s.member_id))
    merged: list[Segment] = []
    for segment in found:
        last = merged[-1] if merged else None
        if last and last.member_id == segment.member_id and last.end >= segment.start:
            merged[-1] = Segment(last.member_id, last.start, max(last.end, segment.end), None)
        else:
            merged.append(segment)
    return merged


# --- Hours in local windows (the fairness report) ------------------------------------------------------------

NIGHT_START, NIGHT_END = dt.time(22), dt.time(7)


def merge_intervals(intervals: Iterable[tuple[dt.datetime, dt.datetime]]) -> list[tuple[dt.datetime, dt.datetime]]:
    """The union of the intervals, as sorted, disjoint pieces."""
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def overlap_hours(
    intervals: Sequence[tuple[dt.datetime, dt.datetime]], windows: Iterable[tuple[dt.datetime, dt.datetime]]
) -> float:
    """Hours of the (disjoint, sorted) intervals that fall inside the (disjoint) windows."""
    starts = [start for start, _ in intervals]
    total = dt.timedelta(0)
    for window_start, window_end in windows:
        i = max(0, bisect.bisect_right(starts, window_start) - 1)
        while i < len(intervals) and intervals[i][0] < window_end:
            low, high = max(intervals[i][0], window_start), min(intervals[i][1], window_end)
            if low < high:
                total += high - low
            i += 1
    return total / dt.timedelta(hours=1)


def _local_dates(start: dt.datetime, end: dt.datetime, tz: ZoneInfo) -> list[dt.date]:
    first, last = start.astimezone(tz).date() - dt.timedelta(days=1), end.astimezone(tz).date()
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def night_windows(start: dt.datetime, end: dt.datetime, tz: ZoneInfo) -> list[tuple[dt.datetime, dt.datetime]]:
    """Every local night (22:00 to 07:00 the next morning in `tz`) that touches [start, end)."""
    return [
        (
            localize(dt.datetime.combine(day, NIGHT_START), tz),
            localize(dt.datetime.combine(day + dt.timedelta(days=1), NIGHT_END), tz),
        )
        for day in _local_dates(start, end, tz)
    ]


def weekend_windows(start: dt.datetime, end: dt.datetime, tz: ZoneInfo) -> list[tuple[dt.datetime, dt.datetime]]:
    """Every local Saturday and Sunday (whole days in `tz`) that touches [start, end)."""
    return [local_days(day, 1, tz) for day in _local_dates(start, end, tz) if day.weekday() >= 5]


def day_windows(days: Iterable[dt.date], tz: ZoneInfo) -> list[tuple[dt.datetime, dt.datetime]]:
    """The given local dates as whole days in `tz` (holidays), each once."""
    return [local_days(day, 1, tz) for day in sorted(set(days))]


# --- Business hours ------------------------------------------------------------------------------------

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def clock_minutes(text: str) -> int:
    """ "09:30" → 570, "24:00" → 1440; ValueError for anything else (also "24:30")."""
    match = _CLOCK.match(text) if isinstance(text, str) else None
    if not match or (match[1] == "24" and match[2] != "00"):
        raise ValueError(text)
    return int(match[1]) * 60 + int(match[2])


def is_within_business_hours(
    *, business_hours: Sequence[dict], holidays: Sequence[dict], tz: ZoneInfo, at: dt.datetime
) -> bool:
    """Whether `at` falls in one of the weekly windows, read on the team's local wall clock.

    A holiday is the whole local day (midnight to midnight, 23 or 25 hours on a daylight-saving day). A
    window's end is exclusive ("18:00" closes at 18:00:00; "24:00" at midnight). The wall clock is read,
    not the elapsed time: a window 01:00-04:00 on a spring-forward night is two hours long. No business
    hours at all means no office hours: False.
    """
    local = at.astimezone(tz)
    today = local.date().isoformat()
    if any(holiday.get("date") == today for holiday in holidays):
        return False
    day = WEEKDAYS[local.weekday()]
    minute = local.hour * 60 + local.minute + local.second / 60
    for window in business_hours:
        if day in window["days"] and clock_minutes(window["start"]) <= minute < clock_minutes(window["end"]):
            return True
    return False
