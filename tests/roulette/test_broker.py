"""Publishing from a request: one fast attempt when the broker is down, then a pause; /healthz names the parts."""

from telephony.queue import broker_is_known_down, task_publish
from telephony.tasks.sms import sms_deliver


def test_a_publish_to_a_stopped_broker_costs_one_attempt_then_nothing(redis_server):
    redis_server.stop()
    before = redis_server.attempts
    assert task_publish(sms_deliver.name, args=[1]) is False
    # One connection attempt, refused at once (kombu alone tries again and again for 2 s).
    assert redis_server.attempts - before == 1
    assert broker_is_known_down()
    assert task_publish(sms_deliver.name, args=[2]) is False
    assert redis_server.attempts - before == 1  # the process knows the broker is down: no attempt at all


def test_publishing_resumes_once_the_health_check_finds_the_broker_back(db, client, redis_server):
    redis_server.stop()
    assert task_publish(sms_deliver.name, args=[1]) is False
    down = client.get("/healthz")
    assert down.status_code == 503
    assert down.json()["broker"] == "down" and down.json()["database"] == "up"

    redis_server.start()
    up = client.get("/healthz")
    assert up.status_code == 200, up.json()
    assert up.json()["broker"] == "up"
    assert task_publish(sms_deliver.name, args=[1]) is True
    assert redis_server.queued() == 1


def test_a_fresh_web_process_knows_every_task_it_enqueues_by_name():
    """Services enqueue by task name; a web process (no worker, no autodiscovery) must have them registered."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import django; django.setup(); from celery import current_app; "
        "print(all(n in current_app.tasks for n in "
        "('telephony.tasks.sms.sms_deliver', 'telephony.tasks.voicemail.voicemail_notify_task', "
        "'telephony.tasks.voicemail.voicemail_raise_task')))"
    )
    env = {"DJANGO_SETTINGS_MODULE": "roulette.settings", "DJANGO_SECRET_KEY": "x", "PATH": "/usr/bin:/bin"}
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(  # noqa: S603 - our own interpreter on our own code
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stdout.strip().splitlines()[-1] == "True", result.stderr
