from django.apps import AppConfig
from django.core import checks


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        from . import checks as messaging_checks

        checks.register(messaging_checks.check_messaging_backend_path)
        checks.register(messaging_checks.check_messaging_backend_loads)
        checks.register(messaging_checks.check_twilio_credentials)
