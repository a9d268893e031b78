"""Thread mappings in the admin: a read-only list and transcript, and the staff actions.

Mappings are made by the bot, never by hand, so the admin shows them read-only; what staff can
do (reset, pause/resume, write as a human) goes through confirmation pages that call the
services in `threads.staff`, each behind its own permission from `OaThreadMap.Meta`.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import BooleanField, Count, IntegerField, OuterRef, Q, QuerySet, Subquery, TextField, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import ngettext

from .. import consent, message_templates, staff, stats
from ..models import THREAD_ID_PREFIXES, Contact, Message, MessageTemplate, OaThreadMap, Turn
from .display import DATETIME_SECONDS_FORMAT, EMPTY, TurnSummary, format_datetime

logger = logging.getLogger(__name__)

# One action handles at most this many users: the confirmation page lists them all.
ACTION_SELECTION_LIMIT = 500
# Staff messages go out one user after another, inside the request.
SEND_SELECTION_LIMIT = 50
TRANSCRIPT_LIMIT = 500


class EngineFilter(admin.SimpleListFilter):
    """Which engine made the thread, told by the id's prefix."""

    title = "engine"
    parameter_name = "engine"

    def lookups(self, request, model_admin):
        engines = [(engine, f"{engine.capitalize()} ({prefix}…)") for engine, prefix in THREAD_ID_PREFIXES.items()]
        return [*engines, ("unknown", "Other")]

    def queryset(self, request, queryset):
        value = self.value()
        if value in THREAD_ID_PREFIXES:
            return queryset.filter(thread_id__startswith=THREAD_ID_PREFIXES[value])
        if value == "unknown":
            for prefix in THREAD_ID_PREFIXES.values():
                queryset = queryset.exclude(thread_id__startswith=prefix)
        return queryset


class ActivityFilter(admin.SimpleListFilter):
    """When the mapping was last used (its `updated_at`)."""

    title = "recent activity"
    parameter_name = "activity"

    def lookups(self, request, model_admin):
        return [("24h", "Last 24 hours"), ("7d", "Last 7 days"), ("older", "Older than 7 days")]

    def queryset(self, request, queryset):
        now = timezone.now()
        match self.value():
            case "24h":
                return queryset.filter(updated_at__gte=now - timedelta(hours=24))
            case "7d":
                return queryset.filter(updated_at__gte=now - timedelta(days=7))
            case "older":
                return queryset.filter(Q(updated_at__lt=now - timedelta(days=7)) | Q(updated_at__isnull=True))
        return queryset


class PausedFilter(admin.SimpleListFilter):
    title = "bot paused"
    parameter_name = "paused"

    def lookups(self, request, model_admin):
        return [("yes", "Paused (human takeover)"), ("no", "Bot answering")]

    def queryset(self, request, queryset):
        paused = Contact.objects.filter(bot_paused=True).values("user_phone")
        match self.value():
            case "yes":
                return queryset.filter(user_phone__in=paused)
            case "no":
                return queryset.exclude(user_phone__in=paused)
        return queryset


class ResetForm(forms.Form):
    delete_remote = forms.BooleanField(
        required=False,
        label="Also delete the remote conversation/thread at OpenAI",
        help_text="Without this the old conversation stays at OpenAI, unused.",
    )


class StaffMessageForm(forms.Form):
    text = forms.CharField(
        label="Message",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
        help_text="Sent on WhatsApp as is (split in parts above 1600 characters) and logged as sent by you.",
    )


class TemplateSendForm(forms.Form):
    """Choose an active template; once chosen, one field per placeholder (`var_1`, `var_2`, …)."""

    template = forms.ModelChoiceField(
        queryset=MessageTemplate.objects.filter(active=True),
        to_field_name="name",
        empty_label="Choose a template",
        help_text="Approved templates (Twilio Content Template Builder); add them under Message templates.",
    )

    def __init__(self, data=None, *, template_name: str | None = None) -> None:
        super().__init__(data)
        name = data.get("template") if data is not None else template_name
        self.chosen = MessageTemplate.objects.filter(name=name, active=True).first() if name else None
        if self.chosen is not None:
            self.initial["template"] = self.chosen.name
            hints = _variable_hints(self.chosen.variables)
            for placeholder in message_templates.placeholders(self.chosen.body):
                self.fields[f"var_{placeholder}"] = forms.CharField(
                    label=f"{{{{{placeholder}}}}}",
                    max_length=message_templates.MAX_VARIABLE_CHARS,
                    help_text=hints.get(placeholder, ""),
                )
        self.preview: message_templates.TemplatePreview | None = None

    def clean(self) -> dict:
        data = super().clean() or {}
        template = data.get("template")
        if template is None or self.errors:
            return data
        variables = {name.removeprefix("var_"): value for name, value in data.items() if name.startswith("var_")}
        try:
            self.preview = message_templates.prepare_template(name=template.name, variables=variables)
        except message_templates.TemplateError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return data


def _variable_hints(description: str) -> dict[str, str]:
    """Read "1: first name" lines of a template's variable description into {"1": "first name"}."""
    hints = {}
    for line in description.splitlines():
        key, sep, hint = line.partition(":")
        if sep and key.strip():
            hints[key.strip().strip("{}")] = hint.strip()
    return hints


@dataclass(frozen=True)
class _TranscriptRow:
    message: Message
    # Set on the first message of each turn: the turn's record is shown just before it.
    turn: Turn | None = None
    summary: TurnSummary | None = None


@dataclass(frozen=True)
class _StaffAction:
    name: str
    permission: str
    title: str
    template: str
    limit: int = ACTION_SELECTION_LIMIT


_ACTIONS = {
    "reset": _StaffAction("reset", "reset", "Reset threads", "admin/threads/oathreadmap/confirm_reset.html"),
    "pause": _StaffAction("pause", "pause", "Pause the bot", "admin/threads/oathreadmap/confirm_pause.html"),
    "resume": _StaffAction("resume", "pause", "Resume the bot", "admin/threads/oathreadmap/confirm_pause.html"),
    "send": _StaffAction(
        "send",
        "send",
        "Send a message as staff",
        "admin/threads/oathreadmap/send_message.html",
        limit=SEND_SELECTION_LIMIT,
    ),
    "template": _StaffAction(
        "template",
        "send",
        "Send an approved template",
        "admin/threads/oathreadmap/send_template.html",
        limit=SEND_SELECTION_LIMIT,
    ),
}
# The actions whose confirmation shows what each user may receive now (consent, 24-hour window).
_SENDING_ACTIONS = ("send", "template")


@admin.register(OaThreadMap)
class OaThreadMapAdmin(admin.ModelAdmin):
    list_display = [
        "user_phone",
        "profile_name",
        "thread_id",
        "engine",
        "created_at",
        "updated_at",
        "message_count",
        "last_message_at",
        "paused",
    ]
    list_filter = [EngineFilter, ActivityFilter, PausedFilter]
    # Profile names are searched too (they live in Contact): see get_search_results.
    search_fields = ["user_phone", "thread_id"]
    search_help_text = "Phone, WhatsApp profile name or thread id."
    ordering = ["-updated_at"]
    list_per_page = 50
    empty_value_display = EMPTY
    # Counting 100k rows on every page view is the slow part of a big changelist.
    show_full_result_count = False
    fields = [
        "user_phone",
        "profile_name",
        "thread_id",
        "engine",
        "paused",
        "created_at",
        "updated_at",
        "message_count",
        "last_message_at",
    ]
    readonly_fields = fields  # type: ignore[assignment]  # a flat list of names, which readonly_fields takes
    actions = ["reset_threads", "pause_bot", "resume_bot", "send_message", "send_template_message"]
    change_form_template = "admin/threads/oathreadmap/change_form.html"

    # --- queryset, columns, search -----------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[OaThreadMap]:
        """Add the contact and message-log columns as subqueries: one query per page, however many rows."""
        contact = Contact.objects.filter(user_phone=OuterRef("user_phone"))
        messages_of_user = Message.objects.filter(user_phone=OuterRef("user_phone")).order_by()
        count = messages_of_user.values("user_phone").annotate(n=Count("pk")).values("n")
        return (
            super()
            .get_queryset(request)
            .annotate(
                profile_name=Coalesce(
                    Subquery(contact.values("profile_name")[:1]), Value(""), output_field=TextField()
                ),
                bot_paused=Coalesce(
                    Subquery(contact.values("bot_paused")[:1]), Value(False), output_field=BooleanField()
                ),
                message_count=Coalesce(Subquery(count[:1]), Value(0), output_field=IntegerField()),
                last_message_at=Subquery(messages_of_user.order_by("-created_at").values("created_at")[:1]),
            )
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[OaThreadMap], search_term: str
    ) -> tuple[QuerySet[OaThreadMap], bool]:
        """Match every word against the phone, the thread id or the contact's profile name.

        The name is looked up with `user_phone IN (contacts matching)` rather than by filtering
        the annotation, so the database does not run a subquery per mapping.
        """
        for word in smart_split(search_term):
            if word[0] in "\"'" and word[0] == word[-1]:
                word = unescape_string_literal(word)
            names = Contact.objects.filter(profile_name__icontains=word).values("user_phone")
            queryset = queryset.filter(
                Q(user_phone__icontains=word) | Q(thread_id__icontains=word) | Q(user_phone__in=names)
            )
        return queryset, False

    @admin.display(description="WhatsApp name")
    def profile_name(self, obj: OaThreadMap) -> str:
        return getattr(obj, "profile_name", "")  # annotated by get_queryset

    @admin.display(description="engine")
    def engine(self, obj: OaThreadMap) -> str:
        return obj.engine

    @admin.display(description="messages")
    def message_count(self, obj: OaThreadMap) -> int:
        return getattr(obj, "message_count", 0)

    @admin.display(description="last message", ordering="last_message_at")
    def last_message_at(self, obj: OaThreadMap) -> str:
        # Formatted here: the change page shows a method's value as str(), not as Django's date.
        return format_datetime(getattr(obj, "last_message_at", None))

    @admin.display(description="bot paused", boolean=True)
    def paused(self, obj: OaThreadMap) -> bool:
        return bool(getattr(obj, "bot_paused", False))

    # --- permissions ---------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the bot creates mappings

    def has_change_permission(self, request: HttpRequest, obj: OaThreadMap | None = None) -> bool:
        return False  # no editing thread ids by hand: reset instead

    def has_delete_permission(self, request: HttpRequest, obj: OaThreadMap | None = None) -> bool:
        return False  # "Reset thread" is the delete, behind its own permission

    def has_reset_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("threads.reset_thread")

    def has_pause_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("threads.pause_bot")

    def has_send_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("threads.send_staff_message")

    def _has_action_permission(self, request: HttpRequest, action: _StaffAction) -> bool:
        return bool(getattr(self, f"has_{action.permission}_permission")(request))

    # --- change page: the transcript -------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        context = {**(extra_context or {}), **self._staff_tools_context(request)}
        if obj is not None:
            context.update(self._transcript_context(obj.user_phone))
        return super().change_view(request, object_id, form_url, extra_context=context)

    def _transcript_context(self, user_phone: str) -> dict:
        """The user's last TRANSCRIPT_LIMIT messages in time order, each turn's record before its first message."""
        user_messages = Message.objects.filter(user_phone=user_phone)
        total = user_messages.count()
        latest = list(
            user_messages.select_related("turn", "staff_user")
            .defer("turn__state")
            .order_by("-created_at", "-id")[:TRANSCRIPT_LIMIT]
        )
        rows, seen_turns = [], set()
        for message in reversed(latest):
            turn = message.turn if message.turn_id not in seen_turns else None
            seen_turns.add(message.turn_id)
            summary = TurnSummary.of(turn) if turn else None
            rows.append(_TranscriptRow(message=message, turn=turn, summary=summary))
        return {
            "transcript": rows,
            "transcript_total": total,
            "transcript_limit": TRANSCRIPT_LIMIT,
            "datetime_format": DATETIME_SECONDS_FORMAT,
        }

    def _staff_tools_context(self, request: HttpRequest) -> dict:
        return {
            "can_reset": self.has_reset_permission(request),
            "can_pause": self.has_pause_permission(request),
            "can_send": self.has_send_permission(request),
        }

    # --- actions: each one shows its confirmation page ---------------------------

    @admin.action(description="Reset thread of selected users", permissions=["reset"])
    def reset_threads(self, request: HttpRequest, queryset: QuerySet[OaThreadMap]) -> HttpResponse | None:
        return self._confirm_selection(request, queryset, _ACTIONS["reset"])

    @admin.action(description="Pause the bot (human takeover)", permissions=["pause"])
    def pause_bot(self, request: HttpRequest, queryset: QuerySet[OaThreadMap]) -> HttpResponse | None:
        return self._confirm_selection(request, queryset, _ACTIONS["pause"])

    @admin.action(description="Resume the bot", permissions=["pause"])
    def resume_bot(self, request: HttpRequest, queryset: QuerySet[OaThreadMap]) -> HttpResponse | None:
        return self._confirm_selection(request, queryset, _ACTIONS["resume"])

    @admin.action(description="Send a message as staff", permissions=["send"])
    def send_message(self, request: HttpRequest, queryset: QuerySet[OaThreadMap]) -> HttpResponse | None:
        return self._confirm_selection(request, queryset, _ACTIONS["send"])

    @admin.action(description="Send an approved template", permissions=["send"])
    def send_template_message(self, request: HttpRequest, queryset: QuerySet[OaThreadMap]) -> HttpResponse | None:
        return self._confirm_selection(request, queryset, _ACTIONS["template"])

    def _confirm_selection(
        self, request: HttpRequest, queryset: QuerySet[OaThreadMap], action: _StaffAction
    ) -> HttpResponse | None:
        # Rendered right here (not a redirect with the phones in the URL): long selections fit.
        limit = action.limit
        phones = list(queryset.order_by("pk").values_list("pk", flat=True)[: limit + 1])
        if len(phones) > limit:
            self.message_user(request, f"Select at most {limit} users for this action.", messages.ERROR)
            return None
        return self._render_confirmation(request, action, phones, self._form_for(action))

    # --- the confirmation views: GET shows what will happen, POST with "confirm" does it ---

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        views = [
            path(f"{name}/", self.admin_site.admin_view(self._action_view(name)), name=f"{info[0]}_{info[1]}_{name}")
            for name in _ACTIONS
        ]
        return [*views, *super().get_urls()]

    def _action_view(self, name: str):
        def view(request: HttpRequest) -> HttpResponse:
            return self.staff_action_view(request, _ACTIONS[name])

        return view

    def staff_action_view(self, request: HttpRequest, action: _StaffAction) -> HttpResponse:
        """Show the action's confirmation for the `phone` parameters; do it on a POST with "confirm".

        Each action checks its own permission here, so a direct POST without it gets a 403. It also
        takes the view permission, checked before any phone is looked up: the confirmation page shows
        names and thread ids, and "no such mapping" would tell which phones have one.
        Phones without a mapping are dropped: the admin acts on mappings only.
        """
        if not (self.has_view_permission(request) and self._has_action_permission(request, action)):
            raise PermissionDenied
        data = request.POST if request.method == "POST" else request.GET
        phones = list(dict.fromkeys(p for p in data.getlist("phone") if p))
        limit = action.limit
        found = set(OaThreadMap.objects.filter(pk__in=phones[: limit + 1]).values_list("pk", flat=True))
        phones = [p for p in phones if p in found]
        if not phones or len(phones) > limit:
            text = "No such thread mappings." if not phones else f"Select at most {limit} users for this action."
            self.message_user(request, text, messages.WARNING)
            return HttpResponseRedirect(self._changelist_url())
        if request.method == "POST" and action.name == "template":
            return self._template_step(request, action, phones)
        if request.method == "POST" and "confirm" in request.POST:
            form = self._form_for(action, request.POST)
            if form.is_valid():
                getattr(self, f"_do_{action.name}")(request, phones, form.cleaned_data)
                return HttpResponseRedirect(self._after_action_url(action, phones))
        else:
            form = self._form_for(action)
        return self._render_confirmation(request, action, phones, form)

    def _template_step(self, request: HttpRequest, action: _StaffAction, phones: list[str]) -> HttpResponse:
        """Choose a template, fill in its variables and preview it ("Preview"), then send it ("confirm")."""
        chosen = TemplateSendForm(template_name=request.POST.get("template") or None)
        has_variables = any(name.startswith("var_") for name in chosen.fields)
        if has_variables and not any(name.startswith("var_") for name in request.POST):
            # The template was just chosen: show its variable fields, without "required" errors yet.
            return self._render_confirmation(request, action, phones, chosen)
        form = TemplateSendForm(request.POST)
        if form.is_valid() and form.preview is not None:
            if "confirm" in request.POST:
                self._do_template(request, phones, form.preview)
                return HttpResponseRedirect(self._after_action_url(action, phones))
            return self._render_confirmation(request, action, phones, form, preview=form.preview.text)
        return self._render_confirmation(request, action, phones, form)

    def _form_for(self, action: _StaffAction, data=None) -> forms.Form:
        if action.name == "reset":
            return ResetForm(data)
        if action.name == "send":
            return StaffMessageForm(data)
        if action.name == "template":
            return TemplateSendForm(data)
        return forms.Form(data)

    def _render_confirmation(
        self, request: HttpRequest, action: _StaffAction, phones: list[str], form: forms.Form, *, preview: str = ""
    ) -> TemplateResponse:
        mappings = list(self.get_queryset(request).filter(pk__in=phones).order_by("pk"))
        if action.name in _SENDING_ACTIONS:
            states = consent.outbound_states(mapping.user_phone for mapping in mappings)
            for mapping in mappings:
                mapping.outbound_state = states[mapping.user_phone]  # type: ignore[attr-defined]
        context = {
            "show_outbound_state": action.name in _SENDING_ACTIONS,
            "template_url": reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_template"),
            "has_templates": MessageTemplate.objects.filter(active=True).exists(),
            "preview": preview,
            **self.admin_site.each_context(request),
            "title": action.title,
            "opts": self.opts,
            "action": action.name,
            "mappings": mappings,
            "phones": phones,
            "form": form,
            "post_url": reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{action.name}"),
            "changelist_url": self._changelist_url(),
            "media": self.media + form.media,
        }
        return TemplateResponse(request, action.template, context)

    def _do_reset(self, request: HttpRequest, phones: list[str], data: dict) -> None:
        # Logged before the rows go: the admin history then names what was reset, and by whom.
        self.log_deletions(request, OaThreadMap.objects.filter(pk__in=phones))
        results = [staff.reset_thread(user_phone=p, delete_remote=data["delete_remote"]) for p in phones]
        reset = sum(r.mapping_deleted for r in results)
        text = ngettext(
            "Reset %(count)d thread: the user's next message starts a new conversation.",
            "Reset %(count)d threads: each user's next message starts a new conversation.",
            reset,
        )
        self.message_user(request, text % {"count": reset}, messages.SUCCESS)
        if data["delete_remote"]:
            deleted = sum(r.remote_deleted for r in results)
            if deleted:
                text = ngettext(
                    "Deleted %(count)d remote conversation at OpenAI.",
                    "Deleted %(count)d remote conversations at OpenAI.",
                    deleted,
                )
                self.message_user(request, text % {"count": deleted}, messages.SUCCESS)
            for r in results:
                if r.mapping_deleted and not r.remote_deleted:
                    self.message_user(
                        request,
                        f"Could not delete {r.thread_id} of {r.user_phone} at OpenAI: {r.remote_error}",
                        messages.WARNING,
                    )

    def _do_pause(self, request: HttpRequest, phones: list[str], data: dict) -> None:
        changed = staff.set_bot_paused(user_phones=phones, paused=True)
        self._log_each(request, phones, "Paused the bot (human takeover)")
        text = ngettext(
            "Paused the bot for %(count)d user (%(already)d already paused).",
            "Paused the bot for %(count)d users (%(already)d already paused).",
            changed,
        ) % {"count": changed, "already": len(phones) - changed}
        self.message_user(
            request, f"{text} Their messages are held for staff and the bot does not answer them.", messages.SUCCESS
        )

    def _do_resume(self, request: HttpRequest, phones: list[str], data: dict) -> None:
        changed = staff.set_bot_paused(user_phones=phones, paused=False)
        self._log_each(request, phones, "Resumed the bot")
        text = ngettext("Resumed the bot for %(count)d user.", "Resumed the bot for %(count)d users.", changed)
        self.message_user(
            request,
            f"{text % {'count': changed}} Messages received while paused stay held: "
            "the bot answers only new messages, so answer the held ones yourself if needed.",
            messages.SUCCESS,
        )

    def _do_send(self, request: HttpRequest, phones: list[str], data: dict) -> None:
        failed: list[str] = []
        refused: list[str] = []
        delivered: list[str] = []
        for phone in phones:
            try:
                rows = staff.send_staff_message(
                    user_phone=phone, text=data["text"], staff_user_id=cast(int, request.user.pk)
                )
            except ImproperlyConfigured:
                logger.exception("staff message to %s could not be sent: messaging is not configured", phone)
                failed.append(phone)
                continue
            if blocked := [row for row in rows if row.status == Message.Status.BLOCKED]:
                refused.append(f"{phone}: {blocked[0].status_note}")
            elif any(row.status in stats.FAILED_DELIVERY_STATUSES for row in rows):
                failed.append(phone)
            else:
                delivered.append(phone)
        # The history says what was sent: a refused or failed send is no change to the user's conversation.
        self._log_each(request, delivered, "Sent a WhatsApp message as staff")
        sent = len(delivered)
        for reason in refused:
            self.message_user(request, f"Not sent to {reason}", messages.ERROR)
        if sent:
            text = ngettext(
                "Sent the message to %(count)d user, logged as sent by you.",
                "Sent the message to %(count)d users, logged as sent by you.",
                sent,
            )
            self.message_user(request, text % {"count": sent}, messages.SUCCESS)
        if failed:
            self.message_user(
                request,
                f"Could not send to {', '.join(failed)} (see the delivery status in the transcript).",
                messages.ERROR,
            )

    def _do_template(self, request: HttpRequest, phones: list[str], preview: message_templates.TemplatePreview) -> None:
        refused: list[str] = []
        delivered: list[str] = []
        for phone in phones:
            try:
                message_templates.send_template(
                    user_phone=phone,
                    name=preview.template.name,
                    variables=preview.variables,
                    staff_user_id=cast(int, request.user.pk),
                )
            except message_templates.TemplateError as exc:
                refused.append(str(exc))
                continue
            delivered.append(phone)
        self._log_each(request, delivered, f"Sent the WhatsApp template {preview.template.name}")
        sent = len(delivered)
        if sent:
            text = ngettext(
                "Sent the template to %(count)d user, logged as sent by you.",
                "Sent the template to %(count)d users, logged as sent by you.",
                sent,
            )
            self.message_user(request, text % {"count": sent}, messages.SUCCESS)
        for reason in refused:
            self.message_user(request, f"Not sent: {reason}", messages.WARNING)

    def _log_each(self, request: HttpRequest, phones: list[str], message: str) -> None:
        for mapping in OaThreadMap.objects.filter(pk__in=phones):
            self.log_change(request, mapping, message)

    def _changelist_url(self) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")

    def _after_action_url(self, action: _StaffAction, phones: list[str]) -> str:
        if action.name != "reset" and len(phones) == 1:
            return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[quote(phones[0])])
        return self._changelist_url()
