"""What every turn does, whichever way it runs (synchronously or in OpenAI's background mode).

Find or create the user's thread, ask the model and record what it used and cost, check the
money in its reply against the catalogue, then deliver the reply — or, when anything failed,
the rule-based responder's. `threads.services` runs turns synchronously, `threads.background`
resumes them from OpenAI's webhook; both are built from these steps.
"""

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from courses.selectors import get_course_amounts
from messaging.formatting import to_whatsapp

from . import message_log, repository, scheduling, tools, turns
from .adapter import (
    RunResult,
    SeedMessage,
    ThreadsAdapter,
    UserMessage,
    count_openai_requests,
    get_adapter,
    is_openai_enabled,
)
from .attachments import describe_message
from .exceptions import RunTimeout, ThreadNotFound, ThreadsError
from .fallback import fallback_reply
from .locks import renew_user_lease
from .models import Message, Turn, engine_for_thread_id
from .outbound import deliver_reply
from .pricecheck import PriceCheck, check_catalogue_prices, find_money, remove_wrong_amounts
from .pricing import Usage, cost_usd

logger = logging.getLogger(__name__)


# How many messages of a human takeover the model is told about when the bot resumes.
TAKEOVER_CONTEXT_LIMIT = 20
# Added (in the model's Markdown) where wrong amounts were cut from a reply: the exact prices are one word away.
PRICE_REFERRAL = "Para darte el precio exacto, escribe **precios** o el nombre del curso que te interesa."
# Price checks after which the user did not receive the model's reply as written.
CUT_ACTIONS = frozenset({"removed", "replaced"})
PRICE_CONTEXT_CHARS = 1600
# Cuts of wrong amounts tried before the reply is replaced by the rule-based answer.
MAX_CUTS = 3
# Seconds a turn must have left for the model's price correction to be worth starting.
MIN_CORRECTION_S = 5.0
# A turn's model until the run reports it: a legacy assistant picks its own.
REMOTE_ASSISTANT_MODEL = "(assistant)"


def lease_ttl_s() -> float:
    """How long a user's lease lasts without renewal (a live worker renews it every third of that)."""
    return settings.TURN_LEASE_S


def background_lease_ttl_s(turn: Turn) -> float:
    """A background turn holds the lease with no worker renewing it: until past its deadline check."""
    deadline = turn.started_at + timedelta(seconds=settings.OPENAI_RUN_TIMEOUT_S)
    return max(0.0, (deadline - timezone.now()).total_seconds()) + settings.TURN_LEASE_S


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
        turn.fallback_reason = turn.fallback_reason or "empty_reply"
        turn.error = turn.error or "empty reply from the model"
        reply = fallback_reply(
            texts=_turn_texts(turn), reason="openai_error", user_phone=turn.user_phone, turn_id=turn.pk
        )
        origin = Message.Origin.FALLBACK
    if not _renew_lease(turn):
        logger.error("turn %s lost its lease before replying; recovery answers instead", turn.pk)
        return turn
    deliver_reply(user_phone=turn.user_phone, text=reply, origin=origin, turn=turn)
    if origin == Message.Origin.FALLBACK:
        turn.fallback_used = True
    return turns.finish_turn(turn, status=Turn.Status.FALLBACK if turn.fallback_used else Turn.Status.COMPLETED)


def fail_turn(turn: Turn, exc: BaseException, *, texts: Sequence[str] | None = None) -> Turn:
    """Answer with the fallback responder after a failure, recording the error on the turn."""
    turn.fallback_used = True
    turn.fallback_reason = _fallback_reason(exc)
    turn.error = f"{type(exc).__name__}: {exc}"[:500]
    add_failed_usage(turn, exc)
    if isinstance(exc, ThreadsError):
        # Ours already say what failed; the chained SDK error could echo part of the API key.
        logger.error("turn %s for %s failed (%s); answering with the fallback", turn.pk, turn.user_phone, turn.error)
    else:
        logger.error("turn %s for %s failed; answering with the fallback", turn.pk, turn.user_phone, exc_info=exc)
    reply = fallback_reply(
        texts=list(texts or _turn_texts(turn)),
        reason=turn.fallback_reason,
        user_phone=turn.user_phone,
        turn_id=turn.pk,
    )
    return complete_turn(turn, reply=reply, origin=Message.Origin.FALLBACK)


def converse(
    turn: Turn,
    *,
    user_phone: str,
    texts: Sequence[str | UserMessage],
    adapter: ThreadsAdapter | None = None,
    deadline: float | None = None,
) -> RunResult:
    """Send the texts to the user's conversation and return the model's answer, recording it on `turn`.

    A conversation that no longer exists remotely is recreated once, seeded with the user's
    recent transcript from the message log, and the mapping updated. `deadline` (a
    `time.monotonic()` value) defaults to OPENAI_RUN_TIMEOUT_S from now; a turn that spent part
    of its time on attachments passes its own.
    """
    adapter = adapter or get_adapter()
    deadline = deadline if deadline is not None else time.monotonic() + settings.OPENAI_RUN_TIMEOUT_S
    thread_id = ensure_thread(turn, adapter=adapter, deadline=deadline)
    try:
        result = adapter.run_turn(thread_id, texts, timeout_s=_remaining(deadline))
    except ThreadNotFound:
        thread_id = ensure_thread(turn, adapter=adapter, lost=thread_id, deadline=deadline)
        result = adapter.run_turn(thread_id, texts, timeout_s=_remaining(deadline))
    record_run(turn, result)

    def ask_again(note: str) -> str:
        again = adapter.run_turn(thread_id, [note], timeout_s=_remaining(deadline))
        record_run(turn, again)
        return again.text

    # A correction started with too little time left could outlive the turn and leave the
    # conversation busy for the user's next message: then the wrong amounts are cut instead.
    time_for_correction = deadline - time.monotonic() >= MIN_CORRECTION_S
    text = vet_prices(turn, result.text, ask_again=ask_again if time_for_correction else None)
    return dataclasses.replace(result, text=text)


def vet_prices(
    turn: Turn,
    text: str,
    *,
    ask_again: Callable[[str], str] | None = None,
    second_try: bool = False,
    catalogue: dict[str, set[tuple[Decimal, str]]] | None = None,
) -> str:
    """Return `text` with no money amount that is not in the catalogue, recording the check on the turn.

    A wrong amount (or the right number in the wrong currency) gets the model one chance to
    correct itself (`ask_again`, within the turn's deadline). If the reply is still wrong, or
    there is no chance left, the sentences that carry wrong amounts are cut and a line sends
    the user to the catalogue's prices instead; a reply with nothing else in it is replaced by
    the rule-based answer. A wrong price is never sent: a missing sentence costs less than a
    promise the business cannot keep. `second_try` marks the model's corrected reply;
    `catalogue` (course name → its amounts) saves reading it again. A reply with no amount at
    all (most of them) passes without reading the catalogue: there is nothing to compare.
    """
    if catalogue is None:
        if not find_money(text):
            return text
        catalogue = get_course_amounts()
    check = check_catalogue_prices(text, catalogue)
    if check.ok:
        if check.found:
            record_price_check(turn, check, action="corrected" if second_try else "passed")
        return text
    if ask_again is not None:
        record_price_check(turn, check, action="asked_again")
        try:
            corrected = ask_again(price_correction_note(check))
        except ThreadsError as exc:
            add_failed_usage(turn, exc)
            logger.warning("turn %s: the price correction failed (%s); cutting the wrong amounts", turn.pk, exc)
        else:
            return vet_prices(turn, corrected, second_try=True, catalogue=catalogue)
    return cut_wrong_prices(turn, text, check, catalogue=catalogue)


def cut_wrong_prices(
    turn: Turn, text: str, check: PriceCheck, *, catalogue: dict[str, set[tuple[Decimal, str]]]
) -> str:
    """Remove what the model got wrong about money; the rule-based answer when nothing sound is left.

    What is left is checked again: a cut can take away the course name that made a remaining
    amount right ("Te recomiendo A. B trae un bono de $X. Su precio es $Y").
    """
    kept = text
    for _ in range(MAX_CUTS):
        kept = remove_wrong_amounts(kept, check.wrong).strip()
        recheck = check_catalogue_prices(kept, catalogue)
        if recheck.ok:
            break
        check = PriceCheck(found=check.found, wrong=[*check.wrong, *recheck.wrong])
    else:
        kept = ""
    if kept:
        record_price_check(turn, check, action="removed")
        return f"{kept}\n\n{PRICE_REFERRAL}"
    record_price_check(turn, check, action="replaced")
    turn.fallback_reason = "price_check"
    return fallback_reply(texts=_turn_texts(turn), user_phone=turn.user_phone, turn_id=turn.pk)


def reply_origin(turn: Turn) -> str:
    """Who wrote the reply the model's turn sends: the rule-based responder when the price check replaced it."""
    return Message.Origin.FALLBACK if turn.fallback_reason == "price_check" else Message.Origin.ASSISTANT


def price_correction_note(check: PriceCheck) -> str:
    """The system note asking the model to fix the amounts it got wrong (the user has not seen that reply)."""
    wrong = ", ".join(dict.fromkeys(money.text for money in check.wrong))
    return (
        f"[Verificación de precios: tu respuesta anterior menciona {wrong}, que no coincide con ningún precio "
        "ni moneda del catálogo. La persona no la ha visto. Consulta las herramientas y escribe de nuevo tu "
        "respuesta completa, con los precios y monedas exactos que devuelven.]"
    )


def record_price_check(turn: Turn, check: PriceCheck, *, action: str) -> None:
    """Keep what a price check found and did on the turn (the stats page counts these)."""
    turn.price_checks = [*turn.price_checks, {**check.as_record(), "action": action}]


def mapped_thread_id(user_phone: str) -> str:
    """Return the user's thread if it belongs to the configured engine, else "" (a turn will make one).

    A turn bound for the model opens with it (`services.run_turn`), so its messages are
    claimed into the thread at once and `ensure_thread` need not read the mapping again. The
    look-up marks the mapping used (`repository.use_mapping`): the turn is about to talk in it.
    """
    thread_id = repository.use_mapping(user_phone) or ""
    return thread_id if engine_for_thread_id(thread_id) == settings.OPENAI_ENGINE else ""


def ensure_thread(
    turn: Turn, *, adapter: ThreadsAdapter, lost: str | None = None, deadline: float | None = None
) -> str:
    """Return the user's thread for this engine, creating (and mapping) a seeded one when needed.

    A turn opened in the user's thread (`turn.thread_id`, from `mapped_thread_id`) keeps it;
    otherwise the mapping is read. A missing mapping, a mapping made by the other engine, or a
    thread `lost` remotely all get a new thread that starts from the user's recent transcript
    in the message log, and the turn's messages are moved to it.
    """
    known = turn.thread_id if lost is None else ""
    thread_id = known or repository.get_thread_id(turn.user_phone)
    if lost is not None or thread_id is None or engine_for_thread_id(thread_id) != adapter.name:
        if lost:
            logger.warning("thread %s of %s is gone remotely; recreating it", lost, turn.user_phone)
        seed = [
            SeedMessage(role=role, text=text)
            for role, text in message_log.recent_transcript(turn.user_phone, exclude_turn_id=turn.pk)
        ]
        thread_id = adapter.create_thread(seed=seed, deadline=deadline)
        repository.save_thread_id(turn.user_phone, thread_id)
        logger.info("created %s thread for %s (seeded with %d messages)", adapter.name, turn.user_phone, len(seed))
    if thread_id != turn.thread_id:  # claimed into another thread (or none): follow the turn
        Message.objects.filter(turn=turn).update(thread_id=thread_id)
    turn.thread_id = thread_id
    turn.engine = adapter.name
    turn.model = turn.model or adapter.model or REMOTE_ASSISTANT_MODEL
    return thread_id


@contextlib.contextmanager
def tracking_openai_requests(turn: Turn) -> Iterator[None]:
    """Add the HTTP requests sent to OpenAI in this block (creation and retries included) to the turn.

    The model's tools called in the block act for the turn's user (`solicitar_asesor` pauses
    them and tells staff); every live model call of a turn, sync or background, passes here.
    """
    with count_openai_requests() as counter, tools.acting_for(user_phone=turn.user_phone, turn_id=turn.pk):
        try:
            yield
        finally:
            turn.openai_calls += counter.value


def record_run(turn: Turn, result: RunResult) -> None:
    """Add what a run (or a background step) did to the turn's record: its calls, tokens and cost.

    The mapping was marked used when the turn opened in it (`mapped_thread_id`) or made it.
    """
    turn.response_id = result.response_id
    turn.tool_calls = [*turn.tool_calls, *result.tool_calls]
    add_usage(turn, result.usage, model=result.model)


def add_failed_usage(turn: Turn, exc: BaseException) -> None:
    """Add what a failed run had used before it failed (OpenAI bills it all the same)."""
    if isinstance(exc, ThreadsError) and exc.usage:
        add_usage(turn, exc.usage, model=exc.model)


def add_usage(turn: Turn, usage: Usage, *, model: str) -> None:
    """Add `usage` of `model` to the turn's tokens and price the total (None when the model has no price)."""
    turn.model = model or turn.model
    if usage:
        turn.input_tokens = (turn.input_tokens or 0) + usage.input_tokens
        turn.cached_input_tokens = (turn.cached_input_tokens or 0) + usage.cached_input_tokens
        turn.output_tokens = (turn.output_tokens or 0) + usage.output_tokens
        turn.reasoning_tokens = (turn.reasoning_tokens or 0) + usage.reasoning_tokens
    if turn.input_tokens is not None and turn.model:
        total = Usage(
            input_tokens=turn.input_tokens,
            cached_input_tokens=turn.cached_input_tokens or 0,
            output_tokens=turn.output_tokens or 0,
            reasoning_tokens=turn.reasoning_tokens or 0,
        )
        turn.cost_usd = cost_usd(turn.model, total)
        if turn.cost_usd is not None:
            turn.cost_usd += media_cost_usd(turn)


# Where a turn keeps what understanding its attachments cost (transcription), beside its token cost.
MEDIA_COST_KEY = "media_cost_usd"


def add_media_cost(turn: Turn, cost: Decimal | None) -> None:
    """Add what understanding the turn's attachments cost to its cost (None: unknown, the model has no price)."""
    if cost is None:
        turn.state = {**turn.state, MEDIA_COST_KEY: None}
        turn.cost_usd = None
        return
    if MEDIA_COST_KEY in turn.state and turn.state[MEDIA_COST_KEY] is None:
        return
    turn.state = {**turn.state, MEDIA_COST_KEY: str(media_cost_usd(turn) + cost)}
    turn.cost_usd = (turn.cost_usd or Decimal(0)) + cost


def media_cost_usd(turn: Turn) -> Decimal:
    return Decimal(turn.state.get(MEDIA_COST_KEY) or 0)


def text_for_model(message: Message) -> str:
    """The message as the model reads it: the body, a voice note's transcript, a note per attachment."""
    return describe_message(message)


def context_notes(turn: Turn) -> list[str]:
    """Notes on what happened outside the model's conversation since its last turn (one query when nothing did)."""
    previous = message_log.last_model_turn(turn.user_phone, before_turn_id=turn.pk)
    return [*price_cut_context(previous), *takeover_context(turn, previous=previous)]


def takeover_context(turn: Turn, *, previous: Turn | None) -> list[str]:
    """A note telling the model what the user and staff said while the bot was paused.

    Without it, a model resumed after a human takeover would answer as if that exchange had
    never happened.
    """
    messages = message_log.human_takeover_since_model(turn.user_phone, before_turn_id=turn.pk, last_model_turn=previous)
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


def price_cut_context(previous: Turn | None) -> list[str]:
    """A note telling the model what the user really received when the price check cut its last reply.

    Its conversation holds the reply it wrote, wrong amounts included; without the note it would
    go on as if the user had read them.
    """
    if previous is None or not any(check.get("action") in CUT_ACTIONS for check in previous.price_checks):
        return []
    sent = message_log.sent_text_of_turn(previous.pk)[:PRICE_CONTEXT_CHARS]
    return [
        "[Verificación de precios: tu respuesta anterior tenía precios que no están en el catálogo y no se "
        f"envió como la escribiste. La persona recibió solo esto: «{sent}». No repitas esos precios.]"
    ]


def _turn_texts(turn: Turn) -> list[str]:
    return [text_for_model(m) for m in turn.messages.filter(direction=Message.Direction.INBOUND).order_by("id")]


def _renew_lease(turn: Turn) -> bool:
    """Renew the turn's lease; False when it is no longer the turn's (lapsed, or taken by recovery)."""
    return bool(turn.lease_token) and renew_user_lease(turn.user_phone, turn.lease_token, ttl_s=lease_ttl_s())


def open_turn(
    *,
    user_phone: str,
    lease_token: str,
    messages: Sequence[Message],
    thread_id: str = "",
    bot_paused: bool | None = None,
) -> tuple[Turn, list[Message]] | None:
    """Open a running turn and claim `messages` into it; None (and no turn) when another turn took them all.

    `bot_paused` is the pause flag the turn was routed by (`message_log.claim_for_turn`). A
    recovery check is scheduled at once, so a worker that dies mid-turn is not the end of it.
    """
    turn = turns.start_turn(
        user_phone=user_phone,
        lease_token=lease_token,
        engine=settings.OPENAI_ENGINE if is_openai_enabled() else "fallback",
        thread_id=thread_id,
    )
    claimed = message_log.claim_for_turn(messages, turn, bot_paused=bot_paused)
    if not claimed:
        turns.discard_turn(turn)
        return None
    schedule_recovery_check(turn)
    return turn, claimed


def schedule_recovery_check(turn: Turn) -> None:
    """Have a surviving worker look at the turn once its lease could have lapsed (a crash is not final)."""
    try:
        scheduling.run_later(scheduling.RECOVER_TURN, lease_ttl_s() + 1, turn.pk)
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
