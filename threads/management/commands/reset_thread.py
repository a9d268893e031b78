"""Forget a user's thread from the command line: their next message starts a new conversation."""

from django.core.management.base import BaseCommand, CommandError

from threads import staff
from threads.phones import normalize_whatsapp_phone


class Command(BaseCommand):
    help = (
        "Reset a WhatsApp user's thread: delete their thread mapping so their next message starts a fresh "
        "conversation (the old transcript stays in the message log and the admin, but is not replayed to the "
        "model). With --delete-remote, also delete the old conversation (or legacy thread) at OpenAI."
    )

    def add_arguments(self, parser):
        parser.add_argument("phone", help="the user's number: +5215512345678 or whatsapp:+5215512345678")
        parser.add_argument(
            "--delete-remote",
            action="store_true",
            help="also delete the conversation/thread at OpenAI (needs OPENAI_API_KEY; one already gone is fine)",
        )
        parser.add_argument(
            "--thread-id",
            help="with --delete-remote and no mapping left: the remote id to delete (one an earlier reset could not)",
        )

    def handle(self, *args, phone: str, delete_remote: bool, thread_id: str | None, **options):
        user_phone = normalize_whatsapp_phone(phone)
        if user_phone is None:
            raise CommandError(
                f"Not a WhatsApp phone number: {phone!r}. Use the international format, e.g. +5215512345678 "
                "or whatsapp:+5215512345678."
            )
        if delete_remote and not staff.can_delete_remote_threads():
            raise CommandError(
                "--delete-remote needs OpenAI, but OPENAI_API_KEY is not set. Nothing was changed; run without "
                "--delete-remote to delete the mapping only."
            )
        if thread_id and not delete_remote:
            raise CommandError("--thread-id only makes sense with --delete-remote.")
        if thread_id:
            return self._delete_remote_only(thread_id)
        result = staff.reset_thread(user_phone=user_phone, delete_remote=delete_remote)
        if result.thread_id is None and result.history_reset and not delete_remote:
            self.stdout.write(
                self.style.SUCCESS(f"{user_phone} had no thread mapping; their history starts afresh.")
                + " The rule-based responder forgets the course and list it last discussed."
            )
            return
        if result.thread_id is None:
            raise CommandError(f"No thread mapping for {user_phone}.")
        self.stdout.write(
            self.style.SUCCESS(f"Deleted the mapping of {user_phone} (was {result.thread_id}).")
            + " Their next message starts a new conversation."
        )
        if not delete_remote:
            return
        if not result.remote_deleted:
            raise CommandError(
                f"The remote thread {result.thread_id} was not deleted: {result.remote_error}. Try again later with: "
                f"manage.py reset_thread {user_phone} --delete-remote --thread-id {result.thread_id}"
            )
        self.stdout.write(self.style.SUCCESS(f"Deleted {result.thread_id} at OpenAI."))

    def _delete_remote_only(self, thread_id: str) -> None:
        """Finish an earlier reset: delete the old remote thread, never the one a user talks in now."""
        result = staff.delete_leftover_remote_thread(thread_id=thread_id)
        if result.in_use_by:
            raise CommandError(
                f"{thread_id} is the conversation {result.in_use_by} uses now: not deleted. "
                f"To reset it, run: manage.py reset_thread {result.in_use_by} --delete-remote"
            )
        if not result.deleted:
            raise CommandError(f"The remote thread {thread_id} was not deleted: {result.remote_error}")
        self.stdout.write(self.style.SUCCESS(f"Deleted {thread_id} at OpenAI (the user's mapping is untouched)."))
