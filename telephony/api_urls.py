"""Telephony resources under /api/v1/: the call, voicemail and message logs, alerts, usage (costs), swaps and
the fairness report."""

from telephony.alerts_api import urlpatterns as alert_urls
from telephony.api import urlpatterns as log_urls
from telephony.report_api import urlpatterns as report_urls
from telephony.swaps_api import urlpatterns as swap_urls
from telephony.usage_api import urlpatterns as usage_urls

urlpatterns = [*log_urls, *alert_urls, *usage_urls, *swap_urls, *report_urls]
