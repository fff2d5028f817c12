"""The incoming call's two round trips to the database: one read, one write (telephony.calls decides between).

Read (`incoming_read`): one statement that returns the team owning the called number (every column), the
shifts and overrides covering the instant with their people (every column) and whether each shift's
person has time off then, and for each of those phones and the team's fallback phone whether it is one of
our own support numbers. Every lookup is an index lookup (the support number's unique phone, the
shift/override index on team and end, the time-off index, the member's primary key), so its cost does not
grow with the number of teams, people or years of shifts. A column added to Team or Member is read with
no change here: the column lists come from the models.

Write (`incoming_write`): the Call and its first dial attempt. On PostgreSQL one statement (a CTE of two
INSERT … RETURNING) in autocommit mode, so the Call is durable before the TwiML answer; on SQLite (the
embedded default) two. A replayed CallSid inserts nothing and is answered from the stored rows.

Both run on Django's connection with its cursor (so query counting, debug tools and test transactions see
them), on SQL built once per process, with no ORM compilation or model machinery beyond `from_db`.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass

from django.db import InterfaceError, OperationalError, connection
from django.db.models.expressions import Col

from teams.models import Member, Override, Shift, SupportNumber, Team, TimeOff
from telephony.models import Call, DialAttempt

logger = logging.getLogger(__name__)

SHIFT, OVERRIDE = 0, 1


@dataclass(frozen=True)
class Cover:
    """A shift or an override covering the instant, with its person (the attributes selectors read)."""

    pk: int
    team_id: int
    role: str
    member_id: int
    member: Member
    start: dt.datetime
    end: dt.datetime
    is_away: bool
    is_override: bool
    phone_is_ours: bool


@dataclass(frozen=True)
class IncomingRead:
    team: Team | None
    covers: list[Cover]
    fallback_is_ours: bool
    # The number called (its menu), when it is one of ours.
    number: SupportNumber | None = None


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


class _Columns:
    """The concrete columns of a model as read under `alias`, and how each value comes back into Python
    (the database's and the field's converters: dates on SQLite, JSON, decimals, booleans)."""

    def __init__(self, model, alias: str):
        self.model, self.fields = model, model._meta.concrete_fields
        self.sql = ", ".join(f"{alias}.{_q(field.column)}" for field in self.fields)
        self.attnames = [field.attname for field in self.fields]
        self.converters = []
        for index, field in enumerate(self.fields):
            col = Col(alias, field)
            found = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
            if found:
                self.converters.append((index, col, found))

    def build(self, values):
        values = list(values)
        for index, col, found in self.converters:
            for converter in found:
                values[index] = converter(values[index], col, connection)
        return self.model.from_db(connection.alias, self.attnames, values)


class _Datetime:
    """One datetime column of a raw row converted as the ORM would (SQLite returns text)."""

    def __init__(self, field):
        self.col = Col("c", field)
        self.found = connection.ops.get_db_converters(self.col) + field.get_db_converters(connection)

    def __call__(self, value):
        for converter in self.found:
            value = converter(value, self.col, connection)
        return value


@dataclass(frozen=True)
class _ReadSql:
    sql: str
    team: _Columns
    number: _Columns
    member: _Columns
    datetime: _Datetime
    width: int


@functools.cache
def _read_sql(vendor: str, by_team: bool = False) -> _ReadSql:
    """The read by the number called, or (`by_team`: a menu's choice, a later dial step) by the team's id;
    the number called is read either way (its row, or NULLs when it is not ours)."""
    team, number, member = _Columns(Team, "t"), _Columns(SupportNumber, "n"), _Columns(Member, "m")
    numbers, shifts, overrides, time_off = (
        _q(model._meta.db_table) for model in (SupportNumber, Shift, Override, TimeOff)
    )
    start, end, team_id, member_id = _q("start"), _q("end"), _q("team_id"), _q("member_id")
    phone_number = _q("phone_number")
    # Identifiers come from the models, every value is a parameter.
    called_team = "%(team)s" if by_team else f"(SELECT {team_id} FROM {numbers} WHERE {phone_number} = %(to)s)"  # noqa: S608
    covering = f"{end} > %(at)s AND {start} <= %(at)s"
    teams = _q(Team._meta.db_table)
    if by_team:
        origin = f"FROM {teams} t LEFT JOIN {numbers} n ON n.{phone_number} = %(to)s"
        where = "t.id = %(team)s"
    else:
        origin = f"FROM {numbers} n JOIN {teams} t ON t.id = n.{team_id}"
        where = f"n.{phone_number} = %(to)s"
    sql = f"""
SELECT {team.sql}, {number.sql}, c.kind, c.id, c.role, c.{start}, c.{end}, c.is_away, {member.sql},
    EXISTS (SELECT 1 FROM {numbers} o WHERE o.{phone_number} = m.{_q("phone")}) AS phone_is_ours,
    EXISTS (SELECT 1 FROM {numbers} o WHERE o.{phone_number} = t.{_q("fallback_phone")}) AS fallback_is_ours
{origin}
LEFT JOIN (
    SELECT {SHIFT} AS kind, s.id, s.{team_id}, s.role, s.{start}, s.{end}, s.{member_id},
        EXISTS (
            SELECT 1 FROM {time_off} a
            WHERE a.{team_id} = s.{team_id} AND a.{member_id} = s.{member_id} AND a.{covering}
        ) AS is_away
    FROM {shifts} s WHERE s.{team_id} = {called_team} AND s.{covering}
    UNION ALL
    SELECT {OVERRIDE}, v.id, v.{team_id}, v.role, v.{start}, v.{end}, v.{member_id}, 0 = 1
    FROM {overrides} v WHERE v.{team_id} = {called_team} AND v.{covering}
) c ON c.{team_id} = t.id
LEFT JOIN {_q(Member._meta.db_table)} m ON m.id = c.{member_id}
WHERE {where}"""  # noqa: S608
    width = len(team.fields) + len(number.fields)
    return _ReadSql(sql, team, number, member, _Datetime(Shift._meta.get_field("start")), width)


def _execute(sql: str, params):
    """One statement; if a reused connection turns out to be dead (the server restarted, a proxy dropped
    it: what a `SELECT 1` health check would have caught, at the price of a round trip per request), it is
    closed and the statement runs once more on a new one. Safe for both statements: the read changes nothing, the write
    is keyed by the CallSid (a second INSERT of the same call inserts nothing).
    """
    reused = connection.connection is not None
    try:
        return _run(sql, params)
    except (OperationalError, InterfaceError):
        if not reused or connection.in_atomic_block:
            raise
        logger.warning("The database connection was dead; the statement runs again on a new one")
        connection.close()
        return _run(sql, params)


def _run(sql: str, params):
    # PostgreSQL (roulette.db.postgresql) plans each of these statements once per connection.
    prepared = getattr(connection, "prepared_cursor", None)
    with prepared() if prepared is not None else connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def incoming_read(*, to_number: str, at: dt.datetime, team_id: int | None = None) -> IncomingRead:
    """The team called (or the team `team_id`: a menu's choice), the number called, who covers the team's
    roles at `at`, and which of their phones are our own numbers. One statement."""
    read = _read_sql(connection.vendor, by_team=team_id is not None)
    params = {"to": to_number, "at": connection.ops.adapt_datetimefield_value(at), "team": team_id}
    rows = _execute(read.sql, params)
    if not rows:
        return IncomingRead(None, [], False)
    teams = len(read.team.fields)
    team = read.team.build(rows[0][:teams])
    number = read.number.build(rows[0][teams : read.width]) if rows[0][teams] is not None else None
    covers, width, members = [], read.width, len(read.member.fields)
    for row in rows:
        kind, pk, role, start, end, is_away = row[width : width + 6]
        if kind is None:
            continue
        member = read.member.build(row[width + 6 : width + 6 + members])
        covers.append(
            Cover(
                pk=pk,
                team_id=team.pk,
                role=role,
                member_id=member.pk,
                member=member,
                start=read.datetime(start),
                end=read.datetime(end),
                is_away=bool(is_away),
                is_override=kind == OVERRIDE,
                phone_is_ours=bool(row[-2]),
            )
        )
    return IncomingRead(team, covers, bool(rows[0][-1]), number)


# --- the write ----------------------------------------------------------------------------------------


def _insert_fields(model) -> list:
    return [field for field in model._meta.concrete_fields if not field.primary_key]


def _insert_values(obj) -> list:
    """The database values of an unsaved row, as Model.save would send them (defaults, auto_now_add,
    every field a later migration adds)."""
    return [field.get_db_prep_save(field.pre_save(obj, add=True), connection) for field in _insert_fields(type(obj))]


def _returning_pk(model, *, conflict: str) -> str:
    columns = [_q(field.column) for field in _insert_fields(model)]
    placeholders = ", ".join(["%s"] * len(columns))
    return (
        f"INSERT INTO {_q(model._meta.db_table)} ({', '.join(columns)}) VALUES ({placeholders}) "  # noqa: S608
        f"ON CONFLICT ({conflict}) DO NOTHING RETURNING id"
    )


@dataclass(frozen=True)
class _WriteSql:
    call: str
    attempt: str
    # PostgreSQL: the Call and its attempt in one statement.
    both: str | None
    call_index: int


@functools.cache
def _write_sql(vendor: str) -> _WriteSql:
    call_sql = _returning_pk(Call, conflict=_q("call_sid"))
    attempt_sql = _returning_pk(DialAttempt, conflict=f"{_q('call_id')}, {_q('position')}")
    fields = _insert_fields(DialAttempt)
    call_index = [field.attname for field in fields].index("call_id")
    both = None
    if vendor == "postgresql":
        # The attempt takes the id the Call's INSERT returns (no row, no attempt). Typed parameters: a NULL
        # (no member, not accepted yet) has no type of its own in a SELECT list.
        select_list = ", ".join(
            "c.id" if i == call_index else f"CAST(%s AS {field.cast_db_type(connection)})"
            for i, field in enumerate(fields)
        )
        columns = ", ".join(_q(field.column) for field in fields)
        both = (
            f"WITH c AS ({call_sql}), a AS (INSERT INTO {_q(DialAttempt._meta.db_table)} ({columns}) "  # noqa: S608
            f"SELECT {select_list} FROM c RETURNING id) SELECT c.id, a.id FROM c, a"
        )
    return _WriteSql(call_sql, attempt_sql, both, call_index)


def _saved(obj, pk: int):
    obj.pk = pk
    obj._state.adding, obj._state.db = False, connection.alias
    return obj


def incoming_write(call: Call, attempt: DialAttempt | None) -> tuple[Call, DialAttempt | None] | None:
    """INSERT the Call (and its first dial attempt, if any) in autocommit mode. None when a Call with this
    CallSid exists already (a replayed request): nothing was written."""
    write = _write_sql(connection.vendor)
    call_values = _insert_values(call)
    if attempt is None:
        rows = _execute(write.call, call_values)
        return (_saved(call, rows[0][0]), None) if rows else None
    attempt.call_id = 0  # filled in by the statement
    attempt_values = _insert_values(attempt)
    if write.both is not None:
        del attempt_values[write.call_index]
        rows = _execute(write.both, call_values + attempt_values)
        if not rows:
            return None
        call_pk, attempt_pk = rows[0]
    else:
        rows = _execute(write.call, call_values)
        if not rows:
            return None
        call_pk = rows[0][0]
        attempt_values[write.call_index] = call_pk
        attempt_pk = _execute(write.attempt, attempt_values)[0][0]
    call = _saved(call, call_pk)
    attempt.call = call
    return call, _saved(attempt, attempt_pk)
