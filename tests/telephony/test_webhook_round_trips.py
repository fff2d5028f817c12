"""Round trips to the database per webhook, counted where they happen.

On PostgreSQL the count is taken on the wire: the test's connection goes through a small proxy that counts
the client's round trips (each simple Query message and each Sync of the extended protocol), so a health
check, a BEGIN or a COMMIT counts like any statement. On SQLite (no wire) Django's own query log counts.
The incoming call: at most 2 on PostgreSQL, health check included (3 on SQLite, whose write takes two
statements); every other webhook at most 3. And the incoming call reads only by index: adding teams,
people and years of shifts changes neither its statements nor the rows it reads.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import struct
import threading

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from teams import services
from teams.models import Member, Role, Shift, SupportNumber, Team
from telephony import alerts, incoming_sql, swaps
from telephony.models import Call, DialAttempt, OutboundMessage, Voicemail
from tests.factories import ShiftFactory, SupportNumberFactory, team_with_members
from tests.postgres_proxy import connection_through, server_address
from tests.telephony.world import CALLER, FALLBACK_PHONE, NOW, WEB_NUMBER, sid, web_team
from tests.twilio_helpers import post_signed
from tests.twiml_rules import check_twiml

POSTGRES = connection.vendor == "postgresql"
INCOMING = "/telephony/voice/incoming/"
# Message types of PostgreSQL's frontend protocol that end a round trip: a simple Query, and the Sync
# that ends an extended-protocol exchange (Parse/Bind/Execute...).
ROUND_TRIP_ENDS = {b"Q", b"S"}


class WireCounter:
    """A TCP proxy in front of PostgreSQL that counts the round trips the client starts."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.count = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            threading.Thread(target=self._client_to_server, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client), daemon=True).start()

    @staticmethod
    def _read(sock, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError
            data += chunk
        return data

    def _client_to_server(self, client, server):
        with contextlib.suppress(OSError, ConnectionError):
            # The startup message has no type byte: its length, then the protocol and parameters.
            (length,) = struct.unpack("!I", head := self._read(client, 4))
            server.sendall(head + self._read(client, length - 4))
            while True:
                kind = self._read(client, 1)
                (length,) = struct.unpack("!I", head := self._read(client, 4))
                body = self._read(client, length - 4)
                if kind in ROUND_TRIP_ENDS:
                    self.count += 1
                server.sendall(kind + head + body)
        client.close(), server.close()

    @staticmethod
    def _pipe(source, sink):
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        source.close(), sink.close()

    def close(self):
        self.listener.close()


@pytest.fixture
def round_trips(transactional_db):
    """`with round_trips() as counted:` … `counted()` is the number of round trips (PostgreSQL: on the wire,
    health checks included, each request starting as a persistent connection's next request does)."""
    if not POSTGRES:

        @contextlib.contextmanager
        def sqlite_count():
            with CaptureQueriesContext(connection) as captured:
                yield lambda: len(captured.captured_queries)

        yield sqlite_count
        return
    proxy = WireCounter(*server_address())

    @contextlib.contextmanager
    def wire_count():
        assert connection.health_check_enabled
        connection.health_check_done = False  # what Django does when a request starts
        before = proxy.count
        yield lambda: proxy.count - before

    try:
        with connection_through(proxy.port):
            connection.ensure_connection()  # the connection exists before the request, as in production
            yield wire_count
    finally:
        proxy.close()


def _post(client, path, params, round_trips, *, whisper=False):
    with round_trips() as counted:
        root = check_twiml(post_signed(client, path, params), whisper=whisper)
    return root, counted()


INCOMING_BUDGET = 2 if POSTGRES else 3


def test_an_incoming_call_takes_two_round_trips_and_one_to_a_number_read_before(client, round_trips):
    """The first call reads, then writes; on PostgreSQL the next call to the number decides from that read
    and writes in one statement that checks the rows are still the same. Each statement pays one more round
    trip the first time a connection runs it, to prepare it (parsed and planned once per connection)."""
    with time_machine.travel(NOW, tick=False):
        world = web_team(None)
        calls = [{"CallSid": sid("CA"), "From": CALLER, "To": WEB_NUMBER, "CallStatus": "ringing"} for _ in range(3)]
        counted = [_post(client, INCOMING, params, round_trips) for params in calls]
    assert [count for _, count in counted] == ([2 + 2, 1 + 1, 1] if POSTGRES else [3, 3, 3])
    for root, _ in counted:
        assert root.find("Dial/Number").text == world.primary.phone
    assert Call.objects.count() == 3
    for call in Call.objects.all():
        assert call.team == world.team and call.attempts.get().member == world.primary


@pytest.mark.skipif(not POSTGRES, reason="PostgreSQL's connection set-up: SQLite opens a file.")
def test_a_new_connection_sends_no_statement_before_the_first_call(round_trips):
    """Its time zone and plan cache mode travel in the start-up packet (roulette/db/postgresql): Django would
    otherwise send a `set_config` on every new connection to a server whose zone is "Etc/UTC", a third round
    trip for the first call a worker takes after each CONN_MAX_AGE."""
    connection.close()
    with round_trips() as counted:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('TimeZone'), current_setting('plan_cache_mode')")
            zone, plans = cursor.fetchone()
    assert counted() == 1  # the SELECT just above, nothing before it
    assert (zone, plans) == (connection.timezone_name, "force_generic_plan")


def _incoming(client, round_trips, *, to: str = WEB_NUMBER):
    params = {"CallSid": sid("CA"), "From": CALLER, "To": to, "CallStatus": "ringing"}
    return _post(client, INCOMING, params, round_trips)


def test_an_unknown_number_and_a_voicemail_are_two_round_trips_too(client, round_trips):
    with time_machine.travel(NOW, tick=False):
        web_team(None)
        _incoming(client, round_trips, to="+493099999999")  # this connection prepares its statements
        root, unknown = _incoming(client, round_trips, to="+493099999999")
        assert root.find("Hangup") is not None
        Shift.objects.all().delete()
        Team.objects.update(fallback_phone="")
        _incoming(client, round_trips)  # prepared again: the team parameter now has a type (not NULL)
        root, nobody = _incoming(client, round_trips)
        assert root.find("Record") is not None
    assert unknown <= 2 and nobody <= 2  # no dial attempt: one INSERT on either database


def _read_statement_rows(*, to_number: str, at: dt.datetime) -> tuple[int, int]:
    """(sequential scans, rows fetched) of the incoming call's read, from PostgreSQL's own counters for the
    current transaction, with sequential scans priced out: a lookup without an index shows as a scan."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sums = (
            "SELECT coalesce(sum(seq_scan), 0), coalesce(sum(idx_tup_fetch + seq_tup_read), 0)"
            " FROM pg_stat_xact_user_tables"
        )
        cursor.execute(sums)
        scans_before, rows_before = cursor.fetchone()
        incoming_sql.incoming_read(to_number=to_number, at=at)
        cursor.execute(sums)
        scans_after, rows_after = cursor.fetchone()
    return scans_after - scans_before, rows_after - rows_before


def _more_teams(count: int, *, years: int) -> None:
    """`count` teams of 4 with a number each and `years` of daily shifts per role, in bulk."""
    for index in range(count):
        team = Team.objects.create(slug=f"bulk-{index}", name=f"Bulk {index}")
        members = Member.objects.bulk_create(
            Member(name=f"M{index}-{n}", phone=f"+4915{index:05d}{n:04d}") for n in range(4)
        )
        SupportNumber.objects.create(team=team, phone_number=f"+4930{index:07d}")
        start = NOW - dt.timedelta(days=365 * years)
        Shift.objects.bulk_create(
            Shift(team=team, role=role, member=members[(day + offset) % 4], start=start + dt.timedelta(days=day),
                  end=start + dt.timedelta(days=day + 1))
            for day in range(365 * years + 30)
            for offset, role in enumerate((Role.PRIMARY, Role.SECONDARY))
        )  # fmt: skip


@pytest.mark.skipif(not POSTGRES, reason="PostgreSQL's per-table counters; SQLite's plan is checked below.")
def test_the_incoming_read_is_index_lookups_whatever_the_size_of_the_database(db):
    with time_machine.travel(NOW, tick=False):
        world = web_team(None)
        billing, _ = team_with_members(1, name="Billing", slug="billing")
        SupportNumber.objects.filter(team=world.team).update(menu=[{"digit": "1", "team": "billing"}])
        small = _read_statement_rows(to_number=WEB_NUMBER, at=NOW)
        _more_teams(20, years=3)
        large = _read_statement_rows(to_number=WEB_NUMBER, at=NOW)
    assert small[0] == 0 and large[0] == 0, "a table read without an index"
    assert large[1] == small[1], "rows read grew with other teams' rows"
    assert incoming_sql.incoming_read(to_number=WEB_NUMBER, at=NOW).menu_teams == (billing,)


@pytest.mark.skipif(POSTGRES, reason="SQLite's query plan; PostgreSQL's counters are checked above.")
def test_the_incoming_read_searches_indexes_only_on_sqlite(db):
    read = incoming_sql._read_sql(connection.vendor)
    at = connection.ops.adapt_datetimefield_value(NOW)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + read.sql, {"to": WEB_NUMBER, "at": at})
        plan = [row[-1] for row in cursor.fetchall()]
    # `c` is the shifts and overrides covering the instant, each found by index, materialized; `e` the entries
    # of the menu of the one number found by its index (at most 9), each team then found by its slug's index.
    bounded = ("SCAN c ", "SCAN e VIRTUAL TABLE")
    scans = [line for line in plan if line.startswith("SCAN") and "USING" not in line and not line.startswith(bounded)]
    assert not scans, plan
    assert any(line.startswith("SEARCH mt USING INDEX") for line in plan), plan


def test_the_chain_skips_a_phone_that_is_one_of_our_numbers_without_reading_other_teams(client, round_trips):
    """The blocked-number check looks only at this call's chain: a primary whose phone became a support
    number (of another team) is skipped, in the same two round trips."""
    with time_machine.travel(NOW, tick=False):
        world = web_team(None)
        for _ in "12":  # this connection prepares its statements (the read and write, then the checked write)
            _incoming(client, round_trips)
        other, _ = team_with_members(1, name="Other")
        SupportNumberFactory(team=other, phone_number=world.primary.phone)
        root, counted = _incoming(client, round_trips)
    assert counted <= INCOMING_BUDGET
    assert root.find("Dial/Number").text == world.secondary.phone


def _answer(root) -> str:
    """Who the caller's call rings, or what else it hears: Reject, a voicemail's Record, a Hangup."""
    if (number := root.find("Dial/Number")) is not None:
        return number.text
    return next(tag for tag in ("Reject", "Record", "Hangup") if root.find(tag) is not None)


HOUR = dt.timedelta(hours=1)
PHONE_NEW, PHONE_OTHER = "+4917099990000", "+4917088880000"


def _an_override(world) -> str:
    services.override_create(team=world.team, role=Role.PRIMARY, member=world.lead, start=NOW - HOUR, end=NOW + HOUR)
    return world.lead.phone


def _primary_away(world) -> str:
    services.time_off_create(team=world.team, member=world.primary, start=NOW - HOUR, end=NOW + HOUR)
    return world.secondary.phone


def _primary_new_phone(world) -> str:
    services.member_update(member=world.primary, phone=PHONE_NEW)
    return PHONE_NEW


def _primary_phone_now_ours(world) -> str:
    SupportNumberFactory(team=team_with_members(1)[0], phone_number=world.primary.phone)
    return world.secondary.phone


def _caller_blocked(world) -> str:
    services.team_update(team=world.team, blocked_callers=[CALLER])
    return "Reject"


def _number_moved(world) -> str:
    other, (member,) = team_with_members(1, name="Other")
    services.member_update(member=member, phone=PHONE_OTHER)
    ShiftFactory(team=other, role=Role.PRIMARY, member=member)
    services.support_number_update(number=SupportNumber.objects.get(phone_number=WEB_NUMBER), team=other)
    return PHONE_OTHER


def _number_deleted(world) -> str:
    services.support_number_delete(number=SupportNumber.objects.get(phone_number=WEB_NUMBER))
    return "Hangup"


def _nobody_left(world) -> str:
    Shift.objects.filter(team=world.team).delete()
    services.team_update(team=world.team, fallback_phone="")
    return "Record"


# A change between two calls to the number, and what the next call then hears.
CHANGES = {
    "an override": _an_override,
    "the primary's time off": _primary_away,
    "the primary's new phone": _primary_new_phone,
    "the primary's phone now a number of ours": _primary_phone_now_ours,
    "the caller blocked": _caller_blocked,
    "the number moved to another team": _number_moved,
    "the number deleted": _number_deleted,
    "the shifts deleted, no fallback": _nobody_left,
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_change_between_two_calls_to_a_number_is_heard_on_the_next(client, round_trips, change):
    """A process decides a call from the read it remembers of the number only while the database still
    reads the same: after any change the next call hears what a process that never read it would, in at
    most two round trips."""
    with time_machine.travel(NOW, tick=False):
        world = web_team(None)
        # This connection prepares its statements: the read and write, the checked write, the write of a call
        # to a number not ours (no team: other parameter types, prepared apart).
        _incoming(client, round_trips, to="+493099999999")
        for _ in "12":
            root, _ = _incoming(client, round_trips)
        assert _answer(root) == world.primary.phone
        expected = CHANGES[change](world)
        root, counted = _incoming(client, round_trips)
        incoming_sql.forget()
        fresh, _ = _incoming(client, round_trips)
    assert counted <= INCOMING_BUDGET
    assert _answer(root) == _answer(fresh) == expected


def test_a_call_after_the_shifts_ended_rings_who_covers_then(client, round_trips):
    """Nothing changed in the database, the time did: the shift that covered the last call has ended."""
    with time_machine.travel(NOW, tick=False):
        world = web_team(None)
        for _ in "12":
            root, _ = _incoming(client, round_trips)
        assert _answer(root) == world.primary.phone
        ended = Shift.objects.filter(team=world.team).latest("end").end
    with time_machine.travel(ended + HOUR, tick=False):
        root, counted = _incoming(client, round_trips)
    assert counted <= INCOMING_BUDGET
    assert _answer(root) == FALLBACK_PHONE


def test_a_replayed_incoming_request_answers_the_same(client, round_trips):
    with time_machine.travel(NOW, tick=False):
        web_team(None)
        params = {"CallSid": sid("CA"), "From": CALLER, "To": WEB_NUMBER, "CallStatus": "ringing"}
        first, _ = _post(client, INCOMING, params, round_trips)
        second, _ = _post(client, INCOMING, params, round_trips)
    assert first.find("Dial/Number").text == second.find("Dial/Number").text
    assert Call.objects.count() == 1 and DialAttempt.objects.count() == 1


# --- Every path of the incoming call: two round trips ---------------------------------------------------

DESK = ["+493012349901", "+493012349902"]


def _shape(team, **fields):
    for name, value in fields.items():
        setattr(team, name, value)
    team.full_clean()
    team.save()


def _dial_numbers(root) -> list[str]:
    return [number.text for number in root.find("Dial").findall("Number")]


def _twice(client, round_trips, **params):
    """The same path twice (the first prepares this connection's statements): the second's answer and
    round trips."""
    calls = [{"CallSid": sid("CA"), "From": CALLER, "To": WEB_NUMBER, "CallStatus": "ringing", **params} for _ in "12"]
    return [_post(client, INCOMING, call, round_trips) for call in calls][-1]


def test_the_desk_rings_at_once_in_two_round_trips(client, round_trips):
    with time_machine.travel(NOW, tick=False):  # a Tuesday, 11:00 in Berlin
        world = web_team(None)
        days = ["mon", "tue", "wed", "thu", "fri"]
        _shape(world.team, business_hours=[{"days": days, "start": "09:00", "end": "18:00"}], desk_phones=DESK)
        root, counted = _twice(client, round_trips)
    assert counted <= INCOMING_BUDGET
    assert _dial_numbers(root) == DESK
    call = Call.objects.latest("pk")
    assert [(a.target, a.phone, a.ring_group) for a in call.attempts.order_by("position")] == [
        ("desk", DESK[0], 0),
        ("desk", DESK[1], 0),
    ]


def test_a_simultaneous_ring_takes_two_round_trips(client, round_trips):
    with time_machine.travel(NOW, tick=False):
        world = web_team(None)
        _shape(world.team, ring_strategy="simultaneous")
        root, counted = _twice(client, round_trips)
    assert counted <= INCOMING_BUDGET
    assert _dial_numbers(root) == [world.primary.phone, world.secondary.phone]
    attempts = Call.objects.latest("pk").attempts.order_by("position")
    assert [(a.member, a.ring_group) for a in attempts] == [(world.primary, 0), (world.secondary, 0)]


@pytest.mark.parametrize(("lists", "answer"), [({"blocked_callers": [CALLER]}, "Reject"),
                                               ({"allowed_callers": ["+4917011112222"]}, "Say")])  # fmt: skip
def test_a_blocked_or_refused_caller_takes_two_round_trips(client, round_trips, lists, answer):
    with time_machine.travel(NOW, tick=False):
        world = web_team(None)
        _shape(world.team, **lists)
        root, counted = _twice(client, round_trips)
    assert counted <= 2  # no dial attempt: one INSERT on either database
    assert root[0].tag == answer and not DialAttempt.objects.exists()


def _menu_of_web(world, *teams):
    number = world.team.numbers.get()
    number.menu = [{"digit": str(index + 1), "team": team.slug} for index, team in enumerate(teams)]
    number.full_clean()
    number.save()


def test_a_vip_caller_skips_menu_and_desk_in_two_round_trips(client, round_trips):
    with time_machine.travel(NOW, tick=False):
        world = web_team(None)
        billing, _ = team_with_members(1, name="Billing", slug="billing")
        _menu_of_web(world, billing)
        days = ["mon", "tue", "wed", "thu", "fri"]
        _shape(world.team, business_hours=[{"days": days, "start": "09:00", "end": "18:00"}], desk_phones=DESK,
               vip_callers=[CALLER])  # fmt: skip
        root, counted = _twice(client, round_trips)
    assert counted <= INCOMING_BUDGET
    assert root.find("Gather") is None
    assert _dial_numbers(root) == [world.primary.phone, world.secondary.phone]


def test_a_menu_is_offered_in_two_round_trips_and_its_key_routes_in_two_more(client, round_trips):
    """The read brings the menu's teams with the team called; the key press reads the chosen team, then
    one statement updates the Call and inserts its dial attempts."""
    with time_machine.travel(NOW, tick=False):
        world = web_team(None)
        billing, (billing_primary,) = team_with_members(1, name="Billing", slug="billing")
        ShiftFactory(team=billing, role=Role.PRIMARY, member=billing_primary)
        teams = [billing] + [team_with_members(0, name=name, slug=name.lower())[0] for name in ("Sales", "Legal")]
        _menu_of_web(world, *teams)
        keys = []
        for _ in "12":  # the first call prepares this connection's statements
            root, offered = _twice(client, round_trips)
            gather = root.find("Gather")
            call_sid = Call.objects.latest("pk").call_sid
            params = {"CallSid": call_sid, "From": CALLER, "To": WEB_NUMBER, "CallStatus": "in-progress",
                      "Digits": "1"}  # fmt: skip
            keys.append(_post(client, gather.get("action").removeprefix(settings.PUBLIC_BASE_URL), params,
                              round_trips))  # fmt: skip
        pressed, routed = keys[-1]
    assert offered <= INCOMING_BUDGET
    assert [say.text for say in gather.findall("Say")][-1] == (
        "For Billing, press 1. For Sales, press 2. For Legal, press 3."
    )
    assert routed <= KEY_PRESS_BUDGET
    assert _dial_numbers(pressed) == [billing_primary.phone]
    call = Call.objects.get(call_sid=call_sid)
    assert (call.team, call.menu_digit) == (billing, "1")
    assert [a.phone for a in call.attempts.all()] == [billing_primary.phone]


# The key press: the chosen team's read, then the Call's UPDATE and its attempts in one statement on
# PostgreSQL (two on SQLite).
KEY_PRESS_BUDGET = 2 if POSTGRES else 3


# --- Every other webhook: at most 3 round trips ------------------------------------------------------------

OTHER_BUDGET = 3
# SQLite has no data-modifying CTE: the Dial action writes each of its rows in a statement of its own.
SQLITE_STATEMENTS = {} if POSTGRES else {"dial result (answered)": 4, "dial result (next person)": 5}


class CountedCall:
    """A call walked as Twilio walks it (the URLs of each answer), each request's round trips noted by the
    webhook's name."""

    def __init__(self, client, round_trips, counts: dict, **params):
        self.client, self.round_trips, self.counts = client, round_trips, counts
        self.params = {"AccountSid": "AC" + "0" * 32, "CallSid": sid("CA"), "From": CALLER, "To": WEB_NUMBER,
                       "CallStatus": "in-progress", "Direction": "inbound", **params}  # fmt: skip

    def post(self, name: str, url: str, *, whisper: bool = False, kind: str = "voice", **params):
        path = url.removeprefix(settings.PUBLIC_BASE_URL)
        with self.round_trips() as counted:
            response = post_signed(self.client, path, {**self.params, **params})
        self.counts[name] = max(self.counts.get(name, 0), counted())
        return check_twiml(response, whisper=whisper, kind=kind)


def test_every_other_webhook_takes_at_most_three_round_trips(client, round_trips, redis_server):
    counts: dict[str, int] = {}
    with time_machine.travel(NOW, tick=False):
        world = web_team(None)
        _incoming(client, round_trips)  # this connection prepares the incoming call's statements
        # Answered: screening, key press, the Dial action, the final status.
        answered = CountedCall(client, round_trips, counts)
        dial = answered.post("incoming", settings.PUBLIC_BASE_URL + INCOMING, CallStatus="ringing").find("Dial")
        leg = {"CallSid": sid("CA"), "ParentCallSid": answered.params["CallSid"], "Direction": "outbound-dial"}
        gather = answered.post("screening", dial.find("Number").get("url"), whisper=True, **leg).find("Gather")
        answered.post("key press", gather.get("action"), Digits="1", **leg)
        answered.post("dial result (answered)", dial.get("action"), DialCallStatus="completed",
                      DialCallSid=leg["CallSid"], DialCallDuration="30")  # fmt: skip
        answered.post("status", settings.PUBLIC_BASE_URL + "/telephony/voice/status/", CallStatus="completed",
                      CallDuration="42")  # fmt: skip
        # Unanswered: each Dial action rings the next person, then the voicemail and its callbacks.
        missed = CountedCall(client, round_trips, counts)
        root = missed.post("incoming", settings.PUBLIC_BASE_URL + INCOMING, CallStatus="ringing")
        while root.find("Dial") is not None:
            root = missed.post("dial result (next person)", root.find("Dial").get("action"),
                               DialCallStatus="no-answer", DialCallSid=sid("CA"), DialCallDuration="0")  # fmt: skip
        record = root.find("Record")
        recording = {"RecordingSid": sid("RE"), "RecordingDuration": "12",
                     "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1"}  # fmt: skip
        missed.post("recording", record.get("action"), **recording)
        missed.post("recording status", record.get("recordingStatusCallback"), RecordingStatus="completed",
                    **recording)  # fmt: skip
        missed.post("transcription", record.get("transcribeCallback"), TranscriptionText="Please call back.",
                    TranscriptionStatus="completed", TranscriptionSid=sid("TR"), **recording)  # fmt: skip
        missed.post("status", settings.PUBLIC_BASE_URL + "/telephony/voice/status/", CallStatus="completed",
                    CallDuration="60")  # fmt: skip
        # SMS in (WHO from a member) and an SMS status report.
        sms = CountedCall(client, round_trips, counts, From=world.primary.phone, MessageSid=sid("SM"), Body="WHO")
        sms.post("sms in", settings.PUBLIC_BASE_URL + "/telephony/sms/incoming/", kind="messaging")
        message = OutboundMessage.objects.create(to=world.primary.phone, body="Hi", kind="test", dedupe_key="rt:1",
                                                 status="sent", message_sid=sid("SM"))  # fmt: skip
        with round_trips() as counted:
            response = post_signed(client, "/telephony/sms/status/", {"AccountSid": "AC" + "0" * 32,
                                   "MessageSid": message.message_sid, "MessageStatus": "delivered"})  # fmt: skip
        assert response.status_code < 300
        counts["sms status"] = counted()
    assert Call.objects.get(call_sid=answered.params["CallSid"]).outcome == Call.Outcome.ANSWERED
    assert Voicemail.objects.get().transcription == "Please call back."
    budgets = {"incoming": INCOMING_BUDGET, **SQLITE_STATEMENTS}
    over = {name: count for name, count in counts.items() if count > budgets.get(name, OTHER_BUDGET)}
    assert not over, f"round trips per webhook: {counts}"


def test_a_dial_action_that_rings_several_phones_at_once_takes_at_most_three_round_trips(client, round_trips):
    """The desk rang out; primary and secondary ring together next (simultaneous): the ended legs' update,
    the charge and both new attempts in one statement."""
    counts: dict[str, int] = {}
    with time_machine.travel(NOW, tick=False):  # a Tuesday, 11:00 in Berlin
        world = web_team(None)
        days = ["mon", "tue", "wed", "thu", "fri"]
        _shape(world.team, business_hours=[{"days": days, "start": "09:00", "end": "18:00"}], desk_phones=DESK,
               ring_strategy="simultaneous")  # fmt: skip
        for _ in "12":  # the first call prepares this connection's statements
            call = CountedCall(client, round_trips, counts)
            dial = call.post("incoming", settings.PUBLIC_BASE_URL + INCOMING, CallStatus="ringing").find("Dial")
            root = call.post("dial result (several at once)", dial.get("action"), DialCallStatus="no-answer",
                             DialCallSid=sid("CA"), DialCallDuration="0")  # fmt: skip
    assert _dial_numbers(root) == [world.primary.phone, world.secondary.phone]
    attempts = Call.objects.get(call_sid=call.params["CallSid"]).attempts.order_by("position")
    assert [(a.target, a.ring_group) for a in attempts] == [("desk", 0), ("desk", 0), ("primary", 2), ("secondary", 2)]
    # SQLite: the two reads, the desk's attempts, the charge, then one INSERT per new attempt.
    assert counts["dial result (several at once)"] <= (OTHER_BUDGET if POSTGRES else 7), counts


# --- SMS in: every command within 3 round trips -------------------------------------------------------------

SMS_IN = "/telephony/sms/incoming/"


def _sms_in(client, round_trips, sender: str, body: str, *, message_sid: str | None = None):
    """One inbound SMS: (the reply text or None, its round trips)."""
    params = {"AccountSid": "AC" + "0" * 32, "MessageSid": message_sid or sid("SM"), "From": sender,
              "To": WEB_NUMBER, "Body": body, "NumMedia": "0"}  # fmt: skip
    root, counted = _post_sms(client, params, round_trips)
    message = root.find("Message")
    return (message.text if message is not None else None), counted


def _post_sms(client, params, round_trips):
    with round_trips() as counted:
        root = check_twiml(post_signed(client, SMS_IN, params), kind="messaging")
    return root, counted()


def _sms_counts(client, round_trips, texts) -> dict[str, tuple[str | None, int]]:
    """Each (name, sender, body) texted in turn, after a first text that prepares the connection."""
    _sms_in(client, round_trips, "+4917099999999", "HELP")
    return {name: _sms_in(client, round_trips, sender, body) for name, sender, body in texts}


# SQLite has no data-modifying CTE: an SMS step is the services' short transaction, a statement per row.
SQLITE_SMS_STATEMENTS = {} if POSTGRES else {"ACK": 7, "ACK again": 5, "RESOLVE": 7, "RESOLVE an open alert": 7,
                                              "TAKE": 12, "APPROVE": 25, "DECLINE": 9}  # fmt: skip


def _within_three(counts: dict) -> None:
    budgets = SQLITE_SMS_STATEMENTS
    over = {name: count for name, (_, count) in counts.items() if count > budgets.get(name, OTHER_BUDGET)}
    assert not over, f"round trips per SMS command: { {name: count for name, (_, count) in counts.items()} }"


def test_sms_opt_outs_and_opt_ins_take_at_most_three_round_trips(client, round_trips):
    with time_machine.travel(NOW, tick=False):
        world = web_team(None)
        counts = _sms_counts(client, round_trips, [
            ("STOP", world.primary.phone, "STOP"),
            ("STOP again", world.primary.phone, "stop."),
            ("START", world.primary.phone, "START"),
            ("STOP from a stranger", "+4917099999999", "STOP"),
        ])  # fmt: skip
    _within_three(counts)
    assert all(reply is None for reply, _ in counts.values())
    world.primary.refresh_from_db()
    assert world.primary.sms_opted_out_at is None


def test_sms_who_help_and_strangers_take_at_most_three_round_trips(client, round_trips):
    with time_machine.travel(NOW, tick=False):
        world = web_team(None)
        Member.objects.filter(pk=world.secondary.pk).update(sms_opted_out_at=NOW)
        counts = _sms_counts(client, round_trips, [
            ("WHO", world.primary.phone, "WHO"),
            ("HELP", world.primary.phone, "HELP"),
            ("unknown text", world.primary.phone, "what is this?"),
            ("a sender who is no member", "+4917099999999", "WHO"),
            ("an opted-out sender", world.secondary.phone, "WHO"),
        ])  # fmt: skip
    _within_three(counts)
    assert counts["WHO"][0].startswith(f"Web: primary {world.primary.name} until")
    assert "ACK <id>" in counts["HELP"][0] and counts["unknown text"][0] == counts["HELP"][0]
    assert counts["a sender who is no member"][0] is None
    assert counts["an opted-out sender"][0] == counts["WHO"][0]


def test_sms_ack_and_resolve_take_at_most_three_round_trips(client, round_trips, redis_server):
    with time_machine.travel(NOW, tick=False):
        world = web_team(None)
        alert, _ = alerts.alert_raise(team=world.team, summary="Disk full on web-1")
        other, _ = alerts.alert_raise(team=world.team, summary="Disk full on web-2")
        counts = _sms_counts(client, round_trips, [
            ("ACK", world.primary.phone, f"ACK {alert.pk}"),
            ("ACK again", world.primary.phone, f"ACK {alert.pk}"),
            ("RESOLVE", world.primary.phone, f"RESOLVE {alert.pk}"),
            ("RESOLVE an open alert", world.secondary.phone, f"RESOLVE {other.pk}"),
            ("ACK of no alert", world.primary.phone, "ACK 999999"),
        ])  # fmt: skip
    _within_three(counts)


def test_sms_take_approve_and_decline_take_at_most_three_round_trips(client, round_trips, redis_server):
    with time_machine.travel(NOW, tick=False):
        world = web_team(None)
        Team.objects.filter(pk=world.team.pk).update(swap_approval=True)
        world.team.refresh_from_db()
        shifts = [
            Shift.objects.create(team=world.team, role=Role.PRIMARY, member=world.primary,
                                 start=NOW + dt.timedelta(days=days), end=NOW + dt.timedelta(days=days + 1))
            for days in (10, 12)
        ]  # fmt: skip
        asker = swaps.Actor.of_member(world.primary, via="test")
        first, second = (swaps.swap_request(shift=shift, actor=asker) for shift in shifts)
        counts = _sms_counts(client, round_trips, [
            ("TAKE", world.secondary.phone, f"TAKE {first.pk}"),
            ("APPROVE", world.lead.phone, f"APPROVE {first.pk}"),
            ("TAKE", world.secondary.phone, f"TAKE {second.pk}"),
            ("DECLINE", world.lead.phone, f"DECLINE {second.pk}"),
            ("TAKE of no swap", world.secondary.phone, "TAKE 999999"),
        ])  # fmt: skip
    _within_three(counts)
