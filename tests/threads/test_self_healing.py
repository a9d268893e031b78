"""Recovery that needs no cron: the workers keep one recovery sweep queued, and it heals what a lost worker left."""

import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.tasks import TaskResultStatus
from django.tasks.signals import task_enqueued
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from threads import message_log, recovery, tasks
from threads.apps import is_db_worker
from threads.models import Contact, Message
from threads.tasks import recovery_sweep_task

PHONE = "whatsapp:+5215544445555"
OTHER_PHONE = "whatsapp:+5215544446666"
_sid = iter(range(10**6))
ROOT = Path(__file__).resolve().parents[2]
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []}}
READY, RUNNING, SUCCESSFUL, FAILED = (
    TaskResultStatus.READY,
    TaskResultStatus.RUNNING,
    TaskResultStatus.SUCCESSFUL,
    TaskResultStatus.FAILED,
)


@pytest.fixture
def database_tasks(settings, monkeypatch):
    """The database tasks backend, in a process whose worker hook has not run yet."""
    settings.TASKS = DATABASE_TASKS
    settings.RECOVERY_SWEEP_S = 60.0
    monkeypatch.setattr(tasks, "_next_sweep_check", None)


def sweeps(status: str):
    return DBTaskResult.objects.filter(task_path=recovery_sweep_task.module_path, status=status)


def is_due(row: DBTaskResult) -> bool:
    return DBTaskResult.objects.ready().filter(pk=row.pk).exists()


def run_due_tasks() -> None:
    """Do in-process what a `db_worker` does now: claim each task that is due and run it."""
    worker = Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )
    for _ in range(20):
        row = DBTaskResult.objects.ready().first()
        if row is None:
            return
        row.claim(worker.worker_id)
        worker.run_task(row)
    raise AssertionError("tasks keep coming: a sweep queued itself due now?")


def worker_connects() -> None:
    """What a `db_worker` process does each time it opens a database connection."""
    tasks.keep_recovery_sweep(sender=type(connection), connection=connection)


def stale_reply(phone: str = PHONE, *, attempts: int, minutes_ago: float) -> Message:
    """A reply whose send failed `attempts` times, left pending for its retry task (the user wrote just before)."""
    Contact.objects.update_or_create(
        user_phone=phone, defaults={"last_inbound_at": timezone.now() - timedelta(minutes=minutes_ago + 1)}
    )
    row = Message.objects.create(
        user_phone=phone, direction="out", origin="assistant", body="Hola, soy Brenda.", status="pending"
    )
    Message.objects.filter(pk=row.pk).update(
        send_attempts=attempts, error_code="20500", updated_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    return row


def orphan_inbound(text: str, phone: str = PHONE) -> Message:
    """An inbound message whose task died with its worker, a couple of minutes ago."""
    msg, _ = message_log.record_inbound(user_phone=phone, twilio_sid=f"SMsh{next(_sid):030x}", body=text)
    Message.objects.filter(pk=msg.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    return msg


@pytest.mark.django_db
def test_starting_the_sweep_twice_queues_one_sweep_due_now(database_tasks):
    assert recovery.keep_sweeping(now=True)
    assert recovery.keep_sweeping(now=True)

    (waiting,) = sweeps(READY)
    assert is_due(waiting)


@pytest.mark.django_db
def test_a_sweep_queues_the_next_one_once_and_a_restart_brings_it_forward(database_tasks):
    recovery.keep_sweeping(now=True)

    run_due_tasks()

    (ran,) = sweeps(SUCCESSFUL)
    (following,) = sweeps(READY)
    assert 59 <= (following.run_after - ran.started_at).total_seconds() <= 61
    run_due_tasks()  # not due yet
    assert sweeps(SUCCESSFUL).count() == 1

    recovery.keep_sweeping(now=True)  # a worker (re)starts: the same sweep, due now, not a second chain
    (waiting,) = sweeps(READY)
    assert waiting.pk == following.pk and is_due(waiting)
    run_due_tasks()
    assert sweeps(SUCCESSFUL).count() == 2 and sweeps(READY).count() == 1


@pytest.mark.django_db
def test_two_workers_starting_at_once_leave_two_sweeps_that_merge(database_tasks):
    rivals = []

    def rival_enqueues_too(sender, task_result, **kwargs):
        # The other worker also found no sweep waiting: its row lands between our look and our enqueue.
        if not rivals:
            rivals.append(sender)  # first, as its enqueue sends this signal too
            recovery_sweep_task.enqueue()

    task_enqueued.connect(rival_enqueues_too)
    try:
        assert recovery.keep_sweeping(now=True)
    finally:
        task_enqueued.disconnect(rival_enqueues_too)

    # Neither deletes the other's (a worker may be claiming it): the first to run queues nothing.
    assert rivals and sweeps(READY).count() == 2
    run_due_tasks()
    assert sweeps(READY).count() == 1


@pytest.mark.django_db
def test_two_chains_merge_into_one(database_tasks):
    recovery_sweep_task.enqueue()  # say, an operator enqueued two by hand
    recovery_sweep_task.enqueue()

    run_due_tasks()

    assert sweeps(SUCCESSFUL).count() == 2 and sweeps(READY).count() == 1


@pytest.mark.django_db
def test_the_next_sweep_is_queued_before_the_work_so_a_failing_sweep_keeps_the_chain(database_tasks, settings):
    stale_reply(attempts=1, minutes_ago=5)
    settings.MESSAGING_BACKEND = "messaging.backends.NoSuchBackend"  # the sweep blows up mid-way
    recovery.keep_sweeping(now=True)

    run_due_tasks()

    assert sweeps(FAILED).count() == 1 and sweeps(READY).count() == 1


@pytest.mark.django_db
def test_a_reply_whose_retry_task_was_lost_is_sent_by_the_sweep(database_tasks, outbox):
    reply = stale_reply(attempts=1, minutes_ago=5)  # retry due after 5 s; its task died with its worker
    recovery.keep_sweeping(now=True)

    run_due_tasks()

    assert [m.body for m in outbox] == ["Hola, soy Brenda."]
    reply.refresh_from_db()
    assert reply.status == Message.Status.QUEUED


@pytest.mark.django_db
def test_the_sweep_leaves_a_reply_to_its_retry_while_the_back_off_lasts(database_tasks, outbox):
    reply = stale_reply(attempts=4, minutes_ago=3)  # the fourth failure is retried after ten minutes

    recovery.sweep()
    assert outbox == []

    Message.objects.filter(pk=reply.pk).update(updated_at=timezone.now() - timedelta(minutes=12))
    recovery.sweep()  # ten minutes and a grace minute later its retry task must have been lost
    assert [m.body for m in outbox] == ["Hola, soy Brenda."]


@pytest.mark.django_db
def test_messages_no_task_took_are_answered_by_the_sweep(database_tasks, openai_off, outbox, demo_catalogue):
    msg = orphan_inbound("hola, ¿qué cursos tienen?")
    recovery.keep_sweeping(now=True)

    run_due_tasks()

    assert len(outbox) == 1 and outbox[0].to == PHONE
    assert Message.objects.get(pk=msg.pk).turn is not None
    (ran,) = sweeps(SUCCESSFUL)
    assert ran.return_value["users_resumed"] == [PHONE]


@pytest.mark.django_db
def test_a_worker_starting_restarts_a_chain_whose_sweep_died_running(database_tasks):
    recovery.keep_sweeping(now=True)
    (lost,) = sweeps(READY)
    lost.claim("killed-worker")  # its worker died with it: RUNNING for ever, nothing queued after it

    worker_connects()  # the next worker to start

    (restarted,) = sweeps(READY)
    assert restarted.pk != lost.pk and is_due(restarted)
    run_due_tasks()
    assert sweeps(RUNNING).get().pk == lost.pk
    assert sweeps(SUCCESSFUL).count() == 1 and sweeps(READY).count() == 1


@pytest.mark.django_db
def test_a_running_worker_restarts_a_lost_chain_within_an_interval(
    database_tasks, monkeypatch, django_assert_num_queries
):
    worker_connects()  # the worker starts
    (lost,) = sweeps(READY)
    lost.claim("killed-worker")

    with django_assert_num_queries(0):
        worker_connects()  # it reconnects at every poll; it looked moments ago
    assert not sweeps(READY).exists()

    monkeypatch.setattr(tasks, "_next_sweep_check", time.monotonic() - 1)  # an interval later
    worker_connects()
    (restarted,) = sweeps(READY)
    assert restarted.run_after > timezone.now() + timedelta(seconds=55)  # a regular link, due in an interval


@pytest.mark.django_db
def test_the_recover_turns_command_also_restarts_the_chain(database_tasks, capsys):
    call_command("recover_turns")

    assert "recovery sweep: queued, every 60s" in capsys.readouterr().out
    assert sweeps(READY).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "backend", ["django.tasks.backends.immediate.ImmediateBackend", "django.tasks.backends.dummy.DummyBackend"]
)
def test_without_the_database_backend_there_is_no_chain(backend, settings, monkeypatch, openai_off, outbox, capsys):
    settings.TASKS = {"default": {"BACKEND": backend}}
    monkeypatch.setattr(tasks, "_next_sweep_check", None)
    orphan_inbound("hola")

    assert recovery.keep_sweeping(now=True) is False
    worker_connects()

    assert outbox == []  # nothing swept inline: cron (`recover_turns`) stays the way
    assert not DBTaskResult.objects.exists()
    call_command("recover_turns")
    assert "not with this tasks backend (run this command from cron)" in capsys.readouterr().out
    assert len(outbox) == 1


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["manage.py", "db_worker", "--queue-name", "*"], True),
        (["/srv/brenda/.venv/bin/django-admin", "db_worker"], True),
        (["manage.py", "migrate"], False),
        (["/srv/brenda/.venv/bin/gunicorn", "brenda.wsgi:application"], False),
        (["/srv/brenda/.venv/bin/pytest", "tests"], False),
    ],
)
def test_only_a_db_worker_process_keeps_the_sweep(argv, expected, monkeypatch):
    monkeypatch.setattr(sys, "argv", argv)
    assert is_db_worker() is expected


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_db_worker_heals_what_a_lost_worker_left_without_cron(settings, fake_openai, worker_env):
    settings.TASKS = DATABASE_TASKS
    orphan_inbound("hola, me llamo Iker")  # its task died with its worker
    reply = stale_reply(OTHER_PHONE, attempts=1, minutes_ago=5)  # so did its retry task
    recovery.keep_sweeping(now=True)
    (lost,) = sweeps(READY)
    lost.claim("killed-worker")  # and the sweep chain itself: RUNNING for ever

    def run_worker() -> None:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--batch", "--queue-name", "*", "--no-startup-delay"],
            cwd=ROOT,
            env=worker_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _, stderr = worker.communicate(timeout=60)
        finally:
            if worker.poll() is None:
                worker.send_signal(signal.SIGKILL)
                worker.wait(10)
        assert worker.returncode == 0, stderr.decode()[-2000:]

    run_worker()  # a batch worker drains what is due, then exits

    (answer,) = Message.objects.filter(user_phone=PHONE, direction="out")
    assert "Iker" in answer.body and answer.status == Message.Status.CONSOLE
    reply.refresh_from_db()
    assert reply.status == Message.Status.CONSOLE
    assert sweeps(RUNNING).get().pk == lost.pk
    assert sweeps(SUCCESSFUL).count() == 1
    (following,) = sweeps(READY)
    assert following.run_after > timezone.now() + timedelta(seconds=30)

    run_worker()  # another start sweeps at once, on the same chain

    assert sweeps(SUCCESSFUL).count() == 2 and sweeps(READY).count() == 1
    assert Message.objects.filter(direction="out").count() == 2  # nothing answered or sent twice
