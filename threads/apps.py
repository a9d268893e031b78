import sys

from django.apps import AppConfig
from django.core import checks
from django.db.backends.signals import connection_created


class ThreadsConfig(AppConfig):
    name = "threads"
    verbose_name = "Threads and conversations"

    def ready(self) -> None:
        from . import checks as thread_checks
        from . import tasks  # registers the tasks the services schedule by name

        checks.register(thread_checks.check_assistant_id)
        checks.register(thread_checks.check_background_tasks_backend)
        checks.register(thread_checks.check_assistants_engine)
        checks.register(thread_checks.check_turn_limits)
        checks.register(thread_checks.check_openai_model)
        checks.register(thread_checks.check_prices_setting)
        checks.register(thread_checks.check_model_shutdown)
        checks.register(thread_checks.check_cost_limits_priced)
        checks.register(thread_checks.check_business_hours)
        checks.register(thread_checks.check_staff_notify_emails)
        if is_db_worker():
            # No queries here (the app registry is still loading): the worker's first connection starts the sweep.
            connection_created.connect(tasks.keep_recovery_sweep, dispatch_uid="threads.keep_recovery_sweep")


def is_db_worker() -> bool:
    """Tell whether this process is `manage.py db_worker` (or `django-admin db_worker`).

    Only workers keep the recovery sweep going: not gunicorn, `migrate` or the tests. Django
    itself takes the subcommand from argv[1].
    """
    return sys.argv[1:2] == ["db_worker"]
