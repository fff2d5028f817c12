"""Django's PostgreSQL backend with a health check that costs no round trip.

Django's CONN_HEALTH_CHECKS sends `SELECT 1` before the first statement of every request on a persistent
connection: one round trip per request, a sixth of the incoming call's. Here the check at the start of a
request looks at the connection locally instead: psycopg's own state (closed, broken, not idle) and whether
the server has written to the idle socket, which it does only when it ends the session (a restart, an
administrator's terminate, an idle timeout: the FATAL message, then EOF). A connection failing it is
closed and a new one opened, as Django's own check does. After a statement failed (Django's
`errors_occurred`) the full `SELECT 1` check still runs at the end of the request. The one case a local
check cannot see, a peer that vanished without a word, fails the next statement; a webhook runs again once
on a new connection then (telephony.request_checks.on_a_live_connection).

`prepared_cursor()`: a cursor whose statements PostgreSQL parses and plans once per connection (server-side
binding, psycopg's prepared statements), for the few statements on the hot path. Every other cursor stays
Django's default (client-side binding, never prepared). Those statements keep their generic plan
(`plan_cache_mode`, set in the connection's start-up options with its time zone, so no round trip):
PostgreSQL's default would plan them again for their parameters on every call, the cost the preparing is there
to save (measured on the 10,000-team data set: 3.2 ms a call against 1.5 ms). It concerns prepared statements
only. One such cursor serves all of a connection's prepared statements, and it loads jsonb and timestamptz
with psycopg's C loaders, which give the values Django's Python loaders give (together 8% of the instructions
of an incoming call in our process, `scripts/bench/instructions.py`).
"""

import datetime
import select

import psycopg
from django.db.backends.postgresql import base, psycopg_any
from psycopg.pq import Format

TEXT = Format.TEXT


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        options = [params.get("options", ""), "-c plan_cache_mode=force_generic_plan"]
        if self.timezone_name:
            # The connection's time zone in its start-up packet: Django otherwise sends a `set_config` on every
            # new connection whose server zone is not named exactly so (a Debian server says "Etc/UTC").
            options.append(f"-c TimeZone={self.timezone_name}")
        params["options"] = " ".join(option for option in options if option)
        return params

    def is_usable_without_round_trip(self) -> bool:
        conn = self.connection
        if conn is None or conn.closed or conn.broken:
            return False
        if conn.info.transaction_status != conn.info.transaction_status.IDLE:
            return False
        try:
            readable, _, _ = select.select([conn.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def close_if_health_check_failed(self):
        if self.pool or self.connection is None or not self.health_check_enabled or self.health_check_done:
            return
        if not self.is_usable_without_round_trip():
            self.close()
        self.health_check_done = True

    _kept_cursor = None

    def prepared_cursor(self):
        """Like cursor(), with each statement prepared on its first run on this connection."""
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            kept = self._kept_cursor
            if kept is None or kept.connection is not self.connection or kept.closed:
                # Only server-side binding cursors prepare: Django's own (client-side binding) never do.
                self.connection.prepare_threshold = 0
                kept = self._kept_cursor = _KeptCursor(self.connection)
                _c_loaders(kept, utc=self.timezone == datetime.UTC)
            return self._prepare_cursor(kept)


class _KeptCursor(base.ServerBindingCursor):
    """A server-side binding cursor that stays open when its user closes it (its result is dropped at the
    next statement); it closes with its connection."""

    def close(self):
        pass


def _c_loaders(cursor, *, utc: bool) -> None:
    """Django loads jsonb as text and timestamptz in its own zone with loaders written in Python, a few
    microseconds a value (a read of a team and its rota has dozens). psycopg's C loaders give the same
    values: jsonb as the same text, and timestamptz in the connection's zone when that and Django's (`utc`)
    are both UTC (else Django's loader stays)."""
    text, timestamptz = psycopg_any.types["text"].oid, psycopg_any.types["timestamptz"].oid
    cursor.adapters.register_loader(psycopg_any.types["jsonb"].oid, psycopg.adapters.get_loader(text, TEXT))
    if utc and cursor.connection.info.parameter_status("TimeZone") == "UTC":
        cursor.adapters.register_loader(timestamptz, psycopg.adapters.get_loader(timestamptz, TEXT))
