"""Delivering replies: format for WhatsApp, split at Twilio's limit, log, send, retry later on failure.

Every part is stored as a pending outbound message *before* it is sent, so a send that fails
is visible in the admin and picked up again by the retry task, in order.
"""

import logging

from django.db import transaction

from messaging.backends import OutboundMessage, get_messaging_backend
from messaging.exceptions import MessagingError
from messaging.formatting import split_message

from . import message_log, scheduling
from .models import Message, Turn

logger = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 5
RETRY_DELAYS_S = (5, 30, 120, 600)


def deliver_reply(
    *, user_phone: str, text: str, origin: str, turn: Turn | None = None, staff_user_id: int | None = None
) -> list[Message]:
    """Store the reply's parts (split at Twilio's limit) and send them in order; return the stored messages.

    `text` is WhatsApp-formatted already (`messaging.formatting.to_whatsapp` turns the model's
    Markdown into it); staff and the fallback responder write that way themselves.
    """
    thread_id = turn.thread_id if turn else ""
    parts = split_message(text)
    rows = [
        message_log.record_outbound(
            user_phone=user_phone,
            body=part,
            origin=origin,
            thread_id=thread_id,
            turn=turn,
            staff_user_id=staff_user_id,
        )
        for part in parts
    ]
    send_pending_outbound(user_phone=user_phone)
    for row in rows:
        row.refresh_from_db()
    return rows


def send_pending_outbound(*, user_phone: str) -> int:
    """Send the user's pending outbound messages oldest first; return how many went out.

    Each message is claimed (pending → sending) before it goes out, so a turn, a staff
    message, a retry task and recovery running at once never send it twice; whoever finds
    another sender at work leaves the rest to it, which keeps the order. A temporary failure
    stops the batch (later parts must not overtake earlier ones) and schedules a retry with
    back-off; a permanent one marks that message failed and moves on.
    """
    backend = get_messaging_backend()
    sent = 0
    while rows := message_log.pending_outbound(user_phone):
        for row in rows:
            if not message_log.claim_for_sending(row):
                return sent  # another sender is at work for this user
            try:
                result = backend.send(OutboundMessage(to=user_phone, body=row.body))
            except MessagingError as exc:
                if exc.permanent or row.send_attempts + 1 >= MAX_SEND_ATTEMPTS:
                    logger.error("message %s to %s failed for good (code %s)", row.pk, user_phone, exc.code or "-")
                    message_log.mark_send_failed(row, error_code=exc.code or "send_failed")
                    continue
                _schedule_retry(row, exc)
                return sent
            message_log.mark_sent(row, sid=result.sid, status=result.status)
            sent += 1
    return sent


def _schedule_retry(row: Message, exc: MessagingError) -> None:
    message_log.release_for_retry(row, error_code=exc.code or "")
    delay = RETRY_DELAYS_S[min(row.send_attempts, len(RETRY_DELAYS_S) - 1)]
    logger.warning("sending message %s failed (%s); retrying in %ss", row.pk, exc.code or "temporary", delay)
    transaction.on_commit(lambda: scheduling.run_later(scheduling.SEND_PENDING_MESSAGES, delay, row.user_phone))
