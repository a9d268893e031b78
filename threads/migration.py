"""Move legacy Assistants threads (`thread_…`) to Responses conversations (`conv_…`).

Remote threads cannot be copied, and the hosted Assistants API is gone, so each user gets a
new conversation seeded with their recent transcript from the local message log. Mappings that
already point at a conversation are left alone, which makes the migration safe to repeat.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from . import message_log, repository, scheduling
from .adapter import SeedMessage, ThreadsAdapter
from .locks import acquire_user_lease, release_user_lease
from .models import THREAD_ID_PREFIXES, engine_for_thread_id

logger = logging.getLogger(__name__)

LEGACY_PREFIX = THREAD_ID_PREFIXES["assistants"]
# Long enough for one conversations.create (and the item batches of a long transcript).
MIGRATION_LEASE_S = 120.0


@dataclass(frozen=True)
class UserMigration:
    """The outcome for one user: `new_thread_id` when migrated, `error` when it failed."""

    user_phone: str
    old_thread_id: str
    # migrated; planned (dry run); skipped (no longer a legacy thread); failed
    status: Literal["migrated", "planned", "skipped", "failed"]
    new_thread_id: str | None = None
    seed_messages: int = 0
    error: str = ""


@dataclass
class MigrationReport:
    dry_run: bool
    # Users migrated (or, in a dry run, that would be), and those that failed, in phone order.
    migrated: list[UserMigration] = field(default_factory=list)
    failed: list[UserMigration] = field(default_factory=list)
    # Mappings left alone: already on a conversation (or not a legacy thread).
    skipped: int = 0


def migrate_threads(
    *,
    adapter: ThreadsAdapter | None,
    dry_run: bool = False,
    limit: int | None = None,
    on_progress: Callable[[int, int, UserMigration], None] | None = None,
) -> MigrationReport:
    """Migrate up to `limit` legacy mappings, one user at a time; return what happened to each.

    `adapter` must be a responses-engine adapter (None is allowed for a dry run, which makes no
    request and changes nothing). One user's failure is recorded and the others go on.
    `on_progress(done, total, outcome)` is called after every user.
    """
    if not dry_run and (adapter is None or adapter.name != "responses"):
        raise ValueError("migrate_threads needs a responses-engine adapter")
    legacy = repository.get_mappings_with_prefix(LEGACY_PREFIX, limit=limit)
    by_engine = repository.count_mappings_by_engine()
    report = MigrationReport(dry_run=dry_run, skipped=by_engine["responses"] + by_engine["unknown"])
    for done, mapping in enumerate(legacy, start=1):
        if dry_run:
            outcome = plan_user_migration(user_phone=mapping.user_phone, old_thread_id=mapping.thread_id)
        else:
            assert adapter is not None  # checked above: only a dry run goes without
            outcome = migrate_user_thread(user_phone=mapping.user_phone, adapter=adapter)
        if outcome.status == "skipped":
            report.skipped += 1
        else:
            (report.failed if outcome.status == "failed" else report.migrated).append(outcome)
        if on_progress is not None:
            on_progress(done, len(legacy), outcome)
    logger.info(
        "thread migration%s: %d migrated, %d skipped, %d failed",
        " (dry run)" if dry_run else "",
        len(report.migrated),
        report.skipped,
        len(report.failed),
    )
    return report


def plan_user_migration(*, user_phone: str, old_thread_id: str) -> UserMigration:
    """Describe what migrating this user would do, without doing it."""
    seed = message_log.recent_transcript(user_phone)
    return UserMigration(user_phone=user_phone, old_thread_id=old_thread_id, status="planned", seed_messages=len(seed))


def migrate_user_thread(*, user_phone: str, adapter: ThreadsAdapter) -> UserMigration:
    """Give the user a conversation seeded with their recent transcript and map them to it.

    The user's lease is held meanwhile, so no turn reads or replaces the mapping halfway; a user
    in the middle of a turn fails with "busy" and is migrated by the next run. A mapping that is
    no longer a legacy thread (a turn already moved it) is skipped.
    """
    old_thread_id = repository.get_thread_id(user_phone) or ""
    token = acquire_user_lease(user_phone, ttl_s=MIGRATION_LEASE_S)
    if token is None:
        return UserMigration(
            user_phone=user_phone,
            old_thread_id=old_thread_id,
            status="failed",
            error="busy: a turn is in progress; run again later",
        )
    try:
        old_thread_id = repository.get_thread_id(user_phone) or ""
        if engine_for_thread_id(old_thread_id) != "assistants":
            return UserMigration(user_phone=user_phone, old_thread_id=old_thread_id, status="skipped")
        seed = [SeedMessage(role=role, text=text) for role, text in message_log.recent_transcript(user_phone)]
        try:
            # Done well within the lease, so no turn can start on the old thread meanwhile.
            new_thread_id = adapter.create_thread(seed=seed, deadline=time.monotonic() + MIGRATION_LEASE_S / 2)
            repository.save_thread_id(user_phone, new_thread_id)
        except Exception as exc:  # one user's failure must not stop the others
            logger.exception("could not migrate the thread of %s", user_phone)
            return UserMigration(
                user_phone=user_phone,
                old_thread_id=old_thread_id,
                status="failed",
                error=f"{type(exc).__name__}: {exc}"[:300],
            )
    finally:
        release_user_lease(user_phone, token)
    logger.info("migrated %s from %s to %s (%d seed messages)", user_phone, old_thread_id, new_thread_id, len(seed))
    _answer_messages_that_waited(user_phone)
    return UserMigration(
        user_phone=user_phone,
        old_thread_id=old_thread_id,
        status="migrated",
        new_thread_id=new_thread_id,
        seed_messages=len(seed),
    )


def _answer_messages_that_waited(user_phone: str) -> None:
    # A message that arrived while we held the lease found it taken and was left to the holder.
    if message_log.has_pending_inbound(user_phone):
        scheduling.run_soon(scheduling.PROCESS_USER_MESSAGES, user_phone)
