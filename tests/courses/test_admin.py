"""The catalogue admin as staff use it: list, search, filter, edit with inlines, bulk (de)activate."""

import pytest
from django.urls import reverse

from courses.models import Course, CourseBonus, CourseSession, Level

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:courses_course_changelist")


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("staff", "staff@example.com", "pw-for-tests")
    client.force_login(user)
    return client


def test_changelist_lists_courses_with_their_columns(staff_client, make_course):
    make_course("Visión por computadora con Python", price="8490.00")
    make_course("LLMs y agentes", price="499.00", currency="USD")

    response = staff_client.get(CHANGELIST)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Visión por computadora con Python" in html
    assert "LLMs y agentes" in html
    assert "USD" in html


def test_changelist_search_finds_by_name_and_description(staff_client, make_course):
    make_course("Visión por computadora con Python")
    make_course("Análisis de datos con IA", short_description="Limpia datos con pandas.")

    by_name = staff_client.get(CHANGELIST, {"q": "computadora"})
    by_description = staff_client.get(CHANGELIST, {"q": "pandas"})

    assert [c.name for c in by_name.context["cl"].result_list] == ["Visión por computadora con Python"]
    assert [c.name for c in by_description.context["cl"].result_list] == ["Análisis de datos con IA"]


def test_changelist_filters_by_level_and_active(staff_client, make_course):
    make_course("Introducción a la IA", level=Level.BEGINNER)
    make_course("Deep Learning avanzado", level=Level.ADVANCED)
    make_course("Chatbots con Dialogflow", level=Level.BEGINNER, active=False)

    beginners = staff_client.get(CHANGELIST, {"level__exact": "principiante", "active__exact": "1"})

    assert [c.name for c in beginners.context["cl"].result_list] == ["Introducción a la IA"]


def test_change_page_shows_the_session_and_bonus_inlines(staff_client, make_course):
    course = make_course("LLMs y agentes", sessions=3, bonuses=[("Créditos de API", "50", True)])

    response = staff_client.get(reverse("admin:courses_course_change", args=[course.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="sessions-TOTAL_FORMS" value="3"' in html
    assert 'name="bonuses-TOTAL_FORMS" value="1"' in html
    assert "Créditos de API" in html


def test_active_toggle_in_the_changelist_deactivates_a_course(staff_client, make_course):
    course = make_course("Prompt engineering")
    before = course.updated_at

    response = staff_client.post(
        CHANGELIST,
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id_course": str(course.pk),
            # an unchecked checkbox is simply absent from the form
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    course.refresh_from_db()
    assert course.active is False
    assert course.updated_at > before


@pytest.mark.parametrize(("action", "start", "end"), [("deactivate", True, False), ("activate", False, True)])
def test_bulk_actions_switch_the_selected_courses_only(staff_client, make_course, action, start, end):
    chosen = [make_course("Curso A", active=start), make_course("Curso B", active=start)]
    other = make_course("Curso C", active=start)

    response = staff_client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [str(c.pk) for c in chosen]},
        follow=True,
    )

    assert response.status_code == 200
    assert "2 course(s)" in response.content.decode()
    assert set(Course.objects.filter(active=end).values_list("name", flat=True)) == {"Curso A", "Curso B"}
    other.refresh_from_db()
    assert other.active is start


def test_course_created_through_the_admin_gets_its_sessions_and_bonuses(staff_client):
    response = staff_client.post(
        reverse("admin:courses_course_add"),
        {
            "name": "Prompt engineering",
            "short_description": "Técnicas para escribir mejores prompts.",
            "long_description": "",
            "level": "principiante",
            "modality": "online a tu ritmo",
            "price": "1490.00",
            "currency": "MXN",
            "duration_hours": "2",
            "sessions_count": "1",
            "active": "on",
            "sessions-TOTAL_FORMS": "1",
            "sessions-INITIAL_FORMS": "0",
            "sessions-0-number": "1",
            "sessions-0-title": "Anatomía de un buen prompt",
            "sessions-0-objective": "",
            "sessions-0-duration_minutes": "90",
            "bonuses-TOTAL_FORMS": "1",
            "bonuses-INITIAL_FORMS": "0",
            "bonuses-0-name": "Plantillas",
            "bonuses-0-description": "",
            "bonuses-0-value": "",
            "bonuses-0-active": "on",
            "_save": "Save",
        },
    )

    assert response.status_code == 302, response.context["errors"] if response.context else response
    course = Course.objects.get(name="Prompt engineering")
    assert list(CourseSession.objects.filter(course=course).values_list("title", flat=True)) == [
        "Anatomía de un buen prompt"
    ]
    assert CourseBonus.objects.get(course=course).value is None
