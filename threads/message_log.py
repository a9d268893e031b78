"""The message log: every WhatsApp message in and out, the local memory of each conversation.

Inbound messages are stored before anything else happens, keyed by Twilio's `MessageSid`, so a
re-delivered webhook is recognised and nothing the user wrote is ever lost.
"""

import logging
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from . import inbound_sql, scheduling
from .consent import keyword_of
from .models import Contact, Message, MessageTemplate, Turn

logger = logging.getLogger(__name__)

TRANSCRIPT_SEED_LIMIT = 20
# Outbound messages that move a conversation up the staff inbox (bot replies follow a user message that did).
ACTIVITY_ORIGINS = frozenset({Message.Origin.STAFF, Message.Origin.SYSTEM})


@dataclass(frozen=True)
class InboundMedia:
    url: str
    content_type: str
    sticker: bool = False  # WhatsApp sent it as a sticker (Twilio's MessageType), not as a photo


def record_inbound(
    *,
    user_phone: str,
    twilio_sid: str,
    body: str,
    media: Sequence[InboundMedia] = (),
    profile_name: str = "",
    queue: scheduling.Work | None = None,
) -> tuple[Message, bool]:
    """Store an inbound message once per `MessageSid`; return it and whether it is new.

    Twilio re-delivers a webhook it thinks failed, possibly many copies at once: the unique
    `twilio_sid` decides which copy wins, the others get the stored row back. This is the
    webhook's hot path, hence one short transaction (the contact upsert, which also returns the
    pause flag, then the message insert) and no duplicate look-up first: duplicates are rare and
    the constraint catches them. `queue` is work to enqueue for a new message only, which must
    commit with it or not at all: with the database task backend its row is written in the same
    transaction (on PostgreSQL the contact, the message and the task are one statement); with
    any other backend it is enqueued after commit. A message that arrives while staff have taken
    over is held, never answered by the bot, even if the bot is resumed before a worker gets to it.
    """
    now = timezone.now()
    values = {
        "user_phone": user_phone,
        "direction": Message.Direction.INBOUND,
        "origin": Message.Origin.USER,
        "twilio_sid": twilio_sid,
        "body": body,
        "media": [
            {"url": m.url, "content_type": m.content_type, **({"sticker": True} if m.sticker else {})} for m in media
        ],
        "created_at": now,
    }
    message = Message(**values, updated_at=now)
    # A consent keyword is never held: opting out or in beats a staff takeover.
    status_if_paused = Message.Status.HELD if keyword_of(body) is None else Message.Status.RECEIVED
    contact = {
        "user_phone": user_phone,
        "profile_name": profile_name,
        "first_seen_at": now,
        "last_seen_at": now,
        "last_inbound_at": now,
        "last_activity_at": now,
    }
    touched = _touched_on_inbound(profile_name)
    one_statement = connection.vendor == "postgresql"
    task_row = queue.task_row(now=now, using=connection.alias) if queue is not None and one_statement else None
    try:
        # One statement is a transaction of its own: BEGIN and COMMIT would only add round trips.
        with transaction.atomic() if not one_statement or connection.in_atomic_block else nullcontext():
            if one_statement:
                message.pk, message.status = inbound_sql.store_inbound(
                    contact=contact,
                    touched=touched,
                    message=values,
                    status_if_paused=status_if_paused,
                    status=Message.Status.RECEIVED,
                    now=now,
                    task=None if task_row is None else task_row.values,
                )
                message._state.adding, message._state.db = False, connection.alias
            else:
                bot_paused = _touch_contact(contact, touched)
                message.status = status_if_paused if bot_paused else Message.Status.RECEIVED
                message.save(force_insert=True)
            if queue is not None and task_row is None:
                queue.run_soon_on_commit(using=connection.alias)
    except IntegrityError:
        stored = Message.objects.get(twilio_sid=twilio_sid)
        if stored.direction != Message.Direction.INBOUND:  # Twilio's sids are unique: not a copy, a forgery
            logger.warning(
                "inbound %s from %s reuses the sid of outbound message #%s; ignored", twilio_sid, user_phone, stored.pk
            )
        return stored, False
    if task_row is not None:
        task_row.enqueued()
    return message, True


def _touched_on_inbound(profile_name: str) -> tuple[str, ...]:
    """The fields an inbound message updates on a known contact (a name Twilio omitted is kept)."""
    touched = ("last_seen_at", "last_inbound_at", "last_activity_at")
    return (*touched, "profile_name") if profile_name else touched


def _touch_contact(values: dict, touched: Sequence[str]) -> bool:
    """Create the contact or update its `touched` fields, in one upsert; return `bot_paused` (portable ORM path).

    Where the database returns rows from an upsert (SQLite >= 3.35) the flag comes back with it
    (`bot_paused` has a `db_default`, so Django asks for it in RETURNING): the stored value for a
    known contact, the default for a new one. Elsewhere it is read. PostgreSQL does this and the
    message insert in one statement (`inbound_sql`).
    """
    (contact,) = Contact.objects.bulk_create(
        [Contact(**values)], update_conflicts=True, unique_fields=["user_phone"], update_fields=list(touched)
    )
    if connection.features.can_return_rows_from_bulk_insert and any(
        field.name == "bot_paused" for field in Contact._meta.db_returning_fields
    ):
        return contact.bot_paused
    return Contact.objects.filter(pk=values["user_phone"], bot_paused=True).exists()


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


@dataclass(frozen=True)
class PendingInbound:
    """A user's messages waiting for a turn, and whether staff had taken the user over when they were read."""

    messages: list[Message]
    bot_paused: bool
    opted_out: bool = False


def gather_pending_inbound(user_phone: str) -> PendingInbound:
    """Return the user's messages waiting for a turn, oldest first, with the user's pause and consent flags.

    The turn that answers them needs both; reading the flag with the messages saves a look-up
    per turn. Messages stored while the user was paused are held already, so these can only
    meet a pause that came after they arrived: the turn then holds them for staff.
    """
    paused = Exists(Contact.objects.filter(pk=user_phone, bot_paused=True))
    opted_out = Exists(Contact.objects.filter(pk=user_phone, opted_out_at__isnull=False))
    messages = list(_pending_inbound(user_phone).annotate(user_paused=paused, user_opted_out=opted_out).order_by("id"))
    return PendingInbound(
        messages=messages,
        bot_paused=any(m.user_paused for m in messages),
        opted_out=any(m.user_opted_out for m in messages),
    )


def has_pending_inbound(user_phone: str) -> bool:
    return _pending_inbound(user_phone).exists()


def users_with_pending_inbound(*, older_than_s: float = 0) -> list[str]:
    """Phones that have inbound messages no turn has taken (for recovery after a crash)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    return list(_waiting_inbound().filter(created_at__lte=cutoff).values_list("user_phone", flat=True).distinct())


def claim_for_turn(messages: Sequence[Message], turn: Turn, *, bot_paused: bool | None = None) -> list[Message]:
    """Attach pending messages to `turn` (and its thread); return those it got (another turn may have taken some).

    The UPDATE only takes messages no turn has: when it took them all, `messages` are returned
    as they now stand without reading them again; otherwise those the turn got are read back.
    With `bot_paused` (the pause flag the turn was routed by) it takes nothing if staff changed
    the flag since: the caller looks again, and the messages go where the flag now says.
    """
    ids = [m.pk for m in messages]
    claimable = Message.objects.filter(pk__in=ids, turn__isnull=True)
    if bot_paused is not None:
        same_flag = Contact.objects.filter(pk=turn.user_phone, bot_paused=bot_paused)
        claimable = claimable.filter(Exists(same_flag))
    taken = claimable.update(turn=turn, thread_id=turn.thread_id)
    if taken < len(set(ids)):
        return list(Message.objects.filter(pk__in=ids, turn=turn).order_by("id"))
    for message in messages:
        message.turn, message.thread_id = turn, turn.thread_id
    return sorted(messages, key=lambda message: message.pk)


def record_outbound(
    *,
    user_phone: str,
    body: str,
    origin: str,
    thread_id: str = "",
    turn: Turn | None = None,
    staff_user_id: int | None = None,
    notice: str = "",
    template: MessageTemplate | None = None,
    template_variables: dict[str, str] | None = None,
) -> Message:
    """Store an outbound message as pending, before it is sent, so a failed send is visible and retryable.

    A message from staff or the system moves the conversation up the inbox (`Contact.last_activity_at`);
    a bot reply does not need to: the user message it answers just did, and the turn's queries stay few.
    """
    message = Message.objects.create(
        user_phone=user_phone,
        direction=Message.Direction.OUTBOUND,
        origin=origin,
        body=body,
        status=Message.Status.PENDING,
        thread_id=thread_id,
        turn=turn,
        staff_user_id=staff_user_id,
        notice=notice,
        template=template,
        template_variables=template_variables or {},
    )
    if origin in ACTIVITY_ORIGINS:
        Contact.objects.filter(pk=user_phone).update(last_activity_at=message.created_at)
    return message


def pending_outbound(user_phone: str) -> list[Message]:
    """The user's outbound messages waiting to be sent, oldest first; none while one is being sent.

    Whoever is sending goes on until nothing is pending, so the others leave them to it and
    the order holds.
    """
    waiting = list(
        Message.objects.filter(
            user_phone=user_phone,
            direction=Message.Direction.OUTBOUND,
            status__in=[Message.Status.PENDING, Message.Status.SENDING],
        ).order_by("id")
    )
    if any(message.status == Message.Status.SENDING for message in waiting):
        return []
    return waiting


def users_with_pending_outbound(*, older_than_s: float) -> set[str]:
    """Phones with outbound messages pending for longer than that (a retry task that was lost)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    return set(
        Message.objects.filter(
            direction=Message.Direction.OUTBOUND, status=Message.Status.PENDING, updated_at__lte=cutoff
        ).values_list("user_phone", flat=True)
    )


def claim_for_sending(message: Message, *, first_in_line: bool = False) -> bool:
    """Move a pending outbound message to "sending"; False when another sender took it first.

    With `first_in_line`, only if it is the user's next message to send: none of theirs is being
    sent and none older waits. That is `pending_outbound(user_phone)[0]` and its claim in one
    statement, for a sender that has just stored the message.
    """
    claimable = Message.objects.filter(pk=message.pk, status=Message.Status.PENDING)
    if first_in_line:
        ahead = Message.objects.filter(user_phone=message.user_phone, direction=Message.Direction.OUTBOUND).filter(
            Q(status=Message.Status.SENDING) | Q(status=Message.Status.PENDING, pk__lt=message.pk)
        )
        claimable = claimable.filter(~Exists(ahead))
    return bool(claimable.update(status=Message.Status.SENDING, updated_at=timezone.now()))


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


# What the send API may answer besides our own statuses: Twilio has a message, not sent yet.
# "sending" included: stored as is, it would read as our own claim (a send under way here).
_ACCEPTED_FOR_SENDING = Message.Status.QUEUED
_SEND_RESULT_STATUSES = frozenset(
    {Message.Status.CONSOLE, Message.Status.QUEUED, Message.Status.SENT, Message.Status.DELIVERED, Message.Status.READ,
     Message.Status.FAILED, Message.Status.UNDELIVERED}
)  # fmt: skip


def mark_sent(message: Message, *, sid: str | None, status: str) -> None:
    """Record a message the backend took; a status we do not track ("accepted", "scheduled", …) is stored as queued."""
    message.twilio_sid = sid
    message.status = status if status in _SEND_RESULT_STATUSES else _ACCEPTED_FOR_SENDING
    message.send_attempts += 1
    message.save(update_fields=["twilio_sid", "status", "send_attempts", "updated_at"])


def status_explanation(message: Message) -> str:
    """A sentence for staff on why `message` was blocked or failed ("" when it was not)."""
    return message.status_note


def mark_blocked(message: Message, *, reason: str) -> None:
    """Record that a claimed message was refused before it reached Twilio, and why (`threads.consent`)."""
    message.status = Message.Status.BLOCKED
    message.error_code = reason[:16]
    message.save(update_fields=["status", "error_code", "updated_at"])


def mark_send_failed(message: Message, *, error_code: str) -> None:
    message.status = Message.Status.FAILED
    message.error_code = error_code[:16]
    message.send_attempts += 1
    message.save(update_fields=["status", "error_code", "send_attempts", "updated_at"])


# Twilio's statuses move forward only; a late "sent" callback must not undo "delivered".
_STATUS_RANK: dict[str, int] = {
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
        if _STATUS_RANK.get(message.status, 0) <= _STATUS_RANK[status]:  # a stored status we do not rank: 0
            message.status = status
            message.error_code = (error_code or "")[:16]
            message.save(update_fields=["status", "error_code", "updated_at"])
    return True


def recent_transcript(
    user_phone: str, *, limit: int = TRANSCRIPT_SEED_LIMIT, exclude_turn_id: int | None = None
) -> list[tuple[Literal["user", "assistant"], str]]:
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
        .exclude(**({"turn_id": exclude_turn_id} if exclude_turn_id is not None else {"turn__isnull": True}))
        .order_by("-created_at", "-id")
        .values_list("direction", "body")[:limit]
    )
    transcript: list[tuple[Literal["user", "assistant"], str]] = [
        ("user" if direction == Message.Direction.INBOUND else "assistant", body) for direction, body in reversed(rows)
    ]
    return transcript


# What staff leave in the log when they take a user over: their replies, and the user's messages held for them.
_TAKEOVER = Q(origin=Message.Origin.STAFF) | Q(status=Message.Status.HELD)


def last_model_turn(user_phone: str, *, before_turn_id: int) -> Turn | None:
    """Return the user's latest turn before `before_turn_id` that reached the model (None if none did).

    It carries `staff_stepped_in`: whether staff took the user over after it began (see
    `human_takeover_since_model`), asked in the same query.
    """
    stepped_in = Exists(
        Message.objects.filter(user_phone=user_phone, created_at__gt=OuterRef("started_at")).filter(_TAKEOVER)
    )
    return (
        Turn.objects.filter(user_phone=user_phone, pk__lt=before_turn_id)
        .exclude(response_id="")
        .order_by("-pk")
        .only("pk", "started_at", "price_checks")
        .annotate(staff_stepped_in=stepped_in)
        .first()
    )


def human_takeover_since_model(user_phone: str, *, before_turn_id: int, last_model_turn: Turn | None) -> list[Message]:
    """Messages the model never saw because staff had taken over: held ones and staff replies.

    They are those after `last_model_turn` (the user's last turn that reached the model), oldest
    first; empty when staff did not step in (which `last_model_turn()` has said already).
    """
    window = Message.objects.filter(
        user_phone=user_phone, **({"created_at__gt": last_model_turn.started_at} if last_model_turn else {})
    )
    if last_model_turn is not None and hasattr(last_model_turn, "staff_stepped_in"):
        stepped_in = last_model_turn.staff_stepped_in
    else:
        stepped_in = window.filter(_TAKEOVER).exists()
    if not stepped_in:
        return []
    return list(window.filter(_TAKEOVER).exclude(turn_id=before_turn_id).order_by("created_at", "id"))


def sent_text_of_turn(turn_id: int) -> str:
    """Return what the user received for a turn: its outbound parts, joined."""
    bodies = Message.objects.filter(turn_id=turn_id, direction=Message.Direction.OUTBOUND).order_by("id")
    return "\n".join(bodies.values_list("body", flat=True))
