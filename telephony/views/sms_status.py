"""POST /telephony/sms/status/: Twilio's status callback for the messages we send."""

import logging

from django.http import HttpResponse

from telephony.request_checks import malformed_sid, on_a_live_connection, twilio_webhook
from telephony.sms import sms_status_update

logger = logging.getLogger(__name__)


@twilio_webhook
def status(request):
    """Record the new status (one UPDATE) and answer 204. Twilio ignores the body; a 500 would only add noise."""
    bad = malformed_sid(request.POST)
    if bad:
        logger.warning("SMS status callback with a malformed %s: ignored", bad)
        return HttpResponse(status=204)
    try:
        on_a_live_connection(
            lambda: sms_status_update(
                message_sid=request.POST.get("MessageSid", ""),
                message_status=request.POST.get("MessageStatus", ""),
                error_code=request.POST.get("ErrorCode", ""),
            ),
            what="SMS status callback",
        )
    except Exception:
        logger.exception("Could not record an SMS status callback for %s", request.POST.get("MessageSid", "?"))
    return HttpResponse(status=204)
