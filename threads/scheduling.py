"""Work for later, asked for by name: services schedule it here, `threads.tasks` registers what does it.

A service that imported its tasks would import upward (the tasks call the services), so the
tasks register themselves under a name when the app loads (`ThreadsConfig.ready`) and the
services only know the name. One door for every deferred piece of work: a recovery check, a
background deadline check, a retried send, a user's pending messages, the recovery sweep.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, router, transaction
from django.tasks import Task, TaskResultStatus
from django.tasks.signals import task_enqueued
from django.utils import timezone
from django.utils.json import normalize_json
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult, get_date_max

logger = logging.getLogger(__name__)

# Names of the work the services schedule (the task registered under each lives in threads.tasks).
PROCESS_USER_MESSAGES = "process_user_messages"
SEND_PENDING_MESSAGES = "send_pending_messages"
HANDLE_OPENAI_RESPONSE = "handle_openai_response"
CHECK_BACKGROUND_TURN = "check_background_turn"
RECOVER_TURN = "recover_turn"
RECOVERY_SWEEP = "recovery_sweep"
NOTIFY_STAFF = "notify_staff"  # e-mail staff about a handoff (threads.handoff)
HANDOFF_TIMEOUT = "handoff_timeout"

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


def run_soon_on_commit(name: str, *args, using: str = DEFAULT_DB_ALIAS) -> None:
    """Enqueue the work `name` so that it cannot start before the current transaction commits.

    When tasks are rows of this same database (the database backend) the task is inserted now,
    inside the transaction: it commits with the data it is about or rolls back with it, so no
    moment exists where the data is stored and its task is not, and it costs one commit instead
    of two. Any other backend could run the work before the commit: it is enqueued after it.
    Outside a transaction both come to the same thing: the work is enqueued at once.
    """
    task_ = _task(name)
    if _tasks_live_in(task_.get_backend(), using) and connections[using].in_atomic_block:
        task_.enqueue(*args)
    else:
        transaction.on_commit(partial(task_.enqueue, *args), using=using)


@dataclass(frozen=True)
class TaskRow:
    """The django-tasks-db row that enqueuing some work inserts, for a caller that writes it in its own statement.

    The values are the ones `DatabaseBackend.enqueue` gives `DBTaskResult.objects.create` (and its
    `pre_save` handler, which stores "no `run_after`" as `get_date_max()`); the fields they leave
    out take their model defaults. `tests/threads/test_inbound.py` pins that the row equals the
    one the library writes. Once the row is in, `enqueued()` sends `task_enqueued` as the library does.
    """

    values: dict[str, Any]  # DBTaskResult field name -> value
    backend: DatabaseBackend
    using: str

    def enqueued(self) -> None:
        """Announce the inserted task as `DatabaseBackend.enqueue` does."""
        result: DBTaskResult = DBTaskResult(**self.values)
        result._state.adding, result._state.db = False, self.using
        task_enqueued.send(type(self.backend), task_result=result.task_result)


@dataclass(frozen=True)
class Work:
    """Work asked for by name with its JSON-safe arguments, for a write that must commit together with its task."""

    name: str
    args: tuple = ()

    def task_row(self, *, now: datetime, using: str = DEFAULT_DB_ALIAS) -> TaskRow | None:
        """The row that enqueuing this work would insert, when tasks are rows of the database `using`; else None.

        Raises what enqueuing raises for a task the backend refuses (`InvalidTask`), before anything is written.
        """
        task_ = _task(self.name)
        backend = task_.get_backend()
        if not _tasks_live_in(backend, using):
            return None
        assert isinstance(backend, DatabaseBackend)
        backend.validate_task(task_)
        values = {
            "id": backend._get_id(),
            "args_kwargs": normalize_json({"args": self.args, "kwargs": {}}),
            "priority": task_.priority,
            "task_path": task_.module_path,
            "queue_name": task_.queue_name,
            "run_after": task_.run_after or get_date_max(),
            "backend_name": backend.alias,
            "enqueued_at": now,
        }
        return TaskRow(values=values, backend=backend, using=using)

    def run_soon_on_commit(self, *, using: str = DEFAULT_DB_ALIAS) -> None:
        run_soon_on_commit(self.name, *self.args, using=using)


def run_later(name: str, delay_s: float, *args) -> bool:
    """Enqueue the work `name` to run after `delay_s` seconds when the backend can defer; return whether it did.

    The immediate backend cannot defer: the work then waits for `manage.py recover_turns` (run
    from cron there) or the user's next turn instead of blocking the request.
    """
    task_ = _task(name)
    if not task_.get_backend().supports_defer:
        logger.debug("task backend cannot defer %s; leaving it to recovery", task_.name)
        return False
    task_.using(run_after=timezone.now() + timedelta(seconds=delay_s)).enqueue(*args)
    return True


def run_later_once(name: str, delay_s: float) -> bool:
    """Make sure one run of the work `name` (it takes no arguments) waits in the queue, due within `delay_s`.

    For work that queues its own next run, such as the recovery sweep, and that every worker
    starts: a run already waiting is kept (brought forward if it is due later), so starting it
    again adds nothing. A run in progress does not count: such work queues its next run as it starts.
    Two callers that both found nothing waiting may both enqueue; nothing is deleted to undo
    that (a worker could claim the run kept while the other is deleted, leaving none waiting):
    the first of the two to run finds the other waiting and queues nothing, so the chains merge.

    Returns whether a run is waiting. Only the database backend has a queue to look into: under
    any other (the immediate one cannot even defer) nothing is queued and this returns False.
    """
    task_ = _task(name)
    backend = task_.get_backend()
    if not isinstance(backend, DatabaseBackend):
        logger.debug("task backend %s has no queue to keep %s in", backend.alias, task_.name)
        return False
    waiting = DBTaskResult.objects.filter(
        backend_name=backend.alias, task_path=task_.module_path, status=TaskResultStatus.READY
    )
    # django-tasks-db marks a run without a delay with get_date_max(): due at once, even to a worker
    # whose "now" was taken a moment before (a run_after of now could miss its next look).
    at_once = get_date_max()
    if delay_s <= 0:
        due_by, later = at_once, waiting.exclude(run_after=at_once)
    else:
        due_by = timezone.now() + timedelta(seconds=delay_s)
        later = waiting.filter(run_after__gt=due_by).exclude(run_after=at_once)
    if waiting.exists():
        later.update(run_after=due_by)
        return True
    (task_ if delay_s <= 0 else task_.using(run_after=due_by)).enqueue()
    return True


def _task(name: str) -> Task:
    try:
        return _registry[name]
    except KeyError:
        raise LookupError(f"no task registered for {name!r}: is the threads app installed?") from None


def _tasks_live_in(backend: object, using: str) -> bool:
    """Whether tasks are rows of the database `using` (the database backend, routed there)."""
    return isinstance(backend, DatabaseBackend) and router.db_for_write(DBTaskResult) == using
