"""Admin for the catalogue: staff edit courses with their sessions and bonuses on one page."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from .models import Course, CourseBonus, CourseSession


class CourseSessionInline(admin.TabularInline):
    model = CourseSession
    extra = 0
    fields = ["number", "title", "objective", "duration_minutes"]
    ordering = ["number"]


class CourseBonusInline(admin.TabularInline):
    model = CourseBonus
    extra = 0
    fields = ["name", "description", "value", "active"]


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ["name", "level", "modality", "price", "currency", "active", "updated_at"]
    # The changelist's checkbox is the quick on/off switch: inactive courses vanish from the bot's answers.
    list_editable = ["active"]
    list_filter = ["level", "modality", "active", "currency"]
    search_fields = ["name", "short_description"]
    ordering = ["name"]
    readonly_fields = ["id_course", "created_at", "updated_at"]
    inlines = [CourseSessionInline, CourseBonusInline]
    actions = ["activate", "deactivate"]

    @admin.action(description="Activate selected courses")
    def activate(self, request: HttpRequest, queryset: QuerySet[Course]) -> None:
        self._set_active(request, queryset, active=True)

    @admin.action(description="Deactivate selected courses")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Course]) -> None:
        self._set_active(request, queryset, active=False)

    def _set_active(self, request: HttpRequest, queryset: QuerySet[Course], *, active: bool) -> None:
        # `update()` skips auto_now: set updated_at ourselves so the changelist shows the change.
        changed = queryset.exclude(active=active).update(active=active, updated_at=timezone.now())
        state = "activated" if active else "deactivated"
        self.message_user(request, f"{changed} course(s) {state}.", messages.SUCCESS)
