"""Catalogue factories for the course tests."""

from decimal import Decimal

import pytest

from courses.models import Course, CourseBonus, CourseSession, Level, Modality


@pytest.fixture
def make_course():
    """Return a factory that creates a course with `sessions` sessions and the given bonuses."""

    def make(
        name: str = "Curso de prueba",
        *,
        short_description: str = "Descripción corta.",
        long_description: str = "",
        level: str = Level.BEGINNER,
        modality: str = Modality.ONLINE_LIVE,
        price: str = "1000.00",
        currency: str = "MXN",
        active: bool = True,
        sessions: int = 2,
        bonuses: list[tuple[str, str | None, bool]] = (),
    ) -> Course:
        course = Course.objects.create(
            name=name,
            short_description=short_description,
            long_description=long_description,
            level=level,
            modality=modality,
            price=Decimal(price),
            currency=currency,
            duration_hours=sessions * 2,
            sessions_count=sessions,
            active=active,
        )
        for number in range(1, sessions + 1):
            CourseSession.objects.create(
                course=course,
                number=number,
                title=f"Sesión {number}",
                objective=f"Objetivo {number}",
                duration_minutes=120,
            )
        for bonus_name, value, bonus_active in bonuses:
            CourseBonus.objects.create(
                course=course,
                name=bonus_name,
                description=f"Incluye {bonus_name}",
                value=None if value is None else Decimal(value),
                active=bonus_active,
            )
        return course

    return make
