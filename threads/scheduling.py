"""Work for later, asked for by name: services schedule it here, `threads.tasks` registers what does it.

A service that imported its tasks would import upward (the tasks call the services), so the
tasks register themselves under a name when the app loads (`ThreadsConfig.ready`) and the
services only know the name. One door for every deferred piece of work: a recovery check, a
background deadline check, a retried send, a user's pending messages.
"""

import logging
from collections.abc import Callable
from datetime import timedelta

from django.tasks import Task
from django.utils import timezone

logger = logging.getLogger(__name__)

# Names of the work the services schedule (the task registered under each lives in threads.tasks).
PROCESS_USER_MESSAGES = "process_user_messages"
SEND_PENDING_MESSAGES = "send_pending_messages"
HANDLE_OPENAI_RESPONSE = "handle_openai_response"
CHECK_BACKGROUND_TURN = "check_background_turn"
RECOVER_TURN = "recover_turn"

_registry: dict[str, Task] = {}


def register(name: str) -> Callable[[Task], Task]:
    """Register the decorated task as what does the work called `name`."""

    def decorator(task_: Task) -> Task:
        _registry[name] = task_
        return task_

    return decorator


def run_soon(name: str, *args) -> None:
    """Enqueue the work `name` with JSON-safe `args` (the immediate backend runs it right away)."""
    _task(name).enqueue(*args)


def run_later(name: str, delay_s: float, *args) -> bool:
    """Enqueue the work `name` to run after `delay_s` seconds when the backend can defer; return whether it did.

    The immediate backend cannot defer: the work then waits for the recovery sweep
    (`manage.py recover_turns`) or the user's next turn instead of blocking the request.
    """
    task_ = _task(name)
    if not task_.get_backend().supports_defer:
        logger.debug("task backend cannot defer %s; leaving it to recovery", task_.name)
        return False
    task_.using(run_after=timezone.now() + timedelta(seconds=delay_s)).enqueue(*args)
    return True


def _task(name: str) -> Task:
    try:
        return _registry[name]
    except KeyError:
        raise LookupError(f"no task registered for {name!r}: is the threads app installed?") from None
