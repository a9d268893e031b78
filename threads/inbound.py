"""The way in: what Brenda does with a WhatsApp message from Twilio and with an event from OpenAI.

The webhooks verify the caller and parse the request; these services decide what happens next.
Both senders deliver at least once, so each service records what arrived under the sender's
own id first and schedules work only for the copy that got in, after commit.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Protocol

from django.db import transaction

from . import message_log, scheduling
from .message_log import InboundMedia

logger = logging.getLogger(__name__)

# The OpenAI events that end a background response: the turn waiting on it goes on.
RESPONSE_EVENTS = frozenset({"response.completed", "response.failed", "response.cancelled", "response.incomplete"})


@dataclass(frozen=True)
class InboundResult:
    """What became of an inbound message: its row, and whether its user's processing was queued."""

    message_id: int
    user_phone: str
    twilio_sid: str
    # False for a re-delivery of a message stored before.
    created: bool
    # Whether processing the user's messages was queued (on commit): new, or a stranded re-delivery.
    queued: bool


def accept_inbound_message(
    *,
    user_phone: str,
    twilio_sid: str,
    body: str,
    media: Sequence[InboundMedia] = (),
    profile_name: str = "",
) -> InboundResult:
    """Store an inbound message once per `MessageSid` and queue its user's processing.

    The contact is created or touched on the way (`message_log.record_inbound`). The task can
    never start before the message is committed, so a worker never picks up a message it cannot
    see yet: with the database task backend it is inserted in the message's own transaction
    (both commit together, before the webhook answers 200; on PostgreSQL in one statement), with
    any other backend it is queued after commit. A copy of a message already stored queues
    nothing, unless it is stranded: its task never got queued (the enqueue after commit failed
    and we answered 500), and the re-delivery Twilio sends for that 500 is what queues it now.
    """
    work = scheduling.Work(scheduling.PROCESS_USER_MESSAGES, (user_phone,))
    message, created = message_log.record_inbound(
        user_phone=user_phone, twilio_sid=twilio_sid, body=body, media=media, profile_name=profile_name, queue=work
    )
    queued = created or message_log.is_stranded(message)
    if queued and not created:
        work.run_soon_on_commit()
    return InboundResult(
        message_id=message.pk, user_phone=user_phone, twilio_sid=twilio_sid, created=created, queued=queued
    )


class EventLedger(Protocol):
    """The record of OpenAI events already received, kept by whoever owns that table (the webhooks app)."""

    def record(self, *, event_id: str, event_type: str) -> bool:
        """Record the event; return False, changing nothing, when it was recorded before."""
        ...

    def forget(self, *, event_id: str) -> None:
        """Delete the event's record, so that a re-delivery of it is accepted."""
        ...


class EventOutcome(StrEnum):
    ACCEPTED = "accepted"  # a response event: the turn waiting on it was queued (on commit)
    DUPLICATE = "duplicate"  # received before; nothing done
    IGNORED = "ignored"  # recorded, but not an event Brenda acts on
    NO_RESPONSE_ID = "no_response_id"  # a response event without the response's id: recorded, ignored


@dataclass(frozen=True)
class OpenAIEventResult:
    event_id: str
    event_type: str
    response_id: str | None
    outcome: EventOutcome


def accept_openai_event(
    *, event_id: str, event_type: str, response_id: str | None, ledger: EventLedger
) -> OpenAIEventResult:
    """Record an OpenAI event once per webhook event id and, for a response event, queue the turn's continuation.

    OpenAI delivers at least once: the ledger lets exactly one copy through. The continuation
    is queued after commit; if that enqueue fails the event is forgotten again and the error
    propagates (the webhook answers 500), so OpenAI's retry is accepted rather than taken for a
    duplicate of an event nobody acted on.
    """
    with transaction.atomic():
        if not ledger.record(event_id=event_id, event_type=event_type):
            outcome = EventOutcome.DUPLICATE
        elif event_type not in RESPONSE_EVENTS:
            outcome = EventOutcome.IGNORED
        elif not response_id:
            outcome = EventOutcome.NO_RESPONSE_ID
        else:
            transaction.on_commit(partial(_continue_turn, ledger, event_id, event_type, response_id))
            outcome = EventOutcome.ACCEPTED
    return OpenAIEventResult(event_id=event_id, event_type=event_type, response_id=response_id, outcome=outcome)


def _continue_turn(ledger: EventLedger, event_id: str, event_type: str, response_id: str) -> None:
    try:
        scheduling.run_soon(scheduling.HANDLE_OPENAI_RESPONSE, event_type, response_id)
    except Exception:
        logger.exception("could not enqueue OpenAI event %s; forgetting it so a retry is accepted", event_id)
        ledger.forget(event_id=event_id)
        raise
