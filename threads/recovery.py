"""Crash safety: finish or re-queue turns whose worker died, and pick up messages no turn took.

django-tasks-db has no lease or heartbeat of its own: a worker killed mid-task leaves its task
RUNNING for ever. Ours is the user's lease, which a working turn renews (`LeaseKeeper`): a turn
still open whose lease is no longer alive lost its worker. A check task scheduled at every
turn's start (any surviving worker runs it, and it looks again while the turn is alive) ends up
here, and so does the sweep for work whose task died with its worker (a retried send, a user's
pending messages, a turn whose check was lost, a handoff's timeout): a task that queues its next run every
RECOVERY_SWEEP_S, kept going by the workers themselves, so no cron is needed. Under the
immediate tasks backend nothing runs later: there the `recover_turns` command, from cron, sweeps.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from . import handoff, message_log, scheduling, turns
from .answering import lease_ttl_s
from .background import check_background_turn
from .locks import is_lease_alive, release_user_lease, take_over_expired_lease
from .models import OPEN_STATUSES, Message, Turn
from .outbound import retry_delay_s, send_pending_outbound
from .services import process_user_messages

logger = logging.getLogger(__name__)

# A part "sending" for longer than this lost its sender (a Twilio call with its retries is shorter).
STALE_SENDING_S = 60.0


@dataclass
class RecoveryReport:
    turns_requeued: list[int] = field(default_factory=list)
    turns_resent: list[int] = field(default_factory=list)
    turns_checked: list[int] = field(default_factory=list)
    users_resumed: list[str] = field(default_factory=list)
    turns_alive: list[int] = field(default_factory=list)
    handoffs_timed_out: list[int] = field(default_factory=list)


def keep_sweeping(*, now: bool = False) -> bool:
    """Make sure one recovery sweep is queued, due now or within RECOVERY_SWEEP_S; return whether it is.

    Each `db_worker` calls this when it starts (`now`: a restarted worker heals at once) and then
    about once per interval (`threads.tasks.keep_recovery_sweep`), so a chain lost with its worker
    comes back. False under the immediate tasks backend, which runs nothing later.
    """
    return scheduling.run_later_once(scheduling.RECOVERY_SWEEP, 0 if now else settings.RECOVERY_SWEEP_S)


def sweep() -> RecoveryReport:
    """Queue the next sweep, then recover whatever is stale: one link of the chain that replaces cron.

    The next link is queued first, so a worker lost mid-sweep does not end the chain. A sweep that
    outlasts the interval overlaps the next one, which is safe (see `recover_stale_work`).
    """
    keep_sweeping()
    return recover_stale_work()


def check_turn(*, turn_id: int) -> RecoveryReport:
    """The check scheduled at a turn's start: recover it if its worker is gone, else look again later."""
    report = recover_turn(turn_id=turn_id)
    if report.turns_alive:  # its worker is still at it: look again once the lease could lapse
        scheduling.run_later(scheduling.RECOVER_TURN, lease_ttl_s() + 1, turn_id)
    return report


def recover_turn(*, turn_id: int, report: RecoveryReport | None = None) -> RecoveryReport:
    """Take over one open turn whose worker is gone; a live or finished turn is left alone."""
    report = report or RecoveryReport()
    turn = Turn.objects.filter(pk=turn_id, status__in=OPEN_STATUSES).first()
    if turn is None:
        return report
    token = turn.lease_token
    if is_lease_alive(turn.user_phone, token):
        report.turns_alive.append(turn.pk)
        return report
    if turn.status == Turn.Status.BACKGROUND:
        check_background_turn(turn_id=turn.pk, response_id=turn.response_id)
        report.turns_checked.append(turn.pk)
        return report
    # Hold the user's lease while we repair the turn, unless someone else already holds it.
    our_token = take_over_expired_lease(turn.user_phone, token, ttl_s=lease_ttl_s())
    if our_token is None and is_lease_alive(turn.user_phone, token):
        report.turns_alive.append(turn.pk)  # its worker renewed just now: it is alive after all
        return report
    won = False
    try:
        won = turns.abandon_turn(turn)  # False: another recoverer got there first
        if won:
            _repair_abandoned(turn, report)
    finally:
        if our_token:
            release_user_lease(turn.user_phone, our_token)
    # Like every lease holder, look for pending messages after letting go: a recoverer that won
    # the turn while we held the lease re-queued its messages and found the lease taken.
    if (won or our_token) and process_user_messages(user_phone=turn.user_phone):
        report.users_resumed.append(turn.user_phone)
    return report


def _repair_abandoned(turn: Turn, report: RecoveryReport) -> None:
    logger.warning("turn %s of %s lost its worker; recovering it", turn.pk, turn.user_phone)
    if turn.messages.filter(direction=Message.Direction.OUTBOUND).exists():
        # The reply was written before the worker died: send what is left, answer nothing twice
        # (a part it was sending when it died goes out again: at least once, never lost).
        # Its worker is dead (its lease lapsed), so a part it left "sending" will not finish.
        message_log.release_stale_sending(older_than_s=0, turn=turn)
        send_pending_outbound(user_phone=turn.user_phone)
        turns.resolve_abandoned(turn, replied=True)
        report.turns_resent.append(turn.pk)
    else:
        Message.objects.filter(turn=turn, direction=Message.Direction.INBOUND).update(turn=None)
        turns.resolve_abandoned(turn, replied=False)
        report.turns_requeued.append(turn.pk)


def recover_stale_work(*, orphan_age_s: float = 60.0) -> RecoveryReport:
    """Recover every open turn whose worker is gone, answer inbound messages that no turn took, send
    replies left unsent, and fire handoff timeouts that are overdue.

    Safe to run from several places at once (sweeps overlapping on two workers, the command, a
    turn's own check): each step is a compare-and-swap (a turn's transition, a lease take-over,
    a message claimed for a turn or for sending) or runs under the user's lease, so the loser of
    any race leaves that piece alone.
    """
    report = RecoveryReport()
    # A turn younger than one lease cannot have lost it yet.
    started_before = timezone.now() - timedelta(seconds=lease_ttl_s())
    candidates = Turn.objects.filter(status__in=OPEN_STATUSES, started_at__lt=started_before)
    for turn_id in list(candidates.values_list("pk", flat=True)):
        recover_turn(turn_id=turn_id, report=report)
    for user_phone in message_log.users_with_pending_inbound(older_than_s=orphan_age_s):
        if user_phone not in report.users_resumed and process_user_messages(user_phone=user_phone):
            report.users_resumed.append(user_phone)
    # Replies whose sender died mid-send, or whose retry task was lost.
    unsent = message_log.release_stale_sending(older_than_s=max(orphan_age_s, STALE_SENDING_S))
    unsent |= {
        user_phone
        for user_phone in message_log.users_with_pending_outbound(older_than_s=orphan_age_s)
        if _is_retry_overdue(user_phone, grace_s=orphan_age_s)
    }
    for user_phone in sorted(unsent):
        send_pending_outbound(user_phone=user_phone)
    # Handoff timeouts whose task never ran: the immediate backend cannot defer it, a lost worker took it.
    report.handoffs_timed_out = handoff.fire_overdue_timeouts()
    return report


def _is_retry_overdue(user_phone: str, *, grace_s: float) -> bool:
    """Tell whether the user's next reply has waited `grace_s` past its retry (so its retry task was lost).

    A reply whose send failed waits out a back-off (`outbound.retry_delay_s`, up to ten minutes)
    before its retry task sends it again; a sweep every minute must not cut that short and spend
    its attempts.
    """
    pending = message_log.pending_outbound(user_phone)
    if not pending:
        return False  # another sender is at work
    first = pending[0]
    backoff_s = retry_delay_s(first.send_attempts) if first.send_attempts else 0
    return first.updated_at <= timezone.now() - timedelta(seconds=backoff_s + grace_s)
