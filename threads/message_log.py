"""The message log: every WhatsApp message in and out, the local memory of each conversation.

Inbound messages are stored before anything else happens, keyed by Twilio's `MessageSid`, so a
re-delivered webhook is recognised and nothing the user wrote is ever lost.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .models import Contact, Message, Turn

logger = logging.getLogger(__name__)

TRANSCRIPT_SEED_LIMIT = 20


@dataclass(frozen=True)
class InboundMedia:
    url: str
    content_type: str


def record_inbound(
    *,
    user_phone: str,
    twilio_sid: str,
    body: str,
    media: Sequence[InboundMedia] = (),
    profile_name: str = "",
) -> tuple[Message, bool]:
    """Store an inbound message once per `MessageSid`; return it and whether it is new.

    Twilio re-delivers a webhook it thinks failed, possibly many copies at once: the unique
    `twilio_sid` decides which copy wins, the others get the stored row back. This is the
    webhook's hot path, hence one short transaction (contact upsert, pause look-up, message
    insert) and no duplicate look-up first: duplicates are rare and the constraint catches
    them. A message that arrives while staff have taken over is held, never answered by the
    bot, even if the bot is resumed before a worker gets to it.
    """
    now = timezone.now()
    message = Message(
        user_phone=user_phone,
        direction=Message.Direction.INBOUND,
        origin=Message.Origin.USER,
        twilio_sid=twilio_sid,
        body=body,
        media=[{"url": m.url, "content_type": m.content_type} for m in media],
        created_at=now,
    )
    try:
        with transaction.atomic():
            _touch_contact(user_phone=user_phone, profile_name=profile_name, now=now)
            paused = Contact.objects.filter(pk=user_phone, bot_paused=True).exists()
            message.status = Message.Status.HELD if paused else Message.Status.RECEIVED
            message.save(force_insert=True)
    except IntegrityError:
        return Message.objects.get(twilio_sid=twilio_sid), False
    return message, True


def _touch_contact(*, user_phone: str, profile_name: str, now) -> None:
    """Create the contact or note it was seen, in one upsert (a name Twilio omitted is kept)."""
    Contact.objects.bulk_create(
        [Contact(user_phone=user_phone, profile_name=profile_name, first_seen_at=now, last_seen_at=now)],
        update_conflicts=True,
        unique_fields=["user_phone"],
        update_fields=["last_seen_at", "profile_name"] if profile_name else ["last_seen_at"],
    )


# Concurrent copies of one webhook arrive within milliseconds; Twilio's own retries come later.
STRANDED_AFTER_S = 10.0


def is_stranded(message: Message) -> bool:
    """Tell whether an inbound message has waited too long for any turn to take it."""
    return (
        message.direction == Message.Direction.INBOUND
        and message.status == Message.Status.RECEIVED
        and message.turn_id is None
        and message.created_at < timezone.now() - timedelta(seconds=STRANDED_AFTER_S)
    )


def _waiting_inbound():
    """Inbound messages no turn has taken yet (those of a paused user are held, not waiting)."""
    return Message.objects.filter(
        direction=Message.Direction.INBOUND, status=Message.Status.RECEIVED, turn__isnull=True
    )


def _pending_inbound(user_phone: str):
    return _waiting_inbound().filter(user_phone=user_phone)


def pending_inbound(user_phone: str) -> list[Message]:
    """Inbound messages of the user that no turn has taken yet, oldest first."""
    return list(_pending_inbound(user_phone).order_by("id"))


def has_pending_inbound(user_phone: str) -> bool:
    return _pending_inbound(user_phone).exists()


def users_with_pending_inbound(*, older_than_s: float = 0) -> list[str]:
    """Phones that have inbound messages no turn has taken (for recovery after a crash)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    return list(_waiting_inbound().filter(created_at__lte=cutoff).values_list("user_phone", flat=True).distinct())


def claim_for_turn(messages: Sequence[Message], turn: Turn) -> list[Message]:
    """Attach pending messages to `turn`; return those it got (another turn may have taken some)."""
    ids = [m.pk for m in messages]
    Message.objects.filter(pk__in=ids, turn__isnull=True).update(turn=turn, thread_id=turn.thread_id)
    return list(Message.objects.filter(pk__in=ids, turn=turn).order_by("id"))


def record_outbound(
    *,
    user_phone: str,
    body: str,
    origin: str,
    thread_id: str = "",
    turn: Turn | None = None,
    staff_user_id: int | None = None,
) -> Message:
    """Store an outbound message as pending, before it is sent, so a failed send is visible and retryable."""
    return Message.objects.create(
        user_phone=user_phone,
        direction=Message.Direction.OUTBOUND,
        origin=origin,
        body=body,
        status=Message.Status.PENDING,
        thread_id=thread_id,
        turn=turn,
        staff_user_id=staff_user_id,
    )


def pending_outbound(user_phone: str) -> list[Message]:
    """The user's outbound messages waiting to be sent, oldest first; none while one is being sent.

    Whoever is sending goes on until nothing is pending, so the others leave them to it and
    the order holds.
    """
    outbound = Message.objects.filter(user_phone=user_phone, direction=Message.Direction.OUTBOUND)
    if outbound.filter(status=Message.Status.SENDING).exists():
        return []
    return list(outbound.filter(status=Message.Status.PENDING).order_by("id"))


def users_with_pending_outbound(*, older_than_s: float) -> set[str]:
    """Phones with outbound messages pending for longer than that (a retry task that was lost)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    return set(
        Message.objects.filter(
            direction=Message.Direction.OUTBOUND, status=Message.Status.PENDING, updated_at__lte=cutoff
        ).values_list("user_phone", flat=True)
    )


def claim_for_sending(message: Message) -> bool:
    """Move a pending outbound message to "sending"; False when another sender took it first."""
    return bool(
        Message.objects.filter(pk=message.pk, status=Message.Status.PENDING).update(
            status=Message.Status.SENDING, updated_at=timezone.now()
        )
    )


def release_for_retry(message: Message, *, error_code: str) -> None:
    """Put a message whose send failed for now back to pending, counting the attempt."""
    Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
        status=Message.Status.PENDING,
        send_attempts=message.send_attempts + 1,
        error_code=error_code[:16],
        updated_at=timezone.now(),
    )


def release_stale_sending(*, older_than_s: float, turn: Turn | None = None) -> set[str]:
    """Return messages stuck in "sending" (their sender died mid-send) to pending; give their users.

    Delivery is at least once here: the dead sender may have reached Twilio before dying.
    """
    stale = Message.objects.filter(
        status=Message.Status.SENDING, updated_at__lt=timezone.now() - timedelta(seconds=older_than_s)
    )
    if turn is not None:
        stale = stale.filter(turn=turn)
    phones = set(stale.values_list("user_phone", flat=True))
    stale.update(status=Message.Status.PENDING, updated_at=timezone.now())
    return phones


def mark_sent(message: Message, *, sid: str | None, status: str) -> None:
    message.twilio_sid = sid
    message.status = status
    message.send_attempts += 1
    message.save(update_fields=["twilio_sid", "status", "send_attempts", "updated_at"])


def mark_send_failed(message: Message, *, error_code: str) -> None:
    message.status = Message.Status.FAILED
    message.error_code = error_code[:16]
    message.send_attempts += 1
    message.save(update_fields=["status", "error_code", "send_attempts", "updated_at"])


# Twilio's statuses move forward only; a late "sent" callback must not undo "delivered".
_STATUS_RANK = {
    Message.Status.PENDING: 0,
    Message.Status.QUEUED: 1,
    Message.Status.SENT: 2,
    Message.Status.DELIVERED: 3,
    Message.Status.READ: 4,
    Message.Status.UNDELIVERED: 5,
    Message.Status.FAILED: 5,
}


def apply_delivery_status(*, twilio_sid: str, status: str, error_code: str = "") -> bool:
    """Apply a Twilio status callback to an outbound message; return False for an unknown sid."""
    if status not in _STATUS_RANK:
        logger.info("ignoring unknown delivery status %r for %s", status, twilio_sid)
        return Message.objects.filter(twilio_sid=twilio_sid, direction=Message.Direction.OUTBOUND).exists()
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .filter(twilio_sid=twilio_sid, direction=Message.Direction.OUTBOUND)
            .first()
        )
        if message is None:
            return False
        if _STATUS_RANK.get(message.status, 0) <= _STATUS_RANK[status]:
            message.status = status
            message.error_code = (error_code or "")[:16]
            message.save(update_fields=["status", "error_code", "updated_at"])
    return True


def recent_transcript(
    user_phone: str, *, limit: int = TRANSCRIPT_SEED_LIMIT, exclude_turn_id: int | None = None
) -> list[tuple[str, str]]:
    """The user's last `limit` texts as (role, text), oldest first: the seed of a recreated conversation.

    Messages still waiting for a turn, and those of `exclude_turn_id` (the turn about to send
    them as its input), are left out so the model does not read them twice; so is everything
    before the user's last thread reset, which is meant to start afresh.
    """
    since = Contact.objects.filter(pk=user_phone).values_list("history_starts_at", flat=True).first()
    rows = (
        Message.objects.filter(user_phone=user_phone, **({"created_at__gte": since} if since else {}))
        .exclude(body="")
        .exclude(direction=Message.Direction.INBOUND, turn__isnull=True)
        .exclude(turn_id=exclude_turn_id)
        .order_by("-created_at", "-id")
        .values_list("direction", "body")[:limit]
    )
    return [("user" if d == Message.Direction.INBOUND else "assistant", body) for d, body in reversed(rows)]


def last_model_turn(user_phone: str, *, before_turn_id: int) -> Turn | None:
    """Return the user's latest turn before `before_turn_id` that reached the model (None if none did)."""
    return (
        Turn.objects.filter(user_phone=user_phone, pk__lt=before_turn_id)
        .exclude(response_id="")
        .order_by("-pk")
        .only("pk", "started_at", "price_checks")
        .first()
    )


def human_takeover_since_model(user_phone: str, *, before_turn_id: int, last_model_turn: Turn | None) -> list[Message]:
    """Messages the model never saw because staff had taken over: held ones and staff replies.

    They are those after `last_model_turn` (the user's last turn that reached the model), oldest
    first; empty when staff did not step in.
    """
    window = Message.objects.filter(
        user_phone=user_phone, **({"created_at__gt": last_model_turn.started_at} if last_model_turn else {})
    )
    if not window.filter(Q(origin=Message.Origin.STAFF) | Q(status=Message.Status.HELD)).exists():
        return []
    return list(
        window.filter(Q(origin=Message.Origin.STAFF) | Q(status=Message.Status.HELD))
        .exclude(turn_id=before_turn_id)
        .order_by("created_at", "id")
    )


def sent_text_of_turn(turn_id: int) -> str:
    """Return what the user received for a turn: its outbound parts, joined."""
    bodies = Message.objects.filter(turn_id=turn_id, direction=Message.Direction.OUTBOUND).order_by("id")
    return "\n".join(bodies.values_list("body", flat=True))
