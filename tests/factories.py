import datetime as dt

import factory
from django.contrib.auth import get_user_model

from teams import services
from teams.models import Member, Override, Role, Shift, SupportNumber, Team, TeamMembership


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct horse battery staple")
    is_staff = True


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.Sequence(lambda n: f"Team {n}")
    timezone = "Europe/Berlin"
    greeting = "Thanks for calling."


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    name = factory.Sequence(lambda n: f"Person {n}")
    # +1 415 555 01xx is not valid for phonenumbers; use real-looking German mobile numbers.
    phone = factory.Sequence(lambda n: f"+49151{n:08d}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TeamMembership

    team = factory.SubFactory(TeamFactory)
    member = factory.SubFactory(MemberFactory)
    role = TeamMembership.Role.MEMBER


class SupportNumberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SupportNumber

    team = factory.SubFactory(TeamFactory)
    phone_number = factory.Sequence(lambda n: f"+4930{n:08d}")


class _OnCallFactory(factory.django.DjangoModelFactory):
    """A span of on-call time (a shift or an override): primary, for a new member, `length` long from `start`."""

    class Meta:
        abstract = True

    class Params:
        length = dt.timedelta(days=7)

    team = factory.SubFactory(TeamFactory)
    role = Role.PRIMARY
    member = factory.SubFactory(MemberFactory)
    end = factory.LazyAttribute(lambda o: o.start + o.length)


class ShiftFactory(_OnCallFactory):
    class Meta:
        model = Shift

    start = factory.LazyFunction(lambda: dt.datetime(2026, 11, 30, 8, tzinfo=dt.UTC))


class OverrideFactory(_OnCallFactory):
    class Meta:
        model = Override

    class Params:
        length = dt.timedelta(days=1)

    start = factory.LazyFunction(lambda: dt.datetime(2026, 12, 4, 8, tzinfo=dt.UTC))


def team_with_members(n: int = 3, *, lead_user=None, **team_fields):
    """A team with n members; with lead_user, the first member is a lead linked to that user."""
    team = TeamFactory(**team_fields)
    members = []
    for i in range(n):
        member = MemberFactory(user=lead_user if (i == 0 and lead_user) else None)
        role = TeamMembership.Role.LEAD if (i == 0 and lead_user) else TeamMembership.Role.MEMBER
        MembershipFactory(team=team, member=member, role=role)
        members.append(member)
    return team, members


def staffed_team(*, number: str, **team_fields):
    """A team of two that answers `number`: the first member holds a primary shift, the second a secondary one
    (ShiftFactory's week). Returns the team and (primary, secondary)."""
    team, (primary, secondary) = team_with_members(2, **team_fields)
    SupportNumberFactory(team=team, phone_number=number)
    ShiftFactory(team=team, role=Role.PRIMARY, member=primary)
    ShiftFactory(team=team, role=Role.SECONDARY, member=secondary)
    return team, (primary, secondary)


def rotation_of(team, members, *, start_local, shift_length, name="Primary", role=Role.PRIMARY, **fields):
    """A rotation of `members`, in that order, made by teams.services.rotation_create (so its shifts exist);
    `fields` are the service's other arguments (now=..., ...)."""
    return services.rotation_create(
        team=team,
        name=name,
        role=role,
        member_ids=[member.pk for member in members],
        start_local=start_local,
        shift_length=shift_length,
        **fields,
    )


__all__ = [
    "MemberFactory",
    "MembershipFactory",
    "OverrideFactory",
    "ShiftFactory",
    "SupportNumberFactory",
    "TeamFactory",
    "UserFactory",
    "rotation_of",
    "team_with_members",
]
