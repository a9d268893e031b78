"""What staff do to a conversation from the admin or a command: reset its thread, take it over, write as a human.

The admin and `manage.py reset_thread` only parse, confirm and print; these services hold the
logic so both (or an API) share it and the tests can call them directly.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from . import handoff, repository
from .adapter import get_adapter, is_openai_enabled
from .exceptions import ThreadNotFound, ThreadsError
from .models import Contact, Message, engine_for_thread_id
from .outbound import deliver_reply

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResetResult:
    """What a reset did. `thread_id` is the thread the user had (None when there was no mapping)."""

    user_phone: str
    thread_id: str | None
    mapping_deleted: bool
    remote_deleted: bool = False
    # Why the remote conversation was not deleted when that was asked for ("" otherwise).
    remote_error: str = ""
    # The user's history starts afresh (the rule-based responder's memory, the next conversation's seed).
    history_reset: bool = False


def reset_thread(*, user_phone: str, delete_remote: bool = False) -> ResetResult:
    """Forget the user's thread so their next message starts a new conversation.

    The mapping goes first: the reset is about the user, and a remote failure must not leave
    them stuck on the old conversation. With `delete_remote` the conversation (or legacy
    thread) is then deleted at OpenAI too; one already gone there counts as deleted.
    """
    thread_id = repository.get_thread_id(user_phone)
    if thread_id is None:
        # A user only the rule-based responder has answered has no thread, but a memory all the same.
        known = bool(Contact.objects.filter(pk=user_phone).update(history_starts_at=timezone.now()))
        return ResetResult(user_phone=user_phone, thread_id=None, mapping_deleted=False, history_reset=known)
    deleted = repository.delete_mapping(user_phone)
    _start_history_afresh(user_phone)
    logger.info("staff reset the thread of %s (mapping deleted: %s)", user_phone, deleted)
    if not delete_remote:
        return ResetResult(user_phone=user_phone, thread_id=thread_id, mapping_deleted=deleted, history_reset=True)
    remote_deleted, remote_error = delete_remote_thread(thread_id)
    return ResetResult(
        user_phone=user_phone,
        thread_id=thread_id,
        mapping_deleted=deleted,
        remote_deleted=remote_deleted,
        remote_error=remote_error,
        history_reset=True,
    )


def _start_history_afresh(user_phone: str) -> None:
    """Keep the old transcript out of the next conversation's seed (it stays in the admin)."""
    now = timezone.now()
    Contact.objects.update_or_create(user_phone=user_phone, defaults={"history_starts_at": now})


def delete_remote_thread(thread_id: str) -> tuple[bool, str]:
    """Delete a conversation/thread at OpenAI; return (deleted, why not). One already gone counts."""
    if not is_openai_enabled():
        return False, "OpenAI is not configured"
    # The id's prefix, not OPENAI_ENGINE, says which API holds it (conv_… or a legacy thread_…).
    engine = engine_for_thread_id(thread_id)
    if engine == "unknown":
        return False, "not a conversation or thread id"
    try:
        get_adapter(engine=engine).delete_thread(thread_id)
    except ThreadNotFound:
        logger.info("remote thread %s was already gone", thread_id)
        return True, ""
    except ThreadsError as exc:
        logger.warning("could not delete remote thread %s: %s", thread_id, type(exc).__name__)
        return False, f"{type(exc).__name__}: {exc}"[:300]
    logger.info("deleted remote thread %s", thread_id)
    return True, ""


def can_delete_remote_threads() -> bool:
    """Tell whether remote conversations can be deleted here at all (OpenAI is configured).

    Ask before a reset that should delete remotely: refusing up front leaves nothing half done,
    whereas `reset_thread` would drop the mapping and only then find it cannot delete.
    """
    return is_openai_enabled()


@dataclass(frozen=True)
class LeftoverDeleteResult:
    """What deleting a leftover remote thread did."""

    thread_id: str
    deleted: bool
    # The user whose mapping still points at the id: it was refused, nothing was deleted.
    in_use_by: str | None = None
    # Why it was not deleted at OpenAI ("" when it was, or when it was refused as in use).
    remote_error: str = ""


def delete_leftover_remote_thread(*, thread_id: str) -> LeftoverDeleteResult:
    """Delete a remote conversation no user is mapped to any more: finish a reset whose remote delete failed.

    An id some user is still mapped to is refused: it is the conversation they talk in now (the
    user wrote again after the reset, or the id was mistyped), and deleting it would lose their
    context while the mapping keeps pointing at it.
    """
    if owner := repository.get_user_phone_by_thread_id(thread_id):
        logger.info("refused to delete remote thread %s: %s is still mapped to it", thread_id, owner)
        return LeftoverDeleteResult(thread_id=thread_id, deleted=False, in_use_by=owner)
    deleted, remote_error = delete_remote_thread(thread_id)
    return LeftoverDeleteResult(thread_id=thread_id, deleted=deleted, remote_error=remote_error)


def set_bot_paused(*, user_phones: Sequence[str], paused: bool) -> int:
    """Pause (human takeover) or resume the bot for these users; return how many changed state.

    A paused user's messages are stored as held and never answered by the bot. Resuming does
    not release them: staff decide whether they still need an answer. Pausing a user Brenda
    has no contact row for creates one, with an upsert so a racing inbound message cannot
    leave it unpaused.
    """
    phones = sorted(set(user_phones))
    if not phones:
        return 0
    with transaction.atomic():
        already = set(Contact.objects.filter(pk__in=phones, bot_paused=paused).values_list("pk", flat=True))
        to_change = [phone for phone in phones if phone not in already]
        if paused:
            Contact.objects.bulk_create(
                [Contact(user_phone=phone, bot_paused=True) for phone in to_change],
                update_conflicts=True,
                unique_fields=["user_phone"],
                update_fields=["bot_paused"],
            )
            changed = len(to_change)
        else:
            # A user without a contact row is not paused: there is nothing to resume.
            changed = Contact.objects.filter(pk__in=to_change).update(bot_paused=False)
    if not paused:  # handing back to the bot ends any wait for a person
        handoff.resume_bots(phones)
    logger.info("bot %s for %d user(s)", "paused" if paused else "resumed", changed)
    return changed


def send_staff_message(*, user_phone: str, text: str, staff_user_id: int) -> list[Message]:
    """Send `text` to the user as staff, through the same path (split, log, retry) as the bot's replies.

    The parts are logged with origin "staff" and the sender, so the transcript shows who wrote;
    a reply that reached the user ends their wait for a person (`threads.handoff`).
    """
    text = text.strip()
    if not text:
        raise ValueError("a staff message needs some text")
    rows = deliver_reply(user_phone=user_phone, text=text, origin=Message.Origin.STAFF, staff_user_id=staff_user_id)
    logger.info("staff user %s sent %d part(s) to %s", staff_user_id, len(rows), user_phone)
    handoff.record_staff_reply(user_phone=user_phone, messages=rows)  # a person answered: no longer waiting
    return rows
