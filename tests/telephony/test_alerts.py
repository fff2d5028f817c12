"""Alert paging and escalation: who gets texted, when, and how often."""

import datetime as dt
from types import SimpleNamespace

import pytest
import time_machine

from teams.models import Role, TeamMembership
from telephony import alerts
from telephony.models import Alert, AlertEvent, OutboundMessage
from telephony.sms_text import sms_segments
from telephony.tasks.alerts import alerts_escalate
from tests.factories import MemberFactory, MembershipFactory, ShiftFactory, TeamFactory, UserFactory, team_with_members
from tests.telephony.world import NOW, sent
from tests.twilio_helpers import post_signed

pytestmark = pytest.mark.usefixtures("celery_eager")

Kind = OutboundMessage.Kind


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Leads are made with a password; the production hasher would take most of the test's time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def web(db, clock):
    """Team Web: a lead (with a login), a primary and a secondary on call all week."""
    team, (lead, primary, secondary) = team_with_members(3, lead_user=UserFactory(username="lea"), name="Web")
    ShiftFactory(team=team, role=Role.PRIMARY, member=primary)
    ShiftFactory(team=team, role=Role.SECONDARY, member=secondary)
    return SimpleNamespace(team=team, lead=lead, primary=primary, secondary=secondary)


def pages() -> list[OutboundMessage]:
    return list(OutboundMessage.objects.filter(kind=OutboundMessage.Kind.ALERT).order_by("pk"))


def recipients() -> list[str]:
    return [message.to for message in pages()]


def tick(clock, minutes: float) -> None:
    """Move the clock to NOW + minutes and run the beat task (eager in tests)."""
    clock.move_to(NOW + dt.timedelta(minutes=minutes))
    alerts_escalate.delay()


def test_an_alert_pages_the_primary_once(web, clock):
    alert, created = alerts.alert_raise(team=web.team, summary="website is down", source="monit")

    assert created
    assert recipients() == [web.primary.phone]
    assert pages()[0].body == f"[Web] ALERT {alert.pk}: website is down - reply ACK {alert.pk}"
    assert pages()[0].member == web.primary
    tick(clock, 1)  # not due yet
    assert recipients() == [web.primary.phone]
    assert alert.events.filter(action="raised").count() == 1


def test_a_duplicate_alert_pages_nobody(web):
    first, _ = alerts.alert_raise(team=web.team, summary="website is down", dedupe_key="web-http")
    again, created = alerts.alert_raise(team=web.team, summary="website is down", dedupe_key="web-http")

    assert not created
    assert again.pk == first.pk
    assert again.occurrences == 2
    assert Alert.objects.count() == 1
    assert recipients() == [web.primary.phone]


def test_without_ack_the_chain_moves_on_each_step_once(web, clock):
    alert, _ = alerts.alert_raise(team=web.team, summary="website is down")

    tick(clock, 4)
    assert recipients() == [web.primary.phone]
    tick(clock, 5)
    assert recipients() == [web.primary.phone, web.secondary.phone]
    assert pages()[-1].body == f"[Web] ALERT {alert.pk} (not acknowledged yet): website is down - reply ACK {alert.pk}"
    tick(clock, 5.5)  # a second tick (or a second worker) in the same step pages nobody
    tick(clock, 9)
    assert recipients() == [web.primary.phone, web.secondary.phone]
    tick(clock, 10)
    assert recipients() == [web.primary.phone, web.secondary.phone, web.lead.phone]
    assert "(not acknowledged yet)" in pages()[-1].body
    tick(clock, 15)
    assert recipients() == [web.primary.phone, web.secondary.phone, web.lead.phone, web.lead.phone]
    assert "still not acknowledged by anyone" in pages()[-1].body
    for minutes in (20, 60, 600):
        tick(clock, minutes)
    assert len(pages()) == 4
    alert.refresh_from_db()
    assert alert.state == Alert.State.OPEN
    assert alert.next_escalation_at is None


def test_the_timeout_is_the_teams(web, clock):
    web.team.ack_timeout_minutes = 15
    web.team.save()
    alerts.alert_raise(team=web.team, summary="disk full")

    tick(clock, 14)
    assert len(pages()) == 1
    tick(clock, 15)
    assert recipients()[-1] == web.secondary.phone


def test_nobody_on_call_as_primary_pages_the_secondary_then_the_leads(db, clock):
    team, (lead, secondary) = team_with_members(2, lead_user=UserFactory(username="lina"), name="Ops")
    ShiftFactory(team=team, role=Role.SECONDARY, member=secondary)

    alerts.alert_raise(team=team, summary="queue backlog")
    assert recipients() == [secondary.phone]
    tick(clock, 5)
    assert recipients() == [secondary.phone, lead.phone]


def test_nobody_on_call_pages_the_leads(db, clock):
    team, (lead, _) = team_with_members(2, lead_user=UserFactory(username="lotte"), name="Ops")
    other_lead = MemberFactory(user=UserFactory(username="lars"))
    MembershipFactory(team=team, member=other_lead, role=TeamMembership.Role.LEAD)

    alert, _ = alerts.alert_raise(team=team, summary="queue backlog")

    assert sorted(recipients()) == sorted([lead.phone, other_lead.phone])
    assert pages()[0].body == f"[Ops] ALERT {alert.pk}: queue backlog - reply ACK {alert.pk}"


def test_an_opted_out_primary_is_skipped_at_once(web):
    web.primary.sms_opted_out_at = NOW
    web.primary.save()

    alerts.alert_raise(team=web.team, summary="website is down")

    assert recipients() == [web.secondary.phone]


def test_ack_by_sms_stops_the_escalation(web, clock):
    alert, _ = alerts.alert_raise(team=web.team, summary="website is down")

    reply = alerts.alert_sms_command(member=web.primary, action="ACK", alert_id=alert.pk)

    assert reply.startswith(f"ALERT {alert.pk} acknowledged")
    alert.refresh_from_db()
    assert alert.state == Alert.State.ACKNOWLEDGED
    assert alert.acknowledged_by == web.primary.name
    assert alert.acknowledged_at == NOW
    event = alert.events.get(action="acknowledged")
    assert event.member == web.primary
    assert "SMS" in event.detail
    for minutes in (5, 10, 15, 60):
        tick(clock, minutes)
    assert recipients() == [web.primary.phone]
    # A second ACK changes nothing and says who had it.
    assert "already acknowledged by" in alerts.alert_sms_command(member=web.secondary, action="ack", alert_id=alert.pk)
    assert alert.events.filter(action="acknowledged").count() == 1


def test_resolve_by_sms_closes_the_alert_and_tells_the_paged(web, clock):
    alert, _ = alerts.alert_raise(team=web.team, summary="website is down", dedupe_key="web")

    reply = alerts.alert_sms_command(member=web.secondary, action="RESOLVE", alert_id=alert.pk)

    assert reply == f"ALERT {alert.pk} resolved. Thank you."
    alert.refresh_from_db()
    assert (alert.state, alert.resolved_by) == (Alert.State.RESOLVED, web.secondary.name)
    # The primary who was woken up learns that they can go back to sleep.
    assert recipients() == [web.primary.phone, web.primary.phone]
    assert pages()[-1].body == f"[Web] ALERT {alert.pk} resolved by {web.secondary.name}: website is down"
    tick(clock, 5)
    assert len(pages()) == 2
    # The key is free again: the next failure is a new alert that pages again.
    again, created = alerts.alert_raise(team=web.team, summary="website is down", dedupe_key="web")
    assert created and again.pk != alert.pk
    assert len(pages()) == 3


def test_an_ack_after_escalation_tells_the_others_who_were_paged(web, clock):
    alert, _ = alerts.alert_raise(team=web.team, summary="website is down")
    tick(clock, 5)

    alerts.alert_sms_command(member=web.primary, action="ACK", alert_id=alert.pk)

    assert recipients() == [web.primary.phone, web.secondary.phone, web.secondary.phone]
    assert pages()[-1].body == f"[Web] ALERT {alert.pk} acknowledged by {web.primary.name}: website is down"


def test_a_paged_person_who_opted_out_since_is_not_told_of_the_ack(web, clock):
    alert, _ = alerts.alert_raise(team=web.team, summary="website is down")
    tick(clock, 5)
    web.primary.sms_opted_out_at = NOW
    web.primary.save(update_fields=["sms_opted_out_at"])

    alerts.alert_sms_command(member=web.secondary, action="ACK", alert_id=alert.pk)

    # The secondary acted and the primary said STOP: nobody is left to tell, not even a skipped row.
    assert recipients() == [web.primary.phone, web.secondary.phone]


def test_ack_from_a_member_of_another_team_does_nothing(web, clock):
    alert, _ = alerts.alert_raise(team=web.team, summary="website is down")
    _, (stranger,) = team_with_members(1, name="Billing")

    reply = alerts.alert_sms_command(member=stranger, action="ACK", alert_id=alert.pk)

    # The same answer as for an id that does not exist: the text reveals nothing.
    assert reply == alerts.alert_sms_command(member=stranger, action="ACK", alert_id=999999).replace(
        "999999", str(alert.pk)
    )
    alert.refresh_from_db()
    assert alert.state == Alert.State.OPEN
    assert not alert.events.filter(action="acknowledged").exists()
    tick(clock, 5)
    assert recipients()[-1] == web.secondary.phone


def test_unknown_sms_command_gets_help(web):
    assert "ACK <id>" in alerts.alert_sms_command(member=web.primary, action="SNOOZE", alert_id=1)


def test_the_cap_holds_back_pages_and_the_next_page_says_so(web, clock):
    web.team.alert_pages_per_hour = 3
    web.team.save()
    raised = [alerts.alert_raise(team=web.team, summary=f"check {n} failed")[0] for n in range(5)]

    assert len(pages()) == 3
    held = [alert for alert in Alert.objects.order_by("pk") if alert.pages_held_back]
    assert [a.pk for a in held] == [raised[3].pk, raised[4].pk]
    assert AlertEvent.objects.filter(action="held_back").count() == 2

    # A rolling hour later the cap has room; the next page tells how many were held back.
    clock.move_to(NOW + dt.timedelta(minutes=61))
    alert, _ = alerts.alert_raise(team=web.team, summary="website is down")
    assert pages()[-1].body.endswith(f"reply ACK {alert.pk} (+2 pages held back by the 3/h cap)")
    # ... and only that page: the following one has nothing new to tell.
    alerts.alert_raise(team=web.team, summary="disk full")
    assert "held back" not in pages()[-1].body


def test_a_page_is_gsm7_and_a_long_summary_is_cut_keeping_the_reply_hint(web):
    dashed, _ = alerts.alert_raise(team=web.team, summary="website is down \u2013 HTTP 502")
    long, _ = alerts.alert_raise(team=web.team, summary="\u0441\u0430\u0439\u0442 " * 40)

    assert pages()[0].body == f"[Web] ALERT {dashed.pk}: website is down - HTTP 502 - reply ACK {dashed.pk}"
    body = pages()[1].body
    assert sms_segments(body) <= 2
    assert "[cut]" in body
    assert body.endswith(f" - reply ACK {long.pk}")


def test_two_workers_escalating_the_same_alert_page_once(web, clock):
    alert, _ = alerts.alert_raise(team=web.team, summary="website is down")
    clock.move_to(NOW + dt.timedelta(minutes=5))

    first = alerts.alert_escalate(alert_id=alert.pk, now=NOW + dt.timedelta(minutes=5))
    second = alerts.alert_escalate(alert_id=alert.pk, now=NOW + dt.timedelta(minutes=5))

    assert (first, second) == (True, False)
    assert recipients() == [web.primary.phone, web.secondary.phone]


def test_ack_posted_as_twilio_would_stops_the_escalation(web, clock, client):
    from tests.factories import SupportNumberFactory

    number = SupportNumberFactory(team=web.team)
    alert, _ = alerts.alert_raise(team=web.team, summary="website is down")

    response = post_signed(
        client,
        "/telephony/sms/incoming/",
        {
            "From": web.primary.phone,
            "To": number.phone_number,
            "Body": f"ack {alert.pk}",
            "MessageSid": "SM" + "1" * 32,
        },
    )

    assert response.status_code == 200
    assert f"ALERT {alert.pk} acknowledged" in response.content.decode()
    alert.refresh_from_db()
    assert alert.state == Alert.State.ACKNOWLEDGED
    tick(clock, 5)
    assert recipients() == [web.primary.phone]


# --- Alerts nobody can take, timeouts changed mid-incident, huge summaries ----------------------------------


def escalate_at(clock, minutes: float) -> None:
    clock.move_to(NOW + dt.timedelta(minutes=minutes))
    alerts_escalate.delay()


@pytest.mark.django_db
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


@pytest.mark.django_db
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


@pytest.mark.django_db
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
