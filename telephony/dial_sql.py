"""The Dial action's writes in one statement on PostgreSQL.

A dialled leg that ended changes its attempt (status, leg sid), the leg's charge, and the Call's outcome
(answered) or the next ring's attempts (one phone, or several at once). On PostgreSQL they are one statement
(data-modifying CTEs, each keyed so that a replayed request writes nothing twice) in autocommit mode; on
SQLite (no data-modifying CTEs) one statement each, in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from telephony.incoming_sql import _insert_values, _q, _returning_pk, _saved
from telephony.models import Call, Charge, DialAttempt


def _update(model, columns: list[str]) -> str:
    assignments = ", ".join(f"{_q(column)} = %s" for column in columns)
    return f"UPDATE {_q(model._meta.db_table)} SET {assignments} WHERE id = %s RETURNING id"  # noqa: S608


def _execute(sql: str, params: list) -> list[tuple]:
    # Not prepared (as the incoming call's statements are): their shapes and parameter types vary (a NULL
    # member, with or without a next attempt), so a preparation would cost a round trip more, not less.
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _run_all(statements: list[tuple[str, list]]) -> list[int | None]:
    """Each statement's returned id (None: it wrote nothing), in one round trip on PostgreSQL."""
    if connection.vendor != "postgresql" or len(statements) == 1:
        return [(rows[0][0] if (rows := _execute(sql, params)) else None) for sql, params in statements]
    ctes = ", ".join(f"w{index} AS ({sql})" for index, (sql, _params) in enumerate(statements))
    ids = ", ".join(f"(SELECT min(id) FROM w{index})" for index in range(len(statements)))  # noqa: S608
    params = [value for _sql, values in statements for value in values]
    return list(_execute(f"WITH {ctes} SELECT {ids}", params)[0])


def dial_result_write(
    *,
    attempt: DialAttempt,
    ring_status: str | None,
    passed: str,
    connected: DialAttempt | None = None,
    not_connected: str = "",
    charge: Charge | None,
    answered: DialAttempt | None = None,
    next_attempts: Sequence[DialAttempt] = (),
) -> tuple[bool, list[DialAttempt]]:
    """Store the ended leg's attempt (and on the others rung with it but for a `passed` one: `ring_status`,
    or, when one of them was `connected`, `ring_status` on that one and `not_connected` on the rest),
    INSERT its charge once per sid, and mark the call answered by `answered` or INSERT the next ring's
    attempts once per (call, position). Returns (the charge was inserted now, the next attempts as stored:
    a replayed request's finds the first one's)."""
    statements = [
        (
            _update(DialAttempt, ["dial_status", "dial_call_sid"]),
            [attempt.dial_status, attempt.dial_call_sid, attempt.pk],
        )
    ]
    if ring_status is not None:
        table, group, status = _q(DialAttempt._meta.db_table), _q("ring_group"), _q("dial_status")
        others = (
            f"UPDATE {table} SET {status} = CASE WHEN id = %s THEN %s ELSE %s END"  # noqa: S608
            f" WHERE {_q('call_id')} = %s AND {group} = %s AND id <> %s AND {status} <> %s RETURNING id"
        )
        rest = not_connected if connected is not None else ring_status
        connected_id = connected.pk if connected is not None else 0
        statements.append(
            (others, [connected_id, ring_status, rest, attempt.call_id, attempt.ring_group, attempt.pk, passed])
        )
    charge_index = len(statements)
    if charge is not None:
        statements.append((_returning_pk(Charge, conflict=_q("sid")), _insert_values(charge)))
    if answered is not None:
        columns = ["outcome", "answered_by_id", "answered_number"]
        values = [Call.Outcome.ANSWERED, answered.member_id, answered.phone, attempt.call_id]
        statements.append((_update(Call, columns), values))
    first_attempt = len(statements)
    conflict = f"{_q('call_id')}, {_q('position')}"
    # One INSERT per phone of the next ring, each a member of the one statement on PostgreSQL.
    statements.extend((_returning_pk(DialAttempt, conflict=conflict), _insert_values(a)) for a in next_attempts)
    ids = _run_all(statements)
    charge_inserted = charge is not None and ids[charge_index] is not None
    if charge_inserted:
        _saved(charge, ids[charge_index])
    stored = []
    for next_attempt, pk in zip(next_attempts, ids[first_attempt:], strict=True):
        if pk is None:
            next_attempt = DialAttempt.objects.get(call_id=next_attempt.call_id, position=next_attempt.position)
        stored.append(next_attempt if pk is None else _saved(next_attempt, pk))
    return charge_inserted, stored
