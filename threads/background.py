"""Background turns (`OPENAI_BACKGROUND=true`): OpenAI works, no worker waits.

A turn starts a background response and returns. OpenAI's webhook (or, if it never comes, a
check task scheduled at the turn's deadline) advances it: tool calls are executed and the
next background response started, a final message is delivered, a failure gets the fallback
reply. The user's lease stays with the turn until it ends, so their next messages wait and
are merged into the following turn.
"""

import logging
from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from courses.selectors import get_course_amounts

from . import message_log, scheduling, turns
from .adapter import ThreadsAdapter, UserMessage, get_adapter
from .answering import (
    MIN_CORRECTION_S,
    add_failed_usage,
    background_lease_ttl_s,
    complete_turn,
    context_notes,
    ensure_thread,
    fail_turn,
    price_correction_note,
    record_price_check,
    record_run,
    reply_origin,
    tracking_openai_requests,
    vet_prices,
)
from .exceptions import RunTimeout, ThreadsError
from .locks import release_user_lease, renew_user_lease
from .models import Turn
from .pricecheck import PriceCheck, check_catalogue_prices, find_money

logger = logging.getLogger(__name__)

# An event for a response no turn knows yet is looked at this many times, this far apart (x attempt).
EVENT_ATTEMPTS = 3
EVENT_RETRY_S = 2.0


def start_background_turn(turn: Turn, *, texts: Sequence[str | UserMessage]) -> Turn:
    """Start the turn as a background response and leave it waiting for the webhook."""
    adapter = get_adapter()
    try:
        with tracking_openai_requests(turn):
            thread_id = ensure_thread(turn, adapter=adapter)
            response_id = adapter.start_background(thread_id, [*context_notes(turn), *texts])
    except Exception as exc:
        return fail_turn(turn, exc)  # answered at once; the caller still holds and releases the lease
    turn.state = {**turn.state, "rounds": 0}
    if not turns.hand_to_background(turn, response_id=response_id):
        logger.warning("turn %s was closed by recovery while its background response started", turn.pk)
        adapter.cancel_background(response_id)  # recovery answers the re-queued messages itself
        turn.refresh_from_db()
        return turn
    _schedule_check(turn)
    logger.info("turn %s for %s waits for background response %s", turn.pk, turn.user_phone, response_id)
    return turn


def handle_response_event(*, event_type: str, response_id: str, attempt: int = 1) -> Turn | None:
    """Advance the turn waiting on `response_id` after an OpenAI webhook event.

    The event can overtake the worker that started the response and is still saving its id:
    an event for a response no turn knows yet is looked at again a little later.
    """
    turn = Turn.objects.filter(response_id=response_id, status=Turn.Status.BACKGROUND).first()
    if turn is not None:
        return advance_background_turn(turn_id=turn.pk, response_id=response_id)
    if attempt < EVENT_ATTEMPTS and not Turn.objects.filter(response_id=response_id).exists():
        scheduling.run_later(
            scheduling.HANDLE_OPENAI_RESPONSE, EVENT_RETRY_S * attempt, event_type, response_id, attempt + 1
        )
    logger.info("no background turn waits for %s (%s): already handled or not known yet", response_id, event_type)
    return None


def advance_background_turn(*, turn_id: int, response_id: str, deadline_passed: bool = False) -> Turn | None:
    """Take the turn waiting on `response_id` (once: webhook and check task may race) and move it on."""
    turn = turns.resume_background(turn_id=turn_id, response_id=response_id)
    if turn is None:
        return None
    adapter = get_adapter()
    try:
        with tracking_openai_requests(turn):
            step = adapter.resume_background(response_id, state=turn.state)
    except Exception as exc:
        return _end(_send_first_reply(turn, exc) or fail_turn(turn, exc))
    record_run(turn, step)
    turn.state = step.state
    if step.done:
        second_try = bool(turn.state.get("price_retry"))
        # As in vet_prices: a reply with no amount (most) needs no catalogue read.
        catalogue = get_course_amounts() if find_money(step.text) else None
        can_ask = not second_try and not deadline_passed and _time_left_s(turn) >= MIN_CORRECTION_S
        if catalogue is not None and can_ask:
            check = check_catalogue_prices(step.text, catalogue)
            if not check.ok and _ask_again_in_background(turn, adapter, check, reply=step.text):
                return turn
        text = vet_prices(turn, step.text, second_try=second_try, catalogue=catalogue)
        return _end(complete_turn(turn, reply=text, origin=reply_origin(turn)))
    if deadline_passed:
        with tracking_openai_requests(turn):
            adapter.cancel_background(step.response_id)
        timeout = RunTimeout(f"background turn {turn.pk} did not finish by its deadline")
        return _end(_send_first_reply(turn, timeout) or fail_turn(turn, timeout))
    if step.response_id == response_id:  # still working: wait for the same response
        _wait_for(turn, step.response_id, schedule_check=False)
    else:
        _wait_for(turn, step.response_id)
    return turn


def _ask_again_in_background(turn: Turn, adapter: ThreadsAdapter, check: PriceCheck, *, reply: str) -> bool:
    """Start the model's one chance to correct a wrong price as the turn's next background response.

    The first `reply` is kept: if the correction fails or runs out of time, it is sent with its
    wrong amounts cut, as in a synchronous turn. Return False (the caller cuts the wrong amounts
    at once) when the correction cannot be started.
    """
    try:
        with tracking_openai_requests(turn):
            response_id = adapter.start_background(turn.thread_id, [price_correction_note(check)])
    except ThreadsError as exc:
        logger.warning("turn %s: could not ask for a price correction (%s)", turn.pk, exc)
        return False
    record_price_check(turn, check, action="asked_again")
    turn.state = {**turn.state, "price_retry": True, "first_reply": reply, "rounds": 0}
    _wait_for(turn, response_id)
    logger.info("turn %s asked the model to correct a price (response %s)", turn.pk, response_id)
    return True


def _send_first_reply(turn: Turn, exc: BaseException) -> Turn | None:
    """After a failed price correction, answer with the first reply, its wrong amounts cut; None if there was none."""
    first = turn.state.get("first_reply") if turn.state.get("price_retry") else None
    if not first:
        return None
    add_failed_usage(turn, exc)
    turn.error = f"price correction failed: {type(exc).__name__}: {exc}"[:500]
    logger.warning("turn %s: the price correction failed (%s); sending the first reply, cut", turn.pk, exc)
    return complete_turn(turn, reply=vet_prices(turn, first), origin=reply_origin(turn))


def _time_left_s(turn: Turn) -> float:
    deadline = turn.started_at + timedelta(seconds=settings.OPENAI_RUN_TIMEOUT_S)
    return (deadline - timezone.now()).total_seconds()


def _wait_for(turn: Turn, response_id: str, *, schedule_check: bool = True) -> None:
    """Leave the turn waiting on `response_id`, its lease kept until past its deadline check."""
    if not turns.hand_to_background(turn, response_id=response_id):
        logger.warning("turn %s was closed by recovery while it waited on OpenAI", turn.pk)
        return
    renew_user_lease(turn.user_phone, turn.lease_token, ttl_s=background_lease_ttl_s(turn))
    if schedule_check:
        _schedule_check(turn)


def check_background_turn(*, turn_id: int, response_id: str) -> Turn | None:
    """Finish a turn whose webhook never came: retrieve its response at the deadline."""
    if not Turn.objects.filter(pk=turn_id, status=Turn.Status.BACKGROUND, response_id=response_id).exists():
        return None
    logger.warning("no webhook for response %s of turn %s by its deadline; checking it", response_id, turn_id)
    return advance_background_turn(turn_id=turn_id, response_id=response_id, deadline_passed=True)


def _end(turn: Turn) -> Turn:
    """Let go of the user's lease and take any messages that arrived during the background turn."""
    if turn.lease_token:
        release_user_lease(turn.user_phone, turn.lease_token)
    if message_log.has_pending_inbound(turn.user_phone):
        scheduling.run_soon(scheduling.PROCESS_USER_MESSAGES, turn.user_phone)
    return turn


def _schedule_check(turn: Turn) -> None:
    delay = max(1.0, _time_left_s(turn))
    scheduling.run_later(scheduling.CHECK_BACKGROUND_TURN, delay, turn.pk, turn.response_id)
