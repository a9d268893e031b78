"""The staff inbox at /admin/inbox/: every conversation, one page per conversation, and the JSON the pages poll.

Thin views: the rows and transcripts come from `threads.inbox`, the actions from
`threads.handoff` and `threads.staff`. Every URL needs staff login (`admin_view`) and the
`threads.use_inbox` permission; each action also its own (send, pause, reset), and is a POST
behind Django's CSRF check. The pages work without JavaScript; `threads/inbox.js` only swaps
in fresh server-rendered parts when the polled JSON says they changed.
"""

import hashlib
import logging
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST

from .. import handoff, inbox, staff
from ..message_templates import TemplateError, send_template
from ..models import MessageTemplate, OaThreadMap

logger = logging.getLogger(__name__)

# How often the open page asks whether something changed (milliseconds).
POLL_INTERVAL_MS = 3000


class ReplyForm(forms.Form):
    text = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))


class TemplateForm(forms.Form):
    name = forms.ModelChoiceField(queryset=MessageTemplate.objects.filter(active=True), to_field_name="name")
    variables = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line, e.g. 1=Ana",
    )

    def clean_variables(self) -> dict[str, str]:
        values = {}
        for line in self.cleaned_data["variables"].splitlines():
            if not line.strip():
                continue
            key, equals, value = line.partition("=")
            if not equals:
                raise forms.ValidationError(f"{line!r} is not NAME=value")
            values[key.strip()] = value.strip()
        return values


def _require(request: HttpRequest, *perms: str) -> None:
    if not request.user.has_perms(["threads.use_inbox", *perms]):
        raise PermissionDenied


# --- The list ------------------------------------------------------------------------------------


@require_GET
def inbox_view(request: HttpRequest) -> TemplateResponse:
    _require(request)
    parts, _ = _list_parts(request)
    context = {
        **admin.site.each_context(request),
        "title": "Inbox",
        "filters": inbox.FILTERS,
        "status": request.GET.get("status", ""),
        "q": request.GET.get("q", ""),
        "parts": parts,
        "version": _version(parts),
        "poll_url": f"{reverse('inbox_updates')}?{request.GET.urlencode()}",
        "poll_interval": POLL_INTERVAL_MS,
    }
    return TemplateResponse(request, "admin/inbox/list.html", context)


@require_GET
def inbox_updates_view(request: HttpRequest) -> JsonResponse:
    _require(request)
    parts, _ = _list_parts(request)
    return _updates(request, parts, _version(parts))


def _list_parts(request: HttpRequest) -> tuple[dict[str, str], int]:
    status = request.GET.get("status", "")
    status = status if status in inbox.FILTERS else ""
    try:
        page = max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        page = 1
    rows, total = inbox.list_conversations(status=status, query=request.GET.get("q", "")[:100], page=page)
    html = render_to_string("admin/inbox/_rows.html", {"rows": rows, "total": total}, request=request)
    return {"inbox-rows": html}, total


# --- One conversation ------------------------------------------------------------------------------


@require_GET
def conversation_view(request: HttpRequest, user_phone: str) -> TemplateResponse:
    _require(request)
    parts, state = _conversation_parts(request, user_phone)
    inbox.mark_read(user_phone)
    contact = state["contact"]
    context = {
        **admin.site.each_context(request),
        "title": f"Conversation with {(contact.profile_name if contact else '') or user_phone}",
        "user_phone": user_phone,
        "contact": contact,
        "parts": parts,
        "version": _version(parts),
        "poll_url": reverse("inbox_conversation_updates", args=[user_phone]),
        "poll_interval": POLL_INTERVAL_MS,
        "window_open": state["window_open"],
        "reply_form": ReplyForm(),
        "template_form": TemplateForm(),
        "can_send": request.user.has_perm("threads.send_staff_message"),
        "can_pause": request.user.has_perm("threads.pause_bot"),
        "can_reset": request.user.has_perm("threads.reset_thread"),
        "mapping_url": _mapping_url(user_phone),
    }
    return TemplateResponse(request, "admin/inbox/conversation.html", context)


@require_GET
def conversation_updates_view(request: HttpRequest, user_phone: str) -> JsonResponse:
    _require(request)
    parts, _ = _conversation_parts(request, user_phone)
    version = _version(parts)
    response = _updates(request, parts, version)
    if request.GET.get("version") != version:
        inbox.mark_read(user_phone)  # staff have the page open: what they are shown is read
    return response


def _conversation_parts(request: HttpRequest, user_phone: str) -> tuple[dict[str, str], dict[str, Any]]:
    """The page's live parts, and the context they were rendered from (so the page fetches once)."""
    contact, rows, total = inbox.get_conversation(user_phone)
    if contact is None and not rows:
        raise Http404("Brenda has no conversation with this number.")
    window_open, window_closes = inbox.window_state(contact)
    context: dict[str, Any] = {
        "contact": contact,
        "messages": rows,
        "total": total,
        "limit": inbox.TRANSCRIPT_LIMIT,
        "window_open": window_open,
        "window_closes": window_closes,
    }
    parts: dict[str, str] = {
        "inbox-transcript": render_to_string("admin/inbox/_transcript.html", context, request=request),
        "inbox-state": render_to_string("admin/inbox/_state.html", context, request=request),
    }
    return parts, context


def _updates(request: HttpRequest, parts: dict[str, str], version: str) -> JsonResponse:
    if request.GET.get("version") == version:
        return JsonResponse({"version": version, "changed": False})
    return JsonResponse({"version": version, "changed": True, "parts": parts})


def _version(parts: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for key in sorted(parts):
        digest.update(key.encode())
        digest.update(parts[key].encode())
    return digest.hexdigest()[:20]


# --- Actions -----------------------------------------------------------------------------------------


@require_POST
def reply_view(request: HttpRequest, user_phone: str) -> HttpResponse:
    _require(request, "threads.send_staff_message")
    form = ReplyForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Write a message (at most 4,000 characters).")
        return _back(user_phone)
    try:
        rows = staff.send_staff_message(
            user_phone=user_phone, text=form.cleaned_data["text"], staff_user_id=cast(int, request.user.pk)
        )
    except ImproperlyConfigured:
        logger.exception("staff reply to %s could not be sent: messaging is not configured", user_phone)
        messages.error(request, "Messaging is not configured: nothing was sent.")
        return _back(user_phone)
    problem = next(
        (row.status_note or row.get_status_display() for row in rows if row.status in handoff.UNDELIVERED_STATUSES),
        None,
    )
    if problem is not None:
        messages.error(request, f"Not delivered: {problem}")
    else:
        messages.success(request, "Sent.")
    return _back(user_phone)


@require_POST
def template_view(request: HttpRequest, user_phone: str) -> HttpResponse:
    _require(request, "threads.send_staff_message")
    form = TemplateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose an active template and give its variables as NAME=value lines.")
        return _back(user_phone)
    try:
        message = send_template(
            user_phone=user_phone,
            name=form.cleaned_data["name"].name,
            variables=form.cleaned_data["variables"],
            staff_user_id=cast(int, request.user.pk),
        )
    except TemplateError as exc:
        messages.error(request, str(exc))
        return _back(user_phone)
    messages.success(request, f"Template {form.cleaned_data['name'].name} sent ({message.get_status_display()}).")
    return _back(user_phone)


@require_POST
def pause_view(request: HttpRequest, user_phone: str) -> HttpResponse:
    _require(request, "threads.pause_bot")
    staff.set_bot_paused(user_phones=[user_phone], paused=True)
    messages.success(request, "Bot paused: the user's messages wait for staff.")
    return _back(user_phone)


@require_POST
def resume_view(request: HttpRequest, user_phone: str) -> HttpResponse:
    _require(request, "threads.pause_bot")
    handoff.resume_bot(user_phone=user_phone, staff_user_id=cast(int, request.user.pk))
    messages.success(request, "Bot resumed: it answers the user's next message, knowing what staff said.")
    return _back(user_phone)


@require_POST
def resolve_view(request: HttpRequest, user_phone: str) -> HttpResponse:
    _require(request, "threads.pause_bot")
    if handoff.resolve(user_phone=user_phone, staff_user_id=cast(int, request.user.pk)):
        messages.success(request, "Marked as resolved. The bot stays paused until you resume it.")
    else:
        messages.info(request, "The user was not waiting for staff.")
    return _back(user_phone)


@require_POST
def reset_view(request: HttpRequest, user_phone: str) -> HttpResponse:
    _require(request, "threads.reset_thread")
    result = staff.reset_thread(user_phone=user_phone)
    if result.mapping_deleted:
        messages.success(request, "Thread reset: the user's next message starts a new conversation.")
    else:
        messages.info(request, "This user has no thread to reset.")
    return _back(user_phone)


def _back(user_phone: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("inbox_conversation", args=[user_phone]))


def _mapping_url(user_phone: str) -> str | None:
    if not OaThreadMap.objects.filter(pk=user_phone).exists():
        return None
    return reverse("admin:threads_oathreadmap_change", args=[quote(user_phone)])


def _admin(view):
    return admin.site.admin_view(view)


urlpatterns = [
    path("", _admin(inbox_view), name="inbox"),
    path("updates.json", _admin(inbox_updates_view), name="inbox_updates"),
    path("<str:user_phone>/", _admin(conversation_view), name="inbox_conversation"),
    path("<str:user_phone>/updates.json", _admin(conversation_updates_view), name="inbox_conversation_updates"),
    path("<str:user_phone>/reply/", _admin(reply_view), name="inbox_reply"),
    path("<str:user_phone>/template/", _admin(template_view), name="inbox_template"),
    path("<str:user_phone>/pause/", _admin(pause_view), name="inbox_pause"),
    path("<str:user_phone>/resume/", _admin(resume_view), name="inbox_resume"),
    path("<str:user_phone>/resolve/", _admin(resolve_view), name="inbox_resolve"),
    path("<str:user_phone>/reset/", _admin(reset_view), name="inbox_reset"),
]
