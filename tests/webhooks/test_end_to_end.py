"""From a signed Twilio webhook to the reply, through the task backends and OpenAI's webhook."""

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest
from standardwebhooks import Webhook

from tests.webhooks.conftest import OPENAI_WEBHOOK_SECRET, TWILIO_TOKEN, inbound_params, twilio_signature
from threads.models import Message, Turn

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def signed_post(client, settings):
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.TWILIO_VALIDATE_SIGNATURE = True
    settings.PUBLIC_BASE_URL = ""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}

    def post(**overrides):
        params = inbound_params(**overrides)
        return client.post(
            "/webhooks/twilio",
            urlencode(params),
            content_type="application/x-www-form-urlencoded",
            HTTP_X_TWILIO_SIGNATURE=twilio_signature("http://testserver/webhooks/twilio", params),
        )

    return post


@pytest.mark.django_db(transaction=True)
def test_signed_message_is_answered_with_the_immediate_backend(signed_post, fake_openai, outbox, demo_catalogue):
    response = signed_post(Body="Busco un curso de visión por computadora")

    assert response.status_code == 200 and b"<Response" in response.content
    assert "Visión por computadora con Python" in outbox[-1].body
    again = signed_post(Body="Busco un curso de visión por computadora")  # Twilio re-delivers
    assert again.status_code == 200 and len(outbox) == 1
    assert Message.objects.filter(direction="in").count() == 1


@pytest.mark.django_db(transaction=True)
def test_background_turn_finishes_through_the_openai_webhook(signed_post, fake_openai, outbox, settings, client):
    settings.OPENAI_BACKGROUND = True
    settings.OPENAI_WEBHOOK_SECRET = OPENAI_WEBHOOK_SECRET
    signed_post(Body="Hola, me llamo Teo")
    turn = Turn.objects.get()
    assert turn.status == Turn.Status.BACKGROUND and outbox == []

    event = fake_openai.complete_background(turn.response_id)
    body = json.dumps({**event, "data": {"id": turn.response_id}})
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    response = client.post(
        "/webhooks/openai",
        body,
        content_type="application/json",
        HTTP_WEBHOOK_ID="msg_e2e",
        HTTP_WEBHOOK_TIMESTAMP=str(int(now.timestamp())),
        HTTP_WEBHOOK_SIGNATURE=Webhook(OPENAI_WEBHOOK_SECRET).sign("msg_e2e", now, body),
    )

    assert response.status_code == 200
    assert Turn.objects.get().status == Turn.Status.COMPLETED
    assert "Te llamas Teo" in outbox[-1].body


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_database_backend_runs_turns_in_db_worker(signed_post, settings, worker_env):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    for n in range(3):
        signed_post(MessageSid=f"SM{n:032x}", From=f"whatsapp:+52155500000{n:02d}", Body="hola")
    assert not Message.objects.filter(direction="out").exists()  # the webhook only stored and enqueued

    done = subprocess.run(
        [sys.executable, "manage.py", "db_worker", "--batch", "--queue-name", "*", "--no-startup-delay"],
        cwd=ROOT,
        env=worker_env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    replies = Message.objects.filter(direction="out", status=Message.Status.CONSOLE)
    assert replies.count() == 3 and all(r.body.startswith("Hola, soy Brenda") for r in replies)
    assert set(Turn.objects.values_list("status", flat=True)) == {Turn.Status.COMPLETED}
