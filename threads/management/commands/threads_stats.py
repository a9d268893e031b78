"""Print the thread mappings and the last 24 hours of traffic and spend, as a table or as JSON."""

import json

from django.core.management.base import BaseCommand

from threads.stats import get_recent_activity


class Command(BaseCommand):
    help = (
        "Show thread statistics: mappings (total, created and active in the last 24 h, by engine) and the "
        "messages, turns, tokens and cost of the last 24 h. --json prints the same numbers as JSON with stable keys."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json", help="print JSON instead of a table")

    def handle(self, *args, as_json: bool, **options):
        stats = get_recent_activity()
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
            ("  kept from the model by a budget limit", last_24h["limited_turns"]),
            ("  asked the model, cost unknown", last_24h["unpriced_turns"]),
        ]
        width = max(len(label) for label, _ in rows)
        for label, value in rows:
            self.stdout.write(f"{label:<{width}}  {value:>8}")
        self.stdout.write(_spend_line(last_24h))
        if mappings["by_engine"]["assistants"]:
            self.stdout.write(self.style.WARNING("Legacy threads remain: move them with `manage.py migrate_threads`."))


def _spend_line(last_24h: dict) -> str:
    """Say what the last 24 hours cost, and the tokens behind it (cached input is part of input)."""
    input_tokens = last_24h["input_tokens"]
    cached = f" ({last_24h['cached_input_tokens'] / input_tokens:.0%} cached)" if input_tokens else ""
    reasoning = f", {last_24h['reasoning_tokens']:,} of them reasoning" if last_24h["reasoning_tokens"] else ""
    return (
        f"Cost (24 h): ${last_24h['cost_usd']:.4f} over {last_24h['turns']} turns; "
        f"tokens: {input_tokens:,} in{cached} / {last_24h['output_tokens']:,} out{reasoning}"
    )
