"""Who may do what in the API. Reusable by every team-scoped API view (the alerts API imports these).

Superusers may do everything; a lead writes within their teams; a member with a login reads their teams;
anyone else sees nothing. Another team is answered with 404 so its existence is not leaked; a write
beyond one's role is a 403. Alerts-only integration tokens get 403 everywhere but the alerts endpoints.
"""

from __future__ import annotations

from rest_framework import exceptions, permissions

from teams import selectors
from teams.authentication import IntegrationPrincipal
from teams.models import Team


def is_integration(user) -> bool:
    return isinstance(user, IntegrationPrincipal)


class IsPerson(permissions.BasePermission):
    """A logged-in person (session or full token); not an alerts-only integration token."""

    message = "This token may only raise alerts; use a personal token for the rota API."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and not is_integration(user))


def team_visible_or_404(*, user, slug: str) -> Team:
    """The team with this slug if the user may read it; else 404, whether or not it exists."""
    team = selectors.teams_visible_to(user).filter(slug=slug).first()
    if team is None:
        raise exceptions.NotFound("No such team.")
    return team


def require_lead(*, user, team: Team) -> None:
    """403 unless the user leads the team (or is a superuser)."""
    if not selectors.is_lead(user=user, team=team):
        raise exceptions.PermissionDenied("Only a lead of this team may change it.")


def require_superuser(*, user, what: str) -> None:
    if not user.is_superuser:
        raise exceptions.PermissionDenied(f"Only an administrator may {what}.")


def team_for_request(request, slug: str) -> Team:
    """The team of a team-scoped request: readable (else 404), and led by the user for writes (else 403)."""
    team = team_visible_or_404(user=request.user, slug=slug)
    if request.method not in permissions.SAFE_METHODS:
        require_lead(user=request.user, team=team)
    return team
