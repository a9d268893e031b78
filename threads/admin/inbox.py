"""The staff inbox at /admin/inbox/: every conversation, one page per conversation, and the JSON the pages poll.

Thin views: the rows and transcripts come from `threads.inbox`, the actions from
`threads.handoff` and `threads.staff`. Every URL needs staff login (`admin_view`) and the
`threads.use_inbox` permission; each action also its own (send, pause, reset), and is a POST
behind Django's CSRF check (a reset is asked for by GET, which only shows its confirmation). A
number Brenda has no contact for is a 404 everywhere: nothing is created for it. The pages work
without JavaScript; `threads/inbox.js` only swaps in fresh server-rendered parts when the polled
JSON says they changed.
"""

import hashlib
import logging
import re
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import handoff, inbox, staff
from ..message_templates import TemplateError, send_template
from ..models import Contact, MessageTemplate, OaThreadMap

logger = logging.getLogger(__name__)

# How often the open page asks whether something changed (milliseconds).
POLL_INTERVAL_MS = 3000


class MessageTextField(forms.CharField):
    """A textarea's text with its line breaks as the browser counted them (one character each).

    Browsers submit a line break as CRLF but count it as one character against `maxlength`:
    validating the CRLF text would refuse a message the box let staff type.
    """

    def to_python(self, value: Any) -> str:
        return str(super().to_python(value)).replace("\r\n", "\n").replace("\r", "\n")


class ReplyForm(forms.Form):
    text = MessageTextField(max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))


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


def _require_conversation(request: HttpRequest, user_phone: str, *perms: str) -> Contact:
    """The permissions, then the user's contact: a 404 for a number Brenda has none for (nothing is created for it)."""
    _require(request, *perms)
    contact = inbox.get_contact(user_phone)
    if contact is None:
        raise Http404("Brenda has no conversation with this number.")
    return contact


# --- The list ------------------------------------------------------------------------------------


@require_GET
def inbox_view(request: HttpRequest) -> TemplateResponse:
    _require(request)
    parts = _list_parts(request)
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
    parts = _list_parts(request)
    return _updates(request, parts, _version(parts))


def _list_parts(request: HttpRequest) -> dict[str, str]:
    status = request.GET.get("status", "")
    status = status if status in inbox.FILTERS else ""
    query = request.GET.get("q", "")[:100]
    try:
        page = int(request.GET.get("page", "1"))
    except ValueError:
        page = 1
    rows, total = inbox.list_conversations(status=status, query=query, page=page)
    page = inbox.clamp_page(page, total)
    context = {"rows": rows, "total": total, "pages": _page_links(page, inbox.page_count(total), status, query)}
    html = render_to_string("admin/inbox/_rows.html", context, request=request)
    return {"inbox-rows": html}


def _page_links(page: int, count: int, status: str, query: str) -> dict[str, Any]:
    """The list's page links, keeping the filter and the search (built here: the poll's own URL has other keys)."""

    def link(number: int) -> str:
        params = QueryDict(mutable=True)
        params.update({key: value for key, value in (("status", status), ("q", query)) if value})
        params["page"] = str(number)
        return f"?{params.urlencode()}"

    return {
        "number": page,
        "count": count,
        "first": link(1) if page > 1 else None,
        "previous": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if page < count else None,
        "last": link(count) if page < count else None,
    }


# --- One conversation ------------------------------------------------------------------------------


@require_GET
def conversation_view(request: HttpRequest, user_phone: str) -> TemplateResponse:
    contact = _require_conversation(request, user_phone)
    parts, state = _conversation_parts(request, contact)
    version = _version(parts)  # what the poll renders: a draft below is the page's own, not a change
    if draft := _pop_draft(request, user_phone):
        parts["inbox-compose"] = _render_compose(request, state, draft)
    inbox.mark_read(user_phone)
    context = {
        **admin.site.each_context(request),
        "title": f"Conversation with {contact.profile_name or user_phone}",
        "user_phone": user_phone,
        "contact": contact,
        "parts": parts,
        "version": version,
        "poll_url": reverse("inbox_conversation_updates", args=[user_phone]),
        "poll_interval": POLL_INTERVAL_MS,
        "mapping_url": _mapping_url(request, user_phone),
    }
    return TemplateResponse(request, "admin/inbox/conversation.html", context)


@require_GET
def conversation_updates_view(request: HttpRequest, user_phone: str) -> JsonResponse:
    contact = _require_conversation(request, user_phone)
    parts, _ = _conversation_parts(request, contact)
    version = _version(parts)
    response = _updates(request, parts, version)
    if request.GET.get("version") != version:
        inbox.mark_read(user_phone)  # staff have the page open: what they are shown is read
    return response


def _conversation_parts(request: HttpRequest, contact: Contact) -> tuple[dict[str, str], dict[str, Any]]:
    """The page's live parts, and the context they were rendered from (so the page fetches once).

    The action buttons and the reply box are parts too: they follow the state the badges show
    (a user asking for a person pauses the bot; the 24-hour window closes).
    """
    rows, total = inbox.get_conversation(contact)
    window_open, window_closes = inbox.window_state(contact)
    context: dict[str, Any] = {
        "user_phone": contact.user_phone,
        "contact": contact,
        "messages": rows,
        "total": total,
        "limit": inbox.TRANSCRIPT_LIMIT,
        "window_open": window_open,
        "window_closes": window_closes,
        "can_send": request.user.has_perm("threads.send_staff_message"),
        "can_pause": request.user.has_perm("threads.pause_bot"),
        "can_reset": request.user.has_perm("threads.reset_thread"),
    }
    parts: dict[str, str] = {
        "inbox-transcript": render_to_string("admin/inbox/_transcript.html", context, request=request),
        "inbox-state": render_to_string("admin/inbox/_state.html", context, request=request),
        "inbox-actions": render_to_string("admin/inbox/_actions.html", context, request=request),
        "inbox-compose": _render_compose(request, context, {}),
    }
    return parts, context


def _render_compose(request: HttpRequest, context: dict[str, Any], draft: dict[str, str]) -> str:
    """The reply box (or, the window closed, the template form), filled with `draft` when a send was refused."""
    forms_context = {
        **context,
        "reply_form": ReplyForm(initial={"text": draft.get("text", "")}),
        "template_form": TemplateForm(initial={key: draft[key] for key in ("name", "variables") if key in draft}),
    }
    return render_to_string("admin/inbox/_compose.html", forms_context, request=request)


def _updates(request: HttpRequest, parts: dict[str, str], version: str) -> JsonResponse:
    if request.GET.get("version") == version:
        return JsonResponse({"version": version, "changed": False})
    return JsonResponse({"version": version, "changed": True, "parts": parts})


# Each render masks the CSRF token afresh: the version must not change with it.
_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


def _version(parts: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for key in sorted(parts):
        digest.update(key.encode())
        digest.update(_CSRF_INPUT.sub("", parts[key]).encode())
    return digest.hexdigest()[:20]


# --- Actions -----------------------------------------------------------------------------------------


@require_POST
def reply_view(request: HttpRequest, user_phone: str) -> HttpResponse:
    contact = _require_conversation(request, user_phone, "threads.send_staff_message")
    form = ReplyForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Write a message (at most 4,000 characters). Your text is still in the box.")
        return _back(user_phone, keep_draft_of=request)
    try:
        rows = staff.send_staff_message(
            user_phone=user_phone, text=form.cleaned_data["text"], staff_user_id=cast(int, request.user.pk)
        )
    except ImproperlyConfigured:
        logger.exception("staff reply to %s could not be sent: messaging is not configured", user_phone)
        messages.error(request, "Messaging is not configured: nothing was sent. Your text is still in the box.")
        return _back(user_phone, keep_draft_of=request)
    problem = handoff.undelivered_reason(rows)
    if problem is not None:
        messages.error(request, f"Not delivered: {problem}")
        return _back(user_phone, keep_draft_of=request)
    _log_change(request, contact, "Sent a WhatsApp message as staff")
    messages.success(request, "Sent.")
    return _back(user_phone)


@require_POST
def template_view(request: HttpRequest, user_phone: str) -> HttpResponse:
    contact = _require_conversation(request, user_phone, "threads.send_staff_message")
    form = TemplateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose an active template and give its variables as NAME=value lines.")
        return _back(user_phone, keep_draft_of=request)
    try:
        message = send_template(
            user_phone=user_phone,
            name=form.cleaned_data["name"].name,
            variables=form.cleaned_data["variables"],
            staff_user_id=cast(int, request.user.pk),
        )
    except TemplateError as exc:
        messages.error(request, str(exc))
        return _back(user_phone, keep_draft_of=request)
    name = form.cleaned_data["name"].name
    if problem := handoff.undelivered_reason([message]):
        messages.error(request, f"Template {name} not delivered: {problem}")
        return _back(user_phone, keep_draft_of=request)
    _log_change(request, contact, f"Sent the WhatsApp template {name}")
    messages.success(request, f"Template {name} sent ({message.get_status_display()}).")
    return _back(user_phone)


@require_POST
def pause_view(request: HttpRequest, user_phone: str) -> HttpResponse:
    contact = _require_conversation(request, user_phone, "threads.pause_bot")
    staff.set_bot_paused(user_phones=[user_phone], paused=True)
    _log_change(request, contact, "Paused the bot (human takeover)")
    messages.success(request, "Bot paused: the user's messages wait for staff.")
    return _back(user_phone)


@require_POST
def resume_view(request: HttpRequest, user_phone: str) -> HttpResponse:
    contact = _require_conversation(request, user_phone, "threads.pause_bot")
    handoff.resume_bot(user_phone=user_phone, staff_user_id=cast(int, request.user.pk))
    _log_change(request, contact, "Resumed the bot")
    messages.success(request, "Bot resumed: it answers the user's next message, knowing what staff said.")
    return _back(user_phone)


@require_POST
def resolve_view(request: HttpRequest, user_phone: str) -> HttpResponse:
    contact = _require_conversation(request, user_phone, "threads.pause_bot")
    if handoff.resolve(user_phone=user_phone, staff_user_id=cast(int, request.user.pk)):
        _log_change(request, contact, "Resolved the user's wait for staff")
        messages.success(request, "Marked as resolved. The bot stays paused until you resume it.")
    else:
        messages.info(request, "The user was not waiting for staff.")
    return _back(user_phone)


@require_http_methods(["GET", "POST"])
def reset_view(request: HttpRequest, user_phone: str) -> HttpResponse:
    """GET asks for confirmation (a reset forgets the conversation); POST resets."""
    contact = _require_conversation(request, user_phone, "threads.reset_thread")
    mapping = OaThreadMap.objects.filter(pk=user_phone)
    if request.method == "GET":
        context = {
            **admin.site.each_context(request),
            "title": "Reset thread",
            "user_phone": user_phone,
            "contact": contact,
            "has_mapping": mapping.exists(),
        }
        return TemplateResponse(request, "admin/inbox/confirm_reset.html", context)
    # Logged before the mapping goes, as the thread-mapping admin does: the history names what was reset.
    _model_admin().log_deletions(request, mapping)
    result = staff.reset_thread(user_phone=user_phone)
    if result.mapping_deleted:
        messages.success(request, "Thread reset: the user's next message starts a new conversation.")
    elif result.history_reset:
        _log_change(request, contact, "Reset the history (no thread mapping)")
        messages.success(
            request,
            "The user had no thread mapping; their history starts afresh. "
            "The rule-based responder forgets the course and list it last discussed.",
        )
    else:
        messages.info(request, "This user has no thread to reset.")
    return _back(user_phone)


def _model_admin() -> admin.ModelAdmin:
    return admin.site.get_model_admin(OaThreadMap)


def _log_change(request: HttpRequest, contact: Contact, message: str) -> None:
    """Write the admin history entry the thread-mapping admin writes for the same action.

    On the user's mapping, as there; a user without one (only the rule-based responder
    answered them) gets it on their contact.
    """
    target = OaThreadMap.objects.filter(pk=contact.pk).first() or contact
    _model_admin().log_change(request, target, message)


# What staff typed into a form that was refused, kept until the conversation page shows it again.
_DRAFT_FIELDS = ("text", "name", "variables")
_DRAFT_MAX_CHARS = 20_000


def _draft_key(user_phone: str) -> str:
    return f"inbox_draft:{user_phone}"


def _back(user_phone: str, *, keep_draft_of: HttpRequest | None = None) -> HttpResponseRedirect:
    """Back to the conversation; `keep_draft_of` a refused send, its fields fill the box again there (once)."""
    if keep_draft_of is not None:
        posted = keep_draft_of.POST
        keep_draft_of.session[_draft_key(user_phone)] = {
            field: posted[field][:_DRAFT_MAX_CHARS] for field in _DRAFT_FIELDS if posted.get(field)
        }
    return HttpResponseRedirect(reverse("inbox_conversation", args=[user_phone]))


def _pop_draft(request: HttpRequest, user_phone: str) -> dict[str, str]:
    return request.session.pop(_draft_key(user_phone), None) or {}


def _mapping_url(request: HttpRequest, user_phone: str) -> str | None:
    """The user's thread-mapping page, when they have a mapping and staff may open it."""
    if not request.user.has_perm("threads.view_oathreadmap"):
        return None
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
