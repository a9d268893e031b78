"""The demo catalogue (`loaddata demo_courses`) is complete, searchable and safe to load twice."""

import pytest
from django.core.management import call_command

from courses.models import Course, CourseBonus, CourseSession, Level, Modality
from courses.selectors import get_course_detail, search_courses

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_catalogue():
    call_command("loaddata", "demo_courses", verbosity=0)


def counts():
    return Course.objects.count(), CourseSession.objects.count(), CourseBonus.objects.count()


def test_demo_catalogue_covers_every_level_and_several_modalities(demo_catalogue):
    active = Course.objects.filter(active=True)

    assert active.count() >= 8
    assert set(active.values_list("level", flat=True)) == set(Level.values)
    assert len(set(active.values_list("modality", flat=True))) >= 3
    assert set(Course.objects.values_list("modality", flat=True)) <= set(Modality.values)
    assert Course.objects.filter(active=False).exists()


def test_each_active_demo_course_has_sessions_and_bonuses_that_add_up(demo_catalogue):
    for course in Course.objects.filter(active=True).prefetch_related("sessions", "bonuses"):
        sessions = list(course.sessions.all())
        assert 4 <= len(sessions) <= 8, course.name
        assert [s.number for s in sessions] == list(range(1, len(sessions) + 1)), course.name
        assert course.sessions_count == len(sessions), course.name
        assert abs(course.duration_hours * 60 - sum(s.duration_minutes for s in sessions)) <= 30, course.name
        assert 1 <= course.bonuses.count() <= 3, course.name
        assert any(b.active for b in course.bonuses.all()), course.name


def test_demo_catalogue_keeps_its_own_timestamps(demo_catalogue):
    course = Course.objects.get(name="Introducción a la Inteligencia Artificial")

    assert course.created_at.isoformat() == "2026-01-05T15:00:00+00:00"
    assert course.updated_at > course.created_at


def test_loading_the_demo_catalogue_twice_does_not_duplicate(demo_catalogue):
    first = counts()

    call_command("loaddata", "demo_courses", verbosity=0)

    assert counts() == first


def test_demo_catalogue_answers_the_tools(demo_catalogue):
    found = search_courses(name="vision")

    assert [c["name"] for c in found] == ["Visión por computadora con Python"]
    detail = get_course_detail(found[0]["id_course"])
    assert len(detail["sessions"]) == detail["sessions_count"]
    assert search_courses(name="dialogflow") == []
