"""Re-run past user messages through a model configuration and report replies, tools, tokens and cost.

Never sends a message: see `threads.replay`.
"""

import argparse
import json
import logging
from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from threads import replay
from threads.adapter import is_openai_enabled
from threads.phones import normalize_whatsapp_phone


class Command(BaseCommand):
    help = (
        "Replay past user messages through the current model configuration (or --model/--instructions), "
        "optionally side by side with --compare MODEL, and report replies, tool calls, tokens, cost and wrong "
        "prices. Each conversation runs in a fresh OpenAI conversation deleted afterwards; nothing is sent to "
        "anyone and nothing is written to the database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--phone", help="replay this user's messages from the log (+521… or whatsapp:+521…)")
        source.add_argument(
            "--file", type=Path, help='a JSONL file, one conversation a line: {"id": "...", "messages": ["..."]}'
        )
        parser.add_argument("--since", type=_local_date, help="with --phone: only messages from this local date on")
        parser.add_argument("--model", help="the model to replay with (default OPENAI_MODEL)")
        parser.add_argument(
            "--instructions", type=Path, help="a UTF-8 text file replacing Brenda's instructions for this replay"
        )
        parser.add_argument("--engine", default=replay.REPLAY_ENGINE, help="only 'responses' can be replayed")
        parser.add_argument("--compare", metavar="MODEL", help="also run every conversation with MODEL, side by side")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print one JSON document")

    def handle(self, *args, **options):
        if options["since"] and not options["phone"]:
            raise CommandError("--since only applies to --phone.")
        for flag in ("model", "compare"):
            if options[flag] is not None and not options[flag].strip():
                raise CommandError(f"--{flag} needs a model name, e.g. --{flag} gpt-6-luna.")
        root = logging.getLogger()
        level = root.level
        if options["verbosity"] < 2:
            root.setLevel(logging.WARNING)  # the progress lines are the output; -v 2 shows the logs
        try:
            self._replay(options)
        finally:
            root.setLevel(level)

    def _replay(self, options: dict) -> None:
        try:
            replay.check_engine(engine=options["engine"])
            instructions = None
            if options["instructions"]:
                instructions = replay.read_instructions(path=options["instructions"])
            conversations = self._load_conversations(options)
        except replay.ReplayError as exc:
            raise CommandError(str(exc)) from exc
        if not is_openai_enabled():
            raise CommandError("Replay needs OpenAI, but OPENAI_API_KEY is not set. Nothing was run.", returncode=1)
        configs = replay.build_configs(
            model=options["model"], instructions=instructions, compare_model=options["compare"]
        )
        report = replay.run_replay(
            conversations=conversations,
            configs=configs,
            instructions_source=str(options["instructions"] or "built-in"),
            # Plain text: stderr is styled as errors by default, and progress is not one.
            progress=lambda line: self.stderr.write(line, style_func=str),
        )
        if options["as_json"]:
            self.stdout.write(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
        else:
            self.stdout.write(replay.render_report(report))
        # Partial failures are results to read; all of them failing means the replay measured nothing.
        dead = [
            label
            for index, label in enumerate(report.labels)
            if (summary := report.summary(index)).turns and summary.fallbacks == summary.turns
        ]
        if dead:
            raise CommandError(
                f"Every turn failed under {', '.join(dead)} (see the reasons above): check that OpenAI is "
                "reachable (OPENAI_BASE_URL, OPENAI_API_KEY) and the model exists.",
                returncode=1,
            )

    def _load_conversations(self, options: dict) -> list[replay.ReplayConversation]:
        if options["file"]:
            return replay.load_file_conversations(path=options["file"])
        user_phone = normalize_whatsapp_phone(options["phone"])
        if user_phone is None:
            raise CommandError(
                f"Not a phone number: {options['phone']!r}. Use +5215512345678 or whatsapp:+5215512345678."
            )
        return replay.load_log_conversations(user_phone=user_phone, since=options["since"])


def _local_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None
