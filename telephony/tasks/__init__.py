"""Celery tasks of the telephony app, one module per area; importing them here registers them."""

from telephony.tasks.alerts import *  # noqa: F403
from telephony.tasks.costs import *  # noqa: F403
from telephony.tasks.notifications import *  # noqa: F403
from telephony.tasks.sms import *  # noqa: F403
from telephony.tasks.swaps import *  # noqa: F403
from telephony.tasks.voicemail import *  # noqa: F403
