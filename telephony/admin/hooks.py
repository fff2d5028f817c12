"""Admin actions the telephony app adds to the teams app's admins (teams must not import telephony)."""

from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered


def action_attach(model, action, site: admin.AdminSite = admin.site) -> bool:
    """Add `action` to the admin registered for `model` on `site`; False when the model has no admin."""
    try:
        model_admin = site.get_model_admin(model)
    except NotRegistered:
        return False
    actions = list(model_admin.actions or [])
    if action not in actions:
        model_admin.actions = [*actions, action]
    return True
