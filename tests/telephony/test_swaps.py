"""Shift swaps walked through the API and signed SMS webhooks: ask, offer, take, approve, and what people hear."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time

import pytest
import time_machine
from django.db import connection, transaction
from rest_framework.test import APIClient

from teams import selectors, services
from teams.errors import RotaError
from teams.models import Role, Shift, TeamMembership
from telephony import swaps
from telephony.models import OutboundMessage, Swap
from tests.factories import MemberFactory, MembershipFactory, SupportNumberFactory, TeamFactory, UserFactory
from tests.twilio_helpers import post_signed
from tests.twiml_rules import check_twiml

# Wednesday 2 Dec 2026; the weekly rotation hands off on Fridays at 09:00 in Lisbon.
NOW = dt.datetime(2026, 12, 2, 12, tzinfo=dt.UTC)
# The texts a step by SMS owes the others are sent by a task: run it at once.
pytestmark = pytest.mark.usefixtures("celery_eager")
NUMBER = "+351210000001"
_sids = itertools.count(1)


class Team:
    def __init__(self, *, swap_approval: bool):
        self.team = TeamFactory(slug="web", name="Web", timezone="Europe/Lisbon", swap_approval=swap_approval)
        SupportNumberFactory(team=self.team, phone_number=NUMBER)
        self.people = {}
        for name, role in (("Lea", "lead"), ("Ana", "member"), ("Bruno", "member"), ("Carla", "member")):
            user = UserFactory(username=name.lower(), is_staff=role == "lead")
            member = MemberFactory(name=name, user=user)
            MembershipFactory(team=self.team, member=member, role=role)
            self.people[name] = member
        services.rotation_create(
            team=self.team,
            name="Weekly",
            role=Role.PRIMARY,
            member_ids=[self.people[n].pk for n in ("Bruno", "Ana", "Carla")],
            start_local=dt.datetime(2026, 11, 27, 9),
            shift_length=dt.timedelta(days=7),
            now=NOW,
        )
        # Ana's next shift: Fri 4 Dec 09:00 to Fri 11 Dec 09:00 (Lisbon is on UTC in winter).
        self.shift = Shift.objects.get(
            team=self.team, member=self.people["Ana"], start=dt.datetime(2026, 12, 4, 9, tzinfo=dt.UTC)
        )
        self.tokens = {name.lower(): services.token_create(user=m.user)[0] for name, m in self.people.items()}

    def api(self, who: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {self.tokens[who]}")
        return client

    def texts_to(self, name: str) -> list[str]:
        return list(
            OutboundMessage.objects.filter(kind=OutboundMessage.Kind.SWAP, member=self.people[name])
            .order_by("pk")
            .values_list("body", flat=True)
        )


def sms(client, sender: str, body: str) -> str | None:
    params = {
        "MessageSid": f"SM{next(_sids):032d}",
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": NUMBER,
        "Body": body,
        "NumMedia": "0",
    }
    root = check_twiml(post_signed(client, "/telephony/sms/incoming/", params), kind="messaging")
    message = root.find("Message")
    return message.text if message is not None else None


@pytest.fixture
def clock_start():
    return NOW


@pytest.fixture
def web(db, clock):
    return Team(swap_approval=True)


def ask(web) -> dict:
    response = web.api("ana").post(
        "/api/v1/teams/web/swaps/", {"shift": web.shift.pk, "reason": "Wedding"}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_a_swap_goes_open_taken_approved_and_the_taker_is_then_on_call(client, web):
    swap = ask(web)
    assert swap["state"] == "open" and swap["asker"]["name"] == "Ana"
    offer = f"[Web] Reply TAKE {swap['id']} to cover Ana, primary Fri 4 Dec 09:00 - Fri 11 Dec 09:00 (Europe/Lisbon)."
    assert web.texts_to("Bruno") == [f"{offer} Wedding"]
    assert web.texts_to("Carla") == [f"{offer} Wedding"]
    assert web.texts_to("Ana") == [] and web.texts_to("Lea") == []

    # Bruno texts TAKE from his own phone; Carla's later TAKE finds it gone.
    assert sms(client, web.people["Bruno"].phone, f"take {swap['id']}") == (
        f"Swap {swap['id']} is yours once a lead approves it."
    )
    assert (
        sms(client, web.people["Carla"].phone, f"TAKE {swap['id']}") == f"Swap {swap['id']} is already taken by Bruno."
    )
    assert web.texts_to("Carla")[-1] == f"[Web] Swap {swap['id']} is gone: Bruno covers Ana."
    assert "Reply APPROVE" in web.texts_to("Lea")[-1]
    # Not yet on call: approval is pending.
    at = "2026-12-05T09:00:00Z"
    assert web.api("ana").get(f"/api/v1/teams/web/oncall/?at={at}").json()["primary"]["member"]["name"] == "Ana"

    # A member cannot approve; the lead does, by SMS from their phone.
    assert sms(client, web.people["Ana"].phone, f"APPROVE {swap['id']}") == f"There is no swap {swap['id']} for you."
    assert sms(client, web.people["Lea"].phone, f"APPROVE {swap['id']}") == f"Swap {swap['id']} approved."

    detail = web.api("ana").get(f"/api/v1/teams/web/swaps/{swap['id']}/").json()
    assert detail["state"] == "approved" and detail["taker"]["name"] == "Bruno"
    assert [(e["action"], e["actor"]) for e in detail["events"]] == [
        ("asked", "ana"),
        ("taken", "Bruno"),
        ("approved", "Lea"),
    ]
    assert all(e["created_at"] for e in detail["events"])
    oncall = web.api("ana").get(f"/api/v1/teams/web/oncall/?at={at}").json()["primary"]
    assert oncall["member"]["name"] == "Bruno" and oncall["source"] == "override"
    assert web.texts_to("Ana")[-1].startswith(f"[Web] Swap {swap['id']} approved: Bruno covers Ana")
    assert web.texts_to("Bruno")[-1].startswith(f"[Web] Swap {swap['id']} approved: Bruno covers Ana")
    # Too late to cancel now.
    cancel = web.api("ana").post(f"/api/v1/teams/web/swaps/{swap['id']}/cancel/")
    assert cancel.status_code == 400
    # Nor can the week be offered again: Bruno covers it.
    again = web.api("lea").post("/api/v1/teams/web/swaps/", {"shift": web.shift.pk}, format="json")
    assert again.status_code == 400
    assert again.json()["error"]["fields"]["shift"] == ["Bruno already covers this shift (an override)."]


def test_without_approval_a_lead_takes_for_a_teammate_and_it_is_approved_at_once(db, clock):
    web = Team(swap_approval=False)
    swap = ask(web)
    taken = web.api("lea").post(
        f"/api/v1/teams/web/swaps/{swap['id']}/take/", {"member": web.people["Carla"].pk}, format="json"
    )
    assert taken.status_code == 200, taken.content
    assert taken.json()["state"] == "approved" and taken.json()["taker"]["name"] == "Carla"
    assert taken.json()["override"] is not None
    # A member cannot name someone else as the taker.
    other = ask_again = web.api("bruno").post(
        f"/api/v1/teams/web/swaps/{swap['id']}/take/", {"member": web.people["Carla"].pk}, format="json"
    )
    assert ask_again.status_code == 403, other.content


def test_the_asker_cancels_a_lead_declines_and_a_swap_nobody_took_expires(client, web, clock):
    swap = ask(web)
    assert web.api("bruno").post(f"/api/v1/teams/web/swaps/{swap['id']}/cancel/").status_code == 403
    cancelled = web.api("ana").post(f"/api/v1/teams/web/swaps/{swap['id']}/cancel/")
    assert cancelled.json()["state"] == "cancelled"
    assert sms(client, web.people["Bruno"].phone, f"TAKE {swap['id']}") == f"Swap {swap['id']} was cancelled."

    second = ask(web)
    web.api("bruno").post(f"/api/v1/teams/web/swaps/{second['id']}/take/")
    assert web.api("bruno").post(f"/api/v1/teams/web/swaps/{second['id']}/decline/").status_code == 403
    declined = web.api("lea").post(f"/api/v1/teams/web/swaps/{second['id']}/decline/")
    assert declined.json()["state"] == "declined"
    assert web.texts_to("Bruno")[-1] == f"[Web] Swap {second['id']} declined by lea: Ana keeps the primary shift."

    third = ask(web)
    clock.move_to(web.shift.start)
    assert swaps.swaps_expire() == 1
    assert swaps.swaps_expire() == 0
    assert Swap.objects.get(pk=third["id"]).state == Swap.State.EXPIRED
    assert "expired" in web.texts_to("Ana")[-1]


def test_bad_swap_requests_are_refused_with_the_field(client, web):
    lea_shift = web.api("bruno").post("/api/v1/teams/web/swaps/", {"shift": web.shift.pk}, format="json")
    assert lea_shift.status_code == 403  # not Bruno's shift, and he does not lead
    missing = web.api("ana").post("/api/v1/teams/web/swaps/", {"shift": 999999}, format="json")
    assert missing.status_code == 400 and "shift" in missing.json()["error"]["fields"]
    ask(web)
    twice = web.api("ana").post("/api/v1/teams/web/swaps/", {"shift": web.shift.pk}, format="json")
    assert twice.status_code == 400 and "shift" in twice.json()["error"]["fields"]
    past = Shift.objects.filter(team=web.team, start__lt=NOW).first()
    started = web.api("lea").post("/api/v1/teams/web/swaps/", {"shift": past.pk}, format="json")
    assert started.status_code == 400
    # A stranger's phone gets nothing of the team's swaps.
    stranger = MemberFactory(name="Zed")
    MembershipFactory(team=TeamFactory(slug="other"), member=stranger, role=TeamMembership.Role.MEMBER)
    swap_id = Swap.objects.get().pk
    assert sms(client, stranger.phone, f"TAKE {swap_id}") == f"There is no swap {swap_id} for you."
    assert Swap.objects.get().state == Swap.State.OPEN


def carla_secondary_on_saturday(web) -> Shift:
    """Carla, secondary for one day of Ana's primary week: Saturday 5 Dec, 09:00 to 09:00."""
    return services.shift_create(
        team=web.team,
        role=Role.SECONDARY,
        member=web.people["Carla"],
        start=dt.datetime(2026, 12, 5, 9, tzinfo=dt.UTC),
        end=dt.datetime(2026, 12, 6, 9, tzinfo=dt.UTC),
    )


def test_nobody_takes_a_shift_while_on_call_in_the_other_role(client, db, clock):
    web = Team(swap_approval=False)
    # Carla is the secondary for one day of Ana's week, Saturday 5 Dec.
    saturday = carla_secondary_on_saturday(web)
    swap = ask(web)
    # Only Bruno is offered Ana's week (Lea is not in the primary rotation).
    assert len(web.texts_to("Bruno")) == 1
    assert web.texts_to("Carla") == [] and web.texts_to("Lea") == []
    refusal = f"Carla cannot take swap {swap['id']}: they are on call as secondary during that shift."
    assert sms(client, web.people["Carla"].phone, f"TAKE {swap['id']}") == refusal
    taken = web.api("lea").post(
        f"/api/v1/teams/web/swaps/{swap['id']}/take/", {"member": web.people["Carla"].pk}, format="json"
    )
    assert taken.status_code == 400 and taken.json()["error"]["fields"]["member"] == [refusal]
    assert Swap.objects.get(pk=swap["id"]).state == Swap.State.OPEN
    # Nobody became primary and secondary at once: Saturday still has Ana and Carla.
    at = "2026-12-05T12:00:00Z"
    oncall = web.api("ana").get(f"/api/v1/teams/web/oncall/?at={at}").json()
    assert (oncall["primary"]["member"]["name"], oncall["secondary"]["member"]["name"]) == ("Ana", "Carla")

    # Lea covers Carla's Saturday morning: Carla is still secondary in the afternoon.
    noon = saturday.start + dt.timedelta(hours=3)
    services.override_create(
        team=web.team, role=Role.SECONDARY, member=web.people["Lea"], start=saturday.start, end=noon
    )
    assert sms(client, web.people["Carla"].phone, f"TAKE {swap['id']}") == refusal
    # Once Lea covers the rest too (two overrides end to end), Carla is free for the week and takes it.
    services.override_create(team=web.team, role=Role.SECONDARY, member=web.people["Lea"], start=noon, end=saturday.end)
    assert sms(client, web.people["Carla"].phone, f"TAKE {swap['id']}") == (
        f"Swap {swap['id']} is yours: you cover Ana, primary."
    )
    oncall = web.api("ana").get(f"/api/v1/teams/web/oncall/?at={at}").json()
    assert (oncall["primary"]["member"]["name"], oncall["secondary"]["member"]["name"]) == ("Carla", "Lea")


@pytest.mark.parametrize("via", ["sms", "api"])
def test_a_taker_who_came_on_call_in_the_other_role_is_not_approved(client, web, via):
    swap = ask(web)
    assert sms(client, web.people["Carla"].phone, f"TAKE {swap['id']}") == (
        f"Swap {swap['id']} is yours once a lead approves it."
    )
    # Before the lead approves, Carla becomes the secondary for Saturday.
    saturday = carla_secondary_on_saturday(web)
    refusal = f"Swap {swap['id']} cannot be approved: Carla is on call as secondary during that shift."
    if via == "sms":
        assert sms(client, web.people["Lea"].phone, f"APPROVE {swap['id']}") == refusal
    else:
        approved = web.api("lea").post(f"/api/v1/teams/web/swaps/{swap['id']}/approve/")
        assert approved.status_code == 400 and approved.json()["error"]["fields"]["state"] == [refusal]
    assert Swap.objects.get(pk=swap["id"]).state == Swap.State.TAKEN
    at = "2026-12-05T12:00:00Z"
    assert web.api("ana").get(f"/api/v1/teams/web/oncall/?at={at}").json()["primary"]["member"]["name"] == "Ana"

    # Lea takes Carla's Saturday: now the approval goes through.
    services.override_create(
        team=web.team, role=Role.SECONDARY, member=web.people["Lea"], start=saturday.start, end=saturday.end
    )
    assert sms(client, web.people["Lea"].phone, f"APPROVE {swap['id']}") == f"Swap {swap['id']} approved."
    oncall = web.api("ana").get(f"/api/v1/teams/web/oncall/?at={at}").json()
    assert (oncall["primary"]["member"]["name"], oncall["secondary"]["member"]["name"]) == ("Carla", "Lea")


def test_a_swap_whose_shift_changed_hands_is_neither_taken_nor_approved(client, web):
    first = ask(web)
    # Bruno takes the first; then the lead gives Ana's week to Carla by hand.
    assert sms(client, web.people["Bruno"].phone, f"TAKE {first['id']}").endswith("once a lead approves it.")
    with time_machine.travel(NOW, tick=False):
        edited = web.api("lea").patch(
            f"/api/v1/teams/web/shifts/{web.shift.pk}/", {"member": web.people["Carla"].pk}, format="json"
        )
    assert edited.status_code == 200, edited.content
    stale = "is out of date: its shift changed after Ana asked. Ask again if still needed."
    assert sms(client, web.people["Lea"].phone, f"APPROVE {first['id']}") == f"Swap {first['id']} {stale}"
    approved = web.api("lea").post(f"/api/v1/teams/web/swaps/{first['id']}/approve/")
    assert approved.status_code == 400
    assert approved.json()["error"]["fields"]["state"] == [f"Swap {first['id']} {stale}"]
    # Nobody overrides Carla for a week Ana no longer has; the lead may still decline.
    at = "2026-12-05T12:00:00Z"
    assert web.api("ana").get(f"/api/v1/teams/web/oncall/?at={at}").json()["primary"]["member"]["name"] == "Carla"
    assert web.api("lea").post(f"/api/v1/teams/web/swaps/{first['id']}/decline/").json()["state"] == "declined"

    # A swap still open when its shift changes hands: nobody can take it (SMS or API).
    services.shift_update(shift=web.shift, member=web.people["Ana"])
    second = ask(web)
    services.shift_update(shift=web.shift, member=web.people["Carla"])
    assert sms(client, web.people["Bruno"].phone, f"TAKE {second['id']}") == f"Swap {second['id']} {stale}"
    taken = web.api("bruno").post(f"/api/v1/teams/web/swaps/{second['id']}/take/")
    assert taken.status_code == 400 and Swap.objects.get(pk=second["id"]).state == Swap.State.OPEN
    # Carla, whose shift it now is, may ask about it herself: the stale swap is cancelled first.
    mine = web.api("carla").post("/api/v1/teams/web/swaps/", {"shift": web.shift.pk}, format="json")
    assert mine.status_code == 201, mine.content
    assert mine.json()["asker"]["name"] == "Carla"
    assert Swap.objects.get(pk=second["id"]).state == Swap.State.CANCELLED
    # A shift moved to the other role is out of date too.
    services.shift_update(shift=web.shift, role=Role.SECONDARY)
    assert sms(client, web.people["Bruno"].phone, f"TAKE {mine.json()['id']}").endswith("Ask again if still needed.")


def test_a_shift_other_people_cover_end_to_end_cannot_be_asked_about(web):
    noon = web.shift.start + dt.timedelta(days=3)
    for name, start, end in (("Bruno", web.shift.start, noon), ("Carla", noon, web.shift.end)):
        services.override_create(team=web.team, role=Role.PRIMARY, member=web.people[name], start=start, end=end)
    refused = web.api("ana").post("/api/v1/teams/web/swaps/", {"shift": web.shift.pk}, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"]["shift"] == ["Bruno, Carla already cover this shift (overrides)."]


postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="two TAKEs at once need PostgreSQL's concurrent transactions"
)


@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_eager")
def test_two_takes_at_once_from_two_phones_make_one_winner():
    with time_machine.travel(NOW, tick=False):
        web = Team(swap_approval=True)
        swap = swaps.swap_request(shift=web.shift, actor=swaps.Actor("test"))
    barrier = threading.Barrier(2)
    replies: dict[str, str] = {}

    def take(name):
        def go():
            try:
                with time_machine.travel(NOW, tick=False):
                    barrier.wait(10)
                    member = web.people[name]
                    replies[name] = swaps.swap_sms_command(member=member, action="TAKE", swap_id=swap.pk)
            finally:
                connection.close()

        return threading.Thread(target=go)

    threads = [take("Bruno"), take("Carla")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    swap.refresh_from_db()
    assert swap.state == Swap.State.TAKEN
    winner = swap.taker.name
    loser = "Carla" if winner == "Bruno" else "Bruno"
    assert replies[winner] == f"Swap {swap.pk} is yours once a lead approves it."
    assert replies[loser] == f"Swap {swap.pk} is already taken by {winner}."
    assert swap.events.filter(action="taken").count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_eager")
@pytest.mark.parametrize("via", ["sms", "api"])
def test_one_person_taking_a_primary_and_a_secondary_swap_at_once_gets_one(via):
    with time_machine.travel(NOW, tick=False):
        web = Team(swap_approval=False)
        # Secondary: Bruno, then Carla for Ana's primary week (4 to 11 Dec); Bruno is free that week.
        services.rotation_create(
            team=web.team,
            name="Second",
            role=Role.SECONDARY,
            member_ids=[web.people[n].pk for n in ("Bruno", "Carla")],
            start_local=dt.datetime(2026, 11, 27, 9),
            shift_length=dt.timedelta(days=7),
            now=NOW,
        )
        carla_shift = Shift.objects.get(team=web.team, role=Role.SECONDARY, start=web.shift.start)
        primary = swaps.swap_request(shift=web.shift, actor=swaps.Actor("Ana"))
        secondary = swaps.swap_request(shift=carla_shift, actor=swaps.Actor("Carla"))
    bruno = web.people["Bruno"]
    replies: dict[int, str] = {}

    def take(swap):
        def go():
            try:
                with time_machine.travel(NOW, tick=False):
                    if via == "sms":
                        replies[swap.pk] = swaps.swap_sms_command(member=bruno, action="TAKE", swap_id=swap.pk)
                    else:
                        try:
                            swaps.swap_take(swap=swap, taker=bruno, actor=swaps.Actor.of_member(bruno, via="API"))
                            replies[swap.pk] = "taken"
                        except RotaError as exc:
                            replies[swap.pk] = exc.message
            finally:
                connection.close()

        return threading.Thread(target=go)

    # Both takes start while a lead's edit holds the team (and, to line them up, both swaps).
    threads = [take(primary), take(secondary)]
    with transaction.atomic():
        services.team_lock(team_id=web.team.pk)
        list(Swap.objects.select_for_update().filter(pk__in=[primary.pk, secondary.pk]))
        for thread in threads:
            thread.start()
        _wait_for_lock_waiters(2)
    for thread in threads:
        thread.join(20)
    assert len(replies) == 2, replies
    approved = Swap.objects.filter(pk__in=[primary.pk, secondary.pk], state=Swap.State.APPROVED)
    assert approved.count() == 1, replies
    refused = secondary if approved.get().pk == primary.pk else primary
    other = "secondary" if refused.pk == primary.pk else "primary"
    assert replies[refused.pk] == f"Bruno cannot take swap {refused.pk}: they are on call as {other} during that shift."
    with time_machine.travel(dt.datetime(2026, 12, 5, 12, tzinfo=dt.UTC), tick=False):
        oncall = selectors.oncall_at(team=web.team, at=dt.datetime(2026, 12, 5, 12, tzinfo=dt.UTC))
    # Bruno covers one role of the week, never both.
    assert {oncall[Role.PRIMARY].member.name, oncall[Role.SECONDARY].member.name} in (
        {"Bruno", "Carla"},
        {"Ana", "Bruno"},
    )


def _wait_for_lock_waiters(count: int) -> None:
    """Until `count` other sessions of this database wait for a lock (at most 10 s)."""
    with connection.cursor() as cursor:
        for _ in range(200):
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] >= count:
                return
            time.sleep(0.05)
