"""The outbox in the admin: read-only, superusers see all, a lead only their teams'; the test SMS action."""

import pytest
from django.contrib import admin
from django.urls import reverse

from teams.models import Member
from telephony.admin.outbox import send_test_sms, send_test_sms_install
from telephony.backends import locmem_outbox
from telephony.models import OutboundMessage
from tests.factories import MemberFactory, TeamFactory, UserFactory, team_with_members

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:telephony_outboundmessage_changelist")


def message(team, key, **fields):
    return OutboundMessage.objects.create(
        to="+4915100000001", body=f"body {key}", kind="reminder", dedupe_key=key, team=team, **fields
    )


@pytest.fixture
def two_teams():
    lead = UserFactory(username="lead-a")
    team_a, _ = team_with_members(2, lead_user=lead, name="Alpha")
    team_b, _ = team_with_members(2, name="Bravo")
    return lead, team_a, team_b


def test_lead_sees_only_their_teams_messages(client, two_teams):
    lead, team_a, team_b = two_teams
    mine = message(team_a, "mine")
    theirs = message(team_b, "theirs")
    message(None, "global")
    client.force_login(lead)

    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert list(response.context["cl"].queryset) == [mine]
    assert client.get(reverse("admin:telephony_outboundmessage_change", args=[theirs.pk])).status_code in (
        302,
        403,
        404,
    )


def test_superuser_sees_all_and_filters_by_status_and_kind(client, two_teams):
    _, team_a, team_b = two_teams
    message(team_a, "a", status=OutboundMessage.Status.FAILED)
    message(team_b, "b")
    client.force_login(UserFactory(username="root", is_superuser=True))
    assert client.get(CHANGELIST).context["cl"].result_count == 2
    assert client.get(CHANGELIST, {"status": "failed"}).context["cl"].result_count == 1
    assert client.get(CHANGELIST, {"kind": "reminder"}).context["cl"].result_count == 2


def test_the_outbox_is_read_only(client, two_teams):
    lead, team_a, _ = two_teams
    row = message(team_a, "mine")
    client.force_login(UserFactory(username="root", is_superuser=True))
    assert client.get(reverse("admin:telephony_outboundmessage_add")).status_code == 403
    change = client.post(reverse("admin:telephony_outboundmessage_change", args=[row.pk]), {"body": "edited"})
    assert change.status_code == 403
    row.refresh_from_db()
    assert row.body == "body mine"


def test_staff_who_lead_nothing_do_not_see_the_outbox(client, two_teams):
    client.force_login(UserFactory(username="plain-staff"))
    assert client.get(CHANGELIST).status_code == 403


class _MemberAdmin(admin.ModelAdmin):
    actions = []


@pytest.fixture
def member_admin_site():
    site = admin.AdminSite(name="test-admin")
    site.register(Member, _MemberAdmin)
    assert send_test_sms_install(site)
    return site


def run_action(rf, user, members, site):
    from django.contrib.messages.storage.fallback import FallbackStorage

    request = rf.post("/")
    request.user = user
    request.session = {}
    request._messages = FallbackStorage(request)
    model_admin = site.get_model_admin(Member)
    assert send_test_sms in model_admin.actions
    send_test_sms(model_admin, request, Member.objects.filter(pk__in=[m.pk for m in members]))
    return [str(m) for m in request._messages]


@pytest.mark.usefixtures("celery_eager")
def test_lead_sends_a_test_sms_to_their_member_once_per_minute(
    rf, two_teams, member_admin_site, django_capture_on_commit_callbacks
):
    lead, team_a, team_b = two_teams
    member = team_a.members.exclude(user=lead).first()
    outsider = team_b.members.first()
    with django_capture_on_commit_callbacks(execute=True):
        notes = run_action(rf, lead, [member, outsider], member_admin_site)
        run_action(rf, lead, [member], member_admin_site)  # a double click
    assert [m["to"] for m in locmem_outbox] == [member.phone]
    assert "Alpha" in locmem_outbox[0]["body"]
    row = OutboundMessage.objects.get()
    assert (row.kind, row.team, row.member) == ("test", team_a, member)
    assert any("not in a team you lead" in note and outsider.name in note for note in notes)


def test_superuser_test_sms_to_opted_out_member_is_reported(rf, member_admin_site):
    from django.utils import timezone

    member = MemberFactory(sms_opted_out_at=timezone.now())
    TeamFactory()
    notes = run_action(rf, UserFactory(username="root", is_superuser=True), [member], member_admin_site)
    assert any("opted out" in note for note in notes)
    assert locmem_outbox == []
