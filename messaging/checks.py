"""System checks of outbound messaging's configuration (`manage.py check`), with stable ids.

`webhooks.W003` moved here from the webhooks app with the backends; it keeps its id so that
SILENCED_SYSTEM_CHECKS entries naming it still work.
"""

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import ImproperlyConfigured

from .backends import BACKENDS_PREFIX, DEPRECATED_PREFIX, load_backend_class, upgrade_backend_path

# What MESSAGING_BACKEND may name without writing a backend of one's own.
BUILTIN_BACKENDS = tuple(BACKENDS_PREFIX + name for name in ("TwilioBackend", "ConsoleBackend", "LocmemBackend"))


def check_messaging_backend_loads(app_configs=None, **kwargs) -> list[CheckMessage]:
    """MESSAGING_BACKEND must import as a backend class: otherwise every reply fails and the user hears nothing.

    Imported as `get_messaging_backend()` would (an old `webhooks.backends.` path included), but not
    built: building a TwilioBackend needs credentials, which webhooks.W003 checks.
    """
    problem = messaging_backend_problem(settings.MESSAGING_BACKEND)
    if problem is None:
        return []
    return [
        Error(
            f"MESSAGING_BACKEND {settings.MESSAGING_BACKEND!r} {problem}: every reply would fail and users "
            "would get no answer.",
            hint=f"Set MESSAGING_BACKEND to one of {', '.join(BUILTIN_BACKENDS)}, or to a subclass of "
            "messaging.backends.BaseMessagingBackend.",
            id="messaging.E002",
        )
    ]


def messaging_backend_problem(value: str) -> str | None:
    """Say what is wrong with the backend path `value` (None when it names a backend class); shared with the doctor."""
    try:
        load_backend_class(value)
    except ImproperlyConfigured as exc:
        if exc.__cause__ is not None:
            return f"cannot be imported ({type(exc.__cause__).__name__}: {exc.__cause__})"
        return "is not a messaging backend (a subclass of messaging.backends.BaseMessagingBackend)"
    except Exception as exc:  # a broken module can raise anything: report it, never crash `check`
        return f"cannot be imported ({type(exc).__name__}: {exc})"
    return None


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
