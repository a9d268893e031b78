"""`.env.example` documents every variable the settings and gunicorn read, each with a comment."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DESIGN_VARIABLES = {
    "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "DATABASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL",
    "OPENAI_ENGINE", "ASSISTANT_ID", "OPENAI_WEBHOOK_SECRET", "OPENAI_BACKGROUND", "OPENAI_RUN_TIMEOUT_S",
    "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_PHONE_NUMBER", "TWILIO_VALIDATE_SIGNATURE", "PUBLIC_BASE_URL",
    "TASKS_BACKEND",
}  # fmt: skip


def documented() -> dict[str, str]:
    """Each variable of .env.example with the comment above it (variables may share one)."""
    found, comment = {}, ""
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.startswith("#"):
            comment = line
        elif match := re.match(r"^([A-Z][A-Z0-9_]*)=", line):
            found[match.group(1)] = comment
        else:
            comment = ""
    return found


def read_by_code() -> set[str]:
    settings_py = (ROOT / "brenda" / "settings.py").read_text()
    gunicorn_py = (ROOT / "gunicorn.conf.py").read_text()
    return set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]*)"', settings_py)) | set(
        re.findall(r'(?:environ\.get\(|_int_env\()\s*"([A-Z][A-Z0-9_]*)"', gunicorn_py)
        + re.findall(r"_int_env\('([A-Z][A-Z0-9_]*)'", gunicorn_py)
    )


def test_every_variable_read_is_documented_with_a_comment():
    docs = documented()
    variables = read_by_code() | DESIGN_VARIABLES

    assert len(variables) > len(DESIGN_VARIABLES)  # the scan found the code's variables
    assert sorted(variables - set(docs)) == []
    assert sorted(name for name in variables if not docs[name]) == []


def test_no_documented_variable_is_stale():
    allowed_extras = {"DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_EMAIL", "DJANGO_SUPERUSER_PASSWORD"}

    assert sorted(set(documented()) - read_by_code() - DESIGN_VARIABLES - allowed_extras) == []
