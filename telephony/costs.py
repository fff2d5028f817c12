"""What the line costs: one Charge per call leg and per SMS, an estimate at once, Twilio's own price later.

When a resource is over (the caller's call at its final status callback, a dialled leg at its Dial action,
an SMS at its final status callback) its Charge is written with an estimate from the rates in the
environment (TWILIO_RATE_INBOUND_PER_MIN, TWILIO_RATE_OUTBOUND_PER_MIN, TWILIO_RATE_SMS: Twilio bills voice
per started minute and SMS per segment) and a price look-up is published (telephony.queue.task_publish: one
fast attempt, never blocking the webhook). Twilio rates a call or message some time after it ends, so the
Call or Message resource may still say `"price": null`: the look-up tries again with back-off (one minute,
doubling, at most an hour apart) for a day, then keeps the estimate. A look-up whose task was lost (broker
down) is published again by the beat sweep `charge_prices_sweep`.

Amounts are Decimals in USD, positive (Twilio writes charges as negative numbers). A price in another
currency is not mixed in: the estimate stays, and the log says why.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal

from celery.exceptions import Retry
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from telephony import rows
from telephony.models import Call, Charge, OutboundMessage
from telephony.queue import task_publish
from telephony.sms_text import sms_segments
from telephony.twilio import twilio_call_price, twilio_error_is_permanent, twilio_message_price

logger = logging.getLogger(__name__)

CURRENCY = "USD"
PRICE_TASK = "telephony.tasks.costs.charge_price_fetch"
# The first look-up waits a little (Twilio rarely has the price the second a call ends), then back-off.
FIRST_LOOKUP_SECONDS = 60
LOOKUP_MAX_SECONDS = 3600
# After this, a price Twilio never reported stays an estimate.
PRICE_WAIT = dt.timedelta(days=1)
# A message still not final after this (no delivery receipt in its country) is priced anyway.
UNCONFIRMED_MESSAGE_WAIT = dt.timedelta(hours=1)
# A look-up this late has lost its task: the sweep publishes it again.
SWEEP_GRACE = dt.timedelta(minutes=5)
SWEEP_BATCH = 500


def billed_minutes(seconds: int) -> int:
    """Twilio bills a call leg per started minute: 61 seconds are two minutes, 0 seconds nothing."""
    return (max(seconds, 0) + 59) // 60


def call_estimate(*, kind: str, seconds: int) -> tuple[int, Decimal]:
    """(billed minutes, USD) for a call leg from the rates in the environment."""
    minutes = billed_minutes(seconds)
    if kind == Charge.Kind.CALL_IN:
        rate = settings.TWILIO_RATE_INBOUND_PER_MIN
    else:
        rate = settings.TWILIO_RATE_OUTBOUND_PER_MIN
    return minutes, rate * minutes


def sms_estimate(*, segments: int) -> Decimal:
    return settings.TWILIO_RATE_SMS * segments


def lookups_enabled() -> bool:
    """Prices are read from Twilio's REST API only when it is configured (TWILIO_PRICE_LOOKUPS)."""
    return bool(settings.TWILIO_PRICE_LOOKUPS and settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN)


def _publish_now(charge_id: int, countdown: float | None = None) -> None:
    # Eager mode with propagation (tests) re-raises the task's own retry: not a broker problem.
    with contextlib.suppress(Retry):
        task_publish(PRICE_TASK, args=[charge_id], countdown=countdown)


def _publish(charge_id: int, *, countdown: float | None = None) -> None:
    """After commit, one fast attempt (no webhook waits for the broker); a lost publish is swept."""
    if lookups_enabled():
        transaction.on_commit(lambda: _publish_now(charge_id, countdown))


def _lookup_due(charge: Charge, *, countdown: float | None) -> None:
    if lookups_enabled():
        charge.next_price_check_at = timezone.now() + dt.timedelta(seconds=countdown or 0)


def _record(charge: Charge, *, countdown: float | None) -> Charge:
    """INSERT the charge once per sid (a repeated callback changes nothing) and publish its look-up."""
    _lookup_due(charge, countdown=countdown)
    if not rows.insert(charge):
        return Charge.objects.get(sid=charge.sid)
    _publish(charge.pk, countdown=countdown)
    return charge


def call_charge_record(*, call: Call) -> Charge | None:
    """The caller's call is over (final status callback): its inbound minutes, estimated, then priced."""
    if not call.call_sid:
        return None
    return _minutes_record(kind=Charge.Kind.CALL_IN, sid=call.call_sid, call=call, seconds=call.duration_seconds)


def leg_charge_record(*, call: Call, dial_call_sid: str, seconds: int | None) -> Charge | None:
    """A dialled leg is over (the Dial action reports DialCallSid and DialCallDuration): its forwarded minutes."""
    if not dial_call_sid:
        return None
    return _minutes_record(kind=Charge.Kind.FORWARD_LEG, sid=dial_call_sid, call=call, seconds=seconds)


def leg_charge(*, call: Call, dial_call_sid: str, seconds: int | None) -> Charge | None:
    """The unsaved charge of a dialled leg (telephony.dial_sql stores it with the attempt); after its INSERT,
    `charge_inserted` publishes its price look-up."""
    if not dial_call_sid:
        return None
    charge = _minutes(kind=Charge.Kind.FORWARD_LEG, sid=dial_call_sid, call=call, seconds=seconds)
    _lookup_due(charge, countdown=FIRST_LOOKUP_SECONDS)
    return charge


def charge_inserted(charge: Charge) -> None:
    _publish(charge.pk, countdown=FIRST_LOOKUP_SECONDS)


def _minutes_record(*, kind: str, sid: str, call: Call, seconds: int | None) -> Charge | None:
    """A leg of `call` billed by the minute: estimated now, priced when Twilio reports its price."""
    return _record(_minutes(kind=kind, sid=sid, call=call, seconds=seconds), countdown=FIRST_LOOKUP_SECONDS)


def _minutes(*, kind: str, sid: str, call: Call, seconds: int | None) -> Charge:
    seconds = seconds or 0
    minutes, estimate = call_estimate(kind=kind, seconds=seconds)
    charge = Charge(
        kind=kind,
        sid=sid,
        team_id=call.team_id,
        occurred_at=call.started_at,
        seconds=seconds,
        units=minutes,
        estimate=estimate,
    )
    return charge


def message_charge_record(*, message_id: int, sid: str) -> Charge | None:
    """Twilio accepted a message (we stored its sid): its segments, estimated. The look-up waits for the final
    status callback, or an hour where no delivery receipt comes."""
    message = OutboundMessage.objects.filter(pk=message_id).only("body", "team_id", "created_at").first()
    if message is None or not sid:
        return None
    segments = sms_segments(message.body)
    charge = Charge(
        kind=Charge.Kind.SMS,
        sid=sid,
        team_id=message.team_id,
        occurred_at=message.created_at,
        units=segments,
        estimate=sms_estimate(segments=segments),
    )
    if lookups_enabled():
        charge.next_price_check_at = timezone.now() + UNCONFIRMED_MESSAGE_WAIT
    return rows.insert_once(charge, sid=sid)


def message_charge_final(*, message_sid: str, status: str) -> None:
    """A message reached its final status: look its price up now. Twilio does not charge a failed message."""
    fields: dict = {}
    if status == OutboundMessage.Status.FAILED:
        fields["estimate"] = Decimal(0)
    if lookups_enabled():
        fields["next_price_check_at"] = timezone.now()
    if not fields:
        return
    pending = Charge.objects.filter(sid=message_sid, price__isnull=True)
    if pending.update(**fields) and lookups_enabled():
        charge_id = pending.values_list("pk", flat=True).first()
        if charge_id is not None:
            _publish(charge_id)


@dataclass(frozen=True)
class PriceOutcome:
    """What one look-up did: `priced` when Twilio's price is stored; `retry_in` seconds when to ask again."""

    priced: bool = False
    retry_in: float | None = None
    team_id: int | None = None


def lookup_countdown(checks: int) -> float:
    """Seconds before look-up number `checks + 1`: a minute, doubling, at most an hour."""
    return float(min(LOOKUP_MAX_SECONDS, FIRST_LOOKUP_SECONDS * 2 ** max(0, checks - 1)))


def _give_up(charge: Charge, why: str) -> PriceOutcome:
    Charge.objects.filter(pk=charge.pk, price__isnull=True).update(next_price_check_at=None)
    logger.info("Charge %s (%s): %s; keeping the estimate %s %s", charge.pk, charge.sid, why, charge.estimate, CURRENCY)
    return PriceOutcome()


def charge_price_fetch(*, charge_id: int, now: dt.datetime | None = None) -> PriceOutcome:
    """Ask Twilio for one charge's price; safe to run twice (a priced charge is left alone)."""
    now = now or timezone.now()
    charge = Charge.objects.filter(pk=charge_id).first()
    if charge is None or charge.price is not None or not lookups_enabled():
        return PriceOutcome()
    fetch = twilio_message_price if charge.kind == Charge.Kind.SMS else twilio_call_price
    try:
        found = fetch(sid=charge.sid)
    except Exception as exc:  # twilio's errors and requests' network errors
        if twilio_error_is_permanent(exc):
            return _give_up(charge, f"Twilio cannot tell its price ({exc})")
        logger.warning("Charge %s: price look-up failed (%s); trying again later", charge.pk, exc)
        found = None
    if found is not None and found.price is not None:
        if found.price_unit.upper() != CURRENCY:
            return _give_up(charge, f"Twilio priced it in {found.price_unit!r}, not {CURRENCY}")
        fields = {"price": found.price, "price_unit": CURRENCY, "priced_at": now, "next_price_check_at": None}
        if found.units is not None and charge.kind == Charge.Kind.SMS:
            fields["units"] = found.units
        elif found.units is not None:
            fields["seconds"] = found.units
            fields["units"] = billed_minutes(found.units)
        Charge.objects.filter(pk=charge.pk, price__isnull=True).update(**fields)
        return PriceOutcome(priced=True, team_id=charge.team_id)
    checks = charge.price_checks + 1
    if now - charge.created_at >= PRICE_WAIT:
        Charge.objects.filter(pk=charge.pk).update(price_checks=checks)
        return _give_up(charge, f"no price from Twilio after {checks} look-ups in a day")
    countdown = lookup_countdown(checks)
    Charge.objects.filter(pk=charge.pk, price__isnull=True).update(
        price_checks=checks, next_price_check_at=now + dt.timedelta(seconds=countdown)
    )
    return PriceOutcome(retry_in=countdown)


def charge_prices_sweep(*, now: dt.datetime | None = None) -> int:
    """Beat: publish the look-ups that are overdue (their task was never published, or was lost)."""
    if not lookups_enabled():
        return 0
    now = now or timezone.now()
    overdue = Q(price__isnull=True, next_price_check_at__lt=now - SWEEP_GRACE)
    overdue_ids = Charge.objects.filter(overdue).order_by("next_price_check_at").values_list("pk", flat=True)
    ids = list(overdue_ids[:SWEEP_BATCH])
    if ids:
        # Pushed ahead, so a long outage gets one extra task per charge per sweep, not one per tick.
        Charge.objects.filter(pk__in=ids).update(next_price_check_at=now)
        for charge_id in ids:
            _publish_now(charge_id)
    return len(ids)
