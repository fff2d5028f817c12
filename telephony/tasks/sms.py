"""SMS delivery tasks: thin wrappers over telephony.sms, safe to run twice (the row is the lock)."""

from celery import shared_task

from telephony.sms import sms_deliver_attempt, sms_outbox_sweep

__all__ = ["sms_deliver", "sms_sweep"]


# acks_late: a worker killed mid-task leaves the message in the broker and it runs again; the row's
# conditional claim and the status check make that second run harmless. max_retries=None because the
# service decides when to give up (an hour after the row was written).
@shared_task(bind=True, acks_late=True, max_retries=None, name="telephony.tasks.sms.sms_deliver")
def sms_deliver(self, message_id: int) -> str:
    outcome = sms_deliver_attempt(message_id=message_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status


# Beat runs this every minute: rows whose task never ran (broker down at commit time, lost retries,
# a worker that died mid-request) are picked up here, so nothing queued is ever forgotten.
@shared_task(acks_late=True, name="telephony.tasks.sms.sms_sweep")
def sms_sweep() -> dict:
    return sms_outbox_sweep()
