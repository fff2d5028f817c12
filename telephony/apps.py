import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger(__name__)


class TelephonyConfig(AppConfig):
    name = "telephony"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the tasks in every process (web included): services enqueue them by name
        # (telephony.queue), and Celery's autodiscovery runs only when a worker starts.
        import telephony.tasks  # noqa: F401
        from telephony.request_checks import signing_tokens

        if not settings.TWILIO_VALIDATE_SIGNATURES:
            logger.warning(
                "TWILIO_VALIDATE_SIGNATURES=false: Twilio webhook signatures are NOT checked. "
                "Anyone can post fake calls and messages. Never run production like this."
            )
        elif not signing_tokens():
            logger.warning(
                "TWILIO_AUTH_TOKEN is not set (or blank): every Twilio webhook is refused with 403 until it is."
            )
