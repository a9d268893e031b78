"""Read-only queries over the catalogue, shaped for the model's tools and the fallback responder."""

import uuid
from decimal import Decimal
from typing import TypedDict

from django.db.models import Case, FilteredRelation, Q, QuerySet, Value, When

from .models import Course, Level
from .text import Fold, fold

SEARCH_LIMIT = 10
_SUMMARY_FIELDS = ("id_course", "name", "level", "modality", "price", "currency")

# Words that say nothing about which course is meant ("un curso de IA para principiantes").
_STOPWORDS = frozenset(
    [
        "a",
        "al",
        "con",
        "curso",
        "cursos",
        "de",
        "del",
        "el",
        "en",
        "la",
        "las",
        "lo",
        "los",
        "mas",
        "para",
        "por",
        "que",
        "quiero",
        "sobre",
        "un",
        "una",
        "y",
    ]
)
_LEVEL_SYNONYMS = {
    "principiante": Level.BEGINNER,
    "principiantes": Level.BEGINNER,
    "basico": Level.BEGINNER,
    "inicial": Level.BEGINNER,
    "beginner": Level.BEGINNER,
    "intro": Level.BEGINNER,
    "introductorio": Level.BEGINNER,
    "intermedio": Level.INTERMEDIATE,
    "intermedia": Level.INTERMEDIATE,
    "intermediate": Level.INTERMEDIATE,
    "avanzado": Level.ADVANCED,
    "avanzada": Level.ADVANCED,
    "experto": Level.ADVANCED,
    "advanced": Level.ADVANCED,
}


class CourseSummary(TypedDict):
    id_course: str
    name: str
    level: str
    modality: str
    price: str
    currency: str


class SessionInfo(TypedDict):
    number: int
    title: str
    objective: str
    duration_minutes: int


class BonusInfo(TypedDict):
    name: str
    description: str
    value: str | None


class CourseDetail(CourseSummary):
    short_description: str
    long_description: str
    duration_hours: int
    sessions_count: int
    sessions: list[SessionInfo]
    bonuses: list[BonusInfo]


def normalize_level(text: str | None) -> str | None:
    """Map what a person or the model writes ("Básico", "avanzada") to a stored level, or None."""
    if not text:
        return None
    return _LEVEL_SYNONYMS.get(fold(text).strip())


def active_courses() -> QuerySet[Course]:
    return Course.objects.filter(active=True)


def search_courses(
    *, name: str | None = None, level: str | None = None, limit: int = SEARCH_LIMIT
) -> list[CourseSummary]:
    """Return active courses matching the meaningful words of `name` and the given level.

    Courses with every word come first; when none has them all ("¿tienen cursos de visión?"
    carries words no course holds), those matching the most words are returned instead.
    Matching ignores case and accents on SQLite and PostgreSQL alike. `level` must already be
    a stored level value (see `normalize_level`); an unknown level matches nothing.
    """
    queryset = active_courses()
    if level:
        queryset = queryset.filter(level=level)
    words = _meaningful_words(name or "")
    if words:
        queryset = queryset.alias(
            f_name=Fold("name"), f_short=Fold("short_description"), f_long=Fold("long_description")
        )
        hits = [Q(f_name__contains=w) | Q(f_short__contains=w) | Q(f_long__contains=w) for w in words]
        every = queryset.filter(*hits)
        if len(words) == 1 or every.exists():
            queryset = every
        else:
            score = sum((Case(When(hit, then=Value(1)), default=Value(0)) for hit in hits), Value(0))
            queryset = queryset.alias(score=score).filter(score__gt=0).order_by("-score")
    rows = queryset.order_by(*queryset.query.order_by, "price", "name").values(*_SUMMARY_FIELDS)
    return [_summary(row) for row in rows[:limit]]


def get_course_detail(id_course: str) -> CourseDetail | None:
    """Return one active course with its sessions and active bonuses; None if the id is malformed or unknown."""
    try:
        pk = uuid.UUID(str(id_course).strip())
    except (ValueError, AttributeError):
        return None
    course = active_courses().filter(pk=pk).prefetch_related("sessions", "bonuses").first()
    return None if course is None else _detail(course)


def _detail(course: Course) -> CourseDetail:
    return {
        **_summary(course.__dict__ | {"id_course": course.id_course}),
        "short_description": course.short_description,
        "long_description": course.long_description,
        "duration_hours": course.duration_hours,
        "sessions_count": course.sessions_count,
        "sessions": [
            {"number": s.number, "title": s.title, "objective": s.objective, "duration_minutes": s.duration_minutes}
            for s in course.sessions.all()
        ],
        "bonuses": [
            {"name": b.name, "description": b.description, "value": _money(b.value)}
            for b in course.bonuses.all()
            if b.active
        ],
    }


def get_catalogue() -> list[CourseDetail]:
    """Return every active course in detail (sessions, active bonuses), cheapest first, in three queries.

    For callers that read the whole (small) catalogue at once, such as the rule-based responder,
    which ranks courses by the words of their names, descriptions, sessions and bonuses.
    """
    courses = active_courses().order_by("price", "name").prefetch_related("sessions", "bonuses")
    return [_detail(course) for course in courses]


def retired_course_names() -> list[str]:
    """Names of the courses no longer offered, so a customer who asks for one can be told so."""
    return list(Course.objects.filter(active=False).order_by("name").values_list("name", flat=True))


def get_course_amounts() -> dict[str, set[tuple[Decimal, str]]]:
    """Return, by course name, every money amount the catalogue states for it: price and active bonus values.

    These, with their currency, are the only amounts the assistant may quote. One query: a row
    per course and active bonus with a value (a course without one comes once, with no bonus).
    """
    valued_bonus = FilteredRelation("bonuses", condition=Q(bonuses__active=True, bonuses__value__isnull=False))
    rows = (
        active_courses()
        .alias(valued_bonus=valued_bonus)
        .order_by()
        .values_list("name", "price", "currency", "valued_bonus__value")
    )
    amounts: dict[str, set[tuple[Decimal, str]]] = {}
    for name, price, currency, bonus_value in rows:
        course = amounts.setdefault(name, set())
        course.add((price, currency.upper()))
        if bonus_value is not None:
            course.add((bonus_value, currency.upper()))
    return amounts


def get_catalogue_amounts() -> set[tuple[Decimal, str]]:
    """Return every money amount of the catalogue, whatever the course."""
    return set().union(*get_course_amounts().values())


def _meaningful_words(text: str) -> list[str]:
    # Keep "c++", "c#" and "node.js" whole, but not the full stop that ends a sentence ("con Python.").
    words = [w.strip(".") for w in "".join(ch if ch.isalnum() or ch in "+#." else " " for ch in fold(text)).split()]
    return [w for w in words if w and w not in _STOPWORDS][:8]


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _summary(row: dict) -> CourseSummary:
    return {
        "id_course": str(row["id_course"]),
        "name": row["name"],
        "level": row["level"],
        "modality": row["modality"],
        "price": f"{row['price']:.2f}",
        "currency": row["currency"],
    }
