"""The tool registry: what the model gets for good and bad calls, and the schemas it is offered."""

import json
import logging
import uuid
from decimal import Decimal

import pytest

from courses.models import Course, CourseBonus, CourseSession, Level, Modality
from threads.tools import (
    MAX_STRING_LENGTH,
    execute_tool_call,
    tool_call_counts,
    tool_schemas_for_assistants,
    tool_schemas_for_responses,
)


def create_course(name, *, level=Level.BEGINNER, price="1000.00", active=True, description="Curso de IA."):
    return Course.objects.create(
        name=name,
        short_description=description,
        level=level,
        modality=Modality.ONLINE_LIVE,
        price=Decimal(price),
        duration_hours=12,
        sessions_count=2,
        active=active,
    )


@pytest.fixture
def courses(db):
    vision = create_course("Visión por computadora con Python", level=Level.INTERMEDIATE, price="4990.00")
    CourseSession.objects.create(
        course=vision, number=1, title="Imágenes", objective="Leer imágenes", duration_minutes=90
    )
    CourseBonus.objects.create(course=vision, name="Plantillas", value=Decimal("500.00"))
    CourseBonus.objects.create(course=vision, name="Bono retirado", active=False)
    intro = create_course("Introducción a la IA", level=Level.BEGINNER, price="990.00")
    retired = create_course("Python antiguo", level=Level.BEGINNER, active=False)
    return {"vision": vision, "intro": intro, "retired": retired}


def call(name, arguments):
    outcome = execute_tool_call(name, arguments if isinstance(arguments, str) else json.dumps(arguments))
    return outcome, json.loads(outcome.output)


# --- buscar_curso -------------------------------------------------------------------------------


def test_search_by_name_ignores_case_and_accents(courses):
    outcome, payload = call("buscar_curso", {"name": "VISION"})

    assert outcome.ok is True
    assert payload["count"] == 1
    (result,) = payload["results"]
    assert result == {
        "id_course": str(courses["vision"].id_course),
        "name": "Visión por computadora con Python",
        "level": "intermedio",
        "modality": "online en vivo",
        "price": "4990.00",
        "currency": "MXN",
    }


def test_search_by_level_accepts_synonyms(courses):
    _, payload = call("buscar_curso", {"level": "Básico"})

    assert [r["name"] for r in payload["results"]] == ["Introducción a la IA"]


def test_search_without_arguments_lists_active_courses(courses):
    for arguments in ("", "{}", '{"name": null, "level": ""}'):
        _, payload = call("buscar_curso", arguments)

        assert {r["name"] for r in payload["results"]} == {"Visión por computadora con Python", "Introducción a la IA"}


def test_search_without_matches_returns_an_empty_list_and_a_hint(courses):
    outcome, payload = call("buscar_curso", {"name": "repostería"})

    assert outcome.ok is True
    assert payload["results"] == [] and payload["count"] == 0
    assert payload["hint"]


def test_search_with_an_unknown_level_lists_the_valid_levels(courses):
    outcome, payload = call("buscar_curso", {"level": "experto total"})

    assert outcome.ok is False
    assert payload["error"] == "nivel desconocido"
    assert payload["valid_levels"] == ["principiante", "intermedio", "avanzado"]


# --- detalle_curso ------------------------------------------------------------------------------


def test_detail_returns_sessions_and_active_bonuses(courses):
    outcome, payload = call("detalle_curso", {"id_course": str(courses["vision"].id_course)})

    assert outcome.ok is True
    assert payload["name"] == "Visión por computadora con Python"
    assert payload["sessions"] == [
        {"number": 1, "title": "Imágenes", "objective": "Leer imágenes", "duration_minutes": 90}
    ]
    assert [b["name"] for b in payload["bonuses"]] == ["Plantillas"]


@pytest.mark.parametrize("which", ["unknown", "retired"])
def test_detail_of_an_unknown_or_inactive_course_is_a_json_error(courses, which):
    id_course = str(uuid.uuid4()) if which == "unknown" else str(courses["retired"].id_course)

    outcome, payload = call("detalle_curso", {"id_course": id_course})

    assert outcome.ok is False
    assert payload == {"error": "curso no encontrado", "id_course": id_course}


def test_detail_with_a_malformed_id_is_a_json_error(courses):
    outcome, payload = call("detalle_curso", {"id_course": "curso-42"})

    assert outcome.ok is False
    assert payload["error"] == "id_course no es un UUID válido"


@pytest.mark.parametrize("arguments", ["{}", '{"id_course": "  "}', '{"id_course": null}'])
def test_detail_without_an_id_is_a_json_error(db, arguments):
    outcome, payload = call("detalle_curso", arguments)

    assert outcome.ok is False
    assert payload["missing"] == ["id_course"]


# --- bad input from the model -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "arguments", "error"),
    [
        ("buscar_curso", "{not json", "los argumentos no son JSON válido"),
        ("buscar_curso", "[1, 2]", "los argumentos deben ser un objeto JSON"),
        ("buscar_curso", '"python"', "los argumentos deben ser un objeto JSON"),
        ("buscar_curso", "42", "los argumentos deben ser un objeto JSON"),
        ("buscar_curso", '{"name": "python", "precio": 10}', "argumentos desconocidos"),
        ("buscar_curso", '{"name": 123}', "el argumento name debe ser de tipo string"),
        ("buscar_curso", '{"level": ["avanzado"]}', "el argumento level debe ser de tipo string"),
        ("detalle_curso", '{"id_course": true}', "el argumento id_course debe ser de tipo string"),
        ("reservar_curso", "{}", "herramienta desconocida"),
    ],
)
def test_bad_calls_become_json_errors_never_exceptions(db, name, arguments, error):
    outcome = execute_tool_call(name, arguments)

    assert outcome.ok is False
    assert json.loads(outcome.output)["error"] == error


def test_extra_keys_are_named_in_the_error(db):
    _, payload = call("buscar_curso", {"name": "python", "precio": 10})

    assert payload["unknown"] == ["precio"]
    assert payload["allowed"] == ["name", "level"]


def test_an_unknown_tool_lists_the_available_ones(db):
    _, payload = call("reservar_curso", {})

    assert payload["available"] == ["buscar_curso", "detalle_curso", "solicitar_asesor"]


def test_overlong_strings_are_refused(courses):
    outcome, payload = call("buscar_curso", {"name": "x" * (MAX_STRING_LENGTH + 1)})
    assert outcome.ok is False
    assert payload["argument"] == "name"

    outcome, payload = call("buscar_curso", {"name": "x" * MAX_STRING_LENGTH})
    assert outcome.ok is True


def test_an_unexpected_failure_inside_a_tool_is_logged_and_becomes_a_json_error(caplog):
    # No database access is allowed in this test: the query inside the tool raises.
    with caplog.at_level(logging.INFO, logger="threads.tools"):
        outcome = execute_tool_call("buscar_curso", '{"name": "python"}')

    assert outcome.ok is False
    assert "error" in json.loads(outcome.output)
    (failure,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert failure.exc_info is not None
    assert "buscar_curso" in failure.getMessage()


# --- logging, counting, schemas -----------------------------------------------------------------


def test_each_call_is_logged_without_its_arguments(courses, caplog):
    with caplog.at_level(logging.INFO, logger="threads.tools"):
        execute_tool_call("buscar_curso", '{"name": "secreto-del-usuario"}')

    (record,) = [r for r in caplog.records if r.levelno == logging.INFO]
    assert record.getMessage().startswith("tool call buscar_curso ok=True ms=")
    assert "secreto-del-usuario" not in caplog.text


def test_calls_are_counted_per_tool(courses):
    before = tool_call_counts()

    execute_tool_call("buscar_curso", "{}")
    execute_tool_call("buscar_curso", "{bad")
    execute_tool_call("detalle_curso", '{"id_course": "x"}')
    execute_tool_call("borrar_todo", "{}")

    after = tool_call_counts()
    assert after["buscar_curso"] - before.get("buscar_curso", 0) == 2
    assert after["detalle_curso"] - before.get("detalle_curso", 0) == 1
    assert after["desconocida"] - before.get("desconocida", 0) == 1


def test_outcomes_report_their_duration(courses):
    outcome = execute_tool_call("buscar_curso", "{}")

    assert isinstance(outcome.ms, int) and outcome.ms >= 0


def test_responses_schemas_are_flat_function_tools():
    schemas = tool_schemas_for_responses()

    assert [s["name"] for s in schemas] == ["buscar_curso", "detalle_curso", "solicitar_asesor"]
    for schema in schemas:
        assert set(schema) == {"type", "name", "description", "parameters", "strict"}
        assert schema["type"] == "function" and schema["strict"] is False
        assert schema["parameters"]["type"] == "object"
        assert schema["parameters"]["additionalProperties"] is False
    assert schemas[0]["parameters"]["required"] == []
    assert schemas[1]["parameters"]["required"] == ["id_course"]


def test_assistants_schemas_nest_the_same_functions():
    flat = tool_schemas_for_responses()
    nested = tool_schemas_for_assistants()

    assert [n["type"] for n in nested] == ["function"] * 3
    assert [n["function"] for n in nested] == [
        {"name": f["name"], "description": f["description"], "parameters": f["parameters"]} for f in flat
    ]


def test_a_lone_surrogate_in_the_arguments_gives_ascii_safe_json(db):
    outcome = execute_tool_call("detalle_curso", '{"id_course": "\\ud800"}')

    assert outcome.ok is False
    outcome.output.encode("utf-8")  # sendable to OpenAI
    assert "error" in json.loads(outcome.output)
