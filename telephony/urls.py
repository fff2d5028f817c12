"""Twilio webhooks. The five public ones are the contract of PRODUCT.md; the rest are reached only through
URLs that our own TwiML hands to Twilio."""

from django.urls import path

from telephony.views import sms_incoming, sms_status, voice

app_name = "telephony"

urlpatterns = [
    path("voice/incoming/", voice.incoming, name="voice-incoming"),
    path("voice/fallback/", voice.fallback, name="voice-fallback"),
    path("voice/status/", voice.status, name="voice-status"),
    path("sms/incoming/", sms_incoming.incoming, name="sms-incoming"),
    path("sms/status/", sms_status.status, name="sms-status"),
]
