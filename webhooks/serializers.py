"""Input validation of the webhooks: Twilio's forms (inbound message, status callback) and OpenAI's events.

Twilio's fields arrive as text someone else controls. NUL characters (which PostgreSQL text
cannot store) are removed from every field, an over-long body is cut rather than refused —
the user's message must not be lost to a 400 — and media entries that make no sense are
skipped. Only a sender or a `MessageSid` we cannot trust makes the request invalid.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.http import QueryDict
from rest_framework import serializers

from threads.message_log import InboundMedia
from threads.phones import SENDER_PATTERN

MAX_BODY_CHARS = 4096
MAX_PROFILE_NAME_CHARS = 200
MAX_MEDIA = 10  # Twilio's own limit per message
MAX_MEDIA_URL_CHARS = 2048
MAX_ERROR_CODE_CHARS = 16
MAX_EVENT_ID_CHARS = 255  # the columns of `OpenAIWebhookEvent`
MAX_EVENT_TYPE_CHARS = 100

# Twilio SIDs are two letters and 32 hex digits (`SM…`, `MM…`). We accept two letters and
# 8-62 ASCII letters or digits: it fits the column, keeps odd characters out, and survives a
# future SID format or a test double's shorter ids.
MESSAGE_SID_PATTERN = r"^[A-Za-z]{2}[A-Za-z0-9]{8,62}$"
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9][\w.+-]*/[\w.+-]+(;.*)?$")


def clean_form(data: QueryDict | Mapping[str, str]) -> dict[str, str]:
    """Return the form's fields (the last value of each) with NUL characters removed."""
    return {str(key).replace("\x00", ""): str(value).replace("\x00", "") for key, value in data.items()}


class TruncatedCharField(serializers.CharField):
    """A text field that cuts its value at `cut_at` characters instead of refusing it."""

    def __init__(self, *, cut_at: int, **kwargs) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        self.cut_at = cut_at

    def to_internal_value(self, data) -> str:
        return super().to_internal_value(data)[: self.cut_at]


class TwilioInboundSerializer(serializers.Serializer):
    """An inbound WhatsApp (or SMS) message; `validated_data` holds `media` as `InboundMedia` items."""

    From = serializers.RegexField(
        SENDER_PATTERN, error_messages={"invalid": "must be whatsapp:+<7-15 digits> or +<7-15 digits>"}
    )
    MessageSid = serializers.RegexField(
        MESSAGE_SID_PATTERN, error_messages={"invalid": "must be two letters and 8-62 letters or digits"}
    )
    Body = TruncatedCharField(cut_at=MAX_BODY_CHARS, required=False, allow_blank=True, default="")
    ProfileName = TruncatedCharField(
        cut_at=MAX_PROFILE_NAME_CHARS, required=False, allow_blank=True, default="", trim_whitespace=True
    )

    def validate(self, attrs: dict) -> dict:
        attrs["media"] = parse_media(self.initial_data)
        return attrs


class TwilioStatusSerializer(serializers.Serializer):
    """A delivery status callback for one of our outbound messages."""

    MessageSid = serializers.RegexField(
        MESSAGE_SID_PATTERN, error_messages={"invalid": "must be two letters and 8-62 letters or digits"}
    )
    MessageStatus = serializers.RegexField(
        r"^[a-z_]{1,32}$", error_messages={"invalid": "must be a Twilio message status such as 'delivered'"}
    )
    ErrorCode = TruncatedCharField(
        cut_at=MAX_ERROR_CODE_CHARS, required=False, allow_blank=True, default="", trim_whitespace=True
    )


def parse_media(form: Mapping[str, str]) -> list[InboundMedia]:
    """Read `NumMedia`, `MediaUrlN` and `MediaContentTypeN` into at most `MAX_MEDIA` entries.

    An entry without an http(s) URL is skipped; an unreadable content type becomes
    `application/octet-stream`. A missing or broken `NumMedia` means "look at all slots".
    """
    try:
        count = min(max(int(form.get("NumMedia", "")), 0), MAX_MEDIA)
    except (TypeError, ValueError):
        count = MAX_MEDIA
    media = []
    for index in range(count):
        url = (form.get(f"MediaUrl{index}") or "").strip()
        if not _is_media_url(url):
            continue
        content_type = (form.get(f"MediaContentType{index}") or "").strip()
        if len(content_type) > 255 or not _CONTENT_TYPE.match(content_type):
            content_type = "application/octet-stream"
        media.append(InboundMedia(url=url, content_type=content_type))
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
    """Return the event's id, type and `data.id`; None when the id or type is missing, not text or too long.

    The SDK's event classes differ in shape and a signed payload may still be odd, so nothing is
    assumed: every field is read with `getattr`.
    """
    event_id = getattr(event, "id", None)
    event_type = getattr(event, "type", None)
    if not (isinstance(event_id, str) and isinstance(event_type, str)):
        return None
    if not _is_short_text(event_id, MAX_EVENT_ID_CHARS) or not _is_short_text(event_type, MAX_EVENT_TYPE_CHARS):
        return None
    response_id = getattr(getattr(event, "data", None), "id", None)
    return OpenAIEventFields(
        event_id=event_id,
        event_type=event_type,
        response_id=response_id if isinstance(response_id, str) and response_id else None,
    )


def _is_short_text(value: object, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit
