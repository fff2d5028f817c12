"""Fixtures for the telephony tests: the clock, team Web and its calls (plain helpers: tests/telephony/world.py)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.conf import settings as django_settings

from roulette.celery import app as celery_app
from telephony.backends import locmem_outbox
from tests.processes import process_stop
from tests.telephony.world import NOW, TwilioCall, web_team


@pytest.fixture(autouse=True)
def _empty_locmem_outbox():
    locmem_outbox.clear()
    yield
    locmem_outbox.clear()


@pytest.fixture
def eager_retries(celery_eager):
    """Eager Celery that runs a task's retries at once instead of raising Retry out of `.delay()`.

    (With task_eager_propagates, Celery re-raises Retry to the caller; celery_eager restores the setting
    after the test.)"""
    celery_app.conf.task_eager_propagates = False
    yield


@pytest.fixture
def clock_start():
    """Where `clock` holds time: NOW (tests.telephony.world), unless a test module overrides this fixture."""
    return NOW


@pytest.fixture
def clock(clock_start):
    """Time stands still at `clock_start`; move it with clock.move_to(...)."""
    with time_machine.travel(clock_start, tick=False) as traveller:
        yield traveller


@pytest.fixture
def web(db, clock):
    """Team Web (tests.telephony.world.web_team): a lead, a primary and a secondary on call all week."""
    return web_team(clock)


@pytest.fixture
def twilio(client, django_capture_on_commit_callbacks):
    """Start a call as Twilio would: `twilio()` or `twilio(caller=..., to=...)` gives a TwilioCall."""
    return lambda **kw: TwilioCall(client, django_capture_on_commit_callbacks, **kw)


REPO_ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")


class CeleryWorkers:
    """Real `celery worker` processes on REDIS_URL and the test database, sending SMS to the fake Twilio.
    Start one with .start(); .kill(process) is SIGKILL (no warm shutdown, nothing acknowledged)."""

    def __init__(self, fake_twilio, database_url: str):
        self.fake_twilio = fake_twilio
        self.database_url = database_url
        self.processes: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "DATABASE_CONN_MAX_AGE": "0",  # no connection left behind to block dropping the test database
            "REDIS_URL": django_settings.REDIS_URL,
            "DJANGO_SECRET_KEY": django_settings.SECRET_KEY,
            "SMS_BACKEND": "twilio",
            "TWILIO_API_BASE_URL": self.fake_twilio.url,
            "TWILIO_ACCOUNT_SID": django_settings.TWILIO_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": django_settings.TWILIO_AUTH_TOKEN,
            "TWILIO_SMS_FROM": django_settings.TWILIO_SMS_FROM,
            "PUBLIC_BASE_URL": django_settings.PUBLIC_BASE_URL,
        }
        process = subprocess.Popen(
            [str(CELERY), "-A", "roulette", "worker", "-P", "solo", "-l", "warning", "--without-gossip",
             "--without-mingle", "--without-heartbeat"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        self.processes.append(process)
        return process

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            process_stop(process)


@pytest.fixture
def celery_workers(test_database_url, fake_twilio):
    """Start real Celery workers (PostgreSQL and Redis only: a subprocess cannot see SQLite's test database)."""
    workers = CeleryWorkers(fake_twilio, test_database_url)
    try:
        yield workers
    finally:
        fake_twilio.release()  # a HANGing request must not keep a worker from stopping
        workers.stop_all()


@pytest.fixture
def worker(celery_workers):
    """One real Celery worker."""
    return celery_workers.start()
