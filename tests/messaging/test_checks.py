"""The messaging app's system checks: each id fires on its misconfiguration, and only then.

`webhooks.W003` lives here since the backends left the webhooks app; it kept its id.
"""

import pytest
from django.core.checks import run_checks

# The model checks that run_checks() also runs ask the database about JSON support.
pytestmark = pytest.mark.django_db

MESSAGING_CHECK_IDS = {"messaging.W001", "messaging.E002", "webhooks.W003"}


@pytest.fixture
def healthy(settings):
    settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
    settings.TWILIO_AUTH_TOKEN = "token"
    settings.TWILIO_PHONE_NUMBER = "whatsapp:+14155238886"
    settings.MESSAGING_BACKEND = "messaging.backends.TwilioBackend"
    return settings


def messaging_messages():
    return {message.id: message for message in run_checks() if message.id in MESSAGING_CHECK_IDS}


def test_healthy_configuration_raises_nothing(healthy):
    assert messaging_messages() == {}


@pytest.mark.parametrize("name", ["TwilioBackend", "ConsoleBackend", "LocmemBackend"])
def test_a_backend_named_by_its_old_module_warns_with_the_new_value(healthy, name):
    healthy.MESSAGING_BACKEND = f"webhooks.backends.{name}"

    message = messaging_messages()["messaging.W001"]

    assert message.is_serious() is False
    assert f"MESSAGING_BACKEND=messaging.backends.{name}" in message.hint


def test_a_backend_of_our_own_elsewhere_is_not_flagged(healthy):
    healthy.MESSAGING_BACKEND = "myproject.sms.Backend"

    assert "messaging.W001" not in messaging_messages()


@pytest.mark.parametrize("missing", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_PHONE_NUMBER"])
def test_half_configured_twilio_warns_naming_what_is_missing(healthy, missing):
    setattr(healthy, missing, "")

    message = messaging_messages()["webhooks.W003"]

    assert missing in message.msg
    assert message.hint


def test_no_twilio_at_all_is_fine(healthy):
    healthy.TWILIO_ACCOUNT_SID = healthy.TWILIO_AUTH_TOKEN = healthy.TWILIO_PHONE_NUMBER = ""

    assert "webhooks.W003" not in messaging_messages()


@pytest.mark.parametrize(
    "value",
    [
        "nosuch.Backend",
        "nosuch",
        "messaging.backends.NoSuchBackend",
        "webhooks.backends.NoSuchBackend",
        "messaging.backends.OutboundMessage",
        "messaging.backends.get_messaging_backend",
    ],
)
def test_a_backend_that_cannot_be_loaded_is_an_error_listing_the_built_in_ones(healthy, value):
    healthy.MESSAGING_BACKEND = value

    message = messaging_messages()["messaging.E002"]

    assert message.is_serious()
    assert repr(value) in message.msg
    for name in ("TwilioBackend", "ConsoleBackend", "LocmemBackend"):
        assert f"messaging.backends.{name}" in message.hint


@pytest.mark.parametrize(
    "value",
    ["messaging.backends.ConsoleBackend", "webhooks.backends.LocmemBackend", "messaging.backends.TwilioBackend"],
)
def test_a_loadable_backend_is_not_an_error(healthy, value):
    healthy.MESSAGING_BACKEND = value

    assert "messaging.E002" not in messaging_messages()
