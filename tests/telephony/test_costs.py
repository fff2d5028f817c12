"""What the line costs: calls and SMS walked as Twilio walks them, prices read from the fake Twilio, usage/."""

import datetime as dt
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from telephony import costs
from telephony.models import Call, Charge, OutboundMessage
from telephony.sms import sms_send
from telephony.tasks.costs import charge_prices_sweep
from tests.factories import UserFactory
from tests.telephony.world import NOW, TwilioCall, sid


@pytest.fixture
def priced(settings, fake_twilio, celery_eager):
    """The fake Twilio answers price look-ups; look-ups are on."""
    settings.TWILIO_PRICE_LOOKUPS = True
    return fake_twilio


def usage(user, team, **params):
    client = APIClient()
    client.force_authenticate(user)
    return client.get(f"/api/v1/teams/{team.slug}/usage/", params)


def ended_call(team, *, seconds: int, started_at=None) -> Call:
    call = Call.objects.create(team=team, call_sid=sid("CA"), duration_seconds=seconds, outcome="answered")
    if started_at is not None:
        Call.objects.filter(pk=call.pk).update(started_at=started_at)
        call.refresh_from_db()
    return call


def answered_call(twilio, fake, *, seconds: int, leg_seconds: int, price=None, leg_price=None):
    """A call the primary accepts, then hangs up after `seconds`; the fake knows both legs and their prices."""
    call = twilio()
    leg_sid = sid("CA")
    fake.call(call.call_sid, duration=seconds, price=price)
    fake.call(leg_sid, duration=leg_seconds, price=leg_price, parent_call_sid=call.call_sid)
    root = call.incoming()
    call.leg(root.find("Dial"), "accept", child_sid=leg_sid, seconds=leg_seconds)
    call.status("completed", seconds)
    return call, leg_sid


def test_usage_shows_twilios_prices_once_the_fake_reports_them(
    web, twilio, priced, clock, client, django_capture_on_commit_callbacks
):
    # Twilio has rated the first call at once; the second call's leg and the SMS only minutes later.
    first, first_leg = answered_call(
        twilio, priced, seconds=125, leg_seconds=110, price="-0.03000", leg_price="-0.66000"
    )
    second, second_leg = answered_call(twilio, priced, seconds=61, leg_seconds=50, price="-0.02000")
    with django_capture_on_commit_callbacks(execute=True):
        message = sms_send(to=web.primary.phone, body="Test", kind="test", dedupe_key="t1", team=web.team)
    message.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        priced.status_callback(message.message_sid, "delivered", client=client)

    lead_user = web.lead.user
    before = usage(lead_user, web.team, month="2026-12").json()
    assert before["calls_in"] == 2
    assert (before["minutes_in"], before["forward_legs"], before["minutes_forwarded"]) == (3 + 2, 2, 2 + 1)
    assert (before["sms_sent"], before["sms_segments"]) == (1, 1)
    # Known so far: both inbound calls and the first leg; the second leg and the SMS are estimates.
    assert before["cost"] == {"actual": "0.71000", "estimated": "1.05200", "currency": "USD", "pending": 2}

    priced.rate(second_leg, "-0.33000")
    priced.rate(message.message_sid, "-0.00790")
    clock.move_to(NOW + dt.timedelta(minutes=10))
    charge_prices_sweep.delay()

    after = usage(lead_user, web.team, month="2026-12").json()
    assert after["cost"] == {"actual": "1.04790", "estimated": "1.04790", "currency": "USD", "pending": 0}
    # The fake saw the look-ups, through its Calls and Messages resources.
    for call_sid in (first.call_sid, first_leg, second.call_sid, second_leg):
        assert priced.requests_to("GET", f"/Calls/{call_sid}.json")
    assert priced.requests_to("GET", f"/Messages/{message.message_sid}.json")
    # Another month is empty.
    assert usage(lead_user, web.team, month="2026-11").json()["cost"]["estimated"] == "0.00000"


def test_a_price_that_never_comes_is_asked_for_with_back_off_for_a_day_then_the_estimate_stays(web, priced, clock):
    call = ended_call(web.team, seconds=30)
    priced.call(call.call_sid, duration=30, price=None)
    charge = costs.call_charge_record(call=call)
    waits = []
    for _ in range(40):
        outcome = costs.charge_price_fetch(charge_id=charge.pk)
        if outcome.retry_in is None:
            break
        waits.append(outcome.retry_in)
        clock.move_to(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=outcome.retry_in))
    assert waits[:4] == [60, 120, 240, 480] and max(waits) == 3600
    charge.refresh_from_db()
    assert charge.price is None and charge.next_price_check_at is None
    assert charge.estimate == Decimal("0.01")  # 30 s are one billed minute at 1 cent
    assert dt.timedelta(days=1) <= dt.datetime.now(dt.UTC) - NOW < dt.timedelta(days=1, hours=1)


def test_usage_is_for_leads_and_names_a_bad_month(web):
    member_user = UserFactory(username="nolead", is_staff=False)
    web.primary.user = member_user
    web.primary.save()
    assert usage(member_user, web.team).status_code == 403
    assert usage(UserFactory(username="stranger"), web.team).status_code == 404
    bad = usage(web.lead.user, web.team, month="2026-13")
    assert bad.status_code == 400 and "month" in bad.json()["error"]["fields"]


def test_months_are_the_teams_own_and_sms_count_per_segment(web, clock, settings):
    web.team.timezone = "America/Sao_Paulo"  # UTC-3
    web.team.save()
    # 02:00 UTC on 1 December is still 30 November in São Paulo.
    ended_call(web.team, seconds=0, started_at=dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC))
    sms = OutboundMessage.objects.create(to="+1", body="x" * 200, kind="test", dedupe_key="long", team=web.team)
    costs.message_charge_record(message_id=sms.pk, sid=sid("SM"))
    assert usage(web.lead.user, web.team, month="2026-11").json()["calls_in"] == 1
    december = usage(web.lead.user, web.team, month="2026-12").json()
    assert (december["calls_in"], december["sms_sent"], december["sms_segments"]) == (0, 1, 2)
    assert december["cost"]["estimated"] == "0.02400"


def test_usage_costs_the_same_queries_for_one_call_or_fifty(web, django_assert_max_num_queries):
    def count_queries(calls: int) -> int:
        for _ in range(calls):
            call = ended_call(web.team, seconds=90)
            costs.call_charge_record(call=call)
            costs.leg_charge_record(call=call, dial_call_sid=sid("CA"), seconds=80)
        client = APIClient()
        client.force_authenticate(web.lead.user)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/api/v1/teams/{web.team.slug}/usage/").status_code == 200
        return len(queries)

    assert count_queries(1) == count_queries(50)
    with django_assert_max_num_queries(6):
        usage(web.lead.user, web.team)
    assert Charge.objects.filter(kind=Charge.Kind.FORWARD_LEG).count() == 51


def test_a_lookup_lost_to_a_broker_outage_is_published_by_the_sweep(
    web, settings, redis_server, client, clock, django_capture_on_commit_callbacks
):
    # No eager Celery: publishes go to the test's own Redis, which is down while the call ends.
    settings.TWILIO_PRICE_LOOKUPS = True
    redis_server.stop()
    call = TwilioCall(client, django_capture_on_commit_callbacks)
    before = redis_server.attempts
    root = call.incoming()
    call.leg(root.find("Dial"), "accept")
    call.status("completed", 45)
    # The webhooks did not wait for the broker: one publish attempt, refused at once, then none while the
    # process knows the broker is down (no retry loop).
    assert redis_server.attempts - before == 1
    pending = list(Charge.objects.filter(price__isnull=True).order_by("kind"))
    assert [charge.kind for charge in pending] == [Charge.Kind.CALL_IN, Charge.Kind.FORWARD_LEG]

    redis_server.start()
    clock.move_to(NOW + dt.timedelta(minutes=10))
    assert costs.charge_prices_sweep() == 2
    assert redis_server.queued() == 2  # the look-ups wait in the broker for a worker
    assert costs.charge_prices_sweep() == 0  # not twice in one sweep interval
