"""Move legacy Assistants threads (`thread_…`) to Responses conversations seeded with each transcript."""

from django.core.management.base import BaseCommand, CommandError

from threads.adapter import ThreadsAdapter, get_adapter, is_openai_enabled
from threads.exceptions import ThreadsError
from threads.message_log import TRANSCRIPT_SEED_LIMIT
from threads.migration import MigrationReport, UserMigration, migrate_threads


class Command(BaseCommand):
    help = (
        "Give every user still mapped to a legacy Assistants thread (thread_…) a new Responses conversation "
        f"(conv_…) seeded with their last {TRANSCRIPT_SEED_LIMIT} messages from the message log, and map them to "
        "it. Users already on a conversation are skipped, so running it again is safe. A user whose migration "
        "fails is listed and the others go on; the exit code is 1 if any failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="say what would be migrated; change nothing")
        parser.add_argument("--limit", type=int, default=None, help="migrate at most N users in this run")
        parser.add_argument(
            "--progress-every", type=int, default=10, help="print a progress line every N users (default 10)"
        )

    def handle(self, *args, dry_run: bool, limit: int | None, progress_every: int, **options):
        if limit is not None and limit < 1:
            raise CommandError(f"--limit must be a positive number of users; got {limit}.")
        if progress_every < 1:
            raise CommandError(f"--progress-every must be at least 1; got {progress_every}.")
        self.verbosity = options["verbosity"]
        self.progress_every = progress_every
        self.dry_run = dry_run
        adapter = None if dry_run else self._responses_adapter()
        if dry_run:
            self.stdout.write("Dry run: nothing will be created or changed.")
        report = migrate_threads(adapter=adapter, dry_run=dry_run, limit=limit, on_progress=self._progress)
        self._summarise(report)
        if report.failed:
            raise CommandError(
                f"{len(report.failed)} user(s) could not be migrated (listed above). Fix the cause and run the "
                "command again: users already migrated are skipped."
            )

    def _responses_adapter(self) -> ThreadsAdapter:
        if not is_openai_enabled():
            raise CommandError(
                "OpenAI is not configured (OPENAI_API_KEY): migrating creates conversations at OpenAI. "
                "Use --dry-run to see what would be migrated."
            )
        try:
            adapter = get_adapter(engine="responses")
            adapter.check_connection()
        except ThreadsError as exc:
            raise CommandError(f"OpenAI is not usable, nothing was migrated: {exc}") from exc
        return adapter

    def _progress(self, done: int, total: int, outcome: UserMigration) -> None:
        if outcome.status == "failed":
            self.stderr.write(f"  ❌ {outcome.user_phone} ({outcome.old_thread_id}): {outcome.error}")
        elif outcome.status == "planned":
            self.stdout.write(
                f"  would migrate {outcome.user_phone} ({outcome.old_thread_id}) to a new conversation seeded "
                f"with {outcome.seed_messages} message(s)"
            )
        elif self.verbosity >= 2:
            detail = f"→ {outcome.new_thread_id}" if outcome.status == "migrated" else "already moved, skipped"
            self.stdout.write(f"  {outcome.user_phone} ({outcome.old_thread_id}) {detail}")
        if not self.dry_run and (done % self.progress_every == 0 or done == total):
            self.stdout.write(f"[{done}/{total}] users processed")

    def _summarise(self, report: MigrationReport) -> None:
        migrated = "would migrate" if report.dry_run else "migrated"
        line = f"Summary: {migrated} {len(report.migrated)}, skipped {report.skipped}, failed {len(report.failed)}."
        self.stdout.write(self.style.SUCCESS(line) if not report.failed else self.style.WARNING(line))
        if report.failed:
            self.stderr.write("Failed:")
            for outcome in report.failed:
                self.stderr.write(f"  {outcome.user_phone} ({outcome.old_thread_id}): {outcome.error}")
