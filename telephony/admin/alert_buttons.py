"""The Acknowledge and Resolve buttons of an alert (its admin page and the lead's home): one POST each,
through the alert transition services, scoped like the alert admin (another team's alert is a 404)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from teams import selectors
from telephony import alerts

TRANSITIONS = {
    "acknowledge": (alerts.alert_acknowledge, "acknowledged"),
    "resolve": (alerts.alert_resolve, "resolved"),
}


def alert_transition_view(model_admin, request, object_id: str, transition: str):
    alert = model_admin.get_object(request, unquote(object_id))  # 404 outside the lead's teams
    if not model_admin.has_change_permission(request, alert):
        raise PermissionDenied
    service, state = TRANSITIONS[transition]
    user = request.user
    alert, changed = service(
        alert=alert, actor=user.get_username(), user=user, member=selectors.member_of_user(user=user), via="admin"
    )
    texts = {
        ("acknowledged", True): _("Alert %(id)s acknowledged: paging stopped."),
        ("resolved", True): _("Alert %(id)s resolved."),
        ("acknowledged", False): _("Alert %(id)s was already acknowledged or resolved."),
        ("resolved", False): _("Alert %(id)s was already resolved."),
    }
    text = texts[(state, changed)] % {"id": alert.pk}
    model_admin.message_user(request, text, messages.SUCCESS if changed else messages.WARNING)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        target = reverse("admin:telephony_alert_change", args=[alert.pk])
    return HttpResponseRedirect(target)


def alert_button_urls(model_admin) -> list:
    """`<id>/acknowledge/` and `<id>/resolve/` (POST only, CSRF-checked by the admin view wrapper)."""

    def view(transition):
        def handle(request, object_id):
            return alert_transition_view(model_admin, request, object_id, transition)

        return model_admin.admin_site.admin_view(require_POST(handle))

    return [
        path(f"<path:object_id>/{transition}/", view(transition), name=f"telephony_alert_{transition}")
        for transition in TRANSITIONS
    ]
