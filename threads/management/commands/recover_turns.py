"""Recover turns whose worker died and answer inbound messages no turn took, by hand or from cron.

With the database tasks backend the workers run the same sweep every RECOVERY_SWEEP_S by
themselves (`threads.recovery.sweep`); this also restarts that chain if it is missing. With the
immediate backend nothing runs later, so there this command, from cron, is the sweep.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from threads.recovery import keep_sweeping, recover_stale_work

MAX_ORPHAN_AGE_S = 365 * 24 * 3600


class Command(BaseCommand):
    help = (
        "Finish or re-queue turns whose lease expired (their worker was killed or lost), answer "
        "inbound messages older than --orphan-age seconds that no turn took, and fire overdue handoff "
        "timeouts. Idempotent. With the database tasks backend the workers already do this every "
        "RECOVERY_SWEEP_S; run it from cron only with the immediate backend."
    )

    def add_arguments(self, parser):
        parser.add_argument("--orphan-age", type=float, default=60.0, help="seconds (default 60)")

    def handle(self, *args, orphan_age: float, **options):
        if not 0 <= orphan_age <= MAX_ORPHAN_AGE_S:  # also refuses nan
            raise CommandError(f"--orphan-age must be between 0 and {MAX_ORPHAN_AGE_S:,} seconds (a year)")
        report = recover_stale_work(orphan_age_s=orphan_age)
        self.stdout.write(
            f"re-queued turns: {len(report.turns_requeued)}, resent turns: {len(report.turns_resent)}, "
            f"checked background turns: {len(report.turns_checked)}, users answered: {len(report.users_resumed)}, "
            f"handoff timeouts: {len(report.handoffs_timed_out)}"
        )
        if keep_sweeping():
            self.stdout.write(f"recovery sweep: queued, every {settings.RECOVERY_SWEEP_S:g}s")
        else:
            self.stdout.write("recovery sweep: not with this tasks backend (run this command from cron)")
