"""Writing a row that a replayed webhook may write again: one statement in autocommit mode.

A Twilio webhook runs in autocommit mode: a single INSERT needs no BEGIN/COMMIT around it (two round trips
more), and when it hits a unique key (the same callback twice) nothing is left to roll back. Inside a
caller's transaction a savepoint keeps the duplicate from poisoning it.
"""

from __future__ import annotations

import contextlib

from django.db import IntegrityError, connection, transaction


@contextlib.contextmanager
def savepoint_if_in_transaction():
    """Around one statement that may fail on a unique key: a savepoint inside a transaction, else nothing."""
    if connection.in_atomic_block:
        with transaction.atomic():
            yield
    else:
        yield


def insert(obj) -> bool:
    """INSERT the row; False (and nothing written) when its unique key is already taken (a replayed request)."""
    try:
        with savepoint_if_in_transaction():
            obj.save(force_insert=True)
    except IntegrityError:
        return False
    return True


def insert_or_existing(obj, *conditions, **lookup):
    """(row, created): the row INSERTed, or the existing one that holds its unique key (filtered by
    `conditions` and `lookup`; None if it went away in between)."""
    if insert(obj):
        return obj, True
    return type(obj).objects.filter(*conditions, **lookup).first(), False


def insert_once(obj, **lookup):
    """INSERT the row, or take the existing one with the same unique key (a replayed request)."""
    return obj if insert(obj) else type(obj).objects.get(**lookup)
