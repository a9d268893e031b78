from django.apps import AppConfig
from django.core import checks


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from . import checks as webhook_checks

        checks.register(webhook_checks.check_twilio_signature_validation, checks.Tags.security)
        checks.register(webhook_checks.check_twilio_signing_secret)
        checks.register(webhook_checks.check_webhook_max_body_bytes)
        checks.register(webhook_checks.check_public_base_url)
        checks.register(webhook_checks.check_background_webhook_secret)
