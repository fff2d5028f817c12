"""The PostgreSQL backend (roulette/db/postgresql): what the incoming call's statements read through its
prepared cursor is what Django's own cursor reads, and a connection the server ended is replaced without
the caller noticing."""

import datetime as dt

import psycopg
import pytest
import time_machine
from django.db import connection

from telephony.models import Call
from tests.factories import staffed_team
from tests.telephony.world import CALLER, NOW, WEB_NUMBER, sid
from tests.twilio_helpers import post_signed
from tests.twiml_rules import check_twiml

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="The PostgreSQL backend: set DATABASE_URL to a PostgreSQL database."
)

INCOMING = "/telephony/voice/incoming/"


def _both_cursors(sql: str, params: list) -> tuple[tuple, tuple]:
    with connection.prepared_cursor() as cursor:
        cursor.execute(sql, params)
        prepared = cursor.fetchone()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        django = cursor.fetchone()
    return prepared, django


def test_the_prepared_cursor_reads_times_and_json_as_django_does(db):
    sql = "SELECT CAST(%s AS timestamptz), CAST(%s AS timestamptz), CAST(%s AS jsonb), CAST(NULL AS timestamptz)"
    params = ["2026-03-29 01:30:00.123456+02", "2033-10-30 00:59:59-03", '{"b": [1, "ã"], "a": null}']
    for _ in "12":  # the second time on the kept cursor
        prepared, django = _both_cursors(sql, params)
        assert prepared == django
        assert [type(value.tzinfo) for value in prepared[:2]] == [type(value.tzinfo) for value in django[:2]]
        assert prepared[0] == dt.datetime(2026, 3, 28, 23, 30, 0, 123456, tzinfo=dt.UTC)
        assert prepared[2] == '{"a": null, "b": [1, "ã"]}'  # text, for JSONField to decode as it does


def test_an_incoming_call_after_the_server_ended_the_connection_goes_through(transactional_db, client):
    with time_machine.travel(NOW, tick=False):
        _, (primary, _) = staffed_team(number=WEB_NUMBER)
        params = {"CallSid": sid("CA"), "From": CALLER, "To": WEB_NUMBER, "CallStatus": "ringing"}
        assert post_signed(client, INCOMING, params).status_code == 200
        pid = connection.connection.info.backend_pid
        # What a server restart or an administrator does to an idle connection.
        with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        params = {**params, "CallSid": sid("CA")}
        root = check_twiml(post_signed(client, INCOMING, params))
    assert root.find("Dial/Number").text == primary.phone
    assert connection.connection.info.backend_pid != pid
    assert Call.objects.filter(call_sid=params["CallSid"]).exists()
