"""The incoming call's two round trips to the database: one read, one write (telephony.calls decides between).

Read (`incoming_read`): one statement that returns the team owning the called number (every column), the
number (its menu), the teams its menu names (every column: the menu is offered from them), the shifts and
overrides covering the instant with their people (every column) and whether each shift's person has time
off then, and for each of those phones and the team's fallback phone whether it is one of our own support
numbers. Every lookup is an index lookup (the support number's unique phone, the team's unique slug for
each of the menu's at most 9 entries, the shift/override index on team and end, the time-off index, the
member's primary key), so its cost does not grow with the number of teams, people or years of shifts. A
column added to Team or Member is read with no change here: the column lists come from the models.

Write (`incoming_write`): the Call and every dial attempt of its first ring (one phone, or the desk or
primary and secondary at once). On PostgreSQL one statement (a CTE: the Call's INSERT … RETURNING, then
one INSERT … SELECT of the attempts from a JSON array, so the statement is the same for any number of
phones) in autocommit mode, so the Call is durable before the TwiML answer; on SQLite (the embedded
default) two. A replayed CallSid inserts nothing and is answered from the stored rows. The menu's key
press writes the same way (`menu_choice_write`: the Call's UPDATE and its attempts), and so does a later
ring of several phones at once (`attempts_insert`).

On PostgreSQL a number called before in this process takes one round trip (`incoming_write_if_unchanged`):
the decision is made from the read remembered of it, and one statement reads the same rows again and
writes only if they are unchanged (their fingerprint), else returns them for a decision and write of their
own.

All run on Django's connection with its cursor (so query counting, debug tools and test transactions see
them), on SQL built once per process, with no ORM compilation or model machinery beyond `from_db`.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models.expressions import Col

from teams.models import Member, Override, Shift, SupportNumber, Team, TimeOff
from telephony.flow import MENU_DIGITS
from telephony.models import Call, DialAttempt

# The kinds of the read's rows: a shift or an override covering the instant, a team the number's menu names.
SHIFT, OVERRIDE, MENU_TEAM = 0, 1, 2


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
    # The teams the number's menu names (those that exist), when read by the number called.
    menu_teams: tuple[Team, ...] = ()
    # PostgreSQL, read by the number called: the fingerprint of every row the read returned (`_FINGERPRINT`).
    # The same fingerprint, the same rows: a decision made from this read holds while the database reads it.
    fingerprint: Decimal | None = None


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

    def build(self, values, db):
        """The model instance of `values`, converted with `db` (the connection itself: each attribute read
        through django.db.connection looks the connection up again)."""
        values = list(values)
        for index, col, found in self.converters:
            if values[index] is None:  # NULL stays None through every converter
                continue
            for converter in found:
                values[index] = converter(values[index], col, db)
        return self.model.from_db(DEFAULT_DB_ALIAS, self.attnames, values)


class _Datetime:
    """One datetime column of a raw row converted as the ORM would (SQLite returns text)."""

    def __init__(self, field):
        self.col = Col("c", field)
        self.found = connection.ops.get_db_converters(self.col) + field.get_db_converters(connection)

    def __call__(self, value, db):
        for converter in self.found:
            value = converter(value, self.col, db)
        return value


@dataclass(frozen=True)
class _ReadSql:
    sql: str
    team: _Columns
    number: _Columns
    member: _Columns
    datetime: _Datetime
    width: int
    # The statement's rows before the fingerprint column (PostgreSQL, by the number called: `rows` is the
    # statement without it, for the checked write to read again).
    columns: int
    rows: str = ""


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
    if not by_team:
        # The menu's teams, as rows of their own with the team's columns (the rest NULL): by the unique slug,
        # for each of the menu's entries (at most one per digit; a malformed menu reads as none).
        number_nulls, member_nulls = (", ".join(["NULL"] * len(columns.fields)) for columns in (number, member))
        sql += f"""
UNION ALL
SELECT {_Columns(Team, "mt").sql}, {number_nulls}, {MENU_TEAM}, mt.id, NULL, NULL, NULL, 0 = 1, {member_nulls},
    0 = 1, 0 = 1
FROM {teams} mt WHERE mt.{_q("slug")} IN ({_menu_slugs_sql(vendor)})"""  # noqa: S608
    width = len(team.fields) + len(number.fields)
    columns = width + 6 + len(member.fields) + 2
    datetime = _Datetime(Shift._meta.get_field("start"))
    if vendor == "postgresql" and not by_team:
        fingerprinted = f"WITH r AS ({sql}) SELECT r.*, ({_FINGERPRINT}) FROM r"  # noqa: S608
        return _ReadSql(fingerprinted, team, number, member, datetime, width, columns, rows=sql)
    return _ReadSql(sql, team, number, member, datetime, width, columns)


# The fingerprint of the read's rows `r`: the sum of each row's 64-bit hash (every column of it), so the
# same rows give the same fingerprint whatever order the plan returns them in. Any change to the team, its
# number, its menu's teams, who covers, their phones or time off changes a row, and with it the fingerprint
# (hashing is a third of the cost of a digest of the rows' text, and two different reads share a
# fingerprint with a chance of one in 2^64).
_FINGERPRINT = "SELECT sum(hash_record_extended(x, 0)) FROM r x"


def _menu_slugs_sql(vendor: str) -> str:
    """The slugs the called number's menu names (JSON `[{"digit": "1", "team": "billing"}, …]`)."""
    numbers, menu, phone_number = _q(SupportNumber._meta.db_table), _q("menu"), _q("phone_number")
    json_type, elements, slug = (
        ("jsonb_typeof", "jsonb_array_elements", "e.value ->> 'team'")
        if vendor == "postgresql"
        else ("json_type", "json_each", "CASE WHEN e.type = 'object' THEN json_extract(e.value, '$.team') END")
    )
    entries = (
        f"SELECT CASE WHEN {json_type}(o.{menu}) = 'array' THEN o.{menu} ELSE '[]' END"  # noqa: S608
        f" FROM {numbers} o WHERE o.{phone_number} = %(to)s"
    )
    return f"SELECT {slug} FROM {elements}(({entries})) e LIMIT {len(MENU_DIGITS)}"  # noqa: S608


def _execute(sql: str, params):
    """One statement. On PostgreSQL on the prepared cursor (roulette.db.postgresql plans each statement once
    per connection). A reused connection found dead at a webhook's first statement is replaced, and the
    webhook runs again, by telephony.request_checks.on_a_live_connection: every caller here is a webhook."""
    prepared = getattr(connection, "prepared_cursor", None)
    with prepared() if prepared is not None else connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def incoming_read(*, to_number: str, at: dt.datetime, team_id: int | None = None) -> IncomingRead:
    """The team called (or the team `team_id`: a menu's choice), the number called, who covers the team's
    roles at `at`, and which of their phones are our own numbers. One statement. On PostgreSQL a read by
    the number called is remembered (`remembered`) with its fingerprint."""
    read = _read_sql(connection.vendor, by_team=team_id is not None)
    parsed = _parsed(read, _execute(read.sql, _read_params(to_number, at, team_id)))
    return _remember(to_number, parsed) if team_id is None else parsed


def _read_params(to_number: str, at: dt.datetime, team_id: int | None = None) -> dict:
    return {"to": to_number, "at": connection.ops.adapt_datetimefield_value(at), "team": team_id}


def _parsed(read: _ReadSql, rows: list) -> IncomingRead:
    teams = len(read.team.fields)
    db = connections[DEFAULT_DB_ALIAS]
    menu_teams = tuple(read.team.build(row[:teams], db) for row in rows if row[read.width] == MENU_TEAM)
    rows = [row for row in rows if row[read.width] != MENU_TEAM]
    if not rows:
        return IncomingRead(None, [], False)
    team = read.team.build(rows[0][:teams], db)
    number = read.number.build(rows[0][teams : read.width], db) if rows[0][teams] is not None else None
    covers, width, members = [], read.width, len(read.member.fields)
    for row in rows:
        kind, pk, role, start, end, is_away = row[width : width + 6]
        if kind is None:
            continue
        member = read.member.build(row[width + 6 : width + 6 + members], db)
        covers.append(
            Cover(
                pk=pk,
                team_id=team.pk,
                role=role,
                member_id=member.pk,
                member=member,
                start=read.datetime(start, db),
                end=read.datetime(end, db),
                is_away=bool(is_away),
                is_override=kind == OVERRIDE,
                phone_is_ours=bool(row[read.columns - 2]),
            )
        )
    fingerprint = rows[0][read.columns] if read.rows else None
    return IncomingRead(team, covers, bool(rows[0][read.columns - 1]), number, menu_teams, fingerprint)


# --- the write ----------------------------------------------------------------------------------------


def _insert_fields(model) -> list:
    return [field for field in model._meta.concrete_fields if not field.primary_key]


def _insert_values(obj) -> list:
    """The database values of an unsaved row, as Model.save would send them (defaults, auto_now_add,
    every field a later migration adds)."""
    db = connections[DEFAULT_DB_ALIAS]
    return [_db_value(field, obj, db) for field in _insert_fields(type(obj))]


# Fields whose database value is the value itself when it is None or of the type named here: their
# get_db_prep_save only converts other types (a fifth of the write's own work, skipped). A foreign key's is
# its target's (an integer primary key here).
_AS_IS = {
    models.CharField: str,
    models.TextField: str,
    models.BooleanField: bool,
    models.IntegerField: int,
    models.SmallIntegerField: int,
    models.BigIntegerField: int,
    models.PositiveIntegerField: int,
    models.PositiveSmallIntegerField: int,
    models.ForeignKey: int,
}


def _db_value(field, obj, db):
    value = field.pre_save(obj, add=True)
    if value is None or type(value) is _AS_IS.get(type(field)):
        return value
    return field.get_db_prep_save(value, db)


def _returning_pk(model, *, conflict: str) -> str:
    columns = [_q(field.column) for field in _insert_fields(model)]
    placeholders = ", ".join(["%s"] * len(columns))
    return (
        f"INSERT INTO {_q(model._meta.db_table)} ({', '.join(columns)}) VALUES ({placeholders}) "  # noqa: S608
        f"ON CONFLICT ({conflict}) DO NOTHING RETURNING id"
    )


def _saved(obj, pk: int):
    obj.pk = pk
    obj._state.adding, obj._state.db = False, DEFAULT_DB_ALIAS
    return obj


@functools.cache
def _attempt_fields() -> tuple:
    """The attempt's columns the statements write, the Call's id first."""
    return tuple(sorted(_insert_fields(DialAttempt), key=lambda field: field.attname != "call_id"))


def _json_value(value):
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


@functools.cache
def _with_attempts(call_cte: str) -> str:
    """PostgreSQL: `call_cte` (a statement returning the Call's id, or no row: then nothing is written),
    then the INSERT of the attempts given as one JSON array (`_attempts_cte`). Returns (the Call's id, an
    attempt's id, its position) per attempt inserted, or one row with NULLs when none was."""
    return (
        f"WITH c AS ({call_cte}), a AS ({_attempts_cte('%s')}) "  # noqa: S608
        f"SELECT c.id, a.id, a.{_q('position')} FROM c LEFT JOIN a ON true"
    )


def _attempts_cte(json_param: str) -> str:
    """PostgreSQL: the INSERT of the attempts of the Call in the CTE `c`, given as one JSON array (one object
    per attempt, its columns as keys): the same statement for one phone or ten, so it is prepared once per
    connection. An attempt already stored (a replayed request) is left as it is."""
    fields = _attempt_fields()[1:]
    table, call_id, position = _q(DialAttempt._meta.db_table), _q("call_id"), _q("position")
    columns = ", ".join(_q(field.column) for field in fields)
    record = ", ".join(f"{_q(field.column)} {field.cast_db_type(connection)}" for field in fields)
    values = ", ".join(f"u.{_q(field.column)}" for field in fields)
    return (
        f"INSERT INTO {table} ({call_id}, {columns}) "  # noqa: S608
        f"SELECT c.id, {values} FROM c, jsonb_to_recordset(CAST({json_param} AS jsonb)) AS u({record}) "
        f"ON CONFLICT ({call_id}, {position}) DO NOTHING RETURNING id, {position}"
    )


@functools.cache
def _attempts_sqlite(count: int) -> str:
    """SQLite: the attempts in one multi-row INSERT (an attempt already stored is left as it is)."""
    fields = _attempt_fields()
    columns = ", ".join(_q(field.column) for field in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return (
        f"INSERT INTO {_q(DialAttempt._meta.db_table)} ({columns}) VALUES {', '.join([row] * count)} "  # noqa: S608
        f"ON CONFLICT ({_q('call_id')}, {_q('position')}) DO NOTHING RETURNING id, {_q('position')}"
    )


def _attempt_values(attempts: Sequence[DialAttempt]) -> list[list]:
    fields = _attempt_fields()
    db = connections[DEFAULT_DB_ALIAS]
    return [[_db_value(field, attempt, db) for field in fields] for attempt in attempts]


def _attempts_json(attempts: Sequence[DialAttempt]) -> str:
    columns = [field.column for field in _attempt_fields()[1:]]
    return json.dumps([dict(zip(columns, values[1:], strict=True)) for values in _attempt_values(attempts)],
                      default=_json_value)  # fmt: skip


def _attempts_stored(call: Call, attempts: Sequence[DialAttempt], inserted: dict[int, int]) -> list[DialAttempt]:
    """The attempts as stored: those just inserted (position → id), and for the others (a replayed request)
    the rows its first run stored, read back."""
    for attempt in attempts:
        attempt.call = call
        if attempt.position in inserted:
            _saved(attempt, inserted[attempt.position])
    missing = [attempt.position for attempt in attempts if attempt.position not in inserted]
    if not missing:
        return list(attempts)
    stored = DialAttempt.objects.select_related("member").filter(call=call, position__in=missing)
    found = {attempt.position: attempt for attempt in stored}
    return [
        attempt if attempt.position in inserted else found[attempt.position]
        for attempt in attempts
        if attempt.position in inserted or attempt.position in found
    ]


def _write(call_sql: str, call_params: list, call: Call, attempts: Sequence[DialAttempt]):
    """The Call's statement, then its attempts: one statement on PostgreSQL, two on SQLite. None when the
    Call's statement wrote nothing (then no attempt is written), else (its id, the attempts as stored)."""
    if connection.vendor == "postgresql":
        rows = _execute(_with_attempts(call_sql), [*call_params, _attempts_json(attempts)])
        if not rows:
            return None
        call = _saved(call, rows[0][0])
        return call, _attempts_stored(call, attempts, {row[2]: row[1] for row in rows if row[1] is not None})
    rows = _execute(call_sql, call_params)
    if not rows:
        return None
    call = _saved(call, rows[0][0])
    return call, _attempts_insert_sqlite(call, attempts)


def _attempts_insert_sqlite(call: Call, attempts: Sequence[DialAttempt]) -> list[DialAttempt]:
    if not attempts:
        return []
    for attempt in attempts:
        attempt.call = call
    params = [value for values in _attempt_values(attempts) for value in values]
    rows = _execute(_attempts_sqlite(len(attempts)), params)
    return _attempts_stored(call, attempts, {position: pk for pk, position in rows})


def incoming_write(call: Call, attempts: Sequence[DialAttempt]) -> tuple[Call, list[DialAttempt]] | None:
    """INSERT the Call and the dial attempts of its first ring (none: voicemail, a menu, a refusal) in
    autocommit mode. None when a Call with this CallSid exists already (a replayed request): nothing was
    written."""
    return _write(_call_insert_sql(), _insert_values(call), call, attempts)


@functools.cache
def _call_insert_sql() -> str:
    return _returning_pk(Call, conflict=_q("call_sid"))


# --- the incoming call in one round trip (PostgreSQL) --------------------------------------------------
#
# A number's calls come in bursts (an outage: everybody rings the support line), and between two of them
# the team, its rota and its phones rarely change. So each process remembers the last read by each number
# called (`remembered`), and the next call decides from it and writes in one statement that first reads
# the same rows again: if their fingerprint is still the one the decision was made from, the Call and its
# attempts are inserted; if anything changed, nothing is written and the fresh rows come back, for a
# decision and a write of their own. Either way at most two round trips, and never a decision on rows the
# database no longer holds.

REMEMBERED_NUMBERS = 1000
_remembered: dict[str, IncomingRead] = {}
_remembering = threading.Lock()


def remembered(to_number: str) -> IncomingRead | None:
    """The last read by the number `to_number` in this process (PostgreSQL, a number of ours), or None."""
    return _remembered.get(to_number)


def forget() -> None:
    """Forget every remembered read (the next call to each number reads first)."""
    with _remembering:
        _remembered.clear()


def _remember(to_number: str, read: IncomingRead) -> IncomingRead:
    with _remembering:
        if read.fingerprint is None or read.team is None:
            _remembered.pop(to_number, None)
            return read
        if to_number not in _remembered and len(_remembered) >= REMEMBERED_NUMBERS:
            del _remembered[next(iter(_remembered))]  # the number remembered first
        _remembered[to_number] = read
    return read


@functools.cache
def _checked_write_sql() -> str:
    """The read by the number called (`r`), its fingerprint (`f`), the Call's INSERT only if that is the
    fingerprint given (`c`), and its attempts (`a`). Returns the fresh rows of the read (as the read
    returns them) when the fingerprint differs, and the written ids (or NULLs) in rows of their own, the
    read's columns NULL."""
    read, fields = _read_sql("postgresql"), _insert_fields(Call)
    columns = ", ".join(_q(field.column) for field in fields)
    values = ", ".join(f"CAST(%(c{i})s AS {field.cast_db_type(connection)})" for i, field in enumerate(fields))
    nulls = ", ".join(["NULL"] * read.columns)
    return (
        f"WITH r AS ({read.rows}), f AS (SELECT ({_FINGERPRINT}) AS fp), "  # noqa: S608
        f"c AS (INSERT INTO {_q(Call._meta.db_table)} ({columns}) SELECT {values} FROM f "
        f"WHERE f.fp = %(fingerprint)s ON CONFLICT ({_q('call_sid')}) DO NOTHING RETURNING id), "
        f"a AS ({_attempts_cte('%(attempts)s')}) "
        f"SELECT r.*, f.fp, NULL, NULL, NULL FROM r, f WHERE f.fp IS DISTINCT FROM %(fingerprint)s "
        f"UNION ALL SELECT {nulls}, f.fp, c.id, a.id, a.{_q('position')} FROM f LEFT JOIN c ON true LEFT JOIN a ON true"
    )


def incoming_write_if_unchanged(read: IncomingRead, call: Call, attempts: Sequence[DialAttempt], *, at: dt.datetime):
    """PostgreSQL, `read` a remembered read: INSERT the Call and the dial attempts of its first ring, decided
    from `read`, in one statement, if the database still reads the same for the number called at `at`.
    Returns (the Call, the attempts as stored); None when the Call's CallSid is stored already (a replayed
    request: nothing written); the fresh read (remembered in its place) when the rows changed: nothing was
    written, the caller decides again."""
    sql, columns = _checked_write_sql(), _read_sql("postgresql").columns
    params = {f"c{index}": value for index, value in enumerate(_insert_values(call))}
    params.update(_read_params(call.to_number, at), fingerprint=read.fingerprint, attempts=_attempts_json(attempts))
    rows = _execute(sql, params)
    written = [row[columns:] for row in rows if row[0] is None]
    if written[0][0] != read.fingerprint:
        fresh = [row[: columns + 1] for row in rows if row[0] is not None]
        return _remember(call.to_number, _parsed(_read_sql("postgresql"), fresh))
    if written[0][1] is None:
        return None
    call = _saved(call, written[0][1])
    return call, _attempts_stored(call, attempts, {row[3]: row[2] for row in written if row[2] is not None})


@functools.cache
def _menu_choice_sql() -> str:
    table, outcome = _q(Call._meta.db_table), _q("outcome")
    return (
        f"UPDATE {table} SET {_q('team_id')} = %s, {_q('menu_digit')} = %s, "  # noqa: S608
        f"{outcome} = CASE WHEN %s = '' THEN {outcome} ELSE %s END "
        f"WHERE id = %s AND {_q('call_sid')} = %s RETURNING id"
    )


def menu_choice_write(call: Call, *, refusal: str, attempts: Sequence[DialAttempt]) -> list[DialAttempt] | None:
    """The menu's key press: the Call `call.pk` (with its CallSid) now belongs to `call.team` with the key
    `call.menu_digit` (and the outcome `refusal`, when the team refuses the caller), and the dial attempts
    of its first ring are INSERTed; one statement on PostgreSQL, two on SQLite. None when no such Call was
    found (nothing written); a replayed request writes the same values and finds its attempts."""
    params = [call.team_id, call.menu_digit, refusal, refusal, call.pk, call.call_sid]
    written = _write(_menu_choice_sql(), params, call, attempts)
    return None if written is None else written[1]


def attempts_insert(call: Call, attempts: Sequence[DialAttempt]) -> list[DialAttempt]:
    """INSERT the dial attempts of a stored Call's ring, in one statement; for one already stored (a
    replayed request), the stored row."""
    if connection.vendor != "postgresql":
        return _attempts_insert_sqlite(call, attempts)
    return _write(_call_given_sql(), [call.pk], call, attempts)[1]


@functools.cache
def _call_given_sql() -> str:
    return f"SELECT CAST(%s AS {Call._meta.pk.cast_db_type(connection)}) AS id"
