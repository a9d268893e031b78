"""Selectors for the health endpoint: what the task queue holds, read from its backend's own table."""

import logging

from django.db import DatabaseError
from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django.tasks.base import TaskResultStatus
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult

logger = logging.getLogger(__name__)


def count_pending_tasks() -> int | None:
    """Count the tasks waiting to run (READY, deferred ones included); None when that cannot be told.

    Only django-tasks-db keeps a queue we can count; the immediate and dummy backends have none.
    A database error gives None too: the health endpoint reports it, it does not fail on it.
    """
    if not isinstance(task_backends[DEFAULT_TASK_BACKEND_ALIAS], DatabaseBackend):
        return None
    try:
        return DBTaskResult.objects.filter(status=TaskResultStatus.READY).count()
    except DatabaseError as exc:
        logger.warning("could not count pending tasks: %s", type(exc).__name__)
        return None
