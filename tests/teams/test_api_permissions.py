"""Who gets what: every endpoint and method × anonymous, member, lead, lead of another team, superuser (and an
alerts-only integration token). Each request runs in a rolled-back transaction, so every one of them starts
from the same world."""

import datetime as dt

import pytest
import time_machine
from django.core.cache import cache
from django.db import transaction

from tests.teams.world import WORLD_NOW as NOW
from tests.teams.world import build_world

WHO = ("anonymous", "reader", "lead", "other_lead", "root", "integration")

# Expected statuses, in the order of WHO.
READ = (401, 200, 200, 404, 200, 403)
CREATE = (401, 403, 201, 404, 201, 403)
CHANGE = (401, 403, 200, 404, 200, 403)
DELETE = (401, 403, 204, 404, 204, 403)
READ_ONLY_LOG = (401, 403, 405, 404, 405, 403)


def endpoints(w):
    """(method, path, body, expected) for every operation of the API."""
    team = "/api/v1/teams/alpha"
    plain = w.others[1]  # Bruno: in the rotation; Ana too. The reader has no shifts.
    number = w.alpha.numbers.get()
    call = w.alpha.calls.get()
    voicemail = w.alpha.voicemails.get()
    message = w.alpha.messages.get()
    team_body = {"slug": "alpha", "name": "Alpha", "timezone": "Europe/Berlin", "ring_timeout": 25}
    rotation_body = {
        "name": "Backup",
        "role": "secondary",
        "members": [w.reader.pk, plain.pk],
        "start": "2026-12-07T09:00:00",
        "shift_length": "P7D",
    }
    override_body = {"member": w.reader.pk, "role": "primary", "start": "2026-12-20T08:00Z", "end": "2026-12-20T20:00Z"}
    shift_body = {"member": w.reader.pk, "role": "secondary", "start": "2026-12-20T08:00Z", "end": "2026-12-21T08:00Z"}
    return [
        ("get", "/api/v1/teams/", None, (401, 200, 200, 200, 200, 403)),
        ("post", "/api/v1/teams/", {"slug": "new", "name": "New"}, (401, 403, 403, 403, 201, 403)),
        ("get", f"{team}/", None, READ),
        ("patch", f"{team}/", {"greeting": "Hello"}, CHANGE),
        ("put", f"{team}/", team_body, CHANGE),
        ("delete", f"{team}/", None, (401, 403, 403, 404, 204, 403)),
        ("get", f"{team}/members/", None, READ),
        ("post", f"{team}/members/", {"name": "Cleo", "phone": "+4915211111111"}, CREATE),
        ("get", f"{team}/members/{plain.pk}/", None, READ),
        ("patch", f"{team}/members/{plain.pk}/", {"email": "b@example.com"}, CHANGE),
        ("put", f"{team}/members/{plain.pk}/", {"name": "B", "phone": plain.phone, "role": "member"}, CHANGE),
        ("delete", f"{team}/members/{w.reader.pk}/", None, DELETE),
        ("get", f"{team}/numbers/", None, READ),
        ("post", f"{team}/numbers/", {"phone_number": "+493099999999"}, CREATE),
        ("get", f"{team}/numbers/{number.pk}/", None, READ),
        ("patch", f"{team}/numbers/{number.pk}/", {"sms_enabled": False}, CHANGE),
        ("put", f"{team}/numbers/{number.pk}/", {"phone_number": "+493099999998", "sms_enabled": True}, CHANGE),
        ("delete", f"{team}/numbers/{number.pk}/", None, DELETE),
        ("get", f"{team}/rotations/", None, READ),
        ("post", f"{team}/rotations/", rotation_body, CREATE),
        ("get", f"{team}/rotations/{w.rotation.pk}/", None, READ),
        ("patch", f"{team}/rotations/{w.rotation.pk}/", {"name": "Weekly 2"}, CHANGE),
        ("put", f"{team}/rotations/{w.rotation.pk}/", {**rotation_body, "role": "primary"}, CHANGE),
        ("delete", f"{team}/rotations/{w.rotation.pk}/", None, DELETE),
        ("get", f"{team}/shifts/", None, READ),
        ("post", f"{team}/shifts/", shift_body, CREATE),
        ("get", f"{team}/shifts/{w.shift.pk}/", None, READ),
        ("patch", f"{team}/shifts/{w.shift.pk}/", {"member": w.reader.pk}, CHANGE),
        (
            "put",
            f"{team}/shifts/{w.shift.pk}/",
            {**shift_body, "role": "primary", "end": "2026-12-10T08:00Z", "start": "2026-12-08T08:00Z"},
            CHANGE,
        ),
        ("delete", f"{team}/shifts/{w.shift.pk}/", None, DELETE),
        ("get", f"{team}/overrides/", None, READ),
        ("post", f"{team}/overrides/", override_body, CREATE),
        ("get", f"{team}/overrides/{w.override.pk}/", None, READ),
        ("patch", f"{team}/overrides/{w.override.pk}/", {"reason": "Swap"}, CHANGE),
        ("put", f"{team}/overrides/{w.override.pk}/", override_body, CHANGE),
        ("delete", f"{team}/overrides/{w.override.pk}/", None, DELETE),
        ("get", f"{team}/oncall/", None, READ),
        ("get", f"{team}/schedule/", None, READ),
        ("get", f"{team}/gaps/", None, READ),
        ("get", "/api/v1/oncall/", None, (401, 200, 200, 200, 200, 403)),
        ("get", f"{team}/calls/", None, READ),
        ("get", f"{team}/calls/{call.pk}/", None, READ),
        ("post", f"{team}/calls/", {}, READ_ONLY_LOG),
        ("get", f"{team}/voicemails/", None, READ),
        ("get", f"{team}/voicemails/{voicemail.pk}/", None, READ),
        ("delete", f"{team}/voicemails/{voicemail.pk}/", None, READ_ONLY_LOG),
        ("get", f"{team}/messages/", None, READ),
        ("get", f"{team}/messages/{message.pk}/", None, READ),
        ("patch", f"{team}/messages/{message.pk}/", {}, READ_ONLY_LOG),
    ]


ENDPOINT_COUNT = 49


def _label(index: int) -> str:
    return f"op{index}"


@pytest.mark.parametrize("index", range(ENDPOINT_COUNT), ids=_label)
def test_permission_matrix(db, index):
    with time_machine.travel(NOW, tick=False):
        world = build_world()
        table = endpoints(world)
        assert len(table) == ENDPOINT_COUNT
        method, path, body, expected = table[index]
        got = []
        for who in WHO:
            cache.clear()
            with transaction.atomic():
                client = world.client(None if who == "anonymous" else who)
                response = (
                    getattr(client, method)(path, body, format="json")
                    if body is not None
                    else getattr(client, method)(path)
                )
                got.append(response.status_code)
                transaction.set_rollback(True)
    assert (method.upper(), path, dict(zip(WHO, got, strict=True))) == (
        method.upper(),
        path,
        dict(zip(WHO, expected, strict=True)),
    )


def test_objects_of_another_team_are_404_even_for_its_neighbours_lead(db):
    """A lead of alpha asking for bravo's objects under alpha's URL gets 404, not someone else's data."""
    with time_machine.travel(NOW, tick=False):
        world = build_world()
        stranger_override = world.bravo.overrides.create(
            role="primary",
            member=world.bravo.members.get(),
            start=NOW + dt.timedelta(days=1),
            end=NOW + dt.timedelta(days=2),
        )
        client = world.client("lead")
        assert client.get(f"/api/v1/teams/alpha/overrides/{stranger_override.pk}/").status_code == 404
        assert client.delete(f"/api/v1/teams/alpha/overrides/{stranger_override.pk}/").status_code == 404
        assert client.get(f"/api/v1/teams/bravo/overrides/{stranger_override.pk}/").status_code == 404
        assert client.get("/api/v1/teams/no-such-team/").status_code == 404
    assert stranger_override.__class__.objects.filter(pk=stranger_override.pk).exists()
