"""Reads of the telephony logs for the admin, and of what the line costs: one query each, whatever the
number of teams or rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, DecimalField, Min, Prefetch, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from teams import timeline
from teams.models import Team
from telephony.beat import tasks_run_by_beat
from telephony.calls import PASSED
from telephony.models import Alert, Call, Charge, DialAttempt, OutboundMessage, Voicemail


def alerts_unresolved(*, team_ids: Iterable[int]) -> list[Alert]:
    """Open and acknowledged alerts of the teams, newest first."""
    return list(
        Alert.objects.filter(team_id__in=list(team_ids))
        .exclude(state=Alert.State.RESOLVED)
        .select_related("team", "call", "voicemail")
        .order_by("-created_at", "-pk")
    )


# --- A team's logs, newest first, as the API lists them (querysets: the API filters and pages them) --------


def team_calls(*, team: Team) -> QuerySet[Call]:
    """The team's calls with their attempts (in dial order) and alerts."""
    attempts = Prefetch("attempts", queryset=DialAttempt.objects.order_by("position"))
    alerts = Prefetch("alerts", queryset=Alert.objects.order_by("pk"))
    return Call.objects.filter(team=team).prefetch_related(attempts, alerts).order_by("-started_at", "-pk")


def team_voicemails(*, team: Team) -> QuerySet[Voicemail]:
    return Voicemail.objects.filter(team=team).select_related("call", "alert").order_by("-created_at", "-pk")


def team_messages(*, team: Team) -> QuerySet[OutboundMessage]:
    return OutboundMessage.objects.filter(team=team).order_by("-created_at", "-pk")


def _within(field: str, ranges: Mapping[int, tuple[dt.datetime, dt.datetime]]) -> Q:
    condition = Q(pk__in=[])
    for team_id, (start, end) in ranges.items():
        condition |= Q(team_id=team_id, **{f"{field}__gte": start, f"{field}__lt": end})
    return condition


def calls_with_passes(queryset):
    """Calls with `passed_count`: how many callees pressed 2 to pass (in the same query, whatever the rows)."""
    return queryset.annotate(passed_count=Count("attempts", filter=Q(attempts__dial_status=PASSED)))


def calls_within(*, ranges: Mapping[int, tuple[dt.datetime, dt.datetime]]) -> list[Call]:
    """Calls per team started inside that team's [start, end) (each team's own day, say), newest first."""
    calls = Call.objects.filter(_within("started_at", ranges)).select_related("answered_by")
    return list(calls_with_passes(calls).order_by("-started_at"))


def voicemails_within(*, ranges: Mapping[int, tuple[dt.datetime, dt.datetime]]) -> list[Voicemail]:
    """Voicemails per team left inside that team's [start, end), newest first."""
    return list(Voicemail.objects.filter(_within("created_at", ranges)).order_by("-created_at"))


# --- Usage: what the line cost, per team and month -----------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """One team's month: calls and minutes in, forwarded legs and minutes, SMS and segments, in USD.

    Minutes are billed minutes (each leg rounded up to the minute, as Twilio bills). `actual` adds up the
    prices Twilio has reported so far; `estimated` is the month's best figure: Twilio's price where known,
    the estimate from the rates elsewhere. `pending` counts the charges still waiting for Twilio's price.
    """

    month: dt.date
    calls_in: int = 0
    minutes_in: int = 0
    forward_legs: int = 0
    minutes_forwarded: int = 0
    sms_sent: int = 0
    sms_segments: int = 0
    actual: Decimal = Decimal(0)
    estimated: Decimal = Decimal(0)
    pending: int = 0


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def months_back(last: dt.date, count: int) -> list[dt.date]:
    """The `count` months ending with `last`'s month, oldest first (first days)."""
    months, year, month = [], last.year, last.month
    for _ in range(count):
        months.append(dt.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def _month_key(value) -> dt.date:
    """TruncMonth's value (an aware datetime, or a date on some backends) as the month's first day."""
    return dt.date(value.year, value.month, 1)


def usage_months(*, team: Team, months: list[dt.date]) -> list[Usage]:
    """Usage of consecutive `months` (first days, oldest first), months cut in the team's zone.

    Two queries whatever the number of calls, messages or months: everything is added up in the database.
    """
    tz = team.tz
    start = timeline.month_window(months[0].year, months[0].month, tz).start
    end = timeline.month_window(months[-1].year, months[-1].month, tz).end
    money = DecimalField(max_digits=14, decimal_places=5)
    zero = Value(Decimal(0), output_field=money)
    rows = (
        Charge.objects.filter(team=team, occurred_at__gte=start, occurred_at__lt=end)
        .annotate(month=TruncMonth("occurred_at", tzinfo=tz))
        .values("month", "kind")
        .annotate(
            count=Count("pk"),
            units=Sum("units"),
            actual=Coalesce(Sum("price"), zero),
            estimated=Coalesce(Sum(Coalesce("price", "estimate")), zero),
            pending=Count("pk", filter=Q(price__isnull=True)),
        )
        .order_by()
    )
    calls = (
        Call.objects.filter(team=team, started_at__gte=start, started_at__lt=end)
        .annotate(month=TruncMonth("started_at", tzinfo=tz))
        .values("month")
        .annotate(count=Count("pk"))
        .order_by()
    )
    totals: dict[dt.date, dict] = {month: {"month": month} for month in months}
    for row in calls:
        totals[_month_key(row["month"])]["calls_in"] = row["count"]
    for row in rows:
        month = totals[_month_key(row["month"])]
        units = row["units"] or 0
        if row["kind"] == Charge.Kind.CALL_IN:
            month["minutes_in"] = units
        elif row["kind"] == Charge.Kind.FORWARD_LEG:
            month["forward_legs"], month["minutes_forwarded"] = row["count"], units
        else:
            month["sms_sent"], month["sms_segments"] = row["count"], units
        month["actual"] = month.get("actual", Decimal(0)) + row["actual"]
        month["estimated"] = month.get("estimated", Decimal(0)) + row["estimated"]
        month["pending"] = month.get("pending", 0) + row["pending"]
    return [Usage(**totals[month]) for month in months]


def usage_month(*, team: Team, month: dt.date) -> Usage:
    [usage] = usage_months(team=team, months=[month_start(month)])
    return usage


def estimated_costs_this_month(*, teams: Iterable[Team], now: dt.datetime) -> dict[int, Decimal]:
    """Each team's estimated cost of its current month (in its own zone): one query for all the teams."""
    condition = Q(pk__in=[])
    for team in teams:
        local = now.astimezone(team.tz)
        window = timeline.month_window(local.year, local.month, team.tz)
        condition |= Q(team_id=team.pk, occurred_at__gte=window.start, occurred_at__lt=window.end)
    rows = (
        Charge.objects.filter(condition)
        .values("team_id")
        .annotate(estimated=Sum(Coalesce("price", "estimate")))
        .order_by()
    )
    return {row["team_id"]: row["estimated"] or Decimal(0) for row in rows}


# --- Operations: what /metrics reports ----------------------------------------------------------------------


@dataclass(frozen=True)
class BeatTaskRun:
    name: str
    task: str
    seconds_since_last_run: float


@dataclass(frozen=True)
class OperationsSnapshot:
    calls_by_outcome: dict[str, int]
    sms_by_final_status: dict[str, int]
    outbox_backlog: dict[str, int]
    outbox_oldest_queued_seconds: float
    beat_tasks: list[BeatTaskRun]
    alerts_unresolved: dict[tuple[str, str], int]


def operations_snapshot(*, now: dt.datetime | None = None) -> OperationsSnapshot:
    """Four queries whatever the number of calls, messages, tasks or alerts."""
    now = now or timezone.now()
    calls = dict(Call.objects.values_list("outcome").annotate(count=Count("pk")).order_by())
    by_status = {
        row["status"]: row
        for row in OutboundMessage.objects.values("status")
        .annotate(count=Count("pk"), oldest=Min("created_at"))
        .order_by()
    }
    final = {status: by_status[status]["count"] for status in OutboundMessage.FINAL_STATUSES if status in by_status}
    waiting = (OutboundMessage.Status.QUEUED, OutboundMessage.Status.SENDING)
    backlog = {status: by_status.get(status, {"count": 0})["count"] for status in waiting}
    oldest = by_status.get(OutboundMessage.Status.QUEUED, {}).get("oldest")
    beat = [
        BeatTaskRun(name, task, max(0.0, (now - last_run_at).total_seconds()))
        for name, task, last_run_at in tasks_run_by_beat().order_by("name").values_list("name", "task", "last_run_at")
    ]
    alerts = {
        (slug or "", state): count
        for slug, state, count in Alert.objects.exclude(state=Alert.State.RESOLVED)
        .values_list("team__slug", "state")
        .annotate(count=Count("pk"))
        .order_by()
    }
    return OperationsSnapshot(
        calls_by_outcome={outcome: count for outcome, count in calls.items()},
        sms_by_final_status=final,
        outbox_backlog=backlog,
        outbox_oldest_queued_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        beat_tasks=beat,
        alerts_unresolved=alerts,
    )
