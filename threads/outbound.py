"""The one door every outbound message passes: log, check WhatsApp's rules, send, retry later on failure.

Every part is stored as a pending outbound message *before* it is sent, so a send that fails
is visible in the admin and picked up again by the retry task, in order. Right before a
message goes to the backend it is held to `threads.consent` (opted out? window closed?): the
bot, staff, templates, retries and recovery all send through here, so none can forget it.
"""

import json
import logging

from django.db import transaction

from messaging.backends import BaseMessagingBackend, OutboundMessage, get_messaging_backend
from messaging.exceptions import MessagingError
from messaging.formatting import split_message

from . import consent, message_log, scheduling
from .models import Message, MessageTemplate, Turn

logger = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 5
RETRY_DELAYS_S = (5, 30, 120, 600)


def deliver_reply(
    *,
    user_phone: str,
    text: str,
    origin: str,
    turn: Turn | None = None,
    staff_user_id: int | None = None,
    notice: str = "",
) -> list[Message]:
    """Store the reply's parts (split at Twilio's limit) and send them in order; return the stored messages.

    `text` is WhatsApp-formatted already (`messaging.formatting.to_whatsapp` turns the model's
    Markdown into it); staff and the fallback responder write that way themselves. `notice`
    marks the answers to a consent keyword, the only messages an opted-out user may get.
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
            notice=notice,
        )
        for part in parts
    ]
    return _send_stored(user_phone, rows)


def deliver_template(
    *, user_phone: str, template: MessageTemplate, variables: dict[str, str], text: str, staff_user_id: int | None
) -> Message:
    """Store an approved template (its rendered text as the body) and send it; return the stored message."""
    row = message_log.record_outbound(
        user_phone=user_phone,
        body=text,
        origin=Message.Origin.STAFF if staff_user_id else Message.Origin.SYSTEM,
        staff_user_id=staff_user_id,
        template=template,
        template_variables=variables,
    )
    return _send_stored(user_phone, [row])[0]


def _send_stored(user_phone: str, rows: list[Message]) -> list[Message]:
    """Send just-stored `rows` (and whatever waits before them); return them as they now stand."""
    finished: dict[int, Message] = {}
    _send_pending(user_phone, first=rows[0] if rows else None, finished=finished)
    for row in rows:
        if row.pk not in finished:
            row.refresh_from_db()  # waiting for a retry, or sent by another sender
        elif finished[row.pk] is not row:
            _copy_state(finished[row.pk], row)
    return rows


def send_pending_outbound(*, user_phone: str) -> int:
    """Send the user's pending outbound messages oldest first; return how many went out.

    Each message is claimed (pending → sending) before it goes out, so a turn, a staff
    message, a retry task and recovery running at once never send it twice; whoever finds
    another sender at work leaves the rest to it, which keeps the order. A temporary failure
    stops the batch (later parts must not overtake earlier ones) and schedules a retry with
    back-off; a permanent one marks that message failed and moves on.
    """
    return _send_pending(user_phone)


def _send_pending(user_phone: str, *, first: Message | None = None, finished: dict[int, Message] | None = None) -> int:
    """Send as `send_pending_outbound` does; `first`, just stored, goes at once if it is next in line.

    Claiming `first` on condition that nothing is ahead of it saves reading the queue before
    it; the queue is read after it all the same, for what other senders left to this one.
    `finished` collects the messages sent or failed for good, as written to the database.
    """
    backend = get_messaging_backend()
    finished = {} if finished is None else finished
    sent = 0
    if first is not None and message_log.claim_for_sending(first, first_in_line=True):
        outcome = _send_claimed(backend, first, finished)
        if outcome is None:
            return sent
        sent += outcome
    while rows := message_log.pending_outbound(user_phone):
        for row in rows:
            if not message_log.claim_for_sending(row):
                return sent  # another sender is at work for this user
            outcome = _send_claimed(backend, row, finished)
            if outcome is None:
                return sent
            sent += outcome
    return sent


def _send_claimed(backend: BaseMessagingBackend, row: Message, finished: dict[int, Message]) -> int | None:
    """Send a claimed message: 1 if it went out, 0 if it failed for good or was refused, None if it waits.

    The user's consent is read for each message, once it is claimed: a batch (a long reply's
    parts, a backlog after an outage) takes seconds, and an opt-out recorded meanwhile stops the rest.
    """
    if refusal := consent.refusal(row, consent.contact_for_sending(row.user_phone)):
        logger.warning("message %s to %s blocked: %s", row.pk, row.user_phone, refusal)
        message_log.mark_blocked(row, reason=refusal)
        finished[row.pk] = row
        return 0
    try:
        result = backend.send(_outbound_message(row))
    except MessagingError as exc:
        if exc.permanent or row.send_attempts + 1 >= MAX_SEND_ATTEMPTS:
            logger.error("message %s to %s failed for good (code %s)", row.pk, row.user_phone, exc.code or "-")
            message_log.mark_send_failed(row, error_code=exc.code or "send_failed")
            finished[row.pk] = row
            return 0
        _schedule_retry(row, exc)
        return None
    message_log.mark_sent(row, sid=result.sid, status=result.status)
    finished[row.pk] = row
    return 1


def _outbound_message(row: Message) -> OutboundMessage:
    if row.template_id is None:
        return OutboundMessage(to=row.user_phone, body=row.body)
    template = row.template
    assert template is not None
    return OutboundMessage(
        to=row.user_phone,
        body=row.body,
        content_sid=template.content_sid,
        content_variables=json.dumps(row.template_variables, ensure_ascii=False),
    )


def _copy_state(source: Message, target: Message) -> None:
    """Give `target` the columns of `source`, the same row as read and written by the sender."""
    for field in Message._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))


def retry_delay_s(failed_attempts: int) -> int:
    """Seconds a reply waits before it is sent again after `failed_attempts` failed sends (at least 1)."""
    return RETRY_DELAYS_S[min(max(failed_attempts, 1) - 1, len(RETRY_DELAYS_S) - 1)]


def _schedule_retry(row: Message, exc: MessagingError) -> None:
    message_log.release_for_retry(row, error_code=exc.code or "")
    delay = retry_delay_s(row.send_attempts + 1)
    logger.warning("sending message %s failed (%s); retrying in %ss", row.pk, exc.code or "temporary", delay)
    transaction.on_commit(lambda: scheduling.run_later(scheduling.SEND_PENDING_MESSAGES, delay, row.user_phone))
