"""GET /metrics: Prometheus text with the series an operator watches, behind METRICS_TOKEN when set."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import PeriodicTask
from prometheus_client.parser import text_string_to_metric_families

from telephony.models import Alert, OutboundMessage
from tests.telephony.world import NOW

pytestmark = pytest.mark.usefixtures("celery_eager")


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_metrics_show_calls_sms_outbox_beat_alerts_and_webhook_latency(web, twilio, client, clock):
    before = scrape(client)
    latency_key = ("roulette_webhook_duration_seconds_count", (("webhook", "voice-incoming"),))
    call = twilio()
    root = call.incoming()
    call.leg(root.find("Dial"), "accept")
    call.status("completed", 30)
    OutboundMessage.objects.create(to="+1", body="a", kind="test", dedupe_key="d1", status="delivered")
    OutboundMessage.objects.create(to="+1", body="b", kind="test", dedupe_key="d2", status="failed")
    queued = OutboundMessage.objects.create(to="+1", body="c", kind="test", dedupe_key="d3")
    OutboundMessage.objects.filter(pk=queued.pk).update(created_at=NOW - dt.timedelta(minutes=7))
    Alert.objects.create(team=web.team, summary="disk full")
    PeriodicTask.objects.filter(task="telephony.tasks.sms.sms_sweep").update(
        last_run_at=NOW - dt.timedelta(seconds=42), total_run_count=1
    )

    after = scrape(client)
    assert after[latency_key] == before.get(latency_key, 0) + 1
    assert after[("roulette_calls_total", (("outcome", "answered"),))] == 1
    assert after[("roulette_sms_total", (("status", "delivered"),))] == 1
    assert after[("roulette_sms_total", (("status", "failed"),))] == 1
    assert after[("roulette_outbox_backlog", (("status", "queued"),))] == 1
    assert after[("roulette_outbox_oldest_queued_age_seconds", ())] == 7 * 60
    beat = (
        "roulette_beat_task_seconds_since_last_run",
        (("name", "Sweep the SMS outbox"), ("task", "telephony.tasks.sms.sms_sweep")),
    )
    assert after[beat] == 42
    assert after[("roulette_alerts_unresolved", (("state", "open"), ("team", web.team.slug)))] == 1
    assert after[("roulette_database_up", ())] == 1


def test_the_database_metrics_cost_the_same_queries_for_few_or_many_rows(web, client, clock):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            scrape(client)
        return len(captured)

    few = queries()
    for n in range(30):
        OutboundMessage.objects.create(to="+1", body="x", kind="test", dedupe_key=f"k{n}", status="delivered")
        Alert.objects.create(team=web.team, summary=f"alert {n}")
    assert queries() == few <= 4


def test_a_metrics_token_asks_for_a_bearer(client, settings, db):
    settings.METRICS_TOKEN = "s3cret-metrics"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Token s3cret-metrics").status_code == 401
    assert client.get("/metrics").headers["WWW-Authenticate"].startswith("Bearer")
    assert ("roulette_database_up", ()) in scrape(client, HTTP_AUTHORIZATION="Bearer s3cret-metrics")
