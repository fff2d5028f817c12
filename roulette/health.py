"""GET /healthz: which part is down. JSON naming the database, the broker and beat; 503 when one is down,
with `down` listing which. docker-compose.yml polls it for the web service's health.

    {"status": "ok", "database": "up", "broker": "up", "beat": "up", "down": [],
     "beat_last_run_at": "2026-12-01T09:58:00Z", "beat_last_run_seconds": 120}

Cheap enough to poll every few seconds: one `SELECT`, one broker connection with a 0.1 s timeout, and one
indexed read of django-celery-beat's own bookkeeping.
"""

import datetime as dt

from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from telephony.beat import tasks_run_by_beat
from telephony.queue import broker_check

# Beat runs several tasks every minute and django-celery-beat writes their last run at most every three
# minutes: a newest run older than this means beat is not running.
BEAT_STALE_AFTER = dt.timedelta(minutes=10)


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        return "down"
    return "up"


def _beat() -> tuple[str, dt.datetime | None]:
    """ "up", "down", or "unknown" (no periodic task has run yet: a fresh install whose beat is starting)."""
    try:
        last_run_at = tasks_run_by_beat().order_by("-last_run_at").values_list("last_run_at", flat=True).first()
    except Exception:
        return "unknown", None
    if last_run_at is None:
        return "unknown", None
    return ("up" if timezone.now() - last_run_at <= BEAT_STALE_AFTER else "down"), last_run_at


@never_cache
@require_GET
def healthz(request):
    """200 when every part answers; 503, naming the part, when the database, the broker or beat is down."""
    database = _database()
    broker = "up" if broker_check() else "down"
    beat, beat_last_run_at = ("unknown", None) if database == "down" else _beat()
    parts = {"database": database, "broker": broker, "beat": beat}
    down = [name for name, state in parts.items() if state == "down"]
    body = {
        "status": "unavailable" if down else "ok",
        **parts,
        "down": down,
        "beat_last_run_at": beat_last_run_at,
        # How long ago beat last ran a task: the figure an operator compares with BEAT_STALE_AFTER (600 s).
        "beat_last_run_seconds": (
            int((timezone.now() - beat_last_run_at).total_seconds()) if beat_last_run_at is not None else None
        ),
    }
    return JsonResponse(body, status=503 if down else 200)
