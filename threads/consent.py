"""WhatsApp's rules for writing to a user: their consent, and the 24-hour window.

A user opts out by sending only an opt-out keyword ("BAJA", "stop!!") and back in with an
opt-in one ("ALTA"); a keyword inside a sentence ("¿cómo me doy de baja del curso?") is just
a message. Free-form messages may go out for 24 hours after the user's latest message; after
that only an approved template may. `refusal` is the rule every outbound message is held to
at the one door it passes (`threads.outbound`), so no path can forget it.
"""

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from courses.text import fold

from .models import ConsentEvent, Contact, Message

logger = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
# An opted-out user who writes again is reminded how to come back at most this often.
NOTICE_INTERVAL = timedelta(hours=24)

# Folded (lower case, no accents), whole message only.
OPT_OUT_KEYWORDS = frozenset(
    {
        "baja",
        "darme de baja",
        "dame de baja",
        "stop",
        "stopall",
        "alto",
        "detener",
        "cancelar",
        "cancel",
        "unsubscribe",
        "end",
        "quit",
        "no mas mensajes",
        "no quiero mas mensajes",
        "no me envien mas mensajes",
    }
)
OPT_IN_KEYWORDS = frozenset(
    {"alta", "darme de alta", "dame de alta", "start", "unstop", "reanudar", "suscribir", "suscribirme", "subscribe"}
)
_NOT_WORDS = re.compile(r"[^\w]+")


class Keyword(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


class Refusal(StrEnum):
    """Why a message may not go out: stored as the blocked message's `error_code`."""

    OPTED_OUT = "opted_out"
    WINDOW_CLOSED = "window_closed"


# Messages an opted-out user may still get: the answer to their own keyword, and the reminder.
_NOTICES_TO_OPTED_OUT = frozenset({Message.Notice.OPTED_OUT, Message.Notice.OPTOUT_REMINDER})

OPTED_OUT_TEXT = {
    "es": "Listo, ya no te enviaremos mensajes. Si cambias de opinión, escribe *ALTA*.",
    "en": "Done: you won't get any more messages from us. If you change your mind, write *START*.",
}
OPTED_IN_TEXT = {
    "es": "¡Qué gusto tenerte de vuelta! Ya puedes escribirme de nuevo: ¿en qué curso de IA te ayudo?",
    "en": "Welcome back! Messages are on again: which AI course can I help you with?",
}
REMINDER_TEXT = {
    "es": "Tus mensajes están desactivados, así que no responderé. Para activarlos de nuevo, escribe *ALTA*.",
    "en": "Messages are off for you, so I won't answer. To turn them back on, write *START*.",
}
_ENGLISH_KEYWORDS = frozenset(
    {"stop", "stopall", "cancel", "unsubscribe", "end", "quit", "start", "unstop", "subscribe"}
)


def normalize(text: str) -> str:
    """Fold `text` and reduce it to its words: "¡Baja!" and "  baja. " read the same."""
    return " ".join(_NOT_WORDS.sub(" ", fold(text)).split()).replace("_", " ").strip()


# Said around a keyword, these leave it a keyword: "alta por favor", "STOP please", "gracias, baja".
_COURTESY = "|".join(("por favor", "porfa", "porfavor", "xfa", "please", "pls", "plz", "gracias", "thanks", "ya", "ok"))
_COURTESY_AROUND = re.compile(rf"^(?:(?:{_COURTESY}) )*(.*?)(?: (?:{_COURTESY}))*$")


def keyword_of(text: str) -> Keyword | None:
    """The consent keyword `text` is, when it is nothing else but courtesy; None for every other message."""
    match = _COURTESY_AROUND.match(normalize(text))
    words = match.group(1) if match else ""
    if words in OPT_OUT_KEYWORDS:
        return Keyword.OPT_OUT
    if words in OPT_IN_KEYWORDS:
        return Keyword.OPT_IN
    return None


def language_of_keyword(text: str) -> str:
    """English for an English keyword ("STOP"), Spanish for every other one."""
    return "en" if normalize(text) in _ENGLISH_KEYWORDS else "es"


def window_closes_at(last_inbound_at: datetime | None) -> datetime | None:
    return last_inbound_at + WINDOW if last_inbound_at else None


def is_window_open(last_inbound_at: datetime | None, *, now: datetime | None = None) -> bool:
    closes = window_closes_at(last_inbound_at)
    return closes is not None and (now or timezone.now()) < closes


@dataclass(frozen=True)
class OutboundState:
    """What may be sent to a user now: for the staff forms, before anything is written."""

    user_phone: str
    opted_out: bool
    opted_out_at: datetime | None
    window_open: bool
    window_closes_at: datetime | None

    @property
    def free_form_allowed(self) -> bool:
        return not self.opted_out and self.window_open

    @property
    def template_allowed(self) -> bool:
        return not self.opted_out


def outbound_state(user_phone: str) -> OutboundState:
    contact = Contact.objects.filter(pk=user_phone).only("opted_out_at", "last_inbound_at").first()
    return _outbound_state(user_phone, contact)


def outbound_states(user_phones: Iterable[str]) -> dict[str, OutboundState]:
    """`outbound_state` of several users with one query (the staff confirmation pages list many)."""
    phones = list(user_phones)
    contacts = Contact.objects.filter(pk__in=phones).only("opted_out_at", "last_inbound_at").in_bulk()
    return {phone: _outbound_state(phone, contacts.get(phone)) for phone in phones}


def _outbound_state(user_phone: str, contact: Contact | None) -> OutboundState:
    last_inbound_at = contact.last_inbound_at if contact else None
    opted_out_at = contact.opted_out_at if contact else None
    return OutboundState(
        user_phone=user_phone,
        opted_out=opted_out_at is not None,
        opted_out_at=opted_out_at,
        window_open=is_window_open(last_inbound_at),
        window_closes_at=window_closes_at(last_inbound_at),
    )


def refusal(message: Message, contact: Contact | None, *, now: datetime | None = None) -> Refusal | None:
    """Why `message` may not be sent to `contact` now, or None when it may.

    `contact` is None for a phone that never wrote: nobody has consented to anything and no
    window is open, so only a template may go there.
    """
    if contact is not None and contact.opted_out_at is not None and message.notice not in _NOTICES_TO_OPTED_OUT:
        return Refusal.OPTED_OUT
    if message.template_id is None and not is_window_open(contact.last_inbound_at if contact else None, now=now):
        return Refusal.WINDOW_CLOSED
    return None


def contact_for_sending(user_phone: str) -> Contact | None:
    """The columns `refusal` reads, in one query: read right before each send."""
    return Contact.objects.filter(pk=user_phone).only("opted_out_at", "last_inbound_at").first()


def opt_out(user_phone: str, *, via: str, at: datetime | None = None) -> bool:
    """Record that the user wants no more messages; False when they had opted out already.

    The confirmation that follows counts as the day's notice: no reminder for 24 hours.
    """
    at = at or timezone.now()
    return _change_consent(
        user_phone,
        ConsentEvent.Kind.OPT_OUT,
        via=via,
        at=at,
        opted_out_at=at,
        opted_out_via=via[:40],
        optout_notice_at=at,
    )


def opt_in(user_phone: str, *, via: str, at: datetime | None = None) -> bool:
    """Record that the user wants messages again; False when they had not opted out."""
    at = at or timezone.now()
    return _change_consent(
        user_phone, ConsentEvent.Kind.OPT_IN, via=via, at=at, opted_out_at=None, opted_in_at=at, opted_in_via=via[:40]
    )


def _change_consent(user_phone: str, kind: str, *, via: str, at: datetime, **fields: object) -> bool:
    """One conditional UPDATE from the other state, and its event, together; False when nothing changed."""
    opting_out = kind == ConsentEvent.Kind.OPT_OUT
    with transaction.atomic():
        changed = Contact.objects.filter(pk=user_phone, opted_out_at__isnull=opting_out).update(**fields)
        if changed:
            ConsentEvent.objects.create(user_phone=user_phone, kind=kind, via=via[:40], created_at=at)
    if changed:
        logger.info("%s %s (%s)", user_phone, "opted out" if opting_out else "opted back in", via)
    return bool(changed)


def claim_reminder(user_phone: str, *, now: datetime | None = None) -> bool:
    """Take the right to remind an opted-out user that messages are off: once per `NOTICE_INTERVAL`."""
    now = now or timezone.now()
    due = Q(optout_notice_at__isnull=True) | Q(optout_notice_at__lte=now - NOTICE_INTERVAL)
    return bool(Contact.objects.filter(due, pk=user_phone, opted_out_at__isnull=False).update(optout_notice_at=now))


def is_opted_out(user_phone: str) -> bool:
    return Contact.objects.filter(pk=user_phone, opted_out_at__isnull=False).exists()
