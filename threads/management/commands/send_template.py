"""Send an approved WhatsApp template from a script: the only message that reaches a user outside the 24-hour window."""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from threads import message_templates
from threads.models import Message
from threads.phones import normalize_whatsapp_phone
from threads.stats import FAILED_DELIVERY_STATUSES


class Command(BaseCommand):
    help = (
        "Send the approved WhatsApp template NAME (see Message templates in the admin) to PHONE, filling its "
        "{{1}}-style placeholders with --var. Exits 1, sending nothing, on an unknown or inactive template, a "
        "missing or invalid variable, or a user who opted out."
    )

    def add_arguments(self, parser):
        parser.add_argument("phone", help="the user's number: +5215512345678 or whatsapp:+5215512345678")
        parser.add_argument("name", help="the template's name in the admin")
        parser.add_argument(
            "--var",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a placeholder's value, e.g. --var 1=Ana --var 2='martes 10:00' (repeat for each placeholder)",
        )

    def handle(self, *args, phone: str, name: str, var: list[str], **options):
        user_phone = normalize_whatsapp_phone(phone)
        if user_phone is None:
            raise CommandError(
                f"Not a WhatsApp phone number: {phone!r}. Use the international format, e.g. +5215512345678."
            )
        variables = self._parse_vars(var)
        try:
            message = message_templates.send_template(user_phone=user_phone, name=name, variables=variables)
        except message_templates.TemplateError as exc:
            text = str(exc)
            raise CommandError(text if "nothing was sent" in text.lower() else f"{text}. Nothing was sent.") from exc
        except ImproperlyConfigured as exc:
            raise CommandError(f"Messaging is not configured: {exc}") from exc
        if message.status == Message.Status.BLOCKED:
            raise CommandError(f"Not sent: {message.status_note}")
        if message.status in FAILED_DELIVERY_STATUSES:
            raise CommandError(f"Twilio refused the template: {message.status_note}")
        if message.status == Message.Status.PENDING:
            self.stdout.write(
                self.style.WARNING(
                    f"Twilio could not be reached; template {name} to {user_phone} is queued for a retry "
                    f"(message {message.pk})."
                )
            )
            return
        self.stdout.write(
            self.style.SUCCESS(f"Sent template {name} to {user_phone}")
            + f" (message {message.pk}, {message.get_status_display().lower()}): {message.body}"
        )

    def _parse_vars(self, pairs: list[str]) -> dict[str, str]:
        variables: dict[str, str] = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            key = key.strip().strip("{}")
            if not sep or not key:
                raise CommandError(f"--var takes KEY=VALUE (e.g. --var 1=Ana); got {pair!r}. Nothing was sent.")
            if key in variables:
                raise CommandError(f"--var {key} is given twice. Nothing was sent.")
            variables[key] = value
        return variables
