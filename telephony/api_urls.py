"""Telephony resources under /api/v1/: the call, voicemail and message logs, alerts, and usage (costs)."""

from telephony.alerts_api import urlpatterns as alert_urls
from telephony.api import urlpatterns as log_urls
from telephony.usage_api import urlpatterns as usage_urls

urlpatterns = [*log_urls, *alert_urls, *usage_urls]
