"""Publishing from a request: one fast attempt when the broker is down, then a pause; /healthz names the parts."""

import time

from telephony.queue import broker_is_known_down, task_publish
from telephony.tasks.sms import sms_deliver


def test_a_publish_to_a_stopped_broker_costs_one_fast_attempt_then_nothing(redis_server):
    redis_server.stop()
    started = time.monotonic()
    assert task_publish(sms_deliver.name, args=[1]) is False
    first = time.monotonic() - started
    started = time.monotonic()
    assert task_publish(sms_deliver.name, args=[2]) is False
    second = time.monotonic() - started
    # One attempt of at most 0.1 s (kombu alone retries for 2 s); generous margin for a loaded machine.
    assert first < 0.5, first
    assert second < 0.01, second
    assert broker_is_known_down()


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
