"""Outbound messaging backends: Twilio (faked at its HTTP edge with `responses`), console, locmem, loader."""

import importlib
import io
import logging
import sys
from urllib.parse import parse_qs

import pytest
import requests
import responses
from django.core.exceptions import ImproperlyConfigured
from responses.registries import OrderedRegistry

from messaging import backends
from messaging.backends import (
    BaseMessagingBackend,
    ConsoleBackend,
    LocmemBackend,
    OutboundMessage,
    SendResult,
    TwilioBackend,
    get_messaging_backend,
)
from messaging.exceptions import MessagingError, MessagingNotConfigured

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "tok-9f8e7d6c5b4a-very-secret"
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
USER = "whatsapp:+5215512345678"


@pytest.fixture
def twilio_credentials(settings):
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_PHONE_NUMBER = "+14155238886"
    settings.TWILIO_TIMEOUT_S = 7.5
    settings.PUBLIC_BASE_URL = "https://brenda.example.com"
    return settings


@pytest.fixture
def twilio_api():
    """Fake Twilio's REST API; responses are consumed in order and must all be used."""
    with responses.RequestsMock(registry=OrderedRegistry) as api:
        yield api


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def twilio(twilio_credentials, sleeps):
    return TwilioBackend(sleep=sleeps.append)


@pytest.fixture(autouse=True)
def empty_outbox():
    backends.outbox.clear()
    yield
    backends.outbox.clear()


def created(sid="SM" + "a" * 32, status="queued"):
    return {"json": {"sid": sid, "status": status, "error_code": None, "body": "x"}, "status": 201}


def twilio_error(status, code, message="Error"):
    return {"json": {"code": code, "message": message, "more_info": "", "status": status}, "status": status}


def form(call):
    return parse_qs(call.request.body)


# --- TwilioBackend: success --------------------------------------------------------


def test_twilio_send_posts_the_message_and_returns_sid_and_status(twilio, twilio_api):
    twilio_api.post(MESSAGES_URL, **created(sid="SM123", status="queued"))

    result = twilio.send(OutboundMessage(to=USER, body="¡Hola! ¿Cómo estás?"))

    assert result == SendResult(sid="SM123", status="queued", error_code="")
    fields = form(twilio_api.calls[0])
    assert fields["To"] == [USER]
    assert fields["From"] == ["whatsapp:+14155238886"]
    assert fields["Body"] == ["¡Hola! ¿Cómo estás?"]
    assert fields["StatusCallback"] == ["https://brenda.example.com/webhooks/twilio/status"]
    assert "MediaUrl" not in fields


def test_twilio_request_uses_the_configured_timeout(twilio, twilio_api):
    twilio_api.post(MESSAGES_URL, **created())

    twilio.send(OutboundMessage(to=USER, body="hola"))

    assert twilio_api.calls[0].request.req_kwargs["timeout"] == 7.5


def test_twilio_does_not_double_the_whatsapp_prefix(twilio_credentials, twilio_api):
    twilio_credentials.TWILIO_PHONE_NUMBER = "whatsapp:+14155238886"
    twilio_api.post(MESSAGES_URL, **created())

    TwilioBackend().send(OutboundMessage(to=USER, body="hola"))

    assert form(twilio_api.calls[0])["From"] == ["whatsapp:+14155238886"]


def test_twilio_sms_recipient_keeps_a_plain_sender(twilio, twilio_api):
    twilio_api.post(MESSAGES_URL, **created())

    twilio.send(OutboundMessage(to="+5215512345678", body="hola"))

    assert form(twilio_api.calls[0])["From"] == ["+14155238886"]


def test_twilio_without_public_base_url_sends_no_status_callback(twilio_credentials, twilio_api):
    twilio_credentials.PUBLIC_BASE_URL = ""
    twilio_api.post(MESSAGES_URL, **created())

    TwilioBackend().send(OutboundMessage(to=USER, body="hola"))

    assert "StatusCallback" not in form(twilio_api.calls[0])


def test_twilio_sends_media_urls(twilio, twilio_api):
    twilio_api.post(MESSAGES_URL, **created())

    twilio.send(OutboundMessage(to=USER, body="temario", media_urls=("https://x.test/a.pdf", "https://x.test/b.png")))

    assert form(twilio_api.calls[0])["MediaUrl"] == ["https://x.test/a.pdf", "https://x.test/b.png"]


# --- TwilioBackend: retries and failures -------------------------------------------


def test_twilio_retries_a_server_error_then_succeeds(twilio, twilio_api, sleeps):
    twilio_api.post(MESSAGES_URL, **twilio_error(500, 20500, "Internal Server Error"))
    twilio_api.post(MESSAGES_URL, **created(sid="SMok"))

    result = twilio.send(OutboundMessage(to=USER, body="hola"))

    assert result.sid == "SMok"
    assert len(twilio_api.calls) == 2
    assert sleeps == [0.5]


def test_twilio_retries_rate_limiting(twilio, twilio_api, sleeps):
    twilio_api.post(MESSAGES_URL, **twilio_error(429, 20429, "Too Many Requests"))
    twilio_api.post(MESSAGES_URL, **twilio_error(429, 20429, "Too Many Requests"))
    twilio_api.post(MESSAGES_URL, **created(sid="SMok"))

    assert twilio.send(OutboundMessage(to=USER, body="hola")).sid == "SMok"
    assert sleeps == [0.5, 1.0]


@pytest.mark.parametrize("error", [requests.ConnectionError("refused"), requests.ReadTimeout("slow")])
def test_twilio_retries_connection_errors_and_timeouts(twilio, twilio_api, sleeps, error):
    twilio_api.post(MESSAGES_URL, body=error)
    twilio_api.post(MESSAGES_URL, **created(sid="SMok"))

    assert twilio.send(OutboundMessage(to=USER, body="hola")).sid == "SMok"
    assert len(twilio_api.calls) == 2


def test_twilio_client_error_is_permanent_and_not_retried(twilio, twilio_api, sleeps):
    twilio_api.post(MESSAGES_URL, **twilio_error(400, 21617, "The concatenated message body exceeds the limit"))

    with pytest.raises(MessagingError) as raised:
        twilio.send(OutboundMessage(to=USER, body="x" * 1601))

    assert raised.value.permanent is True
    assert raised.value.code == "21617"
    assert raised.value.status == 400
    assert len(twilio_api.calls) == 1
    assert sleeps == []


def test_twilio_rfc9457_error_is_translated_too(twilio, twilio_api):
    # TwilioServiceException is not a TwilioRestException: it must still become a MessagingError.
    problem = {
        "type": "https://www.twilio.com/docs/errors/21211",
        "title": "Invalid 'To'",
        "status": 400,
        "code": 21211,
    }
    twilio_api.post(MESSAGES_URL, json=problem, status=400)

    with pytest.raises(MessagingError) as raised:
        twilio.send(OutboundMessage(to=USER, body="hola"))

    assert (raised.value.permanent, raised.value.code, raised.value.status) == (True, "21211", 400)


def test_twilio_gives_up_after_three_attempts_with_a_temporary_error(twilio, twilio_api, sleeps):
    for _ in range(3):
        twilio_api.post(MESSAGES_URL, **twilio_error(503, 20503, "Service Unavailable"))

    with pytest.raises(MessagingError) as raised:
        twilio.send(OutboundMessage(to=USER, body="hola"))

    assert raised.value.permanent is False
    assert raised.value.status == 503
    assert len(twilio_api.calls) == 3
    assert sleeps == [0.5, 1.0]


def test_twilio_never_logs_the_token_or_the_body(twilio, twilio_api, caplog):
    caplog.set_level(logging.DEBUG)
    twilio_api.post(MESSAGES_URL, **twilio_error(500, 20500))
    twilio_api.post(MESSAGES_URL, **created(sid="SMlogged", status="queued"))
    twilio_api.post(MESSAGES_URL, **twilio_error(401, 20003, "Authenticate"))
    body = "mensaje privado del cliente 4417"

    twilio.send(OutboundMessage(to=USER, body=body))
    with pytest.raises(MessagingError) as raised:
        twilio.send(OutboundMessage(to=USER, body=body))

    assert "sid=SMlogged status=queued" in caplog.text
    assert AUTH_TOKEN not in caplog.text
    assert body not in caplog.text
    assert AUTH_TOKEN not in str(raised.value)
    assert AUTH_TOKEN not in repr(raised.value.args)


@pytest.mark.parametrize("missing", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_PHONE_NUMBER"])
def test_twilio_without_credentials_is_not_configured(twilio_credentials, missing):
    setattr(twilio_credentials, missing, "")

    with pytest.raises(MessagingNotConfigured, match=missing):
        TwilioBackend()


def test_send_messages_sends_in_order_and_stops_at_the_first_failure(twilio, twilio_api):
    twilio_api.post(MESSAGES_URL, **created(sid="SM1"))
    twilio_api.post(MESSAGES_URL, **twilio_error(400, 21610, "Unsubscribed recipient"))
    messages = [OutboundMessage(to=USER, body=f"parte {n}") for n in (1, 2, 3)]

    with pytest.raises(MessagingError):
        twilio.send_messages(messages)

    assert [form(call)["Body"] for call in twilio_api.calls] == [["parte 1"], ["parte 2"]]


def test_only_twilio_supports_status_callbacks():
    assert TwilioBackend.supports_status_callbacks is True
    assert ConsoleBackend.supports_status_callbacks is False
    assert LocmemBackend.supports_status_callbacks is False


# --- Console and locmem ------------------------------------------------------------


def test_console_backend_writes_a_readable_block():
    stream = io.StringIO()

    result = ConsoleBackend(stream=stream).send(OutboundMessage(to=USER, body="Hola\n¿Qué tal?"))

    assert stream.getvalue() == f"--- WhatsApp to {USER} ---\nHola\n¿Qué tal?\n"
    assert result == SendResult(sid=None, status="console")


def test_console_backend_lists_media_and_defaults_to_stdout(capsys):
    ConsoleBackend().send_messages([OutboundMessage(to=USER, body="mira", media_urls=("https://x.test/a.png",))])

    assert capsys.readouterr().out == f"--- WhatsApp to {USER} ---\nmira\n[media] https://x.test/a.png\n"


def test_locmem_backend_collects_messages_in_the_outbox():
    first, second = OutboundMessage(to=USER, body="uno"), OutboundMessage(to=USER, body="dos")

    results = LocmemBackend().send_messages([first, second])

    assert backends.outbox == [first, second]
    assert results == [SendResult(sid="SMlocmem1", status="queued"), SendResult(sid="SMlocmem2", status="queued")]


def test_base_backend_requires_send():
    with pytest.raises(NotImplementedError):
        BaseMessagingBackend().send(OutboundMessage(to=USER, body="x"))


# --- get_messaging_backend ------------------------------------------------------------


def test_get_messaging_backend_loads_the_configured_class(settings):
    settings.MESSAGING_BACKEND = "messaging.backends.LocmemBackend"

    backend = get_messaging_backend()
    backend.send(OutboundMessage(to=USER, body="hola"))

    assert isinstance(backend, LocmemBackend)
    assert backends.outbox == [OutboundMessage(to=USER, body="hola")]


def test_get_messaging_backend_path_and_options_override_settings(settings):
    settings.MESSAGING_BACKEND = "messaging.backends.LocmemBackend"
    stream = io.StringIO()

    backend = get_messaging_backend("messaging.backends.ConsoleBackend", stream=stream)
    backend.send(OutboundMessage(to=USER, body="hola"))

    assert isinstance(backend, ConsoleBackend)
    assert "hola" in stream.getvalue()


def test_get_messaging_backend_builds_twilio_from_settings(twilio_credentials):
    twilio_credentials.MESSAGING_BACKEND = "messaging.backends.TwilioBackend"

    assert isinstance(get_messaging_backend(), TwilioBackend)


@pytest.mark.parametrize(
    "path",
    [
        "messaging.backends.NoSuchBackend",
        "webhooks.backends.NoSuchBackend",
        "nowhere.at.all.Backend",
        "not-a-path",
        "messaging.backends.SendResult",
    ],
)
def test_get_messaging_backend_rejects_a_bad_path(settings, path):
    settings.MESSAGING_BACKEND = path

    with pytest.raises(ImproperlyConfigured, match="backend"):
        get_messaging_backend()


# --- The old home, webhooks.backends --------------------------------------------------


def test_an_old_webhooks_backends_setting_still_works_and_logs_a_warning(settings, caplog):
    settings.MESSAGING_BACKEND = "webhooks.backends.LocmemBackend"

    backend = get_messaging_backend()
    backend.send(OutboundMessage(to=USER, body="hola"))

    assert isinstance(backend, LocmemBackend)
    assert backends.outbox == [OutboundMessage(to=USER, body="hola")]
    [record] = [r for r in caplog.records if r.name == "messaging.backends"]
    assert record.levelno == logging.WARNING
    assert "'messaging.backends.LocmemBackend'" in record.getMessage()


def test_the_old_module_warns_when_imported_and_shares_the_backends_and_outbox(monkeypatch):
    import webhooks

    monkeypatch.delitem(sys.modules, "webhooks.backends", raising=False)
    monkeypatch.delattr(webhooks, "backends", raising=False)

    with pytest.warns(DeprecationWarning, match=r"messaging\.backends"):
        old = importlib.import_module("webhooks.backends")

    assert old.outbox is backends.outbox
    assert (old.LocmemBackend, old.get_messaging_backend, old.OutboundMessage) == (
        LocmemBackend,
        get_messaging_backend,
        OutboundMessage,
    )


def test_using_backend_overrides_the_setting_only_inside_its_block(settings):
    from messaging.backends import ConsoleBackend, LocmemBackend, using_backend

    settings.MESSAGING_BACKEND = "messaging.backends.LocmemBackend"

    with using_backend("messaging.backends.ConsoleBackend"):
        assert isinstance(get_messaging_backend(), ConsoleBackend)
    assert isinstance(get_messaging_backend(), LocmemBackend)
