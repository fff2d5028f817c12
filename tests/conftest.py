"""Shared fixtures: factories live in tests/factories.py, signed Twilio requests in tests/twilio_helpers.py.

Celery is not eager unless a test asks for it with the `celery_eager` fixture (most modules that need it say
so in their `pytestmark`). A test that enqueues a task without asking for it fails: the task would otherwise
go to the broker unseen, and an assertion that nothing was sent would pass for the wrong reason.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import time
import warnings

import pytest
from celery.signals import before_task_publish
from django.core.cache import cache

from roulette.celery import app as celery_app
from telephony import incoming_sql
from tests.fake_twilio import FakeTwilio, openapi_skip_reason
from tests.processes import process_stop


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    """Known Twilio credentials and a public origin; SMS through the in-memory backend."""
    settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
    settings.TWILIO_AUTH_TOKEN = "test-auth-token"
    settings.TWILIO_AUTH_TOKEN_SECONDARY = ""
    settings.TWILIO_VALIDATE_SIGNATURES = True
    settings.PUBLIC_BASE_URL = "https://roulette.example.com"
    settings.TWILIO_API_BASE_URL = ""
    settings.TWILIO_SMS_FROM = "+15005550006"
    settings.SMS_BACKEND = "locmem"
    # Price look-ups go to Twilio's REST API: only tests that stand up the fake Twilio switch them on.
    settings.TWILIO_PRICE_LOOKUPS = False
    settings.ALLOWED_HOSTS = ["*"]
    # Real hashing costs ~1 s per user on these machines; the tests do not test password strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_collection_modifyitems(config, items):
    """A `celery_worker` test starts worker (or beat) subprocesses: they need PostgreSQL, since a subprocess
    cannot see this process's SQLite test database, and a Redis broker (REDIS_URL, or one of the test's own)."""
    from django.conf import settings

    on_postgresql = "postgresql" in settings.DATABASES["default"]["ENGINE"]
    for item in items:
        if item.get_closest_marker("celery_worker") is None:
            continue
        if not on_postgresql:
            item.add_marker(
                pytest.mark.skip(
                    reason="Needs PostgreSQL: worker and beat subprocesses cannot see SQLite's test database."
                )
            )
        elif not settings.REDIS_URL and "redis_server" not in item.fixturenames:
            item.add_marker(pytest.mark.skip(reason="REDIS_URL is unset: no broker for a real Celery worker."))


@pytest.fixture(autouse=True)
def _broker_not_known_down(monkeypatch):
    """The "broker known down" pause is process-wide: one test's unreachable broker must not make the next
    test (a real worker's, say) skip its publish."""
    import telephony.queue

    monkeypatch.setattr(telephony.queue, "_down_until", 0.0)


@pytest.fixture(autouse=True)
def _no_number_remembered():
    """Each test starts in a process that has read no number yet (telephony.incoming_sql remembers reads)."""
    incoming_sql.forget()


@pytest.fixture(autouse=True)
def _no_task_published_unasked(request):
    """Fail a test that sends a task to the broker without asking for `celery_eager` (or a real worker, or a
    broker of its own)."""
    published = []

    def record(sender=None, **kwargs):
        published.append(sender)

    before_task_publish.connect(record, weak=False)
    yield
    before_task_publish.disconnect(record)
    # A test with its own redis-server publishes to that broker on purpose.
    deliberate = request.node.get_closest_marker("celery_worker") or "redis_server" in request.fixturenames
    if published and not deliberate:
        pytest.fail(f"enqueued {sorted(set(published))} without the celery_eager fixture", pytrace=False)


@pytest.fixture
def fake_twilio(settings):
    """A started fake Twilio; settings point the twilio backend at it. Fails the test on any request that
    Twilio's OpenAPI description rejects."""
    reason = openapi_skip_reason()
    if reason:
        warnings.warn(reason, stacklevel=1)
    fake = FakeTwilio(account_sid=settings.TWILIO_ACCOUNT_SID, auth_token=settings.TWILIO_AUTH_TOKEN)
    fake.start()
    settings.TWILIO_API_BASE_URL = fake.url
    settings.SMS_BACKEND = "twilio"
    try:
        yield fake
    finally:
        fake.stop()
    assert not fake.validation_errors, "Requests Twilio's API description rejects:\n" + "\n".join(
        fake.validation_errors
    )


@pytest.fixture
def celery_eager():
    """Celery runs each task in the caller, at once, and re-raises its errors."""
    eager = celery_app.conf.task_always_eager
    propagates = celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = eager
    celery_app.conf.task_eager_propagates = propagates


@pytest.fixture
def _fresh_throttle():
    """The API's rate limit counts in the cache, which outlives a test's database: start and leave clean."""
    cache.clear()
    yield
    cache.clear()


REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    """A redis-server of the test's own, on a free port, that the test can stop and start again."""

    def __init__(self, directory):
        self.directory = directory
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None
        # The connections this process has tried to open to the server (the broker's and the cache's, each
        # try counted, refused or not): what a test counts instead of timing, see `redis_server`.
        self.attempts = 0

    def start(self) -> None:
        # The server runs on the real clock: CI's moved-clock pass preloads libfaketime into this process,
        # and redis-server does not start under it.
        env = {key: value for key, value in os.environ.items() if not key.startswith(("LD_PRELOAD", "FAKETIME"))}
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )  # fmt: skip
        for _ in range(200):  # counted, not timed: a moved clock cannot stretch the wait (about 10 s)
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            process_stop(self.process)
        self.process = None

    def queued(self, queue: str = "celery") -> int:
        """How many task messages wait in the queue (what a worker would pick up)."""
        import redis

        return redis.Redis.from_url(self.url).llen(queue)


@pytest.fixture
def test_database_url(transactional_db) -> str:
    """The test database as a DATABASE_URL, for real worker and beat processes (PostgreSQL: they cannot see
    this process's SQLite test database). transactional_db: their writes must be visible, and cleaned up."""
    from urllib.parse import quote

    from django.db import connection

    db = connection.settings_dict  # pytest-django has switched NAME to the test database by now
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def redis_server(tmp_path, settings, monkeypatch):
    """Our own Redis as the broker and the cache (not the shared one on 6379), with eager Celery off so
    publishes really go to it. Stop and start it with .stop() / .start(); `.attempts` counts the connections
    this process has tried to open to it (a test counts them where it would otherwise time a webhook)."""
    import teams.authentication
    import telephony.queue

    if not os.access(REDIS_SERVER, os.X_OK):
        pytest.skip(f"{REDIS_SERVER} is missing: cannot start a Redis of the test's own")
    server = RedisServer(tmp_path)
    server.start()
    address = ("127.0.0.1", server.port)
    connect = socket.socket.connect

    def counted_connect(sock, to):
        # A spy, not a stand-in: every connection still goes to the real server (or is refused by its port).
        if to == address:
            server.attempts += 1
        return connect(sock, to)

    monkeypatch.setattr(socket.socket, "connect", counted_connect)
    caches = settings.CACHES
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
            "OPTIONS": {"socket_connect_timeout": 0.1, "socket_timeout": 0.5},
        }
    }
    # Fresh process-wide state: no broker known down, and the cache-down warning not yet given.
    monkeypatch.setattr(telephony.queue, "_down_until", 0.0)
    monkeypatch.setattr(teams.authentication, "_last_warning_at", 0.0)
    broker_url, transport_options = celery_app.conf.broker_url, celery_app.conf.broker_transport_options
    celery_app.conf.broker_url = server.url
    celery_app.conf.broker_transport_options = {}
    eager, celery_app.conf.task_always_eager = celery_app.conf.task_always_eager, False
    try:
        yield server
    finally:
        celery_app.conf.broker_url, celery_app.conf.broker_transport_options = broker_url, transport_options
        celery_app.conf.task_always_eager = eager
        settings.CACHES = caches  # before the server stops: other fixtures' teardowns may use the cache
        server.stop()
