"""Turns and messages (read-only) and contacts (the pause switch, lifting daily limits) in the admin."""

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import ngettext

from .. import budgets, staff
from .. import consent as consent_rules
from ..models import Contact, Message, OaThreadMap, Turn
from ..phones import format_phone
from .display import (
    EMPTY,
    PRICE_CHECK_ACTIONS,
    cached_share,
    conversation_url,
    fallback_reason_label,
    format_count,
    format_datetime,
    format_ms,
    format_short_datetime,
    format_usd,
    price_checks_html,
    state_html,
    tool_calls_text,
    turn_cost,
    turn_tokens,
)
from .mappings import ACTION_SELECTION_LIMIT

# Badges and column styles of the turns, messages and contacts lists.
# A message body in the list is cut to this many characters; the whole body is on the message's page.
LIST_BODY_CHARS = 80


def _with_mapping(queryset: QuerySet) -> QuerySet:
    """Tell, in the same query, whether each row's user has a thread mapping (where their conversation link goes)."""
    return queryset.annotate(has_mapping=Exists(OaThreadMap.objects.filter(pk=OuterRef("user_phone"))))


def _count_column(field: str, description: str) -> Callable[[admin.ModelAdmin, Turn], str]:
    """A read-only admin column showing a turn's count field with thousands separators ("—" when empty)."""

    @admin.display(description=description)
    def column(self: admin.ModelAdmin, obj: Turn) -> str:
        return format_count(getattr(obj, field))

    return column


def _has_mapping(obj: Turn | Message | Contact) -> bool:
    return bool(getattr(obj, "has_mapping", False))  # annotated in the admins' querysets


def _user_link(obj: Turn | Message | Contact) -> str:
    url = conversation_url(obj.user_phone, has_mapping=_has_mapping(obj))
    return format_html('<a href="{}" title="{}">{}</a>', url, obj.user_phone, format_phone(obj.user_phone))


class FallbackReasonFilter(admin.SimpleListFilter):
    """Why the fallback answered, in staff's words (the query keeps the stored code)."""

    title = "fallback reason"
    parameter_name = "fallback_reason"

    def lookups(self, request, model_admin):
        stored = Turn.objects.exclude(fallback_reason="").order_by("fallback_reason").values_list("fallback_reason")
        return [(reason, fallback_reason_label(reason)) for (reason,) in stored.distinct()]

    def queryset(self, request, queryset):
        return queryset.filter(fallback_reason=self.value()) if self.value() else queryset


class _ReadOnlyAdmin(admin.ModelAdmin):
    """The log is written by the bot only."""

    show_full_result_count = False
    list_per_page = 100
    empty_value_display = EMPTY

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Turn)
class TurnAdmin(_ReadOnlyAdmin):
    # What staff scan, narrow enough for 1280 px with both sidebars (when and who share a column, so do
    # the model and its tokens, and the status carries the flags); the rest is on the turn's page.
    list_display = ["started", "status_and_flags", "latency", "model_and_tokens", "cost"]
    list_display_links = None  # `started` links to the turn's page itself: its cell holds the user's link too
    list_filter = ["status", "engine", "fallback_used", FallbackReasonFilter, "model"]
    search_fields = ["user_phone", "=response_id", "=thread_id"]
    search_help_text = "Phone (part of it), or an exact response/run or thread id."
    date_hierarchy = "started_at"
    ordering = ["-started_at"]
    fieldsets = [
        (None, {"fields": ["user_phone_link", "thread_id", "engine", "status", "response_id"]}),
        ("Timing", {"fields": ["started_display", "finished", "latency", "openai_requests"]}),
        (
            "Model and usage",
            {
                "fields": [
                    "model",
                    "input_tokens_display",
                    "cached_input_tokens_display",
                    "cached_share",
                    "output_tokens_display",
                    "reasoning_tokens_display",
                    "cost",
                ],
                "description": "Cached input is part of the input, reasoning part of the output.",
            },
        ),
        ("Fallback", {"fields": ["fallback_used_display", "fallback_reason_display", "limited", "error"]}),
        ("Price checks", {"fields": ["price_checks_display"]}),
        ("Tools and engine state", {"fields": ["tool_calls_display", "state_display"]}),
    ]
    readonly_fields = [
        "user_phone_link",
        "started_display",
        "finished",
        "latency",
        "openai_requests",
        "input_tokens_display",
        "cached_input_tokens_display",
        "cached_share",
        "output_tokens_display",
        "reasoning_tokens_display",
        "cost",
        "fallback_used_display",
        "fallback_reason_display",
        "limited",
        "price_checks_display",
        "tool_calls_display",
        "state_display",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Turn]:
        return _with_mapping(super().get_queryset(request))

    def get_fieldsets(self, request: HttpRequest, obj: Turn | None = None):
        """Leave out the engine state when there is none (most turns keep nothing between steps)."""
        if obj is not None and not obj.state:
            return [
                (name, {**options, "fields": [f for f in options["fields"] if f != "state_display"]})
                for name, options in self.fieldsets
            ]
        return self.fieldsets

    # --- the list ---------------------------------------------------------------------

    @admin.display(description="started · user", ordering="started_at")
    def started(self, obj: Turn) -> str:
        url = reverse("admin:threads_turn_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a><br>{}', url, format_short_datetime(obj.started_at), _user_link(obj))

    @admin.display(description="latency", ordering="latency_ms")
    def latency(self, obj: Turn) -> str:
        return format_ms(obj.latency_ms)

    @admin.display(description="model · tokens in / out", ordering="input_tokens")
    def model_and_tokens(self, obj: Turn) -> str:
        if not obj.model:
            return turn_tokens(obj)
        return format_html('<span class="quiet">{}</span><br>{}', obj.model, turn_tokens(obj))

    @admin.display(description="cost", ordering="cost_usd")
    def cost(self, obj: Turn) -> str:
        return turn_cost(obj)

    @admin.display(description="status", ordering="status")
    def status_and_flags(self, obj: Turn) -> str:
        """Show the status, with a badge only for what stands out: a budget limit, the fallback, a wrong price."""
        if obj.limited:
            status = format_html(
                '<span class="badge limited" title="not sent to the model">limit</span> {}',
                fallback_reason_label(obj.fallback_reason),
            )
        elif obj.status == Turn.Status.FALLBACK or obj.fallback_used:
            reason = fallback_reason_label(obj.fallback_reason) if obj.fallback_reason else ""
            status = format_html(
                '<span class="badge fallback" title="{}">fallback</span> {}', obj.get_status_display(), reason
            )
        else:
            status = format_html('<span title="{}">{}</span>', obj.get_status_display(), obj.status)
        actions = [c.get("action") for c in obj.price_checks if isinstance(c, dict) and c.get("wrong")]
        if not actions:
            return status
        done = ", ".join(PRICE_CHECK_ACTIONS.get(str(action), str(action)) for action in actions)
        return format_html('{}<br><span class="badge price-wrong" title="{}">wrong price</span>', status, done)

    # --- the turn's page ----------------------------------------------------------------

    @admin.display(description="user phone")
    def user_phone_link(self, obj: Turn) -> str:
        url = conversation_url(obj.user_phone, has_mapping=_has_mapping(obj))
        return format_html('{} (<a href="{}">conversation</a>)', obj.user_phone, url)

    @admin.display(description="started")
    def started_display(self, obj: Turn) -> str:
        return format_datetime(obj.started_at, seconds=True)

    @admin.display(description="finished")
    def finished(self, obj: Turn) -> str:
        return format_datetime(obj.finished_at, seconds=True)

    openai_requests = _count_column("openai_calls", "OpenAI requests")
    input_tokens_display = _count_column("input_tokens", "input tokens")
    cached_input_tokens_display = _count_column("cached_input_tokens", "cached input tokens")

    @admin.display(description="cached share")
    def cached_share(self, obj: Turn) -> str:
        return cached_share(obj)

    output_tokens_display = _count_column("output_tokens", "output tokens")
    reasoning_tokens_display = _count_column("reasoning_tokens", "reasoning tokens")

    @admin.display(description="fallback used")
    def fallback_used_display(self, obj: Turn) -> str:
        return "Yes" if obj.fallback_used else "No"

    @admin.display(description="fallback reason")
    def fallback_reason_display(self, obj: Turn) -> str:
        if not obj.fallback_reason:
            return EMPTY
        return f"{fallback_reason_label(obj.fallback_reason)} ({obj.fallback_reason})"

    @admin.display(description="limited")
    def limited(self, obj: Turn) -> str:
        return "Yes: a budget limit kept this turn from the model" if obj.limited else "No"

    @admin.display(description="price checks")
    def price_checks_display(self, obj: Turn) -> str:
        """List each checked reply in order, worded as in the transcript."""
        checks = price_checks_html(obj.price_checks)
        if not checks:
            return EMPTY
        return format_html(
            '<ol class="brenda-price-checks">{}</ol>', format_html_join("", "<li>{}</li>", ((c,) for c in checks))
        )

    @admin.display(description="tool calls")
    def tool_calls_display(self, obj: Turn) -> str:
        return tool_calls_text(obj.tool_calls)

    @admin.display(description="state")
    def state_display(self, obj: Turn) -> str:
        return state_html(obj.state)


@admin.register(Message)
class MessageAdmin(_ReadOnlyAdmin):
    # The body gets the room: when and who share a column, Twilio's error code goes with the status.
    list_display = ["created", "sender", "short_body", "status_display"]
    list_display_links = None  # `created` links to the message's page itself: its cell holds the user's link too
    list_filter = ["direction", "origin", "status"]
    search_fields = ["user_phone", "=twilio_sid"]
    search_help_text = "Phone (part of it) or an exact Twilio MessageSid."
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    list_select_related = ["staff_user"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return _with_mapping(super().get_queryset(request))

    @admin.display(description="time · user", ordering="created_at")
    def created(self, obj: Message) -> str:
        url = reverse("admin:threads_message_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a><br>{}', url, format_short_datetime(obj.created_at), _user_link(obj))

    @admin.display(description="from", ordering="origin")
    def sender(self, obj: Message) -> str:
        # The arrows are the transcript's: → the user wrote to us, ← we wrote to the user.
        arrow = "→" if obj.direction == Message.Direction.INBOUND else "←"
        return f"{arrow}\N{NO-BREAK SPACE}{obj.get_origin_display()}"

    @admin.display(description="body")
    def short_body(self, obj: Message) -> str:
        body = obj.body if len(obj.body) <= LIST_BODY_CHARS else obj.body[: LIST_BODY_CHARS - 1] + "…"
        return format_html('<span class="brenda-body">{}</span>', body) if body else EMPTY

    @admin.display(description="status", ordering="status")
    def status_display(self, obj: Message) -> str:
        status = obj.get_status_display()
        return f"{status} (error {obj.error_code})" if obj.error_code else status


class OptedOutFilter(admin.SimpleListFilter):
    title = "messages"
    parameter_name = "opted_out"

    def lookups(self, request, model_admin):
        return [("yes", "Opted out"), ("no", "Subscribed")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(opted_out_at__isnull=self.value() == "no")
        return queryset


class WindowFilter(admin.SimpleListFilter):
    """WhatsApp's 24-hour window: open while the user's last message is less than a day old."""

    title = "24-hour window"
    parameter_name = "window"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("closed", "Closed")]

    def queryset(self, request, queryset):
        cutoff = timezone.now() - consent_rules.WINDOW
        if self.value() == "open":
            return queryset.filter(last_inbound_at__gt=cutoff)
        if self.value() == "closed":
            return queryset.filter(Q(last_inbound_at__isnull=True) | Q(last_inbound_at__lte=cutoff))
        return queryset


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    # Narrow enough for 1280 px: the name over the phone, short dates; when they were first seen and
    # their lease are on the contact's page.
    list_display = ["contact", "bot_paused", "consent", "last_seen", "limits_reset", "conversation_link"]
    list_display_links = ["contact"]
    list_editable = ["bot_paused"]
    list_filter = ["bot_paused", OptedOutFilter, WindowFilter]
    search_fields = ["user_phone", "profile_name"]
    ordering = ["-last_seen_at"]
    show_full_result_count = False
    empty_value_display = EMPTY
    fields = [
        "user_phone",
        "profile_name",
        "bot_paused",
        "first_seen_at",
        "last_seen_at",
        "lock_expires_at",
        "limits_reset_at",
        "spend_24h",
        "last_inbound_at",
        "opted_out_at",
        "opted_out_via",
        "opted_in_at",
        "opted_in_via",
    ]
    readonly_fields = [
        "user_phone",
        "profile_name",
        "first_seen_at",
        "last_seen_at",
        "last_inbound_at",
        "opted_out_at",
        "opted_out_via",
        "opted_in_at",
        "opted_in_via",
        "lock_expires_at",
        "limits_reset_at",
        "spend_24h",
    ]
    actions = ["lift_daily_limits"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Contact]:
        return _with_mapping(super().get_queryset(request))

    @admin.display(description="contact", ordering="user_phone")
    def contact(self, obj: Contact) -> str:
        phone = format_phone(obj.user_phone)
        if not obj.profile_name:
            return phone
        return format_html('{}<br><span class="quiet">{}</span>', obj.profile_name, phone)

    @admin.display(description="messages", ordering="opted_out_at")
    def consent(self, obj: Contact) -> str:
        if obj.opted_out_at is not None:
            return format_html(
                '<span class="badge failed">OPTED OUT</span><br>{}', format_short_datetime(obj.opted_out_at)
            )
        if not consent_rules.is_window_open(obj.last_inbound_at):
            return "window closed"
        return "window open"

    @admin.display(description="last seen", ordering="last_seen_at")
    def last_seen(self, obj: Contact) -> str:
        return format_short_datetime(obj.last_seen_at)

    @admin.display(description="limits lifted", ordering="limits_reset_at")
    def limits_reset(self, obj: Contact) -> str:
        return format_short_datetime(obj.limits_reset_at)

    @admin.display(description="spend counted for the daily limits")
    def spend_24h(self, obj: Contact) -> str:
        spend = budgets.get_user_spend(user_phone=obj.pk)
        turns = ngettext("%(count)s model turn", "%(count)s model turns", spend.turns) % {
            "count": format_count(spend.turns)
        }
        since = format_datetime(spend.since)
        return f"{turns}, {format_usd(spend.cost_usd)} since {since} ({timezone.localtime(spend.since):%Z})"

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
        text = ngettext(
            "Lifted the daily limits of %(count)d user: their turns and spend are counted afresh from now.",
            "Lifted the daily limits of %(count)d users: their turns and spend are counted afresh from now.",
            len(lifted),
        ) % {"count": len(lifted)}
        self.message_user(request, f"{text} The deployment's daily cost limit still applies.", messages.SUCCESS)

    def has_lift_permission(self, request: HttpRequest) -> bool:
        # Lifting a limit lets the bot go on answering a user: the same trust as pausing or resuming it.
        return self.has_change_permission(request)

    @admin.display(description="conversation")
    def conversation_link(self, obj: Contact) -> str:
        # Users answered only by the catalogue responder have no thread mapping: the message log is
        # where staff find their conversation.
        url = conversation_url(obj.user_phone, has_mapping=_has_mapping(obj))
        label = "transcript" if _has_mapping(obj) else "messages"
        inbox = reverse("inbox_conversation", args=[obj.user_phone])
        return format_html('<a href="{}">{}</a> · <a href="{}">inbox</a>', url, label, inbox)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # The pause switch is the only editable field: it takes the pause permission, and the view
        # permission too (Django lets a change permission alone open the list, names and phones included).
        return request.user.has_perm("threads.view_contact") and request.user.has_perm("threads.pause_bot")

    def save_model(self, request: HttpRequest, obj: Contact, form, change: bool) -> None:
        staff.set_bot_paused(user_phones=[obj.pk], paused=obj.bot_paused)
