import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger(__name__)


class TelephonyConfig(AppConfig):
    name = "telephony"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        if not settings.TWILIO_VALIDATE_SIGNATURES:
            logger.warning(
                "TWILIO_VALIDATE_SIGNATURES=false: Twilio webhook signatures are NOT checked. "
                "Anyone can post fake calls and messages. Never run production like this."
            )
