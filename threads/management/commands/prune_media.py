"""Delete local copies of WhatsApp attachments older than MEDIA_RETENTION_DAYS, from cron (daily is plenty).

A pruned attachment is still playable in the admin: the media view fetches it from Twilio again.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from threads.media import MAX_RETENTION_DAYS, media_dir, prune_copies


class Command(BaseCommand):
    help = (
        "Delete the local copies of attachments (MEDIA_ROOT/whatsapp) older than --days "
        "(default MEDIA_RETENTION_DAYS; 0 deletes them all)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help="keep copies newer than this many days")

    def handle(self, *args, days: int | None, **options):
        if days is not None and not 0 <= days <= MAX_RETENTION_DAYS:
            raise CommandError(f"--days must be between 0 and {MAX_RETENTION_DAYS} (a century)")
        keep = settings.MEDIA_RETENTION_DAYS if days is None else days
        deleted = prune_copies(days=keep)
        self.stdout.write(
            f"deleted {deleted} local cop{'y' if deleted == 1 else 'ies'} older than {keep} days from {media_dir()}"
        )
