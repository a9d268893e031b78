"""Print the thread mappings and the last 24 hours of traffic, as a table or as JSON."""

import json
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db.models import Count, Q
from django.utils import timezone

from threads import repository
from threads.models import Message, Turn


class Command(BaseCommand):
    help = (
        "Show thread statistics: mappings (total, created and active in the last 24 h, by engine) and the "
        "messages and turns of the last 24 h. --json prints the same numbers as JSON with stable keys."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json", help="print JSON instead of a table")

    def handle(self, *args, as_json: bool, **options):
        stats = collect_stats()
        if as_json:
            self.stdout.write(json.dumps(stats, indent=2, sort_keys=True))
            return
        mappings, last_24h = stats["mappings"], stats["last_24h"]
        rows = [
            ("Thread mappings", mappings["total_mappings"]),
            ("  created in the last 24 h", mappings["created_last_24h"]),
            ("  active in the last 24 h", mappings["updated_last_24h"]),
            ("  conversations (responses, conv_…)", mappings["by_engine"]["responses"]),
            ("  legacy threads (assistants, thread_…)", mappings["by_engine"]["assistants"]),
            ("  other ids", mappings["by_engine"]["unknown"]),
            ("Messages in, last 24 h", last_24h["messages_in"]),
            ("Messages out, last 24 h", last_24h["messages_out"]),
            ("Turns, last 24 h", last_24h["turns"]),
            ("  answered by the fallback responder", last_24h["fallback_turns"]),
        ]
        width = max(len(label) for label, _ in rows)
        for label, value in rows:
            self.stdout.write(f"{label:<{width}}  {value:>8}")
        if mappings["by_engine"]["assistants"]:
            self.stdout.write(self.style.WARNING("Legacy threads remain: move them with `manage.py migrate_threads`."))


def collect_stats() -> dict:
    """Gather the numbers: the repository's mapping statistics plus 24 hours of messages and turns."""
    since = timezone.now() - timedelta(hours=24)
    messages = Message.objects.filter(created_at__gte=since).aggregate(
        messages_in=Count("pk", filter=Q(direction=Message.Direction.INBOUND)),
        messages_out=Count("pk", filter=Q(direction=Message.Direction.OUTBOUND)),
    )
    turns = Turn.objects.filter(started_at__gte=since).aggregate(
        turns=Count("pk"),
        fallback_turns=Count("pk", filter=Q(fallback_used=True) | Q(status=Turn.Status.FALLBACK)),
    )
    return {
        "mappings": {**repository.get_mapping_statistics(), "by_engine": repository.count_mappings_by_engine()},
        "last_24h": {**messages, **turns},
    }
