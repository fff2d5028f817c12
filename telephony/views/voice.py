"""Stub: built by its issue."""

from telephony.webhooks import twilio_webhook


@twilio_webhook
def incoming(request):
    raise NotImplementedError


@twilio_webhook
def fallback(request):
    raise NotImplementedError


@twilio_webhook
def status(request):
    raise NotImplementedError
