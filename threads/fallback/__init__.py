"""The rule-based responder: the "traditional flow" and the reply when the AI fails or a budget is reached.

It answers from the catalogue only (`courses.selectors`, one snapshot per reply), holds the
conversation through a memory rebuilt from the message log (the course last discussed, the
list last shown; nothing from before a thread reset), answers English in English and reads
WhatsApp spellings and typos. What the catalogue does not hold is said plainly, with the offer
of a person. Modules: `language` (reading a message; `is_handoff_request` for the handoff
feature), `catalogue` (ranking), `intents` (what is asked, and the memory), `replies` (WhatsApp text).
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from .. import message_log
from .catalogue import Catalogue, load_catalogue
from .intents import WEAK, Intent, detect, language_of_transcript, memory_from_transcript
from .language import handoff_reason, is_handoff_request
from .replies import MAX_REPLY_CHARS, Writer, fit

__all__ = [
    "MAX_REPLY_CHARS",
    "Answer",
    "answer",
    "detect_intent",
    "fallback_reply",
    "handoff_reason",
    "is_handoff_request",
    "language_of_conversation",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """A reply and the intent it answers (the evaluation and the logs read the intent)."""

    intent: Intent
    text: str


def fallback_reply(
    *,
    texts: Sequence[str],
    reason: str | None = None,
    user_phone: str | None = None,
    turn_id: int | None = None,
) -> str:
    """Answer the user's pending messages from the catalogue, without the AI. Never returns "".

    `reason` says why we are here ("openai_error", "timeout", "not_configured", "media",
    "limited", …) so the reply can open with an apology or a note. With `user_phone`, the
    conversation since the user's last thread reset is the memory follow-ups resolve against;
    `turn_id` is the turn these texts belong to (left out of that history).
    """
    history = message_log.recent_transcript(user_phone, exclude_turn_id=turn_id) if user_phone else []
    result = answer(texts, reason=reason, history=history)
    logger.info(
        "fallback reply: intent=%s lang=%s reason=%s courses=%d memory=%d",
        result.intent.kind,
        result.intent.lang,
        reason or "-",
        len(result.intent.courses),
        len(history),
    )
    return result.text


def answer(
    texts: Sequence[str],
    *,
    reason: str | None = None,
    history: Sequence[tuple[str, str]] = (),
    catalogue: Catalogue | None = None,
) -> Answer:
    """Detect what the burst asks, given the conversation so far (role, text), and write the reply."""
    catalogue = catalogue or load_catalogue()
    memory = memory_from_transcript(history, catalogue)
    intent = detect(texts, catalogue, memory)
    writer = Writer(catalogue, memory, intent.lang)
    opening = writer.opening(reason)
    if opening and intent.kind in WEAK:
        intent = Intent("menu", lang=intent.lang)  # the apology or note already greets; show what we can do
    body = writer.render(intent)
    return Answer(intent=intent, text=fit("\n\n".join(part for part in (opening, body) if part)))


def language_of_conversation(user_phone: str, *, exclude_turn_id: int | None = None) -> str | None:
    """The language the user last wrote in before this turn ("es" or "en"); None when nothing told."""
    return language_of_transcript(message_log.recent_transcript(user_phone, exclude_turn_id=exclude_turn_id))


def detect_intent(texts: Sequence[str], *, history: Sequence[tuple[str, str]] = ()) -> Intent:
    """Return what a burst of messages asks for (reads the catalogue)."""
    catalogue = load_catalogue()
    return detect(texts, catalogue, memory_from_transcript(history, catalogue))
