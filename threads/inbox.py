"""What the staff inbox reads: every contact (mapped or not) with its badges, and one conversation's messages.

Selectors only (no writes but `mark_read`): the admin's inbox views render these, and the
JSON endpoints the page polls render the same rows, so a refresh shows exactly what a reload would.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from .consent import is_window_open, window_closes_at
from .models import Contact, Message, OaThreadMap

PAGE_SIZE = 50
TRANSCRIPT_LIMIT = 300
PREVIEW_CHARS = 90
_UNREAD = Q(new_since_read=True) | Q(staff_read_at__isnull=True, has_inbound=True)
FILTERS = {
    "": "All",
    "waiting": "Waiting for staff",
    "unread": "Unread",
    "paused": "Bot paused",
    "opted_out": "Opted out",
    "window_closed": "Window closed",
}


@dataclass(frozen=True)
class InboxRow:
    """One conversation in the list, with what its badges say."""

    contact: Contact
    last_message: Message | None
    mapped: bool
    unread: bool
    window_open: bool

    @property
    def waiting_for(self) -> timedelta | None:
        return timezone.now() - self.contact.waiting_since if self.contact.waiting_since else None

    @property
    def preview(self) -> str:
        if self.last_message is None:
            return ""
        body = " ".join(self.last_message.body.split()) or ("(media)" if self.last_message.media else "")
        return body if len(body) <= PREVIEW_CHARS else body[: PREVIEW_CHARS - 1] + "…"


def list_conversations(*, status: str = "", query: str = "", page: int = 1) -> tuple[list[InboxRow], int]:
    """Return a page of conversations, waiting ones first (longest wait on top), then newest activity; and the total."""
    contacts = _filtered(status=status, query=query)
    total = contacts.count()
    start = (max(page, 1) - 1) * PAGE_SIZE
    # Annotated contacts (last_id, mapped, new_since_read, has_inbound: see _filtered).
    page_contacts: list[Any] = list(
        contacts.order_by(F("waiting_since").asc(nulls_last=True), F("last_at").desc(nulls_last=True), "user_phone")[
            start : start + PAGE_SIZE
        ]
    )
    last = Message.objects.in_bulk([c.last_id for c in page_contacts if c.last_id])
    now = timezone.now()
    rows = [
        InboxRow(
            contact=c,
            last_message=last.get(c.last_id),
            mapped=c.mapped,
            unread=c.new_since_read or (c.staff_read_at is None and c.has_inbound),
            window_open=is_window_open(c.last_inbound_at, now=now),
        )
        for c in page_contacts
    ]
    return rows, total


def _filtered(*, status: str, query: str) -> QuerySet[Contact]:
    latest = Message.objects.filter(user_phone=OuterRef("pk")).order_by("-created_at", "-id")
    inbound = Message.objects.filter(user_phone=OuterRef("pk"), direction=Message.Direction.INBOUND)
    contacts = Contact.objects.annotate(
        last_at=Subquery(latest.values("created_at")[:1]),
        last_id=Subquery(latest.values("id")[:1]),
        mapped=Exists(OaThreadMap.objects.filter(user_phone=OuterRef("pk"))),
        # Unread: a user message after staff last opened the conversation, or any if they never did.
        new_since_read=Exists(inbound.filter(created_at__gt=OuterRef("staff_read_at"))),
        has_inbound=Exists(inbound),
    )
    for word in query.split():
        contacts = contacts.filter(Q(user_phone__icontains=word) | Q(profile_name__icontains=word))
    window_start = timezone.now() - timedelta(hours=24)
    match status:
        case "waiting":
            contacts = contacts.filter(waiting_since__isnull=False)
        case "paused":
            contacts = contacts.filter(bot_paused=True)
        case "opted_out":
            contacts = contacts.filter(opted_out_at__isnull=False)
        case "window_closed":
            contacts = contacts.filter(Q(last_inbound_at__lt=window_start) | Q(last_inbound_at__isnull=True))
        case "unread":
            contacts = contacts.filter(_UNREAD)
    return contacts


def get_conversation(user_phone: str) -> tuple[Contact | None, list[Message], int]:
    """Return the contact (None when Brenda never heard of them), its last messages oldest first, and their total."""
    contact = Contact.objects.filter(pk=user_phone).first()
    messages = Message.objects.filter(user_phone=user_phone)
    total = messages.count()
    latest = list(
        messages.select_related("staff_user", "template", "turn")
        .defer("turn__state")
        .order_by("-created_at", "-id")[:TRANSCRIPT_LIMIT]
    )
    return contact, latest[::-1], total


def window_state(contact: Contact | None, *, now: datetime | None = None) -> tuple[bool, datetime | None]:
    """Whether free-form messages may go to the user now, and when that ends (the 24-hour window)."""
    last = contact.last_inbound_at if contact else None
    return is_window_open(last, now=now), window_closes_at(last)


def mark_read(user_phone: str) -> None:
    """Record that staff opened the conversation now: its messages so far are no longer unread."""
    Contact.objects.filter(pk=user_phone).update(staff_read_at=timezone.now())
