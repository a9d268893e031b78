"""The webhooks app's system checks: each id fires on its misconfiguration, and only then.

`webhooks.W003` (half a Twilio account) moved to the messaging app: tests/messaging/test_checks.py.
"""

import pytest
from django.core.checks import run_checks


@pytest.fixture
def healthy(settings):
    settings.DEBUG = False
    settings.TWILIO_VALIDATE_SIGNATURE = True
    settings.ALLOW_UNSIGNED_WEBHOOKS = False
    settings.PUBLIC_BASE_URL = "https://brenda.example.com"
    settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
    settings.TWILIO_AUTH_TOKEN = "token"
    settings.TWILIO_PHONE_NUMBER = "whatsapp:+14155238886"
    settings.OPENAI_BACKGROUND = True
    settings.OPENAI_WEBHOOK_SECRET = "whsec_abc"
    return settings


def webhook_messages():
    return {message.id: message for message in run_checks() if message.id.startswith("webhooks.")}


def test_healthy_configuration_raises_nothing(healthy):
    assert webhook_messages() == {}


def test_signature_validation_off_in_production_is_an_error(healthy):
    healthy.TWILIO_VALIDATE_SIGNATURE = False

    message = webhook_messages()["webhooks.E001"]

    assert message.is_serious()
    assert "TWILIO_VALIDATE_SIGNATURE" in message.hint
    assert "ALLOW_UNSIGNED_WEBHOOKS" in message.hint


def test_signature_validation_off_on_purpose_only_warns(healthy):
    healthy.TWILIO_VALIDATE_SIGNATURE = False
    healthy.ALLOW_UNSIGNED_WEBHOOKS = True

    messages = webhook_messages()

    assert "webhooks.E001" not in messages
    assert messages["webhooks.W001"].is_serious() is False


def test_signature_validation_off_under_debug_is_allowed(healthy):
    healthy.TWILIO_VALIDATE_SIGNATURE = False
    healthy.DEBUG = True

    assert webhook_messages() == {}


@pytest.mark.parametrize(
    "value",
    [
        "brenda.example.com",
        "ftp://brenda.example.com",
        "https://",
        "https://brenda.example.com/?x=1",
        "https://brenda.example.com#top",
        "https://user:pw@brenda.example.com",
        "https://brenda.example.com:port",
        "https://brenda example.com",
    ],
)
def test_malformed_public_base_url_is_an_error(healthy, value):
    healthy.PUBLIC_BASE_URL = value

    message = webhook_messages()["webhooks.E002"]

    assert message.is_serious()
    assert message.hint


@pytest.mark.parametrize("value", ["", "http://localhost:8000", "https://example.com/brenda"])
def test_well_formed_or_unset_public_base_url_passes(healthy, value):
    healthy.PUBLIC_BASE_URL = value

    assert "webhooks.E002" not in webhook_messages()


def test_background_mode_without_webhook_secret_is_an_error(healthy):
    healthy.OPENAI_WEBHOOK_SECRET = ""

    message = webhook_messages()["webhooks.E004"]

    assert message.is_serious()
    assert "OPENAI_WEBHOOK_SECRET" in message.hint


def test_no_background_mode_needs_no_webhook_secret(healthy):
    healthy.OPENAI_BACKGROUND = False
    healthy.OPENAI_WEBHOOK_SECRET = ""

    assert "webhooks.E004" not in webhook_messages()
