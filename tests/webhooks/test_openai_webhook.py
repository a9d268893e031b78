"""POST /webhooks/openai: verified with the SDK, recorded once per event id, response events enqueued."""

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.tasks import default_task_backend
from django.test import Client
from standardwebhooks import Webhook

from tests.webhooks.conftest import OPENAI_WEBHOOK_SECRET, response_event
from webhooks.models import OpenAIWebhookEvent

pytestmark = pytest.mark.django_db

OTHER_SECRET = "whsec_" + "c29tZW9uZS1lbHNlcy1zZWNyZXQtMzItYnl0ZXMhIQ=="


def enqueued(backend):
    return [(result.task.name, list(result.args)) for result in backend.results]


@pytest.mark.parametrize(
    "event_type", ["response.completed", "response.failed", "response.cancelled", "response.incomplete"]
)
def test_response_event_is_recorded_and_enqueued(
    post_openai, dummy_tasks, django_capture_on_commit_callbacks, event_type
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_openai(response_event(event_type, event_id="evt_abc", response_id="resp_123"))

    assert response.status_code == 200
    assert response.json() == {"status": "accepted"}
    event = OpenAIWebhookEvent.objects.get()
    assert (event.event_id, event.type) == ("evt_abc", event_type)
    assert enqueued(dummy_tasks) == [("handle_openai_response_task", [event_type, "resp_123"])]


def test_signature_with_another_secret_is_a_400(post_openai, dummy_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_openai(response_event(), secret=OTHER_SECRET)

    assert response.status_code == 400
    assert not OpenAIWebhookEvent.objects.exists()
    assert dummy_tasks.results == []


def test_body_changed_after_signing_is_a_400(post_openai):
    tampered = json.dumps(response_event(response_id="resp_other"))

    response = post_openai(response_event(), body=tampered)

    assert response.status_code == 400
    assert not OpenAIWebhookEvent.objects.exists()


def test_missing_signature_headers_are_a_400(post_openai):
    assert post_openai(response_event(), headers={}).status_code == 400


def test_replay_outside_the_tolerance_is_a_400(post_openai, caplog):
    old = datetime.now(UTC) - timedelta(seconds=400)

    response = post_openai(response_event(), timestamp=old)

    assert response.status_code == 400
    assert not OpenAIWebhookEvent.objects.exists()
    assert any("InvalidWebhookSignatureError" in text for text in caplog.messages)


def test_timestamp_within_the_tolerance_is_accepted(post_openai):
    assert post_openai(response_event(), timestamp=datetime.now(UTC) - timedelta(seconds=200)).status_code == 200


def test_duplicate_event_id_is_ignored(post_openai, dummy_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = post_openai(response_event(event_id="evt_dup"), msg_id="msg_a")
    with django_capture_on_commit_callbacks(execute=True):
        second = post_openai(response_event(event_id="evt_dup"), msg_id="msg_b")

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == {"status": "duplicate"}
    assert OpenAIWebhookEvent.objects.count() == 1
    assert len(dummy_tasks.results) == 1


def test_unknown_event_type_is_recorded_and_ignored(
    post_openai, dummy_tasks, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.INFO, logger="webhooks.views")
    payload = {"id": "evt_batch", "type": "batch.completed", "created_at": 1, "data": {"id": "batch_1"}}

    with django_capture_on_commit_callbacks(execute=True):
        response = post_openai(payload)

    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert OpenAIWebhookEvent.objects.get().type == "batch.completed"
    assert dummy_tasks.results == []
    assert any("batch.completed recorded and ignored" in text for text in caplog.messages)


def test_response_event_without_response_id_is_ignored(post_openai, dummy_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_openai({"id": "evt_x", "type": "response.completed", "data": {}})

    assert response.json() == {"status": "ignored"}
    assert dummy_tasks.results == []


@pytest.mark.parametrize("payload", [[1, 2], "text", {"type": "response.completed"}, {"id": "evt_1"}])
def test_signed_payload_that_is_not_an_event_is_a_400(post_openai, payload):
    assert post_openai(payload).status_code == 400
    assert not OpenAIWebhookEvent.objects.exists()


def test_signed_body_that_is_not_json_is_a_400(post_openai):
    timestamp = datetime.now(UTC)
    headers = {
        "HTTP_WEBHOOK_ID": "msg_1",
        "HTTP_WEBHOOK_TIMESTAMP": str(int(timestamp.timestamp())),
        "HTTP_WEBHOOK_SIGNATURE": Webhook(OPENAI_WEBHOOK_SECRET).sign("msg_1", timestamp, "not json"),
    }

    assert post_openai(None, body="not json", headers=headers).status_code == 400


def signed_headers(body: str, msg_id: str = "msg_1") -> dict:
    timestamp = datetime.now(UTC)
    return {
        "HTTP_WEBHOOK_ID": msg_id,
        "HTTP_WEBHOOK_TIMESTAMP": str(int(timestamp.timestamp())),
        "HTTP_WEBHOOK_SIGNATURE": Webhook(OPENAI_WEBHOOK_SECRET).sign(msg_id, timestamp, body),
    }


def test_a_signed_body_nested_too_deep_to_parse_is_a_400(post_openai):
    body = "[" * 30_000 + "]" * 30_000

    assert post_openai(None, body=body, headers=signed_headers(body)).status_code == 400


@pytest.mark.parametrize(
    "event",
    [
        {"id": "evt_\ud800", "type": "response.completed", "data": {"id": "resp_1"}},
        {"id": "evt_\u0000", "type": "response.completed", "data": {"id": "resp_1"}},
        {"id": "evt_1", "type": "response.\u0000completed", "data": {"id": "resp_1"}},
        {"id": "evt_1\n", "type": "response.completed", "data": {"id": "resp_1"}},
    ],
    ids=["lone-surrogate", "nul-in-id", "nul-in-type", "newline"],
)
def test_a_signed_event_whose_id_or_type_no_column_can_hold_is_a_400(post_openai, dummy_tasks, event):
    body = json.dumps(event)  # ensure_ascii: the odd characters travel as JSON escapes

    response = post_openai(None, body=body, headers=signed_headers(body))

    assert response.status_code == 400
    assert not OpenAIWebhookEvent.objects.exists()


def test_a_response_id_no_column_can_hold_is_recorded_and_ignored(
    post_openai, dummy_tasks, django_capture_on_commit_callbacks
):
    body = '{"id": "evt_9", "type": "response.completed", "data": {"id": "resp_\\u0000x"}}'

    with django_capture_on_commit_callbacks(execute=True):
        response = post_openai(None, body=body, headers=signed_headers(body))

    assert response.json() == {"status": "ignored"}
    assert dummy_tasks.results == []


def test_without_a_configured_secret_the_webhook_is_unavailable(post_openai, settings, caplog):
    settings.OPENAI_WEBHOOK_SECRET = ""

    response = post_openai(response_event())

    assert response.status_code == 503
    assert "OPENAI_WEBHOOK_SECRET" in response.json()["error"]
    assert not OpenAIWebhookEvent.objects.exists()
    assert any(r.levelname == "ERROR" for r in caplog.records)


def test_get_is_not_allowed(client):
    assert client.get("/webhooks/openai").status_code == 405


@pytest.mark.django_db(transaction=True)
def test_event_whose_task_cannot_be_enqueued_is_forgotten_so_the_retry_gets_in(post_openai, settings, dummy_tasks):
    # A backend that serves another queue only refuses the task at enqueue time, after commit.
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend", "QUEUES": ["elsewhere"]}}

    failed = post_openai(response_event(event_id="evt_retry"), client_=Client(raise_request_exception=False))

    assert failed.status_code == 500
    assert not OpenAIWebhookEvent.objects.exists()

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    retried = post_openai(response_event(event_id="evt_retry"))

    assert retried.status_code == 200
    assert OpenAIWebhookEvent.objects.filter(event_id="evt_retry").exists()
    assert enqueued(default_task_backend) == [("handle_openai_response_task", ["response.completed", "resp_1"])]
