"""The PostgreSQL backend (roulette/db/postgresql): what the incoming call's statements read through its
prepared cursor is what Django's own cursor reads, and a connection the server ended is replaced without
the caller noticing."""

import contextlib
import datetime as dt
import socket
import threading

import psycopg
import pytest
import time_machine
from django.db import connection, connections

from telephony.models import Call
from tests.factories import staffed_team
from tests.postgres_proxy import connection_through, server_address
from tests.telephony.world import CALLER, NOW, WEB_NUMBER, path_of, sid
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


def test_a_server_that_takes_the_connection_and_never_answers_fails_it_within_seconds(db):
    """A web worker must not hang on the database past Twilio's 15 s (then every webhook, the Voice Fallback
    URL included, waits behind it): the connection attempt gives up (settings: connect_timeout). The thread's
    generous bound turns a hang into a failure instead of a stuck suite; it is not a speed target."""
    import socket
    import threading

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts (the kernel completes the handshake) and never says a word
        settings_dict = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": str(silent.getsockname()[1])}
        settings_dict["OPTIONS"] = {**settings_dict["OPTIONS"], "sslmode": "disable", "gssencmode": "disable"}
        wrapper = type(connections["default"])(settings_dict, alias="silent")
        outcome = []

        def connect():
            try:
                wrapper.ensure_connection()
                outcome.append("connected")
            except Exception as exc:  # noqa: BLE001 - which error is what the test reports
                outcome.append(type(exc).__name__)

        worker = threading.Thread(target=connect, daemon=True)
        worker.start()
        worker.join(60)
    assert outcome == ["OperationalError"]
    assert settings_dict["OPTIONS"]["connect_timeout"] <= 5


class SilentDrop:
    """A TCP proxy in front of PostgreSQL that can forget its connections without a word, as a NAT or a load
    balancer does: the client's socket stays open and quiet (no FIN, nothing to read, so no local check can
    tell), the server side is gone, and the client's next bytes are answered with a reset. New connections
    go through."""

    def __init__(self, host: str, port: int):
        self.target, self.pairs, self.dropped = (host, port), [], set()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                server = socket.create_connection(self.target)
                pair = (client, server)
                self.pairs.append(pair)
                threading.Thread(target=self._to_server, args=(pair,), daemon=True).start()
                threading.Thread(target=self._to_client, args=(pair,), daemon=True).start()

    def _to_server(self, pair):
        client, server = pair
        with contextlib.suppress(OSError):
            while chunk := client.recv(65536):
                if pair in self.dropped:
                    break
                server.sendall(chunk)
        if pair in self.dropped:  # a reset, not a goodbye
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        client.close()

    def _to_client(self, pair):
        client, server = pair
        with contextlib.suppress(OSError):
            while chunk := server.recv(65536):
                client.sendall(chunk)
        if pair not in self.dropped:
            client.close()

    def drop(self):
        for pair in self.pairs:
            self.dropped.add(pair)
            with contextlib.suppress(OSError):
                pair[1].shutdown(socket.SHUT_RDWR)

    def close(self):
        self.listener.close()


@pytest.fixture
def silent_drop(transactional_db):
    proxy = SilentDrop(*server_address())
    try:
        with connection_through(proxy.port):
            yield proxy
    finally:
        proxy.close()


def test_a_connection_dropped_without_a_word_loses_no_step_of_a_call(client, silent_drop):
    """Between the ring and its result, the network forgot the worker's connection: the Dial action still
    rings the next person (not the apology), and the call's final status is still recorded."""
    with time_machine.travel(NOW, tick=False):
        _, (primary, secondary) = staffed_team(number=WEB_NUMBER)
        call = {"CallSid": sid("CA"), "From": CALLER, "To": WEB_NUMBER, "CallStatus": "ringing"}
        dial = check_twiml(post_signed(client, INCOMING, call)).find("Dial")
        assert dial.find("Number").text == primary.phone
        silent_drop.drop()
        result = {**call, "CallStatus": "in-progress", "DialCallStatus": "no-answer", "DialCallSid": sid("CA")}
        after = check_twiml(post_signed(client, path_of(dial.get("action")), result))
        assert after.find("Dial/Number").text == secondary.phone
        silent_drop.drop()
        ended = {**call, "CallStatus": "completed", "CallDuration": "31"}
        assert post_signed(client, "/telephony/voice/status/", ended).status_code == 200
    logged = Call.objects.get(call_sid=call["CallSid"])
    assert (logged.status, logged.duration_seconds) == ("completed", 31)
    assert [attempt.member for attempt in logged.attempts.order_by("position")] == [primary, secondary]


def test_a_call_goes_through_while_a_lead_holds_the_teams_rota_lock(transactional_db, client):
    """A rota write (an override, a rotation, the beat's shift generation) locks the team's row for its
    whole transaction. The incoming call's INSERT checks its foreign key to the team meanwhile: it must not
    wait for that transaction. The threads' generous bound turns a wait into a failure, not a speed target."""
    from django.db import transaction

    from teams import services

    with time_machine.travel(NOW, tick=False):
        team, (primary, _) = staffed_team(number=WEB_NUMBER)
    locked, release, answers = threading.Event(), threading.Event(), []

    def lead():
        with transaction.atomic():
            services.team_lock(team_id=team.pk)
            locked.set()
            release.wait(60)
        connection.close()

    def caller():
        with time_machine.travel(NOW, tick=False):
            params = {"CallSid": sid("CA"), "From": CALLER, "To": WEB_NUMBER, "CallStatus": "ringing"}
            answers.append(post_signed(client, INCOMING, params))
        connection.close()

    holder = threading.Thread(target=lead, daemon=True)
    holder.start()
    assert locked.wait(30)
    call = threading.Thread(target=caller, daemon=True)
    call.start()
    call.join(30)
    finished_while_locked = not call.is_alive()
    release.set()
    holder.join(30)
    call.join(30)
    assert finished_while_locked
    assert check_twiml(answers[0]).find("Dial/Number").text == primary.phone
