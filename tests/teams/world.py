"""Plain helpers shared by the teams tests (fixtures are in conftest.py).

- `utc(...)` and `make_rotation(...)` for the rota tests, which stand at ROTA_NOW;
- `build_world()`, the API's world of two teams, which stands at WORLD_NOW.
"""

import datetime as dt
from dataclasses import dataclass

from rest_framework.test import APIClient

from teams import services
from teams.models import ApiToken, Member, Override, Rotation, Shift, Team, TeamMembership
from telephony.models import Call, OutboundMessage, Voicemail
from tests.factories import (
    MemberFactory,
    MembershipFactory,
    SupportNumberFactory,
    TeamFactory,
    UserFactory,
    rotation_of,
)

# A Thursday, four days before the weekly rotations' first Monday (30 Nov 2026 09:00).
ROTA_NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
# The API world's instant: a Wednesday, in the first week of its weekly rotation.
WORLD_NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)

# The team admin page's two inlines posted with no rows: the management forms of its formsets.
NO_INLINE_ROWS = {
    f"{prefix}-{name}": value
    for prefix in ("memberships", "numbers")
    for name, value in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"), ("MIN_NUM_FORMS", "0"), ("MAX_NUM_FORMS", "1000"))
}


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def make_rotation(team, members, **kwargs):
    """A weekly primary rotation of `members` from Mon 30 Nov 2026 09:00 (team time), made at ROTA_NOW."""
    defaults = {"start_local": dt.datetime(2026, 11, 30, 9), "shift_length": dt.timedelta(days=7), "now": ROTA_NOW}
    return rotation_of(team, members, **{**defaults, **kwargs})


@dataclass
class World:
    """Team alpha (lead, member with a login, two more members), team bravo with its own lead, a superuser."""

    alpha: Team
    bravo: Team
    lead: Member
    reader: Member
    others: list[Member]
    keys: dict[str, str]
    rotation: Rotation
    shift: Shift
    override: Override

    def client(self, who: str | None) -> APIClient:
        client = APIClient()
        if who is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {self.keys[who]}")
        return client


def member_with_login(team: Team, username: str, role: str) -> Member:
    user = UserFactory(username=username, is_staff=role == TeamMembership.Role.LEAD)
    member = MemberFactory(user=user, name=username.title())
    MembershipFactory(team=team, member=member, role=role)
    return member


def build_world() -> World:
    alpha = TeamFactory(slug="alpha", name="Alpha", timezone="Europe/Berlin")
    bravo = TeamFactory(slug="bravo", name="Bravo", timezone="America/New_York")
    lead = member_with_login(alpha, "lead", TeamMembership.Role.LEAD)
    reader = member_with_login(alpha, "reader", TeamMembership.Role.MEMBER)
    member_with_login(bravo, "other_lead", TeamMembership.Role.LEAD)
    others = [MemberFactory(name=name) for name in ("Ana", "Bruno")]
    for member in others:
        MembershipFactory(team=alpha, member=member)
    root = UserFactory(username="root", is_superuser=True)
    SupportNumberFactory(team=alpha, phone_number="+493012345678")
    rotation = rotation_of(
        alpha,
        [others[0], others[1]],
        name="Weekly",
        start_local=dt.datetime(2026, 11, 30, 9, 0),
        shift_length=dt.timedelta(days=7),
        now=WORLD_NOW,
    )
    shift = Shift.objects.filter(team=alpha, start__gt=WORLD_NOW).order_by("start").first()
    override = services.override_create(
        team=alpha,
        role="primary",
        member=lead,
        start=dt.datetime(2026, 12, 3, 8, tzinfo=dt.UTC),
        end=dt.datetime(2026, 12, 3, 20, tzinfo=dt.UTC),
    )
    call = Call.objects.create(
        call_sid="CA" + "1" * 32, team=alpha, from_number="+4915100000001", to_number="+493012345678"
    )
    Voicemail.objects.create(
        call=call, team=alpha, recording_sid="RE" + "1" * 32, recording_url="https://api.twilio.com/rec/1"
    )
    OutboundMessage.objects.create(to=lead.phone, body="Reminder", kind="reminder", team=alpha, dedupe_key="k1")
    keys = {}
    for username in ("lead", "reader", "other_lead"):
        keys[username], _ = services.token_create(user=Member.objects.get(user__username=username).user)
    keys["root"], _ = services.token_create(user=root)
    keys["integration"], _ = services.token_create(team=alpha, scope=ApiToken.Scope.ALERTS)
    return World(alpha, bravo, lead, reader, others, keys, rotation, shift, override)


def error_fields(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    return body["error"]["fields"]
