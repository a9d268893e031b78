"""Check, end to end, that this deployment can answer WhatsApp messages: one line per check."""

from django.core.management.base import BaseCommand, CommandError

from threads.doctor import FAIL, OK, WARN, run_doctor


class Command(BaseCommand):
    help = (
        "Check Brenda's deployment end to end: configuration, database tables and migrations, catalogue, "
        "OpenAI (one authenticated call with the configured engine), Twilio (fetches the account), the webhook "
        "URLs to configure, and the fallback responder. Prints ✅/⚠️/❌ per check; exits 1 if any check fails. "
        "Secrets are never printed."
    )
    # The doctor reports configuration problems itself; Django's checks must not stop it first.
    requires_system_checks = []

    def handle(self, *args, **options):
        results = run_doctor()
        width = max(len(result.title) for result in results)
        for result in results:
            self.stdout.write(f"{result.icon} {result.title:<{width}}  {result.detail}")
        counts = {status: sum(r.status == status for r in results) for status in (OK, WARN, FAIL)}
        summary = f"{counts[OK]} ok, {counts[WARN]} warning(s), {counts[FAIL]} failed"
        if counts[FAIL]:
            raise CommandError(f"{summary}: fix the ❌ checks above.")
        self.stdout.write(self.style.SUCCESS(summary) if not counts[WARN] else self.style.WARNING(summary))
