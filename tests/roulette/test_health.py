"""/healthz names the database, the broker and beat, and answers 503 when one of them is down."""

import datetime as dt

import time_machine
from django_celery_beat.models import PeriodicTask

NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)


def test_beat_is_up_while_its_tasks_run_and_down_when_they_stopped(db, client):
    with time_machine.travel(NOW, tick=False):
        PeriodicTask.objects.update(last_run_at=None)
        never = client.get("/healthz")
        assert never.status_code == 200
        # No periodic task has a last run (they were all just added by hand): not known to be an outage.
        assert never.json()["beat"] == "unknown"

        PeriodicTask.objects.filter(enabled=True).update(last_run_at=NOW - dt.timedelta(minutes=2), total_run_count=1)
        running = client.get("/healthz").json()
        assert (running["status"], running["database"], running["broker"], running["beat"]) == ("ok", "up", "up", "up")

        PeriodicTask.objects.filter(enabled=True).update(last_run_at=NOW - dt.timedelta(minutes=30), total_run_count=9)
        stopped = client.get("/healthz")
        assert stopped.status_code == 503
        assert stopped.json()["beat"] == "down" and stopped.json()["status"] == "unavailable"
        assert stopped.json()["beat_last_run_at"].startswith("2026-12-01T09:30")


def test_beat_names_the_age_of_its_last_tick(db, client):
    with time_machine.travel(NOW, tick=False):
        PeriodicTask.objects.filter(enabled=True).update(last_run_at=NOW - dt.timedelta(seconds=95), total_run_count=3)
        body = client.get("/healthz").json()
        assert (body["beat"], body["beat_last_run_seconds"], body["down"]) == ("up", 95, [])


def test_a_stopped_broker_turns_healthz_503_naming_it(db, client, redis_server):
    PeriodicTask.objects.filter(enabled=True).update(last_run_at=dt.datetime.now(dt.UTC), total_run_count=1)
    healthy = client.get("/healthz")
    assert healthy.status_code == 200 and healthy.json()["broker"] == "up"

    redis_server.stop()
    sick = client.get("/healthz")
    assert sick.status_code == 503
    assert sick.json()["broker"] == "down" and sick.json()["down"] == ["broker"]
    assert (sick.json()["database"], sick.json()["beat"]) == ("up", "up")

    redis_server.start()
    assert client.get("/healthz").status_code == 200


def test_a_fresh_install_whose_beat_never_ran_is_not_reported_up(db, client):
    """The schedule's install stamps each task's last run so that it is due at once: no beat has run it."""
    from telephony.beat import beat_schedule_install

    with time_machine.travel(NOW, tick=False):
        PeriodicTask.objects.all().delete()
        beat_schedule_install()
        assert PeriodicTask.objects.filter(last_run_at__isnull=False).exists()
        body = client.get("/healthz").json()
    assert (body["beat"], body["beat_last_run_at"], body["beat_last_run_seconds"]) == ("unknown", None, None)
