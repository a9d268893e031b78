"""GET / and GET /webhooks/openai/health: shapes, status codes, and never a secret."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.webhooks.conftest import OPENAI_WEBHOOK_SECRET
from threads.tasks import process_user_messages_task

pytestmark = pytest.mark.django_db

SECRETS = {
    "OPENAI_API_KEY": "sk-proj-SECRET-openai-key-123",
    "TWILIO_AUTH_TOKEN": "SECRET-twilio-auth-token-456",
    "OPENAI_WEBHOOK_SECRET": OPENAI_WEBHOOK_SECRET,
    "SECRET_KEY": "SECRET-django-signing-key-789",
    "TWILIO_ACCOUNT_SID": "AC" + "5" * 32,
}


@pytest.fixture
def configured(settings):
    for name, value in SECRETS.items():
        setattr(settings, name, value)
    settings.TWILIO_PHONE_NUMBER = "whatsapp:+14155238886"
    settings.OPENAI_MODEL = "gpt-5-mini"
    settings.OPENAI_ENGINE = "responses"
    settings.ASSISTANT_ID = "asst_SECRETISH"
    settings.OPENAI_BASE_URL = None
    settings.OPENAI_BACKGROUND = True
    settings.ENVIRONMENT = "staging"
    settings.MESSAGING_BACKEND = "messaging.backends.TwilioBackend"
    settings.TASKS_BACKEND = "immediate"
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    return settings


def test_root_health_reports_configuration_as_flags(client, configured):
    response = client.get("/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["service"] == "brenda"
    assert body["environment"] == "staging"
    assert body["threads_integration"] == {
        "enabled": True,
        "engine": "responses",
        "assistant_id_configured": True,
        "background_mode": True,
        "model": "gpt-5-mini",
    }
    assert body["database"]["ok"] is True
    assert body["database"]["latency_ms"] >= 0
    assert body["messaging"] == {"backend": "TwilioBackend", "twilio_configured": True}
    assert body["tasks"] == {"backend": "immediate", "pending": None}


def test_root_health_without_openai_or_twilio(client, settings):
    settings.OPENAI_API_KEY = ""
    settings.ASSISTANT_ID = ""
    settings.TWILIO_ACCOUNT_SID = ""
    settings.MESSAGING_BACKEND = "messaging.backends.ConsoleBackend"

    body = client.get("/").json()

    assert body["threads_integration"]["enabled"] is False
    assert body["threads_integration"]["assistant_id_configured"] is False
    assert body["messaging"] == {"backend": "ConsoleBackend", "twilio_configured": False}


@pytest.mark.parametrize("path", ["/", "/webhooks/openai/health"])
def test_health_never_shows_a_secret(client, configured, path):
    content = client.get(path).content.decode()

    for name, secret in SECRETS.items():
        assert secret not in content, name
    assert "asst_SECRETISH" not in content


def test_pending_counts_waiting_tasks_of_the_database_backend(client, settings):
    settings.TASKS_BACKEND = "database"
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    process_user_messages_task.enqueue("whatsapp:+5215500000001")
    process_user_messages_task.enqueue("whatsapp:+5215500000002")

    body = client.get("/").json()

    assert body["tasks"] == {"backend": "database", "pending": 2}


def test_database_down_makes_root_health_503_degraded(client):
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE oa_threads_map")  # rolled back with the test's transaction

    response = client.get("/")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"]["ok"] is False
    assert body["tasks"]["pending"] is None


_HEALTH_OF_AN_UNREACHABLE_DATABASE = """
import json, time, django
django.setup()
from django.test import Client
started = time.monotonic()
response = Client().get("/")
print(json.dumps({"status": response.status_code, "body": response.json(), "s": time.monotonic() - started}))
"""


def test_a_postgresql_server_that_does_not_answer_is_reported_without_waiting_for_the_pool(tmp_path):
    # A closed port: psycopg's pool keeps trying in the background and a request for a connection waits
    # for the pool's 10 s timeout. The health check waits 2 s for one, so a probe hears "degraded" in time.
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "brenda.settings",
        "DEBUG": "true",
        "ALLOWED_HOSTS": "testserver",
        "DATABASE_URL": "postgres://postgres:pw-secret@127.0.0.1:1/brenda",
        "TASKS_BACKEND": "database",
    }
    done = subprocess.run(
        [sys.executable, "-c", _HEALTH_OF_AN_UNREACHABLE_DATABASE],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])

    assert result["status"] == 503
    assert result["body"]["database"] == {"ok": False, "error": "PoolTimeout"}
    assert result["body"]["tasks"]["pending"] is None
    assert result["s"] < 8, "the health check waited for the pool's timeout"  # 10 s before the fix
    assert "pw-secret" not in done.stdout + done.stderr


def test_root_health_refuses_post(client):
    assert client.post("/").status_code == 405


def test_openai_health_shape(client, configured):
    configured.OPENAI_BASE_URL = "http://127.0.0.1:9999/v1"

    response = client.get("/webhooks/openai/health")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "enabled": True,
        "engine": "responses",
        "model": "gpt-5-mini",
        "assistant_id_configured": True,
        "background_mode": True,
        "webhook_secret_configured": True,
        "base_url_custom": True,
    }


def test_openai_health_is_disabled_without_api_key(client, settings):
    settings.OPENAI_API_KEY = ""

    body = client.get("/webhooks/openai/health").json()

    assert (body["status"], body["enabled"]) == ("disabled", False)


def test_openai_health_is_degraded_in_background_mode_without_webhook_secret(client, configured):
    configured.OPENAI_WEBHOOK_SECRET = ""

    body = client.get("/webhooks/openai/health").json()

    assert (body["status"], body["webhook_secret_configured"], body["base_url_custom"]) == ("degraded", False, False)
