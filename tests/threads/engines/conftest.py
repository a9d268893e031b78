"""Fixtures for the engine tests: the fake OpenAI, OpenAI settings, and a catalogue to search."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from courses.models import Course, Level, Modality
from tests.fakes.openai import FakeOpenAI


@pytest.fixture
def fake():
    fake = FakeOpenAI()
    yield fake
    fake.stop()


@pytest.fixture
def openai_settings(settings):
    settings.OPENAI_API_KEY = "sk-test-secret-key"
    settings.OPENAI_BASE_URL = None
    settings.OPENAI_MODEL = "gpt-test"
    settings.ASSISTANT_ID = "asst_test"
    settings.OPENAI_RUN_TIMEOUT_S = 10.0
    settings.OPENAI_MAX_TOOL_ROUNDS = 3
    settings.OPENAI_MAX_RETRIES = 0
    return settings


@pytest.fixture
def catalogue(db):
    """Load the demo catalogue, or a small one of our own when the fixture is not there."""
    try:
        call_command("loaddata", "demo_courses", verbosity=0)
    except CommandError:
        for name, level, price in (
            ("Python para IA desde cero", Level.BEGINNER, "1990.00"),
            ("Machine Learning aplicado", Level.INTERMEDIATE, "5990.00"),
            ("Deep Learning avanzado", Level.ADVANCED, "9990.00"),
        ):
            Course.objects.create(
                name=name,
                short_description=f"Curso {name}",
                level=level,
                modality=Modality.ONLINE_LIVE,
                price=Decimal(price),
                duration_hours=20,
                sessions_count=10,
            )
    return Course.objects.filter(active=True)


@pytest.fixture
def cheapest_beginner_course(catalogue):
    """The course buscar_curso(level="principiante") lists first: the model's recommendation."""
    course = catalogue.filter(level=Level.BEGINNER).order_by("price", "name").first()
    assert course is not None, "the catalogue needs a beginner course"
    return course
