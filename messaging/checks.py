"""System checks of outbound messaging's configuration (`manage.py check`), with stable ids.

`webhooks.W003` moved here from the webhooks app with the backends; it keeps its id so that
SILENCED_SYSTEM_CHECKS entries naming it still work.
"""

from django.conf import settings
from django.core.checks import CheckMessage, Warning

from .backends import DEPRECATED_PREFIX, upgrade_backend_path


def check_messaging_backend_path(app_configs=None, **kwargs) -> list[CheckMessage]:
    value = settings.MESSAGING_BACKEND
    if not value.startswith(DEPRECATED_PREFIX):
        return []
    return [
        Warning(
            f"MESSAGING_BACKEND {value!r} names the backends' old module, webhooks.backends.",
            hint=f"Set MESSAGING_BACKEND={upgrade_backend_path(value)}; the old path is deprecated and "
            "only loaded through a compatibility alias.",
            id="messaging.W001",
        )
    ]


def check_twilio_credentials(app_configs=None, **kwargs) -> list[CheckMessage]:
    values = {
        "TWILIO_ACCOUNT_SID": settings.TWILIO_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": settings.TWILIO_AUTH_TOKEN,
        "TWILIO_PHONE_NUMBER": settings.TWILIO_PHONE_NUMBER,
    }
    missing = [name for name, value in values.items() if not value]
    if not missing or len(missing) == len(values):
        return []
    return [
        Warning(
            f"Twilio is half configured: {', '.join(missing)} missing.",
            hint="Set all of TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_PHONE_NUMBER, or none "
            "(replies then go to the console backend).",
            id="webhooks.W003",
        )
    ]
