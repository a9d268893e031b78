"""Background tasks: thin, JSON-safe wrappers over the services (Django's tasks framework)."""

import logging
from datetime import timedelta

from django.tasks import Task, task
from django.utils import timezone

logger = logging.getLogger(__name__)


@task
def process_user_messages_task(user_phone: str) -> int:
    from .services import process_user_messages

    return process_user_messages(user_phone=user_phone)


@task
def send_pending_messages_task(user_phone: str) -> int:
    from .outbound import send_pending_outbound

    return send_pending_outbound(user_phone=user_phone)


@task
def handle_openai_response_task(event_type: str, response_id: str, attempt: int = 1) -> bool:
    from .background import handle_response_event

    return handle_response_event(event_type=event_type, response_id=response_id, attempt=attempt) is not None


@task
def check_background_turn_task(turn_id: int, response_id: str) -> bool:
    from .background import check_background_turn

    return check_background_turn(turn_id=turn_id, response_id=response_id) is not None


@task
def recover_turn_task(turn_id: int) -> dict:
    from .recovery import recover_turn
    from .services import lease_ttl_s

    report = recover_turn(turn_id=turn_id)
    if report.turns_alive:  # its worker is still at it: look again once the lease could lapse
        enqueue_later(recover_turn_task, lease_ttl_s() + 1, turn_id)
    return report.__dict__


def enqueue_later(task_: Task, delay_s: float, *args) -> bool:
    """Enqueue `task_` to run after `delay_s` seconds when the backend can defer; return whether it did.

    The immediate backend cannot defer: the work then waits for the recovery sweep
    (`manage.py recover_turns`) or the user's next turn instead of blocking the request.
    """
    if not task_.get_backend().supports_defer:
        logger.debug("task backend cannot defer %s; leaving it to recovery", task_.name)
        return False
    task_.using(run_after=timezone.now() + timedelta(seconds=delay_s)).enqueue(*args)
    return True
