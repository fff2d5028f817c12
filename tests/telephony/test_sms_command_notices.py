"""The texts an SMS command owes the others (stand-down notices, offers withdrawn, leads asked, both people
told) are sent by a task after the command answered; when the broker is down that task is never published,
and the beat sweeps send them, once."""

import datetime as dt

import pytest
import time_machine

from teams.models import Role, Shift, Team
from telephony import alerts, swaps
from telephony.models import Alert, AlertEvent, OutboundMessage, Swap, SwapEvent
from telephony.tasks.alerts import alerts_escalate
from telephony.tasks.swaps import swaps_expire
from tests.telephony.world import NOW, WEB_NUMBER, sid, web_team
from tests.twilio_helpers import post_signed
from tests.twiml_rules import check_twiml


def _sms(client, sender: str, body: str) -> str | None:
    params = {"AccountSid": "AC" + "0" * 32, "MessageSid": sid("SM"), "From": sender, "To": WEB_NUMBER,
              "Body": body, "NumMedia": "0"}  # fmt: skip
    root = check_twiml(post_signed(client, "/telephony/sms/incoming/", params), kind="messaging")
    message = root.find("Message")
    return message.text if message is not None else None


def _texts(kind: str) -> list[tuple[str, str]]:
    return list(OutboundMessage.objects.filter(kind=kind).order_by("pk").values_list("to", "body"))


@pytest.mark.django_db(transaction=True)
def test_an_ack_answers_with_the_broker_down_and_the_sweep_tells_the_paged_once(client, redis_server):
    with time_machine.travel(NOW, tick=False) as clock:
        world = web_team(None)
        redis_server.stop()
        alert, _ = alerts.alert_raise(team=world.team, summary="Disk full on web-1")
        clock.move_to(NOW + dt.timedelta(minutes=5))
        alerts.alerts_escalate_due()  # the secondary is paged too
        pages = _texts(OutboundMessage.Kind.ALERT)

        reply = _sms(client, world.primary.phone, f"ACK {alert.pk}")

        assert reply.startswith(f"ALERT {alert.pk} acknowledged")
        alert.refresh_from_db()
        assert alert.state == Alert.State.ACKNOWLEDGED and alert.next_escalation_at is None
        assert AlertEvent.objects.get(action="acknowledged").notices_pending
        assert _texts(OutboundMessage.Kind.ALERT) == pages  # the task could not be published
        clock.move_to(NOW + dt.timedelta(minutes=5, seconds=30))
        alerts_escalate()  # within the grace: the task may still come
        assert _texts(OutboundMessage.Kind.ALERT) == pages
        clock.move_to(NOW + dt.timedelta(minutes=7))
        alerts_escalate()
        alerts_escalate()
    told = _texts(OutboundMessage.Kind.ALERT)[len(pages) :]
    assert told == [
        (world.secondary.phone, f"[Web] ALERT {alert.pk} acknowledged by {world.primary.name}: Disk full on web-1")
    ]
    assert not AlertEvent.objects.filter(notices_pending=True).exists()


@pytest.mark.django_db(transaction=True)
def test_a_take_and_an_approval_answer_with_the_broker_down_and_the_sweep_sends_their_texts_once(client, redis_server):
    with time_machine.travel(NOW, tick=False) as clock:
        world = web_team(None)
        Team.objects.filter(pk=world.team.pk).update(swap_approval=True)
        shift = Shift.objects.create(team=world.team, role=Role.PRIMARY, member=world.primary,
                                     start=NOW + dt.timedelta(days=10), end=NOW + dt.timedelta(days=11))  # fmt: skip
        redis_server.stop()
        swap = swaps.swap_request(shift=shift, actor=swaps.Actor.of_member(world.primary, via="test"))
        offers = _texts(OutboundMessage.Kind.SWAP)

        assert (
            _sms(client, world.secondary.phone, f"TAKE {swap.pk}")
            == f"Swap {swap.pk} is yours once a lead approves it."
        )
        assert _sms(client, world.lead.phone, f"APPROVE {swap.pk}") == f"Swap {swap.pk} approved."

        swap.refresh_from_db()
        assert swap.state == Swap.State.APPROVED and swap.taker == world.secondary and swap.override is not None
        assert swap.override.member == world.secondary and swap.override.start == shift.start
        assert _texts(OutboundMessage.Kind.SWAP) == offers
        clock.move_to(NOW + dt.timedelta(minutes=2))
        swaps_expire()
        swaps_expire()
    told = [to for to, _ in _texts(OutboundMessage.Kind.SWAP)[len(offers) :]]
    # The lead (a teammate too) hears the swap is gone and is asked to approve, the asker hears of the take;
    # then both people hear of the approval.
    expected = [world.lead.phone, world.lead.phone, world.primary.phone, world.secondary.phone, world.primary.phone]
    assert sorted(told) == sorted(expected)
    assert not SwapEvent.objects.filter(notices_pending=True).exists()


@pytest.mark.usefixtures("celery_eager")
def test_a_take_by_sms_without_approval_is_approved_at_once_and_a_clash_is_refused(client, db):
    with time_machine.travel(NOW, tick=False):
        world = web_team(None)
        start, end = NOW + dt.timedelta(days=10), NOW + dt.timedelta(days=11)
        shift = Shift.objects.create(team=world.team, role=Role.PRIMARY, member=world.primary, start=start, end=end)
        swap = swaps.swap_request(shift=shift, actor=swaps.Actor.of_member(world.primary, via="test"))

        reply = _sms(client, world.secondary.phone, f"TAKE {swap.pk}")

        assert reply == f"Swap {swap.pk} is yours: you cover {world.primary.name}, primary."
        swap.refresh_from_db()
        assert swap.state == Swap.State.APPROVED and swap.override.member == world.secondary
        assert swap.override.reason == f"Swap {swap.pk}: covers {world.primary.name}"
        assert list(swap.events.values_list("action", "actor")) == [
            ("asked", world.primary.name),
            ("taken", world.secondary.name),
            ("approved", "automatic (no approval needed)"),
        ]
        told = [(to, body.split(":")[0]) for to, body in _texts(OutboundMessage.Kind.SWAP)][2:]
        assert told == [
            (world.lead.phone, f"[Web] Swap {swap.pk} is gone"),
            (world.secondary.phone, f"[Web] Swap {swap.pk} approved"),
            (world.primary.phone, f"[Web] Swap {swap.pk} approved"),
        ]

        # Another swap of hours the override now in place overlaps cannot be approved over it.
        half = dt.timedelta(hours=12)
        second = Shift.objects.create(
            team=world.team, role=Role.PRIMARY, member=world.lead, start=start + half, end=end + half
        )
        again = swaps.swap_request(shift=second, actor=swaps.Actor.of_member(world.lead, via="test"))
        refusal = _sms(client, world.secondary.phone, f"TAKE {again.pk}")
    assert refusal.startswith(f"Swap {again.pk} cannot be approved: This override overlaps another primary override")
    again.refresh_from_db()
    assert again.state == Swap.State.OPEN and not again.events.filter(action="taken").exists()
