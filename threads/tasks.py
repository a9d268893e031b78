"""Background tasks: thin, JSON-safe wrappers over the services (Django's tasks framework).

Each registers under the name the services schedule it by (`threads.scheduling`). Here too is
what a `db_worker` process does to keep the recovery sweep going (`keep_recovery_sweep`).
"""

import logging
import time

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.tasks import task

from . import background, handoff, outbound, recovery, scheduling, services

logger = logging.getLogger(__name__)


@scheduling.register(scheduling.PROCESS_USER_MESSAGES)
@task
def process_user_messages_task(user_phone: str) -> int:
    return services.process_user_messages(user_phone=user_phone)


@scheduling.register(scheduling.SEND_PENDING_MESSAGES)
@task
def send_pending_messages_task(user_phone: str) -> int:
    return outbound.send_pending_outbound(user_phone=user_phone)


@scheduling.register(scheduling.HANDLE_OPENAI_RESPONSE)
@task
def handle_openai_response_task(event_type: str, response_id: str, attempt: int = 1) -> bool:
    return background.handle_response_event(event_type=event_type, response_id=response_id, attempt=attempt) is not None


@scheduling.register(scheduling.CHECK_BACKGROUND_TURN)
@task
def check_background_turn_task(turn_id: int, response_id: str) -> bool:
    return background.check_background_turn(turn_id=turn_id, response_id=response_id) is not None


@scheduling.register(scheduling.RECOVER_TURN)
@task
def recover_turn_task(turn_id: int) -> dict:
    return recovery.check_turn(turn_id=turn_id).__dict__


@scheduling.register(scheduling.RECOVERY_SWEEP)
@task
def recovery_sweep_task() -> dict:
    return recovery.sweep().__dict__


@scheduling.register(scheduling.NOTIFY_STAFF)
@task
def notify_staff_task(handoff_id: int) -> bool:
    return handoff.notify_staff(handoff_id=handoff_id)


@scheduling.register(scheduling.HANDOFF_TIMEOUT)
@task
def handoff_timeout_task(handoff_id: int) -> str:
    return handoff.check_timeout(handoff_id=handoff_id)


# When this process next makes sure the sweep is queued (time.monotonic()); None before the first time.
_next_sweep_check: float | None = None


def keep_recovery_sweep(sender, *, connection, **kwargs) -> None:
    """Keep the recovery sweep queued from a `db_worker` process (`ThreadsConfig.ready` connects this).

    django-tasks-db's worker has no start hook, but the first thing it does is open a database
    connection (`connection_created`), and with CONN_MAX_AGE=0 it opens one at every poll. The
    first time, this queues a sweep due now, so a restarted worker heals at once; then, at most
    once per RECOVERY_SWEEP_S, it checks that the chain is still queued and restarts it if not.
    """
    global _next_sweep_check
    now = time.monotonic()
    if connection.alias != DEFAULT_DB_ALIAS or (_next_sweep_check is not None and now < _next_sweep_check):
        return
    starting = _next_sweep_check is None
    _next_sweep_check = now + settings.RECOVERY_SWEEP_S
    try:
        recovery.keep_sweeping(now=starting)
    except Exception:  # never break the worker's connection over it: the next check tries again
        logger.exception("could not queue the recovery sweep")
