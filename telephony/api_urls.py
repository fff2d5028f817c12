"""Telephony resources under /api/v1/: the call, voicemail and message logs, and alerts."""

from telephony.alerts_api import urlpatterns as alert_urls
from telephony.api import urlpatterns as log_urls

urlpatterns = [*log_urls, *alert_urls]
