"""Prometheus metrics (GET /metrics, roulette/metrics.py): the webhook latency histogram, and what the
database says at scrape time (calls by outcome, SMS by status, the outbox backlog, beat, unresolved alerts).

Several gunicorn workers, one histogram: with PROMETHEUS_MULTIPROC_DIR set (an empty directory at start,
shared by the workers) prometheus-client keeps each worker's observations in a memory-mapped file there and
any worker's scrape adds them all up (its MultiProcessCollector). Without it (runserver, tests, one process)
the histogram lives in the process. Observing costs a few microseconds either way (README, "Metrics"): a
dictionary look-up and an add into a mapped file, no network and no lock across processes. The database
metrics are computed by whoever is scraped, with a constant number of queries (telephony.selectors).
"""

from __future__ import annotations

import logging
import os

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from telephony import selectors

logger = logging.getLogger(__name__)

# Twilio waits at most 15 s for an answer; the buckets that matter are well under a second.
WEBHOOK_LATENCY = Histogram(
    "roulette_webhook_duration_seconds",
    "Time to answer a Twilio webhook (signature check included), by webhook.",
    ["webhook"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0),
    registry=None,  # collected by metrics_text(), alone or across processes
)


def webhook_observe(webhook: str, seconds: float) -> None:
    """Never fails the webhook it measures (a missing PROMETHEUS_MULTIPROC_DIR, say): logged instead."""
    try:
        WEBHOOK_LATENCY.labels(webhook).observe(seconds)
    except Exception:
        logger.warning("Could not record the latency of webhook %s", webhook, exc_info=True)


def is_multiprocess() -> bool:
    """The rule prometheus-client applies when it creates the histogram: the variable is present."""
    return "PROMETHEUS_MULTIPROC_DIR" in os.environ


class DatabaseCollector:
    """Reads the database at scrape time (four queries whatever the number of rows). A database that does
    not answer gives `roulette_database_up 0` and no database series, never a failed scrape."""

    def collect(self):
        up = GaugeMetricFamily("roulette_database_up", "Whether the metrics could read the database.")
        try:
            snapshot = selectors.operations_snapshot()
        except Exception:
            logger.warning("Metrics: the database did not answer", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        calls = CounterMetricFamily("roulette_calls", "Inbound calls by outcome.", labels=["outcome"])
        for outcome, count in sorted(snapshot.calls_by_outcome.items()):
            calls.add_metric([outcome], count)
        yield calls

        sms = CounterMetricFamily("roulette_sms", "Outbox messages that reached a final status.", labels=["status"])
        for status, count in sorted(snapshot.sms_by_final_status.items()):
            sms.add_metric([status], count)
        yield sms

        backlog = GaugeMetricFamily(
            "roulette_outbox_backlog", "Outbox messages not handed to Twilio yet, by status.", labels=["status"]
        )
        for status, count in sorted(snapshot.outbox_backlog.items()):
            backlog.add_metric([status], count)
        yield backlog
        yield GaugeMetricFamily(
            "roulette_outbox_oldest_queued_age_seconds",
            "Age of the oldest queued outbox message (0 when none waits).",
            value=snapshot.outbox_oldest_queued_seconds,
        )

        beat = GaugeMetricFamily(
            "roulette_beat_task_seconds_since_last_run",
            "Seconds since each enabled periodic task last ran (tasks that never ran are left out).",
            labels=["task", "name"],
        )
        for task in snapshot.beat_tasks:
            beat.add_metric([task.task, task.name], task.seconds_since_last_run)
        yield beat

        alerts = GaugeMetricFamily(
            "roulette_alerts_unresolved", "Alerts not resolved yet, by team and state.", labels=["team", "state"]
        )
        for (team, state), count in sorted(snapshot.alerts_unresolved.items()):
            alerts.add_metric([team, state], count)
        yield alerts


def metrics_text() -> bytes:
    """The Prometheus text exposition of every metric, as this scrape sees them."""
    registry = CollectorRegistry()
    if is_multiprocess():
        MultiProcessCollector(registry)
    else:
        registry.register(WEBHOOK_LATENCY)
    registry.register(DatabaseCollector())
    return generate_latest(registry)
