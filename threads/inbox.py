"""What the staff inbox reads: every contact (mapped or not) with its badges, and one conversation's messages.

Selectors only (no writes but `mark_read`): the admin's inbox views render these, and the
JSON endpoints the page polls render the same rows, so a refresh shows exactly what a reload would.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from .consent import WINDOW, is_window_open, window_closes_at
from .models import Contact, Message, OaThreadMap
from .phones import SENDER_PATTERN

PAGE_SIZE = 50
TRANSCRIPT_LIMIT = 300
PREVIEW_CHARS = 90
# Unread, as `_is_unread` says: `last_inbound_at` is the user's latest message (message_log keeps it).
_UNREAD = Q(last_inbound_at__gt=F("staff_read_at")) | Q(staff_read_at__isnull=True, last_inbound_at__isnull=False)
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
    def preview(self) -> str:
        if self.last_message is None:
            return ""
        body = " ".join(self.last_message.body.split()) or ("(media)" if self.last_message.media else "")
        return body if len(body) <= PREVIEW_CHARS else body[: PREVIEW_CHARS - 1] + "…"


def list_conversations(*, status: str = "", query: str = "", page: int = 1) -> tuple[list[InboxRow], int]:
    """Return a page of conversations, waiting ones first (longest wait on top), then newest activity; and the total.

    Bounded whatever the number of contacts: the order comes from contact columns the message
    log keeps (`last_activity_at`, `last_inbound_at`) and their indexes, one count, at most two
    page reads (waiting, then the rest), and the last message and thread of the page's rows only.
    """
    contacts = _filtered(status=status, query=query)
    counts = contacts.aggregate(total=Count("pk"), waiting=Count("pk", filter=Q(waiting_since__isnull=False)))
    total, waiting = counts["total"], counts["waiting"]
    # A page past the last shows the last (a huge number would overflow the database's integers).
    start = (clamp_page(page, total) - 1) * PAGE_SIZE
    end = start + PAGE_SIZE
    page_contacts: list[Contact] = []
    if start < waiting:  # the few waiting ones (a partial index) come first
        page_contacts += contacts.filter(waiting_since__isnull=False).order_by("waiting_since", "user_phone")[start:end]
    if end > waiting:  # then the others by activity (index contacts_last_activity)
        page_contacts += contacts.filter(waiting_since__isnull=True).order_by("-last_activity_at", "user_phone")[
            max(start - waiting, 0) : end - waiting
        ]
    last, mapped = _latest_messages_and_mapped([c.user_phone for c in page_contacts])
    now = timezone.now()
    rows = [
        InboxRow(
            contact=c,
            last_message=last.get(c.user_phone),
            mapped=c.user_phone in mapped,
            unread=_is_unread(c),
            window_open=is_window_open(c.last_inbound_at, now=now),
        )
        for c in page_contacts
    ]
    return rows, total


def page_count(total: int) -> int:
    """How many pages `total` conversations fill (at least one, the empty list's)."""
    return max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)


def clamp_page(page: int, total: int) -> int:
    """The page `list_conversations` shows when asked for `page`: the first below it, the last past the end."""
    return min(max(page, 1), page_count(total))


def _is_unread(contact: Contact) -> bool:
    """A user message came after staff last opened the conversation (or staff never did)."""
    last_in, read = contact.last_inbound_at, contact.staff_read_at
    return last_in is not None and (read is None or last_in > read)


def _latest_messages_and_mapped(phones: list[str]) -> tuple[dict[str, Message], set[str]]:
    """The latest message of each of `phones` (one indexed look-up each) and which of them have a thread."""
    if not phones:
        return {}, set()
    latest = Message.objects.filter(user_phone=OuterRef("user_phone")).order_by("-created_at", "-id").values("id")[:1]
    ids = Contact.objects.filter(pk__in=phones).annotate(last_id=Subquery(latest)).values("last_id")
    messages = {m.user_phone: m for m in Message.objects.filter(pk__in=ids)}
    mapped = set(OaThreadMap.objects.filter(pk__in=phones).values_list("pk", flat=True))
    return messages, mapped


def _filtered(*, status: str, query: str) -> QuerySet[Contact]:
    contacts = Contact.objects.all()
    for word in query.split():
        contacts = contacts.filter(Q(user_phone__icontains=word) | Q(profile_name__icontains=word))
    window_start = timezone.now() - WINDOW
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


def get_contact(user_phone: str) -> Contact | None:
    """The contact of `user_phone`, or None: the inbox shows and acts on no other number.

    Every message a user sends creates their contact (`message_log`), so a number that never
    wrote, or a path segment that is no phone at all, is nobody's conversation.
    """
    if re.fullmatch(SENDER_PATTERN, user_phone) is None:
        return None
    return Contact.objects.filter(pk=user_phone).first()


def get_conversation(contact: Contact) -> tuple[list[Message], int]:
    """Return the contact's last messages, oldest first, and their total."""
    messages = Message.objects.filter(user_phone=contact.user_phone)
    total = messages.count()
    latest = list(messages.select_related("staff_user", "template").order_by("-created_at", "-id")[:TRANSCRIPT_LIMIT])
    return latest[::-1], total


def window_state(contact: Contact | None, *, now: datetime | None = None) -> tuple[bool, datetime | None]:
    """Whether free-form messages may go to the user now, and when that ends (the 24-hour window)."""
    last = contact.last_inbound_at if contact else None
    return is_window_open(last, now=now), window_closes_at(last)


def mark_read(user_phone: str) -> None:
    """Record that staff opened the conversation now: its messages so far are no longer unread."""
    Contact.objects.filter(pk=user_phone).update(staff_read_at=timezone.now())
