"""Celery tasks of the telephony app, one module per area; importing them here registers them."""

from telephony.tasks.sms import *  # noqa: F403
