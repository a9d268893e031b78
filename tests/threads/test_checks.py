"""The threads app's system checks: each id fires on its misconfiguration, and only then."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.checks import run_checks

IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend", "QUEUES": []}}
DATABASE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []}}

# The model checks that run_checks() also runs ask the database about JSON support.
pytestmark = pytest.mark.django_db


@pytest.fixture
def healthy(settings):
    settings.OPENAI_ENGINE = "responses"
    settings.ASSISTANT_ID = ""
    settings.OPENAI_BACKGROUND = False
    settings.OPENAI_WEBHOOK_SECRET = "whsec_abc"
    settings.TASKS = DATABASE
    settings.OPENAI_RUN_TIMEOUT_S = 60.0
    settings.OPENAI_MAX_TOOL_ROUNDS = 5
    settings.TURN_LEASE_S = 30.0
    settings.OPENAI_MODEL = "gpt-6-luna"
    settings.STAFF_NOTIFY_EMAILS = ["ventas@example.com"]
    return settings


def thread_messages():
    return [message for message in run_checks() if message.id.startswith("threads.")]


def ids():
    return [message.id for message in thread_messages()]


def test_healthy_configuration_raises_nothing(healthy):
    assert thread_messages() == []


def test_background_mode_with_the_database_backend_is_fine(healthy):
    healthy.OPENAI_BACKGROUND = True

    assert ids() == []


def test_assistants_engine_without_assistant_id_is_an_error(healthy):
    healthy.OPENAI_ENGINE = "assistants"

    errors = [m for m in thread_messages() if m.id == "threads.E001"]

    assert len(errors) == 1
    assert errors[0].is_serious()
    assert "ASSISTANT_ID" in errors[0].hint


def test_assistants_engine_with_assistant_id_only_warns_about_the_shutdown(healthy):
    healthy.OPENAI_ENGINE = "assistants"
    healthy.ASSISTANT_ID = "asst_123"

    messages = thread_messages()

    assert [m.id for m in messages] == ["threads.W003"]
    assert not messages[0].is_serious()
    assert "2026-08-26" in messages[0].msg
    assert "migrate_threads" in messages[0].hint


def test_background_mode_with_the_immediate_backend_warns(healthy):
    healthy.OPENAI_BACKGROUND = True
    healthy.TASKS = IMMEDIATE

    messages = thread_messages()

    assert [m.id for m in messages] == ["threads.W002"]
    assert not messages[0].is_serious()
    assert "TASKS_BACKEND=database" in messages[0].hint


def test_immediate_backend_without_background_mode_is_fine(healthy):
    healthy.TASKS = IMMEDIATE

    assert ids() == []


@pytest.mark.parametrize(
    ("setting", "value"),
    [("OPENAI_RUN_TIMEOUT_S", 0), ("OPENAI_RUN_TIMEOUT_S", -5.0), ("TURN_LEASE_S", 0), ("TURN_LEASE_S", -30.0)],
)
def test_a_duration_that_is_not_positive_is_an_error(healthy, setting, value):
    setattr(healthy, setting, value)

    messages = thread_messages()

    assert [m.id for m in messages] == ["threads.E004"]
    assert setting in messages[0].msg
    assert messages[0].hint


def test_zero_tool_rounds_is_an_error(healthy):
    healthy.OPENAI_MAX_TOOL_ROUNDS = 0

    messages = thread_messages()

    assert [m.id for m in messages] == ["threads.E004"]
    assert "OPENAI_MAX_TOOL_ROUNDS" in messages[0].msg


@pytest.mark.parametrize("model", ["", "  "])
def test_an_empty_model_with_the_ai_on_is_an_error(healthy, model):
    healthy.OPENAI_API_KEY = "sk-not-used"
    healthy.OPENAI_MODEL = model

    messages = thread_messages()

    assert [m.id for m in messages] == ["threads.E008"]
    assert messages[0].is_serious()
    assert "OPENAI_MODEL" in messages[0].hint


def test_an_empty_model_without_the_ai_is_fine(healthy):
    healthy.OPENAI_API_KEY = ""
    healthy.OPENAI_MODEL = ""

    assert "threads.E008" not in ids()


def test_both_limits_wrong_give_one_error_each(healthy):
    healthy.OPENAI_RUN_TIMEOUT_S = 0
    healthy.OPENAI_MAX_TOOL_ROUNDS = 0

    assert ids() == ["threads.E004", "threads.E004"]


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    """Settings are read at import, so a real `manage.py check --deploy` runs with a production environment."""
    base_dir = Path(django_settings.BASE_DIR)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "brenda.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        "SECURE_SSL_REDIRECT": "true",
        "SECURE_PROXY_SSL_HEADER": "true",
        "SECURE_HSTS_SECONDS": "31536000",
        "PUBLIC_BASE_URL": "https://brenda.example.com",
        "TASKS_BACKEND": "database",
        "OPENAI_ENGINE": "responses",
        "OPENAI_API_KEY": "sk-not-used",
        "OPENAI_BACKGROUND": "false",
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": "token-not-used",
        "TWILIO_PHONE_NUMBER": "whatsapp:+14155238886",
        "TWILIO_VALIDATE_SIGNATURE": "true",
        "STAFF_NOTIFY_EMAILS": "ventas@example.com",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "smtp.example.com",
    }

    completed = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=base_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "System check identified no issues" in completed.stdout
