"""Turns and messages (read-only) and contacts (the pause switch, lifting daily limits) in the admin."""

from decimal import Decimal

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from .. import budgets, staff
from ..models import Contact, Message, Turn
from .mappings import ACTION_SELECTION_LIMIT

# What the price check did to a reply (`Turn.price_checks[].action`), in the staff's words.
PRICE_CHECK_ACTIONS = {
    "passed": "amounts match the catalogue",
    "asked_again": "wrong amount: the model was asked again",
    "corrected": "the model corrected the amounts",
    "removed": "wrong amounts removed from the reply",
    "replaced": "reply replaced by the rule-based answer",
}


def format_usd(value: Decimal | None) -> str:
    """Show a cost to the millionth of a dollar ($0.000123), or "—" when the price is unknown."""
    return "—" if value is None else f"${value:.6f}"


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
        "model",
        "started_at",
        "latency_ms",
        "tools",
        "fallback_used",
        "fallback_reason",
        "limited",
        "input_tokens",
        "output_tokens",
        "cost",
    ]
    list_filter = ["status", "engine", "fallback_used", "fallback_reason", "model"]
    search_fields = ["user_phone", "=response_id", "=thread_id"]
    search_help_text = "Phone (part of it), or an exact response/run or thread id."
    date_hierarchy = "started_at"
    ordering = ["-started_at"]
    fieldsets = [
        (None, {"fields": ["user_phone", "thread_id", "engine", "status", "response_id"]}),
        ("Timing", {"fields": ["started_at", "finished_at", "latency_ms", "openai_calls"]}),
        (
            "Model and usage",
            {
                "fields": [
                    "model",
                    "input_tokens",
                    "cached_input_tokens",
                    "cached_share",
                    "output_tokens",
                    "reasoning_tokens",
                    "cost",
                ],
                "description": "Cached input is part of the input, reasoning part of the output.",
            },
        ),
        ("Fallback", {"fields": ["fallback_used", "fallback_reason", "limited", "error"]}),
        ("Price checks", {"fields": ["price_checks_display"]}),
        ("Tools and engine state", {"fields": ["tool_calls", "state"]}),
    ]
    readonly_fields = ["cached_share", "cost", "limited", "price_checks_display"]

    @admin.display(description="tools")
    def tools(self, obj: Turn) -> str:
        return ", ".join(obj.tool_names)

    @admin.display(description="cost", ordering="cost_usd")
    def cost(self, obj: Turn) -> str:
        return format_usd(obj.cost_usd)

    @admin.display(description="limited", boolean=True)
    def limited(self, obj: Turn) -> bool:
        return obj.limited

    @admin.display(description="cached share")
    def cached_share(self, obj: Turn) -> str:
        if not obj.input_tokens or obj.cached_input_tokens is None:
            return "—"
        return f"{obj.cached_input_tokens / obj.input_tokens:.0%}"

    @admin.display(description="price checks")
    def price_checks_display(self, obj: Turn) -> str:
        """List each checked reply: what was done, the amounts found and the ones not in the catalogue."""
        checks = [check for check in obj.price_checks if isinstance(check, dict)]
        if not checks:
            return "—"
        return format_html(
            "<ol>{}</ol>",
            format_html_join(
                "",
                "<li><strong>{}</strong> · found: {} · wrong: {}</li>",
                (
                    (
                        PRICE_CHECK_ACTIONS.get(check.get("action"), check.get("action") or "?"),
                        _amounts(check.get("found")),
                        _amounts(check.get("wrong")),
                    )
                    for check in checks
                ),
            ),
        )


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
    list_display = [
        "user_phone",
        "profile_name",
        "bot_paused",
        "first_seen_at",
        "last_seen_at",
        "limits_reset_at",
        "conversation_link",
    ]
    list_editable = ["bot_paused"]
    list_filter = ["bot_paused"]
    search_fields = ["user_phone", "profile_name"]
    ordering = ["-last_seen_at"]
    show_full_result_count = False
    fields = [
        "user_phone",
        "profile_name",
        "bot_paused",
        "first_seen_at",
        "last_seen_at",
        "lock_expires_at",
        "limits_reset_at",
        "spend_24h",
    ]
    readonly_fields = [
        "user_phone",
        "profile_name",
        "first_seen_at",
        "last_seen_at",
        "lock_expires_at",
        "limits_reset_at",
        "spend_24h",
    ]
    actions = ["lift_daily_limits"]

    @admin.display(description="spend counted for the daily limits")
    def spend_24h(self, obj: Contact) -> str:
        spend = budgets.get_user_spend(user_phone=obj.pk)
        since = timezone.localtime(spend.since)
        return f"{spend.turns} model turn(s), {format_usd(spend.cost_usd)} since {since:%Y-%m-%d %H:%M %Z}"

    @admin.action(description="Lift daily limits of selected users", permissions=["lift"])
    def lift_daily_limits(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        """Start each user's daily count afresh (the deployment's own daily limit still holds)."""
        limit = ACTION_SELECTION_LIMIT
        phones = list(queryset.order_by("pk").values_list("pk", flat=True)[: limit + 1])
        if len(phones) > limit:
            self.message_user(request, f"Select at most {limit} users for this action.", messages.ERROR)
            return
        lifted = [phone for phone in phones if budgets.lift_user_limits(user_phone=phone)]
        for contact in Contact.objects.filter(pk__in=lifted):
            self.log_change(request, contact, "Lifted the daily limits")
        self.message_user(
            request,
            f"Lifted the daily limits of {len(lifted)} user(s): their turns and spend are counted afresh from now. "
            "The deployment's daily cost limit still applies.",
            messages.SUCCESS,
        )

    def has_lift_permission(self, request: HttpRequest) -> bool:
        # Lifting a limit lets the bot go on answering a user: the same trust as pausing or resuming it.
        return request.user.has_perm("threads.pause_bot")

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


def _amounts(value: object) -> str:
    return ", ".join(str(amount) for amount in value) if isinstance(value, list) and value else "—"
