"""The turn that answers consent: "BAJA", "ALTA", and anything an opted-out user writes.

It runs before any other route (model, rule-based responder, staff pause), over the user's
messages up to the last one the consent rules decide; later messages (after an "ALTA") go to
an ordinary turn. The user gets one confirmation per change, and an opted-out user who keeps
writing gets at most one reminder per 24 hours; nothing else is said to them.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from . import consent, turns
from .answering import open_turn
from .consent import Keyword
from .fallback import language_of_conversation
from .models import Contact, Message, Turn
from .outbound import deliver_reply

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsentPlan:
    """The messages the consent rules answer (in order), the keywords among them, and the rest."""

    consumed: list[Message]
    rest: list[Message]
    keywords: list[tuple[Keyword, Message]] = field(default_factory=list)


def plan(messages: Sequence[Message], *, opted_out: bool) -> ConsentPlan:
    """Split a batch: what consent decides (a keyword, or anything while opted out) and what follows.

    "ALTA" from a subscribed user is an ordinary message ("quiero darme de alta en el curso"
    reads the same to a model); "BAJA" always counts.
    """
    state_out = opted_out
    last = -1
    keywords: list[tuple[Keyword, Message]] = []
    for index, message in enumerate(messages):
        keyword = consent.keyword_of(message.body) if message.body else None
        if keyword is Keyword.OPT_OUT:
            state_out, last = True, index
            keywords.append((keyword, message))
        elif keyword is Keyword.OPT_IN and state_out:
            state_out, last = False, index
            keywords.append((keyword, message))
        elif state_out:
            last = index
    return ConsentPlan(consumed=list(messages[: last + 1]), rest=list(messages[last + 1 :]), keywords=keywords)


def run_consent_turn(*, user_phone: str, consent_plan: ConsentPlan, lease_token: str) -> Turn | None:
    """Apply the keywords of `consent_plan` in order and answer as the rules say; the caller holds the lease."""
    opened = open_turn(user_phone=user_phone, lease_token=lease_token, messages=consent_plan.consumed)
    if opened is None:
        return None
    turn, claimed = opened
    claimed_ids = {message.pk for message in claimed}
    changes: list[tuple[Keyword, Message]] = []
    for keyword, message in consent_plan.keywords:
        if message.pk not in claimed_ids:
            continue
        via = f"keyword {consent.normalize(message.body).upper()}"
        apply = consent.opt_out if keyword is Keyword.OPT_OUT else consent.opt_in
        if apply(user_phone, via=via, at=message.created_at):
            changes.append((keyword, message))
    opted_out = consent.is_opted_out(user_phone)
    notice, text = _answer(user_phone, changes=changes, opted_out=opted_out, turn_id=turn.pk)
    if text:
        deliver_reply(user_phone=user_phone, text=text, origin=Message.Origin.SYSTEM, turn=turn, notice=notice)
    logger.info(
        "consent turn %s for %s: %d message(s), %s, %s",
        turn.pk,
        user_phone,
        len(claimed),
        "opted out" if opted_out else "subscribed",
        notice or "no notice",
    )
    return turns.finish_turn(turn, status=Turn.Status.OPTED_OUT if opted_out else Turn.Status.COMPLETED)


def _answer(
    user_phone: str, *, changes: list[tuple[Keyword, Message]], opted_out: bool, turn_id: int
) -> tuple[str, str]:
    """The notice and text for the user: a confirmation of the last change, else a reminder when due.

    The confirmation is in the language of the conversation, else of the keyword: Spanish speakers
    write "STOP" too.
    """
    if changes:
        keyword, message = changes[-1]
        spoken = language_of_conversation(user_phone, exclude_turn_id=turn_id)
        language = spoken or consent.language_of_keyword(message.body)
        if keyword is Keyword.OPT_OUT:
            return Message.Notice.OPTED_OUT, consent.OPTED_OUT_TEXT[language]
        return Message.Notice.OPTED_IN, consent.OPTED_IN_TEXT[language]
    if opted_out and consent.claim_reminder(user_phone):
        via = Contact.objects.filter(pk=user_phone).values_list("opted_out_via", flat=True).first() or ""
        spoken = language_of_conversation(user_phone, exclude_turn_id=turn_id)
        language = spoken or consent.language_of_keyword(via.removeprefix("keyword "))
        return Message.Notice.OPTOUT_REMINDER, consent.REMINDER_TEXT[language]
    return "", ""
