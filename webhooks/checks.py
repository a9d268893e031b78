"""System checks of the webhooks' configuration (`manage.py check`), with stable ids.

They catch what would otherwise show up as every webhook failing: a forged-request hole, a
signature with no secret to check it, a body limit nothing fits, a signed URL that can never
match, background turns that never resume. Half a Twilio account
(`webhooks.W003`, same id) is checked with the backends, in `messaging/checks.py`.
"""

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from messaging.backends import is_valid_public_base_url


def check_twilio_signature_validation(app_configs=None, **kwargs) -> list[CheckMessage]:
    """Stop a production server that would accept forged messages, unless ALLOW_UNSIGNED_WEBHOOKS says so.

    An error stops `runserver`, `migrate`, `check` and gunicorn (gunicorn.conf.py runs the checks first).
    """
    if settings.TWILIO_VALIDATE_SIGNATURE or settings.DEBUG:
        return []
    if settings.ALLOW_UNSIGNED_WEBHOOKS:
        return [
            Warning(
                "Twilio signature validation is off while DEBUG is off (ALLOW_UNSIGNED_WEBHOOKS=true): anyone "
                "can post fake WhatsApp messages.",
                hint="Set TWILIO_VALIDATE_SIGNATURE=true (and TWILIO_AUTH_TOKEN) unless this is on purpose.",
                id="webhooks.W001",
            )
        ]
    return [
        Error(
            "Twilio signature validation is off while DEBUG is off: anyone could post fake WhatsApp messages.",
            hint="Set TWILIO_VALIDATE_SIGNATURE=true (and TWILIO_AUTH_TOKEN); if unsigned webhooks are wanted on "
            "purpose (e.g. a closed test network), also set ALLOW_UNSIGNED_WEBHOOKS=true.",
            id="webhooks.E001",
        )
    ]


def check_twilio_signing_secret(app_configs=None, **kwargs) -> list[CheckMessage]:
    """Warn when signatures are checked with no secret to check them against: every Twilio webhook gets a 403.

    Not under DEBUG: the development setup (`make run`) has no Twilio account, answers through
    `manage.py chat`, and posts unsigned test messages with TWILIO_VALIDATE_SIGNATURE=false; a
    warning on each of its commands would be noise. The refusals are logged there anyway.
    """
    if settings.DEBUG or not settings.TWILIO_VALIDATE_SIGNATURE:
        return []
    if settings.TWILIO_AUTH_TOKEN or settings.TWILIO_SHARED_KEY_SECRETS:
        return []
    return [
        Warning(
            "Twilio signature validation is on but neither TWILIO_AUTH_TOKEN nor TWILIO_SHARED_KEY_SECRETS is "
            "set: every inbound WhatsApp message will be refused (403) and never answered.",
            hint="Set TWILIO_AUTH_TOKEN (the account's auth token), or TWILIO_SHARED_KEY_SECRETS when a Twilio "
            "Webhook Rule signs with a shared key.",
            id="webhooks.W005",
        )
    ]


def check_webhook_max_body_bytes(app_configs=None, **kwargs) -> list[CheckMessage]:
    if settings.WEBHOOK_MAX_BODY_BYTES > 0:
        return []
    return [
        Error(
            f"WEBHOOK_MAX_BODY_BYTES must be positive; got {settings.WEBHOOK_MAX_BODY_BYTES}: every webhook "
            "would be refused as too large (413).",
            hint="Set WEBHOOK_MAX_BODY_BYTES to the largest body accepted, e.g. 65536 (Twilio and OpenAI send a "
            "few kB), or leave it unset.",
            id="webhooks.E006",
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
