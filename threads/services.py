"""The conversation use case: turn a user's pending WhatsApp messages into one reply.

`process_user_messages` is what the background task runs after each inbound message. It takes
the user's lease (one turn at a time per user, across processes and hosts), gathers every
message still waiting — so a burst of five messages gets one coherent answer —, and runs a
turn over them: held for staff while the bot is paused, answered by the rule-based responder
when OpenAI is off or the user is over budget, otherwise by the model (synchronously here, or
in OpenAI's background mode through `threads.background`). What every turn does on the way —
the thread, the model, the price check, the reply or the fallback — is `threads.answering`.
"""

import logging
from collections.abc import Sequence

from django.conf import settings

from . import message_log, turns
from .adapter import is_openai_enabled
from .answering import (
    background_lease_ttl_s,
    complete_turn,
    context_notes,
    converse,
    fail_turn,
    lease_ttl_s,
    reply_origin,
    schedule_recovery_check,
    text_for_model,
    tracking_openai_requests,
    with_media_note,
)
from .background import start_background_turn
from .budgets import check_budget
from .fallback import fallback_reply
from .locks import LeaseKeeper, acquire_user_lease, release_user_lease, renew_user_lease
from .models import Contact, Message, Turn

logger = logging.getLogger(__name__)


def uses_background_mode() -> bool:
    return settings.OPENAI_BACKGROUND and is_openai_enabled() and settings.OPENAI_ENGINE == "responses"


def process_user_messages(*, user_phone: str) -> int:
    """Answer the user's pending messages, a turn per batch, and return how many turns ran.

    When another worker (or a background turn) holds the user's lease this returns 0 at once:
    the holder looks for pending messages again when it lets go, so nothing waits for ever and
    nobody busy-waits.
    """
    turns = 0
    while True:
        token = acquire_user_lease(user_phone, ttl_s=lease_ttl_s())
        if token is None:
            logger.info("turn for %s already in progress; its holder will take the new messages", user_phone)
            return turns
        handed_off = False
        keeper = LeaseKeeper(user_phone, token, ttl_s=lease_ttl_s(), interval_s=lease_ttl_s() / 3)
        try:
            with keeper:
                while pending := message_log.pending_inbound(user_phone):
                    if keeper.lost or not renew_user_lease(user_phone, token, ttl_s=lease_ttl_s()):
                        # Lapsed (or taken by recovery): stop here; the release below is a no-op
                        # if it is no longer ours, and the look below takes up what is left.
                        break
                    turn = run_turn(user_phone=user_phone, messages=pending, lease_token=token)
                    turns += 1
                    if turn is not None and turn.status == Turn.Status.BACKGROUND:
                        handed_off = True  # the background turn holds the lease until it ends
                        break
            if handed_off:
                renew_user_lease(user_phone, token, ttl_s=background_lease_ttl_s(turn))
                return turns
        finally:
            if not handed_off:
                release_user_lease(user_phone, token)
        # A message stored after our last look but before the release found the lease taken
        # and left it for us: look once more, with the lease free for whoever comes first.
        if not message_log.has_pending_inbound(user_phone):
            return turns


def run_turn(*, user_phone: str, messages: Sequence[Message], lease_token: str) -> Turn | None:
    """Run one turn over `messages`; the caller holds the user's lease (`lease_token`)."""
    turn = turns.start_turn(
        user_phone=user_phone,
        lease_token=lease_token,
        engine=settings.OPENAI_ENGINE if is_openai_enabled() else "fallback",
    )
    claimed = message_log.claim_for_turn(messages, turn)
    if not claimed:
        turns.discard_turn(turn)
        return None
    schedule_recovery_check(turn)
    texts = [text_for_model(m) for m in claimed]

    if Contact.objects.filter(pk=user_phone, bot_paused=True).exists():
        Message.objects.filter(pk__in=[m.pk for m in claimed]).update(status=Message.Status.HELD)
        turns.finish_turn(turn, status=Turn.Status.PAUSED)
        logger.info("bot paused for %s: %d message(s) held for staff", user_phone, len(claimed))
        return turn

    has_media = any(m.media for m in claimed)
    if not is_openai_enabled():
        only_media = has_media and not any(m.body for m in claimed)
        turn.fallback_reason = "media" if only_media else "not_configured"
        reply = fallback_reply(texts=texts, reason="media" if only_media else None)
        return complete_turn(turn, reply=reply, origin=Message.Origin.FALLBACK)
    if exceeded := check_budget(user_phone=user_phone):
        turn.fallback_reason = exceeded.reason
        turn.error = f"budget: {exceeded.detail}"
        logger.warning("turn %s for %s kept from the model: %s", turn.pk, user_phone, exceeded.reason)
        return complete_turn(turn, reply=fallback_reply(texts=texts, reason="limited"), origin=Message.Origin.FALLBACK)
    if uses_background_mode():
        return start_background_turn(turn, texts=texts)
    try:
        with tracking_openai_requests(turn):
            result = converse(turn, user_phone=user_phone, texts=[*context_notes(turn), *texts])
    except Exception as exc:  # anything at all: the user still gets an answer
        return fail_turn(turn, exc, texts=texts)
    return complete_turn(turn, reply=with_media_note(result.text, has_media), origin=reply_origin(turn))
