"""Inbound SMS: opt-outs recorded without a reply, WHO / HELP / ACK for members, silence for strangers."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from teams.models import Member, Role, Team
from telephony.models import OutboundMessage
from telephony.sms import sms_send
from tests.factories import OverrideFactory, ShiftFactory, SupportNumberFactory, team_with_members
from tests.telephony.world import NOW, WEB_NUMBER, sid, web_team
from tests.twilio_helpers import post_signed
from tests.twiml_rules import check_twiml

PATH = "/telephony/sms/incoming/"


@pytest.fixture
def web(db):
    with time_machine.travel(NOW, tick=False):
        team, (primary, secondary) = team_with_members(2, name="Web")
        SupportNumberFactory(team=team, phone_number="+493012340003")
        ShiftFactory(team=team, role=Role.PRIMARY, member=primary)  # until Mon 7 Dec 08:00 UTC
        yield team, primary, secondary


def text(client, sender: str, body: str):
    params = {
        "MessageSid": "SM" + "1" * 32,
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": "+493012340003",
        "Body": body,
        "NumMedia": "0",
    }
    with time_machine.travel(NOW, tick=False):
        root = check_twiml(post_signed(client, PATH, params), kind="messaging")
    messages = root.findall("Message")
    assert len(messages) <= 1
    return messages[0].text if messages else None


@pytest.mark.parametrize(
    "word", ["STOP", "stop", " Stop. ", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]
)
def test_stop_words_opt_the_member_out_without_a_reply(client, web, word):
    _, primary, _ = web
    assert text(client, primary.phone, word) is None
    primary.refresh_from_db()
    assert primary.sms_opted_out_at == NOW


@pytest.mark.parametrize("word", ["START", "YES", "unstop"])
def test_start_words_opt_back_in_without_a_reply(client, web, word):
    _, primary, _ = web
    Member.objects.filter(pk=primary.pk).update(sms_opted_out_at=NOW)
    assert text(client, primary.phone, word) is None
    primary.refresh_from_db()
    assert primary.sms_opted_out_at is None


def test_stop_then_a_later_sms_to_that_member_is_skipped(client, web):
    team, primary, _ = web
    text(client, primary.phone, "STOP")
    primary.refresh_from_db()
    message = sms_send(
        to=primary.phone, body="Your shift starts tomorrow.", kind="reminder", dedupe_key="r1", member=primary
    )
    assert message.status == OutboundMessage.Status.SKIPPED
    text(client, primary.phone, "START")
    primary.refresh_from_db()
    again = sms_send(
        to=primary.phone, body="Your shift starts tomorrow.", kind="reminder", dedupe_key="r2", member=primary
    )
    assert again.status != OutboundMessage.Status.SKIPPED


def test_who_answers_who_is_on_call_and_until_when_in_team_time(client, web):
    team, primary, secondary = web
    OverrideFactory(team=team, role=Role.SECONDARY, member=secondary, start=NOW - dt.timedelta(hours=1))
    reply = text(client, secondary.phone, "who")
    assert reply == (
        f"Web: primary {primary.name} until Mon 7 Dec 09:00 CET (Europe/Berlin), "
        f"secondary {secondary.name} until Wed 2 Dec 10:00 CET (Europe/Berlin)"
    )


def test_who_lists_every_team_of_the_member(client, web):
    team, primary, _ = web
    other, _ = team_with_members(1, name="Apps")
    other.memberships.create(member=primary)
    reply = text(client, primary.phone, "WHO")
    assert reply.splitlines()[0] == "Apps: primary nobody, secondary nobody"
    assert reply.splitlines()[1].startswith(f"Web: primary {primary.name} until")


@pytest.mark.parametrize("body", ["Who?", "who ?", "W\u200bHO", "\u200ewho\u200f", "WHO!?"])
def test_who_as_typed_on_a_phone_is_who(client, web, body):
    _, primary, _ = web
    assert text(client, primary.phone, body).startswith(f"Web: primary {primary.name} until")


@pytest.mark.parametrize(
    ("body", "reply"),
    [
        ("ACK\u200b 2", "There is no alert 2 for your teams."),
        ("ack 12345678901234", "There is no alert 12345678901234 for your teams."),
        ("RESOLVE #99999999999999999999999", "There is no alert 99999999999999999999999 for your teams."),
        ("TAKE 12345678901234567890", "There is no swap 12345678901234567890 for you."),
        ("approve 7?", "There is no swap 7 for you."),
    ],
)
def test_an_id_nobody_has_gets_its_no_such_answer_not_the_help(client, web, body, reply):
    _, primary, _ = web
    assert text(client, primary.phone, body) == reply


def test_help_and_anything_else_from_a_member_get_the_command_list(client, web):
    _, primary, _ = web
    for body in ("HELP", "what is this?", ""):
        reply = text(client, primary.phone, body)
        assert "WHO" in reply and "ACK <id>" in reply


def test_unknown_senders_get_nothing(client, web):
    for body in ("WHO", "HELP", "ACK 1", "hello"):
        assert text(client, "+4917099999999", body) is None


def test_unsigned_sms_is_refused_and_changes_nothing(client, web):
    _, primary, _ = web
    response = client.post(PATH, {"From": primary.phone, "Body": "STOP"})
    assert response.status_code == 403
    primary.refresh_from_db()
    assert primary.sms_opted_out_at is None


def test_a_failure_answers_an_empty_response(client, web, monkeypatch):
    _, primary, _ = web

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("telephony.sms_commands.who_is_on_call", broken)
    assert text(client, primary.phone, "WHO") is None


# --- Odd names, many teams and odd bodies, on the voice tests' team Web -------------------------------------


@pytest.fixture
def team_web(db, clock):
    """The voice tests' team Web (tests.telephony.world.web_team): a lead, a primary and a secondary."""
    return web_team(clock)


def sms(client, sender: str, body: str):
    params = {"MessageSid": sid("SM"), "From": sender, "To": WEB_NUMBER, "Body": body, "NumMedia": "0"}
    root = check_twiml(post_signed(client, "/telephony/sms/incoming/", params), kind="messaging")
    return [message.text for message in root.findall("Message")]


def test_sms_who_with_names_that_cannot_go_in_xml(team_web, client):
    Member.objects.filter(pk=team_web.primary.pk).update(name="Ana\x0b\x1b")
    Team.objects.filter(pk=team_web.team.pk).update(name="Web\x08")
    (reply,) = sms(client, team_web.primary.phone, "WHO")
    assert "primary Ana" in reply


def test_sms_who_for_a_member_of_many_teams_fits_one_message(team_web, client):
    for i in range(40):
        team, _ = team_with_members(0, name=f"A team with a rather long name number {i:02d}")
        team.memberships.create(member=team_web.primary)
    (reply,) = sms(client, team_web.primary.phone, "WHO")
    assert len(reply) <= 1600


@pytest.mark.parametrize("body", ["x" * 100_000, "\x00STOP", "", "WHO\x00"])
def test_sms_odd_bodies_are_valid_twiml(team_web, client, body):
    sms(client, team_web.primary.phone, body)
    sms(client, "", body)
    sms(client, "anonymous", body)
