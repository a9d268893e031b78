"""Catalogue reads used by the model's tools: search and detail, on SQLite and PostgreSQL alike."""

import uuid
from decimal import Decimal

import pytest
from django.db.models.functions import Collate

from courses.models import Course, Level, Modality
from courses.selectors import get_course_amounts, get_course_detail, normalize_level, search_courses
from courses.text import Fold

pytestmark = pytest.mark.django_db


def names(results):
    return [row["name"] for row in results]


# --- search_courses: matching ------------------------------------------------


@pytest.mark.parametrize("query", ["vision", "VISIÓN", "visión", "Vision", "COMPUTADORA"])
def test_search_ignores_accents_and_case_in_the_query(make_course, query):
    make_course("Visión por computadora con Python")
    make_course("Prompt engineering")

    assert names(search_courses(name=query)) == ["Visión por computadora con Python"]


def test_accented_query_finds_a_course_stored_without_accents(make_course):
    make_course("Introduccion a la Inteligencia Artificial")

    assert names(search_courses(name="Introducción")) == ["Introduccion a la Inteligencia Artificial"]


def test_upper_case_accented_letters_in_stored_names_match(make_course):
    make_course("ÉTICA Y GOBERNANZA DE LA IA")

    assert names(search_courses(name="etica gobernanza")) == ["ÉTICA Y GOBERNANZA DE LA IA"]


@pytest.mark.postgres
def test_fold_strips_upper_case_accents_even_under_the_c_collation(make_course):
    # Under "C", PostgreSQL's lower() changes ASCII letters only; Fold must still unaccent "Ó", "É", "Ñ".
    make_course("VISIÓN ÉTICA ÑANDÚ")

    folded = Course.objects.annotate(folded=Fold(Collate("name", "C"))).values_list("folded", flat=True).get()

    assert folded == "vision etica nandu"


def test_search_matches_words_of_the_short_and_long_descriptions(make_course):
    make_course("Análisis de datos con IA", short_description="Limpia datos con pandas.")
    make_course("Machine Learning aplicado", long_description="Despliegue como API con FastAPI y scikit-learn.")
    make_course("Prompt engineering", short_description="Escribe mejores instrucciones.")

    assert names(search_courses(name="pandas")) == ["Análisis de datos con IA"]
    assert names(search_courses(name="SCIKIT-LEARN")) == ["Machine Learning aplicado"]


def test_search_prefers_courses_with_every_meaningful_word(make_course):
    make_course("Visión por computadora con Python")
    make_course("Python para principiantes")

    assert names(search_courses(name="visión python")) == ["Visión por computadora con Python"]


def test_search_falls_back_to_courses_matching_most_words(make_course):
    make_course("Visión por computadora con Python", price="100")
    make_course("Python para principiantes", price="50")
    make_course("Marketing con IA", price="10")

    # No course has all three words: those matching the most come first, then the others.
    assert names(search_courses(name="¿tienen visión con python y java?")) == [
        "Visión por computadora con Python",
        "Python para principiantes",
    ]
    assert search_courses(name="java cobol") == []


def test_search_ignores_filler_words_and_punctuation(make_course):
    make_course("Visión por computadora con Python")

    assert names(search_courses(name="¿Quiero un curso de visión con Python.")) == ["Visión por computadora con Python"]


def test_search_keeps_symbols_of_technical_names(make_course):
    make_course("Programación en C++ para IA")
    make_course("Curso de C desde cero")

    assert names(search_courses(name="c++")) == ["Programación en C++ para IA"]


def test_search_with_no_match_returns_an_empty_list(make_course):
    make_course("Visión por computadora con Python")

    assert search_courses(name="repostería francesa") == []


def test_search_hides_inactive_courses(make_course):
    make_course("Chatbots con Dialogflow", active=False)
    make_course("Chatbots con LLMs")

    assert names(search_courses(name="chatbots")) == ["Chatbots con LLMs"]
    assert names(search_courses()) == ["Chatbots con LLMs"]


# --- search_courses: level, order, shape -------------------------------------


def test_search_filters_by_level(make_course):
    make_course("Introducción a la IA", level=Level.BEGINNER)
    make_course("Deep Learning avanzado", level=Level.ADVANCED)
    make_course("LLMs y agentes", level=Level.ADVANCED)

    assert names(search_courses(level=Level.ADVANCED)) == ["Deep Learning avanzado", "LLMs y agentes"]
    assert names(search_courses(name="agentes", level=Level.ADVANCED)) == ["LLMs y agentes"]
    assert search_courses(name="agentes", level=Level.BEGINNER) == []


def test_search_accepts_a_level_synonym_once_normalised(make_course):
    make_course("Introducción a la IA", level=Level.BEGINNER)
    make_course("Deep Learning avanzado", level=Level.ADVANCED)

    assert names(search_courses(level=normalize_level("Básico"))) == ["Introducción a la IA"]


def test_search_with_an_unknown_level_matches_nothing(make_course):
    make_course("Deep Learning avanzado", level=Level.ADVANCED)

    assert search_courses(level="experto") == []


def test_search_lists_cheapest_first_and_respects_the_limit(make_course):
    make_course("Curso caro", price="9000.00")
    make_course("Curso barato", price="500.00")
    make_course("Curso medio", price="3000.00")

    assert names(search_courses()) == ["Curso barato", "Curso medio", "Curso caro"]
    assert names(search_courses(limit=2)) == ["Curso barato", "Curso medio"]


def test_search_returns_a_short_json_ready_summary(make_course):
    course = make_course("LLMs y agentes", level=Level.ADVANCED, modality=Modality.HYBRID, price="499", currency="USD")

    assert search_courses(name="agentes") == [
        {
            "id_course": str(course.id_course),
            "name": "LLMs y agentes",
            "level": "avanzado",
            "modality": "híbrido",
            "price": "499.00",
            "currency": "USD",
        }
    ]


# --- normalize_level -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("principiante", Level.BEGINNER),
        ("Básico", Level.BEGINNER),
        ("PRINCIPIANTES", Level.BEGINNER),
        (" intermedio ", Level.INTERMEDIATE),
        ("Intermedia", Level.INTERMEDIATE),
        ("avanzada", Level.ADVANCED),
        ("Experto", Level.ADVANCED),
        ("advanced", Level.ADVANCED),
        ("gurú", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_level_maps_synonyms_to_stored_levels(text, level):
    assert normalize_level(text) == level


# --- get_course_detail -----------------------------------------------------------


def test_detail_has_sessions_in_order_and_only_active_bonuses(make_course, django_assert_max_num_queries):
    course = make_course(
        "Visión por computadora con Python",
        level=Level.INTERMEDIATE,
        price="8490",
        sessions=3,
        bonuses=[("Cámara web", "750", True), ("Grabaciones", None, True), ("Mentoría agotada", "3000", False)],
    )

    with django_assert_max_num_queries(3):
        detail = get_course_detail(str(course.id_course))

    assert detail["name"] == "Visión por computadora con Python"
    assert detail["price"] == "8490.00"
    assert detail["sessions_count"] == 3
    assert [s["number"] for s in detail["sessions"]] == [1, 2, 3]
    assert detail["sessions"][0] == {
        "number": 1,
        "title": "Sesión 1",
        "objective": "Objetivo 1",
        "duration_minutes": 120,
    }
    assert sorted((b["name"], b["value"]) for b in detail["bonuses"]) == [
        ("Cámara web", "750.00"),
        ("Grabaciones", None),
    ]


def test_detail_accepts_an_upper_case_id_with_surrounding_spaces(make_course):
    course = make_course("LLMs y agentes")

    detail = get_course_detail(f"  {str(course.id_course).upper()} ")

    assert detail["id_course"] == str(course.id_course)


@pytest.mark.parametrize("bad_id", ["", "abc", "123", "not-a-uuid-at-all", None])
def test_detail_of_a_malformed_id_is_none(make_course, bad_id):
    make_course("LLMs y agentes")

    assert get_course_detail(bad_id) is None


def test_detail_of_an_unknown_id_is_none(make_course):
    make_course("LLMs y agentes")

    assert get_course_detail(str(uuid.uuid4())) is None


def test_detail_of_an_inactive_course_is_none(make_course):
    course = make_course("Chatbots con Dialogflow", active=False)

    assert get_course_detail(str(course.id_course)) is None


# --- get_course_amounts: what the price check compares against -------------------


def test_course_amounts_are_prices_and_active_bonus_values_read_in_one_query(make_course, django_assert_num_queries):
    make_course(
        "Visión por computadora con Python",
        price="8490",
        bonuses=[("Cámara web", "750", True), ("Grabaciones", None, True), ("Mentoría agotada", "3000", False)],
    )
    make_course("Python desde cero", price="45", currency="usd")
    make_course("Curso retirado", price="999", bonuses=[("Guía", "100", True)], active=False)

    with django_assert_num_queries(1):
        amounts = get_course_amounts()

    assert amounts == {
        "Visión por computadora con Python": {(Decimal("8490"), "MXN"), (Decimal("750"), "MXN")},
        "Python desde cero": {(Decimal("45"), "USD")},
    }
