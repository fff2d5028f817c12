"""Admin of the telephony app, one module per area; importing them registers them."""

from telephony.admin import alerts, calls, outbox, swaps  # noqa: F401
