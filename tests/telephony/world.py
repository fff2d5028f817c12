"""The telephony tests' world: the instant most of them stand at, and team Web with a call walked the way
Twilio walks it (request the Voice URL, then follow the URLs in each TwiML answer). Fixtures using these
(`web`, `twilio`, `clock`) are in conftest.py."""

from __future__ import annotations

import datetime as dt
import itertools
import xml.etree.ElementTree as ET
from types import SimpleNamespace
from urllib.parse import urlsplit

from django.conf import settings

from teams.models import Role
from telephony.models import Call, OutboundMessage
from tests.factories import ShiftFactory, SupportNumberFactory, UserFactory, team_with_members
from tests.twilio_helpers import post_signed
from tests.twiml_rules import check_twiml

# A Tuesday morning in December, outside any DST change.
NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)

# Team Web's number, a caller, and the team's fallback phone.
WEB_NUMBER = "+493012340001"
CALLER = "+4917012345678"
FALLBACK_PHONE = "+498912345678"

_sids = itertools.count(1)


def sid(prefix: str) -> str:
    return f"{prefix}{next(_sids):032d}"


def web_team(clock):
    """Team Web: a lead, a primary and a secondary on call all week, a fallback phone and one number."""
    team, (lead, primary, secondary) = team_with_members(
        3, lead_user=UserFactory(username="lea"), name="Web", fallback_phone=FALLBACK_PHONE, ring_timeout=15
    )
    SupportNumberFactory(team=team, phone_number=WEB_NUMBER)
    ShiftFactory(team=team, role=Role.PRIMARY, member=primary)
    ShiftFactory(team=team, role=Role.SECONDARY, member=secondary)
    return SimpleNamespace(team=team, lead=lead, primary=primary, secondary=secondary)


def path_of(url: str) -> str:
    assert url.startswith(settings.PUBLIC_BASE_URL + "/"), url
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class TwilioCall:
    """One inbound call as Twilio drives it; every answer goes through the TwiML rules."""

    def __init__(self, client, capture, *, to: str = WEB_NUMBER, caller: str = CALLER):
        self.client, self.capture = client, capture
        self.call_sid, self.to, self.caller = sid("CA"), to, caller
        self.legs: list[str] = []

    def params(self, **extra) -> dict:
        return {
            "AccountSid": settings.TWILIO_ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "CallSid": self.call_sid,
            "From": self.caller,
            "To": self.to,
            "CallStatus": "in-progress",
            "Direction": "inbound",
            **extra,
        }

    def post(self, url: str, params: dict, *, whisper: bool = False, kind: str = "voice") -> ET.Element:
        # In production each webhook commits on its own: run the on-commit work as a commit would.
        with self.capture(execute=True):
            response = post_signed(self.client, path_of(url), params)
        return check_twiml(response, whisper=whisper, kind=kind)

    def incoming(self) -> ET.Element:
        return self.post(settings.PUBLIC_BASE_URL + "/telephony/voice/incoming/", self.params(CallStatus="ringing"))

    def screen(self, dial: ET.Element, *, child_sid: str | None = None) -> ET.Element:
        """The first dialled person picks up: Twilio fetches their <Number>'s screening URL (the whisper)."""
        leg = self.params(CallSid=child_sid or sid("CA"), ParentCallSid=self.call_sid, Direction="outbound-dial")
        return self.post(dial.find("Number").get("url"), leg, whisper=True)

    def leg(self, dial: ET.Element, outcome: str, *, child_sid: str | None = None, seconds: int = 12) -> ET.Element:
        """The dialled person's leg: accept (key press), pass (presses 2: the leg is hung up), voicemail
        (answers, presses nothing), or a DialCallStatus such as no-answer / busy. Returns the TwiML of the
        Dial action."""
        number = dial.find("Number")
        child = child_sid or sid("CA")
        self.legs.append(number.text)
        leg_params = self.params(CallSid=child, ParentCallSid=self.call_sid, Direction="outbound-dial", To=number.text)
        status = outcome
        if outcome in ("accept", "pass", "voicemail"):
            whisper = self.post(number.get("url"), leg_params, whisper=True)
            gather = whisper.find("Gather")
            assert "Press 1 to accept, 2 to pass." in gather.find("Say").text
            assert [verb.tag for verb in whisper] == ["Gather", "Hangup"]
            if outcome == "accept":
                accepted = self.post(gather.get("action"), {**leg_params, "Digits": "5"})
                assert list(accepted) == []  # nothing more on the leg: Twilio bridges the call
            if outcome == "pass":
                passed = self.post(gather.get("action"), {**leg_params, "Digits": "2"})
                assert [verb.tag for verb in passed] == ["Hangup"]  # the leg ends at once
            status = "completed"
        duration = str(seconds) if status == "completed" else "0"
        return self.post(
            dial.get("action"), self.params(DialCallStatus=status, DialCallSid=child, DialCallDuration=duration)
        )

    def ring(self, dial: ET.Element, outcomes: dict[str, str]) -> ET.Element:
        """Every <Number> of one Dial rings at once: each phone's `outcomes` entry ("accept", "pass",
        "voicemail"; missing = it rings out). The first to accept is connected, as Twilio does; the Dial
        action then reports that leg, or no-answer. Returns the TwiML of the Dial action."""
        connected = None
        for number in dial.findall("Number"):
            outcome = outcomes.get(number.text, "no-answer")
            self.legs.append(number.text)
            if outcome == "no-answer" or connected is not None:
                continue
            child = sid("CA")
            leg_params = self.params(
                CallSid=child, ParentCallSid=self.call_sid, Direction="outbound-dial", To=number.text
            )
            gather = self.post(number.get("url"), leg_params, whisper=True).find("Gather")
            if outcome in ("accept", "pass"):
                answer = self.post(gather.get("action"), {**leg_params, "Digits": "1" if outcome == "accept" else "2"})
                if outcome == "accept":
                    assert list(answer) == []
                    connected = child
        status = {"DialCallStatus": "completed", "DialCallSid": connected, "DialCallDuration": "30"}
        if connected is None:
            status = {"DialCallStatus": "no-answer", "DialCallSid": sid("CA"), "DialCallDuration": "0"}
        return self.post(dial.get("action"), self.params(**status))

    def press(self, gather: ET.Element, digits: str) -> ET.Element:
        """The caller presses `digits` during a Gather of their own leg (the voicemail prompt's offer)."""
        return self.post(gather.get("action"), self.params(Digits=digits))

    def record(self, record: ET.Element, *, recording_sid: str, duration: int = 42) -> ET.Element:
        params = self.params(
            RecordingSid=recording_sid,
            RecordingUrl=f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{recording_sid}",
            RecordingDuration=str(duration),
        )
        return self.post(record.get("action"), params)

    def recording_status(self, record: ET.Element, *, recording_sid: str, duration: int = 42) -> None:
        params = self.params(
            RecordingSid=recording_sid,
            RecordingUrl=f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{recording_sid}",
            RecordingDuration=str(duration),
            RecordingStatus="completed",
        )
        self.post(record.get("recordingStatusCallback"), params)

    def transcription(self, record: ET.Element, *, recording_sid: str, text: str) -> None:
        params = self.params(
            RecordingSid=recording_sid,
            RecordingUrl=f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{recording_sid}",
            TranscriptionText=text,
            TranscriptionStatus="completed",
            TranscriptionSid=sid("TR"),
        )
        self.post(record.get("transcribeCallback"), params)

    def status(self, call_status: str, duration: int) -> None:
        self.post(
            settings.PUBLIC_BASE_URL + "/telephony/voice/status/",
            self.params(CallStatus=call_status, CallDuration=str(duration)),
        )

    def call(self) -> Call:
        return Call.objects.get(call_sid=self.call_sid)


def voicemail_sms() -> list[OutboundMessage]:
    """The voicemail notices sent so far, by recipient."""
    return list(OutboundMessage.objects.filter(kind=OutboundMessage.Kind.VOICEMAIL).order_by("to"))


def to_voicemail(call: TwilioCall):
    """Let every Dial of `call` go unanswered; returns the Record verb the caller ends at."""
    root = call.incoming()
    while root.find("Dial") is not None:
        root = call.leg(root.find("Dial"), "no-answer")
    record = root.find("Record")
    assert record is not None
    return record


def dial_action(call: TwilioCall, dial, **params):
    """POST the Dial's action URL with `params` (DialCallStatus, CallStatus...) as Twilio would."""
    return call.post(dial.get("action"), call.params(DialCallSid=sid("CA"), **params))


def sent(kind) -> list[OutboundMessage]:
    """The outbox rows of one kind, oldest first."""
    return list(OutboundMessage.objects.filter(kind=kind).select_related("member").order_by("created_at", "pk"))
