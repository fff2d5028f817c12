"""Stub: built by its issue."""

from telephony.webhooks import twilio_webhook


@twilio_webhook
def status(request):
    raise NotImplementedError
