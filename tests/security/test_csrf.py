"""CSRF: exempt only on the Twilio webhooks; the API still asks for it with a session login."""

from __future__ import annotations

from django.urls import URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework.views import APIView

from telephony.models import Alert
from tests.security.world import telephony_paths

# --- CSRF: exempt only on the webhooks ----------------------------------------------------------------------


def all_url_callbacks(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from all_url_callbacks(pattern, route)
        else:
            yield route, pattern.callback


def test_csrf_is_exempt_only_on_the_twilio_webhooks():
    """Django views that skip CSRF: only under telephony/. (DRF views are exempt at Django's level and check
    CSRF themselves for session logins.)"""
    seen_webhooks = 0
    for route, callback in all_url_callbacks():
        if not getattr(callback, "csrf_exempt", False):
            continue
        view_class = getattr(callback, "cls", None)
        if view_class is not None and issubclass(view_class, APIView):
            continue
        assert route.startswith("telephony/"), f"{route} is CSRF-exempt"
        seen_webhooks += 1
    assert seen_webhooks == len(telephony_paths())


def test_api_with_a_session_login_still_needs_csrf(world):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.alpha.lead.user)
    response = client.post("/api/v1/teams/alpha/alerts/", {"summary": "x"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]
    assert Alert.objects.filter(team=world.alpha.team).count() == 1
