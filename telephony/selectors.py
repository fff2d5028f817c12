"""Reads of the telephony logs for the admin: one query each, whatever the number of teams."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from django.db.models import Count, Q

from telephony.calls import PASSED
from telephony.models import Alert, Call, Voicemail


def alerts_unresolved(*, team_ids: Iterable[int]) -> list[Alert]:
    """Open and acknowledged alerts of the teams, newest first."""
    return list(
        Alert.objects.filter(team_id__in=list(team_ids))
        .exclude(state=Alert.State.RESOLVED)
        .select_related("team", "call", "voicemail")
        .order_by("-created_at", "-pk")
    )


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
