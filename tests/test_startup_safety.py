"""Production settings cannot start unsafe by accident: each case runs real processes with a real environment.

Settings are read at import, so every case is a `manage.py` (or gunicorn) subprocess. The
variables that matter are set explicitly, empty ones included, so a developer's `.env` (which
only fills variables the environment lacks) cannot change the outcome.
"""

import os
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STRONG_KEY = secrets.token_urlsafe(50)


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "brenda.settings",
        "DEBUG": "false",
        "SECRET_KEY": STRONG_KEY,
        "ALLOWED_HOSTS": "brenda.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'startup.sqlite3'}",
        "TWILIO_VALIDATE_SIGNATURE": "true",
        "ALLOW_UNSIGNED_WEBHOOKS": "false",
        "OPENAI_API_KEY": "",
        "OPENAI_BACKGROUND": "false",
        "TWILIO_ACCOUNT_SID": "",
        "TWILIO_AUTH_TOKEN": "",
        "PUBLIC_BASE_URL": "",
    }
    env.update(overrides)
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "key",
    [
        "",
        "django-insecure-development-only-key-set-SECRET_KEY",
        "django-insecure-" + "x1y2z3" * 10,
        "too-short-but-secret-value",
        "ab" * 40,
    ],
    ids=["missing", "development-default", "insecure-prefix", "short", "few-characters"],
)
def test_debug_off_with_a_missing_default_or_weak_secret_key_refuses_to_start(tmp_path, key):
    completed = manage(production_env(tmp_path, SECRET_KEY=key), "check")

    output = completed.stdout + completed.stderr
    assert completed.returncode != 0
    assert "Configuration error: SECRET_KEY is missing, the development default or too weak" in output
    assert "Traceback" not in output  # an operator reads one line that says what to do
    assert "secrets.token_urlsafe(50)" in output  # the message says how to make one
    if key:
        assert key not in output  # never the key itself


def tables(path: Path) -> set[str]:
    if not path.exists():
        return set()
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_debug_on_runs_with_the_development_key(tmp_path):
    completed = manage(production_env(tmp_path, DEBUG="true", SECRET_KEY=""), "check")

    assert completed.returncode == 0, completed.stderr


def test_a_strong_key_with_debug_off_starts(tmp_path):
    completed = manage(production_env(tmp_path), "check")

    assert completed.returncode == 0, completed.stderr


def test_unsigned_twilio_webhooks_with_debug_off_stop_migrate_before_it_touches_the_database(tmp_path):
    completed = manage(production_env(tmp_path, TWILIO_VALIDATE_SIGNATURE="false"), "migrate", "--noinput")

    assert completed.returncode != 0
    assert "webhooks.E001" in completed.stderr
    assert "ALLOW_UNSIGNED_WEBHOOKS=true" in completed.stderr
    assert tables(tmp_path / "startup.sqlite3") == set()  # the checks may connect, but nothing was migrated


def test_unsigned_twilio_webhooks_fail_check_deploy(tmp_path):
    completed = manage(production_env(tmp_path, TWILIO_VALIDATE_SIGNATURE="false"), "check", "--deploy")

    assert completed.returncode != 0
    assert "webhooks.E001" in completed.stderr


def test_unsigned_twilio_webhooks_on_purpose_only_warn(tmp_path):
    env = production_env(tmp_path, TWILIO_VALIDATE_SIGNATURE="false", ALLOW_UNSIGNED_WEBHOOKS="true")

    completed = manage(env, "check")

    assert completed.returncode == 0, completed.stderr
    assert "webhooks.W001" in completed.stdout + completed.stderr
    assert "webhooks.E001" not in completed.stdout + completed.stderr


def gunicorn(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "brenda.wsgi:application"],
        cwd=ROOT,
        env={**env, "GUNICORN_BIND": "127.0.0.1:0", "GUNICORN_WORKERS": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"TWILIO_VALIDATE_SIGNATURE": "false"}, "webhooks.E001"),
        ({"SECRET_KEY": ""}, "SECRET_KEY is missing"),
    ],
    ids=["unsigned-webhooks", "no-secret-key"],
)
def test_gunicorn_runs_the_checks_and_does_not_start_on_an_error(tmp_path, overrides, expected):
    """Gunicorn runs no Django checks of its own: gunicorn.conf.py's on_starting hook does, before any worker."""
    completed = gunicorn(production_env(tmp_path, **overrides))

    output = completed.stdout + completed.stderr
    assert completed.returncode == 1
    assert expected in output
    assert "gunicorn does not start" in output
    assert "Booting worker" not in output


@pytest.mark.parametrize(("value", "threshold"), [(None, "5"), ("true", "5"), ("false", "None")])
def test_database_prepared_statements_sets_psycopgs_prepare_threshold(tmp_path, value, threshold):
    env = production_env(tmp_path, DATABASE_URL="postgres://brenda@db.example.com:5432/brenda")
    if value is not None:
        env["DATABASE_PREPARED_STATEMENTS"] = value
    code = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS']['prepare_threshold'])"

    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == threshold


def python_c(env: dict[str, str], code: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


POSTGRES_URL = "postgres://brenda:hunter2-secret@db.example.com:5432/brenda"


def assert_one_line_error(completed: subprocess.CompletedProcess, *expected: str) -> None:
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output
    assert "Traceback" not in output, output
    assert "Configuration error: " in output, output
    for text in expected:
        assert text in output, output


@pytest.mark.parametrize(
    "overrides, variable",
    [
        ({"OPENAI_RUN_TIMEOUT_S": "ten"}, "OPENAI_RUN_TIMEOUT_S"),
        ({"TURN_LEASE_S": "1e3x"}, "TURN_LEASE_S"),
        ({"WEBHOOK_MAX_BODY_BYTES": "64k"}, "WEBHOOK_MAX_BODY_BYTES"),
        ({"SECURE_HSTS_SECONDS": "one year"}, "SECURE_HSTS_SECONDS"),
        ({"OPENAI_MAX_RETRIES": "two"}, "OPENAI_MAX_RETRIES"),
        ({"DATABASE_URL": POSTGRES_URL, "DATABASE_POOL_MAX_SIZE": "many"}, "DATABASE_POOL_MAX_SIZE"),
    ],
    ids=["float", "float-suffix", "int-unit", "int-words", "int-retries", "int-pool"],
)
def test_a_word_in_a_numeric_variable_is_a_one_line_error_naming_it(tmp_path, overrides, variable):
    completed = manage(production_env(tmp_path, **overrides), "check")

    assert_one_line_error(completed, f"{variable} must be a", repr(overrides[variable]))


@pytest.mark.parametrize(
    "variable, value", [("DEBUG", "maybe"), ("TWILIO_VALIDATE_SIGNATURE", "enabled"), ("SECURE_SSL_REDIRECT", "2")]
)
def test_a_boolean_typo_is_refused_not_read_as_false(tmp_path, variable, value):
    completed = manage(production_env(tmp_path, **{variable: value}), "check")

    assert_one_line_error(completed, f"{variable} must be true or false", repr(value))


@pytest.mark.parametrize(
    "value, expected",
    [("TRUE", True), ("On", True), ("yes", True), ("1", True), ("", True),
     ("False", False), ("OFF", False), ("no", False), ("0", False)],
)  # fmt: skip
def test_booleans_accept_the_usual_spellings_and_empty_is_the_default(tmp_path, value, expected):
    env = production_env(tmp_path, SECURE_SSL_REDIRECT=value, SESSION_COOKIE_SECURE=value)
    code = "from django.conf import settings; print(settings.SECURE_SSL_REDIRECT, settings.SESSION_COOKIE_SECURE)"

    done = python_c(env, code)

    assert done.returncode == 0, done.stderr
    # SECURE_SSL_REDIRECT defaults to false, SESSION_COOKIE_SECURE to true with DEBUG off.
    assert done.stdout.split() == ([str(expected), str(expected)] if value else ["False", "True"])


@pytest.mark.parametrize(
    "url", ["garbage", "mysql://brenda:hunter2-secret@db/brenda", "postgres://brenda:hunter2-secret@db:port/brenda"]
)
def test_an_unsupported_or_malformed_database_url_is_one_line_that_does_not_echo_it(tmp_path, url):
    completed = manage(production_env(tmp_path, DATABASE_URL=url), "check")

    assert_one_line_error(completed, "DATABASE_URL", "sqlite:///", "postgres://")
    assert "hunter2-secret" not in completed.stdout + completed.stderr


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"TIME_ZONE": "Mars/Olympus"}, "TIME_ZONE"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"DATABASE_URL": POSTGRES_URL, "DATABASE_POOL_MIN_SIZE": "20", "DATABASE_POOL_MAX_SIZE": "5"}, "POOL"),
        ({"DATABASE_URL": POSTGRES_URL, "DATABASE_POOL_MIN_SIZE": "-1"}, "DATABASE_POOL_MIN_SIZE"),
    ],
    ids=["time-zone", "log-level", "pool-min-above-max", "pool-negative"],
)
def test_an_unknown_time_zone_log_level_or_pool_size_is_a_one_line_error(tmp_path, overrides, expected):
    completed = manage(production_env(tmp_path, **overrides), "check")

    assert_one_line_error(completed, expected)
    assert "hunter2-secret" not in completed.stdout + completed.stderr


def test_a_lowercase_log_level_is_accepted(tmp_path):
    done = python_c(
        production_env(tmp_path, LOG_LEVEL="warning"), "from django.conf import settings; print(settings.LOG_LEVEL)"
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "WARNING"


@pytest.mark.parametrize(
    "overrides, variable",
    [
        ({"GUNICORN_WORKERS": "abc"}, "GUNICORN_WORKERS"),
        ({"GUNICORN_WORKERS": "0"}, "GUNICORN_WORKERS"),
        ({"GUNICORN_THREADS": "0"}, "GUNICORN_THREADS"),
        ({"GUNICORN_TIMEOUT": "-5"}, "GUNICORN_TIMEOUT"),
        ({"PORT": "abc", "GUNICORN_BIND": ""}, "PORT"),
    ],
    ids=["workers-word", "workers-zero", "threads-zero", "timeout-negative", "port-word"],
)
def test_gunicorn_refuses_a_bad_number_in_one_line(tmp_path, overrides, variable):
    env = {**production_env(tmp_path), "GUNICORN_BIND": "127.0.0.1:0", "GUNICORN_WORKERS": "1", **overrides}
    try:
        completed = subprocess.run(
            [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "brenda.wsgi:application"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"gunicorn started (and never answered) with {overrides}")

    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output
    assert f"Configuration error: {variable}={overrides[variable]!r}" in output
    assert "Traceback" not in output
    assert "Failed to read config file" not in output
    assert "Booting worker" not in output


def readme_deploy_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The variables of the README's Deploying steps (SQLite: `check` opens no connection either way)."""
    readme = {
        "PUBLIC_BASE_URL": "https://brenda.example.com",
        "TASKS_BACKEND": "database",
        "OPENAI_API_KEY": "sk-test-only",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "test-only-token",
        "TWILIO_PHONE_NUMBER": "whatsapp:+15550001111",
        "STAFF_NOTIFY_EMAILS": "",
        "EMAIL_BACKEND": "",  # empty, as in .env.example: the default (console) backend
    }
    return production_env(tmp_path, **{**readme, **overrides})


def test_a_deployment_that_sends_no_mail_passes_check_deploy(tmp_path):
    completed = manage(readme_deploy_env(tmp_path), "check", "--deploy")

    assert completed.returncode == 0, completed.stderr
    assert "mail.E001" not in completed.stdout + completed.stderr


def test_staff_emails_through_the_console_backend_still_fail_check_deploy(tmp_path):
    completed = manage(readme_deploy_env(tmp_path, STAFF_NOTIFY_EMAILS="ventas@example.com"), "check", "--deploy")

    assert completed.returncode != 0
    assert "mail.E001" in completed.stderr


def test_with_debug_off_the_admin_css_is_served_without_a_missing_staticfiles_warning(tmp_path):
    code = (
        "from django.core.wsgi import get_wsgi_application; get_wsgi_application()\n"
        "from django.test import Client\n"
        "response = Client().get('/static/admin/css/base.css', HTTP_HOST='brenda.example.com')\n"
        "print(response.status_code, b''.join(response.streaming_content)[:200].decode())\n"
    )

    done = python_c(production_env(tmp_path), code)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("200 "), done.stdout
    assert "No directory at" not in done.stderr
    assert "staticfiles" not in done.stderr
