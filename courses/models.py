"""The course catalogue: courses with their sessions and bonuses."""

import uuid

from django.db import models


class Level(models.TextChoices):
    BEGINNER = "principiante", "Principiante"
    INTERMEDIATE = "intermedio", "Intermedio"
    ADVANCED = "avanzado", "Avanzado"


class Modality(models.TextChoices):
    ONLINE_LIVE = "online en vivo", "Online en vivo"
    SELF_PACED = "online a tu ritmo", "Online a tu ritmo"
    IN_PERSON = "presencial", "Presencial"
    HYBRID = "híbrido", "Híbrido"


class Course(models.Model):
    id_course = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    short_description = models.CharField(max_length=500)
    long_description = models.TextField(blank=True)
    level = models.CharField(max_length=20, choices=Level.choices)
    modality = models.CharField(max_length=30, choices=Modality.choices)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3, default="MXN")
    duration_hours = models.PositiveIntegerField(help_text="Total duration in hours.")
    sessions_count = models.PositiveIntegerField(help_text="Number of sessions.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "ai_courses"
        ordering = ["name"]
        indexes = [models.Index(fields=["active", "level"], name="ai_courses_active_level")]

    def __str__(self) -> str:
        return self.name


class CourseSession(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="sessions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    objective = models.TextField(blank=True)
    duration_minutes = models.PositiveIntegerField()

    class Meta:
        db_table = "ai_course_sessions"
        ordering = ["course", "number"]
        constraints = [models.UniqueConstraint(fields=["course", "number"], name="ai_course_sessions_unique_number")]

    def __str__(self) -> str:
        return f"{self.number}. {self.title}"


class CourseBonus(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="bonuses")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    value = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        db_table = "ai_course_bonuses"
        ordering = ["course", "name"]
        verbose_name_plural = "course bonuses"

    def __str__(self) -> str:
        return self.name
