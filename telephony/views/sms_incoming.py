"""Inbound SMS webhook (the Messaging URL of every team number)."""

from telephony import twiml
from telephony.request_checks import twilio_webhook
from telephony.sms_commands import sms_command


@twilio_webhook
@twiml.safe_twiml(lambda: twiml.sms_reply(None))
def incoming(request):
    reply = sms_command(
        from_number=twiml.clean_text(request.POST.get("From")),
        body=twiml.clean_text(request.POST.get("Body")),
        to_number=twiml.clean_text(request.POST.get("To")),
    )
    return twiml.response(twiml.sms_reply(reply))
