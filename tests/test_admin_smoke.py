"""Every admin registered on admin.site, as a superuser, a lead of one team and a staff user who leads nothing.

The registry is iterated, so an admin added later is covered without touching this file: changelist, add page,
change and delete pages of an object of the lead's team and of another team, every action with a selection,
every list filter choice, a search and a date-hierarchy drill-down. Nothing may answer 500; a lead gets 404 for
another team's objects, 403 for models that are not scoped to teams, and never sees another team's rows.
"""

import datetime as dt

import pytest
import time_machine
from django.contrib import admin
from django.db.models import Q
from django.urls import NoReverseMatch, reverse

from teams import services
from teams.models import ApiToken, Member, Override, Role, Team, TeamMembership
from telephony.models import Alert, AlertEvent, Call, DialAttempt, OutboundMessage, Voicemail
from tests.factories import SupportNumberFactory, UserFactory, rotation_of, team_with_members

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2027, 3, 25, 12, tzinfo=dt.UTC)
OTHER_TEAM = "Zulu Secret Desk"  # must never appear on a page of lead A
OTHER_MEMBER = "Xerxes Hidden"


def _team_data(team, members, tag):
    rotation_of(
        team,
        members,
        name=f"{tag} primary",
        start_local=dt.datetime(2027, 3, 22, 9),
        shift_length=dt.timedelta(days=1),
        now=NOW,
    )
    rotation_of(
        team,
        reversed(members),
        name=f"{tag} secondary",
        role=Role.SECONDARY,
        start_local=dt.datetime(2027, 3, 22, 9),
        shift_length=dt.timedelta(days=7),
        now=NOW,
    )
    number = SupportNumberFactory(team=team)
    Override.objects.create(
        team=team,
        role=Role.PRIMARY,
        member=members[1],
        start=dt.datetime(2027, 3, 26, 8, tzinfo=dt.UTC),
        end=dt.datetime(2027, 3, 26, 17, tzinfo=dt.UTC),
        reason=f"{tag} covers",
    )
    services.token_create(team=team, scope="alerts", name=f"{tag} monit")
    OutboundMessage.objects.create(
        to=members[1].phone,
        body=f"{tag} reminder",
        kind=OutboundMessage.Kind.REMINDER,
        team=team,
        member=members[1],
        dedupe_key=f"smoke:{tag}",
    )
    call = Call.objects.create(
        call_sid=f"CA{tag:0<32}"[:34],
        team=team,
        from_number="+4930555000" + str(team.pk % 10),
        to_number=number.phone_number,
        outcome=Call.Outcome.VOICEMAIL,
    )
    DialAttempt.objects.create(call=call, position=0, target="primary", member=members[0], phone=members[0].phone)
    Voicemail.objects.create(
        call=call, team=team, recording_sid=f"RE{tag:0<32}"[:34], from_number=call.from_number, transcription="help"
    )
    alert = Alert.objects.create(team=team, summary=f"{tag} website is down", dedupe_key=f"{tag}-web")
    AlertEvent.objects.create(alert=alert, action="raised", actor="monit")


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(_frozen_clock):
    if True:
        superuser = UserFactory(username="root", is_superuser=True)
        lead_a = UserFactory(username="lead-a")
        lead_b = UserFactory(username="lead-b")
        loner = UserFactory(username="loner")
        team_a, members_a = team_with_members(3, lead_user=lead_a, name="Alpha Desk", slug="alpha")
        team_b, members_b = team_with_members(3, lead_user=lead_b, name=OTHER_TEAM, slug="zulu", timezone="UTC")
        Member.objects.filter(pk=members_b[1].pk).update(name=OTHER_MEMBER)
        _team_data(team_a, members_a, "A")
        _team_data(team_b, members_b, "B")
        for user in (superuser, lead_a, lead_b):
            services.token_create(user=user, scope="full", name=f"{user.username} laptop")
        Call.objects.create(call_sid="CA" + "9" * 32, team=None, from_number="+15005550006", to_number="+15005550001")
    return {"root": superuser, "lead": lead_a, "loner": loner, "team_a": team_a, "team_b": team_b}


def _scoped_to(model, team: Team):
    """The rows of `model` that belong to `team`, or None for models that belong to no team."""
    if model is Team:
        return Team.objects.filter(pk=team.pk)
    if model is Member:
        return Member.objects.filter(memberships__team=team).distinct()
    if model is ApiToken:
        lead_users = TeamMembership.objects.filter(team=team, role="lead").values("member__user")
        return ApiToken.objects.filter(Q(team=team, scope="alerts") | Q(user__in=lead_users))
    if any(f.name == "team" and f.is_relation for f in model._meta.get_fields()):
        return model._default_manager.filter(team=team)
    return None


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _get(client, url):
    response = client.get(url)
    assert response.status_code < 500, url
    if response.status_code == 302 and response.url.endswith("?e=1"):
        return None  # the admin's answer to a hand-edited, invalid lookup: back to the list
    return response


def _visible_pks(response):
    return {obj.pk for obj in response.context["cl"].result_list}


def _filter_urls(response):
    cl = response.context["cl"]
    urls = []
    for spec in cl.filter_specs:
        for choice in spec.choices(cl):
            urls.append(choice["query_string"])
    return urls


def _hierarchy_urls(model_admin, model, team):
    field = model_admin.date_hierarchy
    if not field:
        return []
    rows = (_scoped_to(model, team) or model._default_manager.all()).exclude(**{f"{field}__isnull": True})
    instant = rows.values_list(field, flat=True).first() or NOW
    return [
        f"?{field}__year={instant.year}",
        f"?{field}__year={instant.year}&{field}__month={instant.month}",
        f"?{field}__year={instant.year}&{field}__month={instant.month}&{field}__day={instant.day}",
        f"?{field}__year={instant.year}&{field}__month=13",  # a hand-edited URL
    ]


def _actions(model_admin, request):
    return [name for name, (func, _name, _desc) in model_admin.get_actions(request).items()]


def _fake_request(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _sweep(client, user, world, assert_page):
    """Every admin page of every registered model for `user`; assert_page checks each response."""
    for model, model_admin in admin.site._registry.items():
        changelist = _get(client, _url(model, "changelist"))
        assert_page(model, "changelist", changelist)
        add = _get(client, _url(model, "add"))
        assert_page(model, "add", add)
        pages = [f"?q={q}" for q in ("Alph", "+49", "%", "a' OR 1=1 --")]
        if changelist.status_code == 200:
            pages += _filter_urls(changelist)
        pages += _hierarchy_urls(model_admin, model, world["team_a"])
        for query in pages:
            response = _get(client, _url(model, "changelist") + query)
            if response is not None:
                assert_page(model, "changelist", response)
        for team_key in ("team_a", "team_b"):
            rows = _scoped_to(model, world[team_key])
            obj = (rows if rows is not None else model._default_manager.all()).order_by("pk").first()
            if obj is None:
                continue
            for view in ("change", "delete", "history"):
                try:
                    url = _url(model, view, obj.pk)
                except NoReverseMatch:
                    continue
                assert_page(model, f"{view}:{team_key}", _get(client, url))
            for action in _actions(model_admin, _fake_request(user)):
                response = client.post(_url(model, "changelist"), {"action": action, "_selected_action": [obj.pk]})
                assert response.status_code < 500, (model, action)
                assert_page(model, f"action:{team_key}", response)


@pytest.mark.usefixtures("celery_eager")
def test_superuser_sees_every_admin_page_without_errors(client, world):
    client.force_login(world["root"])

    def check(model, view, response):
        if view == "changelist" or view.startswith(("change:", "history:")):
            assert response.status_code == 200, (model, view, response.status_code)
        elif view == "add" or view.startswith("delete:"):
            assert response.status_code in (200, 403), (model, view, response.status_code)  # logs are read-only

    if True:
        _sweep(client, world["root"], world, check)


def test_lead_sees_only_their_team_and_404_for_another(client, world):
    lead, team_a, team_b = world["lead"], world["team_a"], world["team_b"]
    client.force_login(lead)
    scoped_models_seen = set()

    def check(model, view, response):
        rows = _scoped_to(model, team_a)
        if rows is None:
            # Not a team's data (users, groups, beat schedules): the lead may not use it at all.
            assert response.status_code == 403, (model, view, response.status_code)
            return
        content = response.content.decode()
        assert OTHER_TEAM not in content, (model, view)
        assert OTHER_MEMBER not in content, (model, view)
        if view.endswith(":team_b"):
            if view.startswith("action"):
                return  # checked below: the action changed nothing of team B
            assert response.status_code == 404, (model, view, response.status_code)
        elif view == "changelist":
            assert response.status_code == 200, (model, view, response.status_code)
            scoped_models_seen.add(model)
            if response.context and "cl" in response.context:
                assert _visible_pks(response) <= set(rows.values_list("pk", flat=True)), model
        elif view.startswith(("change:", "history:")):
            assert response.status_code == 200, (model, view, response.status_code)

    before_b = _snapshot(team_b)
    if True:
        _sweep(client, lead, world, check)
    assert _snapshot(team_b) == before_b  # no action on team B's selection changed any of its rows
    assert {Team, Member, Override, Alert, Call, Voicemail, OutboundMessage} <= scoped_models_seen


def _snapshot(team):
    return {
        "alerts": list(Alert.objects.filter(team=team).values_list("pk", "state")),
        "tokens": list(ApiToken.objects.filter(team=team).values_list("pk", "revoked_at")),
        "calendar": Team.objects.get(pk=team.pk).calendar_token,
        "members": list(Member.objects.filter(memberships__team=team).values_list("pk", "calendar_token")),
        "messages": OutboundMessage.objects.filter(team=team).count(),
        "shifts": team.shifts.count(),
    }


def test_staff_who_leads_nothing_gets_no_team_data(client, world):
    loner = world["loner"]
    client.force_login(loner)
    own = services.token_create(user=loner, scope="full", name="loner's")[1]

    def check(model, view, response):
        content = response.content.decode()
        assert "Alpha Desk" not in content and OTHER_TEAM not in content, (model, view)
        if model is ApiToken:
            # Anyone on the staff manages their own API tokens, and nobody else's.
            if view == "changelist" and response.status_code == 200:
                assert _visible_pks(response) <= {own.pk}
            if view.startswith(("change:", "delete:", "history:")):
                assert response.status_code == 404, (view, response.status_code)
            return
        assert response.status_code in (403, 404), (model, view, response.status_code)

    if True:
        _sweep(client, loner, world, check)
