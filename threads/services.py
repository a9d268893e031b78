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
import time
from collections.abc import Sequence

from django.conf import settings

from . import handoff, message_log, turns
from .adapter import UserMessage, is_openai_enabled
from .answering import (
    add_media_cost,
    background_lease_ttl_s,
    complete_turn,
    context_notes,
    converse,
    fail_turn,
    lease_ttl_s,
    mapped_thread_id,
    open_turn,
    reply_origin,
    text_for_model,
    tracking_openai_requests,
)
from .attachments import STICKER_REPLY, sticker_only, understand_attachments
from .background import start_background_turn
from .budgets import check_budget
from .consent_turn import plan as plan_consent
from .consent_turn import run_consent_turn
from .fallback import fallback_reply, is_handoff_request
from .locks import LeaseKeeper, acquire_user_lease, release_user_lease, renew_user_lease
from .models import Message, Turn

logger = logging.getLogger(__name__)


def uses_background_mode() -> bool:
    return settings.OPENAI_BACKGROUND and is_openai_enabled() and settings.OPENAI_ENGINE == "responses"


def process_user_messages(*, user_phone: str) -> int:
    """Answer the user's pending messages, a turn per batch, and return how many turns ran.

    When another worker (or a background turn) holds the user's lease this returns 0 at once:
    the holder looks for pending messages again when it lets go, so nothing waits for ever and
    nobody busy-waits.

    The lease is taken afresh for each turn: a turn starts right after the lease is taken, so it
    needs no renewal first, and messages that came in during a turn are found by the look after
    the release, which every holder makes anyway.
    """
    turns = 0
    while True:
        token = acquire_user_lease(user_phone, ttl_s=lease_ttl_s())
        if token is None:
            logger.info("turn for %s already in progress; its holder will take the new messages", user_phone)
            return turns
        handed_off: Turn | None = None  # a background turn, which holds the lease until it ends
        try:
            with LeaseKeeper(user_phone, token, ttl_s=lease_ttl_s(), interval_s=lease_ttl_s() / 3):
                pending = message_log.gather_pending_inbound(user_phone)
                if pending.messages:
                    turn = run_turn(
                        user_phone=user_phone,
                        messages=pending.messages,
                        lease_token=token,
                        bot_paused=pending.bot_paused,
                        opted_out=pending.opted_out,
                    )
                    turns += 1
                    if turn is not None and turn.status == Turn.Status.BACKGROUND:
                        handed_off = turn
            if handed_off is not None:
                renew_user_lease(user_phone, token, ttl_s=background_lease_ttl_s(handed_off))
                return turns
        finally:
            if handed_off is None:
                release_user_lease(user_phone, token)
        # A message stored during the turn, or after our look but before the release, found the
        # lease taken and was left for us: look once more, with the lease free for whoever comes first.
        if not message_log.has_pending_inbound(user_phone):
            return turns


def run_turn(
    *,
    user_phone: str,
    messages: Sequence[Message],
    lease_token: str,
    bot_paused: bool = False,
    opted_out: bool = False,
) -> Turn | None:
    """Run one turn over `messages`; the caller holds the user's lease (`lease_token`).

    Where the turn goes is known before it opens. Consent comes first: an opt-out or opt-in
    keyword, or anything an opted-out user writes (`opted_out`), is answered by the consent
    rules alone, whatever else holds. Then: held for staff (`bot_paused`, read with the
    messages), the rule-based responder (OpenAI off, a limit reached) or the model. A turn bound
    for the model opens in the user's thread, so its messages are claimed into it at once.
    """
    consent_plan = plan_consent(messages, opted_out=opted_out)
    if consent_plan.consumed:
        # Messages after an opt-in are left pending: the caller's next look gives them a turn of their own.
        return run_consent_turn(user_phone=user_phone, consent_plan=consent_plan, lease_token=lease_token)
    to_model = not bot_paused and is_openai_enabled()
    exceeded = check_budget(user_phone=user_phone) if to_model else None
    opened = open_turn(
        user_phone=user_phone,
        lease_token=lease_token,
        messages=messages,
        thread_id=mapped_thread_id(user_phone) if to_model and not exceeded else "",
        bot_paused=bot_paused,
    )
    if opened is None:
        return None
    turn, claimed = opened
    texts = [text_for_model(m) for m in claimed]

    if bot_paused:
        Message.objects.filter(pk__in=[m.pk for m in claimed]).update(status=Message.Status.HELD)
        turns.finish_turn(turn, status=Turn.Status.PAUSED)
        logger.info("bot paused for %s: %d message(s) held for staff", user_phone, len(claimed))
        return turn

    has_media = any(m.media for m in claimed)
    if has_media and sticker_only(claimed):  # a friendly word needs no model
        turn.fallback_reason = "media"
        return complete_turn(turn, reply=STICKER_REPLY, origin=Message.Origin.FALLBACK)
    if (exceeded or not is_openai_enabled()) and any(is_handoff_request(m.body) for m in claimed):
        # The rule-based path keeps the model's promise too: staff are told and the bot pauses.
        turn.fallback_reason = exceeded.reason if exceeded else "not_configured"
        reply = handoff.request_from_rules(user_phone=user_phone, messages=claimed)
        return complete_turn(turn, reply=reply, origin=Message.Origin.FALLBACK)
    if not is_openai_enabled():
        only_media = has_media and not any(m.body for m in claimed)
        turn.fallback_reason = "media" if only_media else "not_configured"
        reply = fallback_reply(
            texts=texts, reason="media" if only_media else None, user_phone=user_phone, turn_id=turn.pk
        )
        return complete_turn(turn, reply=reply, origin=Message.Origin.FALLBACK)
    if exceeded:
        turn.fallback_reason = exceeded.reason
        turn.error = f"budget: {exceeded.detail}"
        logger.warning("turn %s for %s kept from the model: %s", turn.pk, user_phone, exceeded.reason)
        reply = fallback_reply(texts=texts, reason="limited", user_phone=user_phone, turn_id=turn.pk)
        return complete_turn(turn, reply=reply, origin=Message.Origin.FALLBACK)
    deadline = time.monotonic() + settings.OPENAI_RUN_TIMEOUT_S
    inputs: list[str | UserMessage] = list(texts)
    if has_media:
        try:
            with tracking_openai_requests(turn):
                # Attachments get at most half the turn's time: the model needs the rest.
                understood = understand_attachments(claimed, deadline=deadline - settings.OPENAI_RUN_TIMEOUT_S / 2)
        except Exception as exc:  # understand_attachments contains its own failures; this is a last resort
            return fail_turn(turn, exc, texts=texts)
        add_media_cost(turn, understood.cost_usd)
        inputs, texts = understood.inputs, understood.texts
        if understood.direct_reply:
            turn.fallback_reason = "media"
            logger.info("turn %s for %s: nothing readable (%s)", turn.pk, user_phone, ", ".join(understood.reasons))
            return complete_turn(turn, reply=understood.direct_reply, origin=Message.Origin.FALLBACK)
    if uses_background_mode():
        return start_background_turn(turn, texts=inputs)
    try:
        with tracking_openai_requests(turn):
            result = converse(turn, user_phone=user_phone, texts=[*context_notes(turn), *inputs], deadline=deadline)
    except Exception as exc:  # anything at all: the user still gets an answer
        return fail_turn(turn, exc, texts=texts)
    return complete_turn(turn, reply=result.text, origin=reply_origin(turn))
