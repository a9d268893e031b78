"""Talk to Brenda from the terminal, through the same service as WhatsApp and the console backend."""

import logging
import sys
import uuid

from django.core.management.base import BaseCommand, CommandError

from messaging.backends import using_backend
from threads.adapter import is_openai_enabled
from threads.message_log import record_inbound
from threads.phones import normalize_whatsapp_phone
from threads.services import process_user_messages

EXIT_WORDS = {"/salir", "/exit", "/quit"}


class Command(BaseCommand):
    help = (
        "Chat with Brenda in the terminal. Each line is handled like a WhatsApp message (OpenAI when "
        "configured, the catalogue responder otherwise); replies print through the console backend. "
        "End with Ctrl-D or /salir."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument(
            "--phone", default="whatsapp:+5210000000000", help="user to talk as (+521… or whatsapp:+521…)"
        )
        parser.add_argument("--name", default="Terminal", help="WhatsApp profile name to use")

    def handle(self, *args, phone: str, name: str, stdin=None, **options):
        user_phone = normalize_whatsapp_phone(phone)
        if user_phone is None:
            raise CommandError(f"Not a phone number: {phone!r}. Use +5215512345678 or whatsapp:+5215512345678.")
        if options["verbosity"] < 2:
            # Keep the conversation readable (-v 2 shows the logs); django.tasks logs each task at INFO on its own.
            for name in ("", "django.tasks"):
                logging.getLogger(name).setLevel(logging.WARNING)
        stream = stdin or sys.stdin
        interactive = stream.isatty()
        mode = "OpenAI" if is_openai_enabled() else "the catalogue responder (OpenAI is not configured)"
        self.stdout.write(f"Chatting as {user_phone} with {mode}. Ctrl-D or /salir to leave.")
        while True:
            if interactive:
                self.stdout.write("tú> ", ending="")
                self.stdout.flush()
            line = stream.readline()
            if not line or line.strip() in EXIT_WORDS:
                break
            if text := line.strip():
                self._exchange(user_phone, name, text)
        self.stdout.write("¡Hasta luego!")

    def _exchange(self, user_phone: str, name: str, text: str) -> None:
        record_inbound(user_phone=user_phone, twilio_sid=f"CHAT{uuid.uuid4().hex}", body=text, profile_name=name)
        with using_backend("messaging.backends.ConsoleBackend"):
            process_user_messages(user_phone=user_phone)
