"""Django's PostgreSQL connection through a TCP proxy of a test's own (one that counts, or one that drops)."""

import contextlib

from django.db import connection


def server_address() -> tuple[str, int]:
    """Where the test database really is (the proxy's target)."""
    return connection.settings_dict["HOST"] or "127.0.0.1", int(connection.settings_dict["PORT"] or 5432)


@contextlib.contextmanager
def connection_through(port: int):
    """For the block, Django's connection (a new one) goes through the proxy listening on 127.0.0.1:`port`
    (no TLS: the proxy reads the wire); afterwards it goes straight to the server again."""
    settings_dict = connection.settings_dict
    saved = settings_dict["HOST"], settings_dict["PORT"], dict(settings_dict["OPTIONS"])
    connection.close()
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", str(port)
    settings_dict["OPTIONS"].update(sslmode="disable", gssencmode="disable")
    try:
        yield
    finally:
        connection.close()
        settings_dict["HOST"], settings_dict["PORT"] = saved[:2]
        settings_dict["OPTIONS"].clear()
        settings_dict["OPTIONS"].update(saved[2])
