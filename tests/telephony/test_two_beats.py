"""Beat without a single point of failure: two real beats (django-celery-beat's DatabaseScheduler) and a real
worker on the test's own Redis. Every periodic task is sent by both beats, so it runs twice; nothing is sent
twice (outbox dedupe keys, claimed rows), which is why docker-compose.yml may run two beats."""

import collections
import datetime as dt
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from teams.models import Role
from telephony.beat import beat_schedule_install
from telephony.models import OutboundMessage
from tests.factories import ShiftFactory, UserFactory, team_with_members

REPO_ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="Needs PostgreSQL: beat and worker subprocesses cannot see the SQLite test database of this process.",
    ),
]


def _start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(CELERY), "-A", "roulette", *args], cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w")
    )


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@pytest.fixture
def start_two_beats_and_a_worker(test_database_url, redis_server, fake_twilio, tmp_path):
    """Call it to start a worker and two beats on the test's Redis; returns the worker's log file."""
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url,
        "DATABASE_CONN_MAX_AGE": "0",  # no connection left behind to block dropping the test database
        "REDIS_URL": redis_server.url,
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "SMS_BACKEND": "twilio",
        "TWILIO_API_BASE_URL": fake_twilio.url,
        "TWILIO_ACCOUNT_SID": settings.TWILIO_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": settings.TWILIO_AUTH_TOKEN,
        "TWILIO_SMS_FROM": settings.TWILIO_SMS_FROM,
        "PUBLIC_BASE_URL": settings.PUBLIC_BASE_URL,
        "TWILIO_PRICE_LOOKUPS": "false",
    }
    processes: list[subprocess.Popen] = []
    worker_log = tmp_path / "worker.log"

    def start() -> Path:
        processes.append(
            _start(["worker", "-P", "solo", "-l", "info", "--without-gossip", "--without-mingle",
                    "--without-heartbeat"], env, worker_log)
        )  # fmt: skip
        for n in (1, 2):
            processes.append(
                _start(
                    ["beat", "-l", "info", "--pidfile", str(tmp_path / f"beat{n}.pid"),
                     "--schedule", str(tmp_path / f"beat{n}-schedule")],
                    env,
                    tmp_path / f"beat{n}.log",
                )
            )  # fmt: skip
        return worker_log

    try:
        yield start, processes
    finally:
        for process in processes:
            _stop(process)


def _runs(log: Path) -> collections.Counter:
    return collections.Counter(re.findall(r"Task ([\w.]+)\[[\w-]+\] succeeded", log.read_text()))


def test_two_beats_at_once_send_nothing_twice(start_two_beats_and_a_worker, fake_twilio):
    start, processes = start_two_beats_and_a_worker
    now = timezone.now()
    # A lead, and a primary whose shift starts in two hours (a reminder is due) with nobody before or after
    # it (two gaps the lead is told about).
    team, (lead, primary) = team_with_members(2, lead_user=UserFactory(username="lea"), name="Ops", timezone="UTC")
    ShiftFactory(team=team, role=Role.PRIMARY, member=primary, start=now + dt.timedelta(hours=2),
                 end=now + dt.timedelta(days=1))  # fmt: skip
    beat_schedule_install()
    # Every task due as the beats start (a task that never ran is first due an interval after start).
    PeriodicTask.objects.update(last_run_at=now - dt.timedelta(days=1))
    worker_log = start()

    scans = ("telephony.tasks.notifications.reminders_send", "telephony.tasks.notifications.gaps_alert")
    deadline = time.monotonic() + 60  # seconds; generous for a loaded two-core machine
    while time.monotonic() < deadline and all(p.poll() is None for p in processes):
        runs = _runs(worker_log)
        delivered = not OutboundMessage.objects.exclude(status=OutboundMessage.Status.SENT).exists()
        if all(runs[task] >= 2 for task in scans) and delivered and OutboundMessage.objects.count() >= 3:
            break
        time.sleep(0.3)
    time.sleep(1)  # anything a doubled tick would still send arrives now

    assert all(p.poll() is None for p in processes), worker_log.read_text()[-3000:]
    runs = _runs(worker_log)
    assert all(runs[task] >= 2 for task in scans), runs  # both beats did send each scan
    rows = list(OutboundMessage.objects.order_by("kind", "to"))
    assert sorted((row.kind, row.to) for row in rows) == [
        ("gap_alert", lead.phone),
        ("gap_alert", lead.phone),
        ("reminder", primary.phone),
    ]
    assert {row.status for row in rows} == {OutboundMessage.Status.SENT}
    # Twilio got each message once: as many creates as rows, no (To, Body) twice.
    creates = [(request.data["To"], request.data["Body"]) for request in fake_twilio.message_creates]
    assert len(creates) == len(set(creates)) == len(rows)
