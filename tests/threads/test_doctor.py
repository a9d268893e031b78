"""`threads_doctor` and its checks, against a real database, the fake OpenAI and Twilio faked at HTTP."""

import os
import secrets
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
import requests
import responses
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from threads import doctor
from threads.doctor import CheckResult

pytestmark = pytest.mark.django_db

SID = "AC" + "a1" * 16
TOKEN = "twilio-auth-token-" + "x" * 14
ACCOUNT_URL = f"https://api.twilio.com/2010-04-01/Accounts/{SID}.json"
STRONG_KEY = secrets.token_urlsafe(50)


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.SECRET_KEY = STRONG_KEY
    settings.ALLOWED_HOSTS = ["brenda.example.com"]
    settings.OPENAI_ENGINE = "responses"
    settings.ASSISTANT_ID = ""
    settings.PUBLIC_BASE_URL = "https://brenda.example.com"
    return settings


@pytest.fixture
def twilio(settings):
    settings.TWILIO_ACCOUNT_SID = SID
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_PHONE_NUMBER = "whatsapp:+14155238886"
    settings.MESSAGING_BACKEND = "messaging.backends.TwilioBackend"
    with responses.RequestsMock() as mock:
        yield mock


def account(status="active"):
    return {"sid": SID, "friendly_name": "Brenda", "status": status, "type": "Full"}


class TestConfiguration:
    def test_production_settings_pass_without_showing_the_secret_key(self, production):
        result = doctor.check_configuration()

        assert result.status == "ok"
        assert STRONG_KEY not in result.detail
        assert "SECRET_KEY set" in result.detail

    def test_development_secret_key_fails_when_debug_is_off(self, production):
        production.SECRET_KEY = "django-insecure-development-only-key-set-SECRET_KEY"

        result = doctor.check_configuration()

        assert result.status == "fail"
        assert "SECRET_KEY" in result.detail

    def test_development_setup_passes_with_a_warning_that_says_why_production_would_fail(self, production):
        production.DEBUG = True
        production.SECRET_KEY = "django-insecure-development-only-key-set-SECRET_KEY"
        production.TWILIO_VALIDATE_SIGNATURE = False
        production.ALLOW_UNSIGNED_WEBHOOKS = False

        result = doctor.check_configuration()

        assert result.status == "warn"
        assert "in production this would fail" in result.detail
        assert "DEBUG=false" in result.detail
        assert "SECRET_KEY is the development default" in result.detail
        assert "webhooks.E001" in result.detail

    def test_development_setup_with_a_strong_key_names_only_debug(self, production):
        production.DEBUG = True
        production.TWILIO_VALIDATE_SIGNATURE = True

        result = doctor.check_configuration()

        assert result.status == "warn"
        assert "DEBUG=false" in result.detail
        assert "SECRET_KEY is the development" not in result.detail
        assert STRONG_KEY not in result.detail

    def test_empty_allowed_hosts_fails(self, production):
        production.ALLOWED_HOSTS = []

        result = doctor.check_configuration()

        assert result.status == "fail"
        assert "ALLOWED_HOSTS" in result.detail

    def test_assistants_engine_without_assistant_id_fails(self, production):
        production.OPENAI_ENGINE = "assistants"

        result = doctor.check_configuration()

        assert result.status == "fail"
        assert "ASSISTANT_ID" in result.detail

    def test_unknown_engine_fails(self, production):
        production.OPENAI_ENGINE = "chat"

        assert doctor.check_configuration().status == "fail"


class TestDatabase:
    def test_migrated_database_passes(self):
        result = doctor.check_database()

        assert result.status == "ok"
        assert "3 tables" in result.detail

    def test_database_tasks_backend_also_needs_its_table(self, settings):
        settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []}}

        result = doctor.check_database()

        assert result.status == "ok"
        assert "4 tables" in result.detail

    def test_a_missing_table_fails_and_names_it(self):
        result = doctor.check_database(required_tables=["oa_threads_map", "no_such_table"])

        assert result.status == "fail"
        assert "no_such_table" in result.detail
        assert "oa_threads_map" not in result.detail
        assert "migrate" in result.detail

    def test_an_unapplied_migration_fails(self):
        app_label, name = next(n for n in MigrationLoader(connection).graph.leaf_nodes() if n[0] == "threads")
        MigrationRecorder(connection).record_unapplied(app_label, name)

        result = doctor.check_database()

        assert result.status == "fail"
        assert f"threads.{name}" in result.detail

    def test_the_drivers_message_is_its_first_line_without_the_password(self):
        error = OperationalError(
            'connection to "postgres://brenda:pw-secret@db:5432/x" failed: Connection refused password=pw-secret\n'
            "\tIs the server running on that host and accepting TCP/IP connections?"
        )

        text = doctor._database_message(error)

        assert "Connection refused" in text
        assert "pw-secret" not in text
        assert "Is the server running" not in text


def test_the_doctor_against_a_closed_database_port_is_quick_and_prints_no_traceback(tmp_path):
    """A real `threads_doctor` process: settings (and psycopg's 10 s pool timeout) are read at start."""
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "DATABASE_URL": "postgres://postgres:pw-secret@127.0.0.1:1/x",
        "OPENAI_API_KEY": "",
        "TWILIO_ACCOUNT_SID": "",
        "TWILIO_AUTH_TOKEN": "",
        "MESSAGING_BACKEND": "messaging.backends.ConsoleBackend",
    }
    started = time.monotonic()

    completed = subprocess.run(
        [sys.executable, "manage.py", "threads_doctor"],
        cwd=Path(django_settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    elapsed = time.monotonic() - started
    output = completed.stdout + completed.stderr
    lines = {line.split()[1]: line for line in completed.stdout.splitlines() if line.startswith(("✅", "⚠️", "❌"))}
    assert completed.returncode == 1, output
    assert elapsed < 15, output
    assert "Connection refused" in lines["Database"]
    assert lines["Catalogue"].endswith("skipped: no database")
    assert lines["Fallback"].endswith("skipped: no database")
    assert "Traceback" not in output and "crashed" not in output
    assert "pw-secret" not in output


class TestCatalogue:
    def test_empty_catalogue_warns(self):
        result = doctor.check_catalogue()

        assert result.status == "warn"
        assert "loaddata demo_courses" in result.detail

    def test_loaded_catalogue_passes(self, demo_catalogue):
        result = doctor.check_catalogue()

        assert result.status == "ok"
        assert "active course" in result.detail


class TestOpenAI:
    def test_not_configured_warns_that_the_fallback_answers(self, openai_off):
        result = doctor.check_openai()

        assert result.status == "warn"
        assert "fallback responder will answer" in result.detail

    def test_responses_engine_retrieves_the_configured_model(self, fake_openai, settings):
        settings.OPENAI_MODEL = "gpt-doctor"

        result = doctor.check_openai()

        assert result.status == "ok"
        assert "gpt-doctor" in result.detail
        assert [call.path for call in fake_openai.calls()] == ["/v1/models/gpt-doctor"]

    def test_assistants_engine_retrieves_the_assistant(self, assistants_engine):
        result = doctor.check_openai()

        assert result.status == "ok"
        assert "asst_fake" in result.detail
        assert [call.path for call in assistants_engine.calls()] == ["/v1/assistants/asst_fake"]

    def test_rejected_key_fails_without_showing_it(self, fake_openai, settings):
        settings.OPENAI_API_KEY = "sk-very-secret-doctor-key"
        fake_openai.fail_next("/models", 401)

        result = doctor.check_openai()

        assert result.status == "fail"
        assert "401" in result.detail
        assert "sk-very-secret-doctor-key" not in result.detail

    def test_server_errors_are_not_retried(self, fake_openai, settings):
        settings.OPENAI_MAX_RETRIES = 3
        fake_openai.fail_next("/models", 500, times=5)

        result = doctor.check_openai()

        assert result.status == "fail"
        assert len(fake_openai.calls("/models")) == 1

    def test_an_empty_model_fails_plainly_without_calling_openai(self, fake_openai, settings):
        settings.OPENAI_MODEL = ""

        result = doctor.check_openai()

        assert result.status == "fail"
        assert "OPENAI_MODEL is empty" in result.detail
        assert fake_openai.calls() == []


class TestModelLifecycle:
    def test_an_unreachable_openai_says_so_and_does_not_blame_the_model(self, settings):
        settings.OPENAI_API_KEY = "sk-test-fake"
        settings.OPENAI_ENGINE = "responses"
        settings.OPENAI_BASE_URL = "http://127.0.0.1:1/v1"  # a closed port: connection refused

        result = doctor.check_model_lifecycle()

        assert result.status == "fail"
        assert "OpenAI could not be reached" in result.detail
        assert "OPENAI_BASE_URL" in result.detail
        assert "set OPENAI_MODEL" not in result.detail

    def test_a_server_error_does_not_blame_the_model(self, fake_openai):
        fake_openai.fail_next("/models", 500)

        result = doctor.check_model_lifecycle()

        assert result.status == "fail"
        assert "500" in result.detail
        assert "set OPENAI_MODEL" not in result.detail

    def test_a_model_openai_does_not_know_asks_for_a_current_model(self, fake_openai, settings):
        settings.OPENAI_MODEL = "gpt-gone"
        fake_openai.set_model("gpt-gone", exists=False)

        result = doctor.check_model_lifecycle()

        assert result.status == "fail"
        assert "set OPENAI_MODEL to a current model" in result.detail

    def test_an_empty_model_is_skipped_without_calling_openai(self, fake_openai, settings):
        settings.OPENAI_MODEL = ""

        result = doctor.check_model_lifecycle()

        assert (result.status, result.detail) == ("warn", "skipped: OPENAI_MODEL is empty")
        assert fake_openai.calls() == []


class TestTwilio:
    def test_not_configured_warns_about_the_console_backend(self, settings):
        settings.TWILIO_ACCOUNT_SID = ""
        settings.TWILIO_AUTH_TOKEN = ""
        settings.MESSAGING_BACKEND = "messaging.backends.ConsoleBackend"

        result = doctor.check_twilio()

        assert result.status == "warn"
        assert "console" in result.detail

    def test_valid_credentials_fetch_the_account(self, twilio):
        twilio.get(ACCOUNT_URL, json=account())

        result = doctor.check_twilio()

        assert result.status == "ok"
        assert "active" in result.detail
        request = twilio.calls[0].request
        assert request.headers["Authorization"].startswith("Basic ")
        assert TOKEN not in result.detail
        assert SID not in result.detail

    def test_rejected_credentials_fail(self, twilio):
        twilio.get(
            ACCOUNT_URL,
            status=401,
            json={"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003"},
        )

        result = doctor.check_twilio()

        assert result.status == "fail"
        assert "401" in result.detail
        assert "20003" in result.detail
        assert "TWILIO_AUTH_TOKEN" in result.detail
        assert TOKEN not in result.detail

    def test_unreachable_twilio_fails(self, twilio):
        twilio.get(ACCOUNT_URL, body=requests.ConnectionError("refused"))

        result = doctor.check_twilio()

        assert result.status == "fail"
        assert "ConnectionError" in result.detail

    def test_suspended_account_warns(self, twilio):
        twilio.get(ACCOUNT_URL, json=account(status="suspended"))

        assert doctor.check_twilio().status == "warn"

    def test_missing_sender_number_fails_since_the_twilio_backend_cannot_be_built(self, twilio, settings):
        settings.TWILIO_PHONE_NUMBER = ""

        result = doctor.check_twilio()

        assert result.status == "fail"
        assert "TWILIO_PHONE_NUMBER" in result.detail
        assert "No reply can be sent" in result.detail

    @pytest.mark.parametrize(
        "path", ["nosuch.Backend", "messaging.backends.NoSuchBackend", "messaging.backends.OutboundMessage"]
    )
    def test_a_backend_that_cannot_be_loaded_fails_and_lists_the_built_in_ones(self, settings, path):
        settings.TWILIO_ACCOUNT_SID = ""
        settings.TWILIO_AUTH_TOKEN = ""
        settings.MESSAGING_BACKEND = path

        result = doctor.check_twilio()

        assert result.status == "fail"
        assert repr(path) in result.detail
        assert "console" not in result.detail
        assert "messaging.backends.ConsoleBackend" in result.detail

    def test_twilio_credentials_with_another_backend_warn_that_replies_skip_twilio(self, twilio, settings):
        settings.MESSAGING_BACKEND = "messaging.backends.ConsoleBackend"
        twilio.get(ACCOUNT_URL, json=account())

        result = doctor.check_twilio()

        assert result.status == "warn"
        assert "the console backend" in result.detail and "not Twilio" in result.detail


class TestWebhookUrls:
    def test_lists_the_three_urls_to_configure(self, settings):
        settings.PUBLIC_BASE_URL = "https://brenda.example.com/"

        result = doctor.check_webhook_urls()

        assert result.status == "ok"
        for path in ("/webhooks/twilio;", "/webhooks/twilio/status;", "/webhooks/openai"):
            assert f"https://brenda.example.com{path}" in result.detail

    def test_unset_public_base_url_warns(self, settings):
        settings.PUBLIC_BASE_URL = ""

        result = doctor.check_webhook_urls()

        assert result.status == "warn"
        assert "PUBLIC_BASE_URL" in result.detail

    def test_malformed_public_base_url_fails(self, settings):
        settings.PUBLIC_BASE_URL = "brenda.example.com"

        assert doctor.check_webhook_urls().status == "fail"


def test_fallback_responder_answers_a_greeting(demo_catalogue):
    result = doctor.check_fallback_responder()

    assert result.status == "ok"
    assert "Brenda" in result.detail


def test_a_crashing_check_fails_and_the_others_still_run():
    def check_exploding():
        raise RuntimeError("boom")

    results = doctor.run_doctor([check_exploding, lambda: CheckResult("ok", "Fine")])

    assert [(r.status, r.title) for r in results] == [("fail", "Exploding"), ("ok", "Fine")]
    assert "RuntimeError" in results[0].detail


def test_a_crashed_check_keeps_the_title_it_would_have_printed():
    def check_openai():
        raise ValueError("boom")

    def check_webhook_urls():
        raise ValueError("boom")

    results = doctor.run_doctor([check_openai, check_webhook_urls])

    assert [r.title for r in results] == ["OpenAI", "Webhook URLs"]


class TestCommand:
    def test_healthy_deployment_prints_a_line_per_check_and_exits_0(
        self, production, fake_openai, twilio, demo_catalogue
    ):
        twilio.get(ACCOUNT_URL, json=account())
        out = StringIO()

        call_command("threads_doctor", stdout=out)

        lines = out.getvalue().splitlines()
        assert [line.split()[0] for line in lines[:-1]] == ["✅"] * 9
        assert lines[-1] == "9 ok, 0 warning(s), 0 failed"
        text = out.getvalue()
        for secret in (STRONG_KEY, TOKEN, "sk-test-fake"):
            assert secret not in text

    def test_laptop_without_services_warns_but_passes(self, settings, openai_off, demo_catalogue):
        settings.DEBUG = True
        settings.TWILIO_ACCOUNT_SID = ""
        settings.TWILIO_AUTH_TOKEN = ""
        settings.MESSAGING_BACKEND = "messaging.backends.ConsoleBackend"
        settings.PUBLIC_BASE_URL = ""
        out = StringIO()

        call_command("threads_doctor", stdout=out)

        text = out.getvalue()
        assert text.count("⚠️") == 4  # the configuration's: a development setup, not production
        assert "in production this would fail" in text
        assert "❌" not in text
        assert text.splitlines()[-1] == "5 ok, 4 warning(s), 0 failed"

    def test_a_failed_check_exits_1(self, production, fake_openai, twilio, demo_catalogue):
        twilio.get(ACCOUNT_URL, status=401, json={"code": 20003, "message": "Authenticate"})
        out = StringIO()

        with pytest.raises(CommandError, match="1 failed"):
            call_command("threads_doctor", stdout=out)

        assert "❌ Twilio" in out.getvalue()

    def test_an_empty_model_is_said_plainly_without_tracebacks(self, production, fake_openai, twilio, caplog):
        production.OPENAI_MODEL = ""
        twilio.get(ACCOUNT_URL, json=account())
        out = StringIO()

        with pytest.raises(CommandError):
            call_command("threads_doctor", stdout=out)

        text = out.getvalue()
        assert "❌ OpenAI" in text and "OPENAI_MODEL is empty" in text
        assert "crashed" not in text
        assert not [record for record in caplog.records if record.exc_info]
