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
    # Internal: only ever requested through URLs in our own TwiML (signed like the rest).
    path("voice/menu/", voice.menu, name="voice-menu"),
    path("voice/screen/", voice.screen, name="voice-screen"),
    path("voice/accept/", voice.accept, name="voice-accept"),
    path("voice/dial-result/", voice.dial_result, name="voice-dial-result"),
    path("voice/callback/", voice.callback, name="voice-callback"),
    path("voice/recording/", voice.recording, name="voice-recording"),
    path("voice/recording-status/", voice.recording_status, name="voice-recording-status"),
    path("voice/transcription/", voice.transcription, name="voice-transcription"),
]
