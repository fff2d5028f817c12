"""GET /metrics: Prometheus' text format (telephony.metrics builds it). With METRICS_TOKEN set, only a request
with `Authorization: Bearer <METRICS_TOKEN>` gets it (401 otherwise); unset, it is open, for a private network.
"""

import hmac

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, exposition

from telephony.metrics import metrics_text

# The text format every Prometheus reads (0.0.4); prometheus-client 0.22+ names it apart from its newest.
CONTENT_TYPE = getattr(exposition, "CONTENT_TYPE_PLAIN_0_0_4", CONTENT_TYPE_LATEST)


def _authorized(request) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Constant-time: the comparison must not tell an attacker how much of the token they guessed.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@never_cache
@require_GET
def metrics(request):
    if not _authorized(request):
        response = HttpResponse("A valid bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE)
