"""The conversation use case: turn a user's pending WhatsApp messages into one reply.

`process_user_messages` is what the background task runs after each inbound message. It takes
the user's lease (one turn at a time per user, across processes and hosts), gathers every
message still waiting — so a burst of five messages gets one coherent answer —, asks the
model through the adapter (or the rule-based responder when OpenAI is off or fails), and
delivers the reply. Whatever fails after the inbound message was stored ends in a fallback
reply: the user never meets silence.
"""

import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from webhooks.formatting import to_whatsapp

from . import message_log, repository
from .adapter import (
    RunResult,
    SeedMessage,
    ThreadsAdapter,
    count_openai_requests,
    get_adapter,
    is_openai_enabled,
)
from .exceptions import RunTimeout, ThreadNotFound, ThreadsError
from .fallback import fallback_reply
from .locks import LeaseKeeper, acquire_user_lease, release_user_lease, renew_user_lease
from .models import Contact, Message, Turn, engine_for_thread_id
from .outbound import deliver_reply

logger = logging.getLogger(__name__)


# How many messages of a human takeover the model is told about when the bot resumes.
TAKEOVER_CONTEXT_LIMIT = 20


def lease_ttl_s() -> float:
    """How long a user's lease lasts without renewal (a live worker renews it every third of that)."""
    return settings.TURN_LEASE_S


def background_lease_ttl_s(turn: Turn) -> float:
    """A background turn holds the lease with no worker renewing it: until past its deadline check."""
    deadline = turn.started_at + timedelta(seconds=settings.OPENAI_RUN_TIMEOUT_S)
    return max(0.0, (deadline - timezone.now()).total_seconds()) + settings.TURN_LEASE_S


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
    turn = Turn.objects.create(
        user_phone=user_phone,
        engine=settings.OPENAI_ENGINE if is_openai_enabled() else "fallback",
        state={"lease_token": lease_token},
    )
    claimed = message_log.claim_for_turn(messages, turn)
    if not claimed:
        turn.delete()
        return None
    _schedule_recovery(turn)
    texts = [text_for_model(m) for m in claimed]

    if Contact.objects.filter(pk=user_phone, bot_paused=True).exists():
        Message.objects.filter(pk__in=[m.pk for m in claimed]).update(status=Message.Status.HELD)
        finish_turn(turn, status=Turn.Status.PAUSED)
        logger.info("bot paused for %s: %d message(s) held for staff", user_phone, len(claimed))
        return turn

    has_media = any(m.media for m in claimed)
    if not is_openai_enabled():
        reply = fallback_reply(texts=texts, reason="media" if has_media and not any(m.body for m in claimed) else None)
        return complete_turn(turn, reply=reply, origin=Message.Origin.FALLBACK)
    if uses_background_mode():
        from .background import start_background_turn

        return start_background_turn(turn, texts=texts)
    try:
        with tracking_openai_requests(turn):
            result = converse(turn, user_phone=user_phone, texts=[*takeover_context(turn), *texts])
    except Exception as exc:  # anything at all: the user still gets an answer
        return fail_turn(turn, exc, texts=texts)
    return complete_turn(turn, reply=_with_media_note(result.text, has_media), origin=Message.Origin.ASSISTANT)


def complete_turn(turn: Turn, *, reply: str, origin: str) -> Turn:
    """Deliver `reply` for the turn and close it, unless the turn's lease was lost meanwhile.

    The model writes Markdown: it becomes WhatsApp formatting here, once, before the check
    that something is left to send; the fallback responder writes for WhatsApp already.
    """
    if origin == Message.Origin.ASSISTANT:
        reply = to_whatsapp(reply)
    if not reply.strip():
        # Nothing to send ("" or a reply that was only Markdown, such as "---"): never silence.
        turn.fallback_used = True
        turn.error = turn.error or "empty reply from the model"
        reply, origin = fallback_reply(texts=_turn_texts(turn), reason="openai_error"), Message.Origin.FALLBACK
    if not _still_ours(turn):
        logger.error("turn %s lost its lease before replying; recovery answers instead", turn.pk)
        return turn
    deliver_reply(user_phone=turn.user_phone, text=reply, origin=origin, turn=turn)
    if origin == Message.Origin.FALLBACK:
        turn.fallback_used = True
    return finish_turn(turn, status=Turn.Status.FALLBACK if turn.fallback_used else Turn.Status.COMPLETED)


def fail_turn(turn: Turn, exc: BaseException, *, texts: Sequence[str] | None = None) -> Turn:
    """Answer with the fallback responder after a failure, recording the error on the turn."""
    turn.fallback_used = True
    turn.error = f"{type(exc).__name__}: {exc}"[:500]
    if isinstance(exc, ThreadsError):
        # Ours already say what failed; the chained SDK error could echo part of the API key.
        logger.error("turn %s for %s failed (%s); answering with the fallback", turn.pk, turn.user_phone, turn.error)
    else:
        logger.error("turn %s for %s failed; answering with the fallback", turn.pk, turn.user_phone, exc_info=exc)
    reply = fallback_reply(texts=list(texts or _turn_texts(turn)), reason=_fallback_reason(exc))
    return complete_turn(turn, reply=reply, origin=Message.Origin.FALLBACK)


def finish_turn(turn: Turn, *, status: str) -> Turn:
    """Close the turn with its record, unless recovery closed it meanwhile (its verdict stands)."""
    turn.status = status
    turn.finished_at = timezone.now()
    turn.latency_ms = int((turn.finished_at - turn.started_at).total_seconds() * 1000)
    fields = [f.attname for f in Turn._meta.concrete_fields if not f.primary_key]
    still_open = Turn.objects.filter(pk=turn.pk, status__in=(Turn.Status.RUNNING, Turn.Status.BACKGROUND))
    if not still_open.update(**{name: getattr(turn, name) for name in fields}):
        logger.warning("turn %s was closed by recovery before it finished", turn.pk)
    return turn


def converse(turn: Turn, *, user_phone: str, texts: list[str], adapter: ThreadsAdapter | None = None) -> RunResult:
    """Send the texts to the user's conversation and return the model's answer, recording it on `turn`.

    A conversation that no longer exists remotely is recreated once, seeded with the user's
    recent transcript from the message log, and the mapping updated.
    """
    adapter = adapter or get_adapter()
    deadline = time.monotonic() + settings.OPENAI_RUN_TIMEOUT_S
    thread_id = ensure_thread(turn, adapter=adapter, deadline=deadline)
    try:
        result = adapter.run_turn(thread_id, texts, timeout_s=_remaining(deadline))
    except ThreadNotFound:
        thread_id = ensure_thread(turn, adapter=adapter, lost=thread_id, deadline=deadline)
        result = adapter.run_turn(thread_id, texts, timeout_s=_remaining(deadline))
    record_run(turn, result)
    return result


def ensure_thread(
    turn: Turn, *, adapter: ThreadsAdapter, lost: str | None = None, deadline: float | None = None
) -> str:
    """Return the user's thread for this engine, creating (and mapping) a seeded one when needed.

    A missing mapping, a mapping made by the other engine, or a thread `lost` remotely all
    get a new thread that starts from the user's recent transcript in the message log.
    """
    thread_id = repository.get_thread_id(turn.user_phone)
    if lost is not None or thread_id is None or engine_for_thread_id(thread_id) != adapter.engine:
        if lost:
            logger.warning("thread %s of %s is gone remotely; recreating it", lost, turn.user_phone)
        seed = [
            SeedMessage(role=role, text=text)
            for role, text in message_log.recent_transcript(turn.user_phone, exclude_turn_id=turn.pk)
        ]
        thread_id = adapter.create_thread(seed=seed, deadline=deadline)
        repository.save_thread_id(turn.user_phone, thread_id)
        logger.info("created %s thread for %s (seeded with %d messages)", adapter.engine, turn.user_phone, len(seed))
    turn.thread_id = thread_id
    turn.engine = adapter.engine
    Message.objects.filter(turn=turn).update(thread_id=thread_id)
    return thread_id


@contextlib.contextmanager
def tracking_openai_requests(turn: Turn) -> Iterator[None]:
    """Add the HTTP requests sent to OpenAI in this block (creation and retries included) to the turn."""
    with count_openai_requests() as counter:
        try:
            yield
        finally:
            turn.openai_calls += counter.value


def record_run(turn: Turn, result: RunResult) -> None:
    """Add what a run (or a background step) did to the turn's record."""
    repository.touch_mapping(turn.user_phone)
    turn.response_id = result.response_id
    turn.tool_calls = [*turn.tool_calls, *result.tool_calls]
    turn.input_tokens = _add(turn.input_tokens, result.input_tokens)
    turn.output_tokens = _add(turn.output_tokens, result.output_tokens)


def text_for_model(message: Message) -> str:
    body = message.body.strip()
    if message.media:
        kinds = ", ".join(sorted({m.get("content_type") or "?" for m in message.media}))
        note = f"[El usuario adjuntó {len(message.media)} archivo(s) ({kinds}); aún no puedes verlos]"
        return f"{body}\n{note}" if body else note
    return body


def takeover_context(turn: Turn) -> list[str]:
    """A note telling the model what the user and staff said while the bot was paused.

    Without it, a model resumed after a human takeover would answer as if that exchange had
    never happened.
    """
    messages = message_log.human_takeover_since_model(turn.user_phone, before_turn_id=turn.pk)
    if not messages:
        return []
    lines = [
        f"{'Usuario' if m.direction == Message.Direction.INBOUND else 'Asesor'}: {text_for_model(m) or '(vacío)'}"
        for m in messages[-TAKEOVER_CONTEXT_LIMIT:]
    ]
    header = (
        "[Contexto, no respondas a esto directamente: mientras estabas en pausa, un asesor humano atendió al usuario]"
    )
    return ["\n".join([header, *lines])]


def _with_media_note(text: str, has_media: bool) -> str:
    if has_media and text.strip():
        return f"{text}\n\n(Por ahora solo puedo leer texto: no pude ver el archivo que enviaste.)"
    return text


def _turn_texts(turn: Turn) -> list[str]:
    return [text_for_model(m) for m in turn.messages.filter(direction=Message.Direction.INBOUND).order_by("id")]


def _still_ours(turn: Turn) -> bool:
    token = turn.state.get("lease_token", "")
    return bool(token) and renew_user_lease(turn.user_phone, token, ttl_s=lease_ttl_s())


def _schedule_recovery(turn: Turn) -> None:
    from .tasks import enqueue_later, recover_turn_task

    try:
        enqueue_later(recover_turn_task, lease_ttl_s() + 1, turn.pk)
    except Exception:  # the turn goes on; `recover_turns` is the safety net
        logger.exception("could not schedule the recovery check of turn %s", turn.pk)


def _remaining(deadline: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise RunTimeout("the turn's deadline passed before the model was asked")
    return remaining


def _fallback_reason(exc: BaseException) -> str:
    if isinstance(exc, RunTimeout):
        return "timeout"
    if isinstance(exc, ThreadsError):
        return "openai_error"
    return "internal_error"


def _add(total: int | None, extra: int | None) -> int | None:
    return extra if total is None else total + (extra or 0)
