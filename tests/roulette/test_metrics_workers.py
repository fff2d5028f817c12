"""Several gunicorn workers, one webhook latency histogram: every scrape, whichever worker answers it, counts
the requests that all the workers served (prometheus-client's multiprocess mode, PROMETHEUS_MULTIPROC_DIR),
also those of workers that gunicorn has since replaced (--max-requests recycles them every few requests)."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest
from prometheus_client.parser import text_string_to_metric_families
from twilio.request_validator import RequestValidator

from tests.processes import process_stop

REPO_ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")
TOKEN = "workers-auth-token"
REQUESTS = 24


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def gunicorn(tmp_path):
    if not GUNICORN.exists():
        pytest.skip(f"{GUNICORN} is missing")
    port = _free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    # On the real clock: under faketime gunicorn's arbiter compares its faked time with the real mtimes of the
    # workers' heartbeat files, takes every worker for hung and kills it mid-request.
    real_clock = {key: value for key, value in os.environ.items() if not key.startswith(("LD_PRELOAD", "FAKETIME"))}
    env = {
        **real_clock,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "ROULETTE_VAR_DIR": str(tmp_path),
        # The fallback webhook answers without the database; this one is never migrated.
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        "REDIS_URL": "",
        "DJANGO_SECRET_KEY": "workers-test-secret-key",
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "TWILIO_AUTH_TOKEN": TOKEN,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "METRICS_TOKEN": "",
        "DJANGO_ENV_FILE": "",
    }
    process = subprocess.Popen(
        [str(GUNICORN), "roulette.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--max-requests", "5", "--log-level", "warning"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        for _ in range(300):  # counted, not timed: a moved clock cannot stretch the wait (about 30 s)
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", metrics_dir
    finally:
        process_stop(process)


def _fallback(origin: str) -> int:
    params = {"CallSid": "CA" + "e" * 32, "From": "+4917012345678", "To": "+493012340001", "CallStatus": "ringing"}
    url = origin + "/telephony/voice/fallback/"
    signature = RequestValidator(TOKEN).compute_signature(url, params)
    request = urllib.request.Request(url, urlencode(params).encode(), {"X-Twilio-Signature": signature})
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (loopback only)
        return response.status


def _served_count(origin: str) -> float:
    with urllib.request.urlopen(origin + "/metrics", timeout=60) as response:  # noqa: S310
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "roulette_webhook_duration_seconds_count" and sample.labels == {
                "webhook": "voice-fallback"
            }:
                return sample.value
    return 0.0


def test_every_scrape_counts_what_all_the_workers_served(gunicorn):
    origin, metrics_dir = gunicorn
    assert all(_fallback(origin) == 200 for _ in range(REQUESTS))
    # Each worker writes its own file; any worker's scrape adds them all up.
    assert list(metrics_dir.glob("histogram_*.db"))
    assert {_served_count(origin) for _ in range(8)} == {REQUESTS}
