"""Shared fixtures: the PostgreSQL marker, the in-memory outbox, the fake OpenAI server, the demo catalogue."""

import pytest
from django.core.management import call_command
from django.db import connection

from messaging import backends
from tests.browser_support import browser  # noqa: F401  (the headless-Chromium driver of the browser tests)
from tests.fakes.openai import FakeOpenAI


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    if connection.vendor != "postgresql":
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def outbox(settings):
    """Send replies to the in-memory backend and return its outbox (emptied)."""
    settings.MESSAGING_BACKEND = "messaging.backends.LocmemBackend"
    backends.outbox.clear()
    yield backends.outbox
    backends.outbox.clear()


@pytest.fixture
def fake_openai(settings):
    """A fake OpenAI served over real HTTP on 127.0.0.1, configured as the service's OpenAI."""
    fake = FakeOpenAI()
    settings.OPENAI_BASE_URL = fake.serve()
    settings.OPENAI_API_KEY = "sk-test-fake"
    settings.OPENAI_ENGINE = "responses"
    settings.OPENAI_MAX_RETRIES = 0
    settings.OPENAI_RUN_TIMEOUT_S = 10
    settings.OPENAI_BACKGROUND = False
    yield fake
    fake.stop()


@pytest.fixture
def worker_env(settings, fake_openai) -> dict:
    """The environment of a `manage.py` subprocess sharing this test's database and fake OpenAI."""
    import os

    db = connection.settings_dict
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "TASKS_BACKEND": "database",
        "OPENAI_API_KEY": settings.OPENAI_API_KEY,
        "OPENAI_BASE_URL": settings.OPENAI_BASE_URL,
        "OPENAI_ENGINE": "responses",
        "OPENAI_MAX_RETRIES": "0",
        "MESSAGING_BACKEND": "messaging.backends.ConsoleBackend",
    }


@pytest.fixture
def assistants_engine(settings, fake_openai):
    settings.OPENAI_ENGINE = "assistants"
    settings.ASSISTANT_ID = "asst_fake"
    return fake_openai


@pytest.fixture
def openai_off(settings):
    settings.OPENAI_API_KEY = ""


@pytest.fixture
def demo_catalogue(db):
    call_command("loaddata", "demo_courses", verbosity=0)


@pytest.fixture
def user_wrote(db):
    """`user_wrote(phone)`: the user's last message was just now, so WhatsApp's 24-hour window is open."""
    from django.utils import timezone

    from threads.models import Contact

    def open_window(user_phone: str, *, at=None) -> None:
        Contact.objects.update_or_create(user_phone=user_phone, defaults={"last_inbound_at": at or timezone.now()})

    return open_window
