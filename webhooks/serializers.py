"""Input validation of the webhooks: Twilio's forms (inbound message, status callback) and OpenAI's events.

Twilio's fields arrive as text someone else controls. NUL characters (which PostgreSQL text
cannot store) are removed from every field, an over-long body is cut rather than refused —
the user's message must not be lost to a 400 — and media entries that make no sense are
skipped. Only a sender or a `MessageSid` we cannot trust makes the request invalid.

Plain functions rather than DRF serializers: the inbound webhook is the hottest path Brenda
has, and building a serializer (it deep-copies its fields) cost more than the rest of the
validation together. Errors keep DRF's shape and wording: `{"field": ["message"]}`.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeGuard
from urllib.parse import urlsplit

from django.http import QueryDict

from threads.message_log import InboundMedia
from threads.phones import SENDER_PATTERN

MAX_BODY_CHARS = 4096
MAX_PROFILE_NAME_CHARS = 200
MAX_MEDIA = 10  # Twilio's own limit per message
MAX_MEDIA_URL_CHARS = 2048
MAX_ERROR_CODE_CHARS = 16
MAX_EVENT_ID_CHARS = 255  # the columns of `OpenAIWebhookEvent`
MAX_EVENT_TYPE_CHARS = 100

# A Message SID is `SM` or `MM` and 32 hex digits, exactly (Twilio's error 90001 states the pattern).
# Exactly matters: Twilio's signature covers the URL plus every key and value run together, so a
# captured request whose `MessageSid` swallowed the next field (`SM…` + "MessageType" + "text")
# keeps its signature. A looser pattern let that copy in as a new message, answered twice.
MESSAGE_SID_PATTERN = r"^(SM|MM)[0-9a-fA-F]{32}$"
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9][\w.+-]*/[\w.+-]+(;.*)?$")
_SENDER = re.compile(SENDER_PATTERN)
_MESSAGE_SID = re.compile(MESSAGE_SID_PATTERN)
_MESSAGE_STATUS = re.compile(r"^[a-z_]{1,32}$")
_ERROR_CODE = re.compile(rf"^[0-9]{{1,{MAX_ERROR_CODE_CHARS}}}$")

REQUIRED = "This field is required."
BLANK = "This field may not be blank."
INVALID_SENDER = "must be whatsapp:+<7-15 digits> or +<7-15 digits>"
INVALID_SID = "must be SM or MM followed by 32 hexadecimal digits"
INVALID_ERROR_CODE = "must be a Twilio error code (digits)"
REPEATED = "must appear once"
INVALID_STATUS = "must be a Twilio message status such as 'delivered'"

FieldErrors = dict[str, list[str]]


class InvalidForm(ValueError):
    """Raised when a Twilio form lacks a field Brenda needs or holds one it cannot trust; `errors` says which."""

    def __init__(self, errors: FieldErrors) -> None:
        super().__init__(", ".join(sorted(errors)))
        self.errors = errors


def clean_form(data: QueryDict | Mapping[str, str]) -> dict[str, str]:
    """Return the form's fields with NUL characters removed; raise `InvalidForm` if a field comes twice.

    Twilio sends each field once. Two of them (or two that become one once NUL is removed) would
    leave us to pick a sender or a body among values the signature covers in another order.
    """
    pairs = data.lists() if isinstance(data, QueryDict) else ((key, [value]) for key, value in data.items())
    cleaned: dict[str, str] = {}
    repeated: FieldErrors = {}
    for key, values in pairs:
        name = str(key).replace("\x00", "")
        if len(values) > 1 or name in cleaned:
            repeated[name] = [REPEATED]
        cleaned[name] = str(values[-1]).replace("\x00", "")
    if repeated:
        raise InvalidForm(repeated)
    return cleaned


@dataclass(frozen=True)
class TwilioInbound:
    """An inbound WhatsApp (or SMS) message, as validated."""

    sender: str  # `From`
    message_sid: str
    body: str
    profile_name: str
    media: list[InboundMedia]


@dataclass(frozen=True)
class TwilioStatus:
    """A delivery status callback for one of our outbound messages, as validated."""

    message_sid: str
    status: str
    error_code: str


def read_inbound_form(form: Mapping[str, str]) -> TwilioInbound:
    """Validate an inbound message's form (`clean_form` output); raise `InvalidForm` when it cannot be stored."""
    errors: FieldErrors = {}
    sender = _matching(form, "From", _SENDER, INVALID_SENDER, errors)
    message_sid = _matching(form, "MessageSid", _MESSAGE_SID, INVALID_SID, errors)
    if errors:
        raise InvalidForm(errors)
    return TwilioInbound(
        sender=sender,
        message_sid=message_sid,
        body=form.get("Body", "")[:MAX_BODY_CHARS],
        profile_name=form.get("ProfileName", "").strip()[:MAX_PROFILE_NAME_CHARS],
        media=parse_media(form),
    )


def read_status_form(form: Mapping[str, str]) -> TwilioStatus:
    """Validate a status callback's form (`clean_form` output); raise `InvalidForm` when it cannot be applied."""
    errors: FieldErrors = {}
    message_sid = _matching(form, "MessageSid", _MESSAGE_SID, INVALID_SID, errors)
    status = _matching(form, "MessageStatus", _MESSAGE_STATUS, INVALID_STATUS, errors)
    # Only digits: the admin explains our own codes ("opted_out", …), which a callback must not forge.
    error_code = form.get("ErrorCode", "").strip()
    if error_code and not _ERROR_CODE.match(error_code):
        errors["ErrorCode"] = [INVALID_ERROR_CODE]
    if errors:
        raise InvalidForm(errors)
    return TwilioStatus(message_sid=message_sid, status=status, error_code=error_code)


def _matching(form: Mapping[str, str], name: str, pattern: re.Pattern, message: str, errors: FieldErrors) -> str:
    """Return the required field `name`, stripped, if it matches `pattern`; otherwise note why in `errors`."""
    value = form.get(name)
    if value is None:
        errors[name] = [REQUIRED]
        return ""
    value = value.strip()
    if not value:
        errors[name] = [BLANK]
    elif not pattern.search(value):
        errors[name] = [message]
    return value


def parse_media(form: Mapping[str, str]) -> list[InboundMedia]:
    """Read `NumMedia`, `MediaUrlN` and `MediaContentTypeN` into at most `MAX_MEDIA` entries.

    An entry without an http(s) URL is skipped; an unreadable content type becomes
    `application/octet-stream`. A missing, broken or negative `NumMedia` means "look at all slots".
    `MessageType=sticker` marks the entries as a sticker (answered without the model).
    """
    sticker = (form.get("MessageType") or "").strip().lower() == "sticker"
    try:
        declared = int(form.get("NumMedia", ""))
    except (TypeError, ValueError):
        declared = -1
    count = min(declared, MAX_MEDIA) if declared >= 0 else MAX_MEDIA
    media = []
    for index in range(count):
        url = (form.get(f"MediaUrl{index}") or "").strip()
        if not _is_media_url(url):
            continue
        content_type = (form.get(f"MediaContentType{index}") or "").strip()
        if len(content_type) > 255 or not _CONTENT_TYPE.match(content_type):
            content_type = "application/octet-stream"
        media.append(InboundMedia(url=url, content_type=content_type, sticker=sticker))
    return media


def _is_media_url(url: str) -> bool:
    if not url or len(url) > MAX_MEDIA_URL_CHARS or any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


@dataclass(frozen=True)
class OpenAIEventFields:
    """What Brenda reads off a verified OpenAI event. `response_id` is None when the event carries none."""

    event_id: str
    event_type: str
    response_id: str | None


def read_openai_event(event: object) -> OpenAIEventFields | None:
    """Return the event's id, type and `data.id`; None when the id or type is missing, not printable text or too long.

    The SDK's event classes differ in shape and a signed payload may still be odd, so nothing is
    assumed: every field is read with `getattr`.
    """
    event_id = getattr(event, "id", None)
    event_type = getattr(event, "type", None)
    if not _is_short_text(event_id, MAX_EVENT_ID_CHARS) or not _is_short_text(event_type, MAX_EVENT_TYPE_CHARS):
        return None
    response_id = getattr(getattr(event, "data", None), "id", None)
    return OpenAIEventFields(
        event_id=event_id,
        event_type=event_type,
        response_id=response_id if _is_short_text(response_id, MAX_EVENT_ID_CHARS) else None,
    )


def _is_short_text(value: object, limit: int) -> TypeGuard[str]:
    """Text a column can hold and a log can show: no NUL, control character or lone surrogate."""
    return isinstance(value, str) and 0 < len(value) <= limit and value.isprintable()
