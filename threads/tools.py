"""The tools the model may call: one registry, each tool a plain function next to its JSON schema.

Both engines offer these tools (in their own schema shape) and run the model's calls through
`execute_tool_call`. Arguments are text written by the model, so they are validated here and
every problem comes back as a JSON error object the model can read and correct; a tool never
raises into the conversation loop. The tool names are Spanish because the model sees them.
"""

import contextlib
import json
import logging
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from openai.types.responses import FunctionToolParam

from courses.models import Level
from courses.selectors import get_course_detail, normalize_level, search_courses

from . import handoff_requests
from .models import Handoff

logger = logging.getLogger(__name__)

MAX_STRING_LENGTH = 200
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_JSON_TYPES = {"string": str}

_counts: Counter[str] = Counter()
_counts_lock = threading.Lock()


@dataclass(frozen=True)
class ToolCaller:
    """Whom the model's tools act for: set around each model call of a live turn, never in a replay."""

    user_phone: str
    turn_id: int | None = None


_caller: ContextVar[ToolCaller | None] = ContextVar("tool_caller", default=None)


@contextlib.contextmanager
def acting_for(*, user_phone: str | None, turn_id: int | None = None) -> Iterator[None]:
    """Let the tools called in this block act for the user (None: act for nobody, as a replay does)."""
    token = _caller.set(ToolCaller(user_phone=user_phone, turn_id=turn_id) if user_phone else None)
    try:
        yield
    finally:
        _caller.reset(token)


@dataclass(frozen=True)
class Tool:
    """A function the model can call, described by the JSON schema of its keyword arguments."""

    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class ToolOutcome:
    """What one tool call produced: the JSON text sent back to the model, and whether it succeeded."""

    output: str
    ok: bool
    ms: int


def find_courses(*, name: str | None = None, level: str | None = None) -> dict[str, Any]:
    """Search the active catalogue by name words and/or level (synonyms such as "básico" accepted)."""
    stored_level = None
    if level:
        stored_level = normalize_level(level)
        if stored_level is None:
            return {"error": "nivel desconocido", "level": level, "valid_levels": list(Level.values)}
    results = search_courses(name=name or None, level=stored_level)
    payload: dict[str, Any] = {"results": results, "count": len(results)}
    if not results:
        payload["hint"] = "No hay cursos activos con esos criterios; prueba con menos palabras, otro tema o sin nivel."
    return payload


def describe_course(*, id_course: str) -> dict[str, Any]:
    """Return one active course with its sessions and bonuses, or a JSON error for a bad or unknown id."""
    try:
        uuid.UUID(id_course.strip())
    except ValueError:
        return {"error": "id_course no es un UUID válido", "id_course": id_course}
    detail = get_course_detail(id_course)
    if detail is None:
        return {"error": "curso no encontrado", "id_course": id_course}
    return dict(detail)


def request_advisor(*, motivo: str) -> dict[str, Any]:
    """Hand the conversation to staff (pause the bot, queue their e-mail) and say when a person will answer.

    The request is recorded only inside a live turn (`acting_for`): a replay or the docs get the
    same output and nothing else, so they never pause anyone or e-mail staff.
    """
    now = timezone.now()
    caller = _caller.get()
    if caller is not None:
        message = handoff_requests.last_inbound(caller.user_phone, turn_id=caller.turn_id)
        handoff_requests.request_handoff(
            user_phone=caller.user_phone, reason=motivo, via=Handoff.Via.TOOL, message=message, now=now
        )
    hours = handoff_requests.business_hours()
    return {
        "registrado": True,
        "equipo_disponible_ahora": hours.is_open(now),
        "horario": hours.describe("es"),
        "respuesta_sugerida": handoff_requests.handoff_reply(now=now),
        "nota": "Dile cuándo le responderá una persona, con estas palabras o parecidas; no prometas otra cosa.",
    }


REGISTRY: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool(
            name="buscar_curso",
            description=(
                "Busca cursos activos del catálogo por nombre o tema y/o por nivel. Devuelve una lista corta "
                "con id_course, nombre, nivel, modalidad, precio y moneda. Úsala antes de mencionar cualquier curso."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "name": {
                        "type": "string",
                        "description": "Palabras del nombre o tema del curso, p. ej. 'python' o 'machine learning'.",
                        "maxLength": MAX_STRING_LENGTH,
                    },
                    "level": {
                        "type": "string",
                        "description": "Nivel del curso: principiante, intermedio o avanzado.",
                        "maxLength": MAX_STRING_LENGTH,
                    },
                },
                "required": [],
                "additionalProperties": False,
            },
            function=find_courses,
        ),
        Tool(
            name="detalle_curso",
            description=(
                "Devuelve el detalle de un curso (descripción, duración, sesiones, bonos, precio) a partir de su "
                "id_course, tal como lo devuelve buscar_curso."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "id_course": {
                        "type": "string",
                        "description": "El id_course (UUID) de un curso devuelto por buscar_curso.",
                        "maxLength": MAX_STRING_LENGTH,
                    },
                },
                "required": ["id_course"],
                "additionalProperties": False,
            },
            function=describe_course,
        ),
        Tool(
            name="solicitar_asesor",
            description=(
                "Pasa la conversación a una persona del equipo: pausa tus respuestas, avisa al equipo y devuelve "
                "cuándo responderá una persona. Úsala cuando el usuario pida hablar con una persona o asesor, que le "
                "llamen, quiera quejarse, tenga un problema con un pago o inscripción, o pregunte algo que las otras "
                "herramientas no pueden responder. Nunca prometas que alguien lo contactará sin llamarla."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "motivo": {
                        "type": "string",
                        "description": (
                            "En pocas palabras, por qué necesita a una persona (p. ej. 'problema con un pago')."
                        ),
                        "maxLength": MAX_STRING_LENGTH,
                    },
                },
                "required": ["motivo"],
                "additionalProperties": False,
            },
            function=request_advisor,
        ),
    )
}


def tool_schemas_for_responses() -> list[FunctionToolParam]:
    """Return the tools in the Responses API shape (flat function tools)."""
    return [
        {
            "type": "function",
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
            "strict": False,
        }
        for tool in REGISTRY.values()
    ]


def tool_schemas_for_assistants() -> list[dict[str, Any]]:
    """Return the tools in the Assistants API shape (the function nested under "function")."""
    return [
        {
            "type": "function",
            "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
        }
        for tool in REGISTRY.values()
    ]


def execute_tool_call(name: str, arguments: str) -> ToolOutcome:
    """Run one call the model asked for and return its JSON output; never raise.

    Strict mode is off in the schemas (so optional arguments stay optional), hence the model's
    arguments are checked here against the same schema.
    """
    started = time.monotonic()
    tool = REGISTRY.get(name)
    if tool is None:
        payload: dict[str, Any] = {"error": "herramienta desconocida", "name": name[:64], "available": list(REGISTRY)}
    else:
        payload = _run(tool, arguments)
    ok = "error" not in payload
    ms = round((time.monotonic() - started) * 1000)
    with _counts_lock:
        _counts[tool.name if tool else "desconocida"] += 1
    logger.info("tool call %s ok=%s ms=%d", name[:64], ok, ms)
    return ToolOutcome(output=to_json(payload), ok=ok, ms=ms)


def to_json(payload: dict[str, Any]) -> str:
    """Return `payload` as UTF-8 JSON: "Análisis" costs fewer tokens than "An\\u00e1lisis" on every round.

    A lone surrogate (echoed from the model's arguments) cannot be encoded as UTF-8 and would
    break the request back to OpenAI, so it becomes U+FFFD.
    """
    return _LONE_SURROGATE.sub("\ufffd", json.dumps(payload, ensure_ascii=False))


def tool_call_counts() -> dict[str, int]:
    """Return how many calls each tool received in this process (unknown names count as "desconocida")."""
    with _counts_lock:
        return dict(_counts)


def _run(tool: Tool, arguments: str) -> dict[str, Any]:
    kwargs = _parse_arguments(tool, arguments)
    if "error" in kwargs:
        return kwargs
    logger.debug("tool %s arguments %s", tool.name, kwargs)
    try:
        return tool.function(**kwargs)
    except Exception:
        logger.exception("tool %s failed unexpectedly", tool.name)
        return {"error": "error interno al consultar el catálogo; intenta de nuevo más tarde"}


def _parse_arguments(tool: Tool, arguments: str) -> dict[str, Any]:
    """Decode and check the model's JSON arguments; return the keyword arguments or an error object."""
    text = (arguments or "").strip() or "{}"  # some models send "" for a call without arguments
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {"error": "los argumentos no son JSON válido", "tool": tool.name}
    if not isinstance(value, dict):
        return {"error": "los argumentos deben ser un objeto JSON", "tool": tool.name}
    schema = tool.parameters
    properties: dict[str, Any] = schema["properties"]
    extra = sorted(key for key in value if key not in properties)
    if extra:
        return {"error": "argumentos desconocidos", "unknown": extra[:10], "allowed": list(properties)}
    kwargs: dict[str, Any] = {}
    for key, spec in properties.items():
        item = value.get(key)
        if item is None:  # absent, or null for an optional argument
            continue
        if not isinstance(item, _JSON_TYPES[spec["type"]]):
            return {"error": f"el argumento {key} debe ser de tipo {spec['type']}", "argument": key}
        if len(item) > MAX_STRING_LENGTH:
            return {"error": f"el argumento {key} supera {MAX_STRING_LENGTH} caracteres", "argument": key}
        kwargs[key] = item
    missing = [key for key in schema["required"] if not kwargs.get(key, "").strip()]
    if missing:
        return {"error": "faltan argumentos obligatorios", "missing": missing}
    return kwargs
