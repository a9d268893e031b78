"""Fixtures for the HTTP surface: signed Twilio and OpenAI requests, and a task backend that never runs.

Requests are signed the way Twilio and OpenAI sign them (twilio's RequestValidator, the
`standardwebhooks` library), so the views' verification runs for real.
"""

import base64
import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from django.tasks import default_task_backend
from standardwebhooks import Webhook
from twilio.request_validator import RequestValidator

TWILIO_TOKEN = "twilio-test-auth-token-0123456789"
OPENAI_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"brenda-test-webhook-secret-32byt").decode()
PHONE = "whatsapp:+5215512345678"
SID = "SM" + "0123456789abcdef" * 2


def twilio_signature(url: str, params: dict, *, token: str = TWILIO_TOKEN, algorithm: str | None = None) -> str:
    return RequestValidator(token).compute_signature(url, params, algorithm)


def inbound_params(**overrides) -> dict:
    params = {
        "MessageSid": SID,
        "AccountSid": "AC" + "f" * 32,
        "From": PHONE,
        "To": "whatsapp:+14155238886",
        "Body": "Hola, ¿qué cursos de IA tienen?",
        "NumMedia": "0",
        "ProfileName": "Ana",
        "WaId": "5215512345678",
        "MessageType": "text",
    }
    params.update(overrides)
    return {key: value for key, value in params.items() if value is not None}


@pytest.fixture
def dummy_tasks(settings):
    """Swap in Django's dummy task backend: enqueued tasks are recorded in `.results`, never run."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    default_task_backend.clear()
    yield default_task_backend
    default_task_backend.clear()


@pytest.fixture
def twilio_settings(settings, dummy_tasks):
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.TWILIO_VALIDATE_SIGNATURE = True
    settings.PUBLIC_BASE_URL = ""
    return settings


@pytest.fixture
def post_twilio(client, twilio_settings):
    """POST a form-encoded Twilio webhook, signed for `signed_url` (default: the URL the test client calls)."""

    def post(path: str, params: dict, *, signed_url: str | None = None, signature: str | None = None, **extra):
        url = signed_url if signed_url is not None else f"http://testserver{path}"
        if signature is None:
            signature = twilio_signature(url, params)
        if signature:
            extra["HTTP_X_TWILIO_SIGNATURE"] = signature
        return client.post(path, urlencode(params), content_type="application/x-www-form-urlencoded", **extra)

    return post


@pytest.fixture
def openai_settings(settings, dummy_tasks):
    settings.OPENAI_WEBHOOK_SECRET = OPENAI_WEBHOOK_SECRET
    return settings


def response_event(event_type: str = "response.completed", *, event_id: str = "evt_1", response_id: str = "resp_1"):
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created_at": 1_767_225_600,
        "data": {"id": response_id},
    }


@pytest.fixture
def post_openai(client, openai_settings):
    """POST an OpenAI webhook signed like OpenAI signs it (Standard Webhooks)."""

    def post(
        payload,
        *,
        secret: str = OPENAI_WEBHOOK_SECRET,
        timestamp: datetime | None = None,
        msg_id: str = "msg_1",
        body: str | None = None,
        headers: dict | None = None,
        client_=None,
    ):
        signed_body = json.dumps(payload)
        timestamp = timestamp or datetime.now(UTC)
        if headers is None:
            headers = {
                "HTTP_WEBHOOK_ID": msg_id,
                "HTTP_WEBHOOK_TIMESTAMP": str(int(timestamp.timestamp())),
                "HTTP_WEBHOOK_SIGNATURE": Webhook(secret).sign(msg_id, timestamp, signed_body),
            }
        sent_body = signed_body if body is None else body
        return (client_ or client).post("/webhooks/openai", sent_body, content_type="application/json", **headers)

    return post


def deliver_concurrently(copies: int, deliver) -> list:
    """Run `deliver(client)` in `copies` threads released at once, as Twilio's parallel re-deliveries arrive.

    Each thread has its own test client and database connection; the results come back in
    completion order, and an exception in any thread fails the caller (a thread would lose it).
    """
    import threading

    from django.db import connection
    from django.test import Client

    barrier = threading.Barrier(copies)
    results, errors = [], []

    def run():
        try:
            client = Client()
            barrier.wait(timeout=10)
            results.append(deliver(client))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    return results
