"""Publishing tasks from code that may run inside a web request.

`task_publish` makes one attempt with a short timeout, never a multi-second retry loop, and after a failure
no further attempt from this process for BROKER_DOWN_SECONDS. Whatever it could not publish stays in the
database for a beat sweep (the outbox, the overdue voicemail notices, alert escalation), so a broker outage
delays work and loses none. Tasks are named by their registered name, so the services that enqueue them do
not import the task modules (which import the services): services enqueue tasks, tasks call services.
"""

import datetime as dt
import logging
import threading
import time

from celery import current_app
from django.db.models import QuerySet

logger = logging.getLogger(__name__)

# One attempt, this long at most, when the broker is unreachable (a refused port fails at once; a host
# that drops packets waits out the connect timeout).
PUBLISH_TIMEOUT_SECONDS = 0.1
# After a failed attempt, publishes are skipped (at no cost) for this long, so a request that enqueues
# several tasks pays for one attempt, and so do the requests right after it.
BROKER_DOWN_SECONDS = 10.0

_down_until = 0.0
_lock = threading.Lock()


def _fast_connection():
    """A broker connection that gives up after one short try (kombu's default retries for 2 s)."""
    return current_app.connection_for_write(
        connect_timeout=PUBLISH_TIMEOUT_SECONDS,
        transport_options={
            "max_retries": 0,
            "socket_connect_timeout": PUBLISH_TIMEOUT_SECONDS,
            # A broker that accepts the connection but does not answer must not hang the request either.
            "socket_timeout": 5 * PUBLISH_TIMEOUT_SECONDS,
        },
    )


def _mark(*, is_up: bool) -> None:
    global _down_until
    with _lock:
        _down_until = 0.0 if is_up else time.monotonic() + BROKER_DOWN_SECONDS


def broker_is_known_down() -> bool:
    return time.monotonic() < _down_until


def task_publish(task_name: str, *, args: list, countdown: float | None = None) -> bool:
    """Enqueue the task registered as `task_name` with one fast attempt; False (logged) when the broker is
    unreachable.

    Eager mode (the tests) runs the task at once, as `apply_async` does.
    """
    task = current_app.tasks[task_name]
    if current_app.conf.task_always_eager:
        task.apply_async(args=args, countdown=countdown)
        return True
    if broker_is_known_down():
        logger.info("Broker marked down; %s%s left for the sweep", task.name, args)
        return False
    try:
        with _fast_connection() as connection:
            task.apply_async(args=args, countdown=countdown, connection=connection, retry=False)
    except Exception as exc:  # kombu.OperationalError, redis and socket errors: the broker is unreachable
        _mark(is_up=False)
        logger.warning("Broker unreachable (%s); %s%s left for the sweep", exc, task.name, args)
        return False
    _mark(is_up=True)
    return True


# Work published for a step and not done this long after it: its task was lost, the sweep does it.
OWED_GRACE = dt.timedelta(minutes=1)
OWED_BATCH = 500


def owed_sweep(owed: QuerySet, do, *, now: dt.datetime, what: str) -> int:
    """Run `do(event_id=…)` for each row of `owed` created more than OWED_GRACE before `now`, oldest first
    and at most OWED_BATCH of them (its task was lost: broker down, worker gone); one that fails is logged
    and left for the next sweep. Returns how many did something."""
    done = 0
    late = owed.filter(created_at__lte=now - OWED_GRACE).order_by("pk").values_list("pk", flat=True)
    for event_id in late[:OWED_BATCH]:
        try:
            done += bool(do(event_id=event_id))
        except Exception:
            logger.exception("Could not send the texts of %s %s", what, event_id)
    return done


def broker_check() -> bool:
    """True when the broker accepts a connection within the publish timeout (for /healthz).

    A success also ends the "known down" pause, so publishing resumes as soon as the broker is back.
    """
    try:
        with _fast_connection() as connection:
            connection.ensure_connection(max_retries=0, timeout=PUBLISH_TIMEOUT_SECONDS)
            connection.default_channel  # noqa: B018 - opening a channel is what proves the broker answers
    except Exception as exc:
        logger.warning("Broker health check failed: %s", exc)
        _mark(is_up=False)
        return False
    _mark(is_up=True)
    return True
