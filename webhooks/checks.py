"""System checks of the webhooks' configuration (`manage.py check`), with stable ids.

They catch what would otherwise show up as every webhook failing: a forged-request hole, a
signed URL that can never match, half a Twilio account, background turns that never resume.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning


def check_twilio_signature_validation(app_configs=None, **kwargs) -> list[CheckMessage]:
    if settings.TWILIO_VALIDATE_SIGNATURE or settings.DEBUG:
        return []
    return [
        Warning(
            "Twilio signature validation is off while DEBUG is off: anyone can post fake WhatsApp messages.",
            hint="Set TWILIO_VALIDATE_SIGNATURE=true (and TWILIO_AUTH_TOKEN) outside local development.",
            id="webhooks.W001",
        )
    ]


def check_public_base_url(app_configs=None, **kwargs) -> list[CheckMessage]:
    value = settings.PUBLIC_BASE_URL
    if not value or is_valid_public_base_url(value):
        return []
    return [
        Error(
            f"PUBLIC_BASE_URL {value!r} is not an http(s)://host[/path] URL.",
            hint="Set it to the external URL Twilio calls, without query or fragment, e.g. https://brenda.example.com.",
            id="webhooks.E002",
        )
    ]


def is_valid_public_base_url(value: str) -> bool:
    """Tell whether `value` is `http(s)://host[:port][/path]`, with no credentials, query or fragment."""
    if any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and "@" not in parts.netloc
        and not parts.query
        and not parts.fragment
        and "?" not in value
        and "#" not in value
    )


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


def check_background_webhook_secret(app_configs=None, **kwargs) -> list[CheckMessage]:
    if not settings.OPENAI_BACKGROUND or settings.OPENAI_WEBHOOK_SECRET:
        return []
    return [
        Error(
            "OPENAI_BACKGROUND is on but OPENAI_WEBHOOK_SECRET is not set: OpenAI's webhooks cannot be "
            "verified, so background turns only end at their deadline.",
            hint="Create a webhook for response.* events at <PUBLIC_BASE_URL>/webhooks/openai in the OpenAI "
            "dashboard and set OPENAI_WEBHOOK_SECRET to its secret, or set OPENAI_BACKGROUND=false.",
            id="webhooks.E004",
        )
    ]
