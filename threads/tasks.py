"""Background tasks: thin, JSON-safe wrappers over the services (Django's tasks framework).

Each registers under the name the services schedule it by (`threads.scheduling`).
"""

import logging

from django.tasks import task

from . import background, outbound, recovery, scheduling, services

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
