"""Telephony resources under /api/v1/: the call, voicemail and message logs, alerts, swaps."""

from telephony.alerts_api import urlpatterns as alert_urls
from telephony.api import urlpatterns as log_urls
from telephony.swaps_api import urlpatterns as swap_urls

urlpatterns = [*log_urls, *alert_urls, *swap_urls]
