"""The first hour: `make run`'s development setup, run for real (twice) in a copy of the checkout.

The copy has no `.env` and no database, like a fresh clone; the environment has no SECRET_KEY,
DEBUG or DATABASE_URL, like a new user's shell. `make -o install` reuses this virtualenv (the
install itself is tested apart), then the README's commands run in the copy as written.
"""

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from courses.models import Course

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.executable).parent.parent
COPY_IGNORES = shutil.ignore_patterns(
    ".venv", ".git", ".env", "db.sqlite3*", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", "results"
)


@pytest.fixture
def checkout(tmp_path):
    copy = tmp_path / "brenda"
    shutil.copytree(ROOT, copy, ignore=COPY_IGNORES)
    return copy


def shell_env(home: Path) -> dict[str, str]:
    """A new user's shell: no Brenda variable set."""
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "LANG": "C.UTF-8"}


def run(args: list[str], cwd: Path, *, stdin: str = "", **extra: str) -> subprocess.CompletedProcess:
    completed = subprocess.run(
        args,
        cwd=cwd,
        env={**shell_env(cwd.parent), **extra},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, f"{' '.join(args)}:\n{completed.stdout}\n{completed.stderr}"
    return completed


def dev_setup(checkout: Path) -> subprocess.CompletedProcess:
    return run(["make", "-o", "install", "dev-setup", f"VENV={VENV}"], checkout)


def prices(checkout: Path) -> dict[str, str]:
    with sqlite3.connect(checkout / "db.sqlite3") as db:
        return {str(name): str(price) for name, price in db.execute("SELECT name, price FROM ai_courses")}


@pytest.mark.slow
def test_make_run_twice_keeps_an_edited_price_and_every_readme_command_works(checkout):
    first = dev_setup(checkout)

    env_file = (checkout / ".env").read_text()
    assert "DEBUG=true" in env_file.splitlines()
    key = next(line.split("=", 1)[1] for line in env_file.splitlines() if line.startswith("SECRET_KEY="))
    assert len(key) >= 50
    assert "Loaded the demo catalogue" in first.stdout
    loaded = prices(checkout)
    assert loaded
    edited = sorted(loaded)[0]
    with sqlite3.connect(checkout / "db.sqlite3") as db:
        db.execute("UPDATE ai_courses SET price = 1234.50 WHERE name = ?", (edited,))

    second = dev_setup(checkout)

    assert "demo catalogue not loaded" in second.stdout
    assert prices(checkout)[edited] in ("1234.5", "1234.50")
    assert len(prices(checkout)) == len(loaded)
    assert (checkout / ".env").read_text() == env_file  # an existing .env is never rewritten

    # The README's commands, as written, from another terminal (no DEBUG in the environment).
    python = str(VENV / "bin" / "python")
    doctor = run([python, "manage.py", "threads_doctor"], checkout)
    assert "in production this would fail" in doctor.stdout
    chat = run([python, "manage.py", "chat", "--phone", "+5215512345678"], checkout, stdin="hola\n")
    assert "whatsapp:+5215512345678" in chat.stdout
    run(
        [python, "manage.py", "createsuperuser", "--noinput"],
        checkout,
        DJANGO_SUPERUSER_USERNAME="admin",
        DJANGO_SUPERUSER_EMAIL="admin@example.com",
        DJANGO_SUPERUSER_PASSWORD="a-long-admin-password-1",
    )
    run([python, "manage.py", "threads_stats"], checkout)


@pytest.mark.django_db
def test_the_demo_catalogue_loads_into_an_empty_catalogue_only():
    call_command("load_demo_catalogue", verbosity=0)
    course = Course.objects.order_by("pk").first()
    assert course is not None
    count = Course.objects.count()
    Course.objects.filter(pk=course.pk).update(price=1234)

    call_command("load_demo_catalogue", verbosity=0)

    assert Course.objects.count() == count
    assert Course.objects.get(pk=course.pk).price == 1234
