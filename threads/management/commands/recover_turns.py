"""Recover turns whose worker died and answer inbound messages no turn took (safe to run from cron)."""

from django.core.management.base import BaseCommand

from threads.recovery import recover_stale_work


class Command(BaseCommand):
    help = (
        "Finish or re-queue turns whose lease expired (their worker was killed or lost) and answer "
        "inbound messages older than --orphan-age seconds that no turn took. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--orphan-age", type=float, default=60.0, help="seconds (default 60)")

    def handle(self, *args, orphan_age: float, **options):
        report = recover_stale_work(orphan_age_s=orphan_age)
        self.stdout.write(
            f"re-queued turns: {len(report.turns_requeued)}, resent turns: {len(report.turns_resent)}, "
            f"checked background turns: {len(report.turns_checked)}, users answered: {len(report.users_resumed)}"
        )
