"""Opening a handoff: the user waits for staff, the bot pauses, and the follow-ups are queued by name.

The domain piece both ways in share: the model's tool `solicitar_asesor` (`threads.tools`, a
domain module itself) and the rule-based path (`threads.handoff.request_from_rules`, a service).
It records the request and asks `threads.scheduling` for the staff e-mail and the timeout, whose
work lives in the `threads.handoff` service; it also says when a person will answer, from
BUSINESS_HOURS. Nothing here sends anything.
"""

import functools
import logging
from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import scheduling
from .business_hours import BusinessHours, describe_moment, parse_business_hours
from .fallback.language import read
from .models import Contact, Handoff, Message

logger = logging.getLogger(__name__)

REASON_MAX_CHARS = 200


# --- Business hours and what the user is told --------------------------------------------------


@functools.lru_cache(maxsize=8)
def _parsed_hours(text: str, time_zone: str) -> BusinessHours:
    return parse_business_hours(text, time_zone=time_zone)


def business_hours() -> BusinessHours:
    """The configured hours (BUSINESS_HOURS in TIME_ZONE); threads.E020 reports a bad value at start."""
    return _parsed_hours(settings.BUSINESS_HOURS, settings.TIME_ZONE)


def when_staff_answer(*, now: datetime | None = None, language: str = "es") -> str:
    """Say when a person will answer: soon while staff are at work, else the next opening ("mañana a las 9:00")."""
    now = now or timezone.now()
    hours = business_hours()
    opening = hours.next_opening(now)
    if opening == now:
        if language == "es":
            return "una persona te responderá por este chat en breve"
        return "a person will answer you in this chat shortly"
    moment = describe_moment(opening, now=now, tz=hours.tz, language=language)
    schedule = hours.describe(language)
    if language == "es":
        return f"ahora estamos fuera de horario ({schedule}): una persona te responderá por este chat {moment}"
    return f"we are outside our hours now ({schedule}): a person will answer you in this chat {moment}"


def handoff_reply(*, now: datetime | None = None, language: str = "es") -> str:
    """The reply to a request for a person: it is registered, and when someone will answer."""
    when = when_staff_answer(now=now, language=language)
    if language == "es":
        return f"¡Claro! Ya avisé a nuestro equipo y {when}. Mientras tanto puedes dejarme aquí los detalles."
    return f"Sure! I've let our team know and {when}. Meanwhile you can leave the details here."


def language_of(texts: Sequence[str]) -> str:
    """The user's language as the rule-based responder reads it ("es" unless clearly English)."""
    return read(" ".join(texts)).lang


# --- Opening ------------------------------------------------------------------------------------


def request_handoff(
    *, user_phone: str, reason: str, via: str, message: Message | None = None, now: datetime | None = None
) -> Handoff:
    """Mark the user as waiting for staff, pause the bot, and queue the staff e-mail and the timeout.

    A user already waiting keeps their first request (and staff are not e-mailed twice): the
    wait counts from when they first asked.
    """
    now = now or timezone.now()
    reason = " ".join(reason.split())[:REASON_MAX_CHARS]
    with transaction.atomic():
        Contact.objects.get_or_create(user_phone=user_phone)
        contact = Contact.objects.select_for_update().get(pk=user_phone)
        already_open = open_handoff(user_phone)
        if contact.waiting_since is not None and already_open is not None:
            if not contact.bot_paused:
                Contact.objects.filter(pk=user_phone).update(bot_paused=True)
            logger.info("handoff for %s already open since %s", user_phone, contact.waiting_since.isoformat())
            return already_open
        handoff = Handoff.objects.create(
            user_phone=user_phone, via=via, reason=reason, message=message, requested_at=now
        )
        Contact.objects.filter(pk=user_phone).update(
            bot_paused=True, waiting_since=now, waiting_reason=reason, waiting_message=message
        )
    logger.info("handoff %s opened for %s via %s", handoff.pk, user_phone, via)
    try:
        scheduling.run_soon(scheduling.NOTIFY_STAFF, handoff.pk)
    except Exception:  # the user's turn goes on; the inbox shows the request all the same
        logger.exception("could not queue the staff e-mail of handoff %s", handoff.pk)
    _schedule_timeout(handoff, now=now)
    return handoff


def open_handoff(user_phone: str) -> Handoff | None:
    """The user's open request for a person, if any (the latest)."""
    return Handoff.objects.filter(user_phone=user_phone, closed_at__isnull=True).order_by("-requested_at").first()


def last_inbound(user_phone: str, *, turn_id: int | None = None) -> Message | None:
    """The user's latest message (of the turn `turn_id` when given): the one a handoff answers."""
    inbound = Message.objects.filter(user_phone=user_phone, direction=Message.Direction.INBOUND)
    if turn_id is not None:
        inbound = inbound.filter(turn_id=turn_id)
    return inbound.order_by("-id").first()


# --- The timeout's schedule ----------------------------------------------------------------------


def timeout_due_at(handoff: Handoff) -> datetime:
    """When the handoff times out: HANDOFF_TIMEOUT_MIN of business time after the request."""
    return business_hours().add_business_minutes(handoff.requested_at, settings.HANDOFF_TIMEOUT_MIN)


def _schedule_timeout(handoff: Handoff, *, now: datetime) -> None:
    """Queue the timeout check; a backend that cannot defer leaves it to the recovery sweep."""
    if not settings.HANDOFF_TIMEOUT_MIN:
        return
    due = timeout_due_at(handoff)
    try:
        scheduling.run_later(scheduling.HANDOFF_TIMEOUT, max(1.0, (due - now).total_seconds()), handoff.pk)
    except Exception:  # the recovery sweep fires an overdue timeout all the same
        logger.exception("could not schedule the timeout of handoff %s", handoff.pk)
