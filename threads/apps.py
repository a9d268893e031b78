from django.apps import AppConfig
from django.core import checks


class ThreadsConfig(AppConfig):
    name = "threads"
    verbose_name = "Threads and conversations"

    def ready(self) -> None:
        from . import checks as thread_checks
        from . import tasks  # noqa: F401  (registers the tasks the services schedule by name)

        checks.register(thread_checks.check_assistant_id)
        checks.register(thread_checks.check_background_tasks_backend)
        checks.register(thread_checks.check_assistants_engine)
        checks.register(thread_checks.check_turn_limits)
        checks.register(thread_checks.check_prices_setting)
        checks.register(thread_checks.check_model_shutdown)
        checks.register(thread_checks.check_cost_limits_priced)
