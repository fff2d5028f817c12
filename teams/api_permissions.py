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


# Standings in a team, for endpoints open to more than leads (the alerts API): an alerts-only integration
# token of that team, a member with a login, or a lead (superusers count as leads).
INTEGRATION, MEMBER, LEAD = "integration", "member", "lead"


def team_and_standing(request, slug: str) -> tuple[Team, str]:
    """The team named by the URL if the caller may see it (else 404), and the caller's standing in it."""
    user = request.user
    if is_integration(user):
        team = selectors.team_by_slug(slug=slug)
        if team is None or team.pk != user.team_id:
            raise exceptions.NotFound("No such team.")
        return team, INTEGRATION
    team = team_visible_or_404(user=user, slug=slug)
    return team, LEAD if selectors.is_lead(user=user, team=team) else MEMBER


def require_standing(standing: str, allowed: tuple[str, ...]) -> None:
    """403 unless the standing is one of `allowed`, saying what the caller may do instead."""
    if standing in allowed:
        return
    if standing == INTEGRATION:
        raise exceptions.PermissionDenied("An integration token can only raise alerts and resolve them by dedupe_key.")
    raise exceptions.PermissionDenied("Only a lead of the team can do this.")
