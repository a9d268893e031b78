"""Turns and messages (read-only) and contacts (the pause switch) in the admin."""

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from .. import staff
from ..models import Contact, Message, Turn


class _ReadOnlyAdmin(admin.ModelAdmin):
    """The log is written by the bot only."""

    show_full_result_count = False
    list_per_page = 100

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Turn)
class TurnAdmin(_ReadOnlyAdmin):
    list_display = [
        "id",
        "user_phone",
        "status",
        "engine",
        "started_at",
        "latency_ms",
        "tools",
        "fallback_used",
        "input_tokens",
        "output_tokens",
    ]
    list_filter = ["status", "engine", "fallback_used"]
    search_fields = ["user_phone", "=response_id", "=thread_id"]
    search_help_text = "Phone (part of it), or an exact response/run or thread id."
    date_hierarchy = "started_at"
    ordering = ["-started_at"]

    @admin.display(description="tools")
    def tools(self, obj: Turn) -> str:
        return ", ".join(obj.tool_names)


@admin.register(Message)
class MessageAdmin(_ReadOnlyAdmin):
    list_display = ["id", "user_phone", "direction", "origin", "status", "error_code", "short_body", "created_at"]
    list_filter = ["direction", "origin", "status"]
    search_fields = ["user_phone", "=twilio_sid"]
    search_help_text = "Phone (part of it) or an exact Twilio MessageSid."
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    list_select_related = ["staff_user"]

    @admin.display(description="body")
    def short_body(self, obj: Message) -> str:
        return obj.body if len(obj.body) <= 80 else obj.body[:79] + "…"


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["user_phone", "profile_name", "bot_paused", "first_seen_at", "last_seen_at", "conversation_link"]
    list_editable = ["bot_paused"]
    list_filter = ["bot_paused"]
    search_fields = ["user_phone", "profile_name"]
    ordering = ["-last_seen_at"]
    show_full_result_count = False
    fields = ["user_phone", "profile_name", "bot_paused", "first_seen_at", "last_seen_at", "lock_expires_at"]
    readonly_fields = ["user_phone", "profile_name", "first_seen_at", "last_seen_at", "lock_expires_at"]

    @admin.display(description="messages")
    def conversation_link(self, obj: Contact) -> str:
        # Users answered only by the catalogue responder have no thread mapping: this is
        # where staff find their conversation.
        url = reverse("admin:threads_message_changelist")
        return format_html('<a href="{}?{}">conversation</a>', url, urlencode({"q": obj.user_phone}))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # The pause switch is the only editable field: it takes the pause permission.
        return request.user.has_perm("threads.pause_bot")

    def save_model(self, request: HttpRequest, obj: Contact, form, change: bool) -> None:
        staff.set_bot_paused(user_phones=[obj.pk], paused=obj.bot_paused)
