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
