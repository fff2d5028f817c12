"""Review of the SMS outbox, beat notifications and alerts at their edges: far time zones, overrides that
cover shifts, odd Twilio answers, alerts nobody can take, and timeouts changed during an incident."""

import datetime as dt
import email.utils
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
import time_machine

from teams import services
from teams.models import Role, TeamMembership
from telephony import alerts
from telephony.models import Alert, AlertEvent, OutboundMessage
from telephony.sms import sms_deliver_attempt, sms_send
from telephony.sms_text import sms_segments
from telephony.tasks.alerts import alerts_escalate
from telephony.tasks.rota import gaps_alert, handoffs_notify, reminders_send
from tests.factories import MemberFactory, MembershipFactory, ShiftFactory, TeamFactory, UserFactory
from tests.fake_twilio import TwilioError
from tests.twilio_helpers import post_signed

pytestmark = pytest.mark.django_db

Status = OutboundMessage.Status
Kind = OutboundMessage.Kind


def at(tz: str, *args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)


def sent(kind) -> list[OutboundMessage]:
    return list(OutboundMessage.objects.filter(kind=kind).select_related("member").order_by("created_at", "pk"))


def team_of(tz: str, *names: str, lead_minutes: int = 1440, **member_tz):
    team = TeamFactory(name="Web", timezone=tz, reminder_lead_minutes=lead_minutes)
    members = []
    for name in names:
        member = MemberFactory(name=name, timezone=member_tz.get(name, ""))
        MembershipFactory(team=team, member=member)
        members.append(member)
    return team, members


# --- Reminders and overrides -----------------------------------------------------------------------------


def test_an_override_covering_a_whole_shift_reminds_only_the_person_covering():
    tz = "Pacific/Chatham"  # +13:45
    with time_machine.travel(at(tz, 2026, 11, 28, 0), tick=False) as traveller:
        team, (ana, bruno) = team_of(tz, "Ana", "Bruno", Bruno="Asia/Kathmandu")
        start, end = at(tz, 2026, 11, 30, 9), at(tz, 2026, 12, 1, 9)
        services.shift_create(team=team, role=Role.PRIMARY, member=ana, start=start, end=end)
        services.override_create(team=team, role=Role.PRIMARY, member=bruno, start=start, end=end)
        traveller.move_to(start - dt.timedelta(days=1))
        reminders_send.delay()
        reminders_send.delay()

    # Ana is not on call at all: telling her she is would have her wait by the phone for nothing.
    assert [(m.member, m.body) for m in sent(Kind.REMINDER)] == [
        (bruno, "Reminder: you cover primary on call for Web from Mon 30 Nov 01:00 to Tue 1 Dec 01:00 (Asia/Kathmandu)")
    ]


def test_an_override_covering_the_start_of_a_shift_reminds_its_owner_of_when_they_really_start():
    tz = "America/St_Johns"  # -03:30
    with time_machine.travel(at(tz, 2026, 11, 28, 0), tick=False) as traveller:
        team, (ana, bruno) = team_of(tz, "Ana", "Bruno", lead_minutes=120)
        services.shift_create(
            team=team, role=Role.PRIMARY, member=ana, start=at(tz, 2026, 11, 30, 9), end=at(tz, 2026, 12, 1, 9)
        )
        services.override_create(
            team=team, role=Role.PRIMARY, member=bruno, start=at(tz, 2026, 11, 30, 9), end=at(tz, 2026, 11, 30, 13)
        )
        # Two hours before the shift's own start Ana hears nothing: she is not on call until 13:00.
        traveller.move_to(at(tz, 2026, 11, 30, 7))
        reminders_send.delay()
        assert [m.member for m in sent(Kind.REMINDER)] == [bruno]
        traveller.move_to(at(tz, 2026, 11, 30, 11))
        reminders_send.delay()
        reminders_send.delay()

    ana_reminders = [m for m in sent(Kind.REMINDER) if m.member == ana]
    assert [m.body for m in ana_reminders] == [
        "Reminder: you are primary on call for Web from Mon 30 Nov 13:00 to Tue 1 Dec 09:00 (America/St_Johns)"
    ]
    assert ana_reminders[0].created_at == at(tz, 2026, 11, 30, 11)


def test_a_member_on_call_for_two_teams_gets_a_reminder_for_each_in_their_own_zone():
    with time_machine.travel(at("UTC", 2026, 11, 29, 0), tick=False) as traveller:
        web, (ana,) = team_of("Pacific/Kiritimati", "Ana", lead_minutes=60, Ana="Australia/Lord_Howe")
        ops = TeamFactory(name="Ops " + "x" * 96, timezone="Asia/Kathmandu", reminder_lead_minutes=60 * 24 * 3)
        MembershipFactory(team=ops, member=ana)
        start, end = at("UTC", 2026, 11, 30, 0), at("UTC", 2026, 11, 30, 12)
        services.shift_create(team=web, role=Role.PRIMARY, member=ana, start=start, end=end)
        services.shift_create(team=ops, role=Role.SECONDARY, member=ana, start=start, end=end)
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


# --- Hand-off notices ----------------------------------------------------------------------------------


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
    begin = at(tz, start_local.year, start_local.month, start_local.day, 0)
    with time_machine.travel(begin, tick=False) as traveller:
        team, (ana, bruno) = team_of(tz, "Ana", "Bruno", lead_minutes=0)
        services.rotation_create(
            team=team,
            name="Web primary",
            role=Role.PRIMARY,
            member_ids=[ana.pk, bruno.pk],
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
    with time_machine.travel(at(tz, 2026, 11, 30, 0), tick=False) as traveller:
        team, (ana, bruno) = team_of(tz, "Ana", "Bruno", lead_minutes=0)
        for day in (30, 1):
            month = 11 if day == 30 else 12
            start = at(tz, 2026, month, day, 9)
            services.shift_create(
                team=team, role=Role.PRIMARY, member=ana, start=start, end=start + dt.timedelta(days=1)
            )
        services.override_create(
            team=team, role=Role.PRIMARY, member=ana, start=at(tz, 2026, 11, 30, 6), end=at(tz, 2026, 11, 30, 9)
        )
        for hour in range(5, 11):
            traveller.move_to(at(tz, 2026, 11, 30, hour))
            handoffs_notify.delay()
        for hour in range(8, 11):
            traveller.move_to(at(tz, 2026, 12, 1, hour))
            handoffs_notify.delay()

    assert [(m.member, m.body) for m in sent(Kind.HANDOFF)] == [
        (ana, "You are now primary on call for Web until Wed 2 Dec 09:00 (Asia/Kathmandu).")
    ]


@pytest.mark.parametrize(("outage_minutes", "notified"), [(59, True), (61, False)])
def test_a_beat_outage_is_caught_up_for_an_hour_not_longer(outage_minutes, notified):
    tz = "Pacific/Chatham"
    handoff = at(tz, 2026, 11, 30, 9)
    with time_machine.travel(handoff - dt.timedelta(hours=2), tick=False) as traveller:
        team, (ana, bruno) = team_of(tz, "Ana", "Bruno", lead_minutes=0)
        services.shift_create(
            team=team, role=Role.PRIMARY, member=ana, start=handoff - dt.timedelta(days=1), end=handoff
        )
        services.shift_create(
            team=team, role=Role.PRIMARY, member=bruno, start=handoff, end=handoff + dt.timedelta(days=1)
        )
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
    with time_machine.travel(at(tz, 2026, 11, 30, 8), tick=False) as traveller:
        team, (ana, bruno) = team_of(tz, "Ana", "Bruno", lead_minutes=0, Bruno="Pacific/Chatham")
        services.shift_create(
            team=team, role=Role.PRIMARY, member=ana, start=at(tz, 2026, 11, 29, 9), end=at(tz, 2026, 11, 30, 9)
        )
        services.shift_create(
            team=team, role=Role.PRIMARY, member=bruno, start=at(tz, 2026, 11, 30, 12), end=at(tz, 2026, 11, 30, 20)
        )
        for hour in (9, 12):
            traveller.move_to(at(tz, 2026, 11, 30, hour))
            handoffs_notify.delay()
            handoffs_notify.delay()

    assert [(m.member, m.body) for m in sent(Kind.HANDOFF)] == [
        (ana, "Your shift ended; nobody is primary on call for Web now."),
        (bruno, "You are now primary on call for Web until Tue 1 Dec 13:15 (Pacific/Chatham)."),
    ]


# --- Gap alerts ----------------------------------------------------------------------------------------


def test_a_gap_alert_shows_the_times_in_each_leads_own_time_zone():
    tz = "Asia/Kathmandu"
    with time_machine.travel(at(tz, 2026, 11, 30, 0), tick=False):
        team, (ana,) = team_of(tz, "Ana")
        lead = MemberFactory(name="Lea", timezone="America/St_Johns")
        MembershipFactory(team=team, member=lead, role=TeamMembership.Role.LEAD)
        services.shift_create(
            team=team, role=Role.PRIMARY, member=ana, start=at(tz, 2026, 11, 30, 0), end=at(tz, 2026, 12, 1, 9)
        )
        services.shift_create(
            team=team, role=Role.PRIMARY, member=ana, start=at(tz, 2026, 12, 1, 12), end=at(tz, 2026, 12, 20, 0)
        )
        gaps_alert.delay()
        gaps_alert.delay()

    [alert] = sent(Kind.GAP_ALERT)
    assert alert.member == lead
    assert alert.body == (
        "Web has no primary on call from Mon 30 Nov 23:45 to Tue 1 Dec 02:45 (America/St_Johns). "
        "Please add a shift or an override."
    )


# --- The Twilio backend and the status callback -------------------------------------------------------


class ProblemDetails(TwilioError):
    """An RFC-9457 error body, which twilio-python raises as TwilioServiceException (not TwilioRestException)."""

    def body(self) -> dict:
        return {
            "type": f"https://www.twilio.com/docs/errors/{self.code}",
            "title": "Request failed",
            "status": self.status,
            "code": self.code,
            "detail": self.message or "Details of the problem",
        }


@pytest.mark.parametrize(
    ("error", "status", "retried"),
    [
        (ProblemDetails(400, 21211, "The 'To' number is not valid."), Status.FAILED, False),
        (ProblemDetails(429, 20429), Status.QUEUED, True),
        (ProblemDetails(503, 20503), Status.QUEUED, True),
    ],
)
def test_rfc9457_error_bodies_are_classified_like_classic_ones(fake_twilio, error, status, retried):
    fake_twilio.script(error)
    message = OutboundMessage.objects.create(to="+4915100000001", body="Zoë", kind="test", dedupe_key="rfc")
    outcome = sms_deliver_attempt(message_id=message.pk)
    message.refresh_from_db()
    assert (message.status, message.error_code) == (status, str(error.code))
    assert (outcome.retry_in is not None) == retried
    assert len(fake_twilio.message_creates) == 1


@pytest.fixture
def twilio_says_slow_down(settings):
    """A Twilio stand-in that answers every request 429 with a Retry-After header (set `.retry_after`)."""

    class Handler(BaseHTTPRequestHandler):
        retry_after = "120"

        def log_message(self, format, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps(TwilioError(429, 20429, "Too Many Requests").body()).encode()
            self.send_response(429)
            self.send_header("Content-Type", "application/json")
            self.send_header("Retry-After", Handler.retry_after)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{server.server_address[1]}"
    settings.SMS_BACKEND = "twilio"
    yield Handler
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_a_429_with_retry_after_is_not_retried_sooner(twilio_says_slow_down, form):
    if form == "http-date":
        later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=300)
        twilio_says_slow_down.retry_after = email.utils.format_datetime(later, usegmt=True)
        wanted = 295
    else:
        wanted = 120
    message = OutboundMessage.objects.create(to="+4915100000001", body="hi", kind="test", dedupe_key="slow")
    outcome = sms_deliver_attempt(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == Status.QUEUED
    assert message.error_code == "20429"
    assert outcome.retry_in >= wanted
    assert message.next_attempt_at >= message.updated_at + dt.timedelta(seconds=wanted)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"MessageStatus": "delivered"},
        {"MessageSid": "SMunknown", "MessageStatus": "delivered"},
        {"MessageSid": "{sid}"},
        *({"MessageSid": "{sid}", "MessageStatus": s} for s in ("receiving", "received", "garbage", "", "DELIVERED!")),
        {"MessageSid": "{sid}\x00", "MessageStatus": "failed", "ErrorCode": "x" * 500},
        {"MessageSid": "S" * 5000, "MessageStatus": "read"},
    ],
)
def test_the_status_callback_never_500s_and_ignores_what_it_cannot_use(client, params):
    row = OutboundMessage.objects.create(
        to="+4915100000001", body="hi", kind="test", dedupe_key="cb", status=Status.SENT, message_sid="SM" + "a" * 32
    )
    params = {name: value.replace("{sid}", row.message_sid) for name, value in params.items()}
    response = post_signed(client, "/telephony/sms/status/", params)
    assert response.status_code == 204
    row.refresh_from_db()
    assert row.status == Status.SENT


@pytest.mark.parametrize(
    ("sequence", "final", "code"),
    [
        (["accepted", "scheduled", "queued", "sent", "delivered"], Status.DELIVERED, ""),
        (["delivered", "sent", "queued", "undelivered"], Status.DELIVERED, ""),
        (["read", "delivered", "failed"], Status.DELIVERED, ""),
        (["undelivered", "delivered", "sent"], Status.UNDELIVERED, "30003"),
        (["canceled", "sent"], Status.FAILED, "30003"),
    ],
)
def test_status_callbacks_in_any_order_only_move_forward(client, sequence, final, code):
    row = OutboundMessage.objects.create(
        to="+4915100000001",
        body="hi",
        kind="test",
        dedupe_key="cb",
        status=Status.SENT,
        message_sid="SM" + "abc" * 10 + "ab",
    )
    for status in sequence:
        for _ in range(2):
            response = post_signed(
                client,
                "/telephony/sms/status/",
                {"MessageSid": "SM" + "abc" * 10 + "ab", "MessageStatus": status, "ErrorCode": "30003"},
            )
            assert response.status_code == 204
    row.refresh_from_db()
    assert (row.status, row.error_code) == (final, code)


def test_non_latin_names_and_emoji_stay_within_two_segments():
    body = "Voicemail for " + "Zoë Łukasz Иван 李 🚨 " * 40
    message = sms_send(to="+4915100000001", body=body, kind="voicemail", dedupe_key="vm")
    assert sms_segments(message.body) == 2
    assert message.body.endswith("[cut]")
    assert "\ud83d" not in message.body  # no half of a surrogate pair


# --- Alerts --------------------------------------------------------------------------------------------

NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)


def escalate_at(clock, minutes: float) -> None:
    clock.move_to(NOW + dt.timedelta(minutes=minutes))
    alerts_escalate.delay()


def test_an_alert_nobody_can_take_waits_for_whoever_comes_on_call_without_looping():
    with time_machine.travel(NOW, tick=False) as clock:
        team = TeamFactory(name="Web")
        alert, _ = alerts.alert_raise(team=team, summary="website is down")
        for minute in range(1, 31):
            escalate_at(clock, minute)
        assert not OutboundMessage.objects.exists()
        assert list(alert.events.values_list("action", flat=True)) == ["raised", "unreachable"]

        # Ana's shift starts: the alert reaches her at the next look, as a first page.
        ana = MemberFactory(name="Ana")
        MembershipFactory(team=team, member=ana)
        ShiftFactory(
            team=team,
            role=Role.PRIMARY,
            member=ana,
            start=NOW + dt.timedelta(minutes=31),
            end=NOW + dt.timedelta(days=1),
        )
        for minute in range(31, 40):
            escalate_at(clock, minute)

    [page] = sent(Kind.ALERT)
    assert page.member == ana
    assert page.body == f"[Web] ALERT {alert.pk}: website is down - reply ACK {alert.pk}"
    alert.refresh_from_db()
    assert alert.state == Alert.State.OPEN
    assert alert.escalation_step == 1


@pytest.mark.parametrize(("before", "after", "escalates_at"), [(30, 5, 5), (5, 30, 30)])
def test_changing_ack_timeout_applies_to_alerts_already_open(before, after, escalates_at):
    with time_machine.travel(NOW, tick=False) as clock:
        team = TeamFactory(name="Web", ack_timeout_minutes=before)
        primary, secondary = MemberFactory(), MemberFactory()
        for member, role in ((primary, Role.PRIMARY), (secondary, Role.SECONDARY)):
            MembershipFactory(team=team, member=member)
            ShiftFactory(team=team, role=role, member=member, start=NOW - dt.timedelta(hours=1))
        alerts.alert_raise(team=team, summary="disk full")
        escalate_at(clock, 1)
        team.ack_timeout_minutes = after
        team.save()
        for minute in range(2, escalates_at):
            escalate_at(clock, minute)
        assert [m.member for m in sent(Kind.ALERT)] == [primary]
        escalate_at(clock, escalates_at)
        escalate_at(clock, escalates_at)
    assert [m.member for m in sent(Kind.ALERT)] == [primary, secondary]


def test_a_10000_character_unicode_summary_pages_within_two_segments_and_ack_after_resolve_is_harmless():
    with time_machine.travel(NOW, tick=False):
        team = TeamFactory(name="W" * 100)
        lead = MemberFactory(name="Łukasz", user=UserFactory(username="lukasz"))
        MembershipFactory(team=team, member=lead, role=TeamMembership.Role.LEAD)
        alert, _ = alerts.alert_raise(team=team, summary=("Иван 李 🚨 " * 2000)[:10000])
        assert alerts.alert_sms_command(member=lead, action="RESOLVE", alert_id=alert.pk) == (
            f"ALERT {alert.pk} resolved. Thank you."
        )
        assert alerts.alert_sms_command(member=lead, action="ACK", alert_id=alert.pk) == (
            f"ALERT {alert.pk} is already resolved."
        )
    alert.refresh_from_db()
    assert len(alert.summary) == 200
    assert alert.details == " ".join(("Иван 李 🚨 " * 2000)[:10000].split())
    [page] = sent(Kind.ALERT)
    assert sms_segments(page.body) <= 2
    assert page.body.endswith(f"reply ACK {alert.pk}")
    assert list(AlertEvent.objects.filter(alert=alert).values_list("action", flat=True)) == [
        "raised",
        "paged",
        "resolved",
    ]


# --- Two workers at once, for real (PostgreSQL: row locks and unique constraints under concurrency) -------


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
    tz = "Pacific/Chatham"
    handoff = at(tz, 2026, 11, 30, 9)
    with time_machine.travel(handoff - dt.timedelta(hours=2), tick=False) as traveller:
        team, (ana, bruno) = team_of(tz, "Ana", "Bruno", lead_minutes=60)
        services.shift_create(
            team=team, role=Role.PRIMARY, member=ana, start=handoff - dt.timedelta(days=1), end=handoff
        )
        services.shift_create(
            team=team, role=Role.PRIMARY, member=bruno, start=handoff, end=handoff + dt.timedelta(days=1)
        )
        services.shift_create(
            team=team,
            role=Role.SECONDARY,
            member=ana,
            start=handoff - dt.timedelta(days=1),
            end=handoff + dt.timedelta(days=1),
        )
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


@pytest.mark.django_db
def test_a_monitor_alert_with_a_huge_summary_and_details_still_pages(client):
    from teams.services import token_create
    from telephony.models import Alert as _Alert
    from telephony.models import OutboundMessage as _Message
    from tests.factories import ShiftFactory as _Shift
    from tests.factories import team_with_members as _team

    team, (ana,) = _team(1, slug="huge", name="Huge")
    now = dt.datetime.now(dt.UTC)
    _Shift(team=team, member=ana, start=now - dt.timedelta(hours=1), end=now + dt.timedelta(hours=1))
    key, _ = token_create(team=team, scope="alerts")
    response = client.post(
        f"/api/v1/teams/{team.slug}/alerts/",
        {"summary": "disk full " * 1000, "details": "x" * 50_000},
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code == 201, response.content[:500]
    alert = _Alert.objects.get()
    assert len(alert.summary) <= 200 and alert.details.startswith("disk full")
    assert _Message.objects.filter(kind="alert", to=ana.phone).count() == 1
