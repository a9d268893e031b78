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


def test_validation_without_any_signing_secret_warns_that_every_webhook_is_refused(healthy):
    healthy.TWILIO_AUTH_TOKEN = ""
    healthy.TWILIO_SHARED_KEY_SECRETS = []

    message = webhook_messages()["webhooks.W005"]

    assert message.is_serious() is False
    assert "403" in message.msg
    assert "TWILIO_AUTH_TOKEN" in message.hint and "TWILIO_SHARED_KEY_SECRETS" in message.hint


def test_shared_key_secrets_alone_are_a_signing_secret(healthy):
    healthy.TWILIO_AUTH_TOKEN = ""
    healthy.TWILIO_SHARED_KEY_SECRETS = ["shared-secret"]

    assert "webhooks.W005" not in webhook_messages()


@pytest.mark.parametrize(
    "change", [{"DEBUG": True}, {"TWILIO_VALIDATE_SIGNATURE": False, "ALLOW_UNSIGNED_WEBHOOKS": True}]
)
def test_no_signing_secret_is_not_flagged_in_development_or_without_validation(healthy, change):
    healthy.TWILIO_AUTH_TOKEN = ""
    healthy.TWILIO_SHARED_KEY_SECRETS = []
    for name, value in change.items():
        setattr(healthy, name, value)

    assert "webhooks.W005" not in webhook_messages()


@pytest.mark.parametrize("value", [0, -1])
def test_a_body_limit_that_is_not_positive_is_an_error(healthy, value):
    healthy.WEBHOOK_MAX_BODY_BYTES = value

    message = webhook_messages()["webhooks.E006"]

    assert message.is_serious()
    assert "WEBHOOK_MAX_BODY_BYTES" in message.msg
    assert message.hint


def test_no_background_mode_needs_no_webhook_secret(healthy):
    healthy.OPENAI_BACKGROUND = False
    healthy.OPENAI_WEBHOOK_SECRET = ""

    assert "webhooks.E004" not in webhook_messages()
