"""Every SMS the platform writes, in English and in Portuguese: the reader's language, and at most two
segments. Portuguese accents (ã, õ, á, ç, ê) are not all in GSM-7, so a raw Portuguese text is UCS-2 (70
characters a segment); sms_body_fit takes the accents off where GSM-7 lacks them, so the texts stay GSM-7
(160) and within two segments, uncut. `test_segment_counts_per_language` prints the figures (pytest -s)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from django.utils import translation
from django.utils.translation import gettext

from telephony import alerts, notifications
from telephony.models import Alert, OutboundMessage
from telephony.sms_commands import sms_command
from telephony.sms_text import SMS_CUT_MARKER, sms_body_fit, sms_is_gsm7, sms_segments
from tests.factories import MembershipFactory, SupportNumberFactory, TeamFactory
from tests.telephony.world import sent, to_voicemail
from tests.twilio_helpers import post_signed

# The fixed part of every SMS text, with the longest values it is sent with in practice: a 40-character
# team name, full names, a reminder span with zones, a 6-digit id.
TEAM, PERSON, SPAN, ZONE = (
    "Plataforma de Pagamentos e Faturamento BR",
    "Maria Conceição Albuquerque",
    ("Sex 5 Dez 09:00 – Seg 8 Dez 09:00"),
    "America/Sao_Paulo",
)
WHEN = "Mon 30 Nov 09:00"
VALUES = {
    "team": TEAM,
    "role": "secondary",
    "start": WHEN,
    "end": WHEN,
    "zone": ZONE,
    "until": f"{WHEN} ({ZONE})",
    "name": PERSON,
    "member": PERSON,
    "span": f"from {WHEN} to {WHEN}",
    "stretches": f"{WHEN}-{WHEN}, {WHEN}-{WHEN} and 2 more",
    "id": 123456,
    "asker": PERSON,
    "taker": PERSON,
    "lead": PERSON,
    "month": "dezembro 2026",
    "spent": "1234.56",
    "budget": "1500.00",
    "percent": 82,
    "held": 12,
    "cap": 20,
    "actor": PERSON,
    "done": "acknowledged",
    "command": "RESOLVE",
}
SMS_TEXTS = [
    "Reminder: you cover %(role)s on call for %(team)s from %(start)s to %(end)s (%(zone)s)",
    "Reminder: you are %(role)s on call for %(team)s from %(start)s to %(end)s (%(zone)s)",
    "You are now %(role)s on call for %(team)s until %(until)s.",
    "Your shift ended; %(name)s is now %(role)s on call for %(team)s.",
    "Your shift ended; nobody is %(role)s on call for %(team)s now.",
    "%(team)s has no %(role)s on call %(span)s (%(zone)s). Please add a shift or an override.",
    "%(team)s has no %(role)s on call %(span)s (%(zone)s): %(member)s is on time off.",
    "[%(team)s] The %(role)s rota changed.",
    "You are now on call %(stretches)s.",
    "%(team)s has used its whole phone budget for %(month)s: %(spent)s of %(budget)s USD (estimated). "
    "Calls are still forwarded.",
    "%(team)s has used %(percent)s%% of its phone budget for %(month)s: %(spent)s of %(budget)s USD (estimated).",
    "[%(team)s] ALERT %(id)s %(done)s by %(actor)s: ",
    "Reply TAKE %(id)d to cover %(asker)s, %(role)s %(span)s (%(zone)s).",
    "%(taker)s would cover %(asker)s, %(role)s %(span)s (%(zone)s). Reply APPROVE %(id)d or DECLINE %(id)d.",
    "Swap %(id)d approved: %(taker)s covers %(asker)s, %(role)s %(span)s (%(zone)s).",
    "Swap %(id)d declined by %(lead)s: %(asker)s keeps the %(role)s shift.",
    "Swap %(id)d expired: nobody covered it in time, so the %(role)s shift stays yours.",
    "Support Roulette: WHO = who is on call now. ACK <id> / RESOLVE <id> = acknowledge or resolve an alert. "
    "TAKE <id> = cover a shift swap; leads: APPROVE <id> / DECLINE <id>. STOP = no more texts, START = texts again.",
    "Reply ACK <id> to acknowledge an alert or RESOLVE <id> to close it.",
    "Reply %(command)s followed by the alert number, e.g. %(command)s 42.",
    "There is no alert %(id)s for your teams.",
    "ALERT %(id)s acknowledged - escalation stopped. Reply RESOLVE %(id)s when it is fixed.",
    "ALERT %(id)s was already acknowledged by %(name)s.",
    "ALERT %(id)s is already resolved.",
    "ALERT %(id)s resolved. Thank you.",
    "ALERT %(id)s was already resolved by %(name)s.",
]


def rendered(msgid: str, language: str) -> str:
    with translation.override(language):
        text = gettext(msgid)
        return text % VALUES if "%(" in text else text


def test_every_sms_text_has_a_portuguese_translation():
    for msgid in SMS_TEXTS:
        assert rendered(msgid, "pt-br") != rendered(msgid, "en"), msgid


@pytest.mark.parametrize("language", ["en", "pt-br"])
@pytest.mark.parametrize("msgid", SMS_TEXTS)
def test_every_sms_text_fits_two_segments_uncut(msgid, language):
    body = sms_body_fit(f"[{TEAM}] " + rendered(msgid, language))
    assert sms_segments(body) <= 2 and SMS_CUT_MARKER not in body, body
    assert sms_is_gsm7(body), body  # the accents GSM-7 lacks are taken off: 160 characters a segment


def test_segment_counts_per_language(capsys):
    rows = []
    for msgid in SMS_TEXTS:
        for language in ("en", "pt-br"):
            raw = f"[{TEAM}] " + rendered(msgid, language)
            rows.append((language, len(raw), sms_segments(raw), sms_is_gsm7(raw), sms_segments(sms_body_fit(raw))))
    with capsys.disabled():
        for language in ("en", "pt-br"):
            mine = [row for row in rows if row[0] == language]
            print(
                f"\n{language}: {len(mine)} texts; raw UCS-2 {sum(not r[3] for r in mine)}, raw segments max "
                f"{max(r[2] for r in mine)}; as sent (GSM-7) max {max(r[4] for r in mine)} segments"
            )
    assert max(row[4] for row in rows) <= 2


@pytest.mark.usefixtures("celery_eager")
def test_a_portuguese_speaker_gets_the_voicemail_page_in_portuguese(web, twilio):
    web.primary.language = "pt-br"
    web.primary.save()
    call = twilio()
    call.record(to_voicemail(call), recording_sid="RE" + "4" * 32)
    (page,) = sent(OutboundMessage.Kind.VOICEMAIL)
    assert page.member == web.primary
    assert "ALERTA" in page.body and "responda ACK" in page.body and "Ouça:" not in page.body  # GSM-7: Ouca
    assert "Ouca:" in page.body and sms_segments(page.body) <= 2
    assert Alert.objects.get().summary.startswith("Voicemail from")  # the team speaks English


def test_a_team_in_portuguese_stores_its_voicemail_alert_in_portuguese(web, twilio, celery_eager):
    web.team.language = "pt-br"
    web.team.save()
    call = twilio()
    call.record(to_voicemail(call), recording_sid="RE" + "3" * 32)
    assert Alert.objects.get().summary.startswith("Recado de")


def test_sms_replies_speak_the_members_language(web):
    web.secondary.language = "pt-br"
    web.secondary.save()
    assert sms_command(from_number=web.secondary.phone, body="help").startswith("Support Roulette: WHO = quem")
    assert sms_command(from_number=web.primary.phone, body="help").startswith("Support Roulette: WHO = who")
    who = sms_command(from_number=web.secondary.phone, body="WHO")
    assert "primário" in who
    # Days and months are named in Portuguese too ("até Seg 7 Dez 09:00"), not "Mon 7 Dec".
    assert re.search(
        r"até (Dom|Seg|Ter|Qua|Qui|Sex|S[aá]b) \d{1,2} (Jan|Fev|Mar|Abr|Mai|Jun|Jul|Ago|Set|Out|Nov|Dez) ", who
    ), who
    assert notifications.role_name("primary") == "primary"


def test_a_reply_to_a_teams_number_speaks_that_teams_language(client, web):
    # The secondary, no language of their own, is also in "Atendimento" (pt-br), first by name.
    atendimento = TeamFactory(slug="atendimento", name="Atendimento", language="pt-br")
    SupportNumberFactory(team=atendimento, phone_number="+5511300000001")
    MembershipFactory(team=atendimento, member=web.secondary)
    web.team.language = "en"
    web.team.save()

    def reply(to):
        params = {"MessageSid": "SM" + "5" * 32, "AccountSid": "AC" + "0" * 32, "From": web.secondary.phone,
                  "To": to, "Body": "help"}  # fmt: skip
        return ET.fromstring(post_signed(client, "/telephony/sms/incoming/", params).content).findtext("Message")

    english_number = web.team.numbers.first().phone_number
    assert reply(english_number).startswith("Support Roulette: WHO = who")
    assert reply("+5511300000001").startswith("Support Roulette: WHO = quem")
    # A number of none of their teams (the global sender): their first team's language, as before.
    assert reply("+15005550006").startswith("Support Roulette: WHO = quem")


@pytest.mark.usefixtures("celery_eager")
def test_ack_and_resolve_replies_speak_the_members_language(web):
    web.secondary.language = "pt-br"
    web.secondary.save()
    alert, _ = alerts.alert_raise(team=web.team, summary="site fora do ar", source="monit")
    reply = sms_command(from_number=web.secondary.phone, body=f"ACK {alert.pk}")
    assert reply == (
        f"ALERTA {alert.pk} reconhecido - escalonamento interrompido. Responda RESOLVE {alert.pk} quando estiver "
        "resolvido."
    )
    resolved = sms_command(from_number=web.secondary.phone, body=f"RESOLVE {alert.pk}")
    assert resolved == f"ALERTA {alert.pk} resolvido. Obrigado."
    assert (
        sms_command(from_number=web.secondary.phone, body="ACK 999999") == "Não há alerta 999999 para as suas equipes."
    )
    again = sms_command(from_number=web.primary.phone, body=f"RESOLVE {alert.pk}")
    assert again.startswith(f"ALERT {alert.pk} was already resolved by")
