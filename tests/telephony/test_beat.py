"""Beat, simulated with time-machine: reminders, hand-off notices and gap alerts go out once, on time."""

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
import time_machine

from teams import services
from teams.models import Role, Shift, TeamMembership
from teams.tasks import shifts_extend_horizon
from telephony import alerts
from telephony.models import OutboundMessage
from telephony.sms_text import sms_segments
from telephony.tasks.alerts import alerts_escalate
from telephony.tasks.notifications import gaps_alert, handoffs_notify, reminders_send
from tests.factories import MemberFactory, MembershipFactory, TeamFactory, rotation_of
from tests.telephony.world import sent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("celery_eager")]

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
MINUTE = dt.timedelta(minutes=1)
Kind = OutboundMessage.Kind


def at(tz, *args):
    return dt.datetime(*args, tzinfo=tz).astimezone(dt.UTC)


def web_team(*, tz="America/Sao_Paulo", lead_minutes=60, names=("Ana", "Bruno", "Carla"), start, length, now):
    """A team "Web" with a primary rotation of the named members, generated as of `now`."""
    team = TeamFactory(name="Web", timezone=tz, reminder_lead_minutes=lead_minutes)
    members = []
    for name in names:
        member = MemberFactory(name=name)
        MembershipFactory(team=team, member=member)
        members.append(member)
    rotation_of(team, members, name="Web primary", start_local=start, shift_length=length, now=now)
    return team, members


def shift(team, member, start, end, *, role=Role.PRIMARY):
    """`member` on call for `team` from `start` to `end`, made the way a lead makes it (services.shift_create)."""
    return services.shift_create(team=team, role=role, member=member, start=start, end=end)


def override(team, member, start, end, *, role=Role.PRIMARY):
    """`member` covering `team` from `start` to `end` (services.override_create)."""
    return services.override_create(team=team, role=role, member=member, start=start, end=end)


def beat_ticks(start, end, *, busy, every=dt.timedelta(hours=1), around=3 * MINUTE):
    """Beat's minute ticks near the busy instants, one tick per `every` elsewhere (nothing is due there)."""
    ticks = set()
    t = start
    while t < end:
        ticks.add(t)
        t += every
    for instant in busy:
        t = instant - around
        while t <= instant + around:
            if start <= t < end:
                ticks.add(t)
            t += MINUTE
    return sorted(ticks)


def run_beat(traveller, ticks, *, twice=False):
    """Run the tasks due at each tick, the way beat schedules them (eager Celery in tests)."""
    for tick in ticks:
        traveller.move_to(tick)
        for run in range(2 if twice else 1):
            before = OutboundMessage.objects.count()
            reminders_send.delay()
            handoffs_notify.delay()
            if tick.minute % 5 == 0:
                gaps_alert.delay()
            # Hourly in production; every 6 hours is plenty against a 12-week horizon and keeps the test quick.
            if tick.minute == 0 and tick.hour % 6 == 0:
                shifts_extend_horizon.delay()
            if run == 1:
                assert OutboundMessage.objects.count() == before, f"the second run at {tick} sent again"


def messages(kind):
    return list(OutboundMessage.objects.filter(kind=kind).select_related("member").order_by("created_at", "pk"))


def test_a_week_of_ticks_sends_one_reminder_per_shift_and_one_notice_per_handoff():
    week_start = at(SAO_PAULO, 2026, 11, 30, 0, 0)
    week_end = at(SAO_PAULO, 2026, 12, 7, 0, 0)
    with time_machine.travel(week_start, tick=False) as traveller:
        team, (ana, bruno, carla) = web_team(
            start=dt.datetime(2026, 11, 30, 9), length=dt.timedelta(days=1), now=week_start
        )
        # Ana is on call on Thursday; Bruno covers her in the afternoon.
        override(team, bruno, at(SAO_PAULO, 2026, 12, 3, 12), at(SAO_PAULO, 2026, 12, 3, 18))
        # São Paulo has no daylight saving any more: every local 09:00 is 24 hours after the previous one.
        daily = [at(SAO_PAULO, 2026, 11, 30, 9) + dt.timedelta(days=d) for d in range(7)]
        cover = [at(SAO_PAULO, 2026, 12, 3, 12), at(SAO_PAULO, 2026, 12, 3, 18)]
        starts = daily + cover
        reminders_due = [t - dt.timedelta(hours=1) for t in starts]
        run_beat(traveller, beat_ticks(week_start, week_end, busy=starts + reminders_due), twice=True)

    reminders = messages(OutboundMessage.Kind.REMINDER)
    # Seven daily shifts and the override, each reminded once, an hour (the team's lead) before it starts.
    assert len(reminders) == 8
    assert [m.created_at for m in reminders] == sorted(
        [t - dt.timedelta(hours=1) for t in daily] + [cover[0] - dt.timedelta(hours=1)]
    )
    assert [m.member.name for m in reminders] == ["Ana", "Bruno", "Carla", "Ana", "Bruno", "Bruno", "Carla", "Ana"]
    assert reminders[0].body == (
        "Reminder: you are primary on call for Web from Mon 30 Nov 09:00 to Tue 1 Dec 09:00 (America/Sao_Paulo)"
    )
    assert reminders[4].body == (
        "Reminder: you cover primary on call for Web from Thu 3 Dec 12:00 to Thu 3 Dec 18:00 (America/Sao_Paulo)"
    )

    notices = messages(OutboundMessage.Kind.HANDOFF)
    # Nine hand-offs (seven mornings, the start and end of the cover): the first one comes from nobody.
    assert len(notices) == 1 + 8 * 2
    by_instant = {}
    for message in notices:
        by_instant.setdefault(message.created_at, []).append(message)
    assert sorted(by_instant) == sorted(daily + cover)
    first = by_instant[daily[0]]
    assert [(m.member.name, m.body) for m in first] == [
        ("Ana", "You are now primary on call for Web until Tue 1 Dec 09:00 (America/Sao_Paulo).")
    ]
    tuesday = {m.member.name: m.body for m in by_instant[daily[1]]}
    assert tuesday == {
        "Bruno": "You are now primary on call for Web until Wed 2 Dec 09:00 (America/Sao_Paulo).",
        "Ana": "Your shift ended; Bruno is now primary on call for Web.",
    }
    cover_start = {m.member.name: m.body for m in by_instant[cover[0]]}
    assert cover_start == {
        "Bruno": "You are now primary on call for Web until Thu 3 Dec 18:00 (America/Sao_Paulo).",
        "Ana": "Your shift ended; Bruno is now primary on call for Web.",
    }
    assert all(m.status == OutboundMessage.Status.QUEUED for m in reminders + notices)
    assert all(m.to == m.member.phone for m in reminders + notices)


def test_reminder_uses_the_members_own_timezone():
    now = at(SAO_PAULO, 2026, 11, 29, 12)
    with time_machine.travel(now, tick=False) as traveller:
        team, (ana,) = web_team(
            names=("Ana",), start=dt.datetime(2026, 11, 30, 9), length=dt.timedelta(days=7), now=now
        )
        ana.timezone = "Europe/Lisbon"
        ana.save()
        traveller.move_to(at(SAO_PAULO, 2026, 11, 30, 8))
        reminders_send.delay()
    (reminder,) = messages(OutboundMessage.Kind.REMINDER)
    assert reminder.body == (
        "Reminder: you are primary on call for Web from Mon 30 Nov 12:00 to Mon 7 Dec 12:00 (Europe/Lisbon)"
    )


def test_a_shift_created_edited_or_moved_inside_the_lead_window_is_reminded_at_once():
    now = at(SAO_PAULO, 2026, 11, 30, 0)
    with time_machine.travel(now, tick=False) as traveller:
        team, (ana, bruno, carla) = web_team(
            lead_minutes=1440, start=dt.datetime(2026, 11, 30, 9), length=dt.timedelta(days=1), now=now
        )
        secondary = MemberFactory(name="Dora")
        MembershipFactory(team=team, member=secondary)
        reminders_send.delay()
        # Within a day: Ana's Monday shift. Tuesday's (Bruno) is more than a day away.
        assert [m.member.name for m in messages(OutboundMessage.Kind.REMINDER)] == ["Ana"]

        traveller.move_to(at(SAO_PAULO, 2026, 11, 30, 10))
        reminders_send.delay()
        assert [m.member.name for m in messages(OutboundMessage.Kind.REMINDER)] == ["Ana", "Bruno"]

        # The lead gives Tuesday to Carla, then makes a secondary shift for Dora starting in two hours.
        tuesday = Shift.objects.get(team=team, start=at(SAO_PAULO, 2026, 12, 1, 9))
        services.shift_update(shift=tuesday, member=carla)
        shift(team, secondary, at(SAO_PAULO, 2026, 11, 30, 12), at(SAO_PAULO, 2026, 11, 30, 20), role=Role.SECONDARY)
        traveller.move_to(at(SAO_PAULO, 2026, 11, 30, 10, 1))
        reminders_send.delay()
        reminders_send.delay()
        assert [m.member.name for m in messages(OutboundMessage.Kind.REMINDER)] == ["Ana", "Bruno", "Dora", "Carla"]
        assert messages(OutboundMessage.Kind.REMINDER)[2].body == (
            "Reminder: you are secondary on call for Web from Mon 30 Nov 12:00 to Mon 30 Nov 20:00 (America/Sao_Paulo)"
        )

        # Carla's shift moves an hour later: she is reminded of the new time.
        services.shift_update(shift=tuesday, start=at(SAO_PAULO, 2026, 12, 1, 10))
        traveller.move_to(at(SAO_PAULO, 2026, 11, 30, 10, 2))
        reminders_send.delay()
        carla_reminders = [m.body for m in messages(OutboundMessage.Kind.REMINDER) if m.member == carla]
        assert len(carla_reminders) == 2
        assert "from Tue 1 Dec 10:00" in carla_reminders[1]


def test_a_shift_that_has_started_gets_no_reminder():
    now = at(SAO_PAULO, 2026, 11, 30, 10)
    with time_machine.travel(now, tick=False):
        team = TeamFactory(name="Web", timezone="America/Sao_Paulo", reminder_lead_minutes=1440)
        ana = MemberFactory(name="Ana")
        MembershipFactory(team=team, member=ana)
        shift(team, ana, now - dt.timedelta(hours=1), now + dt.timedelta(hours=5))
        reminders_send.delay()
    assert messages(OutboundMessage.Kind.REMINDER) == []


def test_a_30_minute_beat_outage_across_a_handoff_still_sends_the_notice_once():
    now = at(SAO_PAULO, 2026, 11, 30, 0)
    handoff = at(SAO_PAULO, 2026, 12, 1, 9)
    with time_machine.travel(now, tick=False) as traveller:
        web_team(names=("Ana", "Bruno"), start=dt.datetime(2026, 11, 30, 9), length=dt.timedelta(days=1), now=now)
        before = [handoff - dt.timedelta(minutes=m) for m in range(30, 14, -1)]
        after = [handoff + dt.timedelta(minutes=m) for m in range(15, 40)]
        run_beat(traveller, before + after)
    notices = [m for m in messages(OutboundMessage.Kind.HANDOFF) if m.body.startswith("Your shift ended")]
    assert len(notices) == 1
    assert notices[0].member.name == "Ana"
    assert notices[0].created_at == handoff + dt.timedelta(minutes=15)
    incoming = [m for m in messages(OutboundMessage.Kind.HANDOFF) if m.member.name == "Bruno"]
    assert len(incoming) == 1


def test_handoffs_older_than_an_hour_are_not_notified_after_a_long_outage():
    now = at(SAO_PAULO, 2026, 11, 30, 0)
    with time_machine.travel(now, tick=False) as traveller:
        web_team(names=("Ana", "Bruno"), start=dt.datetime(2026, 11, 30, 9), length=dt.timedelta(days=1), now=now)
        traveller.move_to(at(SAO_PAULO, 2026, 12, 1, 10, 1))
        handoffs_notify.delay()
        assert messages(OutboundMessage.Kind.HANDOFF) == []
        traveller.move_to(at(SAO_PAULO, 2026, 12, 2, 9, 59))
        handoffs_notify.delay()
    # The 09:00 hand-off of the day was 59 minutes ago: still notified, to both.
    assert sorted(m.member.name for m in messages(OutboundMessage.Kind.HANDOFF)) == ["Ana", "Bruno"]


@pytest.mark.parametrize(
    ("tz_name", "day_before", "dst_day", "utc_before", "utc_on"),
    [
        # Berlin springs forward on 28 March 2027: 09:00 is 08:00 UTC the day before, 07:00 UTC that day.
        ("Europe/Berlin", dt.date(2027, 3, 27), dt.date(2027, 3, 28), 8, 7),
        # New York falls back on 7 November 2027: 09:00 is 13:00 UTC the day before, 14:00 UTC that day.
        ("America/New_York", dt.date(2027, 11, 6), dt.date(2027, 11, 7), 13, 14),
    ],
)
def test_handoff_across_a_daylight_saving_change_happens_at_0900_local(
    tz_name, day_before, dst_day, utc_before, utc_on
):
    tz = ZoneInfo(tz_name)
    now = dt.datetime.combine(day_before, dt.time(0), tzinfo=dt.UTC)
    with time_machine.travel(now, tick=False) as traveller:
        web_team(
            tz=tz_name,
            names=("Ana", "Bruno"),
            start=dt.datetime.combine(day_before, dt.time(9)),
            length=dt.timedelta(days=1),
            now=now,
        )
        # Every minute from 20 minutes before the earlier to 20 minutes after the later UTC instant 09:00 local
        # could be, on both days.
        ticks = []
        for day in (day_before, dst_day):
            base = dt.datetime.combine(day, dt.time(min(utc_before, utc_on)), tzinfo=dt.UTC) - 20 * MINUTE
            ticks += [base + m * MINUTE for m in range(0, 60 + 40 + 1)]
        run_beat(traveller, ticks)
    ended = [m for m in messages(OutboundMessage.Kind.HANDOFF) if m.body.startswith("Your shift ended")]
    assert [(m.member.name, m.created_at) for m in ended] == [
        ("Ana", dt.datetime.combine(dst_day, dt.time(utc_on), tzinfo=dt.UTC)),
    ]
    incoming = [m for m in messages(OutboundMessage.Kind.HANDOFF) if m.body.startswith("You are now")]
    assert [m.created_at for m in incoming] == [
        dt.datetime.combine(day_before, dt.time(utc_before), tzinfo=dt.UTC),
        dt.datetime.combine(dst_day, dt.time(utc_on), tzinfo=dt.UTC),
    ]
    next_day = dst_day + dt.timedelta(days=1)
    assert incoming[1].body == (
        f"You are now primary on call for Web until {next_day:%a} {next_day.day} {next_day:%b} 09:00 ({tz_name})."
    )
    assert all(m.created_at.astimezone(tz).time() == dt.time(9) for m in incoming)


def test_opted_out_members_are_skipped_and_the_others_still_get_their_messages():
    now = at(SAO_PAULO, 2026, 11, 30, 8)
    with time_machine.travel(now, tick=False) as traveller:
        team, (ana, bruno) = web_team(
            names=("Ana", "Bruno"),
            start=dt.datetime(2026, 11, 30, 9),
            length=dt.timedelta(days=1),
            now=now - dt.timedelta(hours=8),
        )
        ana.sms_opted_out_at = now - dt.timedelta(days=3)
        ana.save()
        reminders_send.delay()
        traveller.move_to(at(SAO_PAULO, 2026, 12, 1, 9))
        handoffs_notify.delay()
        handoffs_notify.delay()
    rows = OutboundMessage.objects.order_by("created_at", "pk")
    assert [(r.kind, r.member.name, r.status) for r in rows] == [
        ("reminder", "Ana", OutboundMessage.Status.SKIPPED),
        ("handoff", "Bruno", OutboundMessage.Status.QUEUED),
        ("handoff", "Ana", OutboundMessage.Status.SKIPPED),
    ]


def test_gap_alerts_go_to_the_leads_once_per_gap():
    now = at(SAO_PAULO, 2026, 11, 30, 0)
    with time_machine.travel(now, tick=False) as traveller:
        team, (ana, bruno, carla) = web_team(start=dt.datetime(2026, 11, 30, 9), length=dt.timedelta(days=1), now=now)
        lead_one, lead_two = MemberFactory(name="Lea"), MemberFactory(name="Lou")
        MembershipFactory(team=team, member=lead_one, role=TeamMembership.Role.LEAD)
        MembershipFactory(team=team, member=lead_two, role=TeamMembership.Role.LEAD)
        other_team = TeamFactory(name="Ops")
        MembershipFactory(team=other_team, member=MemberFactory(name="Otto"), role=TeamMembership.Role.LEAD)

        # Before the rotation starts on Monday 09:00, nobody is on call: that is a gap, alerted once.
        gaps_alert.delay()
        first = messages(OutboundMessage.Kind.GAP_ALERT)
        assert sorted(m.member.name for m in first) == ["Lea", "Lou"]
        assert first[0].body == (
            "Web has no primary on call from now to Mon 30 Nov 09:00 (America/Sao_Paulo). "
            "Please add a shift or an override."
        )

        # Bruno's Tuesday shift is cut to 12 hours: a new gap from 21:00 to Wednesday 09:00.
        tuesday = Shift.objects.get(team=team, member=bruno, start=at(SAO_PAULO, 2026, 12, 1, 9))
        services.shift_update(shift=tuesday, end=at(SAO_PAULO, 2026, 12, 1, 21))
        for minutes in range(5, 60, 5):
            traveller.move_to(now + minutes * MINUTE)
            gaps_alert.delay()
        # Into the gap, the scan keeps finding it (now an ongoing gap) and stays quiet; shifts keep being extended.
        traveller.move_to(at(SAO_PAULO, 2026, 12, 1, 22))
        shifts_extend_horizon.delay()
        gaps_alert.delay()
        traveller.move_to(at(SAO_PAULO, 2026, 12, 1, 23, 5))
        gaps_alert.delay()

    alerts = messages(OutboundMessage.Kind.GAP_ALERT)
    assert len(alerts) == 4
    assert {m.member.name for m in alerts[2:]} == {"Lea", "Lou"}
    assert alerts[2].body == (
        "Web has no primary on call from Tue 1 Dec 21:00 to Wed 2 Dec 09:00 (America/Sao_Paulo). "
        "Please add a shift or an override."
    )
    assert alerts[2].created_at == now + 5 * MINUTE
    # Ops has a lead but no rota at all, and Web has no secondary rotation: nothing to alert about.
    assert not OutboundMessage.objects.filter(team=other_team).exists()
    assert not OutboundMessage.objects.filter(body__contains="secondary").exists()


def test_an_override_that_fills_a_gap_partly_leaves_the_rest_alerted_once():
    now = at(SAO_PAULO, 2026, 11, 30, 10)
    with time_machine.travel(now, tick=False) as traveller:
        team, (ana, bruno) = web_team(
            names=("Ana", "Bruno"), start=dt.datetime(2026, 11, 30, 9), length=dt.timedelta(days=1), now=now
        )
        MembershipFactory(team=team, member=MemberFactory(name="Lea"), role=TeamMembership.Role.LEAD)
        tuesday = Shift.objects.get(team=team, start=at(SAO_PAULO, 2026, 12, 1, 9))
        services.shift_update(shift=tuesday, end=at(SAO_PAULO, 2026, 12, 1, 12))
        gaps_alert.delay()
        override(team, ana, at(SAO_PAULO, 2026, 12, 1, 12), at(SAO_PAULO, 2026, 12, 1, 18))
        traveller.move_to(now + 5 * MINUTE)
        gaps_alert.delay()
        gaps_alert.delay()
    bodies = [m.body for m in messages(OutboundMessage.Kind.GAP_ALERT)]
    assert [b.split(" (")[0] for b in bodies] == [
        "Web has no primary on call from Tue 1 Dec 12:00 to Wed 2 Dec 09:00",
        "Web has no primary on call from Tue 1 Dec 18:00 to Wed 2 Dec 09:00",
    ]


def test_a_shift_into_nobody_tells_the_outgoing_person_and_a_lone_rotation_runs_until_further_notice():
    now = at(SAO_PAULO, 2026, 11, 30, 8)
    with time_machine.travel(now, tick=False) as traveller:
        team = TeamFactory(name="Web", timezone="America/Sao_Paulo")
        ana, bruno = MemberFactory(name="Ana"), MemberFactory(name="Bruno")
        MembershipFactory(team=team, member=ana)
        MembershipFactory(team=team, member=bruno)
        shift(team, ana, at(SAO_PAULO, 2026, 11, 30, 9), at(SAO_PAULO, 2026, 11, 30, 17))
        rotation_of(
            team,
            [bruno],
            name="Secondary",
            role=Role.SECONDARY,
            start_local=dt.datetime(2026, 11, 30, 9),
            shift_length=dt.timedelta(days=7),
            now=now,
        )
        for instant in (at(SAO_PAULO, 2026, 11, 30, 9), at(SAO_PAULO, 2026, 11, 30, 17)):
            traveller.move_to(instant)
            handoffs_notify.delay()
    assert [(m.member.name, m.body) for m in messages(OutboundMessage.Kind.HANDOFF)] == [
        ("Ana", "You are now primary on call for Web until Mon 30 Nov 17:00 (America/Sao_Paulo)."),
        ("Bruno", "You are now secondary on call for Web until further notice."),
        ("Ana", "Your shift ended; nobody is primary on call for Web now."),
    ]


def test_a_shift_generated_again_for_the_same_person_and_time_is_not_reminded_twice():
    now = at(SAO_PAULO, 2026, 11, 30, 10)
    with time_machine.travel(now, tick=False):
        team, (ana, bruno) = web_team(
            names=("Ana", "Bruno"),
            lead_minutes=1440,
            start=dt.datetime(2026, 11, 30, 9),
            length=dt.timedelta(days=1),
            now=now,
        )
        reminders_send.delay()
        assert [m.member.name for m in messages(OutboundMessage.Kind.REMINDER)] == ["Bruno"]
        Shift.objects.filter(team=team, start=at(SAO_PAULO, 2026, 12, 1, 9)).delete()
        shifts_extend_horizon.delay()
        assert Shift.objects.filter(team=team, member=bruno, start=at(SAO_PAULO, 2026, 12, 1, 9)).exists()
        reminders_send.delay()
    assert [m.member.name for m in messages(OutboundMessage.Kind.REMINDER)] == ["Bruno"]


# --- Reminders when overrides cover shifts, and members in two teams ----------------------------------------


def at_local(tz: str, *args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)


def team_of(tz: str, *names: str, lead_minutes: int = 1440, **member_tz):
    team = TeamFactory(name="Web", timezone=tz, reminder_lead_minutes=lead_minutes)
    members = []
    for name in names:
        member = MemberFactory(name=name, timezone=member_tz.get(name, ""))
        MembershipFactory(team=team, member=member)
        members.append(member)
    return team, members


def ana_hands_over_to_bruno(handoff, *, lead_minutes):
    """Team Web in Chatham (+13:45): Ana primary for the day up to `handoff`, Bruno for the day after."""
    team, (ana, bruno) = team_of("Pacific/Chatham", "Ana", "Bruno", lead_minutes=lead_minutes)
    shift(team, ana, handoff - dt.timedelta(days=1), handoff)
    shift(team, bruno, handoff, handoff + dt.timedelta(days=1))
    return team, ana, bruno


def test_an_override_covering_a_whole_shift_reminds_only_the_person_covering():
    tz = "Pacific/Chatham"  # +13:45
    with time_machine.travel(at_local(tz, 2026, 11, 28, 0), tick=False) as traveller:
        team, (ana, bruno) = team_of(tz, "Ana", "Bruno", Bruno="Asia/Kathmandu")
        start, end = at_local(tz, 2026, 11, 30, 9), at_local(tz, 2026, 12, 1, 9)
        shift(team, ana, start, end)
        override(team, bruno, start, end)
        traveller.move_to(start - dt.timedelta(days=1))
        reminders_send.delay()
        reminders_send.delay()

    # Ana is not on call at all: telling her she is would have her wait by the phone for nothing.
    assert [(m.member, m.body) for m in sent(Kind.REMINDER)] == [
        (bruno, "Reminder: you cover primary on call for Web from Mon 30 Nov 01:00 to Tue 1 Dec 01:00 (Asia/Kathmandu)")
    ]


def test_an_override_covering_the_start_of_a_shift_reminds_its_owner_of_when_they_really_start():
    tz = "America/St_Johns"  # -03:30
    with time_machine.travel(at_local(tz, 2026, 11, 28, 0), tick=False) as traveller:
        team, (ana, bruno) = team_of(tz, "Ana", "Bruno", lead_minutes=120)
        shift(team, ana, at_local(tz, 2026, 11, 30, 9), at_local(tz, 2026, 12, 1, 9))
        override(team, bruno, at_local(tz, 2026, 11, 30, 9), at_local(tz, 2026, 11, 30, 13))
        # Two hours before the shift's own start Ana hears nothing: she is not on call until 13:00.
        traveller.move_to(at_local(tz, 2026, 11, 30, 7))
        reminders_send.delay()
        assert [m.member for m in sent(Kind.REMINDER)] == [bruno]
        traveller.move_to(at_local(tz, 2026, 11, 30, 11))
        reminders_send.delay()
        reminders_send.delay()

    ana_reminders = [m for m in sent(Kind.REMINDER) if m.member == ana]
    assert [m.body for m in ana_reminders] == [
        "Reminder: you are primary on call for Web from Mon 30 Nov 13:00 to Tue 1 Dec 09:00 (America/St_Johns)"
    ]
    assert ana_reminders[0].created_at == at_local(tz, 2026, 11, 30, 11)


def test_a_member_on_call_for_two_teams_gets_a_reminder_for_each_in_their_own_zone():
    with time_machine.travel(at_local("UTC", 2026, 11, 29, 0), tick=False) as traveller:
        web, (ana,) = team_of("Pacific/Kiritimati", "Ana", lead_minutes=60, Ana="Australia/Lord_Howe")
        ops = TeamFactory(name="Ops " + "x" * 96, timezone="Asia/Kathmandu", reminder_lead_minutes=60 * 24 * 3)
        MembershipFactory(team=ops, member=ana)
        start, end = at_local("UTC", 2026, 11, 30, 0), at_local("UTC", 2026, 11, 30, 12)
        shift(web, ana, start, end)
        shift(ops, ana, start, end, role=Role.SECONDARY)
        reminders_send.delay()  # Ops reminds three days ahead, Web an hour ahead
        assert len(sent(Kind.REMINDER)) == 1
        traveller.move_to(start - dt.timedelta(minutes=60))
        reminders_send.delay()
        reminders_send.delay()

    bodies = [m.body for m in sent(Kind.REMINDER)]
    assert len(bodies) == 2
    assert bodies[0].startswith("Reminder: you are secondary on call for Ops xxx")
    assert bodies[0].endswith("from Mon 30 Nov 11:00 to Mon 30 Nov 23:00 (Australia/Lord_Howe)")
    assert sms_segments(bodies[0]) <= 2
    assert bodies[1] == (
        "Reminder: you are primary on call for Web from Mon 30 Nov 11:00 to Mon 30 Nov 23:00 (Australia/Lord_Howe)"
    )


# --- Hand-off notices in far zones, after outages, to and from nobody ---------------------------------------


@pytest.mark.parametrize(
    ("tz", "start_local", "handoffs_local"),
    [
        # Lord Howe springs forward by 30 minutes (02:00 -> 02:30) on 4 Oct: 02:15 does not exist that day.
        (
            "Australia/Lord_Howe",
            dt.datetime(2026, 10, 3, 2, 15),
            ["Sat 3 Oct 02:15", "Sun 4 Oct 02:30", "Mon 5 Oct 02:15"],
        ),
        # ... and falls back (02:00 -> 01:30) on 5 Apr: 01:45 happens twice, the first one counts.
        (
            "Australia/Lord_Howe",
            dt.datetime(2026, 4, 4, 1, 45),
            ["Sat 4 Apr 01:45", "Sun 5 Apr 01:45", "Mon 6 Apr 01:45"],
        ),
        ("America/St_Johns", dt.datetime(2026, 3, 7, 2, 30), ["Sat 7 Mar 02:30", "Sun 8 Mar 03:00", "Mon 9 Mar 02:30"]),
    ],
)
def test_handoffs_across_daylight_saving_in_far_zones_say_the_right_local_time(tz, start_local, handoffs_local):
    begin = at_local(tz, start_local.year, start_local.month, start_local.day, 0)
    with time_machine.travel(begin, tick=False) as traveller:
        team, (ana, bruno) = team_of(tz, "Ana", "Bruno", lead_minutes=0)
        rotation_of(
            team,
            [ana, bruno],
            name="Web primary",
            start_local=start_local,
            shift_length=dt.timedelta(days=1),
            now=begin,
        )
        tick = begin
        while tick < begin + dt.timedelta(days=3):
            traveller.move_to(tick)
            handoffs_notify.delay()
            tick += dt.timedelta(minutes=15)

    incoming = [m for m in sent(Kind.HANDOFF) if m.body.startswith("You are now")]
    local = [m.created_at.astimezone(ZoneInfo(tz)) for m in incoming]
    assert [f"{t:%a} {t.day} {t:%b %H:%M}" for t in local] == handoffs_local
    assert [m.body.split(" until ")[1] for m in incoming[:2]] == [
        f"{handoffs_local[1]} ({tz}).",
        f"{handoffs_local[2]} ({tz}).",
    ]
    assert len(sent(Kind.HANDOFF)) == 5  # 3 incoming, 2 outgoing: the first hand-off comes from nobody
    assert not sent(Kind.REMINDER)  # a lead time of 0 means no reminders


def test_no_handoff_notice_between_an_override_and_the_same_persons_shift_or_back_to_back_shifts():
    tz = "Asia/Kathmandu"
    with time_machine.travel(at_local(tz, 2026, 11, 30, 0), tick=False) as traveller:
        team, (ana, bruno) = team_of(tz, "Ana", "Bruno", lead_minutes=0)
        for day in (30, 1):
            month = 11 if day == 30 else 12
            start = at_local(tz, 2026, month, day, 9)
            shift(team, ana, start, start + dt.timedelta(days=1))
        override(team, ana, at_local(tz, 2026, 11, 30, 6), at_local(tz, 2026, 11, 30, 9))
        for hour in range(5, 11):
            traveller.move_to(at_local(tz, 2026, 11, 30, hour))
            handoffs_notify.delay()
        for hour in range(8, 11):
            traveller.move_to(at_local(tz, 2026, 12, 1, hour))
            handoffs_notify.delay()

    assert [(m.member, m.body) for m in sent(Kind.HANDOFF)] == [
        (ana, "You are now primary on call for Web until Wed 2 Dec 09:00 (Asia/Kathmandu).")
    ]


@pytest.mark.parametrize(("outage_minutes", "notified"), [(59, True), (61, False)])
def test_a_beat_outage_is_caught_up_for_an_hour_not_longer(outage_minutes, notified):
    handoff = at_local("Pacific/Chatham", 2026, 11, 30, 9)
    with time_machine.travel(handoff - dt.timedelta(hours=2), tick=False) as traveller:
        team, ana, bruno = ana_hands_over_to_bruno(handoff, lead_minutes=0)
        traveller.move_to(handoff - dt.timedelta(minutes=1))
        handoffs_notify.delay()
        # Beat is down from the hand-off on; the first tick after the outage comes `outage_minutes` later.
        traveller.move_to(handoff + dt.timedelta(minutes=outage_minutes))
        handoffs_notify.delay()
        handoffs_notify.delay()

    notices = sent(Kind.HANDOFF)
    if notified:
        assert sorted(m.member.name for m in notices) == ["Ana", "Bruno"]
    else:
        assert notices == []


def test_handoff_to_nobody_and_back_from_nobody():
    tz = "America/St_Johns"
    with time_machine.travel(at_local(tz, 2026, 11, 30, 8), tick=False) as traveller:
        team, (ana, bruno) = team_of(tz, "Ana", "Bruno", lead_minutes=0, Bruno="Pacific/Chatham")
        shift(team, ana, at_local(tz, 2026, 11, 29, 9), at_local(tz, 2026, 11, 30, 9))
        shift(team, bruno, at_local(tz, 2026, 11, 30, 12), at_local(tz, 2026, 11, 30, 20))
        for hour in (9, 12):
            traveller.move_to(at_local(tz, 2026, 11, 30, hour))
            handoffs_notify.delay()
            handoffs_notify.delay()

    assert [(m.member, m.body) for m in sent(Kind.HANDOFF)] == [
        (ana, "Your shift ended; nobody is primary on call for Web now."),
        (bruno, "You are now primary on call for Web until Tue 1 Dec 13:15 (Pacific/Chatham)."),
    ]


# --- Gap alerts in each lead's own zone ---------------------------------------------------------------------


def test_a_gap_alert_shows_the_times_in_each_leads_own_time_zone():
    tz = "Asia/Kathmandu"
    with time_machine.travel(at_local(tz, 2026, 11, 30, 0), tick=False):
        team, (ana,) = team_of(tz, "Ana")
        lead = MemberFactory(name="Lea", timezone="America/St_Johns")
        MembershipFactory(team=team, member=lead, role=TeamMembership.Role.LEAD)
        shift(team, ana, at_local(tz, 2026, 11, 30, 0), at_local(tz, 2026, 12, 1, 9))
        shift(team, ana, at_local(tz, 2026, 12, 1, 12), at_local(tz, 2026, 12, 20, 0))
        gaps_alert.delay()
        gaps_alert.delay()

    [alert] = sent(Kind.GAP_ALERT)
    assert alert.member == lead
    assert alert.body == (
        "Web has no primary on call from Mon 30 Nov 23:45 to Tue 1 Dec 02:45 (America/St_Johns). "
        "Please add a shift or an override."
    )


# --- Two workers at once, for real (PostgreSQL: row locks and unique constraints under concurrency) ---------


def _on_two_threads(work) -> list:
    """Run `work` on two threads released together; each has its own database connection."""
    from django.db import connection

    barrier, results, errors = threading.Barrier(2), [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(work())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


@pytest.mark.django_db(transaction=True)
def test_two_workers_running_the_same_tick_send_each_message_and_page_once(settings):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("Needs PostgreSQL: SQLite serialises writers, so nothing would race.")
    handoff = at_local("Pacific/Chatham", 2026, 11, 30, 9)
    with time_machine.travel(handoff - dt.timedelta(hours=2), tick=False) as traveller:
        team, ana, bruno = ana_hands_over_to_bruno(handoff, lead_minutes=60)
        shift(team, ana, handoff - dt.timedelta(days=1), handoff + dt.timedelta(days=1), role=Role.SECONDARY)
        traveller.move_to(handoff - dt.timedelta(minutes=60))
        _on_two_threads(reminders_send)
        traveller.move_to(handoff)
        _on_two_threads(handoffs_notify)
        alert, _ = alerts.alert_raise(team=team, summary="website is down")
        traveller.move_to(handoff + dt.timedelta(minutes=team.ack_timeout_minutes))
        _on_two_threads(alerts_escalate)

    assert [m.member for m in sent(Kind.REMINDER)] == [bruno]
    assert sorted(m.member.name for m in sent(Kind.HANDOFF)) == ["Ana", "Bruno"]
    # Bruno is primary, Ana secondary: the escalation reaches Ana once, however many workers ran the tick.
    assert [m.member for m in sent(Kind.ALERT)] == [bruno, ana]
