"""A user asks for a person: tell staff by e-mail, act on the timeout, and close the request.

The request itself is opened by `threads.handoff_requests` (domain), from the model's tool
`solicitar_asesor` (`threads.tools`) or from the rule-based responder's path here
(`request_from_rules`, called by `threads.services`). The contact carries the open request
(`Contact.waiting_since`) for the inbox; a `Handoff` row keeps its history for the stats. A staff
reply or "resolve" closes it, "resume" hands the conversation back to the bot (which then reads
what staff and the user said, `answering.takeover_context`). If nobody answers within
HANDOFF_TIMEOUT_MIN of business time the user gets one note that the team is still on it, or the
bot resumes (HANDOFF_TIMEOUT_ACTION): the task queued at the request does it, or the recovery
sweep (`fire_overdue_timeouts`) when that task could not be deferred or was lost.
"""

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from . import scheduling
from .handoff_requests import REASON_MAX_CHARS, handoff_reply, language_of, request_handoff, timeout_due_at
from .models import Contact, Handoff, Message
from .outbound import deliver_reply
from .phones import format_phone
from .stats import FAILED_DELIVERY_STATUSES

logger = logging.getLogger(__name__)

# Messages of the conversation quoted in the staff e-mail.
EMAIL_TRANSCRIPT_LIMIT = 10
# Statuses of a staff reply that never reached the user: the user is still waiting.
UNDELIVERED_STATUSES = frozenset({*FAILED_DELIVERY_STATUSES, Message.Status.BLOCKED})


def undelivered_reason(messages: Sequence[Message]) -> str | None:
    """Why the first of `messages` that did not reach the user did not, for staff; None when all went out."""
    return next((m.status_note or m.get_status_display() for m in messages if m.status in UNDELIVERED_STATUSES), None)


STILL_ON_IT_NOTE = {
    "es": "Seguimos con tu solicitud: una persona del equipo te responderá por este chat lo antes posible. 🙏",
    "en": "We're still on it: a person from our team will answer you in this chat as soon as possible. 🙏",
}


# --- Opening a handoff (the rule-based path; the model's tool is in threads.tools) -----------------


def request_from_rules(*, user_phone: str, messages: Sequence[Message], now: datetime | None = None) -> str:
    """Open a handoff for a request the rule-based responder recognised; return the reply to send."""
    now = now or timezone.now()
    texts = [m.body for m in messages if m.body]
    reason = " / ".join(texts)[:REASON_MAX_CHARS] or "pidió hablar con una persona"
    request_handoff(user_phone=user_phone, reason=reason, via=Handoff.Via.RULES, message=messages[-1], now=now)
    return handoff_reply(now=now, language=language_of(texts))


# --- Telling staff ------------------------------------------------------------------------------


def notify_staff(*, handoff_id: int) -> bool:
    """E-mail STAFF_NOTIFY_EMAILS about a handoff; return whether it was sent. Never raises: it is only news."""
    handoff = Handoff.objects.filter(pk=handoff_id).first()
    if handoff is None or handoff.notified_at is not None:
        return False
    recipients = list(settings.STAFF_NOTIFY_EMAILS)
    if not recipients:
        logger.warning("handoff %s: STAFF_NOTIFY_EMAILS is empty, nobody was e-mailed", handoff.pk)
        return False
    contact = Contact.objects.filter(pk=handoff.user_phone).first()
    name = (contact.profile_name if contact else "") or "(sin nombre)"
    subject = f"Brenda: {name} ({format_phone(handoff.user_phone)}) quiere hablar con una persona"
    try:
        send_mail(subject, _email_body(handoff, name=name), None, recipients)
    except Exception as exc:  # SMTP down, bad credentials, …: logged and shown in the admin, never raised
        error = f"{type(exc).__name__}: {exc}"[:200]
        Handoff.objects.filter(pk=handoff.pk).update(notify_error=error)
        logger.error("handoff %s: the staff e-mail failed (%s)", handoff.pk, type(exc).__name__)
        return False
    Handoff.objects.filter(pk=handoff.pk).update(notified_at=timezone.now(), notify_error="")
    logger.info("handoff %s: e-mailed %d staff address(es)", handoff.pk, len(recipients))
    return True


def conversation_url(user_phone: str) -> str:
    """The inbox page of the conversation: absolute when PUBLIC_BASE_URL is set (e-mails leave the site)."""
    return settings.PUBLIC_BASE_URL + reverse("inbox_conversation", args=[user_phone])


def _email_body(handoff: Handoff, *, name: str) -> str:
    local = timezone.localtime(handoff.requested_at)
    recent = list(
        Message.objects.filter(user_phone=handoff.user_phone).order_by("-created_at", "-id")[:EMAIL_TRANSCRIPT_LIMIT]
    )
    lines = [
        f"{name} ({format_phone(handoff.user_phone)}) asked to talk to a person.",
        "",
        f"When:   {local:%Y-%m-%d %H:%M} ({settings.TIME_ZONE})",
        f"Reason: {handoff.reason or '-'}",
        f"Via:    {handoff.get_via_display()}",
        "",
        "Last messages:",
    ]
    for message in reversed(recent):
        who = "User" if message.direction == Message.Direction.INBOUND else message.get_origin_display()
        body = " ".join((message.body or "(media)").split())[:300]
        lines.append(f"  [{timezone.localtime(message.created_at):%H:%M}] {who}: {body}")
    lines += ["", f"Open the conversation: {conversation_url(handoff.user_phone)}", ""]
    lines.append("The bot is paused for this user until staff resume it.")
    return "\n".join(lines)


# --- The timeout --------------------------------------------------------------------------------


def check_timeout(*, handoff_id: int, now: datetime | None = None) -> str:
    """The task queued at the request: act on the handoff if nobody answered in time. Return what was done.

    Safe to run more than once and early: a closed or answered handoff, one already noted, or
    one not due yet is left alone ("" returned; a run that came early is queued again).
    """
    now = now or timezone.now()
    handoff = Handoff.objects.filter(pk=handoff_id).first()
    if handoff is None or handoff.closed_at or handoff.first_staff_reply_at or not settings.HANDOFF_TIMEOUT_MIN:
        return ""
    due = timeout_due_at(handoff)
    if now < due:
        scheduling.run_later(scheduling.HANDOFF_TIMEOUT, (due - now).total_seconds(), handoff.pk)
        return ""
    return _time_out(handoff, now=now)


def fire_overdue_timeouts(*, now: datetime | None = None) -> list[int]:
    """Act on every open handoff whose timeout is past; return their ids. Run by the recovery sweep.

    The immediate tasks backend cannot defer the task queued at the request, and a worker lost
    with the database backend takes it along: the sweep (every RECOVERY_SWEEP_S, or
    `manage.py recover_turns` from cron) fires those. It may meet the task at the same handoff:
    each action is claimed by one conditional UPDATE (`_time_out`), so the user hears it once.
    """
    if not settings.HANDOFF_TIMEOUT_MIN:
        return []
    now = now or timezone.now()
    # Business minutes last at least as long as wall minutes: nothing younger can be due.
    candidates = Handoff.objects.filter(
        closed_at__isnull=True,
        first_staff_reply_at__isnull=True,
        requested_at__lte=now - timedelta(minutes=settings.HANDOFF_TIMEOUT_MIN),
    )
    if settings.HANDOFF_TIMEOUT_ACTION != "resume":
        candidates = candidates.filter(note_sent_at__isnull=True)
    fired = []
    for handoff in candidates.order_by("requested_at"):
        if timeout_due_at(handoff) <= now and _time_out(handoff, now=now):
            fired.append(handoff.pk)
    return fired


def _time_out(handoff: Handoff, *, now: datetime) -> str:
    """Send the note (or resume the bot) for a handoff that is due, unless someone else already did."""
    # The claim: of the task and the sweep (or two sweeps), only the one whose UPDATE matches acts,
    # and not after a staff reply or a close that came in since `handoff` was read.
    unanswered = Handoff.objects.filter(pk=handoff.pk, closed_at__isnull=True, first_staff_reply_at__isnull=True)
    if settings.HANDOFF_TIMEOUT_ACTION == "resume":
        with transaction.atomic():
            if unanswered.update(closed_at=now, outcome=Handoff.Outcome.TIMED_OUT) != 1:
                return ""
            Contact.objects.filter(pk=handoff.user_phone, waiting_since=handoff.requested_at).update(
                bot_paused=False, waiting_since=None, waiting_reason="", waiting_message=None
            )
        logger.info("handoff %s timed out: the bot answers %s again", handoff.pk, handoff.user_phone)
        return "resumed"
    if unanswered.filter(note_sent_at__isnull=True).update(note_sent_at=now) != 1:
        return ""
    language = language_of([handoff.reason])
    deliver_reply(user_phone=handoff.user_phone, text=STILL_ON_IT_NOTE[language], origin=Message.Origin.SYSTEM)
    logger.info("handoff %s timed out: told %s the team is still on it", handoff.pk, handoff.user_phone)
    return "note"


# --- Closing: a staff reply, resolve, resume ---------------------------------------------------


def record_staff_reply(*, user_phone: str, messages: Sequence[Message], now: datetime | None = None) -> bool:
    """Close the user's open handoff when a staff reply reached them; return whether one was closed.

    A reply that was blocked or failed did not reach the user: they are still waiting.
    """
    if not any(m.status not in UNDELIVERED_STATUSES for m in messages):
        return False
    return _close([user_phone], outcome=Handoff.Outcome.REPLIED, now=now or timezone.now(), replied=True)


def resolve(*, user_phone: str, staff_user_id: int | None = None, now: datetime | None = None) -> bool:
    """Clear the user's wait (staff dealt with it elsewhere); the bot stays paused. Return whether one was open."""
    return _close([user_phone], outcome=Handoff.Outcome.RESOLVED, now=now or timezone.now(), by=staff_user_id)


def resume_bot(*, user_phone: str, staff_user_id: int | None = None, now: datetime | None = None) -> bool:
    """Hand the conversation back to the bot, closing any open handoff; return whether the bot was paused.

    On its next turn the model is told what staff and the user said meanwhile.
    """
    was_paused = Contact.objects.filter(pk=user_phone, bot_paused=True).exists()
    resume_bots([user_phone], staff_user_id=staff_user_id, now=now)
    return was_paused


def resume_bots(user_phones: Sequence[str], *, staff_user_id: int | None = None, now: datetime | None = None) -> None:
    """Hand several conversations back to the bot at once, closing their open handoffs (a few queries in all)."""
    if user_phones:
        _close(user_phones, outcome=Handoff.Outcome.RESUMED, now=now or timezone.now(), by=staff_user_id, resume=True)


def _close(
    user_phones: Sequence[str],
    *,
    outcome: str,
    now: datetime,
    by: int | None = None,
    replied: bool = False,
    resume: bool = False,
) -> bool:
    with transaction.atomic():
        changes: dict = {"waiting_since": None, "waiting_reason": "", "waiting_message": None}
        if resume:
            changes["bot_paused"] = False
        Contact.objects.filter(pk__in=user_phones).update(**changes)
        open_handoffs = dict(
            Handoff.objects.select_for_update()
            .filter(user_phone__in=user_phones, closed_at__isnull=True)
            .values_list("pk", "user_phone")
        )
        if not open_handoffs:
            return False
        update: dict = {"closed_at": now, "outcome": outcome, "closed_by_id": by}
        if replied:
            update["first_staff_reply_at"] = now
        Handoff.objects.filter(pk__in=open_handoffs).update(**update)
    for user_phone in sorted(set(open_handoffs.values())):
        logger.info("handoff of %s closed: %s", user_phone, outcome)
    return True
